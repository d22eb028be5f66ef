// Geometry the threat analysis stands on, checked against values worked out by hand.
import { describe, expect, it } from 'vitest';
import type { Quadrants, TrackPoint } from '../../common/domain.ts';
import { bearingDeg, destination, distanceKm, EARTH_RADIUS_KM, pointInRing } from '../../common/geo.ts';
import { cone, forceAt, insideWarningLine, pointAt, quadrantOf, WARNING_LINE_24H, WARNING_LINE_48H, windCircle } from '../../common/typhoon.ts';

describe('great-circle geometry', () => {
  it('distances to 1 km: a degree of meridian, a quarter of the equator, a degree of longitude at 60° N', () => {
    const degree = (Math.PI * EARTH_RADIUS_KM) / 180; // 111.195 km
    expect(distanceKm({ lat: 0, lon: 0 }, { lat: 1, lon: 0 })).toBeCloseTo(degree, 2);
    expect(degree).toBeCloseTo(111.195, 2);
    expect(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 90 })).toBeCloseTo(10007.5, 0);
    // 2R·asin(cos 60° · sin 0.5°) = 2 · 6371.0088 · asin(0.5 · 0.0087265) = 55.597 km
    expect(distanceKm({ lat: 60, lon: 0 }, { lat: 60, lon: 1 })).toBeCloseTo(55.597, 2);
    // Lekima's 18:00 UTC fix (28.3 N, 121.4 E) to Wenling's seat (28.372 N, 121.386 E):
    // Δlat 0.072° = 8.006 km, Δlon 0.014° · cos 28.34° = 1.370 km → √(8.006² + 1.370²) = 8.12 km
    expect(Math.abs(distanceKm({ lat: 28.3, lon: 121.4 }, { lat: 28.372, lon: 121.386 }) - 8.12)).toBeLessThan(1);
  });

  it('bearings and destinations agree', () => {
    const o = { lat: 0, lon: 0 };
    expect(bearingDeg(o, { lat: 1, lon: 0 })).toBeCloseTo(0, 6);
    expect(bearingDeg(o, { lat: 0, lon: 1 })).toBeCloseTo(90, 6);
    expect(bearingDeg(o, { lat: -1, lon: 0 })).toBeCloseTo(180, 6);
    expect(bearingDeg(o, { lat: 0, lon: -1 })).toBeCloseTo(270, 6);
    const c = { lat: 28, lon: 122 };
    for (const b of [10, 100, 200, 300]) {
      const p = destination(c, b, 250);
      expect(distanceKm(c, p)).toBeCloseTo(250, 6);
      expect(bearingDeg(c, p)).toBeCloseTo(b, 6);
    }
  });
});

describe('wind radii by quadrant', () => {
  const centre = { lat: 28, lon: 122 };
  const r7: Quadrants = { ne: 300, se: 200, sw: 150, nw: 250 };

  it('a place is inside when it is within the radius of its own quadrant', () => {
    expect(quadrantOf(45)).toBe('ne');
    expect(quadrantOf(90)).toBe('se');
    expect(quadrantOf(180)).toBe('sw');
    expect(quadrantOf(359.9)).toBe('nw');
    // forceAt judges a place by the radius of the quadrant it lies in (the threat analysis uses it)
    const point = { ...centre, t: 0, pressure: 960, wind: 40, radii: { r7 } } as Parameters<typeof forceAt>[0];
    expect(forceAt(point, destination(centre, 45, 280))).toBe(7); // NE 300
    expect(forceAt(point, destination(centre, 135, 280))).toBe(0); // SE 200
    expect(forceAt(point, destination(centre, 135, 190))).toBe(7);
    expect(forceAt(point, destination(centre, 225, 160))).toBe(0); // SW 150
    expect(forceAt(point, destination(centre, 315, 240))).toBe(7); // NW 250
    // A single radius (the largest) would have put all four inside.
  });

  it('the circle is four arcs at four radii, with radial steps between them', () => {
    const ring = windCircle(centre, r7, 5);
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    expect(ring.length).toBe(4 * 19 + 1);
    const at = (i: number) => distanceKm(centre, { lon: ring[i]![0], lat: ring[i]![1] });
    expect(at(9)).toBeCloseTo(300, 3); // 45°, NE arc
    expect(at(19 + 9)).toBeCloseTo(200, 3); // 135°, SE arc
    expect(at(38 + 9)).toBeCloseTo(150, 3);
    expect(at(57 + 9)).toBeCloseTo(250, 3);
    expect(windCircle(centre, { ne: 0, se: 0, sw: 0, nw: 0 })).toEqual([]);
  });

  it('force felt: the highest circle containing the place', () => {
    const p: TrackPoint = { t: 0, ...centre, pressure: 950, wind: 45, error: null, radii: { r7, r10: { ne: 120, se: 80, sw: 60, nw: 100 }, r12: { ne: 50, se: 40, sw: 30, nw: 40 } } };
    expect(forceAt(p, destination(centre, 45, 40))).toBe(12);
    expect(forceAt(p, destination(centre, 45, 100))).toBe(10);
    expect(forceAt(p, destination(centre, 45, 200))).toBe(7);
    expect(forceAt(p, destination(centre, 45, 400))).toBe(0);
    expect(forceAt({ ...p, radii: null }, centre)).toBe(0);
  });
});

