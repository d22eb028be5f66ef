// County boundaries from an ESRI Shapefile, the form most bureaus' GIS departments hand over: the
// .shp (geometry), .dbf (attributes, the code among them), .prj (coordinate system) and .cpg (text
// encoding) beside it. Read strictly into a GeoJSON FeatureCollection, which then takes the same
// checks as a GeoJSON import (parseBoundaries): one set of rules for codes, rings and seats.
//
// Refused with a clear reason: a file that is not a shapefile or is cut short, shapes that are not
// polygons, a record whose parts or points run past its end, a .dbf whose record count disagrees with
// the .shp, and a .prj that is projected or on a datum other than WGS-84 / CGCS2000 (Beijing 1954
// and Xian 1980 are off by up to 100 m; the operator re-exports rather than the hall guessing).

import { TextDecoder } from 'node:util';

export class ShapefileError extends Error {}

export interface ShapefileInput {
  shp: Uint8Array;
  dbf: Uint8Array;
  /** The .prj's WKT, when there is one. Without it the file is taken as longitude/latitude, and the
   *  range check in parseBoundaries still catches metres. */
  prj?: string;
  /** The .cpg's content (UTF-8, GBK, 936…). Without it: UTF-8 when the text is valid UTF-8, else GBK. */
  cpg?: string;
}

export interface GeoJsonFeatureCollection {
  type: 'FeatureCollection';
  crs?: { type: 'name'; properties: { name: string } };
  features: { type: 'Feature'; properties: Record<string, string | number | null>; geometry: { type: 'MultiPolygon'; coordinates: number[][][][] } | null }[];
}

const POLYGON_TYPES = new Set([5, 15, 25]); // Polygon, PolygonZ, PolygonM (Z and M are dropped)
const MAX_PARTS = 100_000;
const MAX_POINTS = 10_000_000;

/** The coordinate system a .prj names: EPSG 4326 or 4490, or an error saying what it is instead. */
export function crsOfPrj(wkt: string): string {
  const w = wkt.trim();
  if (!w) return 'EPSG:4326';
  if (/^\s*PROJCS\s*\[/i.test(w)) {
    const name = /^\s*PROJCS\s*\[\s*"([^"]*)"/i.exec(w)?.[1] ?? 'a projected system';
    throw new ShapefileError(`wrong CRS: the .prj is projected (${name}), in metres; export in WGS-84 or CGCS2000 longitude/latitude (EPSG:4326 or 4490)`);
  }
  if (!/^\s*GEOGCS\s*\[/i.test(w)) throw new ShapefileError(`wrong CRS: the .prj is not a coordinate system this hall reads (${w.slice(0, 60)})`);
  const datum = /DATUM\s*\[\s*"([^"]*)"/i.exec(w)?.[1] ?? '';
  if (/WGS.?(19)?84/i.test(datum)) return 'EPSG:4326';
  if (/CGCS.?2000|China.?(Geodetic.?Coordinate.?System.?)?2000/i.test(datum)) return 'EPSG:4490';
  throw new ShapefileError(`wrong CRS: datum ${datum || 'unknown'} is not WGS-84 or CGCS2000 (Beijing 1954 and Xian 1980 differ by up to 100 m); re-export in EPSG:4326 or 4490`);
}

/** Signed area of a ring of [x, y] (positive: counter-clockwise). */
function signedArea(r: number[][]): number {
  let a = 0;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) a += (r[j]![0]! - r[i]![0]!) * (r[j]![1]! + r[i]![1]!);
  return a / 2;
}

