// Who may do what, tried as an attacker and as each of a hall's people would, over real sockets
// (issue #18): a rebinding page's Host, no token, the wrong role, a free-text `by`, guessed PINs, a
// revoked console, a client that floods. Each is refused, counted, and leaves the hall as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import type { CommandArgs, EventRecord } from '../../common/contract.ts';
import type { Incident } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { accessToken } from '../../main/core/security.ts';
import { Consoles, Operators } from '../../main/core/trust/credentials.ts';
import { type BeaconServer, startServer } from '../../main/server/server.ts';
import { CommandError, type HubClient } from '../../renderer/hub/client.ts';
import { hubClient, seedOperators, TEST_OPERATORS, TEST_PIN } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: CommandError) => e.code,
  );

/** An HTTP request with the Host header a browser would send for `name`. */
async function get(port: number, path: string, host: string, token?: string): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

/** The whole journal, page by page (the seeded scenario alone is over a thousand events). */
async function journal(core: HallCore): Promise<EventRecord[]> {
  const all: EventRecord[] = [];
  for (let after = 0; ;) {
    const page = (await core.command('journal.read', { after, limit: 1000 }, 'test')) as { events: EventRecord[]; last: number };
    all.push(...page.events);
    if (page.events.length < 1000) return all;
    after = page.last;
  }
}

