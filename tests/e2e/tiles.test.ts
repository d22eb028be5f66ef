// The globe from the hall's tile cache, in Debian's Chromium with every non-loopback request blocked:
// an online source (a tile server this test runs) draws over the bundled imagery; with the source
// stopped, a fresh display still draws it, from the cache.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Place } from '../../common/domain.ts';
import { planTiles } from '../../common/tiles.ts';
import { placeArea } from '../../main/core/tiles/desk.ts';
import { zhejiangScenario } from '../../main/core/scenario/seed.ts';
import { HallCore } from '../../main/core/hall.ts';
import { launch, offlineContext } from '../helpers/browser.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { TileServer } from '../helpers/tileserver.ts';
import { mountain, TerrainServer } from '../helpers/terrainserver.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAGENTA: [number, number, number] = [230, 0, 200];
function beacon(args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['main/cli.ts', ...args], { cwd: ROOT });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (status) => resolve({ status, out }));
  });
}
async function magentaShare(page: Page): Promise<number> {
  await page.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = 'none')));
  await page.waitForTimeout(800);
  const png = PNG.sync.read(await page.locator('[data-test="globe"]').screenshot());
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) if (Math.abs(png.data[i]! - MAGENTA[0]) + Math.abs(png.data[i + 1]! - MAGENTA[1]) + Math.abs(png.data[i + 2]! - MAGENTA[2]) < 40) n++;
  return n / (png.width * png.height);
}

