// A browser display behind a thin link (issue 23): Debian's Chromium runs inside a network namespace
// whose only way to the hall is a veth shaped by tc tbf; the hall (`beacon serve`) has 2,000 teams
// reporting over CoT at 1 Hz. The display must say when its picture lags (画面延迟 N 秒), keep
// getting decisions through the thin link, say so when the link stops altogether, and read live
// again once the link is wide. Needs root (ip netns, tc); skipped with the reason otherwise.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../main/core/feeds/simulate.ts';
import { CHROMIUM } from '../helpers/browser.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { serve, type Served } from '../helpers/serve.ts';
import { openThinLink, thinLinkUnavailable, type ThinLink } from '../helpers/thin-link.ts';
import { until } from '../helpers/until.ts';

const why = thinLinkUnavailable();
if (why) console.log(`thin-link e2e: skipped: ${why}`);

describe.skipIf(!!why)('a browser display behind a thin link', () => {
  let link: ThinLink;
  let hall: Served;
  let sim: Simulator;
  let browser: Browser;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'beacon-thin-e2e-'));
    link = openThinLink(String(process.pid % 10000), 25);
    link.shape('20mbit');
    const cot = await freePort();
    hall = await serve(['--data', join(dir, 'hall'), '--port', '0', '--host', link.hostIp, '--feed', `cot-tcp:host=127.0.0.1,port=${cot}`]);
    sim = new Simulator({ drones: 0, teams: 2000, teamHz: 1, cotPort: cot, cotConnections: 8 });
    await sim.start();
    const c = await hall.client();
    c.subscribe('units', () => undefined);
    await until('the hall holds 2,000 teams', () => c.topic('units').size >= 2000, 60_000);
    c.dispose();
    // Chromium inside the namespace: playwright drives it over a pipe, which crosses namespaces
    const wrapper = join(dir, 'chromium-in-ns');
    const [ipCmd, ipArgs] = link.inNs(CHROMIUM);
    writeFileSync(wrapper, `#!/bin/sh\nexec ${ipCmd} ${ipArgs.join(' ')} "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await chromium.launch({
      executablePath: wrapper,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    // the hall, and nothing else
    await context.route('**/*', (route) => (new URL(route.request().url()).hostname === link.hostIp ? route.continue() : route.abort('blockedbyclient')));
    await hall.trust(context);
    page = await context.newPage();
    await page.goto(`${hall.url}/?role=board`);
    await page.locator('[data-test=hall-link]').filter({ hasText: '已连接' }).waitFor({ timeout: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await sim?.stop();
    await hall?.stop();
    link?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // read in one step: the chip may vanish between a count and a read (it does, as the lag clears)
  const lagSeconds = async () => Number(/(\d+)/.exec(await page.evaluate(() => document.querySelector('[data-test=lag]')?.textContent ?? '0'))?.[1] ?? 0);

  it('reads live on a wide link', async () => {
    await page.waitForTimeout(5000);
    expect(await lagSeconds()).toBe(0);
  }, 30_000);

  it('says how far behind it is on a thin one, and decisions still arrive', async () => {
    // 2,000 moves a second are ~20 kB/s even packed; 48 kbit/s carries a third of them
    link.shape('48kbit');
    await until('the status bar shows 画面延迟', async () => (await lagSeconds()) >= 2, 30_000);
    expect(await page.evaluate(() => document.querySelector('[data-test=lag]')?.textContent ?? '')).toMatch(/画面延迟 \d+ 秒/);
    const duty = await hall.client('duty');
    const t0 = Date.now();
    await duty.command('incident.report', { kind: 'flood', title: '细链路测试险情', severity: 'II', lat: 28.6, lon: 121.4 });
    await page.getByText('细链路测试险情').first().waitFor({ timeout: 10_000 });
    const decisionMs = Date.now() - t0;
    duty.dispose();
    console.log(`thin-link e2e: at 48 kbit/s the board lags ${await lagSeconds()} s; an incident reached it in ${decisionMs} ms`);
    expect(decisionMs).toBeLessThan(5000);
  }, 60_000);

  it('a link that stops altogether is shown as a growing lag, never as live', async () => {
    // stopped: every packet dropped (1 kbit/s was not stopped: a trickle of catch-up let the oldest
    // lacking change move on, and the lag read a second less; seen in CI)
    link.cut(true);
    await page.waitForTimeout(3000);
    const a = await lagSeconds();
    await page.waitForTimeout(4000);
    const b = await lagSeconds();
    expect(a).toBeGreaterThanOrEqual(2);
    expect(b).toBeGreaterThan(a);
  }, 30_000);

  it('catches up and reads live again once the link is wide, without a reload', async () => {
    link.shape('20mbit');
    await until('the lag is gone', async () => (await lagSeconds()) === 0, 40_000);
    await page.waitForTimeout(3000);
    expect(await lagSeconds()).toBe(0);
    expect(await page.locator('[data-test=hall-link]').textContent()).toContain('已连接');
  }, 60_000);
});
