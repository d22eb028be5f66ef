// Threat analysis: what a storm means for every city and county seat, at a given time.
// Pure: the core runs it when a track, an advisory or the replay time changes and publishes the
// result on the `analysis` topic, so every display shows the same ranking.
import type { Advisory, Analysis, Fix, Landfall, Place, PlaceThreat, RiskLevel, RiskLevels, TrackPoint, Typhoon, WindForce } from '../../../common/domain.ts';
import { bearingDeg, distanceKm, interpolate, type LatLon } from '../../../common/geo.ts';
import { fixesAsTrack, forceAt, gradeOf, pointAt } from '../../../common/typhoon.ts';
import { coastCrossings, onLand, type Land } from './coastline.ts';

const HOUR = 3600_000;
/** Forecasts are sampled every this often for closest approach and wind arrival. */
const SAMPLE = HOUR / 2;
/** Within this distance of the closest approach a county is at least blue. */
export const BLUE_KM = 300;
/** A landfall is named after the nearest county seat within this distance. */
const PLACE_KM = 100;
export const HORIZON_HOURS = { now: 0, h3: 3, h6: 6, h24: 24, h48: 48 } as const;

/** Before a landfall the centre must have been over water for this far: crossing an estuary
 *  (the Qiantang, the Yangtze) or a bay from land to land is not a landfall. */
export const LANDFALL_MIN_SEA_KM = 100;

/** Where the track crosses from sea to land, having been over the sea for at least 100 km
 *  (or since it formed). */
export function landfalls(track: readonly TrackPoint[], land: Land, places: readonly Place[], label: string, fixes?: readonly Fix[]): Landfall[] {
  const out: Landfall[] = [];
  if (track.length < 2) return out;
  let atSea = !onLand(land, track[0]!.lon, track[0]!.lat);
  let seaKm = atSea ? Infinity : 0;
  const counties = places.filter((p) => p.kind === 'county');
  for (let i = 0; i < track.length - 1; i++) {
    const a = track[i]!;
    const b = track[i + 1]!;
    const segKm = distanceKm(a, b);
    let prevF = 0;
    for (const f of coastCrossings(land, [a.lon, a.lat], [b.lon, b.lat])) {
      if (atSea) seaKm += (f - prevF) * segKm;
      prevF = f;
      atSea = !atSea;
      if (atSea) {
        seaKm = 0; // back out over the water: start counting
        continue;
      }
      if (seaKm < LANDFALL_MIN_SEA_KM) continue;
      const p = interpolate(a, b, f);
      const t = Math.round(a.t + (b.t - a.t) * f);
      const at = pointAt(track, t);
      let place: string | null = null;
      let placeKm: number | null = null;
      for (const c of counties) {
        const d = distanceKm(p, c);
        if (d <= PLACE_KM && (placeKm === null || d < placeKm)) {
          place = c.code;
          placeKm = d;
        }
      }
      const nf = fixes?.length ? fixes.reduce((x, y) => (Math.abs(y.t - t) < Math.abs(x.t - t) ? y : x)) : null;
      out.push({
        track: label,
        t,
        lat: p.lat,
        lon: p.lon,
        place,
        placeKm: placeKm === null ? null : Math.round(placeKm * 10) / 10,
        wind: at?.wind ?? null,
        pressure: at?.pressure ?? null,
        grade: nf ? nf.grade : at?.wind != null ? gradeOf(at.wind) : null,
        nearestFix: nf ? { t: nf.t, wind: nf.wind, pressure: nf.pressure, grade: nf.grade } : null,
      });
    }
    if (atSea) seaKm += (1 - prevF) * segKm;
    // Re-synchronise on the fix itself: two crossings within a hair of each other can miscount.
    const sea = !onLand(land, b.lon, b.lat);
    if (sea !== atSea) {
      atSea = sea;
      seaKm = 0;
    }
  }
  return out;
}

