// The call panel in serve mode, in Chromium with no network but loopback, against real parts:
// Kamailio + baresip endpoints as the SIP platform, the satellite terminal emulator on a socat
// pseudo-terminal (no satellite network can run here), and a WAN endpoint the link monitor probes
// (the test closes it to take the WAN down). The directory comes in through `beacon import contacts`.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, offlineContext } from '../helpers/browser.ts';
import { ModemEmulator } from '../helpers/modem.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { Consoles } from '../../main/core/trust/credentials.ts';
import { Endpoint, SipPlatform } from '../helpers/sip.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const dir = tempDir('beacon-e2e-calls-');
const platform = new SipPlatform(join(dir, 'sip'));
const answer = new Endpoint(platform, 'ep-answer', 'answer', dir);
const busy = new Endpoint(platform, 'ep-busy', 'reject', dir);
const silent = new Endpoint(platform, 'ep-silent', 'ignore', dir);
const emu = new ModemEmulator(dir);
let wan: Server;
let server: Served;
let browser: Browser;
let page: Page;
let problems: string[];
let blocked: string[];

const sip = (u: string) => `sip:${u}@127.0.0.1`;
const CSV = [
  'id,level,code,parent,name_zh,name_en,duty_name,duty_mobile,deputy_name,deputy_mobile,video,voip,mobile,satellite,radio',
  `t-wenling,county,331081,c-331000,温岭市应急管理局测试,Wenling test,王明,13800000001,李华,13800000002,${sip('ep-answer')},${sip('ep-answer')},,17400000001,TG-1`,
  `t-sanmen,county,331022,c-331000,三门县应急管理局测试,Sanmen test,钱进,13800000004,,,${sip('ep-busy')},${sip('ep-answer')},,,`,
  `t-linhai,county,331082,c-331000,临海市应急管理局测试,Linhai test,周平,13800000006,,,${sip('ep-silent')},${sip('ep-busy')},,,`,
].join('\r\n');

const card = (contact: string) => page.locator(`[data-test="call-${contact}"]`).first();

