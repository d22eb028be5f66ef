// The tile cache and its planner, against a tile server the test runs on loopback.
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { latToY, lonToX, planTiles, tileUrl } from '../../common/tiles.ts';
import { Prefetch } from '../../main/core/tiles/prefetch.ts';
import { tileKind } from '../../native/tiles/mbtiles.ts';
import { TileService } from '../../main/core/tiles/service.ts';
import { makeTile, tileColour, TileServer } from '../helpers/tileserver.ts';
import { tempDir } from '../helpers/tmp.ts';

const ZHEJIANG = { west: 118, south: 27, east: 123, north: 31.2 };
const pixel = (png: Buffer, x: number, y: number) => {
  const p = PNG.sync.read(png);
  const i = (y * p.width + x) * 4;
  return [p.data[i], p.data[i + 1], p.data[i + 2]];
};

describe('prefetch planner', () => {
  it('counts the tiles of a box and zoom range as worked out by hand', () => {
    // z2: rows are 85.05-66.51 N, 66.51-0 N, 0-66.51 S, 66.51-85.05 S; lon 0..90 E is column 2.
    expect(planTiles({ west: 0, south: 0.0001, east: 89.99, north: 66.5 }, 2, 2).total).toBe(1);
    expect(planTiles({ west: 0, south: 0.0001, east: 89.99, north: 70 }, 2, 2).total).toBe(2);
    expect(planTiles({ west: 0, south: -10, east: 100, north: 70 }, 2, 2).total).toBe(2 * 3);
    // Zhejiang, 118-123 E, 27-31.2 N: z8 columns 211-215, rows 104-108 = 25 tiles; z9 8 x 8 = 64;
    // z10 columns 847-861 and rows 418-432 = 15 x 15 = 225.
    expect(lonToX(118, 8)).toBe(211);
    expect(lonToX(123, 8)).toBe(215);
    expect(latToY(31.2, 8)).toBe(104);
    expect(latToY(27, 8)).toBe(108);
    expect(planTiles(ZHEJIANG, 8, 8).total).toBe(25);
    expect(planTiles(ZHEJIANG, 10, 10).total).toBe(225);
    expect(planTiles(ZHEJIANG, 8, 10).total).toBe(25 + 64 + 225);
    expect(planTiles({ west: -180, south: -85, east: 180, north: 85 }, 0, 0).total).toBe(1);
    expect(() => planTiles({ west: 123, south: 27, east: 118, north: 31 }, 8, 8)).toThrow(/west < east/);
    expect(() => planTiles(ZHEJIANG, 9, 8)).toThrow(/zoom range/);
    expect(tileUrl('https://t{s}.tianditu.gov.cn/DataServer?T=img_w&x={x}&y={y}&l={z}&tk={k}', { z: 8, x: 211, y: 104 }, { subdomains: ['0', '1'], key: 'k&1' })).toBe(
      'https://t1.tianditu.gov.cn/DataServer?T=img_w&x=211&y=104&l=8&tk=k%261',
    );
    expect(tileUrl('http://gis/{z}/{x}/{-y}.png', { z: 3, x: 1, y: 2 })).toBe('http://gis/3/1/5.png');
    // WMTS KVP on a Web Mercator matrix set (Tianditu's w): matrix = zoom, column = x, row = y
    expect(
      tileUrl(
        'http://t{s}.tianditu.gov.cn/img_w/wmts?REQUEST=GetTile&TILEMATRIXSET=w&TILEMATRIX={TileMatrix}&TILEROW={TileRow}&TILECOL={TileCol}&tk={k}',
        { z: 8, x: 214, y: 107 },
        { subdomains: ['0'], key: 'k' },
      ),
    ).toBe('http://t0.tianditu.gov.cn/img_w/wmts?REQUEST=GetTile&TILEMATRIXSET=w&TILEMATRIX=8&TILEROW=107&TILECOL=214&tk=k');
  });
});

