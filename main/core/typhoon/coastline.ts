// The coastline the hall detects landfall with: Natural Earth 1:10m land (public domain), clipped
// to East Asia and shipped in data/coastline (see its README). Loaded once, indexed by ring
// bounding boxes so a track segment only looks at the rings it could cross.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { segmentCrossing } from '../../../common/geo.ts';
import { packageRoot } from '../paths.ts';

interface Box {
  west: number;
  east: number;
  south: number;
  north: number;
}
/** A run of CHUNK edges (from vertex i0) with its bounding box: the mainland ring has 50,000
 *  vertices, and a track segment or a point test only needs the runs near it. */
interface Chunk extends Box {
  i0: number;
  i1: number;
}
const CHUNK = 64;
export interface Ring extends Box {
  pts: [number, number][];
  chunks: Chunk[];
}
export interface Land {
  rings: Ring[];
  source: string;
  bbox: { west: number; south: number; east: number; north: number };
}

function boxOf(pts: [number, number][], i0: number, i1: number): Box {
  let west = Infinity;
  let east = -Infinity;
  let south = Infinity;
  let north = -Infinity;
  for (let i = i0; i <= i1; i++) {
    const [x, y] = pts[i % pts.length]!;
    if (x < west) west = x;
    if (x > east) east = x;
    if (y < south) south = y;
    if (y > north) north = y;
  }
  return { west, east, south, north };
}

export function ringOf(pts: [number, number][]): Ring {
  const chunks: Chunk[] = [];
  // Edge k joins vertex k and k+1 (the last one closes the ring back to vertex 0).
  for (let i0 = 0; i0 < pts.length; i0 += CHUNK) {
    const i1 = Math.min(i0 + CHUNK, pts.length);
    chunks.push({ i0, i1, ...boxOf(pts, i0, i1) });
  }
  return { pts, chunks, ...boxOf(pts, 0, pts.length - 1) };
}

function* edges(r: Ring, box: Box, rayEast = false): Generator<[[number, number], [number, number]]> {
  const n = r.pts.length;
  for (const c of r.chunks) {
    if (c.north < box.south || c.south > box.north) continue;
    if (c.east < box.west) continue;
    if (!rayEast && c.west > box.east) continue;
    for (let k = c.i0; k < c.i1; k++) yield [r.pts[k]!, r.pts[(k + 1) % n]!];
  }
}

let cached: Land | null = null;
export function loadLand(file = join(packageRoot(), 'data', 'coastline', 'east-asia-10m.json')): Land {
  if (cached && !arguments.length) return cached;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { source: string; bbox: Land['bbox']; rings: number[][] };
  const rings = raw.rings.map((flat) => {
    const pts: [number, number][] = [];
    for (let i = 0; i < flat.length; i += 2) pts.push([flat[i]!, flat[i + 1]!]);
    return ringOf(pts);
  });
  const land = { rings, source: raw.source, bbox: raw.bbox };
  if (!arguments.length) cached = land;
  return land;
}

/** Is the point on land? */
export function onLand(land: Land, lon: number, lat: number): boolean {
  for (const r of land.rings) {
    if (lon < r.west || lon > r.east || lat < r.south || lat > r.north) continue;
    // Even-odd rule with a ray towards the east: only the runs that reach east of the point and
    // span its latitude can be crossed.
    let inside = false;
    for (const [[xi, yi], [xj, yj]] of edges(r, { west: lon, east: lon, south: lat, north: lat }, true)) {
      if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
    }
    if (inside) return true;
  }
  return false;
}

/** Fractions along p→q (0..1, sorted) where the segment crosses a coastline. */
export function coastCrossings(land: Land, p: [number, number], q: [number, number]): number[] {
  const west = Math.min(p[0], q[0]);
  const east = Math.max(p[0], q[0]);
  const south = Math.min(p[1], q[1]);
  const north = Math.max(p[1], q[1]);
  const out: number[] = [];
  for (const r of land.rings) {
    if (r.east < west || r.west > east || r.north < south || r.south > north) continue;
    for (const [a, b] of edges(r, { west, east, south, north })) {
      if (Math.max(a[0], b[0]) < west || Math.min(a[0], b[0]) > east || Math.max(a[1], b[1]) < south || Math.min(a[1], b[1]) > north) continue;
      const f = segmentCrossing(p, q, a, b);
      if (f !== null) out.push(f);
    }
  }
  return out.sort((x, y) => x - y);
}
