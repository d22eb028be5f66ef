// Geodetic degrees to Earth-centred (ECEF, WGS84) metres: the same numbers as Cesium's
// Cartesian3.fromDegrees (tests/unit/globe-math.test.ts holds them to a millimetre), written
// straight into a reused object. The globe's hot path converts 20,000 positions a tick; Cesium's
// version spends most of its time in argument checks and small helper calls (in Node, 20,000
// conversions: ~0.6 ms here against ~2.2 ms). Exact, not an approximation: the geodetic surface
// normal scaled by the radii squared, as Cesium's Ellipsoid does it.
//
// ecefStep does the same for a unit that moved a little since its last position, without
// trigonometry: the four sines and cosines kept in the unit's row are turned by the step (angle
// sum formulas, the step's own sine and cosine by their series). Four Math.sin/cos calls were the
// largest single cost of a tick (~1.5 of ~5 ms for 20,000 moves in Chromium on the 2-core test
// machine).
import { COS_LAT, COS_LON, LAT, LON, SIN_LAT, SIN_LON } from './rows.ts';

const A2 = 6378137.0 * 6378137.0;
const B2 = 6356752.3142451793 * 6356752.3142451793;
const RAD = Math.PI / 180;

export interface XYZ {
  x: number;
  y: number;
  z: number;
}

export function ecefFromDegrees<T extends XYZ>(lon: number, lat: number, height: number, out: T): T {
  const phi = lat * RAD;
  const lambda = lon * RAD;
  const cosPhi = Math.cos(phi);
  // the unit normal n; k = radii² · n / sqrt(n · radii² · n); p = k + n · h
  const nx = cosPhi * Math.cos(lambda);
  const ny = cosPhi * Math.sin(lambda);
  const nz = Math.sin(phi);
  const kx = A2 * nx;
  const ky = A2 * ny;
  const kz = B2 * nz;
  const gamma = Math.sqrt(nx * kx + ny * ky + nz * kz);
  out.x = kx / gamma + nx * height;
  out.y = ky / gamma + ny * height;
  out.z = kz / gamma + nz * height;
  return out;
}

/** A step is "small" below 0.1° in both coordinates (~11 km): the series below are then exact to the
 *  last bit (the first term left out is under 1e-22). A unit reporting at 1 Hz moves far less. */
const SMALL = 0.1 * RAD;

/**
 * The unit whose row starts at `b` in `d` is now at lon/lat (degrees), height h: its ECEF position
 * in `out`, and the row's LON, LAT and their sines and cosines brought up to date. A small step
 * turns the kept sines and cosines; a large one, a row with no position yet (LAT is NaN) or
 * `exact` computes them afresh. Callers pass `exact` now and then for each unit (the globe: one
 * tick in 64), so rounding cannot add up: the turned values stay within 1e-14 of the true ones,
 * a ten-thousandth of a millimetre on the ground (tests/unit/globe-math.test.ts).
 */
export function ecefStep<T extends XYZ>(d: Float64Array, b: number, lon: number, lat: number, height: number, exact: boolean, out: T): T {
  const dPhi = (lat - d[b + LAT]!) * RAD;
  const dLambda = (lon - d[b + LON]!) * RAD;
  let sinPhi: number, cosPhi: number, sinLambda: number, cosLambda: number;
  // NaN (no position yet) fails both comparisons
  if (!exact && Math.abs(dPhi) < SMALL && Math.abs(dLambda) < SMALL) {
    const p2 = dPhi * dPhi;
    const l2 = dLambda * dLambda;
    const cp = 1 - p2 * (0.5 - p2 * (1 / 24 - p2 / 720));
    const sp = dPhi * (1 - p2 * (1 / 6 - p2 / 120));
    const cl = 1 - l2 * (0.5 - l2 * (1 / 24 - l2 / 720));
    const sl = dLambda * (1 - l2 * (1 / 6 - l2 / 120));
    const s0 = d[b + SIN_LAT]!;
    const c0 = d[b + COS_LAT]!;
    sinPhi = s0 * cp + c0 * sp;
    cosPhi = c0 * cp - s0 * sp;
    const s1 = d[b + SIN_LON]!;
    const c1 = d[b + COS_LON]!;
    sinLambda = s1 * cl + c1 * sl;
    cosLambda = c1 * cl - s1 * sl;
  } else {
    const phi = lat * RAD;
    const lambda = lon * RAD;
    sinPhi = Math.sin(phi);
    cosPhi = Math.cos(phi);
    sinLambda = Math.sin(lambda);
    cosLambda = Math.cos(lambda);
  }
  d[b + LON] = lon;
  d[b + LAT] = lat;
  d[b + SIN_LAT] = sinPhi;
  d[b + COS_LAT] = cosPhi;
  d[b + SIN_LON] = sinLambda;
  d[b + COS_LON] = cosLambda;
  // as ecefFromDegrees, with n = (cosφ·cosλ, cosφ·sinλ, sinφ): γ = sqrt(a²·cos²φ + b²·sin²φ)
  const inv = 1 / Math.sqrt(A2 * cosPhi * cosPhi + B2 * sinPhi * sinPhi);
  const r = (A2 * inv + height) * cosPhi;
  out.x = r * cosLambda;
  out.y = r * sinLambda;
  out.z = (B2 * inv + height) * sinPhi;
  return out;
}
