// The kernel: the hall's live state and the one way it changes. A change is: reduce to table ops ->
// apply to the live state -> commit (journal + projections, one transaction per batch) -> publish to
// the hub. Displays only see what is durable. Desks reach it through the HallPort it implements.
import type { DeltaOp, TopicName } from '../../../common/contract.ts';
import type { Link } from '../../../common/domain.ts';
import type { AsyncStore } from '../../../native/store/client.ts';
import { TABLES, type TableName } from '../../../native/store/repositories.ts';
import type { CommitEntry, TableOp } from '../../../native/store/store.ts';
import { type Hub, HubError } from '../hub/hub.ts';
import { type EventKind, type EventPayload, reduce, ReduceError } from '../journal/events.ts';
import type { HallPort, JournalEvent, OutboxRoute } from './port.ts';

const noop = () => undefined;

export interface KernelOptions {
  /** Largest number of events committed in one transaction. @default 5000 */
  maxBatch?: number;
  /** Live-path rows (feeds' positions) wait at most this long to share a transaction: one fsync per
   *  group rather than one per turn of the loop. Recorded commands still commit at once. @default 100 */
  liveCommitMs?: number;
  now?: () => number;
}

interface Pending {
  entry: CommitEntry;
  /** What the ops replaced in the live state, to put back if the store refuses the write. */
  undo: { table: TableName; id: string; prev: Record<string, unknown> | undefined }[];
  /** False for changes already live (putLive): journaled and projected, not published again. */
  publish: boolean;
  resolve: (id: number | null) => void;
  reject: (e: Error) => void;
}

export class Kernel implements HallPort {
  private readonly state = new Map<TableName, Map<string, Record<string, unknown>>>();
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  private readonly maxBatch: number;
  private readonly liveCommitMs: number;
  private liveTimer: NodeJS.Timeout | null = null;
  private readonly linkListeners = new Set<(l: Link) => void>();
  private readonly changeListeners = new Set<(topic: TopicName, ops: DeltaOp[]) => void>();
  /** Tables served as hub topics of the same name (the desks' declarations). */
  private readonly topicOf = new Map<TableName, TopicName>();
  private outbox: { route: (kind: EventKind) => OutboxRoute | null; kick: () => void } | null = null;
  readonly now: () => number;
  readonly counters = { events: 0, batches: 0, commitFailures: 0 };
  /** Whether the store took the last batch it was given; when it did not, since when and why.
   *  /api/health reports the hall degraded on it: serving reads while every write fails is not ok. */
  storeRefusing: { since: number; error: string } | null = null;

  private readonly store: AsyncStore;
  private readonly hub: Hub;

  constructor(store: AsyncStore, hub: Hub, opts: KernelOptions = {}) {
    this.store = store;
    this.hub = hub;
    this.maxBatch = opts.maxBatch ?? 5000;
    this.liveCommitMs = opts.liveCommitMs ?? 100;
    this.now = opts.now ?? Date.now;
  }

  /** Serve a table's rows as the hub topic of the same name. */
  serve(table: TableName & TopicName): void {
    this.topicOf.set(table, table);
  }

  /** Load every table into the live state and the served topics. */
  async load(): Promise<void> {
    const tables = await this.store.loadTables();
    for (const t of TABLES) {
      const m = new Map<string, Record<string, unknown>>();
      for (const row of tables[t] as Record<string, unknown>[]) m.set(String(row.id), row);
      this.state.set(t, m);
      const topic = this.topicOf.get(t);
      if (topic) this.hub.replace(topic, m.values() as Iterable<{ id: string }>);
    }
  }

  routeOutbox(route: (kind: EventKind) => OutboxRoute | null, kick: () => void): () => void {
    const o = { route, kick };
    this.outbox = o;
    return () => {
      if (this.outbox === o) this.outbox = null;
    };
  }

  // ---- HallPort ------------------------------------------------------------------------------

  get<T = Record<string, unknown>>(table: TableName, id: string): T | undefined {
    return this.state.get(table)!.get(id) as T | undefined;
  }

