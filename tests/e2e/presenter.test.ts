// A consultation's presenter (会商, issue 22): a duty officer's globe presents its view and pointer;
// a remote city's console (a second Chromium context on its own console token, over its own
// WebSocket) follows the camera and shows the pointer; when the presenter stops, it is its own again.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consoles } from '../../main/core/trust/credentials.ts';
import { launch, offlineContext } from '../helpers/browser.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-presenter-');
let hall: Served;
let browser: Browser;
let presenter: Page;
let consolePage: Page;

type View = { lon: number; lat: number; height: number; heading: number; pitch: number; roll: number };
/** Angles compared round the circle (Cesium keeps a heading of −0.3 as 2π − 0.3). */
const angleOff = (a: number, b: number) => Math.abs(Math.atan2(Math.sin(a - b), Math.cos(a - b)));
const cameraOf = (p: Page) => p.evaluate(() => (window as unknown as { beaconProbe: { cameraView(): View } }).beaconProbe.cameraView());

beforeAll(async () => {
  hall = await serve(['--data', join(dir, 'hall'), '--port', '0']);
  browser = await launch();
  const a = await offlineContext(browser, { width: 900, height: 600 });
  await hall.trust(a.context, 'duty');
  presenter = await a.context.newPage();
  // the remote console: its own token (台州市, observer), its own connection
  const { token } = new Consoles(join(dir, 'hall')).add('台州市', 'observer');
  const b = await offlineContext(browser, { width: 900, height: 600 });
  await b.context.addInitScript(([origin, tok]) => location.origin === origin && sessionStorage.setItem('beacon.token', tok!), [new URL(hall.url).origin, token]);
  consolePage = await b.context.newPage();
  // multisampling off: a software-rendered frame holds the page's thread, and costs less without it
  await Promise.all([presenter.goto(`${hall.url}/?role=globe&probe=1&msaa=1`), consolePage.goto(`${hall.url}/?role=globe&probe=1&msaa=1`)]);
  for (const p of [presenter, consolePage]) await p.waitForFunction(() => !!(window as unknown as { beaconProbe?: unknown }).beaconProbe, undefined, { timeout: 60_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await hall?.stop();
});

describe('a consultation’s presenter', () => {
  it('the remote console follows the presenter’s camera and shows its pointer, and is free again when it stops', async () => {
    // an observer's console may follow but not present
    expect(await consolePage.locator('[data-test="present"]').count()).toBe(0);
    await presenter.locator('[data-test="present"]').click();
    await consolePage.locator('[data-test="presenter"][data-following="yes"]').waitFor({ timeout: 10_000 });
    const target: View = { lon: 121.38, lat: 28.05, height: 90_000, heading: 0.4, pitch: -0.8, roll: 0 };
    const lags: number[] = [];
    for (const v of [target, { ...target, lon: 120.7, lat: 27.95, heading: -0.3 }, { ...target, lon: 122.1, lat: 29.9, height: 150_000 }]) {
      await presenter.evaluate((x) => (window as unknown as { beaconProbe: { setCameraView(v: unknown): void } }).beaconProbe.setCameraView(x), v);
      const t0 = Date.now();
      for (;;) {
        const c = await cameraOf(consolePage);
        if (Math.abs(c.lon - v.lon) < 0.001 && Math.abs(c.lat - v.lat) < 0.001 && Math.abs(c.height - v.height) < 50 && angleOff(c.heading, v.heading) < 0.01) break;
        if (Date.now() - t0 > 10_000) throw new Error(`the console did not follow: ${JSON.stringify(c)} against ${JSON.stringify(v)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      lags.push(Date.now() - t0);
    }
    console.log(`presenter e2e: the console followed the presenter's camera in ${lags.join(', ')} ms (software WebGL on both pages)`);
    expect(await consolePage.locator('[data-test="presenter"]').getAttribute('data-by')).toBe('值班员甲');
    // the presenter's pointer: the mouse over its globe appears on the console's
    const box = (await presenter.locator('[data-test="globe"]').boundingBox())!;
    await presenter.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await presenter.mouse.move(box.x + box.width / 2 + 20, box.y + box.height / 2 + 10);
    await expect.poll(() => consolePage.evaluate(() => (window as unknown as { beaconProbe: { pointerShown(): unknown } }).beaconProbe.pointerShown()), { timeout: 10_000 }).not.toBeNull();
    // stopped: the console keeps where it is and is its own again
    await presenter.locator('[data-test="present"]').click();
    await consolePage.locator('[data-test="presenter"][data-following="no"]').waitFor({ timeout: 10_000 });
    expect(await consolePage.evaluate(() => (window as unknown as { beaconProbe: { pointerShown(): unknown } }).beaconProbe.pointerShown())).toBeNull();
    // Within a second is the goal. With software WebGL a frame holds a page's thread for 0.5-2 s on this
    // machine, and a camera change that lands behind one waits for it (seen once in CI: 1,007 ms): the
    // median must be under a second, and none over the time of such a frame.
    const sorted = [...lags].sort((a, b) => a - b);
    expect(sorted[1]).toBeLessThan(1000);
    expect(sorted[2]).toBeLessThan(2500);
  }, 90_000);

  it('the call panel chooses who presents; the chosen globe presents, its marks appear on the console, and it stops when unassigned', async () => {
    const admin = await hall.client('admin');
    await admin.command('contacts.import', {
      csv: [
        'id,level,code,parent,name_zh,name_en,duty_name,duty_mobile,deputy_name,deputy_mobile,video,voip,mobile,satellite,radio',
        'p-a,city,331000,,台州市应急管理局测试,Taizhou test,甲,13800000001,,,,sip:a@127.0.0.1,,,',
        'p-b,city,330300,,温州市应急管理局测试,Wenzhou test,乙,13800000002,,,,sip:b@127.0.0.1,,,',
      ].join('\r\n'),
    });
    admin.dispose();
    const duty = await hall.client('duty');
    await duty.command('consult.start', { contacts: ['p-a', 'p-b'], title: '会商主讲测试' });
    duty.dispose();
    const panel = await presenter.context().newPage();
    await panel.goto(`${hall.url}/?role=calls`);
    // without a bridge the panel says the participants cannot hear each other
    await panel.locator('[data-test^="mix-"][data-state="no_bridge"]').waitFor({ timeout: 20_000 });
    // the duty officer's globe may present; the observer's console may not, and is not offered
    const assign = panel.locator('[data-test="assign-值班员甲"]');
    await assign.waitFor({ timeout: 20_000 });
    expect(await panel.locator('[data-test="assign-台州市"]').count()).toBe(0);
    await assign.click();
    await presenter.locator('[data-test="present"].on').waitFor({ timeout: 10_000 });
    await consolePage.locator('[data-test="presenter"][data-following="yes"]').waitFor({ timeout: 10_000 });
    await panel.locator('[data-test="presenting"]').filter({ hasText: '主讲：值班员甲' }).waitFor({ timeout: 10_000 });
    // two marks placed on the presenter's globe appear on the console's
    await presenter.locator('[data-test="mark"]').click();
    const box = (await presenter.locator('[data-test="globe"]').boundingBox())!;
    // two points of open globe (the panels over it take their own clicks), clicked apart, not a double click
    const spots: [number, number][] = [];
    for (const [dx, dy] of [
      [-60, 0],
      [0, -60],
      [-120, -40],
      [40, -100],
      [-40, 60],
    ] as const) {
      const x = box.x + box.width / 2 + dx;
      const y = box.y + box.height / 2 + dy;
      if ((await presenter.evaluate(([px, py]) => document.elementFromPoint(px!, py!)?.tagName, [x, y])) === 'CANVAS') spots.push([x, y]);
    }
    expect(spots.length).toBeGreaterThanOrEqual(2);
    for (const [x, y] of spots.slice(0, 2)) {
      await presenter.mouse.click(x, y);
      await presenter.waitForTimeout(800);
    }
    await expect.poll(() => consolePage.evaluate(() => (window as unknown as { beaconProbe: { marksShown(): number } }).beaconProbe.marksShown()), { timeout: 10_000 }).toBe(2);
    await presenter.locator('[data-test="marks-clear"]').click();
    await expect.poll(() => consolePage.evaluate(() => (window as unknown as { beaconProbe: { marksShown(): number } }).beaconProbe.marksShown()), { timeout: 10_000 }).toBe(0);
    // unassigned on the panel: the globe stops presenting, the console is its own again
    await panel.locator('[data-test="assign-值班员甲"][data-assigned="true"]').click();
    await presenter.locator('[data-test="present"]:not(.on)').waitFor({ timeout: 10_000 });
    await consolePage.locator('[data-test="presenter"][data-following="no"]').waitFor({ timeout: 10_000 });
    await panel.close();
  }, 120_000);
});
