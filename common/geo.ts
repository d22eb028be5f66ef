// Spherical geometry for the hall: distances, bearings, destination points, interpolation and
// point-in-polygon. Pure and small so that the core's analysis and the renderer's drawing use the
// very same numbers. The earth is a sphere of the IUGG mean radius: within 0.5 % of the
// ellipsoid, far inside the accuracy of a typhoon position (tenths of a degree, ~10 km).

export const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;
const DEG = 180 / Math.PI;

export interface LatLon {
  lat: number;
  lon: number;
}

/** Great-circle distance in km (haversine). */
export function distanceKm(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing from a to b, degrees clockwise from true north, in [0, 360). */
export function bearingDeg(a: LatLon, b: LatLon): number {
  const φ1 = a.lat * RAD;
  const φ2 = b.lat * RAD;
  const Δλ = (b.lon - a.lon) * RAD;
  const y = Math.sin(Δλ) * Math.cos(φ2);
  const x = Math.cos(φ1) * Math.sin(φ2) - Math.sin(φ1) * Math.cos(φ2) * Math.cos(Δλ);
  return (Math.atan2(y, x) * DEG + 360) % 360;
}

/** The point `km` away from `from` along the initial bearing `bearing`. */
export function destination(from: LatLon, bearing: number, km: number): LatLon {
  const δ = km / EARTH_RADIUS_KM;
  const θ = bearing * RAD;
  const φ1 = from.lat * RAD;
  const λ1 = from.lon * RAD;
  const φ2 = Math.asin(Math.sin(φ1) * Math.cos(δ) + Math.cos(φ1) * Math.sin(δ) * Math.cos(θ));
  const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(δ) * Math.cos(φ1), Math.cos(δ) - Math.sin(φ1) * Math.sin(φ2));
  return { lat: φ2 * DEG, lon: ((λ2 * DEG + 540) % 360) - 180 };
}

/** The point a fraction f of the way from a to b along the great circle. */
export function interpolate(a: LatLon, b: LatLon, f: number): LatLon {
  const d = distanceKm(a, b);
  if (d < 1e-9) return { lat: a.lat, lon: a.lon };
  return destination(a, bearingDeg(a, b), d * f);
}

/** Compass point of a bearing, 16-wind (N, NNE, NE, …), for labels. */
export const COMPASS_16 = ['N', 'NNE', 'NE', 'ENE', 'E', 'ESE', 'SE', 'SSE', 'S', 'SSW', 'SW', 'WSW', 'W', 'WNW', 'NW', 'NNW'] as const;
export function compass16(bearing: number): (typeof COMPASS_16)[number] {
  return COMPASS_16[Math.round((((bearing % 360) + 360) % 360) / 22.5) % 16]!;
}

/** Ring as [lon, lat] pairs (GeoJSON order), closed or not. Even-odd rule, planar in degrees:
 *  exact enough for rings whose edges are short (coastlines, warning lines of a few degrees). */
export function pointInRing(lon: number, lat: number, ring: readonly (readonly [number, number])[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Where segment p→q crosses segment a→b, as the fraction along p→q, or null. Planar in degrees. */
export function segmentCrossing(p: readonly [number, number], q: readonly [number, number], a: readonly [number, number], b: readonly [number, number]): number | null {
  const rx = q[0] - p[0];
  const ry = q[1] - p[1];
  const sx = b[0] - a[0];
  const sy = b[1] - a[1];
  const den = rx * sy - ry * sx;
  if (Math.abs(den) < 1e-15) return null;
  const t = ((a[0] - p[0]) * sy - (a[1] - p[1]) * sx) / den;
  const u = ((a[0] - p[0]) * ry - (a[1] - p[1]) * rx) / den;
  return t >= 0 && t <= 1 && u >= 0 && u <= 1 ? t : null;
}
