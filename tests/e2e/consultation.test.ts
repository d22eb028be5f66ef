// A consultation from the call panel (issue 22), with real peers: Kamailio, two baresip endpoints (one
// tone each, recording what they hear), Janus's AudioBridge standing for the platform's MCU, and the
// panel's page in Debian's Chromium whose fake microphone plays 440 Hz. The panel shows the mix
// (会商桥混音中), who is in; the officer joins with the headset (WebRTC to the bridge) and both far
// ends hear 440 Hz; the bridge reports the officer speaking; mute-participant from the panel takes
// one city out of the other's ears; leaving takes the headset out of the mix. Both cities are video
// terminals (baresip's fakevideo test card): the bridge takes their cameras, the panel shows them, and
// 会商上墙 puts them on a wall display's tiles, which follow a city's redial. The bridge restarted
// mid-consultation: the same calls mix again, the headset and the pictures come back.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mix } from '../../common/domain.ts';
import { readWav, share } from '../helpers/audio.ts';
import { consultationHall, janusUnavailable, Mcu } from '../helpers/janus.ts';
import { isTestCard, picture, rgb, type Picture, type Rgb } from '../helpers/picture.ts';
import { callPanel, type Served } from '../helpers/serve.ts';
import { Endpoint, SipPlatform } from '../helpers/sip.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const dir = tempDir('beacon-consultation-');
const why = janusUnavailable() ?? (spawnSync('ffmpeg', ['-version']).status !== 0 ? 'ffmpeg missing' : null);
if (why) console.log(`consultation e2e: skipped: ${why}`);

const CONTACTS = [
  'id,level,code,parent,name_zh,name_en,duty_name,duty_mobile,deputy_name,deputy_mobile,video,voip,mobile,satellite,radio',
  `c-a,city,331000,,台州市应急管理局测试,Taizhou test,甲,13800000001,,,sip:ep-a@127.0.0.1,,,,`,
  `c-b,city,330300,,温州市应急管理局测试,Wenzhou test,乙,13800000002,,,sip:ep-b@127.0.0.1,,,,`,
].join('\r\n');
const TONES = { a: 600, b: 1100 } as const;

/** The next picture a baresip terminal shows (its snapshot module's PNG, decoded by ffmpeg), or null. */
async function screen(ep: Endpoint, file: string): Promise<{ width: number; height: number; at: (x: number, y: number) => Rgb } | null> {
  await ep.command('snapshot_recv', file);
  const t = Date.now();
  // baresip writes the file as it goes: wait until it is there and has stopped growing
  let size = -1;
  while (Date.now() - t < 3000) {
    await new Promise((r) => setTimeout(r, 100));
    const now = existsSync(file) ? statSync(file).size : -1;
    if (now > 0 && now === size) break;
    size = now;
  }
  if (size <= 24) return null;
  const png = readFileSync(file);
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const raw = spawnSync('ffmpeg', ['-loglevel', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { maxBuffer: 64 << 20 }).stdout;
  if (raw.length < width * height * 3) return null;
  return { width, height, at: (x, y) => [...raw.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)] as Rgb };
}

