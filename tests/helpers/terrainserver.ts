// A quantized-mesh terrain server for tests: layer.json and tiles generated on request from a height
// function (a Gaussian mountain), in the format Cesium's CesiumTerrainProvider reads
// (quantized-mesh-1.0, https://github.com/CesiumGS/quantized-mesh): geographic tiling, TMS rows,
// 2×1 tiles at level 0. The encoder is the test's own, written from that specification.
import { LoopbackServer } from './tileserver.ts';

const A = 6378137.0; // WGS-84
const B = 6356752.3142451793;
const E2 = 1 - (B * B) / (A * A);

function ecef(lonDeg: number, latDeg: number, h: number): [number, number, number] {
  const lon = (lonDeg * Math.PI) / 180;
  const lat = (latDeg * Math.PI) / 180;
  const n = A / Math.sqrt(1 - E2 * Math.sin(lat) ** 2);
  return [(n + h) * Math.cos(lat) * Math.cos(lon), (n + h) * Math.cos(lat) * Math.sin(lon), (n * (1 - E2) + h) * Math.sin(lat)];
}

const zigzag = (v: number) => ((v << 1) ^ (v >> 31)) >>> 0;

/** Cesium's horizon-culling point for a set of positions, in ellipsoid-scaled space. */
function horizonPoint(points: [number, number, number][], center: [number, number, number]): [number, number, number] {
  const scale = (p: [number, number, number]): [number, number, number] => [p[0] / A, p[1] / A, p[2] / B];
  const d = scale(center);
  const dl = Math.hypot(...d);
  const dir: [number, number, number] = [d[0] / dl, d[1] / dl, d[2] / dl];
  let max = 0;
  for (const p of points) {
    const s = scale(p);
    const m2 = s[0] ** 2 + s[1] ** 2 + s[2] ** 2;
    const m = Math.sqrt(m2);
    const u = [s[0] / m, s[1] / m, s[2] / m];
    const cosA = u[0]! * dir[0] + u[1]! * dir[1] + u[2]! * dir[2];
    const cx = u[1]! * dir[2] - u[2]! * dir[1];
    const cy = u[2]! * dir[0] - u[0]! * dir[2];
    const cz = u[0]! * dir[1] - u[1]! * dir[0];
    const sinA = Math.hypot(cx, cy, cz);
    const cosB = 1 / m;
    const sinB = Math.sqrt(Math.max(0, m2 - 1)) * cosB;
    max = Math.max(max, 1 / (cosA * cosB - sinA * sinB));
  }
  return [dir[0] * max, dir[1] * max, dir[2] * max];
}

