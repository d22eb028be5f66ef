// Tasks (派单) on the board in Chromium (issue 21), two real halls on one real bus: Taizhou tasks its
// own aviation team (the duty officer records what the crew said, to a photo of the work done) and
// Linhai (which answers on its own board); Linhai rejects with a reason, Taizhou reassigns to its team
// and Linhai can no longer act on it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, offlineContext } from '../helpers/browser.ts';
import { Broker, freePort } from '../helpers/mosquitto.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-e2e-tasks-');
let broker: Broker;
let taizhou: Served;
let linhai: Served;
let browser: Browser;
let tz: Page;
let lh: Page;

beforeAll(async () => {
  broker = new Broker(await freePort(), join(dir, 'bus'));
  await broker.start();
  taizhou = await serve(['--data', join(dir, 'taizhou'), '--port', '0', '--province', broker.url, '--hall-id', '331000']);
  linhai = await serve(['--data', join(dir, 'linhai'), '--port', '0', '--province', broker.url, '--hall-id', '331082']);
  browser = await launch();
  for (const [hall, set] of [
    [taizhou, (p: Page) => (tz = p)],
    [linhai, (p: Page) => (lh = p)],
  ] as const) {
    const c = await offlineContext(browser, { width: 1280, height: 1000 });
    await hall.trust(c.context, 'duty');
    const p = await c.context.newPage();
    await p.goto(`${hall.url}/?role=board`);
    set(p);
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await taizhou?.stop();
  await linhai?.stop();
  await broker?.stop();
});

const card = (p: Page) => p.locator('[data-test="tasks-card"]');
const taskNamed = (p: Page, title: string) => card(p).locator('[data-test="task"]').filter({ hasText: title }).first();
async function assign(p: Page, to: string, title: string) {
  await card(p).locator('[data-test="task-assignee"]').selectOption(to);
  await card(p).locator('[data-test="task-title"]').fill(title);
  await card(p).locator('[data-test="task-hours"]').selectOption('2');
  await card(p).locator('[data-test="task-assign"]').click();
  await expect.poll(() => taskNamed(p, title).count(), { timeout: 10_000 }).toBe(1);
}

describe('派单', () => {
  it("to Taizhou's own aviation team: accepted, set out, done with a photo, verified; each step in its history", async () => {
    await expect.poll(() => card(tz).locator('[data-test="task-assignee"] option[value="unit:aviation-331000-01"]').count(), { timeout: 20_000 }).toBe(1);
    await assign(tz, 'unit:aviation-331000-01', '括苍镇吊运被困群众');
    const x = taskNamed(tz, '括苍镇吊运被困群众');
    expect(await x.locator('[data-test="task-due"]').textContent()).toMatch(/^(1 小时 \d+ 分|2 小时 0 分|\d+ 分钟)内完成$/);
    for (const [button, state] of [
      ['task-accepted', '已接受'],
      ['task-underway', '处置中'],
    ] as const) {
      await x.locator(`[data-test="${button}"]`).click();
      await expect.poll(() => x.locator('[data-test="task-state"]').textContent(), { timeout: 10_000 }).toBe(state);
    }
    const png = new PNG({ width: 4, height: 4 });
    png.data.fill(120);
    writeFileSync(join(dir, 'lift.png'), PNG.sync.write(png));
    await x.locator('[data-test="task-note"]').fill('12人全部吊运至安置点');
    await x.locator('[data-test="task-photo"]').setInputFiles(join(dir, 'lift.png'));
    await x.locator('[data-test="task-done"]').click();
    await expect.poll(() => x.locator('[data-test="task-state"]').textContent(), { timeout: 10_000 }).toBe('已完成');
    await x.locator('[data-test="task-verify"]').click();
    await expect.poll(() => x.locator('[data-test="task-state"]').textContent(), { timeout: 10_000 }).toBe('已核验');
    const history = await x.locator('[data-test="task-history"] li').allTextContents();
    expect(history.map((h) => h.replace(/^\S+ \S+ /, '').split(' · ')[0])).toEqual(['已派单', '已接受', '处置中', '已完成', '已核验']);
    expect(history[3]).toMatch(/值班员甲 · 12人全部吊运至安置点 · 📷/);
  });

  it('to Linhai: Linhai answers on its own board; a rejection needs a reason; reassigned to the team, Linhai can no longer act on it', async () => {
    await expect.poll(() => card(tz).locator('[data-test="task-assignee"] option[value="hall:331082"]').count(), { timeout: 20_000 }).toBe(1);
    await assign(tz, 'hall:331082', '组织括苍镇群众转移');
    const there = taskNamed(lh, '组织括苍镇群众转移');
    await expect.poll(() => there.count(), { timeout: 15_000 }).toBe(1);
    expect(await there.textContent()).toMatch(/来自 台州市应急指挥中心/);
    await there.locator('[data-test="task-rejected"]').click();
    await expect.poll(() => card(lh).locator('[data-test="task-error"]').textContent(), { timeout: 10_000 }).toMatch(/needs a reason/);
    await there.locator('[data-test="task-note"]').fill('救援力量已全部出动，人手不足');
    await there.locator('[data-test="task-rejected"]').click();
    const here = taskNamed(tz, '组织括苍镇群众转移');
    await expect.poll(() => here.locator('[data-test="task-state"]').textContent(), { timeout: 15_000 }).toBe('已拒绝');
    expect(await here.locator('[data-test="task-history"]').textContent()).toMatch(/救援力量已全部出动，人手不足/);
    await here.locator('[data-test="task-reassign-to"]').selectOption('unit:aviation-331000-01');
    await here.locator('[data-test="task-reassign"]').click();
    await expect.poll(() => here.locator('[data-test="task-state"]').textContent(), { timeout: 10_000 }).toBe('已派单');
    await expect.poll(() => there.locator('[data-test="task-history"]').textContent(), { timeout: 15_000 }).toMatch(/→ 台州市航空救援队1/);
    expect(await there.locator('[data-test="task-accepted"]').count()).toBe(0);
  });
});
