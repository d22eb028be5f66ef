// Typhoons in serve mode, in Debian's Chromium with every non-loopback request blocked: Lekima's
// track, a forecast, wind circles and the warning lines render; the shared slider moves the storm
// on two displays at once; the board ranks the threat and the duty officer accepts the levels.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubClient } from '../../renderer/hub/client.ts';
import { advisory } from '../helpers/advisory.ts';
import { launch, offlineContext } from '../helpers/browser.ts';
import { type Served, serve } from '../helpers/serve.ts';

const T12 = Date.UTC(2019, 7, 9, 12); // Lekima at 27.5 N 122.0 E, 940 hPa, the morning before landfall
// Over the East China Sea, far enough out to see both warning lines and the storm.
const VIEW = 'view=125,26,3600000';

function countNear(png: PNG, hex: string, tol = 40): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) if (Math.abs(png.data[i]! - r) + Math.abs(png.data[i + 1]! - g) + Math.abs(png.data[i + 2]! - b) <= tol) n++;
  return n;
}
function changed(a: PNG, b: PNG): number {
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) if (Math.abs(a.data[i]! - b.data[i]!) + Math.abs(a.data[i + 1]! - b.data[i + 1]!) + Math.abs(a.data[i + 2]! - b.data[i + 2]!) > 30) n++;
  return n;
}
const attr = (p: Page, name: string) => p.locator('[data-test="globe"]').getAttribute(`data-ty-${name}`);
async function shot(p: Page): Promise<PNG> {
  // Let a requested frame finish on software WebGL, then read the globe's pixels only.
  await p.waitForTimeout(1200);
  return PNG.sync.read(await p.locator('[data-test="globe"]').screenshot());
}

