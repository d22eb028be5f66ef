// Typhoon arithmetic shared by the core's analysis and the renderer's drawing: grades, wind radii by
// quadrant, interpolation along a track, warning lines. Pure.
import type { Fix, Grade, Quadrants, Replay, TrackPoint, WindForce, WindRadii } from './domain.ts';
import { bearingDeg, destination, distanceKm, interpolate, pointInRing, type LatLon } from './geo.ts';

/** GB/T 19201-2006 grade from the 2-minute mean wind at the centre (m/s); null below TD. */
export function gradeOf(windMs: number): Grade | null {
  if (windMs >= 51.0) return 'SuperTY';
  if (windMs >= 41.5) return 'STY';
  if (windMs >= 32.7) return 'TY';
  if (windMs >= 24.5) return 'STS';
  if (windMs >= 17.2) return 'TS';
  if (windMs >= 10.8) return 'TD';
  return null;
}

/** CMA best-track intensity code I → grade (0 weaker than TD or unknown, 9 extratropical). */
export const CMA_CATEGORY: Record<number, Grade | null | 'ET'> = { 0: null, 1: 'TD', 2: 'TS', 3: 'STS', 4: 'TY', 5: 'STY', 6: 'SuperTY', 9: 'ET' };

/** Quadrant a bearing (degrees from north) falls in: NE [0,90), SE [90,180), SW [180,270), NW [270,360). */
export function quadrantOf(bearing: number): keyof Quadrants {
  const b = ((bearing % 360) + 360) % 360;
  return b < 90 ? 'ne' : b < 180 ? 'se' : b < 270 ? 'sw' : 'nw';
}

const QUADRANT_START: Record<keyof Quadrants, number> = { ne: 0, se: 90, sw: 180, nw: 270 };

/** The outline of a wind circle: for each quadrant an arc at its own radius, joined by radial steps
 *  where neighbouring radii differ (the way CMA and JMA draw them). `step` degrees per vertex.
 *  Returns [lon, lat] pairs, closed (first = last); empty when every radius is 0. */
export function windCircle(centre: LatLon, radii: Quadrants, step = 5): [number, number][] {
  if (radii.ne + radii.se + radii.sw + radii.nw === 0) return [];
  const ring: [number, number][] = [];
  for (const q of ['ne', 'se', 'sw', 'nw'] as const) {
    const r = radii[q];
    const start = QUADRANT_START[q];
    for (let a = start; a <= start + 90 + 1e-9; a += step) {
      if (r === 0) {
        ring.push([centre.lon, centre.lat]);
        break;
      }
      const p = destination(centre, a, r);
      ring.push([p.lon, p.lat]);
    }
  }
  ring.push(ring[0]!);
  return ring;
}

const lerp = (a: number, b: number, f: number) => a + (b - a) * f;
function lerpQuadrants(a: Quadrants | undefined, b: Quadrants | undefined, f: number): Quadrants | undefined {
  // A radius that appears or vanishes between two points grows from / shrinks to zero.
  if (!a && !b) return undefined;
  const z = { ne: 0, se: 0, sw: 0, nw: 0 };
  const x = a ?? z;
  const y = b ?? z;
  return { ne: lerp(x.ne, y.ne, f), se: lerp(x.se, y.se, f), sw: lerp(x.sw, y.sw, f), nw: lerp(x.nw, y.nw, f) };
}
const lerpNullable = (a: number | null, b: number | null, f: number) => (a === null || b === null ? (f < 0.5 ? a : b) : lerp(a, b, f));

/** A track point at time t between the points of a time-ordered track (linear in time, along the
 *  great circle for position, per quadrant for radii); null outside the track's span. */
export function pointAt(track: readonly TrackPoint[], t: number): TrackPoint | null {
  if (track.length === 0 || t < track[0]!.t || t > track[track.length - 1]!.t) return null;
  let i = 0;
  while (i < track.length - 2 && track[i + 1]!.t < t) i++;
  const a = track[i]!;
  const b = track[Math.min(i + 1, track.length - 1)]!;
  if (t === a.t) return a;
  if (t === b.t) return b;
  const f = (t - a.t) / (b.t - a.t);
  const p = interpolate(a, b, f);
  let radii: WindRadii | null = null;
  if (a.radii || b.radii) {
    radii = {};
    for (const k of ['r7', 'r10', 'r12'] as const) {
      const q = lerpQuadrants(a.radii?.[k], b.radii?.[k], f);
      if (q) radii[k] = q;
    }
  }
  return { t, lat: p.lat, lon: p.lon, pressure: lerpNullable(a.pressure, b.pressure, f), wind: lerpNullable(a.wind, b.wind, f), radii, error: lerpNullable(a.error, b.error, f) };
}

