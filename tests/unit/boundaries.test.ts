// The bureau's boundary files: checked feature by feature, GCJ-02 converted when flagged.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Place } from '../../common/domain.ts';
import { gcj02ToWgs84, wgs84ToGcj02 } from '../../common/gcj02.ts';
import { distanceKm } from '../../common/geo.ts';
import { HallCore } from '../../main/core/hall.ts';
import { parseBoundaries, simplify } from '../../main/core/boundaries/geojson.ts';
import { shapefileToGeoJson } from '../../main/core/boundaries/shapefile.ts';
import { runImport } from '../../main/import.ts';
import { zhejiangScenario } from '../../main/core/scenario/seed.ts';
import { BEIJING54_PRJ, CGCS2000_PRJ, type DbfField, type ShpRecord, squareRing, UTM51_PRJ, WGS84_PRJ, writeDbf, writeShp } from '../helpers/shapefile.ts';
import { portClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';

const places = new Map(
  zhejiangScenario(0)
    .filter((e) => e.kind === 'place.upserted')
    .map((e) => [(e.payload as { place: Place }).place.code, (e.payload as { place: Place }).place]),
);
const WENLING = places.get('331081')!;
const YUHUAN = places.get('331083')!;
/** A square ring of half-size d degrees around a point, closed. */
const square = (lon: number, lat: number, d = 0.1) => [
  [lon - d, lat - d],
  [lon + d, lat - d],
  [lon + d, lat + d],
  [lon - d, lat + d],
  [lon - d, lat - d],
];
const feature = (code: unknown, coordinates: unknown, type = 'Polygon', props: Record<string, unknown> = {}) => ({
  type: 'Feature',
  properties: { adcode: code, ...props },
  geometry: { type, coordinates },
});
const fc = (features: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'FeatureCollection', features, ...extra });
const parse = (text: string, gcj02 = false) => parseBoundaries(text, { gcj02, source: 'test.geojson', places, now: 1 });

describe('GCJ-02', () => {
  it('offsets points in China by a few hundred metres, nowhere else, and converts back to well under a metre', () => {
    const [gl, ga] = wgs84ToGcj02(WENLING.lon, WENLING.lat);
    const offsetKm = distanceKm({ lat: WENLING.lat, lon: WENLING.lon }, { lat: ga, lon: gl });
    expect(offsetKm).toBeGreaterThan(0.2);
    expect(offsetKm).toBeLessThan(0.8);
    const [wl, wa] = gcj02ToWgs84(gl, ga);
    expect(distanceKm({ lat: WENLING.lat, lon: WENLING.lon }, { lat: wa, lon: wl }) * 1000).toBeLessThan(0.1);
    expect(wgs84ToGcj02(139.7, 35.7)).toEqual([139.7, 35.7]); // Tokyo: no offset
  });
});

