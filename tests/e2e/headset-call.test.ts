// A press that lets people talk (issue 22), the media path alone: the call panel's page in Debian's
// Chromium makes a WebRTC offer from its microphone (a fake device playing a 440 Hz file), the hall
// core dials with it over SIP through a real Kamailio, whose rtpengine stands for the platform's
// session border controller (WebRTC ↔ plain RTP), to a baresip endpoint that plays 1 kHz and records
// what it hears. Measured by frequency, not by packet counts: the recording holds 440 Hz and the
// page hears 1 kHz. The panel's own controls (devices, mute, hold, DTMF, meters) are not part of
// this test yet.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Call } from '../../common/domain.ts';
import { readWav, share } from '../helpers/audio.ts';
import { changes, isTestCard, picture, rgb } from '../helpers/picture.ts';
import { callPanel, type Served, serve } from '../helpers/serve.ts';
import { Endpoint, RTPENGINE, SipPlatform } from '../helpers/sip.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';
import { createServer, type Server } from 'node:net';

const dir = tempDir('beacon-headset-');
const why = !existsSync(RTPENGINE) ? `${RTPENGINE} missing (apt-get install rtpengine-daemon)` : spawnSync('ffmpeg', ['-version']).status !== 0 ? 'ffmpeg missing' : null;
if (why) console.log(`headset call e2e: skipped: ${why}`);

const CONTACTS = [
  'id,level,code,parent,name_zh,name_en,duty_name,duty_mobile,deputy_name,deputy_mobile,video,voip,mobile,satellite,radio',
  `t-wenling,county,331081,c-331000,温岭市应急管理局测试,Wenling test,王明,13800000001,,,,sip:ep-county@127.0.0.1,,,`,
  `t-linhai,county,331082,c-331000,临海市应急管理局测试,Linhai test,李华,13800000002,,,sip:ep-video@127.0.0.1,,,,`,
  `t-echo,county,331083,c-331000,三门县应急管理局测试,Sanmen test,赵亮,13800000003,,,sip:ep-echo@127.0.0.1,,,,`,
].join('\r\n');

