// Writes ESRI shapefiles (.shp, .dbf) the way GIS exports do, for the boundary import tests: polygon
// records with clockwise outer rings and counter-clockwise holes, and a dBase III table whose text is
// encoded as the test asks (UTF-8 or GBK, as Chinese bureau exports often are).
// The writer is the test's own (no shapefile library is a dependency of the hall): the spec is the
// ESRI Shapefile Technical Description (1998) and the dBase III file format.

export interface ShpRecord {
  /** Rings of [lon, lat], each closed; null: a null shape. */
  rings: number[][][] | null;
  attrs: Record<string, string | number>;
}

export interface DbfField {
  name: string;
  type: 'C' | 'N';
  length: number;
}

/** Big-endian and little-endian ints and doubles into a growing buffer. */
class Writer {
  private buf = Buffer.alloc(1024);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  i32be(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

export function writeShp(records: ShpRecord[], shapeType = 5): Buffer {
  const contents = records.map((r) => {
    const rec = new Writer();
    if (!r.rings) {
      rec.i32(0);
      return rec.bytes();
    }
    const pts = r.rings.flat();
    rec.i32(shapeType);
    const xs = pts.map((p) => p[0]!);
    const ys = pts.map((p) => p[1]!);
    for (const v of [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]) rec.f64(v);
    rec.i32(r.rings.length);
    rec.i32(pts.length);
    let start = 0;
    for (const ring of r.rings) {
      rec.i32(start);
      start += ring.length;
    }
    for (const p of pts) {
      rec.f64(p[0]!);
      rec.f64(p[1]!);
    }
    return rec.bytes();
  });
  const all = records.flatMap((r) => (r.rings ?? []).flat());
  const bbox = all.length ? [Math.min(...all.map((p) => p[0]!)), Math.min(...all.map((p) => p[1]!)), Math.max(...all.map((p) => p[0]!)), Math.max(...all.map((p) => p[1]!))] : [0, 0, 0, 0];
  const head = new Writer();
  head.i32be(9994);
  for (let k = 0; k < 5; k++) head.i32be(0);
  head.i32be((100 + contents.reduce((a, c) => a + 8 + c.length, 0)) / 2); // file length in 16-bit words
  head.i32(1000);
  head.i32(shapeType);
  for (const v of [...bbox, 0, 0, 0, 0]) head.f64(v);
  const parts: Buffer[] = [head.bytes()];
  contents.forEach((c, i) => {
    const rh = Buffer.alloc(8);
    rh.writeInt32BE(i + 1, 0);
    rh.writeInt32BE(c.length / 2, 4);
    parts.push(rh, c);
  });
  return Buffer.concat(parts);
}

/** A dBase III table. `encode` turns text into the file's bytes (UTF-8 by default). */
export function writeDbf(fields: DbfField[], rows: Record<string, string | number>[], encode: (s: string) => Buffer = (s) => Buffer.from(s, 'utf8')): Buffer {
  const headerLen = 32 + 32 * fields.length + 1;
  const recLen = 1 + fields.reduce((a, f) => a + f.length, 0);
  const head = Buffer.alloc(headerLen);
  head[0] = 0x03;
  head[1] = 125;
  head[2] = 1;
  head[3] = 1;
  head.writeUInt32LE(rows.length, 4);
  head.writeUInt16LE(headerLen, 8);
  head.writeUInt16LE(recLen, 10);
  fields.forEach((f, i) => {
    const p = 32 + 32 * i;
    head.write(f.name.slice(0, 10), p, 'latin1');
    head[p + 11] = f.type.charCodeAt(0);
    head[p + 16] = f.length;
  });
  head[headerLen - 1] = 0x0d;
  const recs = rows.map((row) => {
    const r = Buffer.alloc(recLen, 0x20);
    let off = 1;
    for (const f of fields) {
      const v = row[f.name];
      const bytes = v === undefined ? Buffer.alloc(0) : f.type === 'N' ? Buffer.from(String(v).padStart(f.length, ' '), 'latin1') : encode(String(v));
      bytes.copy(r, off, 0, Math.min(bytes.length, f.length));
      off += f.length;
    }
    return r;
  });
  return Buffer.concat([head, ...recs, Buffer.from([0x1a])]);
}

/** Clockwise (a shapefile's outer ring) or counter-clockwise (a hole) square ring around a point. */
export function squareRing(lon: number, lat: number, d: number, clockwise: boolean): number[][] {
  const ccw = [
    [lon - d, lat - d],
    [lon + d, lat - d],
    [lon + d, lat + d],
    [lon - d, lat + d],
    [lon - d, lat - d],
  ];
  return clockwise ? [...ccw].reverse() : ccw;
}

export const WGS84_PRJ = 'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]';
export const CGCS2000_PRJ =
  'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]';
export const BEIJING54_PRJ = 'GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]';
export const UTM51_PRJ = 'PROJCS["WGS_1984_UTM_Zone_51N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]]],PROJECTION["Transverse_Mercator"],UNIT["Meter",1.0]]';