describe('tile cache', () => {
  const dir = tempDir();
  const upstream = new TileServer();
  let online = true;
  const svc = new TileService({ dir: join(dir, 'tiles'), online: () => online, timeoutMs: 2000 });
  afterAll(async () => {
    svc.close();
    await upstream.stop();
  });

  it('fetches once then answers from the cache; offline it answers what it has and cuts a coarser tile for the rest', async () => {
    await upstream.start();
    svc.addSource({ id: 'test', name: 'test', url: upstream.template, format: 'png', maxZoom: 12 });
    const a = await svc.tile('test', { z: 5, x: 26, y: 13 });
    expect(a.kind).toBe('fetched');
    const b = await svc.tile('test', { z: 5, x: 26, y: 13 });
    expect(b.kind).toBe('hit');
    expect(upstream.requests).toBe(1);
    // The source goes away (the WAN is down): the cache answers, without waiting on a fetch.
    await upstream.stop();
    online = false;
    const t0 = performance.now();
    expect((await svc.tile('test', { z: 5, x: 26, y: 13 })).kind).toBe('hit');
    // A child never fetched: its quarter of the parent, scaled up. Child (6, 53, 26) is the NE
    // quarter of (5, 26, 13): every pixel has the parent's NE colour.
    const c = await svc.tile('test', { z: 6, x: 53, y: 26 });
    expect(performance.now() - t0).toBeLessThan(500);
    expect(c).toMatchObject({ kind: 'coarser', from: 5 });
    const ne = tileColour(5, 26, 13, 1);
    const data = (c as { data: Buffer }).data;
    for (const [x, y] of [
      [0, 0],
      [128, 128],
      [255, 255],
      [10, 240],
    ] as const)
      expect(pixel(data, x, y)).toEqual(ne);
    // Two levels down, the SW quarter of that NE quarter: (7, 106, 53) is still NE of the z5 tile.
    expect(pixel(((await svc.tile('test', { z: 7, x: 106, y: 53 })) as { data: Buffer }).data, 5, 5)).toEqual(ne);
    // Nothing cached anywhere above: missing (a 404 for the display).
    expect((await svc.tile('test', { z: 6, x: 0, y: 0 })).kind).toBe('missing');
    // Once the source is back, the real tile is fetched: the stand-in was never cached.
    online = true;
    await upstream.start(upstream.port);
    const real = await svc.tile('test', { z: 6, x: 53, y: 26 });
    expect(real.kind).toBe('fetched');
    expect(pixel((real as { data: Buffer }).data, 200, 50)).toEqual(tileColour(6, 53, 26, 1));
  });

  it('never caches what is not an image, and refuses tiles that do not exist', async () => {
    upstream.junk = true;
    const before = svc.counters.upstreamErrors;
    expect((await svc.tile('test', { z: 9, x: 1, y: 1 })).kind).toBe('missing');
    expect(svc.counters.upstreamErrors).toBe(before + 1);
    expect(svc.source('test')!.cache.has(9, 1, 1)).toBe(false);
    upstream.junk = false;
    expect((await svc.tile('test', { z: 3, x: 8, y: 0 })).kind).toBe('missing'); // x beyond 2^3
    expect((await svc.tile('nope', { z: 3, x: 1, y: 1 })).kind).toBe('missing');
    expect(() => svc.addSource({ id: 'Bad Id', name: 'x', url: 'not a url', format: 'gif' })).toThrow();
  });

  it('evicts the least recently used unpinned tiles past the size limit, never pinned ones', async () => {
    const cache = svc.source('test')!.cache;
    upstream.noise = true; // incompressible tiles, ~200 KB each
    for (let x = 0; x < 8; x++) await svc.tile('test', { z: 4, x, y: 3 });
    upstream.noise = false;
    expect(cache.pin(4, 0, 3)).toBe(true); // the oldest, but pinned
    await svc.tile('test', { z: 4, x: 7, y: 3 }); // used most recently
    const before = cache.stats();
    const evicted = cache.evict(1024 * 1024);
    expect(evicted).toBeGreaterThan(0);
    const after = cache.stats();
    expect(after.tiles).toBe(before.tiles - evicted);
    expect(cache.has(4, 0, 3)).toBe(true); // pinned stays
    expect(cache.has(4, 7, 3)).toBe(true); // recently used stays
    expect(cache.has(4, 1, 3)).toBe(false); // least recently used went
  });

  it('prepares an area for offline: rate-limited, pausable, pinned, with a final count', async () => {
    const progress: string[] = [];
    const bbox = { west: 120, south: 28, east: 122, north: 30 };
    const plan = planTiles(bbox, 6, 8);
    const job = new Prefetch(svc, 'test', bbox, 6, 8, { rate: 40, onProgress: (p) => progress.push(`${p.state}:${p.done}`) });
    const t0 = performance.now();
    const run = job.run();
    await new Promise((r) => setTimeout(r, 100));
    job.pause();
    const atPause = job.progress.done;
    await new Promise((r) => setTimeout(r, 300));
    expect(job.progress.done - atPause).toBeLessThanOrEqual(4); // only what was in flight
    job.resume();
    const r = await run;
    const secs = (performance.now() - t0) / 1000;
    expect(r).toMatchObject({ state: 'done', total: plan.total, done: plan.total, failed: 0 });
    expect(r.fetched + r.cached).toBe(plan.total);
    expect(secs).toBeGreaterThanOrEqual((plan.total - 4) / 40); // the rate held
    expect(progress).toContain('paused:' + atPause);
    // Again: everything is cached now, pinned, nothing fetched.
    const again = await new Prefetch(svc, 'test', bbox, 6, 8, { rate: 1000 }).run();
    expect(again).toMatchObject({ fetched: 0, cached: plan.total });
    expect(svc.source('test')!.cache.stats().pinned).toBeGreaterThanOrEqual(plan.total);
    expect(() => new Prefetch(svc, 'test', { west: -180, south: -85, east: 180, north: 85 }, 0, 12)).toThrow(/too many/);
  });

  it('imports an existing .mbtiles file, and refuses a file that is not one', () => {
    const file = join(dir, 'area.mbtiles');
    const db = new Database(file);
    db.exec('CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)');
    // MBTiles rows count from the south: XYZ (3, 6, 3) is TMS row 8 - 1 - 3 = 4.
    db.prepare('INSERT INTO tiles VALUES (3, 6, 4, ?)').run(makeTile(3, 6, 3));
    db.close();
    const cache = svc.source('test')!.cache;
    expect(cache.importFile(file)).toBe(1);
    expect(cache.has(3, 6, 3)).toBe(true);
    const junk = join(dir, 'junk.mbtiles');
    writeFileSync(junk, 'not sqlite at all');
    expect(() => cache.importFile(junk)).toThrow();
    const empty = join(dir, 'empty.sqlite');
    new Database(empty).close();
    expect(() => cache.importFile(empty)).toThrow(/not an MBTiles file/);
  });

  it("refuses a vector MBTiles file for a PNG source by name, and writes nothing (#19 point 7; node-mbtiles' own fixture)", () => {
    // tests/fixtures/mbtiles/vector_deflate.mbtiles: mapbox/node-mbtiles' test fixture (BSD), vector
    // tiles stored zlib-deflated, with no metadata.format: only the bodies say what it is.
    const vector = fileURLToPath(new URL('../fixtures/mbtiles/vector_deflate.mbtiles', import.meta.url));
    const cache = svc.source('test')!.cache;
    const before = cache.stats();
    expect(() => cache.importFile(vector, Date.now(), 'png')).toThrow(/tile 0\/0\/0 is pbf \(zlib\) \(no metadata.format\); the source is png: nothing imported/);
    expect(cache.stats()).toEqual(before);
    // a file that says what it holds is refused by its metadata before its bodies are read
    const declared = join(dir, 'declared.mbtiles');
    const db = new Database(declared);
    db.exec(
      "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB); CREATE TABLE metadata (name TEXT, value TEXT); INSERT INTO metadata VALUES ('format', 'pbf')",
    );
    db.prepare('INSERT INTO tiles VALUES (0, 0, 0, ?)').run(makeTile(0, 0, 0));
    db.close();
    expect(() => cache.importFile(declared, Date.now(), 'png')).toThrow(/declares pbf tiles \(metadata.format\); the source is png/);
    const first = new Database(vector, { readonly: true });
    expect(tileKind(first.prepare('SELECT tile_data FROM tiles LIMIT 1').pluck().get() as Buffer)).toBe('pbf (zlib)');
    first.close();
    expect(tileKind(makeTile(0, 0, 0))).toBe('png');
  });
});
