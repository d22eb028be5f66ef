// Serve mode end to end: `beacon serve` in a child process, Debian Chromium, no network but loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A data directory for one hall in this suite, removed when the suite ends. */
const linkDirs: string[] = [];
function tempLinkDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'beacon-e2e-link-'));
  linkDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of linkDirs) rmSync(d, { recursive: true, force: true });
});
import { COUNTIES } from '../../main/core/scenario/zhejiang-places.ts';
import { zhejiangScenario } from '../../main/core/scenario/seed.ts';
import { launch, offlineContext } from '../helpers/browser.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { type Served, serve } from '../helpers/serve.ts';

/** Pixels within `tol` of an sRGB colour. */
function countNear(png: PNG, [r, g, b]: [number, number, number], tol = 40): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (Math.abs(png.data[i]! - r) + Math.abs(png.data[i + 1]! - g) + Math.abs(png.data[i + 2]! - b) <= tol) n++;
  }
  return n;
}
function distinctColours(png: PNG): number {
  const s = new Set<number>();
  for (let i = 0; i < png.data.length; i += 16) s.add((png.data[i]! >> 3) | ((png.data[i + 1]! >> 3) << 5) | ((png.data[i + 2]! >> 3) << 10));
  return s.size;
}

describe('serve mode in a real browser', () => {
  let server: Served;
  let browser: Browser;
  const data = mkdtempSync(join(tmpdir(), 'beacon-e2e-'));

  beforeAll(async () => {
    server = await serve(['--data', data, '--port', '0']);
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it('the globe renders offline: imagery, city markers and teams, nothing requested off the machine', async () => {
    const { context, blocked, problems } = await offlineContext(browser);
    await server.trust(context);
    const page = await context.newPage();
    await page.goto(`${server.url}/?role=globe&msaa=1`);
    await page.locator('[data-test="globe"][data-tiles-loaded="true"]').waitFor({ timeout: 90_000 });
    await expect.poll(() => page.locator('[data-test="globe"]').getAttribute('data-units'), { timeout: 30_000 }).toBe('623');
    await expect.poll(() => page.locator('[data-test="hall-name"]').textContent()).toBe('浙江省应急指挥中心');
    await page.waitForTimeout(1500);
    expect(await page.locator('[data-test="globe"]').getAttribute('data-unit-labels'), 'no unit names from the province view').toBe('0');
    await expect(page.locator('[data-test="demo-badge"]').textContent()).resolves.toBe('演示数据');
    // Hide the overlays so the pixels below are the globe's own.
    await page.evaluate(() => document.querySelectorAll<HTMLElement>('.overlay').forEach((e) => (e.style.display = 'none')));
    await page.waitForTimeout(500);
    const png = PNG.sync.read(await page.locator('[data-test="globe"]').screenshot());
    const area = png.width * png.height;
    expect(distinctColours(png), 'a rendered globe, not a blank canvas').toBeGreaterThan(300);
    expect(countNear(png, [255, 209, 102]), 'city command centre markers (#ffd166)').toBeGreaterThan(60);
    expect(countNear(png, [255, 77, 61]), 'fire-rescue team markers (#ff4d3d)').toBeGreaterThan(60);
    let sea = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i + 2]! > png.data[i]! + 40) sea++;
    expect(sea / area, 'Natural Earth II sea east of Zhejiang').toBeGreaterThan(0.15);
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('a change made through a command on one page shows up on a second page', async () => {
    const { context, blocked, problems } = await offlineContext(browser);
    await server.trust(context, 'duty');
    const globe = await context.newPage();
    const board = await context.newPage();
    await board.goto(`${server.url}/?role=board`);
    const enRoute = board.locator('[data-test="board-teams"] tr[data-kind="fire-rescue"] td[data-status="en-route"]');
    const standby = board.locator('[data-test="board-teams"] tr[data-kind="fire-rescue"] td[data-status="standby"]');
    await expect.poll(() => standby.textContent(), { timeout: 30_000 }).toBe('132');
    await expect(enRoute.textContent()).resolves.toBe('0');

    await globe.goto(`${server.url}/?role=globe&msaa=1`);
    await globe.locator('[data-test="globe-search"]').fill('杭州市消防救援站1');
    await globe.getByRole('button', { name: '杭州市消防救援站1', exact: true }).click();
    await globe.locator('[data-test="set-status-en-route"]').click();
    await expect.poll(() => globe.locator('[data-test="unit-status"]').textContent(), { timeout: 15_000 }).toBe('出动');
    await expect.poll(() => enRoute.textContent(), { timeout: 15_000 }).toBe('1');
    await expect(standby.textContent()).resolves.toBe('131');
    // the watch handed over on the board shows on the globe's status bar; a bad phone is refused, said why
    await expect(globe.locator('[data-test="duty"]').textContent()).resolves.toContain('值班未交接');
    await board.locator('[data-test="duty"]').click();
    await board.locator('[data-test="duty-officer"]').fill('张伟');
    await board.locator('[data-test="duty-form"] input').nth(1).fill('call me');
    await board.locator('[data-test="duty-leader"]').fill('李强');
    // who hands over is whoever is signed in at the board
    await expect(board.locator('[data-test="duty-by"]').textContent()).resolves.toBe('值班员甲');
    await board.locator('[data-test="duty-submit"]').click();
    await expect.poll(() => board.locator('[data-test="duty-error"]').textContent(), { timeout: 10_000 }).toMatch(/phone/);
    await board.locator('[data-test="duty-form"] input').nth(1).fill('0571-87654321');
    await board.locator('[data-test="duty-submit"]').click();
    await expect.poll(() => globe.locator('[data-test="duty"]').textContent(), { timeout: 15_000 }).toMatch(/值班\s*张伟\s*·\s*带班\s*李强/);
    await expect.poll(() => board.locator('[data-test="duty-form"]').count()).toBe(0);
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('layers by kind and status, a trail behind a unit moved by command, an incident picked on the map', async () => {
    const { context, blocked, problems } = await offlineContext(browser);
    await server.trust(context);
    const page = await context.newPage();
    // Open sea east of Zhoushan, 40 km up: nothing else of the scenario is drawn there.
    await page.goto(`${server.url}/?role=globe&msaa=1&probe=1&trail=10&view=122.96,29.43,40000`);
    const globe = page.locator('[data-test="globe"]');
    await expect.poll(() => globe.getAttribute('data-units'), { timeout: 60_000 }).toBe('623');
    await expect(globe.getAttribute('data-units-shown')).resolves.toBe('623');
    await expect.poll(() => globe.getAttribute('data-unit-labels'), { timeout: 10_000 }).toBe('0'); // open sea: nobody to name
    const hub = await server.client('duty');
    await expect.poll(() => hub.state, { timeout: 10_000 }).toBe('open');
    const probe = (lon: number, lat: number) =>
      page.evaluate(([x, y]) => (window as unknown as { beaconProbe: { toScreen(lon: number, lat: number): { x: number; y: number } | null } }).beaconProbe.toScreen(x!, y!), [lon, lat]);
    /** Pixels near a colour (or passing a test) in a box around a point on the ground. */
    const near = async (lon: number, lat: number, rgb: [number, number, number] | ((r: number, g: number, b: number) => boolean), r = 6) => {
      const test = typeof rgb === 'function' ? rgb : (r: number, g: number, b: number) => Math.abs(r - rgb[0]) + Math.abs(g - rgb[1]) + Math.abs(b - rgb[2]) <= 60;
      const at = (await probe(lon, lat))!;
      const png = PNG.sync.read(await globe.screenshot());
      let n = 0;
      for (let y = Math.round(at.y) - r; y <= Math.round(at.y) + r; y++) {
        for (let x = Math.round(at.x) - r; x <= Math.round(at.x) + r; x++) {
          const i = (y * png.width + x) * 4;
          if (test(png.data[i]!, png.data[i + 1]!, png.data[i + 2]!)) n++;
        }
      }
      return n;
    };
    const RED: [number, number, number] = [255, 77, 61]; // fire-rescue
    // a trail is the team's colour, a little translucent over the sea
    const REDDISH = (r: number, g: number, b: number) => r > 140 && r - g > 60 && r - b > 60;

    // A unit moved by command moves on screen, and leaves a trail where it went.
    const id = 'fire-rescue-330100-02';
    // Moved first, dispatched after: a trail starts where the globe first sees the unit change, so a
    // status change first (a delta of its own since ticks are 25 ms) would start it at the station.
    await hub.command('unit.move', { id, lat: 29.41, lon: 122.9 });
    await expect.poll(() => near(122.9, 29.41, RED), { timeout: 15_000 }).toBeGreaterThan(8);
    await hub.command('unit.move', { id, lat: 29.45, lon: 122.95 });
    await expect.poll(() => near(122.95, 29.45, RED), { timeout: 15_000 }).toBeGreaterThan(8);
    expect(await near(122.9, 29.41, RED, 2), 'the point has left its old place').toBeLessThan(3);
    await hub.command('unit.setStatus', { id, status: 'en-route' });
    await expect.poll(() => globe.getAttribute('data-trails'), { timeout: 10_000 }).toBe('1');
    await expect.poll(() => globe.getAttribute('data-unit-labels'), { timeout: 10_000 }).toBe('1'); // the team that came into view is named
    // the trail lies between the two places (pixels of the team's colour halfway along)
    await expect.poll(() => near(122.925, 29.43, REDDISH, 4), { timeout: 10_000 }).toBeGreaterThan(2);
    await page.locator('[data-test="trail-minutes"]').selectOption('0');
    await expect.poll(() => globe.getAttribute('data-trails'), { timeout: 15_000 }).toBe('0');
    await expect.poll(() => near(122.925, 29.43, REDDISH, 4), { timeout: 10_000 }).toBe(0);

    // Status layers: switching "en route" off hides exactly the units en route (this one among them).
    const enRoute = Number(await page.locator('[data-test="status-layer-en-route"] .n').textContent());
    expect(enRoute).toBeGreaterThanOrEqual(1);
    await page.locator('[data-test="status-layer-en-route"] input').uncheck();
    await expect.poll(() => globe.getAttribute('data-units-shown'), { timeout: 15_000 }).toBe(String(623 - enRoute));
    await expect.poll(() => near(122.95, 29.45, RED), { timeout: 15_000 }).toBeLessThan(3);
    await page.locator('[data-test="status-layer-en-route"] input').check();
    await expect.poll(() => near(122.95, 29.45, RED), { timeout: 15_000 }).toBeGreaterThan(8);

    // The team picked on the map: its details, where it is now.
    const teamAt = (await probe(122.95, 29.45))!;
    await globe.click({ position: { x: teamAt.x, y: teamAt.y } });
    await expect.poll(() => page.locator('[data-test="unit-details"] .coords').textContent(), { timeout: 10_000 }).toBe('29.4500, 122.9500');
    // how old its shown position is, by the hall's clock (issue 23): it moved within the last minutes
    const age = /位置为 (\d+) 秒前/.exec((await page.locator('[data-test="unit-age"]').textContent()) ?? '');
    expect(Number(age?.[1])).toBeLessThan(300);

    // An incident: drawn, picked on the map for its details, hidden with its layer.
    await hub.command('incident.report', { kind: 'hazchem', title: '舟山海域危化品船舶泄漏', severity: 'III', lat: 29.42, lon: 122.96 });
    const ORANGE: [number, number, number] = [255, 145, 0];
    await expect.poll(() => near(122.96, 29.42, ORANGE), { timeout: 15_000 }).toBeGreaterThan(8);
    const at = (await probe(122.96, 29.42))!;
    await globe.click({ position: { x: at.x, y: at.y } });
    await expect.poll(() => page.locator('[data-test="incident-details"] h4').textContent(), { timeout: 10_000 }).toBe('舟山海域危化品船舶泄漏');
    await expect(page.locator('[data-test="incident-details"]').textContent()).resolves.toContain('危化品事故');
    await page.locator('[data-test="incident-layer"] input').uncheck();
    await expect.poll(() => near(122.96, 29.42, ORANGE), { timeout: 15_000 }).toBeLessThan(3);

    // Key targets and shelters: found by search, their facts shown, their layer switched off.
    await expect.poll(() => globe.getAttribute('data-sites'), { timeout: 15_000 }).toBe(String(8 + 7 + COUNTIES.filter((c) => c.coastal).length));
    await page.locator('[data-test="globe-search"]').fill('舟山绿色石化');
    await page.getByRole('button', { name: '舟山绿色石化基地', exact: true }).click();
    await expect.poll(() => page.locator('[data-test="site-details"]').textContent(), { timeout: 10_000 }).toContain('危化品企业/园区');
    await expect(page.locator('[data-test="site-details"]').textContent()).resolves.toContain('主要危险 易燃、爆炸');
    const HAZ: [number, number, number] = [255, 109, 0];
    await expect.poll(() => near(122.21, 30.27, HAZ, 8), { timeout: 20_000 }).toBeGreaterThan(10); // flown there, the triangle drawn
    await page.locator('[data-test="site-layer-hazchem"] input').uncheck();
    await expect.poll(() => near(122.21, 30.27, HAZ, 8), { timeout: 15_000 }).toBeLessThan(3);

    // Labels declutter: over Hangzhou at 60 km some of its teams are named, never one on another;
    // from the province view (the first test) none are.
    const hangzhou = await context.newPage();
    await hangzhou.goto(`${server.url}/?role=globe&msaa=1&view=120.17,30.27,60000`);
    const hz = hangzhou.locator('[data-test="globe"]');
    await expect.poll(() => hz.getAttribute('data-units'), { timeout: 60_000 }).toBe('623');
    await expect.poll(async () => Number(await hz.getAttribute('data-unit-labels')), { timeout: 15_000 }).toBeGreaterThan(5);
    // Hangzhou's own teams and depots alone (the demo scenario places them within 8 km of the seat)
    const hangzhouUnits = zhejiangScenario(0).filter((e) => e.kind === 'unit.upserted' && (e.payload as { unit: { home: string } }).unit.home === '330100').length;
    expect(hangzhouUnits).toBeGreaterThan(40);
    expect(Number(await hz.getAttribute('data-unit-labels'))).toBeLessThan(hangzhouUnits);
    hub.dispose();
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("the globe finds units by the hub client's numbers, and a stale number never moves the wrong unit", async () => {
    const { context, blocked, problems } = await offlineContext(browser);
    await server.trust(context);
    const page = await context.newPage();
    await page.goto(`${server.url}/?role=globe&msaa=1&probe=1`);
    const globe = page.locator('[data-test="globe"]');
    await expect.poll(() => globe.getAttribute('data-units'), { timeout: 60_000 }).toBe('623');
    type At = { lon: number; lat: number; height: number } | undefined;
    type Probe = { applyUnits(ops: unknown[], slots: number[] | null): void; unitDrawnAt(id: string): At };
    const apply = (ops: unknown[], slots: number[] | null) => page.evaluate(([o, s]) => (window as unknown as { beaconProbe: Probe }).beaconProbe.applyUnits(o, s), [ops, slots] as const);
    const at = (id: string) => page.evaluate((i) => (window as unknown as { beaconProbe: Probe }).beaconProbe.unitDrawnAt(i), id);
    const unit = (id: string, lon: number, lat: number) => ({
      id,
      kind: 'drone',
      name: { zh: id, en: id },
      home: '330900',
      lat,
      lon,
      alt: 300,
      status: 'en-route',
      members: null,
      stock: null,
      updated: 1,
      demo: true,
    });
    const put = (id: string, lon: number, lat: number) => ({ op: 'put', id, value: unit(id, lon, lat) });
    const expectAt = async (id: string, lon: number, lat: number) => {
      const p = (await at(id))!;
      expect(p, id).toBeDefined();
      expect(Math.abs(p.lon - lon) + Math.abs(p.lat - lat), `${id} at ${p.lon},${p.lat}`).toBeLessThan(1e-7);
    };
    // Number 5 belongs to one of the scenario's units in the page's own client; here it is given to
    // a probe unit as well, as a client that took a snapshot since would.
    const real = 'fire-rescue-330100-02';
    const before = (await at(real))!;
    await apply([put('probe-a', 122.9, 29.4)], [5]);
    await apply([put('probe-a', 122.91, 29.41)], [5]);
    await expectAt('probe-a', 122.91, 29.41);
    // the real unit arrives under number 5 too: found by its id, the probe unit left where it was
    await apply([put(real, before.lon + 0.01, before.lat)], [5]);
    await expectAt(real, before.lon + 0.01, before.lat);
    await expectAt('probe-a', 122.91, 29.41);
    // a delete gives its number back; the unit that takes it is drawn where it is, the other moves on
    await apply([{ op: 'del', id: 'probe-a' }, put('probe-b', 122.5, 29.2)], [5, 7]);
    expect(await at('probe-a')).toBeUndefined();
    await apply([put('probe-c', 122.6, 29.3)], [5]);
    await apply([put('probe-c', 122.61, 29.31), put('probe-b', 122.51, 29.21)], [5, 7]);
    await expectAt('probe-c', 122.61, 29.31);
    await expectAt('probe-b', 122.51, 29.21);
    // without numbers (a caller that has none) the same units are found by id
    await apply([put('probe-b', 122.52, 29.22)], null);
    await expectAt('probe-b', 122.52, 29.22);
    // a number no client gives (far beyond the units held) is not trusted, nor allocated for
    await apply([put('probe-b', 122.53, 29.23), put('probe-c', 122.62, 29.32)], [2 ** 30, 5]);
    await expectAt('probe-b', 122.53, 29.23);
    await expectAt('probe-c', 122.62, 29.32);
    // Many moves in one delta, listed in no order the globe keeps (they are applied by index in a
    // second pass): each unit lands where its own op says, whether the delta is dense or sparse.
    const fleet = Array.from({ length: 40 }, (_, i) => `probe-f${i}`);
    await apply(
      fleet.map((id, i) => put(id, 121 + i / 100, 28)),
      fleet.map((_, i) => 1000 + i),
    );
    const scrambled = fleet.map((_, i) => (i * 17) % 40);
    await apply(
      scrambled.map((i) => put(fleet[i]!, 121.5 + i / 100, 28.5 - i / 100)),
      scrambled.map((i) => 1000 + i),
    );
    for (let i = 0; i < 40; i++) await expectAt(fleet[i]!, 121.5 + i / 100, 28.5 - i / 100);
    // sparse: a unit from the snapshot (a low index) and one of the fleet (a high one)
    await apply([put(fleet[33]!, 121.7, 28.7), put(real, before.lon + 0.02, before.lat)], [1033, 5]);
    await expectAt(fleet[33]!, 121.7, 28.7);
    await expectAt(real, before.lon + 0.02, before.lat);
    await expectAt(fleet[32]!, 121.5 + 0.32, 28.5 - 0.32);
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('the call panel lists the five-level directory, filters, and speaks English on request', async () => {
    const { context, problems } = await offlineContext(browser);
    await server.trust(context);
    const page = await context.newPage();
    await page.goto(`${server.url}/?role=calls`);
    await page.locator('[data-test="level-county"]').click();
    await expect.poll(() => page.locator('[data-test="contact-count"]').textContent(), { timeout: 30_000 }).toBe('显示 90 / 90 条');
    await page.locator('[data-test="contact-search"]').fill('331081');
    await expect.poll(() => page.locator('[data-test="contacts"] li').count()).toBe(1);
    await expect(page.locator('[data-test="contacts"] li').textContent()).resolves.toContain('温岭市应急管理局值班室');
    await page.locator('[data-test="language"]').click();
    await expect.poll(() => page.locator('[data-test="contact-count"]').textContent()).toBe('Showing 1 of 1');
    await expect(page.locator('[data-test="contacts"] li').textContent()).resolves.toContain('Wenling Emergency Management Bureau duty office');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows honestly when the hall core goes away, and the WAN as not monitored rather than up', async () => {
    const { context } = await offlineContext(browser);
    await server.trust(context);
    const page = await context.newPage();
    await page.goto(`${server.url}/?role=board`);
    await expect.poll(() => page.locator('[data-test="hall-link"]').textContent(), { timeout: 30_000 }).toContain('已连接');
    await expect(page.locator('[data-test="wan"]').textContent()).resolves.toContain('未监测');
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(server.output()).toContain('shutting down');
    await expect.poll(() => page.locator('[data-test="hall-link"]').textContent(), { timeout: 15_000 }).toContain('与核心断开');
    await context.close();
  });

  it('every display shows the WAN as the link monitor measures it: degraded with the bus unreachable, down when the other uplink dies too', async () => {
    const bus = createServer((c) => c.destroy());
    await new Promise<void>((r) => bus.listen(0, '127.0.0.1', () => r()));
    const busPort = (bus.address() as { port: number }).port;
    // The provincial bus is unreachable (nothing listens there): decisions must queue, visibly.
    const province = `mqtt://127.0.0.1:${await freePort()}`;
    const hall = await serve(['--data', tempLinkDir(), '--port', '0', '--uplink', `127.0.0.1:${busPort}`, '--province', province, '--hall-id', '330000']);
    const { context } = await offlineContext(browser);
    await hall.trust(context);
    try {
      const pages = [await context.newPage(), await context.newPage()];
      await pages[0]!.goto(`${hall.url}/?role=board`);
      await pages[1]!.goto(`${hall.url}/?role=calls`);
      // The province bus is probed too (in MQTT): it is unreachable, so one of two endpoints is down.
      for (const p of pages) await expect.poll(() => p.locator('[data-test="wan"]').textContent(), { timeout: 15_000 }).toBe('广域网 降级');
      await expect.poll(() => pages[0]!.locator('[data-test="wan"]').getAttribute('title'), { timeout: 15_000 }).toMatch(/province offline/);
      await new Promise<void>((r) => bus.close(() => r()));
      for (const p of pages) await expect.poll(() => p.locator('[data-test="wan"]').textContent(), { timeout: 15_000 }).toBe('广域网 中断');
      await expect(pages[0]!.locator('[data-test="wan"]').getAttribute('title')).resolves.toMatch(/offline/);

      for (const p of pages) await expect.poll(() => p.locator('[data-test="outbox"]').textContent(), { timeout: 15_000 }).toMatch(/待报省厅 0/);
      const console = await hall.client('duty');
      await expect.poll(() => console.state, { timeout: 10_000 }).toBe('open');
      await console.command('unit.setStatus', { id: 'depot-330000', status: 'en-route' }); // the province's own reserve
      console.dispose();
      for (const p of pages) await expect.poll(() => p.locator('[data-test="outbox"]').textContent(), { timeout: 15_000 }).toMatch(/待报省厅 1 · \d+ s/);
    } finally {
      await context.close();
      await hall.stop();
      bus.close();
    }
  });
});