describe('boundary import', () => {
  const dir = tempDir();

  it('accepts good features, names every bad one, and warns where a seat falls outside', () => {
    const gcjSquare = square(YUHUAN.lon, YUHUAN.lat, 0.05).map(([x, y]) => wgs84ToGcj02(x!, y!));
    const r = parse(
      fc([
        feature('331081', [square(WENLING.lon, WENLING.lat)]),
        feature(331082, [square(121.145, 28.858)], 'MultiPolygon'), // a MultiPolygon without its extra nesting
        feature('999999', [square(120, 30)]),
        feature(
          '331002',
          [
            [120, 30],
            [121, 31],
          ],
          'LineString',
        ),
        feature('331003', [square(13500000, 3300000, 1000)]),
        feature('331004', [
          [
            [121, 28],
            [121.1, 28],
            [121, 28],
          ],
        ]),
        { type: 'Feature', properties: { name: '无代码' }, geometry: { type: 'Polygon', coordinates: [square(121, 28)] } },
        feature('331081', [square(WENLING.lon, WENLING.lat)]),
        feature('331022', [square(121.376, 29.1).slice(0, 4)]), // not closed
        feature('331023', [square(122.5, 29.5)]), // Tiantai's seat is far from this
      ]),
    );
    const msg = (n: number) => r.errors.find((e) => e.feature === n)?.message ?? '';
    expect(r.boundaries.map((b) => b.id)).toEqual(['331081', '331022', '331023']);
    expect(msg(2)).toMatch(/a polygon without rings|fewer than 4|not two numbers/);
    expect(msg(3)).toMatch(/unknown code 999999/);
    expect(msg(4)).toMatch(/Polygon or MultiPolygon, not LineString/);
    expect(msg(5)).toMatch(/not longitude\/latitude \(a projected file, in metres\?\)/);
    expect(msg(6)).toMatch(/fewer than 4 positions/);
    expect(msg(7)).toMatch(/no code property/);
    expect(msg(8)).toMatch(/appears twice/);
    expect(r.warnings.find((w) => w.feature === 9)?.message).toMatch(/not closed; closed it/);
    expect(r.warnings.find((w) => w.feature === 10)?.message).toMatch(/seat of 天台县 is outside this boundary/);
    // A GCJ-02 file read as WGS-84 puts a tight boundary off its seat; flagged, it fits.
    const gcj = fc([feature('331083', [gcjSquare])]);
    expect(parse(gcj, true).warnings).toEqual([]);
    const conv = parse(gcj, true).boundaries[0]!.polygons[0]![0]!;
    expect(Math.abs(conv[0]! - (YUHUAN.lon - 0.05))).toBeLessThan(1e-4);
  });

  it('refuses whole files that are not GeoJSON or not in longitude/latitude', () => {
    expect(parse('{oops').errors[0]!.message).toMatch(/not JSON/);
    expect(parse('{"type":"Topology"}').errors[0]!.message).toMatch(/not a GeoJSON FeatureCollection/);
    const mercator = fc([feature('331081', [square(WENLING.lon, WENLING.lat)])], { crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::3857' } } });
    expect(parse(mercator).errors[0]!.message).toMatch(/wrong CRS urn:ogc:def:crs:EPSG::3857/);
    const cgcs = fc([feature('331081', [square(WENLING.lon, WENLING.lat)])], { crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::4490' } } });
    expect(parse(cgcs).boundaries).toHaveLength(1);
  });

  it('simplifies a dense ring to about 50 m', () => {
    const ring: [number, number][] = [];
    for (let i = 0; i <= 3600; i++) ring.push([121 + 0.1 * Math.cos((i / 3600) * 2 * Math.PI), 28 + 0.1 * Math.sin((i / 3600) * 2 * Math.PI)]);
    const s = simplify(ring);
    expect(s.length).toBeLessThan(200);
    expect(s.length).toBeGreaterThan(20);
    expect(s[0]).toEqual(s[s.length - 1]);
  });

  it('stores a boundary by command, for a known place only', async () => {
    const core = await HallCore.start({ dataDir: join(dir, 'b'), hub: { tickMs: 5 } });
    const c = portClient(core);
    try {
      const b = parse(fc([feature('331081', [square(WENLING.lon, WENLING.lat)])])).boundaries[0]!;
      const r = await c.cmd<{ event: number }>('boundary.put', { boundary: b });
      expect(r.event).toBeGreaterThan(0);
      expect(core.get('boundaries', '331081')).toMatchObject({ id: '331081', source: 'test.geojson' });
      expect((await c.fail('boundary.put', { boundary: { ...b, id: '990000' } })).code).toBe('not_found');
      expect((await c.fail('boundary.put', { boundary: { ...b, polygons: [] } })).code).toBe('invalid_args');
    } finally {
      c.close();
      await core.dispose();
    }
  });
});

describe('boundary import from a shapefile', () => {
  const dir = tempDir();
  // GBK, as a Chinese GIS export without a .cpg writes it: 温岭市, 玉环市 (checked by decoding below)
  const GBK: Record<string, string> = { 温岭市: 'CEC2C1EBCAD0', 玉环市: 'D3F1BBB7CAD0' };
  const gbk = (s: string) => Buffer.from(GBK[s] ?? Buffer.from(s, 'latin1').toString('hex'), 'hex');
  const fields: DbfField[] = [
    { name: 'PAC', type: 'N', length: 6 },
    { name: 'NAME', type: 'C', length: 20 },
  ];
  const twoCounties = (): ShpRecord[] => [
    // Wenling: an outer ring with a hole (the hole off the seat), Yuhuan: two islands
    { rings: [squareRing(WENLING.lon, WENLING.lat, 0.15, true), squareRing(WENLING.lon + 0.08, WENLING.lat + 0.08, 0.02, false)], attrs: { PAC: 331081, NAME: '温岭市' } },
    { rings: [squareRing(YUHUAN.lon, YUHUAN.lat, 0.06, true), squareRing(YUHUAN.lon + 0.3, YUHUAN.lat, 0.03, true)], attrs: { PAC: 331083, NAME: '玉环市' } },
  ];
  const read = (records: ShpRecord[], o: { prj?: string; cpg?: string; encode?: (s: string) => Buffer; shapeType?: number } = {}) =>
    shapefileToGeoJson({
      shp: writeShp(records, o.shapeType),
      dbf: writeDbf(
        fields,
        records.map((r) => r.attrs),
        o.encode,
      ),
      prj: o.prj,
      cpg: o.cpg,
    });

  it('reads polygons with holes and islands, codes from the .dbf, GBK names, and takes the GeoJSON checks', () => {
    const doc = read(twoCounties(), { prj: WGS84_PRJ, encode: gbk });
    expect(doc.features.map((f) => f.properties)).toEqual([
      { PAC: 331081, NAME: '温岭市' },
      { PAC: 331083, NAME: '玉环市' },
    ]);
    const wenling = doc.features[0]!.geometry!.coordinates;
    expect(wenling).toHaveLength(1); // one polygon…
    expect(wenling[0]).toHaveLength(2); // …with its hole
    expect(doc.features[1]!.geometry!.coordinates).toHaveLength(2); // two islands
    const r = parseBoundaries(doc, { source: 'counties.shp', places, now: 1 });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]); // both seats inside
    expect(r.boundaries.map((b) => b.id)).toEqual(['331081', '331083']);
    expect(r.boundaries[0]!.polygons[0]).toHaveLength(2);
    // the .cpg is honoured when there is one: UTF-8 text said to be UTF-8
    expect(read(twoCounties(), { cpg: 'UTF-8' }).features[0]!.properties.NAME).toBe('温岭市');
    // CGCS2000 is accepted as China's geographic datum
    expect(parseBoundaries(read(twoCounties(), { prj: CGCS2000_PRJ }), { source: 'x.shp', places }).boundaries).toHaveLength(2);
  });

  it('reads the same shapes and attributes as shpjs, a maintained shapefile reader, on the same files', async () => {
    // Our writer is the test's own, so a second reader keeps it and ours honest. shpjs reprojects any
    // .prj it is given (proj4), which the hall refuses to do for datums it cannot trust; neither is given one here.
    // @ts-expect-error shpjs ships no types
    const { parseShp, parseDbf, combine } = (await import('shpjs')) as {
      parseShp: (b: Buffer) => unknown;
      parseDbf: (b: Buffer, cpg?: string) => unknown;
      combine: (x: unknown[]) => { features: { geometry: { type: string; coordinates: unknown }; properties: Record<string, unknown> }[] };
    };
    const records = twoCounties();
    const ours = read(records, { encode: gbk, cpg: 'GBK' });
    const theirs = combine([
      parseShp(writeShp(records)),
      parseDbf(
        writeDbf(
          fields,
          records.map((r) => r.attrs),
          gbk,
        ),
        'GBK',
      ),
    ]);
    expect(theirs.features.map((f) => f.properties)).toEqual(ours.features.map((f) => f.properties));
    // shpjs says Polygon for one outer ring and MultiPolygon for more; ours is always MultiPolygon
    const asMulti = (g: { type: string; coordinates: unknown }) => (g.type === 'Polygon' ? [g.coordinates] : g.coordinates);
    expect(theirs.features.map((f) => asMulti(f.geometry))).toEqual(ours.features.map((f) => f.geometry!.coordinates));
  });

  it('text padded with NULs (as some writers pad dBASE fields) reads as the text alone (#19 point 8)', () => {
    const shp = writeShp(twoCounties());
    const nulPadded = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(40, 0)]);
    const dbf = writeDbf(
      fields,
      twoCounties().map((r) => r.attrs),
      nulPadded,
    );
    const names = shapefileToGeoJson({ shp, dbf, cpg: 'UTF-8' }).features.map((f) => f.properties?.NAME);
    expect(names).toEqual(twoCounties().map((r) => r.attrs.NAME));
    expect(JSON.stringify(names)).not.toContain('\\u0000');
  });

  it('refuses projected files, other datums, non-polygons, truncated files and mismatched tables, each with its reason', () => {
    expect(() => read(twoCounties(), { prj: UTM51_PRJ })).toThrow(/wrong CRS: the .prj is projected \(WGS_1984_UTM_Zone_51N\)/);
    expect(() => read(twoCounties(), { prj: BEIJING54_PRJ })).toThrow(/datum D_Beijing_1954 is not WGS-84 or CGCS2000/);
    expect(() => read(twoCounties(), { shapeType: 1 })).toThrow(/not polygons \(shape type 1\)/);
    const shp = writeShp(twoCounties());
    const dbf = writeDbf(
      fields,
      twoCounties().map((r) => r.attrs),
    );
    expect(() => shapefileToGeoJson({ shp: shp.subarray(0, shp.length - 40), dbf })).toThrow(/cut short/);
    expect(() => shapefileToGeoJson({ shp: Buffer.from('not a shapefile at all, just words '.repeat(4)), dbf })).toThrow(/not a shapefile/);
    expect(() => shapefileToGeoJson({ shp, dbf: writeDbf(fields, [twoCounties()[0]!.attrs]) })).toThrow(/1 records and the .shp 2 shapes/);
    // a record whose part index points past its points
    const bad = Buffer.from(shp);
    bad.writeInt32LE(999, 100 + 8 + 44 + 4); // record 1, second part's start index
    expect(() => shapefileToGeoJson({ shp: bad, dbf })).toThrow(/record 1: part 1 has bad point indices|record 1: part 2 has bad point indices/);
    expect(() => shapefileToGeoJson({ shp, dbf, cpg: 'EBCDIC-klingon' })).toThrow(/encoding this hall does not know/);
    // a null shape and an unknown code are the GeoJSON checks' business: named per feature
    const r = parseBoundaries(
      read([
        { rings: null, attrs: { PAC: 331081, NAME: 'x' } },
        { rings: [squareRing(121, 28, 0.1, true)], attrs: { PAC: 990000, NAME: 'y' } },
      ]),
      { source: 'x.shp', places },
    );
    expect(r.errors.map((e) => e.message)).toEqual([expect.stringMatching(/geometry must be a Polygon or MultiPolygon, not nothing/), expect.stringMatching(/unknown code 990000/)]);
  });

  it('beacon import boundaries FILE.shp stores them in a hall', async () => {
    const base = join(dir, 'counties');
    writeFileSync(`${base}.shp`, writeShp(twoCounties()));
    writeFileSync(
      `${base}.dbf`,
      writeDbf(
        fields,
        twoCounties().map((r) => r.attrs),
        gbk,
      ),
    );
    writeFileSync(`${base}.prj`, WGS84_PRJ);
    const out: string[] = [];
    const err: string[] = [];
    const sink = (a: string[]) => ({ write: (s: string) => (a.push(s), true) }) as unknown as NodeJS.WritableStream;
    const code = await runImport('boundaries', `${base}.shp`, { dataDir: join(dir, 'hall') }, sink(out), sink(err));
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/2 boundaries imported, 0 refused/);
    writeFileSync(`${base}.prj`, UTM51_PRJ);
    const err2: string[] = [];
    expect(await runImport('boundaries', `${base}.shp`, { dataDir: join(dir, 'hall') }, sink([]), sink(err2))).toBe(1);
    expect(err2.join('')).toMatch(/projected/);
  });
});
