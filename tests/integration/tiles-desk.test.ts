// Map sources and "prepare for offline" by command, as the globe's settings panel gives them: a
// real hall, a real tile server (XYZ and WMTS) on loopback, the real cache.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrefetchJob, TileLayer } from '../../common/domain.ts';
import { planTiles } from '../../common/tiles.ts';
import { HallCore } from '../../main/core/hall.ts';
import { portClient } from '../helpers/port-client.ts';
import { TileServer } from '../helpers/tileserver.ts';
import { mountain, TerrainServer } from '../helpers/terrainserver.ts';
import { tileRoute } from '../../main/core/tiles/route.ts';
import { looksLikeTerrain } from '../../main/core/tiles/service.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

describe('map sources and offline preparation by command', () => {
  const dir = tempDir();
  const upstream = new TileServer();
  let core: HallCore;
  /** What displays hold now (the hub's pending tick sent first). */
  const items = (topic: 'tiles' | 'prefetch') => {
    core.hub.flush();
    return core.hub.items(topic);
  };
  const job = (id: string) => items('prefetch').find((j) => (j as PrefetchJob).id === id) as PrefetchJob | undefined;

  beforeAll(async () => {
    await upstream.start();
    core = await HallCore.start({ dataDir: join(dir, 'hall'), hub: { tickMs: 5 }, reach: { allowOutbound: ['127.0.0.1'] } });
  });
  afterAll(async () => {
    await core?.dispose();
    await upstream.stop();
  });

  it('adds sources (XYZ and WMTS), keeps URL and key from displays, refuses bad ones, and remembers them across a restart', async () => {
    const c = portClient(core, 'window:globe', '值班员');
    try {
      expect(await c.cmd('tiles.source.put', { source: { id: 'gis', name: '省厅影像', url: upstream.template, format: 'png', maxZoom: 12, maxCacheMB: 64 } })).toEqual({ id: 'gis', replaced: false });
      await c.cmd('tiles.source.put', { source: { id: 'tdt', name: '天地图 WMTS', url: upstream.wmtsTemplate, key: 'secret-tk', format: 'png', maxCacheMB: 64 } });
      const layers = items('tiles') as TileLayer[];
      expect(layers.map((l) => l.id).sort()).toEqual(['gis', 'tdt']);
      expect(JSON.stringify(layers)).not.toMatch(/127\.0\.0\.1|secret-tk/); // displays never see where or how
      // a WMTS source is fetched with its matrix, row and column
      const before = upstream.wmtsRequests;
      expect((await core.desks.tiles.service.tile('tdt', { z: 8, x: 214, y: 107 })).kind).toBe('fetched');
      expect(upstream.wmtsRequests).toBe(before + 1);
      // refused, with the reason
      expect((await c.fail('tiles.source.put', { source: { id: 'x', name: 'x', url: 'http://h/tiles.png', format: 'png', maxCacheMB: 1 } })).message).toMatch(/must contain \{z\}/);
      expect((await c.fail('tiles.source.put', { source: { id: 'x', name: 'x', url: 'file:///etc/{z}/{x}/{y}', format: 'png', maxCacheMB: 1 } })).message).toMatch(/http/);
      expect((await c.fail('tiles.source.put', { source: { id: 'Bad Id', name: 'x', url: upstream.template, format: 'png', maxCacheMB: 1 } })).code).toBe('invalid_args');
      expect((await c.fail('tiles.source.remove', { id: 'nope' })).code).toBe('not_found');
      const file = JSON.parse(readFileSync(join(dir, 'hall', 'tiles', 'sources.json'), 'utf8')) as { id: string; key?: string }[];
      expect(file.map((s) => s.id).sort()).toEqual(['gis', 'tdt']);
      expect(file.find((s) => s.id === 'tdt')!.key).toBe('secret-tk');
    } finally {
      c.close();
    }
    await core.dispose();
    core = await HallCore.start({ dataDir: join(dir, 'hall'), hub: { tickMs: 5 }, reach: { allowOutbound: ['127.0.0.1'] } });
    expect((items('tiles') as TileLayer[]).map((l) => l.id).sort()).toEqual(['gis', 'tdt']);
  });

  it('prepares an area with progress, pause and resume, and a final count; again, nothing is fetched twice', async () => {
    const c = portClient(core, 'window:globe', '值班员');
    try {
      const bbox = { west: 120.0, south: 30.1, east: 120.4, north: 30.4 };
      const expected = planTiles(bbox, 8, 11).total;
      const started = upstream.requests;
      const r = await c.cmd<{ id: string; total: number }>('tiles.prefetch', { source: 'gis', bbox, minZoom: 8, maxZoom: 11, rate: 8 });
      expect(r.total).toBe(expected);
      await until('some progress', () => (job(r.id)?.done ?? 0) >= 10, 10_000);
      await c.cmd('tiles.prefetch.control', { id: r.id, action: 'pause' });
      await until('paused', () => job(r.id)?.state === 'paused');
      await new Promise((res) => setTimeout(res, 600)); // in-flight tiles finish
      const held = job(r.id)!.done;
      await new Promise((res) => setTimeout(res, 1000));
      expect(job(r.id)!.done, 'nothing fetched while paused').toBe(held);
      expect(held).toBeLessThan(expected);
      await c.cmd('tiles.prefetch.control', { id: r.id, action: 'resume' });
      await until('done', () => job(r.id)?.state === 'done', 30_000);
      const done = job(r.id)!;
      expect(done).toMatchObject({ total: expected, done: expected, failed: 0, by: '值班员', minZoom: 8, maxZoom: 11 });
      expect(done.fetched + done.cached).toBe(expected);
      expect(done.endedAt).not.toBeNull();
      expect(upstream.requests - started).toBe(done.fetched);
      // The same area again: everything is already there (pinned, not fetched).
      const again = await c.cmd<{ id: string }>('tiles.prefetch', { source: 'gis', bbox, minZoom: 8, maxZoom: 11, rate: 200 });
      await until('again done', () => job(again.id)?.state === 'done', 15_000);
      expect(job(again.id)).toMatchObject({ cached: expected, fetched: 0 });
      // A county by its code: its seat with a margin (no boundary imported here)
      const county = await c.cmd<{ id: string; total: number }>('tiles.prefetch', { source: 'gis', place: '331081', minZoom: 6, maxZoom: 7, rate: 200 });
      expect(job(county.id)!.area).toMatch(/温岭市 331081/);
      await until('county done', () => job(county.id)?.state === 'done', 15_000);
      // refused: an unknown source or place, both a place and a box, a plan too big
      expect((await c.fail('tiles.prefetch', { source: 'nope', bbox, minZoom: 1, maxZoom: 2 })).code).toBe('not_found');
      expect((await c.fail('tiles.prefetch', { source: 'gis', place: '990000', minZoom: 1, maxZoom: 2 })).code).toBe('not_found');
      expect((await c.fail('tiles.prefetch', { source: 'gis', place: '331081', bbox, minZoom: 1, maxZoom: 2 })).code).toBe('invalid_args');
      expect((await c.fail('tiles.prefetch', { source: 'gis', bbox: { west: -179, south: -80, east: 179, north: 80 }, minZoom: 0, maxZoom: 12 })).message).toMatch(/too many/);
      // #18 point 6: at most 4 jobs at once (each fetching from one server at its rate)
      const slow = { source: 'gis', bbox: { west: 121, south: 28, east: 122, north: 29 }, minZoom: 12, maxZoom: 13, rate: 0.5 };
      const jobs = [];
      for (let i = 0; i < 4; i++) jobs.push((await c.cmd<{ id: string }>('tiles.prefetch', slow)).id);
      expect(await c.fail('tiles.prefetch', slow)).toMatchObject({ code: 'too_large', message: expect.stringMatching(/at most 4 at once/) });
      for (const id of jobs) await c.cmd('tiles.prefetch.control', { id, action: 'cancel' });
      await c.cmd('tiles.prefetch', { ...slow, maxZoom: 12 }).then((r) => c.cmd('tiles.prefetch.control', { id: (r as { id: string }).id, action: 'cancel' }));
    } finally {
      c.close();
    }
  });

  it('keeps at most 32 sources (each holds a cache file open); sources.json stays whole across a restart', async () => {
    const c = portClient(core, 'window:globe', '管理员');
    try {
      const have = (items('tiles') as TileLayer[]).length;
      for (let i = have; i < 32; i++) await c.cmd('tiles.source.put', { source: { id: `s${i}`, name: `s${i}`, url: upstream.template, format: 'png', minZoom: 0, maxZoom: 10 } });
      expect(await c.fail('tiles.source.put', { source: { id: 's99', name: 'x', url: upstream.template, format: 'png', minZoom: 0, maxZoom: 10 } })).toMatchObject({ code: 'too_large' });
      // a source at an address not on the outbound allowlist is refused before anything is written
      expect((await c.fail('tiles.source.put', { source: { id: 'lan', name: 'x', url: 'http://10.0.0.9/{z}/{x}/{y}.png', format: 'png', minZoom: 0, maxZoom: 10 } })).code).toBe('forbidden');
      await core.dispose();
      core = await HallCore.start({ dataDir: join(dir, 'hall'), hub: { tickMs: 5 }, reach: { allowOutbound: ['127.0.0.1'] } });
      expect((items('tiles') as TileLayer[]).length).toBe(32);
      const c2 = portClient(core, 'window:globe', '管理员');
      for (let i = have; i < 32; i++) await c2.cmd('tiles.source.remove', { id: `s${i}` });
      c2.close();
    } finally {
      c.close();
    }
  });

  it('a terrain source: layer.json through the hall (pointed at its route, kept for offline starts), meshes checked and cached', async () => {
    const dem = new TerrainServer(mountain(119.5, 29.5, 3000, 15));
    await dem.start();
    const c = portClient(core, 'window:globe', '值班员');
    try {
      await c.cmd('tiles.source.put', { source: { id: 'dem', name: '省厅地形', url: dem.template, format: 'quantized-mesh', maxZoom: 12, maxCacheMB: 64 } });
      const layer = JSON.parse((await core.desks.tiles.service.layerJson('dem'))!) as { tiles: string[]; format: string; available: unknown[] };
      expect(layer).toMatchObject({ format: 'quantized-mesh-1.0', tiles: ['{z}/{x}/{y}.terrain'] });
      expect(layer.available.length).toBe(13);
      const route = await tileRoute(core.desks.tiles.service, '/tiles/dem/9/852/335.terrain');
      expect(route.status).toBe(200);
      expect(route.headers['content-type']).toBe('application/vnd.quantized-mesh');
      expect(looksLikeTerrain(route.body as Buffer)).toBe(true);
      // planned in the terrain's own tiling: 2×1 tiles at zoom 0
      const r = await c.cmd<{ id: string; total: number }>('tiles.prefetch', { source: 'dem', bbox: { west: 119, south: 29, east: 120, north: 30 }, minZoom: 0, maxZoom: 6, rate: 200 });
      expect(r.total).toBe(planTiles({ west: 119, south: 29, east: 120, north: 30 }, 0, 6, 'geographic').total);
      await until('terrain prepared', () => job(r.id)?.state === 'done', 15_000);
      expect(job(r.id)!.failed).toBe(0);
      // the server gone: layer.json and the tiles come from the cache
      await dem.stop();
      const seen = dem.requests;
      expect(JSON.parse((await core.desks.tiles.service.layerJson('dem'))!)).toMatchObject({ tiles: ['{z}/{x}/{y}.terrain'] });
      expect((await tileRoute(core.desks.tiles.service, '/tiles/dem/9/852/335.terrain')).status).toBe(200);
      expect(dem.requests).toBe(seen);
      // an image source has no layer.json; junk is not a mesh
      expect((await tileRoute(core.desks.tiles.service, '/tiles/gis/layer.json')).status).toBe(404);
      expect(looksLikeTerrain(Buffer.from('<html>please log in</html>'.repeat(10)))).toBe(false);
      await c.cmd('tiles.source.remove', { id: 'dem' });
    } finally {
      c.close();
      await dem.stop();
    }
  });

  it('removing a source stops its preparation and takes it off every display; its cache stays on disk', async () => {
    const c = portClient(core, 'window:globe', '值班员');
    try {
      const r = await c.cmd<{ id: string }>('tiles.prefetch', { source: 'tdt', bbox: { west: 119, south: 29, east: 121, north: 31 }, minZoom: 9, maxZoom: 12, rate: 5 });
      await c.cmd('tiles.source.remove', { id: 'tdt' });
      await until('cancelled', () => job(r.id)?.state === 'cancelled');
      expect((items('tiles') as TileLayer[]).map((l) => l.id)).toEqual(['gis']);
      expect(existsSync(join(dir, 'hall', 'tiles', 'tdt.mbtiles'))).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, 'hall', 'tiles', 'sources.json'), 'utf8')).map((s: { id: string }) => s.id)).toEqual(['gis']);
    } finally {
      c.close();
    }
  });

  it('a damaged sources.json refuses changes by name rather than being overwritten', async () => {
    const file = join(dir, 'hall', 'tiles', 'sources.json');
    writeFileSync(file, '[{"id": "gis", ');
    const c = portClient(core, 'window:globe', '值班员');
    try {
      const e = await c.fail('tiles.source.put', { source: { id: 'osm', name: 'OSM', url: upstream.template, format: 'png', maxCacheMB: 8 } });
      expect(e.code).toBe('unavailable');
      expect(e.message).toMatch(/sources\.json is not JSON.*fix or remove it/);
      expect((await c.fail('tiles.source.remove', { id: 'gis' })).code).toBe('unavailable');
      expect(readFileSync(file, 'utf8')).toBe('[{"id": "gis", ');
      expect((items('tiles') as TileLayer[]).map((l) => l.id)).toEqual(['gis']); // nothing changed
    } finally {
      c.close();
    }
  });
});