/** Best-track fixes as track points (no radii: CMA's best track carries none). */
export function fixesAsTrack(fixes: readonly Fix[]): TrackPoint[] {
  return fixes.map((f) => ({ t: f.t, lat: f.lat, lon: f.lon, pressure: f.pressure, wind: f.wind, radii: null, error: null }));
}

/** Highest force whose circle contains the place, or 0. `km`, the distance from the centre to the
 *  place, may be given when the caller has it (the bearing is only worked out when it matters). */
export function forceAt(point: TrackPoint, place: LatLon, km?: number): 0 | WindForce {
  const r = point.radii;
  if (!r?.r7 && !r?.r10 && !r?.r12) return 0;
  const d = km ?? distanceKm(point, place);
  const outer = r.r7 ?? r.r10 ?? r.r12!;
  if (d > Math.max(outer.ne, outer.se, outer.sw, outer.nw)) return 0;
  const q = d < 1e-6 ? 'ne' : quadrantOf(bearingDeg(point, place));
  if (r.r12 && d <= r.r12[q]) return 12;
  if (r.r10 && d <= r.r10[q]) return 10;
  if (r.r7 && d <= r.r7[q]) return 7;
  return 0;
}

/** China's typhoon warning lines (CMA): a storm west of the 48-hour line is watched, west of the
 *  24-hour line warned for. Vertices [lon, lat], north to south. */
export const WARNING_LINE_24H: readonly [number, number][] = [
  [127, 34],
  [127, 22],
  [119, 18],
  [119, 11],
  [113, 4.5],
  [105, 0],
];
export const WARNING_LINE_48H: readonly [number, number][] = [
  [132, 34],
  [132, 15],
  [120, 0],
  [105, 0],
];

/** Inside the line: between it and the Asian mainland, south of 34°N (the lines' northern end). */
export function insideWarningLine(p: LatLon, line: readonly [number, number][]): boolean {
  const ring: [number, number][] = [...line, [90, 0], [90, 34]];
  return pointInRing(p.lon, p.lat, ring);
}

/** The cone: the envelope of the probability circles along a forecast, as a closed [lon, lat] ring
 *  (left flank forward, a cap round the last circle, right flank back, a cap round the first). */
export function cone(points: readonly TrackPoint[], step = 15): [number, number][] {
  const pts = points.filter((p) => p.error !== null);
  if (pts.length < 2) return [];
  const left: [number, number][] = [];
  const right: [number, number][] = [];
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i]!;
    const heading = i < pts.length - 1 ? bearingDeg(p, pts[i + 1]!) : bearingDeg(pts[i - 1]!, p);
    const l = destination(p, heading - 90, p.error!);
    const r = destination(p, heading + 90, p.error!);
    left.push([l.lon, l.lat]);
    right.push([r.lon, r.lat]);
  }
  const last = pts[pts.length - 1]!;
  const first = pts[0]!;
  const hLast = bearingDeg(pts[pts.length - 2]!, last);
  const hFirst = bearingDeg(first, pts[1]!);
  const capEnd: [number, number][] = [];
  for (let a = -90 + step; a < 90; a += step) {
    const q = destination(last, hLast + a, last.error!);
    capEnd.push([q.lon, q.lat]);
  }
  const capStart: [number, number][] = [];
  for (let a = 90 + step; a < 270; a += step) {
    const q = destination(first, hFirst + a, first.error!);
    capStart.push([q.lon, q.lat]);
  }
  const ring = [...left, ...capEnd, ...right.reverse(), ...capStart];
  ring.push(ring[0]!);
  return ring;
}

/** The current advisory of each agency for a storm at time t (newest issued at or before t). */
export function currentAdvisories<A extends { storm: string; agency: string; issued: number }>(all: Iterable<A>, storm: string, t = Infinity): A[] {
  const best = new Map<string, A>();
  for (const a of all) {
    if (a.storm !== storm || a.issued > t) continue;
    const b = best.get(a.agency);
    if (!b || a.issued > b.issued) best.set(a.agency, a);
  }
  return [...best.values()].sort((x, y) => x.agency.localeCompare(y.agency));
}

/** The storm time a replay shows at wall-clock `now` (the core's clock). */
export function replayTime(r: Replay, now: number): number {
  return r.playing ? Math.min(r.end, Math.round(r.t + (now - r.anchor) * r.speed)) : r.t;
}