describe('trust: operators, roles and the hall boundary', () => {
  const dir = tempDir();
  let core: HallCore;
  let server: BeaconServer;
  let token: string;
  let hubUrl: string;
  const clients: HubClient[] = [];
  const client = async (...a: Parameters<typeof hubClient>) => {
    const c = await hubClient(...a);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    await seedOperators(dir);
    core = await HallCore.start({ dataDir: dir, hub: { tickMs: 10 }, trust: { watchMs: 100 }, reach: { allowOutbound: ['video.zj.example'] } });
    token = accessToken(dir);
    server = await startServer({ core, port: 0, staticDir: null, allowedHosts: ['hall.zj.example'] });
    hubUrl = `${server.url.replace('http', 'ws')}/hub?token=${token}`;
  });
  afterAll(async () => {
    for (const c of clients) c.dispose();
    await server.close();
    await core.dispose();
  });

  it('answers only to its own names: a rebinding page (any other Host) gets 403 on the API, the pages and the hub', async () => {
    const port = server.port;
    expect(await get(port, '/api/topics/contacts', `127.0.0.1:${port}`, token)).toBe(200);
    expect(await get(port, '/api/topics/contacts', `localhost:${port}`, token)).toBe(200);
    expect(await get(port, '/api/topics/contacts', `[::1]:${port}`, token)).toBe(200);
    expect(await get(port, '/api/topics/contacts', `hall.zj.example:${port}`, token)).toBe(200);
    // The attacker's page has the token no more than its name: both refused, the name first.
    expect(await get(port, '/api/topics/contacts', `rebind.attacker.example:${port}`, token)).toBe(403);
    expect(await get(port, '/api/topics/contacts', `rebind.attacker.example:${port}`)).toBe(403);
    expect(await get(port, '/', `rebind.attacker.example:${port}`)).toBe(403);
    const ws = new WsClient(hubUrl, { headers: { host: `rebind.attacker.example:${port}` } });
    ws.on('error', () => undefined);
    expect(await new Promise<number>((r) => ws.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)))).toBe(403);
    ws.terminate();
    const health = (await (await fetch(`${server.url}/api/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as { http: { badHost: number } };
    expect(health.http.badHost).toBe(4);
  });

  it('needs a token on loopback too: without one, or a wrong one, nothing is read or done', async () => {
    expect((await fetch(`${server.url}/api/topics/contacts`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/topics/contacts?token=${'x'.repeat(32)}`)).status).toBe(401);
    const ws = new WsClient(`${server.url.replace('http', 'ws')}/hub`);
    ws.on('error', () => undefined);
    expect(await new Promise<number>((r) => ws.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)))).toBe(401);
    ws.terminate();
  });

  it('a display nobody signed in at only looks; each role does its own work and no other', async () => {
    const nobody = await client(hubUrl);
    expect(nobody.who).toEqual({ operator: null, console: null, grants: ['read'] });
    expect(await code(nobody.command('hall.ping', {}))).toBe('ok');
    const before = core.get('units', 'fire-rescue-330100-01');
    expect(await code(nobody.command('unit.setStatus', { id: 'fire-rescue-330100-01', status: 'en-route' }))).toBe('forbidden');
    expect(await code(nobody.command('call.dial', { contact: 'zj-330000' }))).toBe('forbidden');
    expect(core.get('units', 'fire-rescue-330100-01')).toEqual(before);

    const observer = await client(hubUrl, 'observer');
    expect(observer.who?.operator).toMatchObject({ id: 'observer1', role: 'observer' });
    expect(await code(observer.command('incident.report', { kind: 'flood', title: 'x', severity: 'IV', lat: 28, lon: 121 }))).toBe('forbidden');

    const duty = await client(hubUrl, 'duty');
    expect(duty.who?.grants).toEqual(['read', 'operate']);
    const inc = await duty.command('incident.report', { kind: 'flood', title: '温岭城区内涝', severity: 'III', lat: 28.37, lon: 121.38, county: '331081' });
    // the author is the signed-in operator; a `by` from the client is refused outright
    expect(core.get<Incident>('incidents', inc.id)).toMatchObject({ reportedBy: TEST_OPERATORS.duty.name });
    const claimed = await duty.command('incident.report', { kind: 'flood', title: 'x', severity: 'IV', lat: 28, lon: 121, by: '省长' } as never).catch((e: CommandError) => e);
    expect(claimed).toMatchObject({ code: 'invalid_args', message: expect.stringMatching(/by/) });
    const risk: CommandArgs<'risk.set'> = { basis: 'manual', items: [{ code: '331081', levels: { now: 'red', h3: 'red', h6: 'orange', h24: 'yellow', h48: 'blue' } }] };
    const refused = await duty.command('risk.set', risk).catch((e: CommandError) => e);
    expect(refused).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/risk.set needs the decide grant; 值班员甲 \(duty\)/) });
    expect(await code(duty.command('feed.add', { config: { kind: 'cot-udp', id: 'x', port: 0 } } as never))).toBe('forbidden');

    const leader = await client(hubUrl, 'leader');
    expect(await code(leader.command('risk.set', risk))).toBe('ok');
    const admin = await client(hubUrl, 'admin');
    expect(await code(admin.command('call.dial', { contact: 'zj-330000' }))).toBe('forbidden');
    expect(await code(admin.command('risk.set', risk))).toBe('forbidden');
    expect(await code(admin.command('video.put', { config: { id: 'cam-1', kind: 'camera', name: { zh: '甲', en: 'A' }, unit: null, hls: 'https://video.zj.example/a.m3u8' } }))).toBe('ok');

    // the journal says who did what, and from where
    const events = await journal(core);
    const reported = events.find((e) => e.kind === 'incident.reported' && e.subject === `incident:${inc.id}`)!;
    expect(reported.origin).toMatch(/^ws:127\.0\.0\.1:\d+ test-console operator:duty1$/);
    expect(events.find((e) => e.kind === 'risk.set')).toMatchObject({ payload: { risk: { by: TEST_OPERATORS.leader.name } }, origin: expect.stringMatching(/operator:leader1$/) });
    expect(events.filter((e) => e.kind === 'session.signedIn').map((e) => (e.payload as { operator: { id: string } }).operator.id)).toEqual(
      expect.arrayContaining(['observer1', 'duty1', 'leader1', 'admin1']),
    );
    const stats = core.stats();
    expect(stats.hub.forbidden).toBeGreaterThanOrEqual(7);
  });

  it('a wrong PIN and an unknown name get one answer; five wrong lock the operator, even from the right PIN', async () => {
    const c = await client(hubUrl);
    const wrong = await c.command('session.signIn', { operator: 'duty1', pin: '000000' }).catch((e: CommandError) => e);
    const unknown = await c.command('session.signIn', { operator: 'nobody', pin: '000000' }).catch((e: CommandError) => e);
    expect(wrong).toMatchObject({ code: 'signin_failed', message: 'operator or PIN not recognised' });
    expect(unknown).toMatchObject({ code: 'signin_failed', message: 'operator or PIN not recognised' });
    const other = await client(hubUrl);
    for (let i = 0; i < 4; i++) await other.command('session.signIn', { operator: 'duty1', pin: `00000${i}` }).catch(() => undefined);
    const locked = await c.command('session.signIn', { operator: 'duty1', pin: TEST_PIN }).catch((e: CommandError) => e);
    expect(locked).toMatchObject({ code: 'signin_failed', message: expect.stringMatching(/too many wrong PINs/) });
    expect(c.who?.operator).toBeNull();
    const events = await journal(core);
    const refusals = events.filter((e) => e.kind === 'session.refused');
    expect(refusals.length).toBe(6);
    expect(refusals.at(-1)!.payload).toMatchObject({ operator: 'duty1', reason: 'wrong PIN', locked: true });
    // nothing secret in the journal: no PIN, no hash
    expect(JSON.stringify(events)).not.toMatch(/"00000\d"|scrypt\$/);
  });

  it('a reconnect keeps the operator signed in by the ticket; signing out ends it', async () => {
    const c = await client(hubUrl);
    const { ticket } = await c.command('session.signIn', { operator: 'leader1', pin: TEST_PIN });
    const again = await client(hubUrl, undefined, 'reconnected');
    expect(again.who?.operator).toBeNull();
    // the same display reconnecting presents its ticket in hello
    const resumed = new WsClient(hubUrl);
    const msgs: { t: string; who?: unknown }[] = [];
    resumed.on('message', (d) => msgs.push(JSON.parse(d.toString()) as { t: string }));
    await new Promise((r) => resumed.once('open', r));
    resumed.send(JSON.stringify({ t: 'hello', v: 1, client: 'display:board', ticket }));
    await until('welcome', () => msgs.length > 0);
    expect(msgs[0]).toMatchObject({ t: 'welcome', who: { operator: { id: 'leader1', role: 'leader' }, grants: ['read', 'operate', 'decide'] } });
    resumed.close();
    await c.command('session.signOut', {});
    const dead = new WsClient(hubUrl);
    const m2: { t: string }[] = [];
    dead.on('message', (d) => m2.push(JSON.parse(d.toString()) as { t: string }));
    await new Promise((r) => dead.once('open', r));
    dead.send(JSON.stringify({ t: 'hello', v: 1, client: 'display:board', ticket }));
    await until('welcome', () => m2.length > 0);
    expect(m2[0]).toMatchObject({ t: 'welcome', who: { operator: null, grants: ['read'] } });
    dead.close();
    // a ticket is a display's: a console presenting it is not signed in by it
  });

  it('a console token works at once, never beyond its role, and is cut off within a second of its revocation', async () => {
    const consoles = new Consoles(dir);
    const { token: taizhou } = consoles.add('台州市', 'observer');
    const url = `${server.url.replace('http', 'ws')}/hub?token=${taizhou}`;
    const c = await client(url, undefined, 'taizhou');
    expect(c.who).toEqual({ operator: null, console: '台州市', grants: ['read'] });
    // a duty officer signing in at an observer's console still only looks
    await c.command('session.signIn', { operator: 'duty1', pin: TEST_PIN }).catch(() => undefined);
    await until('signed in or locked out', () => true);
    expect(await code(c.command('unit.setStatus', { id: 'fire-rescue-330100-01', status: 'en-route' }))).toBe('forbidden');
    const topics: number[] = [];
    c.subscribe('hall', () => topics.push(1));
    await until('hall snapshot', () => topics.length > 0);
    const ws = (c as unknown as { transport: { ws: WebSocket | null } }).transport.ws;
    expect(ws).not.toBeNull();
    const closed = new Promise<number>((r) => ws!.addEventListener('close', (e) => r(e.code)));
    expect(consoles.revoke('台州市')).toHaveLength(1);
    expect(await closed).toBe(4003);
    const again = new WsClient(url);
    again.on('error', () => undefined);
    expect(await new Promise<number>((r) => again.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)))).toBe(401);
    again.terminate();
    expect(core.stats().trust.revokedSessions).toBeGreaterThanOrEqual(1);
  });

  it('an operator removed from the roster is signed out of every display within a second', async () => {
    const ops = new Operators(dir);
    await ops.put({ id: 'temp1', name: '临时值班员', role: 'duty', pin: TEST_PIN });
    await until('roster published', () => core.hub.items('operators').some((o) => (o as { id: string }).id === 'temp1'));
    const c = await client(hubUrl);
    c.setWho((await c.command('session.signIn', { operator: 'temp1', pin: TEST_PIN })).who);
    expect(c.who?.operator?.id).toBe('temp1');
    ops.remove('temp1');
    await until('signed out', () => c.who?.operator === null, 5000);
    expect(c.who).toMatchObject({ operator: null, grants: ['read'] });
    // the roster every display sees holds names and roles, never a hash
    expect(JSON.stringify(core.hub.items('operators'))).not.toMatch(/scrypt|pin/);
  });
});

