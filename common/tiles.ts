// Web-Mercator tile arithmetic (the XYZ scheme of OpenStreetMap, Tianditu's w-matrix, and most GIS
// servers). Pure: the prefetch planner, the tile route and tests share it.

/** Latitude limit of Web Mercator. */
export const MAX_LAT = 85.05112878;

export interface TileXYZ {
  z: number;
  x: number;
  y: number;
}

export function lonToX(lon: number, z: number): number {
  const n = 2 ** z;
  return Math.min(n - 1, Math.max(0, Math.floor(((lon + 180) / 360) * n)));
}

export function latToY(lat: number, z: number): number {
  const n = 2 ** z;
  const φ = (Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(φ) + 1 / Math.cos(φ)) / Math.PI) / 2) * n);
  return Math.min(n - 1, Math.max(0, y));
}

export interface BBox {
  west: number;
  south: number;
  east: number;
  north: number;
}

/** Tile ranges covering a bounding box at each zoom, and the total count. `geographic`: the
 *  quantized-mesh terrain tiling (2×1 tiles at zoom 0, TMS rows counted from the south). */
export function planTiles(
  bbox: BBox,
  minZoom: number,
  maxZoom: number,
  scheme: 'mercator' | 'geographic' = 'mercator',
): { ranges: { z: number; x0: number; x1: number; y0: number; y1: number }[]; total: number } {
  if (!(bbox.west < bbox.east && bbox.south < bbox.north)) throw new Error('bbox must have west < east and south < north');
  if (!(Number.isInteger(minZoom) && Number.isInteger(maxZoom) && minZoom >= 0 && maxZoom <= 22 && minZoom <= maxZoom)) throw new Error('zoom range must be whole numbers within 0-22, min <= max');
  const ranges = [];
  let total = 0;
  for (let z = minZoom; z <= maxZoom; z++) {
    const r = scheme === 'geographic' ? geoRange(bbox, z) : { z, x0: lonToX(bbox.west, z), x1: lonToX(bbox.east, z), y0: latToY(bbox.north, z), y1: latToY(bbox.south, z) };
    ranges.push(r);
    total += (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1);
  }
  return { ranges, total };
}

function geoRange(b: BBox, z: number): { z: number; x0: number; x1: number; y0: number; y1: number } {
  const cols = 2 ** (z + 1);
  const rows = 2 ** z;
  const col = (lon: number) => Math.min(cols - 1, Math.max(0, Math.floor(((lon + 180) / 360) * cols)));
  const row = (lat: number) => Math.min(rows - 1, Math.max(0, Math.floor(((lat + 90) / 180) * rows)));
  return { z, x0: col(b.west), x1: col(b.east), y0: row(b.south), y1: row(b.north) };
}

/** Every tile of a plan, zoom by zoom (coarse first: the area is usable early). */
export function* tilesOf(plan: ReturnType<typeof planTiles>): Generator<TileXYZ> {
  for (const r of plan.ranges) for (let x = r.x0; x <= r.x1; x++) for (let y = r.y0; y <= r.y1; y++) yield { z: r.z, x, y };
}

/** Fill a URL template: {z} {x} {y}, {-y} (TMS row), WMTS {TileMatrix} {TileCol} {TileRow} (a Web
 *  Mercator matrix set: the same numbers), {s} (subdomain), {k} (an API key). */
export function tileUrl(template: string, t: TileXYZ, opts: { subdomains?: readonly string[]; key?: string } = {}): string {
  const subs = opts.subdomains?.length ? opts.subdomains : ['a', 'b', 'c'];
  return template
    .replaceAll('{TileMatrix}', String(t.z))
    .replaceAll('{TileCol}', String(t.x))
    .replaceAll('{TileRow}', String(t.y))
    .replaceAll('{z}', String(t.z))
    .replaceAll('{x}', String(t.x))
    .replaceAll('{y}', String(t.y))
    .replaceAll('{-y}', String(2 ** t.z - 1 - t.y))
    .replaceAll('{s}', subs[(t.x + t.y) % subs.length]!)
    .replaceAll('{k}', encodeURIComponent(opts.key ?? ''));
}