beforeAll(async () => {
  await platform.start();
  await Promise.all([answer.start(), busy.start(), silent.start()]);
  await emu.start();
  wan = createServer((s) => s.destroy());
  await new Promise<void>((r) => wan.listen(0, '127.0.0.1', () => r()));
  const wanPort = (wan.address() as { port: number }).port;
  server = await serve(
    ['--data', join(dir, 'hall'), '--port', '0', '--uplink', `tcp://127.0.0.1:${wanPort}`, '--sip', `sip:hall@127.0.0.1:${platform.port};transport=udp`, '--modem', emu.device, '--no-answer', '5'],
    60_000,
    { BEACON_SIP_PASSWORD: 'pw-hall' },
  );
  // The directory through the CLI, as a bureau's IT staff would load it.
  writeFileSync(join(dir, 'contacts.csv'), '\uFEFF' + CSV);
  // An administrator's console token (beacon token add --role admin): loading the directory is configuration.
  const { token: adminToken } = new Consoles(join(dir, 'hall')).add('信息中心', 'admin');
  const imp = spawnSync(process.execPath, ['main/cli.ts', 'import', 'contacts', join(dir, 'contacts.csv'), '--url', `${server.url.replace(/^http/, 'ws')}/hub`, '--token', adminToken], {
    encoding: 'utf8',
  });
  expect(imp.stdout + imp.stderr).toMatch(/3 rows: 3 added/);
  browser = await launch();
  const ctx = await offlineContext(browser, { width: 1280, height: 800 });
  await server.trust(ctx.context, 'duty');
  problems = ctx.problems;
  blocked = ctx.blocked;
  page = await ctx.context.newPage();
  await page.goto(`${server.url}/?role=calls`);
  await page.locator('[data-test="sb-sip"][data-state="registered"]').waitFor({ timeout: 30_000 });
  await page.locator('[data-test="sb-sat"][data-state="ready"]').waitFor({ timeout: 30_000 });
  await page.locator('[data-test="sb-wan"][data-state="online"]').waitFor({ timeout: 30_000 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => wan?.close(r));
  await Promise.all([answer.stop(), busy.stop(), silent.stop()]);
  await emu.stop();
  await platform.stop();
});

describe('one-key connect in the browser', () => {
  it("shows the satellite terminal's signal and network registration as the terminal reports them", async () => {
    // AT+CSQ 18 -> 3 of 5 bars; AT+CREG? 0,1 -> registered on its home network.
    await expect.poll(() => page.locator('[data-test="sb-sat"] .bars').getAttribute('data-bars'), { timeout: 15_000 }).toBe('3');
    expect(await page.locator('[data-test="sb-sat-reg"]').textContent()).toBe('已注册网络');
    emu.csq = 31;
    await expect.poll(() => page.locator('[data-test="sb-sat"] .bars').getAttribute('data-bars'), { timeout: 15_000 }).toBe('5');
  });

  it('finds a county by pinyin initials and one press reaches its SIP endpoint', async () => {
    await page.locator('[data-test="contact-search"]').fill('wlsyjgljcs');
    await expect.poll(() => page.locator('[data-test="contacts"] li').count()).toBe(1);
    const established = answer.count('CALL_ESTABLISHED');
    await page.locator('[data-test="dial-t-wenling"]').click();
    await card('t-wenling').and(page.locator('[data-state="connected"]')).waitFor({ timeout: 20_000 });
    expect(await card('t-wenling').getAttribute('data-channel')).toBe('video');
    expect(answer.count('CALL_ESTABLISHED')).toBeGreaterThan(established);
    expect(await card('t-wenling').locator('[data-test="call-state"]').textContent()).toBe('已接通');
    // The timer runs while connected.
    const t1 = await card('t-wenling').locator('[data-test="call-timer"]').textContent();
    await expect.poll(() => card('t-wenling').locator('[data-test="call-timer"]').textContent(), { timeout: 5000 }).not.toBe(t1);
    await card('t-wenling').locator('[data-test="call-end"]').click();
    await card('t-wenling').and(page.locator('[data-state="ended"]')).waitFor({ timeout: 10_000 });
    await until('endpoint saw the hang-up', () => answer.count('CALL_CLOSED') > 0, 5000);
  });

  it('a three-party consultation shows who is in, who rang out, and offers redial', async () => {
    await page.locator('[data-test="contact-search"]').fill('测试');
    for (const id of ['t-wenling', 't-sanmen', 't-linhai']) await page.locator(`[data-test="select-${id}"]`).check();
    await page.locator('[data-test="consult-start"]').click();
    const leg = (id: string) => page.locator(`[data-test="leg-${id}"]`);
    await leg('t-wenling').and(page.locator('[data-state="connected"]')).waitFor({ timeout: 20_000 });
    // Sanmen's video is busy; its VoIP answers.
    await leg('t-sanmen').and(page.locator('[data-state="connected"]')).waitFor({ timeout: 20_000 });
    expect(await leg('t-sanmen').textContent()).toMatch(/视频 忙.*电话 接通/);
    // Linhai's video rings out after 5 s, its VoIP is busy: not reached, redial offered.
    await leg('t-linhai').and(page.locator('[data-state="failed"]')).waitFor({ timeout: 30_000 });
    expect(await leg('t-linhai').textContent()).toMatch(/5 秒无人接听/);
    await expect.poll(() => page.locator('[data-test="redial-t-linhai"]').count()).toBe(1);
    await page.locator('[data-test="consult-end"]').click();
    await expect.poll(() => page.locator('[data-test^="consult-"]').count(), { timeout: 15_000 }).toBe(0);
  });

  it('with the WAN down the same press skips the SIP channels and goes out over the satellite phone', async () => {
    await new Promise((r) => wan.close(r));
    await page.locator('[data-test="sb-wan"][data-state="offline"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-test="contact-search"]').fill('wl');
    // The plan shows before the press: video and VoIP struck through.
    const row = page.locator('li[data-id="t-wenling"]');
    await expect.poll(() => row.locator('.chan.skip').count()).toBe(2);
    const before = emu.commands.filter((c) => c.startsWith('ATD')).length;
    await page.locator('[data-test="dial-t-wenling"]').click();
    await card('t-wenling').and(page.locator('[data-state="connected"][data-channel="satellite"]')).waitFor({ timeout: 20_000 });
    expect(emu.commands.filter((c) => c.startsWith('ATD')).length).toBe(before + 1);
    const steps = await card('t-wenling').locator('.attempts li').allTextContents();
    expect(steps).toEqual(['视频 跳过 (外网中断)', '电话 跳过 (外网中断)', '卫星 接通']);
    await card('t-wenling').locator('[data-test="call-end"]').click();
    await card('t-wenling').and(page.locator('[data-state="ended"]')).waitFor({ timeout: 10_000 });
    expect(emu.inCall).toBe(false);
  });

  it('a county picked on the globe lists its contacts, one press away', async () => {
    const globe = await page.context().newPage();
    await globe.goto(`${server.url}/?role=globe&msaa=1&probe=1&view=121.386,28.372,80000`);
    await globe.locator('[data-test="globe"][data-tiles-loaded="true"]').waitFor({ timeout: 90_000 });
    const at = await globe.evaluate(() => (window as unknown as { beaconProbe: { toScreen(lon: number, lat: number): { x: number; y: number } | null } }).beaconProbe.toScreen(121.386, 28.372));
    expect(at).not.toBeNull();
    // The view is centred on the seat, clear of the side panels; screen coordinates are the canvas's.
    const box = (await globe.locator('[data-test="globe"]').boundingBox())!;
    await globe.mouse.click(box.x + at!.x, box.y + at!.y);
    const cardEl = globe.locator('[data-test="area-contacts"][data-code="331081"]');
    await cardEl.waitFor({ timeout: 20_000 });
    // Wenling's own duty office, its demo townships and villages, and the imported test contact.
    await expect.poll(() => cardEl.locator('li[data-id="t-wenling"]').count()).toBe(1);
    expect(await cardEl.locator('li[data-id="c-331081"]').count()).toBe(1);
    await cardEl.locator('[data-test="area-dial-t-wenling"]').click();
    // The WAN is still down: the satellite phone carries it, and the card says so.
    await cardEl.locator('li[data-id="t-wenling"][data-state="connected"]').waitFor({ timeout: 20_000 });
    expect(await cardEl.locator('li[data-id="t-wenling"] .state').textContent()).toMatch(/已接通 · 卫星/);
    await cardEl.locator('li[data-id="t-wenling"] .state button').click();
    await cardEl.locator('li[data-id="t-wenling"][data-state="ended"]').waitFor({ timeout: 10_000 });
    await globe.close();
  });

  it('the call log lists every call, and nothing left the machine', async () => {
    await expect.poll(() => page.locator('[data-test="call-log"] tbody tr').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
  });
});