  all<T = Record<string, unknown>>(table: TableName): T[] {
    return [...this.state.get(table)!.values()] as T[];
  }

  record<K extends EventKind>(kind: K, subject: string, payload: EventPayload<K>, origin: string, key?: string): Promise<number | null> {
    return this.recordMany([{ kind, subject, payload }], origin, key ? [key] : undefined).then((ids) => ids[0]!);
  }

  recordMany(events: JournalEvent[], origin: string, keys?: string[]): Promise<(number | null)[]> {
    const ts = this.now();
    const promises: Promise<number | null>[] = [];
    for (let i = 0; i < events.length; i++) {
      const { kind, subject, payload } = events[i]!;
      let ops: TableOp[];
      try {
        ops = reduce(kind, payload, this.lookup);
      } catch (err) {
        if (err instanceof ReduceError) throw new HubError(err.code, err.message);
        throw err;
      }
      // Applied to the live state now so the next change reduces against it; published after commit.
      const undo = this.applyToState(ops);
      // With an uplink, what the province must know is queued in the same transaction as the change.
      // What came from the province, or from a child hall (whose own uplink reports it up), is never echoed.
      const outbox = this.outbox && origin !== 'province' && !origin.startsWith('hall:') ? this.outbox.route(kind) : null;
      const entry: CommitEntry = { event: { ts, kind, subject, payload, origin, key: keys?.[i] ?? null }, ops, outbox };
      promises.push(new Promise((resolve, reject) => this.queue.push({ entry, undo, resolve, reject, publish: true })));
    }
    this.scheduleDrain();
    return Promise.all(promises);
  }

  /**
   * The live path, for feeds: the value goes into the live state and to the hub at once, without
   * waiting for the disk. A drone at 10 Hz or 20,000 trackers at 1 Hz must reach the wall within a
   * tick; what of it is kept is decided by the storage policy and recorded with `journalLive`.
   */
  putLive(table: TableName, value: { id: string }): void {
    this.state.get(table)!.set(value.id, value as Record<string, unknown>);
    const topic = this.topicOf.get(table);
    if (topic) this.hub.publish(topic, [{ op: 'put', id: value.id, value }]);
  }