describe('interpolation along a forecast', () => {
  const H = 3600_000;
  const track: TrackPoint[] = [
    { t: 0, lat: 20, lon: 130, pressure: 980, wind: 30, error: null, radii: { r7: { ne: 200, se: 200, sw: 100, nw: 100 } } },
    { t: 12 * H, lat: 22, lon: 130, pressure: 960, wind: 40, error: 60, radii: { r7: { ne: 300, se: 200, sw: 200, nw: 100 }, r10: { ne: 100, se: 80, sw: 60, nw: 40 } } },
    { t: 24 * H, lat: 24, lon: 128, pressure: 950, wind: 45, error: 100, radii: null },
  ];
  it('halfway in time is halfway along the great circle, with radii and intensity in proportion', () => {
    const p = pointAt(track, 6 * H)!;
    expect(p.lat).toBeCloseTo(21, 6); // along the 130° E meridian
    expect(p.lon).toBeCloseTo(130, 6);
    expect(p.pressure).toBe(970);
    expect(p.wind).toBe(35);
    expect(p.radii!.r7).toEqual({ ne: 250, se: 200, sw: 150, nw: 100 });
    expect(p.radii!.r10).toEqual({ ne: 50, se: 40, sw: 30, nw: 20 }); // grows from nothing
    expect(pointAt(track, -1)).toBeNull();
    expect(pointAt(track, 25 * H)).toBeNull();
    expect(pointAt(track, 24 * H)!.lat).toBe(24);
  });
  it('the cone contains every forecast position and widens with lead time', () => {
    const fc = track.slice(1);
    const ring = cone(fc);
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    for (const p of fc) expect(pointInRing(p.lon, p.lat, ring)).toBe(true);
    // Flanks: the first left vertex is the first circle's radius (60 km) out, the last one 100 km.
    expect(distanceKm(fc[0]!, { lon: ring[0]![0], lat: ring[0]![1] })).toBeCloseTo(60, 3);
    expect(distanceKm(fc[1]!, { lon: ring[1]![0], lat: ring[1]![1] })).toBeCloseTo(100, 3);
    // A point 80 km abeam of the first position is outside; 80 km abeam of the last is inside.
    const h = bearingDeg(fc[0]!, fc[1]!);
    const out = destination(fc[0]!, h + 90, 80);
    const inn = destination(fc[1]!, h + 90, 80);
    expect(pointInRing(out.lon, out.lat, ring)).toBe(false);
    expect(pointInRing(inn.lon, inn.lat, ring)).toBe(true);
    expect(cone(track.slice(0, 1))).toEqual([]);
  });
});

describe('warning lines (CMA definition)', () => {
  it('24 h: 34N127E-22N127E-18N119E-11N119E-4.5N113E-0N105E; 48 h: 34N132E-15N132E-0N120E-0N105E', () => {
    expect(WARNING_LINE_24H[0]).toEqual([127, 34]);
    expect(WARNING_LINE_48H[1]).toEqual([132, 15]);
    // East of 127° E at 25° N: outside the 24 h line, inside the 48 h line.
    expect(insideWarningLine({ lat: 25, lon: 128 }, WARNING_LINE_24H)).toBe(false);
    expect(insideWarningLine({ lat: 25, lon: 128 }, WARNING_LINE_48H)).toBe(true);
    expect(insideWarningLine({ lat: 25, lon: 126 }, WARNING_LINE_24H)).toBe(true);
    // At 20° N the 24 h line runs at 123° E (between 22N127E and 18N119E).
    expect(insideWarningLine({ lat: 20, lon: 123.5 }, WARNING_LINE_24H)).toBe(false);
    expect(insideWarningLine({ lat: 20, lon: 122.5 }, WARNING_LINE_24H)).toBe(true);
    // At 10° N the 48 h line runs at 128° E, the 24 h line at 118.1° E.
    expect(insideWarningLine({ lat: 10, lon: 127.5 }, WARNING_LINE_48H)).toBe(true);
    expect(insideWarningLine({ lat: 10, lon: 128.5 }, WARNING_LINE_48H)).toBe(false);
    expect(insideWarningLine({ lat: 10, lon: 118.5 }, WARNING_LINE_24H)).toBe(false);
    // North of 34° N the lines say nothing.
    expect(insideWarningLine({ lat: 36, lon: 125 }, WARNING_LINE_48H)).toBe(false);
  });
});