describe('typhoons in a real browser', () => {
  let server: Served;
  let browser: Browser;
  let hub: HubClient;
  let leader: HubClient;
  let admin: HubClient;
  const data = mkdtempSync(join(tmpdir(), 'beacon-ty-'));

  beforeAll(async () => {
    server = await serve(['--data', data, '--port', '0']);
    browser = await launch();
    hub = await server.client('duty');
    leader = await server.client('leader');
    admin = await server.client('admin');
  });
  afterAll(async () => {
    hub?.dispose();
    leader?.dispose();
    admin?.dispose();
    await browser?.close();
    await server?.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it('draws the track, forecasts, wind circles and warning lines, and the slider moves the storm on two displays', async () => {
    const { context, blocked, problems } = await offlineContext(browser, { width: 800, height: 520 });
    await server.trust(context, 'duty');
    try {
      const a = await context.newPage();
      const b = await context.newPage();
      for (const p of [a, b]) {
        await p.goto(`${server.url}/?role=globe&msaa=1&probe=1&${VIEW}`);
        await p.locator('[data-test="globe"][data-tiles-loaded="true"]').waitFor({ timeout: 90_000 });
        await expect.poll(() => attr(p, 'storm'), { timeout: 30_000 }).toBe('tc-2019-1909');
      }
      await hub.command('replay.set', { storm: 'tc-2019-1909', t: T12, playing: false });
      for (const p of [a, b]) {
        await expect.poll(() => attr(p, 't'), { timeout: 15_000 }).toBe(String(T12));
        await expect.poll(() => attr(p, 'centre')).toBe('27.5,122');
      }
      // The demo's CMA-style advisory current at 12 UTC: a forecast with a cone, force 7/10/12 circles.
      expect(await attr(a, 'forecasts')).toBe('1');
      expect(await attr(a, 'cones')).toBe('1');
      expect(await attr(a, 'circles')).toBe('3');
      expect(Number(await attr(a, 'segments'))).toBe(26); // 27 fixes up to 12 UTC on the 9th

      // A second agency's advisory arrives: its forecast is drawn in its own colour on both displays.
      const jma = advisory('JMA', '2019-08-09T09:00:00Z', {
        storm: { number: '1909', year: 2019 },
        current: { time: '2019-08-09T09:00:00Z', lat: 27.3, lon: 122.2, pressure: 940, wind: 46 },
        forecast: [
          // A forecast well apart from CMA's (it turns south-west), so its colour is not hidden.
          { time: '2019-08-10T09:00:00Z', lat: 25.5, lon: 124.5, wind: 40 },
          { time: '2019-08-11T09:00:00Z', lat: 23.0, lon: 126.0, wind: 35 },
        ],
      });
      await a.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = 'none')));
      const before = await shot(a);
      await hub.command('typhoon.advisory', { advisory: jma });
      for (const p of [a, b]) await expect.poll(() => attr(p, 'forecasts'), { timeout: 15_000 }).toBe('2');
      const withJma = await shot(a);
      if (process.env.BEACON_SHOTS) await a.screenshot({ path: join(process.env.BEACON_SHOTS, 'typhoon.png') });
      expect(countNear(withJma, '#52c41a', 30) - countNear(before, '#52c41a', 30), "JMA's forecast track in its green").toBeGreaterThan(40);
      // The observed track in its grade colours: the severe-typhoon pink of 9 August.
      expect(countNear(withJma, '#f472b6', 30), 'STY segments of the track').toBeGreaterThan(15);

      // Warning lines: switched off, their pixels go.
      expect(countNear(withJma, '#ff6b35', 30), '24-hour line').toBeGreaterThan(80);
      expect(countNear(withJma, '#5b8cff', 30), '48-hour line').toBeGreaterThan(40);
      await a.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = '')));
      await a.locator('[data-test="warning-toggle"]').uncheck();
      await expect.poll(() => attr(a, 'warning')).toBe('off');
      await a.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = 'none')));
      const noLines = await shot(a);
      expect(countNear(noLines, '#ff6b35', 30)).toBeLessThan(countNear(withJma, '#ff6b35', 30) / 4);
      // Wind circles: switched off, a filled area around the storm changes.
      await a.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = '')));
      await a.locator('[data-test="circles-toggle"]').uncheck();
      await expect.poll(() => attr(a, 'circles-shown')).toBe('off');
      await a.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = 'none')));
      const noCircles = await shot(a);
      expect(changed(noLines, noCircles), 'the filled wind circles and cone').toBeGreaterThan(1500);
      await a.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = '')));

      // The slider on display A moves the storm on display B.
      const target = Date.UTC(2019, 7, 9, 18);
      await a.locator('[data-test="replay-slider"]').fill(String(target));
      for (const p of [a, b]) {
        await expect.poll(() => attr(p, 't'), { timeout: 15_000 }).toBe(String(target));
        await expect.poll(() => attr(p, 'centre')).toBe('28.3,121.4');
      }
      await expect.poll(() => b.locator('[data-test="replay-time"]').textContent()).toMatch(/8\/10 02:00/);
      // Play at six storm hours a second from display B; both displays advance; pause: both agree.
      await b.locator('[data-test="replay-speed"]').selectOption('21600');
      await b.locator('[data-test="replay-play"]').click();
      await expect.poll(async () => Number(await attr(a, 't')), { timeout: 15_000 }).toBeGreaterThan(target + 3 * 3600_000);
      await a.locator('[data-test="replay-play"]').click();
      await expect.poll(() => b.locator('[data-test="replay-play"]').textContent()).toBe('播放');
      // (A's own value settles when the hall's paused replay comes back to it: compare both, not A's first)
      await expect.poll(async () => [await attr(a, 't'), await attr(b, 't')].every((t, _, all) => t === all[0]), { timeout: 15_000 }).toBe(true);
      expect(await attr(b, 'centre')).toBe(await attr(a, 'centre'));

      // Hovering a fix shows its time, pressure and wind (fix 19: 12 UTC on 8 August, 915 hPa, 62 m/s).
      const at = await a.evaluate(() => (window as unknown as { beaconProbe: { fixOnScreen(i: number): { x: number; y: number } | null } }).beaconProbe.fixOnScreen(19));
      expect(at).not.toBeNull();
      await a.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = 'none')));
      const box = (await a.locator('[data-test="globe"]').boundingBox())!;
      await a.mouse.move(box.x + at!.x - 30, box.y + at!.y);
      await a.waitForTimeout(300);
      await a.mouse.move(box.x + at!.x, box.y + at!.y);
      await expect.poll(() => a.locator('[data-test="fix-tip"]').textContent(), { timeout: 15_000 }).toMatch(/8\/8 20:00 · 915 hPa · 62 m\/s · 超强台风/);

      await a.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = '')));

      // Landfall in the panel: Wenling, super typhoon.
      await a.locator('[data-test="replay-slider"]').fill(String(Date.UTC(2019, 7, 9, 15)));
      await expect.poll(() => a.locator('[data-test="landfall-observed"]').first().textContent(), { timeout: 15_000 }).toMatch(/温岭市.*超强台风/);
      await expect.poll(() => a.locator('[data-test="threat-city-1"] td').nth(1).textContent()).toBe('台州市');
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000);

  it('the board ranks the threat and the duty officer accepts the proposed levels', async () => {
    const { context, blocked, problems } = await offlineContext(browser, { width: 1280, height: 900 });
    await server.trust(context, 'leader');
    try {
      await hub.command('replay.set', { storm: 'tc-2019-1909', t: Date.UTC(2019, 7, 9, 15), playing: false });
      const board = await context.newPage();
      await board.goto(`${server.url}/?role=board`);
      await expect.poll(() => board.locator('[data-test="threat-city-1"] td').nth(1).textContent(), { timeout: 30_000 }).toBe('台州市');
      // The officer edits one proposed level before accepting: Wenling's "now" goes to red.
      const wenlingRow = board.locator('[data-test="risk-proposal"] tr', { hasText: '温岭市' });
      await wenlingRow.locator('select').first().selectOption('red');
      await board.locator('[data-test="accept-risk"]').click();
      await expect.poll(() => board.locator('[data-test="accept-result"]').textContent(), { timeout: 15_000 }).toMatch(/已采纳 \d+ 个县，确认人 带班领导乙/);
      await expect.poll(() => board.locator('[data-test="board-risks"]').textContent()).toMatch(/温岭市/);
      await expect.poll(() => board.locator('[data-test="board-risks"] .kv', { hasText: '温岭市' }).locator('.chip').first().textContent()).toBe('红');
      expect(await board.locator('[data-test="board-risks"] .dim').textContent()).toMatch(/带班领导乙/);
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the five-colour map: discs at county seats, and the horizon switcher changes their colours', async () => {
    const { context, blocked, problems } = await offlineContext(browser, { width: 800, height: 520 });
    await server.trust(context, 'duty'); // picking the storm moves the shared replay: a duty officer's
    try {
      // Every Taizhou county: red now, blue in 48 h.
      const places = await new Promise<{ code: string; kind: string }[]>((resolve) => {
        const off = hub.subscribe('places', () => {
          const items = [...hub.topic('places').values()] as { code: string; kind: string }[];
          if (items.length) {
            off();
            resolve(items);
          }
        });
      });
      const taizhou = places.filter((p) => p.kind === 'county' && p.code.startsWith('3310'));
      expect(taizhou.length).toBe(9);
      // Every other county clear (an earlier test accepted a typhoon proposal for them).
      const none = { now: 'none', h3: 'none', h6: 'none', h24: 'none', h48: 'none' } as const;
      const levels = (code: string) => (code.startsWith('3310') ? ({ now: 'red', h3: 'red', h6: 'orange', h24: 'yellow', h48: 'blue' } as const) : none);
      await leader.command('risk.set', { basis: 'manual', items: places.filter((p) => p.kind === 'county').map((p) => ({ code: p.code, levels: levels(p.code) })) });
      const page = await context.newPage();
      await page.goto(`${server.url}/?role=globe&msaa=1&view=121.15,28.65,260000`);
      await page.locator('[data-test="globe"][data-tiles-loaded="true"]').waitFor({ timeout: 90_000 });
      await expect.poll(() => page.locator('[data-test="globe"]').getAttribute('data-risk-shown'), { timeout: 15_000 }).not.toBe('0');
      const hide = () => page.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = 'none')));
      const showAgain = () => page.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = '')));
      const count = (png: PNG, pred: (r: number, g: number, b: number) => boolean) => {
        let n = 0;
        for (let i = 0; i < png.data.length; i += 4) if (pred(png.data[i]!, png.data[i + 1]!, png.data[i + 2]!)) n++;
        return n;
      };
      const red = (r: number, g: number, b: number) => r > 170 && g < 110 && b < 110;
      const blue = (r: number, g: number, b: number) => b > 170 && r < 90 && g > 90 && g < 170;
      // The replay may have left a storm on screen: hide the typhoon layer's colours from the count.
      await page.locator('[data-test="circles-toggle"]').uncheck();
      await page.locator('[data-test="storm-select"]').selectOption('');
      await hide();
      const now = await shot(page);
      if (process.env.BEACON_SHOTS) await page.screenshot({ path: join(process.env.BEACON_SHOTS, 'risk-now.png') });
      await showAgain();
      await page.locator('[data-test="horizon-h48"]').click();
      await expect.poll(() => page.locator('[data-test="globe"]').getAttribute('data-risk-horizon')).toBe('h48');
      await hide();
      const h48 = await shot(page);
      expect(count(now, red), 'red discs now').toBeGreaterThan(1500);
      expect(count(h48, red), 'no red in 48 h').toBeLessThan(count(now, red) / 10);
      expect(count(h48, blue) - count(now, blue), 'blue discs in 48 h').toBeGreaterThan(1500);
      // With the bureau's boundary for Wenling imported, Wenling is filled as its area, not a disc.
      await showAgain();
      await page.locator('[data-test="horizon-now"]').click();
      const ring = [
        [121.28, 28.27],
        [121.5, 28.27],
        [121.5, 28.47],
        [121.28, 28.47],
        [121.28, 28.27],
      ].flat();
      await admin.command('boundary.put', { boundary: { id: '331081', polygons: [[ring]], source: 'test', importedAt: Date.now() } });
      await expect.poll(() => page.locator('[data-test="globe"]').getAttribute('data-risk-polygons'), { timeout: 15_000 }).toBe('1');
      await hide();
      const withArea = await shot(page);
      expect(count(withArea, red) - count(now, red), 'the square is larger than the disc was').toBeGreaterThan(400);
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('an incident reported on the board shows on every globe and goes when closed', async () => {
    const { context, blocked, problems } = await offlineContext(browser, { width: 1280, height: 900 });
    await server.trust(context, 'duty');
    try {
      const globe = await context.newPage();
      await globe.goto(`${server.url}/?role=globe&msaa=1`);
      await globe.locator('[data-test="globe"][data-tiles-loaded="true"]').waitFor({ timeout: 90_000 });
      expect(await globe.locator('[data-test="globe"]').getAttribute('data-incidents')).toBe('0');
      const board = await context.newPage();
      await board.goto(`${server.url}/?role=board`);
      await board.locator('[data-test="incident-kind"]').selectOption('hazchem');
      await board.locator('[data-test="incident-severity"]').selectOption('II');
      await board.locator('[data-test="incident-county"]').selectOption({ label: '温岭市' });
      await board.locator('[data-test="incident-title"]').fill('化工园区储罐泄漏');
      await board.locator('[data-test="incident-report"]').click();
      await expect.poll(() => board.locator('[data-test="incident"]').first().textContent(), { timeout: 15_000 }).toMatch(/II\s*危化品事故\s*化工园区储罐泄漏\s*温岭市.*值班员甲/);
      await expect.poll(() => globe.locator('[data-test="globe"]').getAttribute('data-incidents'), { timeout: 15_000 }).toBe('1');
      await board.locator('[data-test="incident"] button').first().click();
      await expect.poll(() => globe.locator('[data-test="globe"]').getAttribute('data-incidents'), { timeout: 15_000 }).toBe('0');
      await expect.poll(() => board.locator('[data-test="incident"]').count()).toBe(0);
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('a CMA file and an advisory dropped on the globe are imported, bad lines named', async () => {
    const { context, blocked, problems } = await offlineContext(browser, { width: 1100, height: 700 });
    await server.trust(context, 'duty');
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/?role=globe&msaa=1`);
      await page.locator('[data-test="typhoon-panel"]').waitFor();
      // Connected and holding the typhoon list (a drop before that is refused: "not connected").
      await expect.poll(() => page.locator('[data-test="storm-select"] option').allTextContents(), { timeout: 30_000 }).toContain('1909 利奇马 (2019)');
      const drop = (name: string, text: string) =>
        page.evaluate(
          ([n, t]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([t!], n!, { type: 'text/plain' }));
            document.querySelector('.globe-role')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
          },
          [name, text],
        );
      const cma = [
        '66666 2004    2 0005 2004 0 6              Hagupit 20210501',
        '2020080312 2 230 1250  995      18',
        '2020080318 2 23X 1245  990      20',
        '66666 1909    1 0011 1909 0 6               Mitag 20200501',
        '2019093000 4 250 1240  965      35',
      ].join('\n');
      await drop('CH2020BST.txt', cma);
      await expect.poll(() => page.locator('[data-test="import-report"]').textContent(), { timeout: 15_000 }).toMatch(/导入 2 个台风，1 处问题/);
      const report = await page.locator('[data-test="import-report"]').textContent();
      expect(report).toMatch(/CH2020BST.txt:3: fields after the time must be whole numbers/);
      await expect.poll(() => page.locator('[data-test="storm-select"] option').allTextContents()).toContain('2004 Hagupit (2020)');

      const adv = advisory('KMA', new Date(Date.now() - 1800_000).toISOString());
      await drop('advisory.json', JSON.stringify([adv, { format: 'beacon.typhoon-advisory/1', agency: 'X' }]));
      await expect.poll(() => page.locator('[data-test="import-report"]').textContent(), { timeout: 15_000 }).toMatch(/导入 1 份预报，1 份被拒: .*advisory refused/);
      await expect.poll(() => page.locator('[data-test="storm-select"] option').allTextContents()).toContain('2614 演示 (2026)');
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