describe('the globe from the tile cache', () => {
  let server: Served;
  let browser: Browser;
  const upstream = new TileServer();
  const data = mkdtempSync(join(tmpdir(), 'beacon-tiles-e2e-'));

  beforeAll(async () => {
    await (await HallCore.start({ dataDir: data })).dispose();
    upstream.solid = MAGENTA;
    await upstream.start();
    const r = await beacon(['tiles', 'add-source', '--id', 'gis', '--name', '省厅影像', '--url', upstream.template, '--max-zoom', '12', '--data', data]);
    if (r.status !== 0) throw new Error(r.out);
    server = await serve(['--data', data, '--port', '0', '--allow-outbound', '127.0.0.1']);
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await upstream.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it('draws an online source through the hall, and the same from the cache once the source is gone', async () => {
    const url = `${server.url}/?role=globe&msaa=1&base=gis`;
    const a = await offlineContext(browser, { width: 640, height: 420 });
    await server.trust(a.context);
    try {
      const page = await a.context.newPage();
      await page.goto(url);
      await page.locator('[data-test="globe"][data-tiles-loaded="true"][data-base="gis"]').waitFor({ timeout: 90_000 });
      expect(await page.locator('[data-test="base-layer"] option').allTextContents()).toContain('省厅影像');
      const online = await magentaShare(page);
      expect(online, 'the source covers the globe').toBeGreaterThan(0.3);
      expect(upstream.requests).toBeGreaterThan(0);
      expect(a.blocked).toEqual([]);
      expect(a.problems).toEqual([]);
    } finally {
      await a.context.close();
    }
    await upstream.stop();
    const seen = upstream.requests;
    // A new display (no browser cache), the source unreachable: the hall answers from its cache.
    const b = await offlineContext(browser, { width: 640, height: 420 });
    await server.trust(b.context);
    try {
      const page = await b.context.newPage();
      await page.goto(url);
      await page.locator('[data-test="globe"][data-tiles-loaded="true"][data-base="gis"]').waitFor({ timeout: 90_000 });
      const offline = await magentaShare(page);
      expect(offline, 'the same picture from the cache').toBeGreaterThan(0.3);
      expect(upstream.requests).toBe(seen);
      const health = (await (await fetch(`${server.url}/api/health`, { headers: { authorization: `Bearer ${server.token}` } })).json()) as { tiles: { hits: number } };
      expect(health.tiles.hits).toBeGreaterThan(0);
      // Back to the bundled imagery: the magenta goes.
      await page.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = '')));
      await page.locator('[data-test="base-layer"]').selectOption('');
      await page.locator('[data-test="globe"][data-base="natural-earth"]').waitFor();
      expect(await magentaShare(page)).toBeLessThan(0.01);
      expect(b.blocked).toEqual([]);
      expect(b.problems).toEqual([]);
    } finally {
      await b.context.close();
    }
  }, 240_000);

  it('terrain: relief from a quantized-mesh source through the hall, teams clamped to it, and the same from the cache with the source gone', async () => {
    // A 3,000 m mountain west of Hangzhou, from a terrain server this test runs.
    const dem = new TerrainServer(mountain(119.5, 29.9, 3000, 12));
    await dem.start();
    const hub = await server.client('admin');
    const duty = await server.client('duty');
    const probe = <T>(page: Page, fn: string, ...args: unknown[]) =>
      page.evaluate(([f, a]) => (window as unknown as { beaconProbe: Record<string, (...x: unknown[]) => unknown> }).beaconProbe[f as string]!(...(a as unknown[])), [fn, args] as const) as Promise<T>;
    const team = 'fire-rescue-330100-03';
    try {
      await expect.poll(() => hub.state, { timeout: 10_000 }).toBe('open');
      await hub.command('tiles.source.put', { source: { id: 'dem', name: '省厅地形', url: dem.template, format: 'quantized-mesh', minZoom: 0, maxZoom: 12, maxCacheMB: 64 } });
      await duty.command('unit.move', { id: team, lat: 29.9, lon: 119.5 }); // on the summit, no altitude: a team on foot
      const url = `${server.url}/?role=globe&msaa=1&probe=1&terrain=dem&view=119.5,29.75,60000`;
      const look = async (label: string) => {
        const { context, blocked, problems } = await offlineContext(browser, { width: 640, height: 420 });
        await server.trust(context);
        try {
          const page = await context.newPage();
          await page.goto(url);
          await page.locator('[data-test="globe"][data-terrain="dem"]').waitFor({ timeout: 60_000 });
          await page.locator('[data-test="globe"][data-tiles-loaded="true"]').waitFor({ timeout: 90_000 });
          await expect.poll(() => probe<number | undefined>(page, 'terrainHeight', 119.5, 29.9), { timeout: 60_000, message: `${label}: relief under the summit` }).toBeGreaterThan(2500);
          expect(await probe<number>(page, 'terrainHeight', 119.5, 29.9)).toBeLessThan(3300);
          expect(Math.abs((await probe<number>(page, 'terrainHeight', 120.3, 29.9)) ?? 0), 'sea level 80 km away').toBeLessThan(50);
          // the team on the summit stands on the ground, not under it at sea level
          await expect.poll(() => probe<number | undefined>(page, 'unitHeight', team), { timeout: 30_000, message: `${label}: the team clamped` }).toBeGreaterThan(2500);
          expect(blocked).toEqual([]);
          expect(problems).toEqual([]);
        } finally {
          await context.close();
        }
      };
      await look('online');
      expect(dem.tileRequests).toBeGreaterThan(0);
      await dem.stop();
      const seen = dem.requests;
      await look('offline, from the cache');
      expect(dem.requests).toBe(seen);
      // Without terrain the same team sits on the ellipsoid.
      const { context } = await offlineContext(browser, { width: 640, height: 420 });
      await server.trust(context);
      try {
        const page = await context.newPage();
        await page.goto(url.replace('terrain=dem', 'terrain='));
        await page.locator('[data-test="globe"][data-tiles-loaded="true"]').waitFor({ timeout: 90_000 });
        await expect.poll(() => probe<number | undefined>(page, 'unitHeight', team), { timeout: 30_000 }).toBeLessThan(10);
        await expect(page.locator('[data-test="globe"]').getAttribute('data-terrain')).resolves.toBe('');
      } finally {
        await context.close();
      }
      await hub.command('tiles.source.remove', { id: 'dem' });
    } finally {
      hub.dispose();
      duty.dispose();
      await dem.stop();
    }
  }, 300_000);

  it('the settings panel adds a source and prepares a county for offline: progress, pause, resume, the final count', async () => {
    const second = new TileServer();
    await second.start();
    const { context, blocked, problems } = await offlineContext(browser, { width: 960, height: 800 });
    await server.trust(context, 'admin');
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/?role=globe&msaa=1`);
      await page.locator('[data-test="open-tiles"]').click();
      await page.locator('[data-test="source-id"]').fill('city');
      await page.locator('[data-test="source-name"]').fill('市局影像');
      await page.locator('[data-test="source-url"]').fill(second.template);
      await page.locator('[data-test="source-max-zoom"]').fill('12');
      await page.locator('[data-test="source-add"]').click();
      await page.locator('[data-test="tile-sources"] li[data-source="city"]').waitFor({ timeout: 15_000 });
      await expect.poll(() => page.locator('[data-test="base-layer"] option').allTextContents(), { timeout: 15_000 }).toContain('市局影像');
      // a bad template is refused with the reason, and nothing is added
      await page.locator('[data-test="source-id"]').fill('bad');
      await page.locator('[data-test="source-url"]').fill('http://127.0.0.1:1/tiles.png');
      await page.locator('[data-test="source-add"]').click();
      await expect.poll(() => page.locator('[data-test="tiles-error"]').textContent(), { timeout: 15_000 }).toMatch(/\{z\}/);
      await expect(page.locator('[data-test="tile-sources"] li[data-source="bad"]').count()).resolves.toBe(0);

      // Prepare Wenling (331081), zoom 8-11, at 10 tiles a second.
      const wenling = zhejiangScenario(0)
        .map((e) => (e.payload as { place?: Place }).place)
        .find((p) => p?.code === '331081')!;
      const expected = planTiles(placeArea(wenling), 8, 11).total; // no boundary imported: the seat with a margin
      await page.locator('[data-test="prefetch-source"]').selectOption('city');
      await page.locator('[data-test="prefetch-area"]').selectOption('331081');
      await page.locator('[data-test="prefetch-min"]').fill('8');
      await page.locator('[data-test="prefetch-max"]').fill('11');
      await page.locator('[data-test="prefetch-rate"]').fill('10');
      // A box typed in degrees: its tile count before anything is fetched; a malformed one is refused.
      await page.locator('[data-test="prefetch-area"]').selectOption('box');
      await page.locator('[data-test="prefetch-box"]').fill('121.2, 28.2, 121.5, 28.5');
      const boxTiles = planTiles({ west: 121.2, south: 28.2, east: 121.5, north: 28.5 }, 8, 11).total;
      await expect.poll(() => page.locator('[data-test="prefetch-planned"]').textContent(), { timeout: 10_000 }).toBe(`约 ${boxTiles} 块瓦片`);
      await page.locator('[data-test="prefetch-box"]').fill('121.5, 28.2, 121.2');
      await page.locator('[data-test="prefetch-start"]').click();
      await expect.poll(() => page.locator('[data-test="tiles-error"]').textContent(), { timeout: 10_000 }).toMatch(/西,南,东,北/);
      expect(await page.locator('[data-test="prefetch-jobs"] li').count()).toBe(0);
      await page.locator('[data-test="prefetch-area"]').selectOption('331081');
      await page.locator('[data-test="prefetch-start"]').click();
      const job = page.locator('[data-test="prefetch-jobs"] li').first();
      await expect.poll(() => job.getAttribute('data-state'), { timeout: 15_000 }).toBe('running');
      await job.locator('[data-test="job-pause"]').click();
      await expect.poll(() => job.getAttribute('data-state'), { timeout: 15_000 }).toBe('paused');
      await expect(job.locator('[data-test="job-state"]').textContent()).resolves.toBe('已暂停');
      await job.locator('[data-test="job-resume"]').click();
      await expect.poll(() => job.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      const count = await job.locator('[data-test="job-count"]').textContent();
      expect(count).toContain(`${expected} / ${expected} (100%)`);
      expect(count).toContain(`新取 ${second.requests}，已有 0，失败 0`);
      expect(second.requests).toBeGreaterThan(10);
      expect(await job.locator('progress').evaluate((e) => (e as HTMLProgressElement).value)).toBe(expected);
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      await second.stop();
    }
  }, 180_000);
});