  /** Journal and project changes that `putLive` already made live: not applied or published again.
   *  Settles once all of them are stored (or with the first failure). Cheap per event: thousands of
   *  positions a second come through here, so there is one promise per call, not per event. */
  journalLive(events: JournalEvent[], origin: string): Promise<void> {
    const ts = this.now();
    const entries: CommitEntry[] = [];
    for (const { kind, subject, payload } of events) {
      let ops: TableOp[];
      try {
        ops = reduce(kind, payload, this.lookup, { trusted: true });
      } catch (err) {
        return Promise.reject(err instanceof ReduceError ? new HubError(err.code, err.message) : err);
      }
      const outbox = this.outbox ? this.outbox.route(kind) : null;
      entries.push({ event: { ts, kind, subject, payload, origin, key: null }, ops, outbox });
    }
    if (entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const last = entries.length - 1;
      entries.forEach((entry, i) => this.queue.push({ entry, undo: [], resolve: i === last ? () => resolve() : noop, reject, publish: false }));
      this.scheduleDrain(this.liveCommitMs > 0);
    });
  }

  publish(topic: TopicName, ops: readonly DeltaOp[]): void {
    this.hub.publish(topic, ops);
    if (topic === 'link') for (const op of ops) if (op.op === 'put') this.emitLink(op.value as Link);
  }

  replace(topic: TopicName, items: Iterable<{ id: string }>): void {
    const list = [...items];
    this.hub.replace(topic, list);
    if (topic === 'link') for (const l of list) this.emitLink(l as Link);
  }

  items(topic: TopicName): unknown[] {
    return this.hub.items(topic);
  }

  onChange(cb: (topic: TopicName, ops: DeltaOp[]) => void): () => void {
    this.changeListeners.add(cb);
    return () => this.changeListeners.delete(cb);
  }

  onLink(cb: (l: Link) => void): () => void {
    this.linkListeners.add(cb);
    for (const l of this.hub.items('link') as Link[]) cb(l);
    return () => this.linkListeners.delete(cb);
  }

  // ---- the commit queue ----------------------------------------------------------------------

  get queued(): number {
    return this.queue.length;
  }

  /** Store everything waiting, live rows included: a drain that ends with rows queued behind it
   *  would otherwise leave them on a group timer that fires after the store is gone. */
  async settle(): Promise<void> {
    while (this.draining || this.liveTimer || this.queue.length > 0) {
      if (!this.draining) this.scheduleDrain();
      await this.draining;
    }
  }

  private emitLink(l: Link): void {
    for (const cb of this.linkListeners) cb(l);
  }

  private readonly lookup = (t: TableName, id: string) => this.state.get(t)!.get(id);

  private applyToState(ops: TableOp[]): Pending['undo'] {
    const undo: Pending['undo'] = [];
    for (const op of ops) {
      const m = this.state.get(op.table)!;
      undo.push({ table: op.table, id: op.id, prev: m.get(op.id) });
      if (op.op === 'put') m.set(op.id, op.value!);
      else m.delete(op.id);
    }
    return undo;
  }

  /** `live`: only live-path rows are waiting, which may gather for `liveCommitMs` first. */
  private scheduleDrain(live = false): void {
    if (this.draining) return;
    if (live) {
      this.liveTimer ??= setTimeout(() => {
        this.liveTimer = null;
        this.scheduleDrain();
      }, this.liveCommitMs);
      return;
    }
    if (this.liveTimer) clearTimeout(this.liveTimer);
    this.liveTimer = null;
    // setImmediate: everything recorded in this turn of the loop goes into one transaction.
    this.draining = new Promise<void>((r) => setImmediate(r)).then(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const ids = await this.store.commit(batch.map((p) => p.entry));
          this.counters.batches += 1;
          this.counters.events += batch.length;
          this.storeRefusing = null;
          const byTopic = new Map<TopicName, DeltaOp[]>();
          batch.forEach((p, i) => {
            if (ids[i] === null) return; // already stored under its idempotency key: nothing changed
            if (!p.publish) return;
            for (const op of p.entry.ops) {
              const topic = this.topicOf.get(op.table);
              if (!topic) continue;
              let list = byTopic.get(topic);
              if (!list) byTopic.set(topic, (list = []));
              list.push(op.op === 'put' ? { op: 'put', id: op.id, value: op.value } : { op: 'del', id: op.id });
            }
          });
          for (const [topic, ops] of byTopic) {
            this.hub.publish(topic, ops);
            for (const cb of this.changeListeners) {
              try {
                cb(topic, ops);
              } catch (err) {
                console.error(`beacon: a change listener failed: ${(err as Error).message}`);
              }
            }
          }
          if (this.outbox && batch.some((p) => p.entry.outbox)) this.outbox.kick();
          batch.forEach((p, i) => p.resolve(ids[i] ?? null));
        } catch (err) {
          // The write did not happen (disk full, file gone): say so to every caller, and put the live
          // state back (newest change first) so no display is ever shown a change the hall does not hold.
          this.counters.commitFailures += 1;
          this.storeRefusing ??= { since: this.now(), error: (err as Error).message.slice(0, 300) };
          const e = new HubError('unavailable', `the store refused the change: ${(err as Error).message}`);
          const failed = [...batch, ...this.queue.splice(0)];
          for (const p of [...failed].reverse()) {
            for (const u of [...p.undo].reverse()) {
              const m = this.state.get(u.table)!;
              if (u.prev === undefined) m.delete(u.id);
              else m.set(u.id, u.prev);
            }
          }
          for (const p of failed) p.reject(e);
        }
      }
    } finally {
      this.draining = null;
      if (this.queue.length > 0) this.scheduleDrain(!this.queue.some((p) => p.publish));
    }
  }
}
