// A consultation that is a conference (issue 22): three baresip endpoints, each playing its own tone
// and recording what it hears, are dialled by the hall (`beacon serve`) through a real Kamailio; the
// hall joins each leg to a room of Janus's AudioBridge (Debian's `janus`, standing for the platform's
// MCU) by third-party call control: an INVITE without SDP, the far end's offer given to the bridge,
// the bridge's answer in the ACK. Measured by frequency: each recording holds the other two tones
// and not its own (the bridge mixes N-1). Then the panel's state: who speaks (each leg's voice
// forwarded alone to the hall's meter), mute-participant (the
// muted tone leaves the others' recordings), a participant who hangs up is shown out of the mix, and
// a redial brings it back.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Call, Mix, Switchboard } from '../../common/domain.ts';
import { readWav, share } from '../helpers/audio.ts';
import { consultationHall, janusUnavailable, Mcu } from '../helpers/janus.ts';
import type { Served } from '../helpers/serve.ts';
import { Endpoint, SipPlatform } from '../helpers/sip.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const dir = tempDir('beacon-conference-');
const why = janusUnavailable();
if (why) console.log(`conference: skipped: ${why}`);

const TONES = { a: 600, b: 1100, c: 1700 } as const;
type Who = keyof typeof TONES;
const CONTACTS = [
  'id,level,code,parent,name_zh,name_en,duty_name,duty_mobile,deputy_name,deputy_mobile,video,voip,mobile,satellite,radio',
  `c-a,city,331000,,台州市应急管理局测试,Taizhou test,甲,13800000001,,,,sip:ep-a@127.0.0.1,,,`,
  `c-b,city,330300,,温州市应急管理局测试,Wenzhou test,乙,13800000002,,,,sip:ep-b@127.0.0.1,,,`,
  `c-c,city,330200,,宁波市应急管理局测试,Ningbo test,丙,13800000003,,,,sip:ep-c@127.0.0.1,,,`,
].join('\r\n');