const forecastCache = new WeakMap<Advisory, Landfall[]>();
function forecastLandfalls(a: Advisory, land: Land, places: readonly Place[]): Landfall[] {
  let lf = forecastCache.get(a);
  if (!lf) {
    lf = landfalls([a.current, ...a.forecast], land, places, a.agency);
    forecastCache.set(a, lf);
  }
  return lf;
}

const observedCache = new WeakMap<readonly Fix[], Landfall[]>();
function observedLandfalls(storm: Typhoon, land: Land, places: readonly Place[]): Landfall[] {
  let lf = observedCache.get(storm.fixes);
  if (!lf) {
    lf = landfalls(fixesAsTrack(storm.fixes), land, places, 'observed', storm.fixes);
    observedCache.set(storm.fixes, lf);
  }
  return lf;
}

const HORIZONS = Object.entries(HORIZON_HOURS) as [keyof typeof HORIZON_HOURS, number][];
const FORCES = [7, 10, 12] as const;
const FORCE_LEVEL: Record<0 | WindForce, RiskLevel> = { 12: 'red', 10: 'orange', 7: 'yellow', 0: 'none' };

interface Sample {
  agency: string;
  p: TrackPoint;
}

/** The analysis of one storm at time t from its observed track and its current advisories. */
export function analyse(storm: Typhoon, advisories: readonly Advisory[], places: readonly Place[], t: number, land: Land | null): Analysis {
  const observed = fixesAsTrack(storm.fixes);
  const last = observed[observed.length - 1];
  let centre: TrackPoint | null = pointAt(observed, t);
  // The newest advisory's analysed position carries the radii the best track lacks.
  const current = advisories.map((a) => ({ a, p: pointAt([a.current, ...a.forecast], t) ?? (Math.abs(a.current.t - t) <= 6 * HOUR ? a.current : null) }));
  if (!centre && last && t > last.t && t - last.t <= 6 * HOUR) centre = last;
  if (!centre) centre = current.find((c) => c.p)?.p ?? null;
  const nowRadii = current.map((c) => c.p).find((p) => p?.radii)?.radii ?? null;
  const centreNow: TrackPoint | null = centre ? { ...centre, radii: nowRadii } : null;

  // Forecast samples per agency, from t on.
  const samples: Sample[] = [];
  for (const a of advisories) {
    const track = [a.current, ...a.forecast];
    const end = track[track.length - 1]!.t;
    for (let s = Math.max(t, a.current.t); s <= end; s += SAMPLE) {
      const p = pointAt(track, s);
      if (p) samples.push({ agency: a.agency, p });
    }
  }
  const cityOf = (code: string) => code.slice(0, 4) + '00';
  const rows: PlaceThreat[] = places
    .filter((p): p is Place & { kind: 'city' | 'county' } => p.kind === 'city' || p.kind === 'county')
    .map((pl) => {
      const here: LatLon = pl;
      const km = centre ? distanceKm(here, centre) : null;
      const closestBy = new Map<string, { agency: string; t: number; km: number }>();
      const first: Record<WindForce, { agency: string; t: number } | null> = { 7: null, 10: null, 12: null };
      const proposal: Record<keyof typeof HORIZON_HOURS, 0 | WindForce> = { now: 0, h3: 0, h6: 0, h24: 0, h48: 0 };
      const near: Record<keyof typeof HORIZON_HOURS, boolean> = { now: false, h3: false, h6: false, h24: false, h48: false };
      const forceNow = centreNow ? forceAt(centreNow, here) : 0;
      for (const s of samples) {
        const d = distanceKm(here, s.p);
        const c = closestBy.get(s.agency);
        if (!c || d < c.km) closestBy.set(s.agency, { agency: s.agency, t: s.p.t, km: d });
        const f = forceAt(s.p, here, d);
        if (f === 0 && d > BLUE_KM) continue;
        for (const force of FORCES) {
          if (f >= force && (!first[force] || s.p.t < first[force]!.t)) first[force] = { agency: s.agency, t: s.p.t };
        }
        for (const [h, hours] of HORIZONS) {
          if (s.p.t <= t + hours * HOUR) {
            if (f > proposal[h]) proposal[h] = f;
            if (d <= BLUE_KM) near[h] = true;
          }
        }
      }
      proposal.now = Math.max(proposal.now, forceNow) as 0 | WindForce;
      if (km !== null && km <= BLUE_KM) near.now = true;
      const levels = Object.fromEntries(
        (Object.keys(HORIZON_HOURS) as (keyof typeof HORIZON_HOURS)[]).map((h, i, hs) => {
          // A horizon never shows less than a shorter one: 'within 24 h' includes 'within 6 h'.
          const f = Math.max(...hs.slice(0, i + 1).map((x) => proposal[x])) as 0 | WindForce;
          const isNear = hs.slice(0, i + 1).some((x) => near[x]);
          return [h, f ? FORCE_LEVEL[f] : isNear ? 'blue' : 'none'];
        }),
      ) as RiskLevels;
      const level = (first[12] && first[12].t <= t + 48 * HOUR ? 12 : first[10] && first[10].t <= t + 48 * HOUR ? 10 : first[7] && first[7].t <= t + 48 * HOUR ? 7 : forceNow) as 0 | WindForce;
      return {
        code: pl.code,
        kind: pl.kind,
        city: pl.kind === 'city' ? pl.code : cityOf(pl.code),
        km: km === null ? null : Math.round(km * 10) / 10,
        bearing: centre ? Math.round(bearingDeg(here, centre)) : null,
        forceNow,
        closest: [...closestBy.values()].map((c) => ({ ...c, km: Math.round(c.km * 10) / 10 })),
        force7: first[7],
        force10: first[10],
        force12: first[12],
        level: Math.max(level, forceNow) as 0 | WindForce,
        rank: 0,
        proposal: levels,
      };
    });
  rankRows(rows);
  return {
    id: storm.id,
    t,
    centre: centre ? { lat: centre.lat, lon: centre.lon, wind: centre.wind, pressure: centre.pressure, grade: centre.wind !== null ? gradeOf(centre.wind) : null } : null,
    agencies: advisories.map((a) => a.agency),
    landfalls: land
      ? [
          ...observedLandfalls(storm, land, places),
          // Forecast landfalls still ahead of t (each advisory's are found once, then filtered).
          ...advisories.flatMap((a) => forecastLandfalls(a, land, places).filter((l) => l.t > t)),
        ]
      : [],
    places: rows,
  };
}