describe('quotas: one client cannot take the hall', () => {
  const dir = tempDir();
  let core: HallCore;
  let server: BeaconServer;
  let hubUrl: string;

  beforeAll(async () => {
    await seedOperators(dir);
    core = await HallCore.start({ dataDir: dir, hub: { tickMs: 10 } });
    server = await startServer({ core, port: 0, staticDir: null });
    hubUrl = `${server.url.replace('http', 'ws')}/hub?token=${accessToken(dir)}`;
  });
  afterAll(async () => {
    await server.close();
    await core.dispose();
  });

  it('20,000 unit.move from one client: the bucket runs them at its rate, refuses the rest, and the hall stays responsive', async () => {
    const c = await hubClient(hubUrl, 'duty', 'flood');
    const journalBefore = (await core.store.api.stats()).journalEvents;
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 20_000 }, (_, i) => code(c.command('unit.move', { id: 'fire-rescue-330100-01', lat: 30 + (i % 100) / 1000, lon: 120 }))));
    const elapsed = (Date.now() - started) / 1000;
    const ok = results.filter((r) => r === 'ok').length;
    const limited = results.filter((r) => r === 'rate_limited').length;
    expect(ok + limited).toBe(20_000);
    // burst 200, then 50 a second
    expect(ok).toBeLessThanOrEqual(200 + Math.ceil(elapsed * 50) + 1);
    expect(limited).toBeGreaterThan(19_000);
    expect((await core.store.api.stats()).journalEvents - journalBefore).toBe(ok);
    expect(core.stats().hub.rateLimited).toBeGreaterThanOrEqual(limited);
    // another display is still answered
    const other = await hubClient(hubUrl, undefined, 'other');
    expect(await code(other.command('hall.ping', {}))).toBe('ok');
    other.dispose();
    c.dispose();
  });

  it('a script dialling the directory: 200 call.dial reach 20 phones at most, the rest refused', async () => {
    const c = await hubClient(hubUrl, 'duty', 'dialler');
    const ids = core
      .all<{ id: string }>('contacts')
      .map((x) => x.id)
      .slice(0, 200);
    expect(ids).toHaveLength(200);
    const results = await Promise.all(ids.map((id) => code(c.command('call.dial', { contact: id }))));
    const placed = results.filter((r) => r === 'ok').length;
    // a dial costs 10 of the session's 200: a person's pace, not a script's
    expect(placed).toBeGreaterThan(0);
    expect(placed).toBeLessThanOrEqual(21);
    expect(results.filter((r) => r === 'rate_limited').length).toBeGreaterThanOrEqual(179);
    expect(core.all<{ id: string }>('calls').length).toBe(placed);
    c.dispose();
  });

  it('a repeated sub is refused: 300 `sub contacts` (9 KB) send the directory once, and the sender is cut off', async () => {
    const ws = new WsClient(hubUrl);
    let bytes = 0;
    const codes: string[] = [];
    ws.on('message', (d) => {
      bytes += (d as Buffer).length;
      const m = JSON.parse(d.toString()) as { t: string; error?: { code: string } };
      if (m.t === 'error') codes.push(m.error!.code);
    });
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (c) => r(c)));
    ws.send(JSON.stringify({ t: 'hello', v: 1, client: 'amplifier' }));
    for (let i = 0; i < 300; i++) ws.send(JSON.stringify({ t: 'sub', topic: 'contacts' }));
    // each refusal is a bad frame: past 20 in 10 s the session is closed (4008)
    expect(await closed).toBe(4008);
    const once = Buffer.byteLength(JSON.stringify(core.hub.items('contacts')));
    expect(once).toBeGreaterThan(300_000);
    expect(bytes).toBeGreaterThan(once);
    expect(bytes).toBeLessThan(once * 1.05 + 25 * 300);
    expect(codes.every((x) => x === 'conflict')).toBe(true);
    expect(codes.length).toBe(21);
  });

  it('a saved layout holds at most 32 displays: 1,000 saves cannot grow the journal by megabytes', async () => {
    const c = await hubClient(hubUrl, 'duty', 'layout');
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`display-${i}-${'x'.repeat(100)}`, 'globe' as const]));
    expect(await code(c.command('layout.save', { assignments: many }))).toBe('invalid_args');
    const ok = Object.fromEntries(Object.entries(many).slice(0, 32));
    expect(await code(c.command('layout.save', { assignments: ok }))).toBe('ok');
    c.dispose();
  });

  it('one address holds at most 32 connections; the 33rd is refused with 429', async () => {
    const open: WsClient[] = [];
    for (let i = 0; i < 32; i++) {
      const ws = new WsClient(hubUrl);
      await new Promise((r, f) => {
        ws.once('open', r);
        ws.once('error', f);
      });
      open.push(ws);
    }
    const extra = new WsClient(hubUrl);
    extra.on('error', () => undefined);
    expect(await new Promise<number>((r) => extra.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)))).toBe(429);
    extra.terminate();
    open[0]!.close();
    await new Promise((r) => open[0]!.once('close', r));
    await new Promise((r) => setTimeout(r, 100));
    const again = new WsClient(hubUrl);
    await new Promise((r) => again.once('open', r));
    again.close();
    for (const ws of open) ws.close();
  });
});