describe.skipIf(!!why)('a press that lets people talk: the officer’s headset over WebRTC through the border controller', () => {
  const platform = new SipPlatform(join(dir, 'sip'), { sbc: true });
  const tone1k = join(dir, '1k.wav');
  const tone440 = join(dir, '440.wav');
  const heard = join(dir, 'heard');
  const county = new Endpoint(platform, 'ep-county', 'answer', dir, { play: tone1k, record: heard });
  const terminal = new Endpoint(platform, 'ep-video', 'answer', dir, { tone: 1000, video: true });
  // a terminal that sends back the picture it receives: the panel's camera (Chromium's fake one moves)
  const echo = new Endpoint(platform, 'ep-echo', 'answer', dir, { tone: 1000, video: 'echo' });
  let wan: Server;
  let hall: Served;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    spawnSync('mkdir', ['-p', heard]);
    for (const [f, hz, args] of [
      [tone1k, 1000, ['-ar', '48000', '-ac', '2']],
      [tone440, 440, ['-ar', '48000', '-ac', '1']],
    ] as const) {
      const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=60`, ...args, '-c:a', 'pcm_s16le', f]);
      if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
    }
    await platform.start();
    await county.start();
    await terminal.start();
    await echo.start();
    wan = createServer((s) => s.destroy());
    await new Promise<void>((r) => wan.listen(0, '127.0.0.1', () => r()));
    const wanPort = (wan.address() as { port: number }).port;
    hall = await serve(
      ['--data', join(dir, 'hall'), '--port', '0', '--uplink', `tcp://127.0.0.1:${wanPort}`, '--sip', `sip:hall@127.0.0.1:${platform.port};transport=udp`, '--sip-media', 'headset'],
      60_000,
      {
        BEACON_SIP_PASSWORD: 'pw-hall',
      },
    );
    const admin = await hall.client('admin');
    await admin.command('contacts.import', { csv: CONTACTS });
    admin.dispose();
    ({ browser, page } = await callPanel(hall, tone440));
    await page.locator('[data-test="sb-wan"][data-state="online"]').waitFor({ timeout: 30_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hall?.stop();
    await county.stop();
    await terminal.stop();
    await echo.stop();
    await platform.stop();
    wan?.close();
  });

  /** A call placed through `h` with a WebRTC offer made in the page (as the panel does), measured by
   *  frequency at both ends: what the page heard (peaks, Hz) and the far end's recording. */
  async function callAndListen(h: Served): Promise<{ peaks: number[]; s440: number; s1k: number; seconds: number }> {
    for (const f of readdirSync(heard)) rmSync(join(heard, f));
    // the page's offer: its microphone, every candidate gathered (no trickle over SIP)
    const offer = await page.evaluate(async () => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      (window as unknown as { pc: RTCPeerConnection }).pc = pc;
      const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
      for (const t of mic.getTracks()) pc.addTrack(t, mic);
      pc.ontrack = (e) => ((window as unknown as { remote: MediaStream }).remote = e.streams[0] ?? new MediaStream([e.track]));
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((r) => {
        if (pc.iceGatheringState === 'complete') return r();
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
        setTimeout(r, 3000);
      });
      return pc.localDescription!.sdp;
    });
    expect(offer).toMatch(/UDP\/TLS\/RTP\/SAVPF/);
    const duty = await h.client('duty');
    duty.subscribe('calls', () => undefined);
    const { id } = await duty.command('call.dial', { contact: 't-wenling', sdp: offer });
    await until('the call is connected', () => (duty.topic('calls').get(id) as Call | undefined)?.state === 'connected', 30_000);
    const { answer } = await duty.command('call.media', { id });
    expect(answer, platform.mediaLog.slice(-2000)).toMatch(/UDP\/TLS\/RTP\/SAVPF/);
    // what the page hears: the strongest frequency of the far end's audio, over a few seconds
    const peaks = await page.evaluate(async (sdp) => {
      const w = window as unknown as { pc: RTCPeerConnection; remote: MediaStream };
      await w.pc.setRemoteDescription({ type: 'answer', sdp });
      for (let i = 0; i < 50 && !w.remote; i++) await new Promise((r) => setTimeout(r, 100));
      // Chromium plays a remote WebRTC stream into Web Audio only while an element holds it
      const el = new Audio();
      el.srcObject = w.remote;
      el.muted = true;
      void el.play();
      const ctx = new AudioContext();
      const an = ctx.createAnalyser();
      an.fftSize = 4096;
      ctx.createMediaStreamSource(w.remote).connect(an);
      const bins = new Float32Array(an.frequencyBinCount);
      const peaks: number[] = [];
      for (let i = 0; i < 16; i++) {
        await new Promise((r) => setTimeout(r, 400));
        an.getFloatFrequencyData(bins);
        let best = 0;
        for (let k = 1; k < bins.length; k++) if (bins[k]! > bins[best]!) best = k;
        peaks.push(Math.round((best * ctx.sampleRate) / an.fftSize));
      }
      w.pc.close();
      return peaks;
    }, answer!);
    await duty.command('call.end', { id });
    duty.dispose();
    await until('baresip wrote what it heard', () => readdirSync(heard).some((f) => f.endsWith('-dec.wav')), 10_000);
    const { rate, samples } = readWav(
      join(
        heard,
        readdirSync(heard).find((f) => f.endsWith('-dec.wav'))!,
      ),
    );
    return { peaks, s440: share(samples, rate, 440), s1k: share(samples, rate, 1000), seconds: samples.length / rate };
  }

  it('the far end hears 440 Hz from the headset, the headset hears the far end’s 1 kHz', async () => {
    const r = await callAndListen(hall);
    console.log(
      `headset call e2e (UDP): the page heard ${r.peaks.join(', ')} Hz; the far end's recording (${r.seconds.toFixed(1)} s): 440 Hz ${(r.s440 * 100).toFixed(0)} % of its power, 1 kHz ${(r.s1k * 100).toFixed(1)} %`,
    );
    expect(r.peaks.filter((p) => Math.abs(p - 1000) <= 15).length, `peaks heard: ${r.peaks.join(', ')}`).toBeGreaterThanOrEqual(8);
    expect(r.seconds).toBeGreaterThan(2);
    expect(r.s440).toBeGreaterThan(0.3);
    expect(r.s1k).toBeLessThan(0.05);
  }, 90_000);

  it.each(['tls', 'wss'] as const)(
    'the same with the hall’s signalling over %s to the platform',
    async (transport) => {
      const ca = join(dir, 'platform-ca.pem');
      writeFileSync(ca, platform.ca);
      const wanPort = (wan.address() as { port: number }).port;
      const tls = await serve(
        [
          '--data',
          join(dir, `hall-${transport}`),
          '--port',
          '0',
          '--uplink',
          `tcp://127.0.0.1:${wanPort}`,
          '--sip',
          `sip:hall@127.0.0.1:${transport === 'tls' ? platform.tlsPort : platform.wssPort};transport=${transport}`,
          '--sip-ca',
          ca,
          '--sip-media',
          'headset',
        ],
        60_000,
        { BEACON_SIP_PASSWORD: 'pw-hall' },
      );
      try {
        const admin = await tls.client('admin');
        await admin.command('contacts.import', { csv: CONTACTS });
        admin.subscribe('switchboard', () => undefined);
        await until(`registered over ${transport}`, () => (admin.topic('switchboard').get('switchboard') as { sip: { state: string } } | undefined)?.sip.state === 'registered', 20_000);
        admin.dispose();
        const r = await callAndListen(tls);
        console.log(
          `headset call e2e (${transport.toUpperCase()}): the page heard ${r.peaks.join(', ')} Hz; the far end's recording: 440 Hz ${(r.s440 * 100).toFixed(0)} %, 1 kHz ${(r.s1k * 100).toFixed(1)} %`,
        );
        expect(r.peaks.filter((p) => Math.abs(p - 1000) <= 15).length).toBeGreaterThanOrEqual(8);
        expect(r.s440).toBeGreaterThan(0.3);
      } finally {
        await tls.stop();
      }
    },
    120_000,
  );

  it('one key on the call panel: the headset carries the call, with its level, statistics, mute, hold, media loss and hang-up', async () => {
    for (const f of readdirSync(heard)) rmSync(join(heard, f));
    // the panel says who carries the voice, and offers this display's devices
    expect(await page.locator('[data-test="sb-media"]').textContent()).toContain('本席耳麦');
    await expect.poll(() => page.locator('[data-test="headset-mic"] option').count(), { timeout: 5000 }).toBeGreaterThan(1);
    await page.locator('[data-test="headset-mic"]').selectOption({ index: 1 });
    expect(await page.evaluate(() => localStorage.getItem('beacon.headset.mic'))).toBeTruthy();
    await page.locator('[data-test="dial-t-wenling"]').click();
    const strip = page.locator('[data-test="headset"]');
    await strip
      .and(page.locator('[data-phase="live"]'))
      .waitFor({ timeout: 30_000 })
      .catch(async (e: Error) => {
        throw new Error(`${e.message}\npanel: ${await page.locator('[data-test="live-calls"]').textContent()}\nheadset: ${await strip.getAttribute('data-phase').catch(() => 'none')}`);
      });
    // the far end's 1 kHz is heard: the level meter moves
    await until('the far end is heard', async () => Number(await strip.getAttribute('data-level')) > 0.05, 10_000);
    await expect.poll(() => page.locator('[data-test="headset-stats"]').textContent(), { timeout: 5000 }).toMatch(/丢包 \d+ · 抖动 \d+ ms · 往返 (\d+|—) ms/);
    // 3 s of voice, 3 s muted, voice again
    await page.waitForTimeout(3000);
    await page.locator('[data-test="headset-mute"]').click();
    await expect.poll(() => page.locator('[data-test="headset-mute"]').textContent()).toBe('取消静音');
    await page.waitForTimeout(3000);
    await page.locator('[data-test="headset-mute"]').click();
    await page.waitForTimeout(2000);
    // hold: a SIP re-INVITE (a=sendonly) tells the far end, which stops sending; the call stays up
    // and the strip does not call the silence a lost line; resumed by a second re-INVITE
    const offersBefore = county.count('CALL_REMOTE_SDP');
    await page.locator('[data-test="headset-hold"]').click();
    await expect.poll(() => page.locator('[data-test="headset-hold"]').textContent()).toBe('恢复通话');
    await until('the far end got the hold', () => county.count('CALL_REMOTE_SDP') > offersBefore, 5000);
    await page.waitForTimeout(3000);
    expect(Number(await strip.getAttribute('data-level'))).toBeLessThan(0.01); // the far end sends nothing while held
    expect(await strip.getAttribute('data-phase')).toBe('live');
    await page.locator('[data-test="headset-hold"]').click();
    await until('the far end got the resume', () => county.count('CALL_REMOTE_SDP') > offersBefore + 1, 5000);
    await page.waitForFunction(() => Number(document.querySelector('[data-test="headset"]')?.getAttribute('data-level') ?? 0) > 0.05, undefined, { timeout: 5000 });
    console.log(`headset call e2e (panel): hold and resume by re-INVITE, the far end saw ${county.count('CALL_REMOTE_SDP') - offersBefore} new offers; its 1 kHz stopped while held and came back`);
    await page.waitForTimeout(2000);
    // the media path stops mid-call (the platform's media relay wedged): in 5 s the strip says so,
    // and reads live again once media flows
    platform.signalMedia('SIGSTOP');
    const lostAt = Date.now();
    await strip.and(page.locator('[data-phase="lost"]')).waitFor({ timeout: 12_000 });
    const lostAfter = Date.now() - lostAt;
    expect(await page.locator('[data-test="headset-phase"]').textContent()).toMatch(/信号中断（\d+ 秒无语音）/);
    platform.signalMedia('SIGCONT');
    await strip.and(page.locator('[data-phase="live"]')).waitFor({ timeout: 10_000 });
    console.log(`headset call e2e (panel): media stopped, the strip said 信号中断 after ${lostAfter} ms, and live again once it resumed`);
    expect(lostAfter).toBeGreaterThanOrEqual(4000);
    await page.locator('[data-test="call-t-wenling"] [data-test="call-end"]').first().click();
    await strip.waitFor({ state: 'detached', timeout: 15_000 });
    await until('baresip wrote what it heard', () => readdirSync(heard).some((f) => f.endsWith('-dec.wav')), 10_000);
    // baresip's recorder stops at the first re-INVITE (the hold), so the recording holds the mute; the
    // hold was proved above by what the far end stopped sending and took up again
    const parts = readdirSync(heard)
      .filter((f) => f.endsWith('-dec.wav'))
      .sort()
      .map((f) => readWav(join(heard, f)));
    const rate = parts[0]!.rate;
    const samples = new Int16Array(parts.reduce((n, p) => n + p.samples.length, 0));
    parts.reduce((off, p) => (samples.set(p.samples, off), off + p.samples.length), 0);
    // what the far end heard, in quarter seconds: the headset's 440 Hz, silent while muted and while
    // held, 440 Hz again after each (the recording stops at the hold, see above)
    const win = Math.floor(rate / 4);
    const rmsOf = (a: Int16Array) => {
      let p = 0;
      for (const x of a) p += x * x;
      return Math.sqrt(p / Math.max(1, a.length));
    };
    const levels: number[] = [];
    for (let i = 0; i + win <= samples.length; i += win) levels.push(rmsOf(samples.subarray(i, i + win)));
    // the headset's gain control settles over the first seconds (the level falls several fold), so voice
    // and silence are told apart against the loudest moment: silence under 2 %, voice over 5 %
    const loud = Math.max(...levels);
    const first = levels.findIndex((l) => l > loud * 0.05);
    // stretches of silence (1.5 s or more) with voice after them: the mute
    const gaps: number[] = [];
    let run = 0;
    for (let i = Math.max(0, first); i < levels.length; i++) {
      if (levels[i]! < loud * 0.02) run++;
      else if (levels[i]! > loud * 0.05) {
        if (run >= 6) gaps.push(run / 4);
        run = 0;
      }
    }
    const s440 = share(samples.subarray(first * win, (first + 8) * win), rate, 440);
    console.log(`headset call e2e (panel): the far end heard 440 Hz at ${(s440 * 100).toFixed(0)} % of its power; silences with voice after them: ${gaps.join(' s, ')} s (the mute)`);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(s440).toBeGreaterThan(0.3);
    expect(gaps.length).toBeGreaterThanOrEqual(1);
  }, 90_000);
  it('a video terminal’s picture in the panel: baresip’s test card, its frames counted as decoded', async () => {
    await page.locator('[data-test="dial-t-linhai"]').click();
    const strip = page.locator('[data-test="headset"]');
    await strip.and(page.locator('[data-phase="live"]')).waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-test="call-t-linhai"]').getAttribute('data-channel')).toBe('video');
    const video = page.locator('[data-test="call-video"]');
    await page.waitForFunction(() => (document.querySelector('[data-test="call-video"]') as HTMLVideoElement | null)?.videoWidth, undefined, { timeout: 20_000 });
    // baresip 1.0's fakevideo sends a still test card (red, green and blue bars), so the
    // frames are counted by the decoder rather than by pixel change, and the picture is checked by
    // colour where baresip draws each bar (Chromium's own fake camera looks nothing like it)
    const look = () => picture(video);
    const first = await look();
    await page.waitForTimeout(3000);
    const then = await look();
    await expect.poll(() => page.locator('[data-test="call-video-fps"]').textContent(), { timeout: 5000 }).toMatch(/对方视频 \d+ 帧\/秒/);
    console.log(
      `headset call e2e (video): ${then.width}x${then.height}, ${then.frames - first.frames} frames decoded in 3 s; bars ${rgb(then)}; ${await page.locator('[data-test="call-video-fps"]').textContent()}`,
    );
    expect(then.width).toBe(320);
    expect(then.frames - first.frames).toBeGreaterThanOrEqual(20);
    expect(isTestCard(then)).toBe(true);

    // and onto the video wall: the panel forwards the picture to a tile over the hall's LAN
    const wall = await page.context().newPage();
    await wall.goto(`${hall.url}/?role=wall&display=wall-e2e`);
    await wall.locator('[data-test="grid-4"]').click();
    await page.locator('[data-test="wall-choice"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-test="wall-choice"]').selectOption('wall-e2e');
    await page.locator('[data-test="to-wall"]').click();
    const tile = wall.locator('[data-test="wall-tile"]').first();
    await tile
      .and(wall.locator('[data-state="live"]'))
      .waitFor({ timeout: 20_000 })
      .catch(async (e: Error) => {
        throw new Error(`${e.message}\ntile: ${await tile.getAttribute('data-state')} ${await tile.textContent()}\npanel: ${await page.locator('[data-test="live-calls"]').textContent()}`);
      });
    const onWall = () => picture(tile.locator('video'));
    const w1 = await onWall();
    await wall.waitForTimeout(3000);
    const w2 = await onWall();
    console.log(`headset call e2e (video on the wall): ${w2.frames - w1.frames} frames in 3 s on the tile, its bars ${rgb(w2)}`);
    expect(w2.frames - w1.frames).toBeGreaterThanOrEqual(20);
    expect(isTestCard(w2)).toBe(true);
    // only the panel whose headset carries the call may answer a tile; only a call on a wall is relayed
    const other = await hall.client('duty');
    other.subscribe('relays', () => undefined);
    await until('the relay is seen', () => other.topic('relays').size > 0);
    const [relayId, relay] = [...other.topic('relays').entries()][0]! as [string, { call: string }];
    await expect(other.command('relay.answer', { id: relayId, sdp: 'v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\n' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(other.command('relay.offer', { call: 'call-none', sdp: 'v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\n' })).rejects.toMatchObject({ code: 'not_found' });
    expect(relay.call).toMatch(/^call-/);
    other.dispose();
    await page.locator('[data-test="call-t-linhai"] [data-test="call-end"]').first().click();
    await strip.waitFor({ state: 'detached', timeout: 15_000 });
    // the call over, the tile says so rather than holding the last picture
    await wall.locator('[data-test="tile-failed"]').filter({ hasText: '通话已结束' }).waitFor({ timeout: 10_000 });
    await wall.close();
  }, 120_000);

  it('a moving picture from a video terminal, its frames counted by pixel change in the panel and on a wall tile', async () => {
    await page.locator('[data-test="dial-t-echo"]').click();
    const strip = page.locator('[data-test="headset"]');
    await strip.and(page.locator('[data-phase="live"]')).waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => (document.querySelector('[data-test="call-video"]') as HTMLVideoElement | null)?.videoWidth, undefined, { timeout: 20_000 });
    const inPanel = await changes(page.locator('[data-test="call-video"]'));
    const wall = await page.context().newPage();
    await wall.goto(`${hall.url}/?role=wall&display=wall-echo`);
    await wall.locator('[data-test="grid-1"]').click();
    await page.locator('[data-test="wall-choice"]').selectOption('wall-echo');
    await page.locator('[data-test="to-wall"]').click();
    const tile = wall.locator('[data-test="wall-tile"][data-state="live"]').first();
    await tile.waitFor({ timeout: 20_000 });
    const onWall = await changes(tile.locator('video'));
    console.log(`headset call e2e (moving video): ${inPanel} different pictures of 10 in the panel, ${onWall} of 10 on the wall tile, 200 ms apart`);
    expect(inPanel).toBeGreaterThanOrEqual(5);
    expect(onWall).toBeGreaterThanOrEqual(5);
    await page.locator('[data-test="call-t-echo"] [data-test="call-end"]').first().click();
    await strip.waitFor({ state: 'detached', timeout: 15_000 });
    await wall.close();
  }, 120_000);
});
