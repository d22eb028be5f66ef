// The WAN cut in the middle of a call (issue 22): the platform (Kamailio, rtpengine as its border
// controller) and the far end (baresip) run in a network namespace, reached from this host (the hall
// core and the call panel's Chromium) only through a veth pair: the hall's WAN. The officer calls by
// headset; the line is cut (both ends of the veth down); the strip must say 信号中断 within seconds,
// not "connected", and the status bar must show the WAN down. The line restored, the voice returns on
// the same call. Needs root (ip netns); skipped with the reason otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callPanel, type Served, serve } from '../helpers/serve.ts';
import { Endpoint, RTPENGINE, SipPlatform } from '../helpers/sip.ts';
import { openThinLink, thinLinkUnavailable, type ThinLink } from '../helpers/thin-link.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-wan-cut-');
const why = thinLinkUnavailable() ?? (!existsSync(RTPENGINE) ? `${RTPENGINE} missing` : spawnSync('ffmpeg', ['-version']).status !== 0 ? 'ffmpeg missing' : null);
if (why) console.log(`WAN cut e2e: skipped: ${why}`);

const CONTACTS = [
  'id,level,code,parent,name_zh,name_en,duty_name,duty_mobile,deputy_name,deputy_mobile,video,voip,mobile,satellite,radio',
  `t-sanmen,county,331022,c-331000,三门县应急管理局测试,Sanmen test,赵强,13800000003,,,,sip:ep-far@{HOST},,,`,
].join('\r\n');

describe.skipIf(!!why)('a headset call whose WAN is cut mid-call', () => {
  let link: ThinLink;
  let platform: SipPlatform;
  let far: Endpoint;
  let hall: Served;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    link = openThinLink(`w${process.pid % 1000}`, 26);
    platform = new SipPlatform(join(dir, 'sip'), { sbc: true, host: link.nsIp, wrap: (c, a) => link.inNs(c, ...a) });
    far = new Endpoint(platform, 'ep-far', 'answer', dir, { tone: 1000 });
    const tone440 = join(dir, '440.wav');
    const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=120', '-ar', '48000', '-ac', '1', '-c:a', 'pcm_s16le', tone440]);
    if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
    await platform.start();
    await far.start();
    // the hall's WAN monitor probes the platform across the same line
    hall = await serve(
      ['--data', join(dir, 'hall'), '--port', '0', '--uplink', `tcp://${link.nsIp}:${platform.port}`, '--sip', `sip:hall@${link.nsIp}:${platform.port};transport=udp`, '--sip-media', 'headset'],
      60_000,
      { BEACON_SIP_PASSWORD: 'pw-hall' },
    );
    const admin = await hall.client('admin');
    await admin.command('contacts.import', { csv: CONTACTS.replace('{HOST}', link.nsIp) });
    admin.dispose();
    ({ browser, page } = await callPanel(hall, tone440));
    await page.locator('[data-test="sb-wan"][data-state="online"]').waitFor({ timeout: 30_000 });
  }, 180_000);

  afterAll(async () => {
    link?.cut(false);
    await browser?.close();
    await hall?.stop();
    await far?.stop();
    await platform?.stop();
    link?.close();
  });

  it('says 信号中断 once the line is cut, shows the WAN down, and is live again when it returns', async () => {
    await page.locator('[data-test="dial-t-sanmen"]').click();
    const strip = page.locator('[data-test="headset"]');
    await strip.and(page.locator('[data-phase="live"]')).waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => Number(document.querySelector('[data-test="headset"]')?.getAttribute('data-level') ?? 0) > 0.01, undefined, { timeout: 15_000 });
    const cutAt = Date.now();
    link.cut(true);
    await strip.and(page.locator('[data-phase="lost"]')).waitFor({ timeout: 15_000 });
    const lostAfter = Date.now() - cutAt;
    expect(await page.locator('[data-test="headset-phase"]').textContent()).toMatch(/信号中断（\d+ 秒无语音）/);
    // never "connected" with a silent line: the call stays up (a WAN blip is not a hang-up), the strip says why
    expect(await page.locator('[data-test="call-t-sanmen"]').getAttribute('data-state')).toBe('connected');
    await page.locator('[data-test="sb-wan"][data-state="offline"]').waitFor({ timeout: 30_000 });
    const wanAfter = Date.now() - cutAt;
    link.cut(false);
    const backAt = Date.now();
    await strip.and(page.locator('[data-phase="live"]')).waitFor({ timeout: 20_000 });
    console.log(`WAN cut e2e: the strip said 信号中断 ${lostAfter} ms after the cut, the status bar 外网中断 after ${wanAfter} ms; the voice was back ${Date.now() - backAt} ms after the line`);
    expect(lostAfter).toBeGreaterThanOrEqual(4000);
    await page.locator('[data-test="call-t-sanmen"] [data-test="call-end"]').first().click();
    await strip.waitFor({ state: 'detached', timeout: 15_000 });
  }, 120_000);
});
