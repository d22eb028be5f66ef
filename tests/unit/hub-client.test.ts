// The renderer's hub client against a scripted transport (a test double: this checks the client's
// own rules; the real WebSocket path is tests/integration/ws-hub.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientMessage, ServerMessage } from '../../common/contract.ts';
import { HubClient } from '../../renderer/hub/client.ts';
import { diffPatch } from '../../common/ops.ts';
import type { Obj } from '../../common/plain.ts';
import { decodeMoves, encodeMoves, moveOf } from '../../common/positions.ts';
import { FieldCounts } from '../../renderer/hub/counts.ts';
import type { Transport, TransportHandlers } from '../../renderer/hub/transport.ts';

class Scripted implements Transport {
  readonly binary: boolean = false;
  sent: ClientMessage[] = [];
  h!: TransportHandlers;
  connect(h: TransportHandlers) {
    this.h = h;
    h.open();
  }
  send(m: ClientMessage) {
    this.sent.push(m);
  }
  close() {}
  push(m: ServerMessage) {
    this.h.message(m, JSON.stringify(m).length);
  }
}

const unit = (id: string, lat = 30) => ({
  id,
  kind: 'social',
  name: { zh: id, en: id },
  home: '330100',
  lat,
  lon: 120,
  alt: null,
  status: 'standby',
  members: 10,
  stock: null,
  updated: 1,
  demo: true,
});
const clients: HubClient[] = [];
function setup() {
  const tr = new Scripted();
  const c = new HubClient(tr, { client: 'test' });
  clients.push(c);
  const events: string[] = [];
  c.subscribe('units', (e) => events.push(e.kind));
  tr.push({ t: 'snapshot', topic: 'units', epoch: 'E', seq: 5, items: [unit('a'), unit('b')] });
  return { tr, c, events };
}

