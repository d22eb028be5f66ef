// The board's emergency response card in Chromium (issue 21): the forecast's proposal for Lekima,
// confirmed by the leader on duty, the level's checklist worked by the duty officer on another
// display, the level changed by hand and ended; what an observer may not do is not offered.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, offlineContext } from '../helpers/browser.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-e2e-response-');
let server: Served;
let browser: Browser;
const pages: Record<'leader' | 'duty' | 'observer', Page> = {} as never;

beforeAll(async () => {
  server = await serve(['--data', join(dir, 'hall'), '--port', '0']);
  browser = await launch();
  for (const role of ['leader', 'duty', 'observer'] as const) {
    const ctx = await offlineContext(browser, { width: 1280, height: 900 });
    await server.trust(ctx.context, role);
    pages[role] = await ctx.context.newPage();
    await pages[role].goto(`${server.url}/?role=board`);
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('应急响应 on the board', () => {
  const card = (role: keyof typeof pages) => pages[role].locator('[data-test="response-card"]');
  const level = (role: keyof typeof pages) => card(role).locator('[data-test="response-level"]').textContent();

  it("nothing is declared by the machine: Lekima's forecast suggests level I, and the leader confirms it", async () => {
    await expect.poll(() => level('leader'), { timeout: 30_000 }).toBe('未启动');
    // the replay at 9 August 2019 00:00 UTC: the CMA forecast lands Lekima at Wenling as a super typhoon
    const console_ = await server.client('duty');
    await console_.command('replay.set', { storm: 'tc-2019-1909', t: Date.UTC(2019, 7, 9, 0), playing: false });
    console_.dispose();
    const proposal = card('leader').locator('[data-test="response-proposal"]');
    await expect.poll(() => proposal.textContent(), { timeout: 30_000 }).toMatch(/研判建议: 防台风Ⅰ级 — 利奇马预计以超强台风级在.*附近登陆/);
    expect(await level('leader')).toBe('未启动'); // only proposed
    expect(await card('observer').locator('[data-test="response-confirm"]').count()).toBe(0);
    expect(await card('duty').locator('[data-test="response-confirm"]').count()).toBe(0); // a decision: the leader's
    await card('leader').locator('[data-test="response-confirm"]').click();
    for (const role of ['leader', 'duty', 'observer'] as const) await expect.poll(() => level(role), { timeout: 10_000 }).toBe('防台风Ⅰ级');
    await expect.poll(() => proposal.count()).toBe(0); // the proposal is in force
  });

  it("the level's checklist: each item counts down; the duty officer marks one done on another display, every display shows who", async () => {
    const items = card('duty').locator('[data-test="checklist-item"]');
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBeGreaterThan(5);
    expect(await card('duty').locator('[data-test="checklist-counts"]').textContent()).toMatch(/^已完成 0 · 逾期 0 · 待办 \d+$/);
    expect(await items.first().locator('[data-test="checklist-due"]').textContent()).toMatch(/^(\d+ 分钟|\d+ 小时 \d+ 分)内完成$/);
    const first = await items.first().getAttribute('data-item');
    await items.first().locator('[data-test="checklist-check"]').click();
    for (const role of ['leader', 'duty', 'observer'] as const) {
      const row = card(role).locator(`[data-test="checklist-item"][data-item="${first}"]`);
      await expect.poll(() => row.textContent(), { timeout: 10_000 }).toMatch(/值班员甲 .* 完成/);
      expect(await row.getAttribute('class')).toMatch(/done/);
    }
    expect(await card('observer').locator('[data-test="checklist-check"]').count()).toBe(0);
    // an item handed to a team as a task (派单), due when the item is: it joins the board's tasks
    const second = card('duty').locator('[data-test="checklist-item"]').nth(1);
    const text = (await second.locator('.text').textContent())!;
    await second.locator('[data-test="checklist-task-to"]').selectOption('unit:fire-rescue-330100-01');
    await second.locator('[data-test="checklist-task"]').click();
    const task = pages.duty.locator('[data-test="tasks-card"] [data-test="task"]').filter({ hasText: text });
    await expect.poll(() => task.count(), { timeout: 10_000 }).toBe(1);
    expect(await task.textContent()).toMatch(/已派单.*派给 杭州市消防救援站1/);
  });

  it("the hall's own plan: the leader rewrites level III's checklist as lines; a bad line is refused in words", async () => {
    const card = pages.leader.locator('[data-test="plans-card"]');
    await card.locator('summary').click();
    await card.locator('[data-test="plans-which"]').selectOption('plan:III');
    await expect.poll(() => card.locator('[data-test="plans-text"]').inputValue()).toMatch(/\| \d+$/m);
    await card.locator('[data-test="plans-text"]').fill('启动城区排涝泵站 | 住建 | 90\n转移地下车库车辆 | 物业 | 分钟');
    await card.locator('[data-test="plans-save"]').click();
    expect(await card.locator('[data-test="plans-error"]').textContent()).toMatch(/第 2 行格式不对/);
    await card.locator('[data-test="plans-text"]').fill('启动城区排涝泵站 | 住建 | 90\n转移地下车库车辆 | 物业 | 120');
    await card.locator('[data-test="plans-save"]').click();
    await expect.poll(() => card.locator('[data-test="plans-source"]').textContent(), { timeout: 10_000 }).toMatch(/带班领导乙/);
    expect(await pages.observer.locator('[data-test="plans-card"]').count()).toBe(0);
    expect(await pages.duty.locator('[data-test="plans-card"]').count()).toBe(0); // the plan is the leader's
  });

  it('the leader lowers the level by hand, with a reason, then ends the response', async () => {
    const c = card('leader');
    await c.locator('[data-test="response-choose"]').selectOption('III');
    await c.locator('[data-test="response-reason-input"]').fill('利奇马减弱为强热带风暴');
    await c.locator('[data-test="response-declare"]').click();
    await expect.poll(() => level('duty'), { timeout: 10_000 }).toBe('防台风Ⅲ级');
    await expect.poll(() => card('duty').locator('[data-test="response-reason"]').textContent()).toBe('利奇马减弱为强热带风暴');
    await expect.poll(() => card('duty').locator('[data-test="checklist"] h4').textContent()).toMatch(/防台风Ⅲ级应急响应检查单/);
    // the checklist level III opened is the plan the leader just wrote
    expect(await card('duty').locator('[data-test="checklist-item"] .text').allTextContents()).toEqual(['启动城区排涝泵站', '转移地下车库车辆']);
    await c.locator('[data-test="response-reason-input"]').fill('台风影响结束');
    await c.locator('[data-test="response-end"]').click();
    for (const role of ['leader', 'duty'] as const) await expect.poll(() => level(role), { timeout: 10_000 }).toBe('未启动');
    expect(await card('duty').locator('[data-test="checklist"]').count()).toBe(0);
  });
});
