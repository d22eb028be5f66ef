import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreClient } from '../../native/store/client.ts';
import { type CommitEntry, Store } from '../../native/store/store.ts';
import { tempDir } from '../helpers/tmp.ts';

const unit = (id: string, lat = 30) => ({ id, kind: 'social', home: '330100', status: 'standby', lat, lon: 120 });
const entry = (id: string, lat = 30, key: string | null = null): CommitEntry => ({
  event: { ts: 1000, kind: 'unit.upserted', subject: `unit:${id}`, payload: { unit: unit(id, lat) }, origin: 'test', key },
  ops: [{ table: 'units', op: 'put', id, value: unit(id, lat) }],
});

describe('store', () => {
  const dir = tempDir();

  it('appends events and applies their projections in one transaction', () => {
    const s = new Store(join(dir, 'a.sqlite'));
    const ids = s.commit([entry('u1'), entry('u2', 31)]);
    expect(ids).toEqual([1, 2]);
    expect(s.repos.units.count()).toBe(2);
    expect(s.repos.units.get('u2')).toMatchObject({ lat: 31 });
    expect(s.readJournal(0, 10).map((e) => e.subject)).toEqual(['unit:u1', 'unit:u2']);
    s.close();
  });

  it('stores an idempotency key once and skips its ops the second time', () => {
    const s = new Store(join(dir, 'b.sqlite'));
    expect(s.commit([entry('u1', 30, 'k1')])).toEqual([1]);
    expect(s.commit([entry('u1', 35, 'k1')])).toEqual([null]);
    expect(s.repos.units.get('u1')).toMatchObject({ lat: 30 });
    expect(s.stats().journalEvents).toBe(1);
    s.close();
  });

  it('rolls back the whole batch when one entry fails: nothing half-written', () => {
    const s = new Store(join(dir, 'c.sqlite'));
    s.commit([entry('keep')]);
    const bad: CommitEntry = { event: { ts: 1, kind: 'x', subject: 'x', payload: {}, origin: 'test' }, ops: [{ table: 'nope' as 'units', op: 'put', id: 'x', value: {} }] };
    expect(() => s.commit([entry('lost'), bad])).toThrow(/unknown table/);
    expect(s.repos.units.all().map((u) => (u as { id: string }).id)).toEqual(['keep']);
    expect(s.stats().journalEvents).toBe(1);
    s.close();
  });

  it('runs in a worker: calls answered in order, errors come back as errors, the file survives reopen', async () => {
    const file = join(dir, 'd.sqlite');
    const c = await StoreClient.open(file);
    const [a, b] = await Promise.all([c.api.commit([entry('w1')]), c.api.commit([entry('w2')])]);
    expect([a, b]).toEqual([[1], [2]]);
    await expect(c.api.commit([{ ...entry('w3'), ops: [{ table: 'bad' as 'units', op: 'put', id: 'x', value: {} }] }])).rejects.toThrow(/unknown table/);
    await c.api.setMeta('k', 'v');
    await c.dispose();
    const again = await StoreClient.open(file);
    expect((await again.api.loadTables()).units).toHaveLength(2);
    expect(await again.api.getMeta('k')).toBe('v');
    await again.dispose();
  });

  it('queues outbox items in the same transaction, most urgent first, and acknowledges them', () => {
    const s = new Store(join(dir, 'o.sqlite'));
    const pos = (id: string) => ({ ...entry(id), outbox: { category: 'positions', priority: 2 } });
    const dec = (id: string) => ({ ...entry(id), outbox: { category: 'decisions', priority: 0 } });
    s.commit([pos('p1'), pos('p2'), dec('d1'), entry('local-only')]);
    const bad: CommitEntry = {
      event: { ts: 1, kind: 'x', subject: 'x', payload: {}, origin: 'test' },
      ops: [{ table: 'nope' as 'units', op: 'put', id: 'x', value: {} }],
      outbox: { category: 'decisions', priority: 0 },
    };
    expect(() => s.commit([dec('d2'), bad])).toThrow();
    const pending = s.outboxPending(10, []);
    expect(pending.map((p) => p.event.subject)).toEqual(['unit:d1', 'unit:p1', 'unit:p2']);
    expect(s.outboxStats()).toMatchObject({ depth: 3, byCategory: { decisions: 1, positions: 2 }, oldest: 1000 });
    expect(s.outboxPending(10, [pending[0]!.seq]).map((p) => p.event.subject)).toEqual(['unit:p1', 'unit:p2']);
    expect(s.outboxAck([pending[0]!.seq, pending[1]!.seq], 5)).toBe(2);
    expect(s.outboxAck([pending[0]!.seq], 6)).toBe(0);
    expect(s.outboxPending(10, []).map((p) => [p.event.subject, p.attempts])).toEqual([['unit:p2', 3]]);
    expect(s.outboxStats()).toMatchObject({ depth: 1, acked: 2 });
    s.close();
  });

  it('gives live positions their share of a backlog drain, but never ahead of a decision', () => {
    const s = new Store(join(dir, 'live.sqlite'));
    const at = (id: string, ts: number, category: string, priority: number): CommitEntry => ({ ...entry(id), event: { ...entry(id).event, ts }, outbox: { category, priority } });
    const now = 1_000_000;
    const batch: CommitEntry[] = [];
    for (let i = 0; i < 100; i++) batch.push(at(`old${i}`, now - 600_000 + i, 'positions', 2)); // ten minutes old
    for (let i = 0; i < 5; i++) batch.push(at(`new${i}`, now - 1000 + i, 'positions', 2)); // just now
    s.commit(batch);
    const live = { category: 'positions', priority: 2, since: now - 10_000, slots: 2, after: 0 };
    const got = s.outboxPending(8, [], live);
    expect(got.map((p) => [p.event.subject, p.live ?? false])).toEqual([...Array.from({ length: 6 }, (_, i) => [`unit:old${i}`, false]), ['unit:new3', true], ['unit:new4', true]]);
    // Skipping what is in flight, the next call continues both streams.
    // The live stream only moves forward: after new3 and new4 went live, new0-2 wait with the backlog.
    const floor = Math.max(...got.filter((p) => p.live).map((p) => p.seq));
    const next = s.outboxPending(
      4,
      got.map((p) => p.seq),
      { ...live, after: floor },
    );
    expect(next.map((p) => p.event.subject)).toEqual(['unit:old6', 'unit:old7', 'unit:old8', 'unit:old9']);
    s.commit([at('new5', now, 'positions', 2)]);
    const third = s.outboxPending(
      4,
      [...got, ...next].map((p) => p.seq),
      { ...live, after: floor },
    );
    expect(third.map((p) => [p.event.subject, p.live ?? false])).toEqual([
      ['unit:old10', false],
      ['unit:old11', false],
      ['unit:old12', false],
      ['unit:new5', true],
    ]);
    // A decision waiting: everything in order, the decision first, no live slots.
    s.commit([at('d', now, 'decisions', 0)]);
    expect(s.outboxPending(3, [], live).map((p) => [p.event.subject, p.live ?? false])).toEqual([
      ['unit:d', false],
      ['unit:old0', false],
      ['unit:old1', false],
    ]);
    // No backlog (everything fits): plain order.
    const small = new Store(join(dir, 'live2.sqlite'));
    small.commit([at('a', now - 600_000, 'positions', 2), at('b', now, 'positions', 2)]);
    expect(small.outboxPending(8, [], live).map((p) => p.live ?? false)).toEqual([false, false]);
    small.close();
    s.close();
  });

  it('thins a backlog of positions per unit and time bucket, keeping each newest, never touching decisions', () => {
    const s = new Store(join(dir, 'thin.sqlite'));
    const at = (id: string, ts: number, category: string, priority: number): CommitEntry => ({ ...entry(id), event: { ...entry(id).event, ts }, outbox: { category, priority } });
    const batch: CommitEntry[] = [];
    // 3 units reporting every 5 s for 10 minutes, and 5 decisions.
    for (let t = 0; t < 600_000; t += 5_000) for (const u of ['a', 'b', 'c']) batch.push(at(u, t, 'positions', 2));
    for (let i = 0; i < 5; i++) batch.push(at('a', 1000 * i, 'decisions', 0));
    s.commit(batch);
    const thinned = s.outboxThin('positions', 60_000, 7);
    expect(thinned).toBe(360 - 30);
    const left = s.outboxPending(1000, []);
    expect(left.filter((p) => p.category === 'decisions')).toHaveLength(5);
    const positions = left.filter((p) => p.category === 'positions');
    expect(positions).toHaveLength(30); // one per unit per minute
    for (const u of ['a', 'b', 'c']) expect(Math.max(...positions.filter((p) => p.event.subject === `unit:${u}`).map((p) => p.event.ts))).toBe(595_000);
    expect(s.outboxStats()).toMatchObject({ depth: 35, thinned: 330 });
    expect(s.outboxThin('positions', 60_000, 8)).toBe(0); // idempotent
    s.close();
  });

  it('reports a store it cannot open instead of crashing', async () => {
    await expect(StoreClient.open(join(dir, 'missing-dir', 'x', 'e.sqlite'))).rejects.toThrow(/cannot open store/);
  });
});