/** The ranking: highest force forecast within 48 h first, then the earliest arrival of that
 *  force, then the closest approach (forecast or, without one, the current distance).
 *  A city ranks by the worst of its own seat and its counties. Ranks are per kind, from 1. */
export function threatKey(r: PlaceThreat): [number, number, number] {
  const arrival = r.level === 12 ? r.force12?.t : r.level === 10 ? r.force10?.t : r.level === 7 ? r.force7?.t : undefined;
  const closest = Math.min(r.km ?? Infinity, ...r.closest.map((c) => c.km));
  return [-r.level, arrival ?? Infinity, closest];
}
const cmp = (a: [number, number, number], b: [number, number, number]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

function rankRows(rows: PlaceThreat[]): void {
  const counties = rows.filter((r) => r.kind === 'county').sort((a, b) => cmp(threatKey(a), threatKey(b)));
  counties.forEach((r, i) => (r.rank = i + 1));
  const cityKey = new Map<string, [number, number, number]>();
  for (const r of rows) {
    const k = threatKey(r);
    const cur = cityKey.get(r.city);
    if (!cur || cmp(k, cur) < 0) cityKey.set(r.city, k);
  }
  const cities = rows.filter((r) => r.kind === 'city').sort((a, b) => cmp(cityKey.get(a.code)!, cityKey.get(b.code)!));
  cities.forEach((r, i) => (r.rank = i + 1));
}