describe('hub client', () => {
  afterEach(() => clients.splice(0).forEach((c) => c.dispose()));

  it('applies consecutive deltas and ignores replays of ones it has', () => {
    const { tr, c, events } = setup();
    tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: 6, ops: [{ op: 'put', id: 'a', value: unit('a', 31) }] });
    tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: 6, ops: [{ op: 'del', id: 'a' }] });
    expect((c.topic('units').get('a') as { lat: number }).lat).toBe(31);
    expect(events).toEqual(['reset', 'delta']);
  });

  it('on a gap or a new epoch it never guesses: it asks for a fresh snapshot (unsub first: the hall holds one subscription per topic)', () => {
    const { tr, c } = setup();
    tr.sent = [];
    tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: 8, ops: [{ op: 'del', id: 'a' }] });
    expect(tr.sent).toEqual([
      { t: 'unsub', topic: 'units' },
      { t: 'sub', topic: 'units' },
    ]);
    expect(c.counters.gaps).toBe(1);
    expect(c.topic('units').has('a')).toBe(true);
    tr.push({ t: 'snapshot', topic: 'units', epoch: 'F', seq: 1, items: [unit('z')] });
    tr.sent = [];
    tr.push({ t: 'delta', topic: 'units', epoch: 'G', seq: 2, ops: [] });
    expect(tr.sent).toEqual([
      { t: 'unsub', topic: 'units' },
      { t: 'sub', topic: 'units' },
    ]);
  });

  it('resubscribes with its position after a reconnect', () => {
    const { tr } = setup();
    tr.sent = [];
    tr.h.open();
    expect(tr.sent).toEqual([
      { t: 'hello', v: 1, client: 'test' },
      { t: 'sub', topic: 'units', since: { epoch: 'E', seq: 5 } },
    ]);
  });

  it('drops entities that fail their schema, counting them', () => {
    const { tr, c } = setup();
    tr.push({
      t: 'delta',
      topic: 'units',
      epoch: 'E',
      seq: 6,
      ops: [
        { op: 'put', id: 'a', value: { ...unit('a'), lat: 'north' } },
        { op: 'put', id: 'c', value: unit('c') },
      ],
    });
    expect((c.topic('units').get('a') as { lat: number }).lat).toBe(30);
    expect(c.topic('units').has('c')).toBe(true);
    expect(c.counters.invalid).toBe(1);
  });

  it('applies a patch checked by the fields it changes; a patch that breaks a field is dropped, counted, and resyncs', () => {
    const { tr, c } = setup();
    tr.sent = [];
    tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: 6, ops: [{ op: 'patch', id: 'a', set: { lat: 30.5, updated: 2 } }] });
    expect(c.topic('units').get('a')).toMatchObject({ lat: 30.5, updated: 2, lon: 120 });
    expect(c.counters.invalid).toBe(0);
    tr.push({
      t: 'delta',
      topic: 'units',
      epoch: 'E',
      seq: 7,
      ops: [
        { op: 'patch', id: 'a', set: { lat: 95 } },
        { op: 'patch', id: 'b', set: { status: 'on-site' } },
      ],
    });
    expect(c.topic('units').get('a')).toMatchObject({ lat: 30.5 });
    expect(c.topic('units').get('b')).toMatchObject({ status: 'on-site' });
    expect(c.counters.invalid).toBe(1);
    expect(tr.sent).toEqual([
      { t: 'unsub', topic: 'units' },
      { t: 'sub', topic: 'units' },
    ]);
  });

  it('a patch for an entity it does not hold means it has diverged: counted, the rest applied, and it asks for a snapshot', () => {
    const { tr, c } = setup();
    tr.sent = [];
    tr.push({
      t: 'delta',
      topic: 'units',
      epoch: 'E',
      seq: 6,
      ops: [
        { op: 'patch', id: 'ghost', set: { lat: 31 } },
        { op: 'patch', id: 'a', set: { lat: 30.5 } },
      ],
    });
    expect(c.counters.gaps).toBe(1);
    expect(c.topic('units').has('ghost')).toBe(false);
    expect(c.topic('units').get('a')).toMatchObject({ lat: 30.5 });
    expect(tr.sent).toEqual([
      { t: 'unsub', topic: 'units' },
      { t: 'sub', topic: 'units' },
    ]);
  });

  it('numbers each entity densely: kept while it lives, given to the next after a delete, all afresh after a snapshot', () => {
    const tr = new Scripted();
    const c = new HubClient(tr, { client: 'test' });
    clients.push(c);
    const deltas: { ids: string[]; slots: number[] }[] = [];
    c.subscribe('units', (e) => {
      if (e.kind === 'delta') deltas.push({ ids: e.ops.map((o) => o.id), slots: [...e.slots] });
    });
    tr.push({ t: 'snapshot', topic: 'units', epoch: 'E', seq: 1, items: [unit('a'), unit('b'), unit('c')] });
    const last = () => deltas.at(-1)!;
    // a patch, a put of a held unit, a put of a new one: the held keep theirs, the new takes the next
    tr.push({
      t: 'delta',
      topic: 'units',
      epoch: 'E',
      seq: 2,
      ops: [
        { op: 'patch', id: 'c', set: { lat: 31 } },
        { op: 'put', id: 'a', value: unit('a', 32) },
        { op: 'put', id: 'd', value: unit('d') },
      ],
    });
    expect(last()).toEqual({ ids: ['c', 'a', 'd'], slots: [2, 0, 3] });
    // a delete reports the number it frees; the next new unit takes it; a dropped entity takes none
    tr.push({
      t: 'delta',
      topic: 'units',
      epoch: 'E',
      seq: 3,
      ops: [
        { op: 'del', id: 'b' },
        { op: 'put', id: 'x', value: { ...unit('x'), lat: 'north' } },
        { op: 'put', id: 'e', value: unit('e') },
        { op: 'del', id: 'nobody' },
      ],
    });
    expect(last()).toEqual({ ids: ['b', 'e', 'nobody'], slots: [1, 1, -1] });
    expect(c.counters.invalid).toBe(1);
    tr.push({
      t: 'delta',
      topic: 'units',
      epoch: 'E',
      seq: 4,
      ops: [
        { op: 'patch', id: 'e', set: { lat: 30.1 } },
        { op: 'patch', id: 'd', set: { lat: 30.2 } },
      ],
    });
    expect(last()).toEqual({ ids: ['e', 'd'], slots: [1, 3] });
    // the map the stores read holds what the deltas said
    expect([...c.topic('units').keys()].sort()).toEqual(['a', 'c', 'd', 'e']);
    expect((c.topic('units').get('c') as { lat: number }).lat).toBe(31);
    expect([...c.topic('units').values()].map((u) => (u as { id: string }).id).sort()).toEqual(['a', 'c', 'd', 'e']);
    // a snapshot numbers afresh from 0, in its own order
    tr.push({ t: 'snapshot', topic: 'units', epoch: 'F', seq: 1, items: [unit('e'), unit('a')] });
    tr.push({
      t: 'delta',
      topic: 'units',
      epoch: 'F',
      seq: 2,
      ops: [
        { op: 'patch', id: 'a', set: { lat: 29 } },
        { op: 'put', id: 'z', value: unit('z') },
        { op: 'patch', id: 'e', set: { lat: 29 } },
      ],
    });
    expect(last()).toEqual({ ids: ['a', 'z', 'e'], slots: [1, 2, 0] });
    expect(c.topic('units').size).toBe(3);
  });

  it('settles commands by id, with typed errors, and fails them when the link drops', async () => {
    const { tr, c } = setup();
    const ok = c.command('hall.ping', {});
    const bad = c.command('unit.move', { id: 'x', lat: 1, lon: 1 });
    const lost = c.command('hall.ping', {});
    const ids = tr.sent.filter((m) => m.t === 'cmd').map((m) => (m as { id: string }).id);
    tr.push({ t: 'result', id: ids[0]!, ok: true, value: { now: 7 } });
    tr.push({ t: 'result', id: ids[1]!, ok: false, error: { code: 'not_found', message: 'no unit x' } });
    await expect(ok).resolves.toEqual({ now: 7 });
    await expect(bad).rejects.toMatchObject({ code: 'not_found', message: 'no unit x' });
    tr.h.close('1006');
    await expect(lost).rejects.toMatchObject({ code: 'unavailable' });
    expect(c.state).toBe('closed');
  });

  it("keeps the legend's counts per op, equal to a rescan after every delta, and says when a count changed", () => {
    const { tr, c } = setup();
    const STATUSES = ['standby', 'en-route', 'on-site', 'offline'] as const;
    const counts = new FieldCounts(STATUSES, (u) => (u as { status: string }).status);
    const versions: number[] = [];
    c.subscribe('units', (e) => {
      if (e.kind === 'reset') counts.reset(c.numbered('units'));
      else counts.apply(e.ops, e.slots);
      versions.push(counts.version);
    });
    const rescan = () => STATUSES.map((s) => [...c.topic('units').values()].filter((u) => (u as { status: string }).status === s).length);
    expect(STATUSES.map((s) => counts.get(s))).toEqual([2, 0, 0, 0]);
    let seed = 3;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    let seq = 5;
    for (let k = 0; k < 300; k++) {
      const held = [...c.topic('units').keys()];
      const ops = [];
      const used = new Set<string>();
      for (let j = 0; j < 1 + rand(6); j++) {
        const r = rand(10);
        const id = r < 2 || held.length === 0 ? `n${k}-${j}` : held[rand(held.length)]!;
        if (used.has(id)) continue;
        used.add(id);
        // moves, status changes, deletes and new units, numbers given back and taken again
        if (r === 2 && held.includes(id)) ops.push({ op: 'del' as const, id });
        else if (r < 5) ops.push({ op: 'put' as const, id, value: { ...unit(id), status: STATUSES[rand(4)] } });
        else if (held.includes(id)) ops.push({ op: 'patch' as const, id, set: { lat: 30 + rand(100) / 100 } });
      }
      if (ops.length === 0) continue;
      const before = counts.version;
      const was = rescan();
      tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: ++seq, ops });
      expect(STATUSES.map((s) => counts.get(s))).toEqual(rescan());
      // a count that changed is never missed (a delete and an add of the same status may bump it idly)
      if (rescan().join() !== was.join()) expect(counts.version).not.toBe(before);
    }
    // a tick of moves alone changes no count and so redraws no legend
    const v = counts.version;
    const moves = [...c.topic('units').keys()].map((id) => ({ op: 'patch' as const, id, set: { lat: 31 } }));
    tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: ++seq, ops: moves });
    expect(counts.version).toBe(v);
    expect(counts.nonZero().reduce((a, [, n]) => a + n, 0)).toBe(c.topic('units').size);
  });
});

