// One-key connect in the hall core, end to end over real parts: Kamailio + baresip endpoints for
// the SIP platform, the satellite terminal emulator on a socat pseudo-terminal (no satellite
// network can run here), a WAN the link monitor measures (a TCP endpoint the test opens and
// closes), and mosquitto as the provincial bus that receives the call log.
import mqtt from 'mqtt';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Call, Consultation, Contact } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { linkTargets } from '../../main/core/link/monitor.ts';
import { Broker, freePort } from '../helpers/mosquitto.ts';
import { ModemEmulator } from '../helpers/modem.ts';
import { portClient } from '../helpers/port-client.ts';
import { Endpoint, SipPlatform } from '../helpers/sip.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const dir = tempDir('beacon-calls-');
const platform = new SipPlatform(join(dir, 'sip'));
const eps = {
  answer: new Endpoint(platform, 'ep-answer', 'answer', dir),
  answer2: new Endpoint(platform, 'ep-answer2', 'answer', dir),
  busy: new Endpoint(platform, 'ep-busy', 'reject', dir),
  silent: new Endpoint(platform, 'ep-silent', 'ignore', dir),
  mobile: new Endpoint(platform, '13900000001', 'answer', dir),
};
const emu = new ModemEmulator(dir);
let broker: Broker;
let wan: Server;
let wanPort = 0;
let core: HallCore;
let province: mqtt.MqttClient;
const upCalls: { event: { kind: string; payload: { call: Call } } }[] = [];

const sip = (u: string) => `sip:${u}@127.0.0.1`;
const CSV = [
  'id,level,code,parent,name_zh,name_en,duty_name,duty_mobile,deputy_name,deputy_mobile,video,voip,mobile,satellite,radio',
  // Wenling answers on video; Yuhuan's video rings out, its VoIP answers; Sanmen is busy on video, its VoIP answers;
  `t-wenling,county,331081,c-331000,温岭市应急管理局测试,Wenling test,王明,13800000001,李华,13800000002,${sip('ep-answer')},${sip('ep-answer2')},13900000001,17400000001,TG-1`,
  `t-yuhuan,county,331083,c-331000,玉环市应急管理局测试,Yuhuan test,赵强,13800000003,,,${sip('ep-silent')},${sip('ep-answer2')},,17400000002,`,
  `t-sanmen,county,331022,c-331000,三门县应急管理局测试,Sanmen test,钱进,13800000004,,,${sip('ep-busy')},${sip('ep-answer')},,,`,
  // A township only the satellite phone and a mobile reach.
  `t-shitang,township,331081,t-wenling,石塘镇测试,Shitang test,孙立,13800000005,,,,,13900000001,17400000003,`,
  // Nobody answers anywhere.
  `t-nobody,county,331082,c-331000,临海市测试,Linhai test,周平,13800000006,,,${sip('ep-silent')},${sip('ep-busy')},,,`,
].join('\n');

async function waitCall(id: string, pred: (c: Call) => boolean, what: string, ms = 30_000, context?: () => string): Promise<Call> {
  await until(
    what,
    () => {
      const c = core.get<Call>('calls', id);
      return !!c && pred(c);
    },
    ms,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; the call: ${JSON.stringify(core.get<Call>('calls', id))}${context ? `\n${context()}` : ''}`);
  });
  return core.get<Call>('calls', id)!;
}

beforeAll(async () => {
  await platform.start();
  await Promise.all(Object.values(eps).map((e) => e.start()));
  await emu.start();
  emu.numbers.set('17400000002', 'noanswer');
  broker = new Broker(await freePort(), join(dir, 'broker'));
  await broker.start();
  province = await mqtt.connectAsync(broker.url, { clientId: 'province-calls' });
  await province.subscribeAsync('beacon/331000/up/calls', { qos: 1 });
  province.on('message', (_t, p) => upCalls.push(JSON.parse(p.toString()) as (typeof upCalls)[number]));
  // The WAN: reachable while this server listens.
  wan = createServer((s) => s.destroy());
  await new Promise<void>((r) => wan.listen(0, '127.0.0.1', () => r()));
  wanPort = (wan.address() as { port: number }).port;
  core = await HallCore.start({
    dataDir: join(dir, 'hall'),
    hub: { tickMs: 10 },
    link: { targets: linkTargets([`tcp://127.0.0.1:${wanPort}`]) },
    uplink: { url: broker.url, hallId: '331000', reconnectMs: 200 },
    calls: {
      sip: { aor: 'sip:hall@127.0.0.1', password: 'pw-hall', server: { host: '127.0.0.1', port: platform.port, transport: 'udp' }, expires: 120 },
      satellite: { path: emu.device, pollMs: 500, callPollMs: 100, commandTimeoutMs: 500 },
      noAnswerS: 5,
    },
  });
  await until(
    'registered and terminal ready',
    () => {
      const sb = core.desks.calls.switchboard();
      return sb.sip.state === 'registered' && sb.satellite.state === 'ready' && sb.wan === 'online';
    },
    20_000,
  );
}, 120_000);

