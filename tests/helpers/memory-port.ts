// A small in-memory hall port for a desk's unit tests: the real reducer over Maps, no store, no hub.
// Changes are "durable" at once (in the next microtask, as the kernel's commit is asynchronous), so a
// desk's logic is tested without SQLite; the integration tests keep the real store.
import type { DeltaOp, TopicName } from '../../common/contract.ts';
import type { Link } from '../../common/domain.ts';
import type { HallPort, JournalEvent } from '../../main/core/kernel/port.ts';
import { reduce } from '../../main/core/journal/events.ts';
import { TABLES, type TableName } from '../../native/store/repositories.ts';
import { HubError } from '../../main/core/hub/hub.ts';
import { ReduceError } from '../../main/core/journal/events.ts';

export interface MemoryPort extends HallPort {
  /** Every event recorded or journaled, in order, with its origin and key. */
  readonly journal: (JournalEvent & { origin: string; key: string | null; ts: number })[];
  /** What each topic holds (tables served as topics and the desk's own). */
  readonly topics: Map<TopicName, Map<string, unknown>>;
  /** The clock, settable. */
  clock: number;
}

export function memoryPort(opts: { tables?: Partial<Record<TableName, { id: string }[]>>; now?: number } = {}): MemoryPort {
  const state = new Map<TableName, Map<string, Record<string, unknown>>>();
  for (const t of TABLES) state.set(t, new Map((opts.tables?.[t] ?? []).map((r) => [r.id, r as Record<string, unknown>])));
  const topics = new Map<TopicName, Map<string, unknown>>();
  const topic = (t: TopicName) => topics.get(t) ?? topics.set(t, new Map()).get(t)!;
  const changeListeners = new Set<(topic: TopicName, ops: DeltaOp[]) => void>();
  const linkListeners = new Set<(l: Link) => void>();
  const lookup = (t: TableName, id: string) => state.get(t)!.get(id);
  let lastId = 0;
  const apply = (t: TopicName, ops: readonly DeltaOp[]) => {
    const m = topic(t);
    for (const op of ops) {
      if (op.op === 'put') m.set(op.id, op.value);
      else m.delete(op.id);
      if (t === 'link' && op.op === 'put') for (const cb of linkListeners) cb(op.value as Link);
    }
  };

  const port: MemoryPort = {
    journal: [],
    topics,
    clock: opts.now ?? Date.UTC(2026, 6, 1, 2),
    now: () => port.clock,
    get: <T>(t: TableName, id: string) => state.get(t)!.get(id) as T | undefined,
    all: <T>(t: TableName) => [...state.get(t)!.values()] as T[],
    async recordMany(events, origin, keys) {
      const byTopic = new Map<TopicName, DeltaOp[]>();
      const ids: number[] = [];
      events.forEach((e, i) => {
        let ops;
        try {
          ops = reduce(e.kind, e.payload, lookup);
        } catch (err) {
          throw err instanceof ReduceError ? new HubError(err.code, err.message) : err;
        }
        for (const op of ops) {
          const m = state.get(op.table)!;
          if (op.op === 'put') m.set(op.id, op.value!);
          else m.delete(op.id);
          const list = byTopic.get(op.table as TopicName) ?? byTopic.set(op.table as TopicName, []).get(op.table as TopicName)!;
          list.push(op.op === 'put' ? { op: 'put', id: op.id, value: op.value } : { op: 'del', id: op.id });
        }
        port.journal.push({ ...e, origin, key: keys?.[i] ?? null, ts: port.clock });
        ids.push(++lastId);
      });
      await Promise.resolve();
      for (const [t, ops] of byTopic) {
        apply(t, ops);
        for (const cb of changeListeners) cb(t, ops);
      }
      return ids;
    },
    record(kind, subject, payload, origin, key) {
      return port.recordMany([{ kind, subject, payload }], origin, key ? [key] : undefined).then((ids) => ids[0]!);
    },
    putLive(table, value) {
      state.get(table)!.set(value.id, value as Record<string, unknown>);
      apply(table as TopicName, [{ op: 'put', id: value.id, value }]);
    },
    async journalLive(events, origin) {
      for (const e of events) {
        for (const op of reduce(e.kind, e.payload, lookup, { trusted: true })) {
          if (op.op === 'put') state.get(op.table)!.set(op.id, op.value!);
          else state.get(op.table)!.delete(op.id);
        }
        port.journal.push({ ...e, origin, key: null, ts: port.clock });
      }
    },
    publish: (t, ops) => apply(t, ops),
    replace(t, items) {
      topic(t).clear();
      apply(
        t,
        [...items].map((v) => ({ op: 'put' as const, id: v.id, value: v })),
      );
    },
    items: (t) => [...topic(t).values()],
    onChange(cb) {
      changeListeners.add(cb);
      return () => changeListeners.delete(cb);
    },
    onLink(cb) {
      linkListeners.add(cb);
      for (const l of topic('link').values()) cb(l as Link);
      return () => linkListeners.delete(cb);
    },
  };
  return port;
}
