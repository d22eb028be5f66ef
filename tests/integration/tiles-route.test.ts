// Tiles end to end as an operator uses them: add a source and prepare a county with the CLI, then
// serve mode answers tiles from the cache when the source is gone, a coarser cut where it has
// nothing at that zoom, and the real tile again once the source is back.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { latToY, lonToX } from '../../common/tiles.ts';
import { HallCore } from '../../main/core/hall.ts';
import { serve } from '../helpers/serve.ts';
import { TileServer } from '../helpers/tileserver.ts';
import { tempDir } from '../helpers/tmp.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Asynchronous: the tile server lives in this process and must keep answering while the CLI runs.
function beacon(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['main/cli.ts', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('tiles: prepare with the CLI, serve offline', () => {
  const dir = tempDir();
  const upstream = new TileServer();
  afterAll(() => upstream.stop());

  it('prefetches a county, then serves hit / coarser / missing / fetched as the source comes and goes', async () => {
    const data = join(dir, 'hall');
    await (await HallCore.start({ dataDir: data })).dispose(); // a seeded data directory
    await upstream.start();
    expect((await beacon(['tiles', 'add-source', '--id', 'Bad', '--url', 'x', '--data', data])).stderr).toMatch(/tile source refused/);
    expect((await beacon(['tiles', 'add-source', '--id', 'gis', '--name', '省厅GIS', '--url', upstream.template, '--max-zoom', '14', '--data', data])).status).toBe(0);
    const pre = await beacon(['tiles', 'prefetch', '--source', 'gis', '--place', '331081', '--zoom', '8-10', '--rate', '500', '--data', data]);
    expect(pre.stderr).toMatch(/\d+\/\d+ tiles \(100%\), 0 failed/);
    const m = /done: (\d+) tiles, (\d+) fetched, (\d+) already cached, 0 failed/.exec(pre.stdout);
    expect(m, pre.stdout + pre.stderr).not.toBeNull();
    expect(Number(m![1])).toBe(Number(m![2]));
    expect((await beacon(['tiles', 'stats', '--data', data])).stdout).toMatch(new RegExp(`gis: ${m![1]} tiles, [\\d.]+ MB, ${m![1]} pinned`));
    expect((await beacon(['tiles', 'prefetch', '--source', 'gis', '--zoom', '8', '--data', data])).stderr).toMatch(/--bbox W,S,E,N or --place/);

    const s = await serve(['--data', data, '--port', '0']);
    try {
      // Wenling's seat, 28.372 N 121.386 E.
      const at = (z: number) => `${z}/${lonToX(121.386, z)}/${latToY(28.372, z)}`;
      const fetch = (url: string) => globalThis.fetch(url, { headers: { authorization: `Bearer ${s.token}` } });
      const get = (path: string) => fetch(`${s.url}/tiles/gis/${path}`);
      let r = await get(at(10));
      expect(r.status).toBe(200);
      expect(r.headers.get('x-beacon-tile')).toBe('hit');
      expect(r.headers.get('content-type')).toBe('image/png');
      await upstream.stop();
      r = await get(at(12)); // never fetched, source gone: cut from the z10 tile
      expect(r.status).toBe(200);
      expect(r.headers.get('x-beacon-tile')).toBe('coarser; z=10');
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect((await get('12/0/0')).status).toBe(404); // nothing above it either
      expect((await get('99/0/0')).status).toBe(404); // no such zoom
      expect((await get('5/x/1')).status).toBe(400);
      expect((await fetch(`${s.url}/tiles/nope/1/0/0`)).status).toBe(404);
      await upstream.start(upstream.port);
      r = await get(at(12));
      expect(r.headers.get('x-beacon-tile')).toBe('fetched');
      const health = (await (await fetch(`${s.url}/api/health`)).json()) as { tiles: { hits: number; coarser: number; fetched: number } };
      expect(health.tiles).toMatchObject({ hits: 1, coarser: 1, fetched: 1 });
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});