/** One tile: an n×n grid of vertices over the tile's rectangle, heights from `height`. */
export function quantizedMeshTile(z: number, x: number, y: number, height: (lon: number, lat: number) => number, n = 17): Buffer {
  const size = 180 / 2 ** z;
  const west = -180 + x * size;
  const south = -90 + y * size; // TMS: row 0 at the south
  const hs: number[] = [];
  const pos: [number, number, number][] = [];
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const lon = west + (i / (n - 1)) * size;
      const lat = south + (j / (n - 1)) * size;
      const h = height(lon, lat);
      hs.push(h);
      pos.push(ecef(lon, lat, h));
    }
  }
  const minH = Math.min(...hs);
  const maxH = Math.max(...hs);
  const center = ecef(west + size / 2, south + size / 2, (minH + maxH) / 2);
  let radius = 0;
  for (const p of pos) radius = Math.max(radius, Math.hypot(p[0] - center[0], p[1] - center[1], p[2] - center[2]));
  const hp = horizonPoint(pos, center);
  const count = n * n;
  const tris: number[] = [];
  for (let j = 0; j < n - 1; j++) {
    for (let i = 0; i < n - 1; i++) {
      const a = j * n + i;
      // counter-clockwise seen from above (u east, v north)
      tris.push(a, a + 1, a + n + 1, a, a + n + 1, a + n);
    }
  }
  // High-water-mark encoding needs every vertex first used in index order: renumber the vertices in
  // the order the triangles first reach them.
  const order: number[] = [];
  const newIndex = new Array<number>(count).fill(-1);
  for (const v of tris) if (newIndex[v] === -1) newIndex[v] = order.push(v) - 1;
  for (let v = 0; v < count; v++) if (newIndex[v] === -1) newIndex[v] = order.push(v) - 1;
  const parts: Buffer[] = [];
  const head = Buffer.alloc(88);
  let o = 0;
  for (const v of center) o = head.writeDoubleLE(v, o);
  o = head.writeFloatLE(minH, o);
  o = head.writeFloatLE(maxH, o);
  for (const v of center) o = head.writeDoubleLE(v, o);
  o = head.writeDoubleLE(radius, o);
  for (const v of hp) o = head.writeDoubleLE(v, o);
  parts.push(head);
  const vc = Buffer.alloc(4);
  vc.writeUInt32LE(count);
  parts.push(vc);
  const us: number[] = [];
  const vs: number[] = [];
  const hq: number[] = [];
  for (const v of order) {
    const i = v % n;
    const j = Math.floor(v / n);
    us.push(Math.round((i / (n - 1)) * 32767));
    vs.push(Math.round((j / (n - 1)) * 32767));
    hq.push(maxH > minH ? Math.round(((hs[v]! - minH) / (maxH - minH)) * 32767) : 0);
  }
  for (const arr of [us, vs, hq]) {
    const b = Buffer.alloc(2 * count);
    let prev = 0;
    arr.forEach((v, k) => {
      b.writeUInt16LE(zigzag(v - prev), 2 * k);
      prev = v;
    });
    parts.push(b);
  }
  // 16-bit indices (fewer than 65,536 vertices); the vertex data above is 6·count bytes after a
  // 92-byte start, so the index data is 2-byte aligned already.
  const tc = Buffer.alloc(4);
  tc.writeUInt32LE(tris.length / 3);
  parts.push(tc);
  const ib = Buffer.alloc(2 * tris.length);
  let highest = 0;
  tris
    .map((v) => newIndex[v]!)
    .forEach((idx, k) => {
      // high-water-mark encoding
      ib.writeUInt16LE(highest - idx, 2 * k);
      if (idx === highest) highest++;
    });
  parts.push(ib);
  const edge = (idxs: number[]) => {
    const b = Buffer.alloc(4 + 2 * idxs.length);
    b.writeUInt32LE(idxs.length);
    idxs.forEach((v, k) => b.writeUInt16LE(newIndex[v]!, 4 + 2 * k));
    return b;
  };
  const range = [...Array(n).keys()];
  parts.push(edge(range.map((j) => j * n))); // west
  parts.push(edge(range.map((i) => i))); // south
  parts.push(edge(range.map((j) => j * n + n - 1))); // east
  parts.push(edge(range.map((i) => (n - 1) * n + i))); // north
  return Buffer.concat(parts);
}

/** Level 0 is 2×1 tiles; each level doubles both ways. */
export function layerJson(maxZoom: number): object {
  const available = [];
  for (let z = 0; z <= maxZoom; z++) available.push([{ startX: 0, startY: 0, endX: 2 ** (z + 1) - 1, endY: 2 ** z - 1 }]);
  return {
    tilejson: '2.1.0',
    format: 'quantized-mesh-1.0',
    version: '1.0.0',
    scheme: 'tms',
    tiles: ['{z}/{x}/{y}.terrain?v={version}'],
    projection: 'EPSG:4326',
    bounds: [-180, -90, 180, 90],
    minzoom: 0,
    maxzoom: maxZoom,
    available,
  };
}

/** A mountain `peak` metres high at (lon, lat), sigma `km` wide; sea level elsewhere. */
export function mountain(lon0: number, lat0: number, peak: number, km: number): (lon: number, lat: number) => number {
  return (lon, lat) => {
    const dx = (lon - lon0) * 111.32 * Math.cos((lat0 * Math.PI) / 180);
    const dy = (lat - lat0) * 110.57;
    return peak * Math.exp(-(dx * dx + dy * dy) / (2 * km * km));
  };
}

export class TerrainServer extends LoopbackServer {
  requests = 0;
  tileRequests = 0;
  maxZoom = 12;
  readonly height: (lon: number, lat: number) => number;
  constructor(height: (lon: number, lat: number) => number) {
    super();
    this.height = height;
  }

  async start(): Promise<void> {
    await this.listen((req, res) => {
      this.requests++;
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/layer.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(layerJson(this.maxZoom)));
      }
      const m = /^\/(\d+)\/(\d+)\/(\d+)\.terrain$/.exec(u.pathname);
      if (!m) {
        res.writeHead(404);
        return res.end();
      }
      this.tileRequests++;
      const body = quantizedMeshTile(Number(m[1]), Number(m[2]), Number(m[3]), this.height);
      res.writeHead(200, { 'content-type': 'application/vnd.quantized-mesh', 'content-length': body.length });
      res.end(body);
    });
  }

  /** The tile template as a hall source names it. */
  get template(): string {
    return `http://127.0.0.1:${this.port}/{z}/{x}/{y}.terrain`;
  }
}
