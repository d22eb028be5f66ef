// The journal is the truth: replaying it through the reducer rebuilds every projection exactly.
import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import type { ServerMessage } from '../../common/contract.ts';
import { HallCore } from '../../main/core/hall.ts';
import { startServer } from '../../main/server/server.ts';
import { attachPort } from '../../main/core/hub/port.ts';
import { reduce, ReduceError } from '../../main/core/journal/events.ts';
import { StoreClient } from '../../native/store/client.ts';
import { TABLES } from '../../native/store/repositories.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

describe('journal and projections', () => {
  const dir = tempDir();

  it('reduce refuses unknown kinds, bad payloads and missing subjects', () => {
    const none = () => undefined;
    expect(() => reduce('unit.exploded', {}, none)).toThrow(ReduceError);
    expect(() => reduce('unit.moved', { id: 'a', lat: 'x', lon: 1, alt: null, at: 1 }, none)).toThrow(/bad unit.moved payload/);
    expect(() => reduce('unit.moved', { id: 'a', lat: 1, lon: 1, alt: null, at: 1 }, none)).toThrow(/no unit a/);
    expect(() => reduce('incident.closed', { id: 'x', by: 'a', at: 1 }, none)).toThrow(/no incident x/);
    const closed = { id: 'x', kind: 'flood', title: 't', severity: 'IV', lat: 30, lon: 120, county: null, status: 'closed', reportedBy: 'a', reportedAt: 1, closedAt: 2, closedBy: 'a', demo: false };
    expect(() => reduce('incident.closed', { id: 'x', by: 'a', at: 3 }, () => closed)).toThrow(/already closed/);
    expect(() => reduce('incident.reported', { incident: { ...closed, severity: 'V' } }, none)).toThrow(/bad incident.reported payload/);
  });

  it('the live path skips the schema check only for the kinds the core builds itself', () => {
    const unit = { id: 'u', lat: 1, lon: 1 } as Record<string, unknown>;
    const bad = { id: 'u', lat: 'x', lon: 1, alt: null, status: 'standby', at: 1, track: {}, drone: null };
    expect(() => reduce('unit.tracked', bad, () => unit)).toThrow(/bad unit.tracked payload/);
    expect(reduce('unit.tracked', bad, () => unit, { trusted: true })[0]!.value).toMatchObject({ lat: 'x' });
    // a kind that is not on the list is checked however it is called
    expect(() => reduce('unit.moved', { id: 'u', lat: 'x', lon: 1, alt: null, at: 1 }, () => unit, { trusted: true })).toThrow(/bad unit.moved payload/);
  });

  it('live rows gather into few transactions, and a clean shutdown stores the ones still waiting', async () => {
    const data = `${dir}/live`;
    const core = await HallCore.start({ dataDir: data, hub: { tickMs: 5 }, liveCommitMs: 200 });
    const id = 'social-330100-01';
    const before = core.stats().batches;
    const writes: Promise<void>[] = [];
    // 50 turns of the loop, 10 positions each: one transaction per 200 ms, not one per turn
    for (let turn = 0; turn < 50; turn++) {
      const events = Array.from({ length: 10 }, (_, i) => ({
        kind: 'unit.tracked' as const,
        subject: `unit:${id}`,
        payload: {
          id,
          lat: 30 + turn / 100,
          lon: 120 + i / 100,
          alt: null,
          status: 'en-route',
          at: turn * 10 + i,
          track: { feed: 'f', source: 's', heading: null, speed: null, ce: null, callsign: null, group: null, battery: null, seen: 1, staleAt: 2, lostAt: 3, presence: 'live' },
          drone: null,
        },
      }));
      writes.push(core.journalLive(events, 'feeds'));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
    expect(core.stats().batches - before).toBeLessThanOrEqual(3);
    // the last rows are waiting for their group when the hall is shut down: they are stored anyway
    void core.journalLive(
      [
        {
          kind: 'unit.tracked',
          subject: `unit:${id}`,
          payload: {
            id,
            lat: 31.25,
            lon: 121.5,
            alt: null,
            status: 'on-site',
            at: 999,
            track: { feed: 'f', source: 's', heading: null, speed: null, ce: null, callsign: null, group: null, battery: null, seen: 1, staleAt: 2, lostAt: 3, presence: 'live' },
            drone: null,
          },
        },
      ],
      'feeds',
    );
    await core.dispose();
    const store = await StoreClient.open(`${data}/beacon.sqlite`);
    const rows = (await store.api.readJournal(0, 1_000_000)).filter((e) => e.kind === 'unit.tracked');
    expect(rows.length).toBe(501);
    expect((await store.api.loadTables()).units.find((u) => (u as { id: string }).id === id)).toMatchObject({ lat: 31.25, lon: 121.5, status: 'on-site' });
    await store.dispose();
  });

  it('seeds once, journals every change, and a replay rebuilds the projections exactly', async () => {
    const data = `${dir}/hall`;
    const core = await HallCore.start({ dataDir: data, hub: { tickMs: 5 } });
    const seeded = (await core.store.api.stats()).journalEvents;
    expect(seeded).toBeGreaterThan(1700);
    const origin = 'test';
    await core.record('unit.moved', 'unit:social-330100-01', { id: 'social-330100-01', lat: 30.5, lon: 120.5, alt: null, at: 5 }, origin);
    await core.record('unit.status', 'unit:social-330100-01', { id: 'social-330100-01', status: 'en-route', at: 6 }, origin);
    await core.record('layout.saved', 'layout:default', { id: 'default', assignments: { '1:1920x1080': 'globe' } }, origin);
    await core.dispose();

    // Restart on the same directory: nothing re-seeded, the changes are there.
    const again = await HallCore.start({ dataDir: data });
    expect((await again.store.api.stats()).journalEvents).toBe(seeded + 3);
    expect(again.get('units', 'social-330100-01')).toMatchObject({ lat: 30.5, lon: 120.5, status: 'en-route', updated: 6 });
    expect(again.hub.items('units').find((u) => (u as { id: string }).id === 'social-330100-01')).toMatchObject({ status: 'en-route' });
    await again.dispose();

    const store = await StoreClient.open(`${data}/beacon.sqlite`);
    const rebuilt = new Map(TABLES.map((t) => [t, new Map<string, Record<string, unknown>>()]));
    for (let after = 0; ;) {
      const batch = await store.api.readJournal(after, 1000);
      if (batch.length === 0) break;
      for (const ev of batch) {
        for (const op of reduce(ev.kind, ev.payload, (t, id) => rebuilt.get(t)!.get(id))) {
          if (op.op === 'put') rebuilt.get(op.table)!.set(op.id, op.value!);
          else rebuilt.get(op.table)!.delete(op.id);
        }
        after = ev.id;
      }
    }
    const tables = await store.api.loadTables();
    for (const t of TABLES) {
      const sortById = (xs: unknown[]) => [...xs].sort((a, b) => String((a as { id: string }).id).localeCompare(String((b as { id: string }).id)));
      expect(sortById([...rebuilt.get(t)!.values()]), t).toEqual(sortById(tables[t]));
    }
    await store.dispose();
  });

  it('answers commands over a message port exactly as over a WebSocket', async () => {
    const core = await HallCore.start({ dataDir: `${dir}/port`, hub: { tickMs: 5 } });
    const { port1, port2 } = new MessageChannel();
    attachPort(core.hub, { onMessage: (cb) => port1.on('message', cb), onClose: (cb) => port1.on('close', cb), post: (t) => port1.postMessage(t), close: () => port1.close() }, 'window:test', {
      kind: 'local',
      name: 'window:test',
    });
    const got: ServerMessage[] = [];
    port2.on('message', (t: string) => got.push(JSON.parse(t) as ServerMessage));
    port2.postMessage(JSON.stringify({ t: 'hello', v: 1, client: 'port' }));
    port2.postMessage(JSON.stringify({ t: 'sub', topic: 'units' }));
    port2.postMessage({ t: 'not-text' }); // structured objects are refused: the protocol is text
    port2.postMessage(JSON.stringify({ t: 'cmd', id: 'm', name: 'unit.move', args: { id: 'aviation-330100-01', lat: 30.1, lon: 120.2 } }));
    await until('a delta over the port', () => got.some((m) => m.t === 'delta'));
    expect(got.find((m) => m.t === 'snapshot')).toMatchObject({ topic: 'units' });
    expect(got.find((m) => m.t === 'error')).toMatchObject({ error: { code: 'bad_frame' } });
    expect(got.find((m) => m.t === 'result')).toMatchObject({ ok: true, value: { id: 'aviation-330100-01' } });
    const delta = got.find((m) => m.t === 'delta') as Extract<ServerMessage, { t: 'delta' }>;
    // A unit every display already holds travels as a patch of what changed.
    expect(delta.ops[0]).toMatchObject({ op: 'patch', id: 'aviation-330100-01', set: { lat: 30.1, lon: 120.2 } });
    port1.close();
    port2.close();
    await core.dispose();
  });

  it('a write the store refuses is reported as unavailable and never shown to displays', async () => {
    const core = await HallCore.start({ dataDir: `${dir}/fail`, hub: { tickMs: 5 } });
    const before = core.get('units', 'social-330100-01');
    const seqBefore = core.hub.seq('units');
    await core.store.dispose(); // the store is gone, as with a vanished disk
    await expect(core.record('unit.status', 'unit:social-330100-01', { id: 'social-330100-01', status: 'on-site', at: 9 }, 'test')).rejects.toMatchObject({ code: 'unavailable' });
    expect(core.stats().commitFailures).toBe(1);
    // /api/health says so (#18, point 6: it said ok while every write failed)
    const server = await startServer({ core, host: '127.0.0.1', port: 0, staticDir: null, open: true });
    try {
      const res = await fetch(`${server.url}/api/health`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'degraded', problem: expect.stringMatching(/the store refuses writes since .*Z: /) });
    } finally {
      await server.close();
    }
    expect(core.get('units', 'social-330100-01')).toEqual(before);
    core.hub.flush();
    expect(core.hub.seq('units')).toBe(seqBefore);
    expect(core.hub.items('units').find((u) => (u as { id: string }).id === 'social-330100-01')).toEqual(before);
    await core.dispose();
  });
});