describe('hub client over a thin link (issue 23)', () => {
  afterEach(() => clients.splice(0).forEach((c) => c.dispose()));

  class BinaryScripted extends Scripted {
    override readonly binary = true;
    pushBinary(bin: Uint8Array) {
      const r = decodeMoves(bin);
      if (!r.ok) throw new Error(r.error);
      this.h.message(r.frame.header as unknown as ServerMessage, bin.length, r.frame.moves);
    }
  }
  const tracked = (id: string, lat: number, t: number) => ({
    ...unit(id, lat),
    updated: t,
    track: { feed: 'cot-tcp', source: id, heading: 10, speed: 1, ce: null, callsign: null, group: null, seen: t, staleAt: t + 60_000, lostAt: t + 300_000, presence: 'live' },
  });

  it('acknowledges what arrives, follows a catch-up delta, applies binary moves, and knows how late it is', async () => {
    const tr = new BinaryScripted();
    const c = new HubClient(tr, { client: 'test' });
    clients.push(c);
    expect(tr.sent[0]).toMatchObject({ t: 'hello', flow: true, pos: 1 });
    c.subscribe('units', () => undefined);
    tr.push({ t: 'snapshot', topic: 'units', epoch: 'E', seq: 5, items: [tracked('a', 30, 1000), tracked('b', 30, 1000)], ix: [0, 1] });
    // a delta made for this client alone: from 5 to 9 (the hall coalesced 6…9), more still to come
    tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: 9, from: 5, ops: [{ op: 'patch', id: 'a', set: { lat: 30.5 } }], partial: true, at: Date.now(), old: Date.now() - 4000 });
    expect((c.topic('units').get('a') as { lat: number }).lat).toBe(30.5);
    expect(c.counters.gaps).toBe(0);
    expect(c.lag().ms).toBeGreaterThanOrEqual(4000);
    // moves in binary, by index
    const prev = c.topic('units').get('b') as Obj;
    const next = tracked('b', 30.12345, 2000) as unknown as Obj;
    const mv = moveOf(1, diffPatch(prev, next)!, prev, next)!;
    tr.pushBinary(encodeMoves({ t: 'delta', topic: 'units', epoch: 'E', seq: 9, from: 9, ops: [], at: Date.now() }, [mv]));
    const b = c.topic('units').get('b') as { lat: number; track: { seen: number; staleAt: number } };
    expect(b.lat).toBeCloseTo(30.12345, 5);
    expect(b.track.seen).toBe(2000);
    expect(b.track.staleAt).toBe(62_000);
    // caught up: the picture is current
    expect(c.lag().ms).toBe(0);
    await new Promise((r) => setTimeout(r, 30));
    const ack = tr.sent.filter((m) => m.t === 'ack').pop() as { n: number } | undefined;
    expect(ack?.n).toBeGreaterThan(100);
    // a move for an index it was never told: it has diverged, and asks again
    tr.sent = [];
    tr.pushBinary(encodeMoves({ t: 'delta', topic: 'units', epoch: 'E', seq: 10, ops: [] }, [{ ...mv, ix: 77 }]));
    expect(tr.sent.slice(0, 2)).toEqual([
      { t: 'unsub', topic: 'units' },
      { t: 'sub', topic: 'units' },
    ]);
  });

  it('a small topic caught up does not make a lagging picture read as live (seen in CI: the lag chip vanished on a stopped link)', () => {
    const tr = new BinaryScripted();
    const c = new HubClient(tr, { client: 'test' });
    clients.push(c);
    c.subscribe('units', () => undefined);
    c.subscribe('feeds', () => undefined);
    tr.push({ t: 'snapshot', topic: 'units', epoch: 'E', seq: 5, items: [unit('a')] });
    tr.push({ t: 'snapshot', topic: 'feeds', epoch: 'E', seq: 5, items: [] });
    const now = Date.now();
    // the units are 6 s behind; then the feeds' own catch-up arrives whole
    tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: 9, from: 5, ops: [], partial: true, at: now, old: now - 6000 });
    tr.push({ t: 'delta', topic: 'feeds', epoch: 'E', seq: 9, from: 5, ops: [], at: now });
    expect(c.lag().ms).toBeGreaterThanOrEqual(6000);
    // the tick speaks for every topic: still behind
    tr.push({ t: 'tick', at: now, old: now - 7000 });
    tr.push({ t: 'delta', topic: 'feeds', epoch: 'E', seq: 10, from: 9, ops: [], at: now });
    expect(c.lag().ms).toBeGreaterThanOrEqual(7000);
    // and a tick that says nothing is owed is live
    tr.push({ t: 'tick', at: now });
    expect(c.lag().ms).toBe(0);
  });

  it('resumes only from a picture that was whole', () => {
    const tr = new BinaryScripted();
    const c = new HubClient(tr, { client: 'test', minBackoffMs: 1, maxBackoffMs: 1 });
    clients.push(c);
    c.subscribe('units', () => undefined);
    tr.push({ t: 'snapshot', topic: 'units', epoch: 'E', seq: 5, items: [unit('a')] });
    tr.push({ t: 'delta', topic: 'units', epoch: 'E', seq: 7, from: 5, ops: [], partial: true });
    tr.sent = [];
    tr.h.close('cut');
    return new Promise<void>((done) =>
      setTimeout(() => {
        expect(tr.sent.find((m) => m.t === 'sub')).toEqual({ t: 'sub', topic: 'units' });
        done();
      }, 30),
    );
  });
});