describe.skipIf(!!why)('a consultation on the call panel, mixed by the conference bridge', () => {
  const platform = new SipPlatform(join(dir, 'sip'));
  const mcu = new Mcu(dir);
  const rec = (w: 'a' | 'b') => join(dir, `heard-${w}`);
  const eps = {
    a: new Endpoint(platform, 'ep-a', 'answer', dir, { tone: TONES.a, record: rec('a'), levels: true, video: true }),
    b: new Endpoint(platform, 'ep-b', 'answer', dir, { tone: TONES.b, record: rec('b'), levels: true, video: true }),
  };
  const tone440 = join(dir, '440.wav');
  const camera = join(dir, 'hall-camera.y4m');
  let hall: Served;
  let browser: Browser;
  let page: Page;
  let consult = '';

  const tail = (w: 'a' | 'b', seconds: number) => {
    const f = readdirSync(rec(w))
      .filter((n) => n.endsWith('-dec.wav'))
      .sort()
      .pop();
    if (!f) throw new Error(`no recording from ep-${w}: ${eps[w].describe()}`);
    const { rate, samples } = readWav(join(rec(w), f));
    const s = samples.subarray(Math.max(0, samples.length - seconds * rate));
    return (hz: number) => share(s, rate, hz);
  };

  /** Wait until terminal w shows the multi-picture: baresip saves its next decoded picture; 2x2 cells of
   *  320x240: the hall (magenta) top left, then Taizhou and Wenzhou in the consultation's order. */
  const seesMultiPicture = async (w: 'a' | 'b'): Promise<string> => {
    let last = '';
    await until(
      `ep-${w} shows the multi-picture`,
      async () => {
        const s = await screen(eps[w], join(dir, `screen-${w}-${Date.now()}.png`));
        if (!s) return false;
        const cellHall = s.at(160, 40);
        const wenzhou: Picture['bars'] = [s.at(53, 360), s.at(160, 360), s.at(267, 360)];
        const taizhou: Picture['bars'] = [s.at(373, 120), s.at(480, 120), s.at(587, 120)];
        last = `${s.width}x${s.height} hall rgb(${cellHall.join(',')}) Taizhou ${taizhou.map((p) => `rgb(${p.join(',')})`).join(' ')} Wenzhou ${wenzhou.map((p) => `rgb(${p.join(',')})`).join(' ')}`;
        const magenta = cellHall[0] > 170 && cellHall[2] > 170 && cellHall[1] < 100;
        return s.width === 640 && magenta && isTestCard({ bars: wenzhou }) && isTestCard({ bars: taizhou });
      },
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${last}`);
    });
    return last;
  };

  beforeAll(async () => {
    for (const w of ['a', 'b'] as const) mkdirSync(rec(w), { recursive: true });
    const lavfi = (source: string, ...out: string[]) => {
      const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source, ...out]);
      if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
    };
    // beeps, as speech comes in bursts: a steady tone is what a headset's noise suppression learns
    // as noise and takes out within seconds
    lavfi('sine=frequency=440:duration=120', '-af', "volume=6,volume='if(lt(mod(t,0.8),0.4),1,0)':eval=frame", '-ar', '48000', '-ac', '1', '-c:a', 'pcm_s16le', tone440);
    // the hall's camera: magenta, nothing like baresip's test card, with a white box moving across
    // its middle (baresip's own card is still, so the motion is what shows frames arriving)
    lavfi("color=c=magenta:s=320x240:r=10[bg];color=c=white:s=40x40:r=10[box];[bg][box]overlay=x='mod(t*140\\,280)':y=100:shortest=1", '-t', '2', '-pix_fmt', 'yuv420p', camera);
    hall = await consultationHall(platform, mcu, Object.values(eps), dir, CONTACTS);
    ({ browser, page } = await callPanel(hall, tone440, camera));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hall?.stop();
    for (const e of Object.values(eps)) await e.stop();
    await mcu.stop();
    await platform.stop();
  });

  it('shows the mix and who is in; the headset joins and both cities hear the officer', async () => {
    const duty = await hall.client('duty');
    consult = (await duty.command('consult.start', { contacts: ['c-a', 'c-b'], title: '防汛会商测试' })).id;
    duty.dispose();
    await page.locator(`[data-test="mix-${consult}"][data-state="mixing"]`).waitFor({ timeout: 20_000 });
    expect(await page.locator(`[data-test="mix-${consult}"]`).textContent()).toContain('会商桥混音中');
    for (const c of ['c-a', 'c-b']) await page.locator(`[data-test="in-${c}"][data-mix="in"]`).waitFor({ timeout: 20_000 });
    // each city speaks (its tone): shown speaking, with its level
    for (const c of ['c-a', 'c-b']) {
      await page.locator(`[data-test="in-${c}"][data-talking="true"]`).waitFor({ timeout: 10_000 });
      expect(Number(await page.locator(`[data-test="level-${c}"]`).getAttribute('data-level'))).toBeGreaterThanOrEqual(0.7);
    }
    await page.locator('[data-test="mix-join"]').click();
    await page.locator('[data-test="headset"][data-phase="live"]').waitFor({ timeout: 20_000 });
    // the mix of the two cities reaches the page: its level meter moves
    await page.waitForFunction(() => Number(document.querySelector('[data-test="headset"]')?.getAttribute('data-level') ?? 0) > 0.01, undefined, { timeout: 15_000 });
    // the bridge hears the officer speaking (Chromium sends RFC 6464 levels; Janus reads them)
    await page.locator('[data-talking="true"]', { hasText: '本厅耳麦' }).or(page.locator('li[data-test^="headset-"] [data-talking="true"]')).first().waitFor({ timeout: 20_000 });
    const t0 = Date.now();
    // The officer's voice is quieter than a far end's full-scale tone (the headset's gain control, and
    // beeps against a steady tone): 440 Hz holds 1-5 % of what each city hears, against a floor of
    // 0.06 % before the headset joined. 0.5 % is eight times the floor.
    await until('both cities hear the officer', () => tail('a', 1)(440) > 0.005 && tail('b', 1)(440) > 0.005, 20_000);
    console.log(`consultation e2e: both recordings hold 440 Hz ${((Date.now() - t0) / 1000).toFixed(1)} s after the bridge reported the officer speaking`);
    await page.waitForTimeout(3000);
    for (const w of ['a', 'b'] as const) {
      const h = tail(w, 3);
      const other = w === 'a' ? TONES.b : TONES.a;
      console.log(
        `consultation e2e: ep-${w} heard 440 Hz (the officer) ${(h(440) * 100).toFixed(1)} %, ${other} Hz (the other city) ${(h(other) * 100).toFixed(1)} %, its own ${(h(TONES[w]) * 100).toFixed(1)} %`,
      );
      expect(h(440)).toBeGreaterThan(0.005);
      expect(h(other)).toBeGreaterThan(0.04);
      expect(h(TONES[w])).toBeLessThan(0.01);
    }
  }, 120_000);

  it('the officer sees both cities on the panel; 会商上墙 puts them on the wall, which follows a redial', async () => {
    for (const c of ['c-a', 'c-b']) await page.locator(`[data-test="cam-${c}"][data-state="live"]`).waitFor({ timeout: 20_000 });
    const wall = await page.context().newPage();
    await wall.goto(`${hall.url}/?role=wall&display=wall-consult`);
    await wall.locator('[data-test="grid-1"]').click();
    await page.locator('[data-test="consult-wall-choice"]').selectOption('wall-consult');
    await page.locator('[data-test="consult-to-wall"]').click();
    const tile = (c: string) => wall.locator(`[data-test="wall-tile"][data-source="mix:${c}"]`);
    for (const c of ['c-a', 'c-b'])
      await tile(c)
        .and(wall.locator('[data-state="live"]'))
        .waitFor({ timeout: 20_000 })
        .catch(async (e: Error) => {
          throw new Error(`${e.message}\ntile ${c}: ${await tile(c).getAttribute('data-state')} ${await tile(c).textContent()}`);
        });
    // the layout grew to hold both cities, and each tile plays its city's camera
    expect(await wall.locator('[data-test="wall-grid"]').getAttribute('data-grid')).toBe('4');
    for (const c of ['c-a', 'c-b']) {
      const v = tile(c).locator('video');
      const p1 = await picture(v);
      await wall.waitForTimeout(3000);
      const p2 = await picture(v);
      console.log(`consultation e2e (video): ${c} on the wall ${p2.width}x${p2.height}, ${p2.frames - p1.frames} frames decoded in 3 s, bars ${rgb(p2)}`);
      expect(p2.width).toBe(320);
      expect(p2.frames - p1.frames).toBeGreaterThanOrEqual(20);
      expect(isTestCard(p2)).toBe(true);
    }
    // Wenzhou hangs up: its tile says it is not in, not a frozen picture; redialled, it plays again
    await eps.b.hangup();
    await tile('c-b').and(wall.locator('[data-state="none"]')).waitFor({ timeout: 15_000 });
    expect(await tile('c-b').textContent()).toContain('尚未入会');
    await page.locator('[data-test="redial-c-b"]').click();
    const t0 = Date.now();
    await tile('c-b').and(wall.locator('[data-state="live"]')).waitFor({ timeout: 30_000 });
    const back = (Date.now() - t0) / 1000;
    const q1 = await picture(tile('c-b').locator('video'));
    await wall.waitForTimeout(2000);
    const q2 = await picture(tile('c-b').locator('video'));
    console.log(`consultation e2e (video): Wenzhou's tile live again ${back.toFixed(1)} s after the redial; ${q2.frames - q1.frames} frames in the next 2 s`);
    expect(q2.frames - q1.frames).toBeGreaterThanOrEqual(10);
    await wall.close();
  }, 120_000);

  it('多画面送各方: each video terminal sees the hall and both cities in one picture', async () => {
    await page.locator('[data-test="consult-send"]').click();
    const t0 = Date.now();
    await page.locator('[data-test="consult-picture"][data-sending="true"]').waitFor({ timeout: 15_000 });
    const duty = await hall.client('duty');
    duty.subscribe('mixes', () => undefined);
    await until('the mix names who sends the picture', () => !!(duty.topic('mixes').get(consult) as Mix | undefined)?.picture, 10_000);
    duty.dispose();
    for (const w of ['a', 'b'] as const) console.log(`consultation e2e (multi-picture): ep-${w}'s screen ${await seesMultiPicture(w)}, ${((Date.now() - t0) / 1000).toFixed(1)} s after 多画面送各方`);
    // the picture moves on the terminal's screen: where the hall camera's white box is, in four of its
    // pictures 300 ms apart
    const boxes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await screen(eps.a, join(dir, `moving-${i}-${Date.now()}.png`));
      if (s) boxes.push(Array.from({ length: 320 }, (_, x) => x).find((x) => s.at(x, 120).every((v) => v > 200)) ?? -1);
      await new Promise((r) => setTimeout(r, 300));
    }
    console.log(`consultation e2e (multi-picture): the hall's white box on ep-a's screen at x = ${boxes.join(', ')}`);
    expect(new Set(boxes.filter((x) => x >= 0)).size).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('the bridge restarted mid-consultation: the same calls mix again, and the headset and pictures come back', async () => {
    const mixState = () => page.locator(`[data-test="mix-${consult}"]`).getAttribute('data-state');
    await mcu.stop();
    await page.locator(`[data-test="mix-${consult}"][data-state="bridge_down"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator(`[data-test="mix-${consult}"]`).textContent()).toContain('会商桥不可用');
    const t0 = Date.now();
    await mcu.start();
    await page.locator(`[data-test="mix-${consult}"][data-state="mixing"]`).waitFor({ timeout: 30_000 });
    for (const c of ['c-a', 'c-b']) await page.locator(`[data-test="in-${c}"][data-mix="in"][data-talking="true"]`).waitFor({ timeout: 20_000 });
    await page.locator('[data-test="headset"][data-phase="live"]').waitFor({ timeout: 20_000 });
    for (const c of ['c-a', 'c-b']) await page.locator(`[data-test="cam-${c}"][data-state="live"]`).waitFor({ timeout: 20_000 });
    console.log(`consultation e2e: the bridge restarted; mixing, the headset and both pictures back ${((Date.now() - t0) / 1000).toFixed(1)} s after (${await mixState()})`);
    // the officer is heard again, and the terminals see the multi-picture again
    await until('both cities hear the officer again', () => tail('a', 1)(440) > 0.005 && tail('b', 1)(440) > 0.005, 20_000);
    await page.locator('[data-test="consult-picture"][data-sending="true"]').waitFor({ timeout: 10_000 });
    for (const w of ['a', 'b'] as const) await seesMultiPicture(w);
    console.log(`consultation e2e: the multi-picture back on both terminals ${((Date.now() - t0) / 1000).toFixed(1)} s after the bridge restarted`);
    await page.locator('[data-test="consult-send-stop"]').click();
    await page.locator('[data-test="consult-picture"][data-sending="false"]').waitFor({ timeout: 10_000 });
  }, 90_000);

  it('mute-participant from the panel takes a city out of the others’ ears; leaving takes the headset out', async () => {
    await page.locator('[data-test="mute-c-a"]').click();
    await page.locator('[data-test="in-c-a"][data-muted="true"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-test="in-c-a"][data-talking="false"]').waitFor({ timeout: 5000 });
    expect(await page.locator('[data-test="in-c-a"]').textContent()).toContain('已静音');
    await page.waitForTimeout(4000);
    const b = tail('b', 3);
    console.log(`consultation e2e: with Taizhou muted, ep-b heard 600 Hz ${(b(TONES.a) * 100).toFixed(1)} %, 440 Hz ${(b(440) * 100).toFixed(1)} %`);
    expect(b(TONES.a)).toBeLessThan(0.01);
    expect(b(440)).toBeGreaterThan(0.1);
    await page.locator('[data-test="mix-leave"]').click();
    await page.locator('li[data-test^="headset-"]').waitFor({ state: 'detached', timeout: 10_000 });
    await page.waitForTimeout(3000);
    expect(tail('b', 2)(440)).toBeLessThan(0.01);
    await page.locator('[data-test="consult-end"]').click();
    await page.locator(`[data-test="mix-${consult}"]`).waitFor({ state: 'detached', timeout: 10_000 });
  }, 60_000);
});
