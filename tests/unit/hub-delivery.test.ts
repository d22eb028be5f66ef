// Delivery that adapts to a client's link (issue 23), over an in-memory connection: a client that
// falls behind gets each entity's latest instead of a backlog, decisions go at once, an area and a
// rate narrow what is sent. The real thin link (tc tbf in a namespace) is bench:thin and
// tests/e2e/thin.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../common/contract.ts';
import { decodeMoves } from '../../common/positions.ts';
import { CLOSE, type Connection, Hub } from '../../main/core/hub/hub.ts';

type Msg = ServerMessage & { moves?: number };
class MemConn implements Connection {
  readonly origin = 'test';
  out: Msg[] = [];
  size = 0;
  bufferedBytes = 0;
  closed: { code: number; reason: string } | null = null;
  send(text: string) {
    this.size += text.length;
    this.out.push(JSON.parse(text) as Msg);
  }
  sendBinary(data: Uint8Array) {
    this.size += data.length;
    const r = decodeMoves(data);
    if (!r.ok) throw new Error(r.error);
    this.out.push({ ...(r.frame.header as unknown as Msg), moves: r.frame.moves.length });
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
  }
  buffered() {
    return this.bufferedBytes;
  }
  take(): Msg[] {
    return this.out.splice(0);
  }
}

const hubs: Hub[] = [];
function client(hub: Hub, hello: object = { flow: true, pos: 1 }) {
  const conn = new MemConn();
  const s = hub.connect(conn, { kind: 'local', name: 'test' });
  s.receive(JSON.stringify({ t: 'hello', v: 1, client: 'test', ...hello }));
  conn.take();
  return { conn, s };
}
const wait = (ms = 30) => new Promise((r) => setTimeout(r, ms));
const unit = (id: string, lat: number, lon: number, t: number) => ({
  id,
  lat,
  lon,
  updated: t,
  status: 'deployed',
  name: { zh: id, en: id },
  track: { feed: 'f', source: id, heading: 10, speed: 1, seen: t, staleAt: t + 60_000, lostAt: t + 300_000, presence: 'live' },
});