function inRing(x: number, y: number, r: number[][]): boolean {
  let inside = false;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
    const [xi, yi] = r[i]! as [number, number];
    const [xj, yj] = r[j]! as [number, number];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The polygons of one record: outer rings are clockwise in a shapefile, holes counter-clockwise;
 *  a hole belongs to the outer ring that contains it. */
function polygonsOf(rings: number[][][]): number[][][][] {
  const outers: number[][][][] = [];
  const holes: number[][][] = [];
  for (const r of rings) {
    if (signedArea(r) <= 0) outers.push([r]);
    else holes.push(r);
  }
  // A file written with the winding the other way round (some tools do): all rings counter-clockwise.
  if (outers.length === 0) return holes.map((r) => [r]);
  for (const h of holes) {
    const [x, y] = h[0]! as [number, number];
    (outers.find((p) => inRing(x, y, p[0]!)) ?? outers[0]!).push(h);
  }
  return outers;
}

function readShp(buf: Uint8Array): (number[][][] | null)[] {
  if (buf.length < 100) throw new ShapefileError('the .shp is shorter than its 100-byte header');
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (v.getInt32(0, false) !== 9994) throw new ShapefileError('not a shapefile (.shp file code is not 9994)');
  if (v.getInt32(28, true) !== 1000) throw new ShapefileError(`unsupported .shp version ${v.getInt32(28, true)}`);
  const declared = v.getInt32(24, false) * 2;
  if (declared > buf.length) throw new ShapefileError(`the .shp is cut short: its header says ${declared} bytes, the file has ${buf.length}`);
  const type = v.getInt32(32, true);
  if (!POLYGON_TYPES.has(type)) throw new ShapefileError(`the shapes are not polygons (shape type ${type}); boundaries must be polygons`);
  const out: (number[][][] | null)[] = [];
  let off = 100;
  while (off < declared) {
    if (off + 8 > declared) throw new ShapefileError(`record ${out.length + 1}: cut short`);
    const n = v.getInt32(off, false);
    const len = v.getInt32(off + 4, false) * 2;
    if (n !== out.length + 1) throw new ShapefileError(`record ${out.length + 1}: numbered ${n}`);
    const start = off + 8;
    const end = start + len;
    if (len < 4 || end > declared) throw new ShapefileError(`record ${n}: its length runs past the end of the file`);
    const st = v.getInt32(start, true);
    if (st === 0) {
      out.push(null); // a null shape: parseBoundaries reports the feature as having no geometry
    } else {
      if (!POLYGON_TYPES.has(st)) throw new ShapefileError(`record ${n}: shape type ${st} is not a polygon`);
      if (len < 44) throw new ShapefileError(`record ${n}: cut short`);
      const parts = v.getInt32(start + 36, true);
      const points = v.getInt32(start + 40, true);
      if (parts < 1 || parts > MAX_PARTS || points < parts || points > MAX_POINTS) throw new ShapefileError(`record ${n}: ${parts} parts and ${points} points is not a polygon`);
      const pts = start + 44 + 4 * parts;
      if (pts + 16 * points > end) throw new ShapefileError(`record ${n}: its points run past the record's end`);
      const idx: number[] = [];
      for (let i = 0; i < parts; i++) idx.push(v.getInt32(start + 44 + 4 * i, true));
      idx.push(points);
      const rings: number[][][] = [];
      for (let i = 0; i < parts; i++) {
        const a = idx[i]!;
        const b = idx[i + 1]!;
        if (a < 0 || b > points || b <= a) throw new ShapefileError(`record ${n}: part ${i + 1} has bad point indices`);
        const ring: number[][] = [];
        for (let k = a; k < b; k++) ring.push([v.getFloat64(pts + 16 * k, true), v.getFloat64(pts + 16 * k + 8, true)]);
        rings.push(ring);
      }
      out.push(rings);
    }
    off = end;
  }
  return out;
}

function decoderFor(cpg: string | undefined, sample: Uint8Array): TextDecoder {
  const c = (cpg ?? '').trim().toLowerCase();
  if (c) {
    const label = /^(936|cp936|gb2312|gbk|gb18030)$/.test(c) ? 'gb18030' : /^(utf-?8|65001)$/.test(c) ? 'utf-8' : c;
    try {
      return new TextDecoder(label);
    } catch {
      throw new ShapefileError(`the .cpg names an encoding this hall does not know: ${c.slice(0, 40)}`);
    }
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample);
    return new TextDecoder('utf-8');
  } catch {
    return new TextDecoder('gb18030'); // a Chinese GIS export without a .cpg is GBK
  }
}

function readDbf(buf: Uint8Array, cpg: string | undefined): Record<string, string | number | null>[] {
  if (buf.length < 33) throw new ShapefileError('the .dbf is shorter than its header');
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = v.getUint32(4, true);
  const headerLen = v.getUint16(8, true);
  const recLen = v.getUint16(10, true);
  if (headerLen < 33 || headerLen > buf.length) throw new ShapefileError('the .dbf header is damaged');
  if (headerLen + count * recLen > buf.length) throw new ShapefileError(`the .dbf is cut short: ${count} records of ${recLen} bytes do not fit`);
  const fields: { name: string; type: string; off: number; len: number }[] = [];
  let off = 1; // the deletion flag comes first in a record
  const ascii = new TextDecoder('latin1');
  for (let p = 32; p + 32 <= headerLen && buf[p] !== 0x0d; p += 32) {
    let nameEnd = p;
    while (nameEnd < p + 11 && buf[nameEnd] !== 0) nameEnd++;
    const name = ascii.decode(buf.subarray(p, nameEnd)).trim();
    const type = String.fromCharCode(buf[p + 11]!);
    const len = buf[p + 16]!;
    fields.push({ name, type, off, len });
    off += len;
  }
  if (off > recLen) throw new ShapefileError('the .dbf fields are longer than its records');
  const dec = decoderFor(cpg, buf.subarray(headerLen, Math.min(buf.length, headerLen + count * recLen)));
  const rows: Record<string, string | number | null>[] = [];
  for (let i = 0; i < count; i++) {
    const r = headerLen + i * recLen;
    const row: Record<string, string | number | null> = {};
    for (const f of fields) {
      // dBASE pads text with spaces, and some writers with NULs: neither is part of the value (#19 point 8)
      const raw = dec
        .decode(buf.subarray(r + f.off, r + f.off + f.len))
        .replace(/[\0\s]+$/, '')
        .trim();
      if (f.type === 'N' || f.type === 'F') {
        // a whole number too long for a double to hold exactly, or not a number at all, stays text
        const n = Number(raw);
        row[f.name] = raw === '' ? null : /^-?\d{16,}$/.test(raw) || !Number.isFinite(n) ? raw : n;
      } else row[f.name] = raw === '' ? null : raw;
    }
    rows.push(row);
  }
  return rows;
}

/** A shapefile as GeoJSON, for parseBoundaries. Throws ShapefileError on a file it cannot read. */
export function shapefileToGeoJson(input: ShapefileInput): GeoJsonFeatureCollection {
  const crs = input.prj === undefined ? undefined : crsOfPrj(input.prj);
  const shapes = readShp(input.shp);
  const rows = readDbf(input.dbf, input.cpg);
  if (rows.length !== shapes.length) throw new ShapefileError(`the .dbf has ${rows.length} records and the .shp ${shapes.length} shapes: they are not from the same export`);
  return {
    type: 'FeatureCollection',
    ...(crs ? { crs: { type: 'name' as const, properties: { name: crs } } } : {}),
    features: shapes.map((rings, i) => ({ type: 'Feature' as const, properties: rows[i]!, geometry: rings ? { type: 'MultiPolygon' as const, coordinates: polygonsOf(rings) } : null })),
  };
}
