// The hub over a real WebSocket on loopback, with the renderer's own hub client (Node 22 has the
// same WebSocket as the browser). One client loses its TCP connection mid-stream and must come back
// with a consistent picture and no gap.
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import type { Unit } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { type BeaconServer, startServer } from '../../main/server/server.ts';
import { HubClient } from '../../renderer/hub/client.ts';
import { WebSocketTransport } from '../../renderer/hub/transport.ts';
import { tempDir } from '../helpers/tmp.ts';
import { hubClient, seedOperators, TEST_PIN } from '../helpers/serve.ts';
import { accessToken } from '../../main/core/security.ts';
import { until } from '../helpers/until.ts';

describe('hub over WebSocket', () => {
  const dir = tempDir();
  let core: HallCore;
  let server: BeaconServer;
  const sockets: Socket[] = [];

  let token: string;
  beforeAll(async () => {
    await seedOperators(dir);
    // a console script moving 50 units 20 times in 300 ms: more than a person's rate, allowed here
    core = await HallCore.start({ dataDir: dir, hub: { tickMs: 20, commandRate: { perSecond: 5000, burst: 5000 } } });
    token = accessToken(dir);
    server = await startServer({ core, port: 0, staticDir: null });
    server.server.on('connection', (s) => sockets.push(s));
  });
  afterAll(async () => {
    await server.close();
    await core.dispose();
  });

  it('4 clients see the same ordered stream; one that drops mid-stream resumes without a gap', async () => {
    const wsUrl = `${server.url.replace('http', 'ws')}/hub?token=${token}`;
    const clients = await Promise.all(Array.from({ length: 4 }, (_, i) => hubClient(wsUrl, i === 0 ? 'duty' : undefined, `test-${i}`, { minBackoffMs: 50, maxBackoffMs: 200 })));
    const seen = clients.map(() => [] as number[]);
    clients.forEach((c, i) => c.subscribe('units', (e) => e.kind === 'delta' && seen[i]!.push(1)));
    await until('4 snapshots', () => clients.every((c) => c.topic('units').size === 623));
    const victimSocket = sockets[sockets.length - 1]!; // the last client to connect

    const ids = [...core.hub.items('units')].slice(0, 50).map((u) => (u as Unit).id);
    const moves: Promise<unknown>[] = [];
    for (let round = 0; round < 20; round++) {
      for (const id of ids) moves.push(clients[0]!.command('unit.move', { id, lat: 28 + round * 0.05, lon: 120 + ids.indexOf(id) * 0.01 }));
      if (round === 8) victimSocket.destroy(); // a display's network cable is pulled mid-stream
      await new Promise((r) => setTimeout(r, 15));
    }
    await Promise.all(moves);
    core.hub.flush();
    const serverSeq = core.hub.seq('units');
    const victim = clients[3]!;
    await until('every client at the server sequence', () => clients.every((c) => (c as unknown as { topics: Map<string, { seq: number }> }).topics.get('units')!.seq === serverSeq));

    const truth = new Map(core.hub.items('units').map((u) => [(u as Unit).id, u]));
    for (const c of clients) {
      expect(c.counters.gaps).toBe(0);
      expect(new Map(c.topic('units'))).toEqual(truth);
    }
    expect(victim.counters.reconnects).toBeGreaterThanOrEqual(1);
    // It resumed from its sequence number: no second snapshot was needed.
    expect(victim.counters.snapshots).toBe(1);
    for (const id of ids) expect((truth.get(id) as Unit).lat).toBeCloseTo(28 + 19 * 0.05, 6);
    clients.forEach((c) => c.dispose());
  });

  it('serves health and topic snapshots as JSON for scripts', async () => {
    const auth = { headers: { authorization: `Bearer ${token}` } };
    const fetch = (url: string, init: RequestInit = {}) => globalThis.fetch(url, { ...auth, ...init });
    const health = (await (await fetch(`${server.url}/api/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', protocol: 1, versions: { node: process.versions.node } });
    expect(typeof health.uptimeSeconds).toBe('number');
    const topics = (await (await fetch(`${server.url}/api/topics`)).json()) as { topics: { name: string; items: number }[] };
    expect(topics.topics.find((t) => t.name === 'places')?.items).toBe(102);
    const units = (await (await fetch(`${server.url}/api/topics/units`)).json()) as { items: Unit[]; seq: number };
    expect(units.items).toHaveLength(623);
    expect((await fetch(`${server.url}/api/topics/secrets`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/topics/units`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses oversized frames (1009) and foreign browser origins (403), counting both; binary gets an error', async () => {
    const wsUrl = `${server.url.replace('http', 'ws')}/hub?token=${token}`;
    const big = new WsClient(wsUrl);
    await new Promise((r) => big.once('open', r));
    big.send(JSON.stringify({ t: 'hello', v: 1, client: 'x' }));
    big.send('x'.repeat(3 * 1024 * 1024 + 1)); // over even what evidence may take
    const code = await new Promise<number>((r) => big.once('close', (c) => r(c)));
    expect(code).toBe(1009);

    const evil = new WsClient(wsUrl, { headers: { Origin: 'http://evil.example' } });
    evil.on('error', () => undefined); // the refused upgrade also surfaces as an error event
    const status = await new Promise<number>((r) => evil.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0)));
    expect(status).toBe(403);
    evil.terminate();

    const bin = new WsClient(wsUrl);
    await new Promise((r) => bin.once('open', r));
    const msgs: string[] = [];
    bin.on('message', (d) => msgs.push(d.toString()));
    bin.send(Buffer.from([1, 2, 3]));
    bin.send(JSON.stringify({ t: 'hello', v: 1, client: 'bin' }));
    bin.send(JSON.stringify({ t: 'cmd', id: 's', name: 'session.signIn', args: { operator: 'duty1', pin: TEST_PIN } }));
    await until('signed in', () => msgs.length >= 3);
    expect(JSON.parse(msgs[2]!)).toMatchObject({ t: 'result', id: 's', ok: true });
    msgs.splice(2, 1);
    const storedBefore = (await core.store.api.stats()).journalEvents;
    bin.send(JSON.stringify({ t: 'cmd', id: 'w', name: 'unit.move', args: { id: 'social-330100-01', lat: 'north', lon: 120 } }));
    bin.send(JSON.stringify({ t: 'cmd', id: 'g', name: 'unit.move', args: { id: 'ghost', lat: 30, lon: 120 } }));
    await until('answers', () => msgs.length >= 4);
    expect(JSON.parse(msgs[0]!)).toMatchObject({ t: 'error', error: { code: 'bad_frame' } });
    expect(JSON.parse(msgs[1]!)).toMatchObject({ t: 'welcome' });
    const results = msgs.slice(2).map((m) => JSON.parse(m) as { id: string; error: { code: string } });
    expect(Object.fromEntries(results.map((r) => [r.id, r.error.code]))).toEqual({ w: 'invalid_args', g: 'not_found' });
    // None of it reached the journal.
    expect((await core.store.api.stats()).journalEvents).toBe(storedBefore);
    bin.close();
    await new Promise((r) => bin.once('close', r));

    const health = (await (await fetch(`${server.url}/api/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as { http: { wsTooLarge: number; wsRejected: number } };
    expect(health.http.wsTooLarge).toBe(1);
    expect(health.http.wsRejected).toBeGreaterThanOrEqual(1);
  });

  it('every bind needs a token, on the hub and the API; a bind beyond loopback cannot opt out', async () => {
    await expect(startServer({ core, host: '0.0.0.0', port: 0, open: true })).rejects.toThrow(/without a token is refused/);
    // Bound to every interface, but the test only ever talks to 127.0.0.1.
    const open = await startServer({ core, host: '0.0.0.0', port: 0, staticDir: null });
    const base = `http://127.0.0.1:${open.port}`;
    try {
      expect((await fetch(`${base}/api/health`)).status).toBe(401);
      expect((await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(`${base}/api/health?token=wrong`)).status).toBe(401);
      const denied = new WsClient(`ws://127.0.0.1:${open.port}/hub`);
      denied.on('error', () => undefined);
      expect(await new Promise<number>((r) => denied.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)))).toBe(401);
      denied.terminate();
      const client = new HubClient(new WebSocketTransport(`ws://127.0.0.1:${open.port}/hub?token=${token}`), { client: 'remote-city' });
      client.subscribe('hall', () => undefined);
      await until('hall snapshot', () => client.topic('hall').size === 1);
      const pong = await client.command('hall.ping', {});
      expect(pong.now).toBeGreaterThan(0);
      client.dispose();
    } finally {
      await open.close();
    }
  });
});