describe('hub delivery that adapts to the link', () => {
  afterEach(() => hubs.splice(0).forEach((h) => h.dispose()));

  it('a client that stops acknowledging falls behind, receives each unit’s latest, and never more than the topic', async () => {
    const hub = new Hub({ tickMs: 2 });
    hubs.push(hub);
    const units = Array.from({ length: 200 }, (_, i) => unit(`u${i}`, 28 + i / 1000, 121, 1000));
    hub.replace('units', units);
    hub.flush();
    const { conn, s } = client(hub);
    s.receive(JSON.stringify({ t: 'sub', topic: 'units' }));
    expect(conn.take()[0]!.t).toBe('snapshot');
    // 50 rounds of every unit moving, and the client acknowledges nothing: the window fills
    for (let r = 1; r <= 50; r++) {
      hub.publish(
        'units',
        units.map((u) => ({ op: 'put' as const, id: u.id, value: unit(u.id, u.lat + r / 1e4, 121, 1000 + r * 1000) })),
      );
      hub.flush();
    }
    await wait();
    const sent = conn.take();
    const moves = sent.reduce((n, m) => n + (m.moves ?? 0), 0);
    // it received less than the backlog (10,000 moves) and the rest waits as one latest per unit
    expect(moves).toBeLessThan(10_000);
    expect(hub.stats().behind).toBe(1);
    expect(hub.stats().coalesced).toBeGreaterThan(5_000);
    // a decision is not held back by the full window
    hub.publish('incidents', [{ op: 'put', id: 'i1', value: { id: 'i1' } }]);
    hub.flush();
    s.receive(JSON.stringify({ t: 'sub', topic: 'incidents' }));
    hub.publish('incidents', [{ op: 'put', id: 'i2', value: { id: 'i2' } }]);
    hub.flush();
    expect(conn.take().filter((m) => m.t === 'delta' && m.topic === 'incidents')).toHaveLength(1);
    // acknowledging everything: one catch-up brings every unit to its last position, then it is live
    s.receive(JSON.stringify({ t: 'ack', n: conn.size }));
    await wait(80);
    let catchUp = conn.take().filter((m) => m.t === 'delta' && m.topic === 'units');
    for (let k = 0; k < 20 && hub.stats().behind > 0; k++) {
      s.receive(JSON.stringify({ t: 'ack', n: conn.size }));
      await wait(60);
      catchUp = catchUp.concat(conn.take().filter((m) => m.t === 'delta' && m.topic === 'units'));
    }
    expect(hub.stats().behind).toBe(0);
    expect(catchUp.every((m) => m.t === 'delta' && m.from !== undefined)).toBe(true);
    const last = catchUp[catchUp.length - 1]! as Extract<ServerMessage, { t: 'delta' }>;
    expect(last.partial).toBeUndefined();
    expect(last.seq).toBe(hub.seq('units'));
    // live again: the next tick is the shared delta (no `from`), seq + 1
    s.receive(JSON.stringify({ t: 'ack', n: conn.size }));
    hub.publish('units', [{ op: 'put', id: 'u0', value: unit('u0', 29, 121, 99_000) }]);
    hub.flush();
    const live = conn.take().filter((m) => m.t === 'delta') as Extract<ServerMessage, { t: 'delta' }>[];
    expect(live).toHaveLength(1);
    expect(live[0]!.from).toBeUndefined();
    expect(live[0]!.seq).toBe(last.seq + 1);
  });

  it('a client without acknowledgements is coalesced by its transport’s queue, not cut off', async () => {
    const hub = new Hub({ tickMs: 2, behindBytes: 1000, caughtUpBytes: 500, maxBufferedBytes: 100_000 });
    hubs.push(hub);
    const { conn, s } = client(hub, {});
    s.receive(JSON.stringify({ t: 'sub', topic: 'units' }));
    conn.take();
    conn.bufferedBytes = 5000;
    for (let r = 0; r < 20; r++) {
      hub.publish('units', [{ op: 'put', id: 'a', value: unit('a', 28 + r / 100, 121, r) }]);
      hub.flush();
    }
    await wait();
    expect(conn.closed).toBeNull();
    expect(conn.take().filter((m) => m.t === 'delta')).toHaveLength(0);
    conn.bufferedBytes = 0;
    await wait(60);
    const got = conn.take().filter((m) => m.t === 'delta') as Extract<ServerMessage, { t: 'delta' }>[];
    expect(got).toHaveLength(1);
    // JSON (no pos): the latest value whole, as a put (the client did not hold it)
    expect(got[0]!.ops).toEqual([{ op: 'put', id: 'a', value: unit('a', 28.19, 121, 19) }]);
    expect(got[0]!.from).toBe(0);
  });

  it('ticks once a second with the oldest change the client lacks; closes one that acknowledges nothing', async () => {
    const hub = new Hub({ tickMs: 2, stallMs: 1500 });
    hubs.push(hub);
    hub.replace('units', [unit('a', 28, 121, 0)]);
    hub.flush();
    const { conn, s } = client(hub);
    s.receive(JSON.stringify({ t: 'sub', topic: 'units' }));
    // a window of 64 KiB the client never acknowledges
    for (let r = 0; r < 400; r++) {
      hub.publish('units', [{ op: 'put', id: `n${r}`, value: { ...unit(`n${r}`, 28, 121, r), name: { zh: 'x'.repeat(300), en: 'x' } } }]);
      hub.flush();
    }
    await wait(1100);
    const tick = conn.out.find((m) => m.t === 'tick') as Extract<ServerMessage, { t: 'tick' }> | undefined;
    expect(tick).toBeDefined();
    expect(tick!.old).toBeLessThanOrEqual(tick!.at);
    await wait(1200);
    expect(conn.closed?.code).toBe(CLOSE.stalled);
    expect(hub.stats().stalled).toBe(1);
  });

  it('narrows units to an area: what leaves it is deleted at the client, what enters is put', async () => {
    const hub = new Hub({ tickMs: 2 });
    hubs.push(hub);
    hub.replace('units', [unit('in', 28.5, 121.2, 0), unit('out', 30.2, 120.2, 0)]);
    hub.flush();
    const { conn, s } = client(hub);
    s.receive(JSON.stringify({ t: 'sub', topic: 'units', area: { bbox: [[120.8, 28, 121.8, 29]] } }));
    const snap = conn.take()[0] as Extract<ServerMessage, { t: 'snapshot' }>;
    expect(snap.items.map((u) => (u as { id: string }).id)).toEqual(['in']);
    expect(snap.partial).toBe(true);
    hub.publish('units', [
      { op: 'put', id: 'in', value: unit('in', 30.1, 120.1, 1) },
      { op: 'put', id: 'out', value: unit('out', 28.6, 121.3, 1) },
    ]);
    hub.flush();
    await wait(80);
    const d = conn.take().filter((m) => m.t === 'delta') as Extract<ServerMessage, { t: 'delta' }>[];
    expect(d.flatMap((m) => m.ops.map((o) => `${o.op}:${o.id}`)).sort()).toEqual(['del:in', 'put:out']);
    expect(d[0]!.partial).toBe(true);
    // a topic that is not a moving one cannot be narrowed
    s.receive(JSON.stringify({ t: 'sub', topic: 'incidents', area: { bbox: [[120, 28, 121, 29]] } }));
    expect(conn.take()[0]!.t).toBe('error');
  });

  it('thins units to a rate: a unit the client holds is sent again only after `every`', async () => {
    const hub = new Hub({ tickMs: 2 });
    hubs.push(hub);
    hub.replace('units', [unit('a', 28, 121, 0)]);
    hub.flush();
    const { conn, s } = client(hub);
    s.receive(JSON.stringify({ t: 'sub', topic: 'units', every: 400 }));
    conn.take();
    const t0 = Date.now();
    while (Date.now() - t0 < 1000) {
      hub.publish('units', [{ op: 'put', id: 'a', value: unit('a', 28 + (Date.now() - t0) / 1e5, 121, Date.now()) }]);
      hub.flush();
      s.receive(JSON.stringify({ t: 'ack', n: conn.size }));
      await wait(20);
    }
    const moves = conn
      .take()
      .filter((m) => m.t === 'delta')
      .reduce((n, m) => n + (m.moves ?? 0), 0);
    // ~50 changes in a second; at most one every 400 ms reach the client
    expect(moves).toBeGreaterThanOrEqual(2);
    expect(moves).toBeLessThanOrEqual(3);
  });
});