// A test that fails mid-call must not leave the call up for the next one (it would be "already being called").
afterEach(async () => {
  if (!core) return;
  for (const c of core.all('calls') as Call[]) if (c.endedAt === null) await core.desks.calls.end(c.id).catch(() => undefined);
  await until('no call left up', () => core.desks.calls.stats().live === 0, 10_000).catch(() => undefined);
});

afterAll(async () => {
  await core?.dispose();
  await province?.endAsync(true);
  await new Promise((r) => wan.close(r));
  await Promise.all(Object.values(eps).map((e) => e.stop()));
  await emu.stop();
  await platform.stop();
  await broker?.stop();
});

describe('one-key connect in the hall core', () => {
  it('imports a directory CSV all or nothing: broken rows named by line, nothing half-written', async () => {
    const c = portClient(core, 'window:calls', '张伟');
    const before = core.all('contacts').length;
    const broken =
      CSV +
      '\n' +
      [
        't-bad1,county,999999,,坏行,,x,138,,,notsip,,,,',
        't-wenling,county,331081,,重复,,王,13800000001,,,,,13800000001,,',
        't-bad3,mayor,331081,,x,,x,13800000001,,,,,,,',
        't-bad4,county,331081,,"未闭合,,,',
        '',
      ].join('\n');
    const r = await c.cmd<{ errors: { line: number; message: string }[]; added: number }>('contacts.import', { csv: broken });
    expect(r.added).toBe(0);
    expect(r.errors.map((e) => e.line)).toEqual([7, 8, 9, 10]);
    expect(r.errors[3]!.message).toMatch(/quoted field is not closed/);
    expect(r.errors[0]!.message).toMatch(/code 999999 is not a city or county/);
    expect(r.errors[0]!.message).toMatch(/video "notsip" is not a sip: URI/);
    expect(r.errors[1]!.message).toMatch(/repeats line 2/);
    expect(r.errors[2]!.message).toMatch(/level "mayor"/);
    expect(core.all('contacts').length).toBe(before);
    const ok = await c.cmd<{ added: number; updated: number; unchanged: number }>('contacts.import', { csv: CSV });
    expect(ok).toMatchObject({ added: 5, updated: 0, unchanged: 0 });
    const again = await c.cmd<{ added: number; unchanged: number }>('contacts.import', { csv: CSV });
    expect(again).toMatchObject({ added: 0, unchanged: 5 });
    // Pinyin initials for search.
    expect(core.get<Contact>('contacts', 't-wenling')!.spell).toMatch(/^wlsyjglj/);
    c.close();
  });

  it('one key connects on the first channel that answers (video), and the far end hangs up', async () => {
    const establishedBefore = eps.answer.count('CALL_ESTABLISHED');
    const id = await core.desks.calls.dial('t-wenling', '张伟');
    const connected = await waitCall(id, (c) => c.state === 'connected', 'connected');
    expect(connected.channel).toBe('video');
    expect(connected.attempts.map((a) => [a.channel, a.result])).toEqual([['video', 'connected']]);
    // The far end has the call too (it saw our ACK) before its user hangs up, a second later.
    await until('the far end established the call', () => eps.answer.count('CALL_ESTABLISHED') > establishedBefore, 10_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${eps.answer.describe()}`);
    });
    await new Promise((r) => setTimeout(r, 1100));
    const bye = await eps.answer.hangup();
    expect(bye.ok, eps.answer.describe()).toBe(true);
    const ended = await waitCall(
      id,
      (c) => c.state === 'ended',
      'ended',
      30_000,
      () => `${eps.answer.describe()}\nhall call desk ${JSON.stringify(core.desks.calls.stats())}`,
    );
    expect(ended.endedBy).toBe('remote');
    expect(ended.duration).toBeGreaterThanOrEqual(1);
    expect(core.get<Contact>('contacts', 't-wenling')!.lastReached).toBe(connected.answeredAt);
  });

  it('a channel that rings out falls through to the next (video no answer -> VoIP connects)', async () => {
    const id = await core.desks.calls.dial('t-yuhuan', '张伟');
    const ringing = await waitCall(id, (c) => c.state === 'ringing', 'ringing on video');
    expect(ringing.attempts[0]).toMatchObject({ channel: 'video', result: 'ringing' });
    const c = await waitCall(id, (x) => x.state === 'connected', 'connected on VoIP', 20_000);
    expect(c.channel).toBe('voip');
    expect(c.attempts.map((a) => [a.channel, a.result, a.detail])).toEqual([
      ['video', 'no_answer', 'no_answer_after:5'],
      ['voip', 'connected', ''],
    ]);
    await core.desks.calls.end(id);
    const ended = await waitCall(id, (x) => x.state === 'ended', 'ended');
    expect(ended.endedBy).toBe('local');
  });

  it('busy on one channel moves on at once', async () => {
    const id = await core.desks.calls.dial('t-sanmen', '张伟');
    const c = await waitCall(id, (x) => x.state === 'connected', 'connected after busy', 15_000);
    expect(c.attempts.map((a) => [a.channel, a.result])).toEqual([
      ['video', 'busy'],
      ['voip', 'connected'],
    ]);
    expect(c.attempts[0]!.detail).toMatch(/^486/);
    await core.desks.calls.end(id);
    await waitCall(id, (x) => x.state === 'ended', 'ended');
  });

  it('cancel while ringing stops the endpoint ringing and logs the call as cancelled', async () => {
    const closed = eps.silent.count('CALL_CLOSED');
    const id = await core.desks.calls.dial('t-nobody', '张伟');
    await waitCall(id, (c) => c.state === 'ringing', 'ringing');
    await core.desks.calls.end(id);
    const c = await waitCall(id, (x) => x.state === 'cancelled', 'cancelled');
    expect(c.attempts).toHaveLength(1);
    expect(c.attempts[0]).toMatchObject({ channel: 'video', result: 'cancelled' });
    await until('endpoint stopped ringing', () => eps.silent.count('CALL_CLOSED') > closed, 5000);
  });

  it('a consultation dials every participant by its own best channel; redial after a failure', async () => {
    const c = portClient(core, 'window:calls', '张伟');
    const { id } = await c.cmd<{ id: string }>('consult.start', { contacts: ['t-wenling', 't-sanmen', 't-nobody'], title: '利奇马防御会商' });
    const legs = () => core.get<Consultation>('consultations', id)!.legs;
    await until('legs', () => Object.keys(core.get<Consultation>('consultations', id)?.legs ?? {}).length === 3);
    const state = (contact: string) => core.get<Call>('calls', legs()[contact]!)!.state;
    await until('wenling and sanmen in', () => state('t-wenling') === 'connected' && state('t-sanmen') === 'connected', 20_000);
    // Linhai: video rings out (5 s), VoIP is busy: failed, shown as such, redial offered.
    await until('linhai failed', () => state('t-nobody') === 'failed', 20_000);
    expect(core.get<Call>('calls', legs()['t-nobody']!)!.attempts.map((a) => a.result)).toEqual(['no_answer', 'busy']);
    // The operator redials Linhai; still nobody (the redial is a new call in the same consultation).
    const { call } = await c.cmd<{ call: string }>('consult.redial', { id, contact: 't-nobody' });
    expect(legs()['t-nobody']).toBe(call);
    expect((await c.fail('consult.redial', { id, contact: 't-wenling' })).message).toMatch(/still being called or connected/);
    await c.cmd('consult.end', { id });
    await until('all legs over', () => Object.values(legs()).every((cid) => ['ended', 'failed', 'cancelled'].includes(core.get<Call>('calls', cid)!.state)), 15_000);
    expect(core.get<Consultation>('consultations', id)!.endedAt).not.toBeNull();
    c.close();
  });

  it('with the WAN down, the same press skips every SIP channel at once and goes out over the satellite phone', async () => {
    await new Promise((r) => wan.close(r));
    await until('WAN offline', () => core.desks.calls.switchboard().wan === 'offline', 10_000);
    const t0 = Date.now();
    const id = await core.desks.calls.dial('t-wenling', '张伟');
    const c = await waitCall(id, (x) => x.state === 'connected', 'connected over satellite', 15_000);
    expect(c.channel).toBe('satellite');
    expect(c.attempts.map((a) => [a.channel, a.result, a.detail])).toEqual([
      ['video', 'skipped', 'wan_offline'],
      ['voip', 'skipped', 'wan_offline'],
      ['mobile', 'skipped', 'wan_offline'],
      ['satellite', 'connected', ''],
    ]);
    // Skipped at once: no 20-second waits on links that cannot carry the call.
    expect(c.attempts[3]!.startedAt - t0).toBeLessThan(1000);
    expect(emu.commands).toContain('ATD17400000001;');
    await core.desks.calls.end(id);
    const ended = await waitCall(id, (x) => x.state === 'ended', 'ended');
    expect(ended.endedBy).toBe('local');
    expect(emu.inCall).toBe(false);
    // Reopen the WAN for whatever follows.
    wan = createServer((s) => s.destroy());
    await new Promise<void>((r) => wan.listen(wanPort, '127.0.0.1', () => r()));
  });

  it('the call log is searchable, journaled, and goes up to the province', async () => {
    const c = portClient(core, 'window:calls', '张伟');
    const all = await c.cmd<{ calls: Call[] }>('calls.search', { limit: 100 });
    expect(all.calls.length).toBeGreaterThanOrEqual(8);
    expect(all.calls[0]!.startedAt).toBeGreaterThanOrEqual(all.calls.at(-1)!.startedAt);
    const sat = await c.cmd<{ calls: Call[] }>('calls.search', { channel: 'satellite', limit: 100 });
    expect(sat.calls.map((x) => x.contact)).toEqual(['t-wenling']);
    const yuhuan = await c.cmd<{ calls: Call[] }>('calls.search', { text: '玉环', limit: 100 });
    expect(yuhuan.calls).toHaveLength(1);
    expect((await c.fail('calls.search', { limit: 100000 })).code).toBe('invalid_args');
    const logged = (await core.store.api.readJournal(0, 100000)).filter((e) => e.kind === 'call.logged');
    expect(logged.length).toBe(all.calls.filter((x) => x.endedAt !== null).length);
    // Each finished call reaches the province once, in its own category.
    await until('call log uplinked', () => upCalls.length >= logged.length, 15_000);
    expect(upCalls.every((m) => m.event.kind === 'call.logged')).toBe(true);
    expect(new Set(upCalls.map((m) => m.event.payload.call.id)).size).toBe(upCalls.length);
    c.close();
  });

  it('bad commands get clear errors and change nothing', async () => {
    const c = portClient(core, 'window:calls', '张伟');
    expect((await c.fail('call.dial', { contact: 'nobody-here' })).code).toBe('not_found');
    expect((await c.fail('call.dial', { contact: 't-wenling', by: '省长' })).code).toBe('invalid_args'); // who dials is the session's
    expect((await c.fail('call.end', { id: 'call-nope' })).code).toBe('not_found');
    expect((await c.fail('consult.start', { contacts: ['t-wenling'], title: 'x' })).code).toBe('invalid_args');
    c.close();
  });
});
