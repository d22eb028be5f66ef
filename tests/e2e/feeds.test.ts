// Live feeds in the browser (serve mode, Chromium, loopback only): `beacon simulate`'s drones and
// teams over MAVLink UDP and CoT TCP, the feed board's states and counts as the senders go quiet or
// misbehave, a feed added from the board, and a drone's presence in the globe's details panel.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../main/core/feeds/simulate.ts';
import { launch, offlineContext } from '../helpers/browser.ts';
import { fixture, retime } from '../helpers/fixtures.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-e2e-feeds-');
let server: Served;
let browser: Browser;
let board: Page;
let globe: Page;
let sim: Simulator | null = null;
let problems: string[];
let mav: number;
let cot: number;

const row = (id: string) => board.locator(`[data-test="feed-board"] tr[data-feed="${id}"]`);

beforeAll(async () => {
  mav = await freePort();
  cot = await freePort();
  server = await serve([
    '--data',
    join(dir, 'hall'),
    '--port',
    '0',
    '--feed',
    `mavlink-udp:host=127.0.0.1,port=${mav},staleAfterS=2,lostAfterS=4,silentAfterS=2`,
    '--feed',
    `cot-tcp:host=127.0.0.1,port=${cot},silentAfterS=2`,
  ]);
  browser = await launch();
  const ctx = await offlineContext(browser, { width: 1280, height: 800 });
  // the board's feed form is the administrator's (feeds are configuration)
  await server.trust(ctx.context, 'admin');
  problems = ctx.problems;
  board = await ctx.context.newPage();
  await board.goto(`${server.url}/?role=board`);
  globe = await ctx.context.newPage();
  await globe.goto(`${server.url}/?role=globe&msaa=1`);
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  await browser?.close();
  await server?.stop();
});

describe('live feeds in the browser', () => {
  it('the board shows each feed, online once data flows, with its rate and units; the status bar counts them', async () => {
    await expect.poll(() => row('mavlink-udp').getAttribute('data-state'), { timeout: 15_000 }).toMatch(/online|degraded/);
    sim = new Simulator({ drones: 2, droneHz: 4, mavlinkPort: mav, teams: 3, teamHz: 2, cotPort: cot });
    await sim.start();
    await expect.poll(() => row('mavlink-udp').getAttribute('data-state'), { timeout: 10_000 }).toBe('online');
    await expect.poll(() => row('cot-tcp').getAttribute('data-state'), { timeout: 10_000 }).toBe('online');
    expect(await row('cot-tcp').locator('[data-test="feed-state"]').textContent()).toBe('在线');
    await expect.poll(() => row('cot-tcp').locator('td').nth(4).textContent(), { timeout: 10_000 }).toBe('3');
    await expect.poll(() => board.locator('[data-test="feeds"]').textContent()).toMatch(/2\s*\/\s*2/);
  });

  it('refused input is counted on the board as it happens', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.send(Buffer.from('\xfd\x09garbage that is not a packet'), mav, '127.0.0.1', () => r()));
    s.close();
    await expect.poll(() => row('mavlink-udp').locator('[data-test="feed-refused"]').textContent(), { timeout: 10_000 }).not.toBe('0');
  });

  it('a drone picked on the globe shows its flight mode and presence, and turns lost when it goes silent', async () => {
    await globe.locator('[data-test="globe-search"]').fill('mavlink-udp-1');
    await globe.locator('.results button').first().click();
    const presence = globe.locator('[data-test="unit-presence"]');
    await expect.poll(() => presence.textContent(), { timeout: 10_000 }).toBe('实时');
    expect(await globe.locator('[data-test="unit-drone"]').textContent()).toMatch(/AUTO.*已解锁/);
    await sim!.stop();
    sim = null;
    await expect.poll(() => presence.textContent(), { timeout: 10_000 }).toBe('信号延迟');
    await expect.poll(() => presence.textContent(), { timeout: 10_000 }).toBe('失联');
    // And the feed that went quiet says so, instead of claiming to be online.
    await expect.poll(() => row('mavlink-udp').getAttribute('data-state'), { timeout: 10_000 }).toBe('degraded');
    expect(await row('mavlink-udp').textContent()).toMatch(/no data for/);
  });

  it("an ATAK 911 (its own file) is on every display until a duty officer acknowledges it; the device's cancel clears it (#19 point 2)", async () => {
    const send = (file: string) =>
      new Promise<void>((resolve, reject) => {
        const s = connect(cot, '127.0.0.1', () => s.end(retime(fixture(`cot/${file}`), Date.now())));
        s.resume(); // the hall's TAK Protocol offer
        s.on('error', reject);
        s.on('close', () => resolve());
      });
    await send('ftstest-911-alert-b-a-o-tbl.xml');
    for (const page of [board, globe]) {
      const active = page.locator('[data-test="alert-active"]');
      await expect.poll(() => active.count(), { timeout: 10_000 }).toBe(1);
      expect(await active.textContent()).toMatch(/紧急求救.*911 求救.*corvo.*43\.84456, -66\.11718/);
      // the administrator configures; acknowledging is a duty officer's: no button here, the reason instead
      expect(await active.locator('[data-test="alert-ack"]').count()).toBe(0);
      expect(await active.locator('[data-test="alert-sign-in"]').textContent()).toBe('值班员登录后确认');
    }
    await expect.poll(() => row('cot-tcp').locator('[data-test="feed-alerts"]').textContent(), { timeout: 10_000 }).toBe('1');
    // the duty officer's call panel, in another window
    const duty = await offlineContext(browser, { width: 1280, height: 800 });
    await server.trust(duty.context, 'duty');
    const calls = await duty.context.newPage();
    await calls.goto(`${server.url}/?role=calls`);
    await calls.locator('[data-test="alert-ack"]').click();
    await expect.poll(() => board.locator('[data-test="alert-handled"]').textContent(), { timeout: 10_000 }).toMatch(/求救处理中.*corvo.*已由 .+ 确认/);
    expect(await globe.locator('[data-test="alert-active"]').count()).toBe(0);
    await send('ftstest-cancel-b-a-o-can.xml');
    await expect.poll(() => globe.locator('[data-test="alert-banner"]').count(), { timeout: 10_000 }).toBe(0);
    expect(duty.problems).toEqual([]);
    await duty.context.close();
  });

  it('a feed added on the board starts listening', async () => {
    const port = await freePort();
    await board.locator('[data-test="feed-kind"]').selectOption('cot-udp');
    await board.locator('[data-test="feed-id"]').fill('field-udp');
    await board.locator('[data-test="feed-port"]').fill(String(port));
    await board.locator('[data-test="feed-add"]').click();
    await expect.poll(() => row('field-udp').count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => row('field-udp').getAttribute('data-state'), { timeout: 10_000 }).toMatch(/online|degraded/);
    // A second feed on the same port is refused with a reason.
    await board.locator('[data-test="feed-id"]').fill('again');
    await board.locator('[data-test="feed-port"]').fill(String(port));
    await board.locator('[data-test="feed-add"]').click();
    await expect.poll(() => board.locator('[data-test="feed-error"]').textContent(), { timeout: 10_000 }).toMatch(/already listens/);
    expect(problems).toEqual([]);
  });
});