describe.skipIf(!!why)('a consultation mixed by a conference bridge', () => {
  const platform = new SipPlatform(join(dir, 'sip'));
  const mcu = new Mcu(dir);
  const rec = (w: Who) => join(dir, `heard-${w}`);
  const eps = Object.fromEntries((Object.keys(TONES) as Who[]).map((w) => [w, new Endpoint(platform, `ep-${w}`, 'answer', dir, { tone: TONES[w], record: rec(w), levels: true })])) as Record<
    Who,
    Endpoint
  >;
  let hall: Served;
  let consult = '';

  beforeAll(async () => {
    for (const w of Object.keys(TONES) as Who[]) mkdirSync(rec(w), { recursive: true });
    hall = await consultationHall(platform, mcu, Object.values(eps), dir, CONTACTS);
  }, 120_000);

  afterAll(async () => {
    await hall?.stop();
    for (const e of Object.values(eps)) await e.stop();
    await mcu.stop();
    await platform.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const recording = (w: Who) => {
    const f = readdirSync(rec(w)).filter((n) => n.endsWith('-dec.wav'));
    if (!f.length) throw new Error(`no recording from ep-${w}: ${eps[w].describe()}`);
    return readWav(join(rec(w), f.sort().pop()!));
  };
  /** Power shares of the three tones in the last `seconds` of w's recording. */
  const heard = (w: Who, seconds: number) => {
    const { rate, samples } = recording(w);
    const tail = samples.subarray(Math.max(0, samples.length - seconds * rate));
    return Object.fromEntries((Object.keys(TONES) as Who[]).map((x) => [x, share(tail, rate, TONES[x])])) as Record<Who, number>;
  };

  it('each participant hears the other two and not itself', async () => {
    const duty = await hall.client('duty');
    duty.subscribe('mixes', () => undefined);
    duty.subscribe('calls', () => undefined);
    consult = (await duty.command('consult.start', { contacts: ['c-a', 'c-b', 'c-c'], title: '防台会商测试' })).id;
    const mix = () => duty.topic('mixes').get(consult) as Mix | undefined;
    await until('all three in the mix', () => ['c-a', 'c-b', 'c-c'].every((c) => mix()?.members[c]?.joined), 30_000);
    expect(mix()!.state).toBe('mixing');
    // the media goes far end <-> bridge: give it a few seconds of mixing
    await new Promise((r) => setTimeout(r, 6000));
    // Two full-scale tones summed clip in the mix (as loud voices would), which spreads power into
    // harmonics: each tone holds 5-20 % of what is heard, against well under 1 % at any tone absent.
    const all = Object.fromEntries((Object.keys(TONES) as Who[]).map((w) => [w, heard(w, 4)])) as Record<Who, Record<Who, number>>;
    for (const w of Object.keys(TONES) as Who[])
      console.log(`conference: ep-${w} (plays ${TONES[w]} Hz) heard ${(Object.keys(TONES) as Who[]).map((x) => `${TONES[x]} Hz ${(all[w][x] * 100).toFixed(1)} %`).join(', ')}`);
    for (const w of Object.keys(TONES) as Who[]) {
      for (const o of Object.keys(TONES) as Who[]) if (o !== w) expect(all[w][o], `ep-${w} hears ep-${o}`).toBeGreaterThan(0.04);
      expect(all[w][w], `ep-${w} does not hear itself`).toBeLessThan(0.01);
    }
    // who speaks: the bridge forwards each leg's voice alone to the hall's meter; every endpoint plays
    // a full-scale tone, so each speaks, loud
    await until('each shown speaking', () => ['c-a', 'c-b', 'c-c'].every((c) => mix()?.members[c]?.talking === true), 5000);
    console.log(`conference: levels ${['c-a', 'c-b', 'c-c'].map((c) => `${c} ${mix()!.members[c]!.level}`).join(', ')}`);
    for (const c of ['c-a', 'c-b', 'c-c']) expect(mix()!.members[c]!.level).toBeGreaterThanOrEqual(0.8);
    // a participant without a camera has no picture to watch; the multi-picture is an operator's to
    // send, and it must carry video; a display watches only what it asked for
    const sdp = 'v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';
    await expect(duty.command('consult.watch', { id: consult, member: 'c-a' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(duty.command('consult.picture', { id: consult, sdp })).rejects.toMatchObject({ code: 'unavailable' });
    const display = await hall.client();
    await expect(display.command('consult.picture', { id: consult, sdp })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(display.command('consult.watched', { watch: '12345', sdp })).rejects.toMatchObject({ code: 'not_found' });
    expect(await display.command('consult.unwatch', { watch: '12345' })).toEqual({ stopped: false });
    display.dispose();
    duty.dispose();
  }, 90_000);

  it('a muted participant leaves the others’ ears, and comes back when unmuted', async () => {
    const duty = await hall.client('duty');
    duty.subscribe('mixes', () => undefined);
    const mix = () => duty.topic('mixes').get(consult) as Mix | undefined;
    await until('mix', () => !!mix());
    await duty.command('consult.mute', { id: consult, member: 'c-b', muted: true });
    await until('c-b shown muted', () => mix()?.members['c-b']?.muted === true, 5000);
    // muted, the bridge forwards nothing of it: it is shown silent within the meter's hold
    const quiet = await until('c-b shown silent', () => mix()?.members['c-b']?.talking === false, 5000);
    console.log(`conference: muted c-b shown silent after ${quiet} ms (level ${mix()!.members['c-b']!.level}); c-a still speaking: ${mix()!.members['c-a']!.talking}`);
    expect(mix()!.members['c-a']!.talking).toBe(true);
    await new Promise((r) => setTimeout(r, 4000));
    const a = heard('a', 3);
    console.log(`conference: with ep-b muted, ep-a heard 1100 Hz ${(a.b * 100).toFixed(0)} %, 1700 Hz ${(a.c * 100).toFixed(0)} %`);
    expect(a.b).toBeLessThan(0.01);
    expect(a.c).toBeGreaterThan(0.3);
    await duty.command('consult.mute', { id: consult, member: 'c-b', muted: false });
    await until('c-b speaking again', () => mix()?.members['c-b']?.talking === true, 5000);
    await new Promise((r) => setTimeout(r, 4000));
    expect(heard('a', 3).b).toBeGreaterThan(0.04);
    duty.dispose();
  }, 60_000);

  it('one who hangs up is shown out of the mix (dropped), and a redial brings it back', async () => {
    const duty = await hall.client('duty');
    duty.subscribe('mixes', () => undefined);
    duty.subscribe('calls', () => undefined);
    const mix = () => duty.topic('mixes').get(consult) as Mix | undefined;
    await until('mix', () => !!mix());
    const first = mix()!.members['c-c']!.call!;
    await eps.c.hangup();
    await until('c-c out of the mix', () => mix()?.members['c-c']?.joined === false, 10_000);
    await until('its call ended by the far end', () => (duty.topic('calls').get(first) as Call | undefined)?.state === 'ended');
    expect((duty.topic('calls').get(first) as Call).endedBy).toBe('remote');
    const again = (await duty.command('consult.redial', { id: consult, contact: 'c-c' })).call;
    await until('c-c back in the mix', () => mix()?.members['c-c']?.joined === true && mix()?.members['c-c']?.call === again, 20_000);
    await new Promise((r) => setTimeout(r, 4000));
    expect(heard('a', 3).c).toBeGreaterThan(0.04);
    await duty.command('consult.end', { id: consult });
    await until('the mix is gone', () => !mix(), 10_000);
    duty.dispose();
  }, 60_000);

  it('a bridge that fails is shown failed, not mixing; back, the same consultation mixes again on the same calls', async () => {
    const duty = await hall.client('duty');
    duty.subscribe('mixes', () => undefined);
    duty.subscribe('switchboard', () => undefined);
    const id = (await duty.command('consult.start', { contacts: ['c-a', 'c-b'], title: '会商桥故障测试' })).id;
    const mix = () => duty.topic('mixes').get(id) as Mix | undefined;
    const bridge = () => (duty.topic('switchboard').get('switchboard') as Switchboard | undefined)?.bridge;
    await until('both in the mix', () => ['c-a', 'c-b'].every((c) => mix()?.members[c]?.joined), 30_000);
    const t0 = Date.now();
    await mcu.stop();
    await until('the mix shown failed', () => mix()?.state === 'bridge_down', 10_000);
    console.log(`conference: the bridge stopped; the panel's mix read bridge_down after ${Date.now() - t0} ms: ${mix()!.detail}`);
    expect(['c-a', 'c-b'].every((c) => mix()!.members[c]!.joined === false)).toBe(true);
    expect(bridge()?.up).toBe(false);
    const lost = mix()!.room;
    const calls = ['c-a', 'c-b'].map((c) => mix()!.members[c]!.call);
    const t1 = Date.now();
    await mcu.start();
    await until('the hall reconnects to the bridge', () => bridge()?.up === true, 20_000);
    // the same consultation mixes again, in a new room, its connected legs moved there by re-INVITEs
    // without an offer: the same calls, no redial
    await until('mixing again', () => mix()?.state === 'mixing' && ['c-a', 'c-b'].every((c) => mix()!.members[c]?.joined), 30_000);
    console.log(`conference: the bridge back, the consultation mixed again ${Date.now() - t1} ms after the bridge restarted (room ${lost} -> ${mix()!.room})`);
    expect(mix()!.room).not.toBe(lost);
    expect(['c-a', 'c-b'].map((c) => mix()!.members[c]!.call)).toEqual(calls);
    // the bridge hears both again (each voice, alone, reaches the hall's meter), and each hears the other
    await until('both shown speaking again', () => ['c-a', 'c-b'].every((c) => mix()?.members[c]?.talking === true), 10_000);
    const before = recording('a').samples.length;
    await new Promise((r) => setTimeout(r, 4000));
    const grew = recording('a').samples.length - before;
    const a = heard('a', 3);
    expect(grew).toBeGreaterThan(16_000);
    console.log(`conference: after the rebuild, ep-a's recording grew ${grew} samples in 4 s and holds 1100 Hz (ep-b) ${(a.b * 100).toFixed(1)} %`);
    expect(a.b).toBeGreaterThan(0.04);
    await duty.command('consult.end', { id });
    duty.dispose();
  }, 120_000);
});