describe('an area by code', () => {
  it('is a county’s boundary where the hall has it, else the hall a unit belongs to', async () => {
    const { areaFilter } = await import('../../main/core/hub/area.ts');
    // 温岭市 as a square around its seat, for the test
    const wenling = [121.2, 28.2, 121.6, 28.2, 121.6, 28.6, 121.2, 28.6, 121.2, 28.2];
    const f = areaFilter({ codes: ['331081', '330300'] }, (code) => (code === '331081' ? [wenling] : null));
    expect(f({ lat: 28.4, lon: 121.4, home: '331000' })).toBe(true); // inside Wenling's boundary
    expect(f({ lat: 28.7, lon: 121.4, home: '331000' })).toBe(false); // Taizhou, outside it
    expect(f({ lat: 27.9, lon: 120.7, home: '330300' })).toBe(true); // Wenzhou's (no boundary): by home
    expect(f({ lat: 27.9, lon: 120.7, home: '330000', hall: '330382' })).toBe(true); // a Wenzhou county's unit
    expect(f({ lat: 30.2, lon: 120.2, home: '330100' })).toBe(false);
    // a box across the antimeridian is still a box
    expect(areaFilter({ bbox: [[179, -10, -179, 10]] }, () => null)({ lat: 0, lon: -179.5 })).toBe(true);
  });
});
