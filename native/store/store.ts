// The hall's SQLite store: one file under the data directory, WAL, numbered migrations, the journal
// and its projections. Synchronous (better-sqlite3); in the running hall it lives in a worker thread
// (see worker.ts / client.ts) so that the loop serving displays never waits on the disk.
import Database from 'better-sqlite3';
import { LATEST_VERSION, MIGRATIONS } from './migrations.ts';
import { makeRepositories, type Repository, type TableName, TABLES } from './repositories.ts';

export interface NewEvent {
  ts: number;
  kind: string;
  subject: string;
  payload: unknown;
  origin: string;
  /** Idempotency key, unique per origin: the same (origin, key) is stored once, its ops applied once. */
  key?: string | null;
}
export interface TableOp {
  table: TableName;
  op: 'put' | 'del';
  id: string;
  value?: Record<string, unknown>;
}
export interface CommitEntry {
  event: NewEvent;
  ops: TableOp[];
  /** Queue the event for the province (store-and-forward), in the same transaction. */
  outbox?: { category: string; priority: number } | null;
}
export interface OutboxItem {
  seq: number;
  category: string;
  priority: number;
  attempts: number;
  event: StoredEvent;
  /** Picked as live traffic ahead of an older backlog of its category (see outboxPending). */
  live?: boolean;
}
/** During a backlog, `slots` of the items asked for go to the newest items of `category` created
 *  since `since` (live traffic), so a drain never starves it; never while anything more urgent waits. */
export interface LiveShare {
  category: string;
  priority: number;
  since: number;
  slots: number;
  /** Only items after this seq (the newest sent live so far): the live stream itself stays in order. */
  after: number;
}
export interface OutboxStats {
  depth: number;
  oldest: number | null;
  byCategory: Record<string, number>;
  acked: number;
  thinned: number;
}
export interface StoredEvent {
  id: number;
  ts: number;
  kind: string;
  subject: string;
  payload: unknown;
  origin: string;
  key: string | null;
}
export interface StoreStats {
  file: string;
  schemaVersion: number;
  journalEvents: number;
  lastEvent: number;
  bytes: number;
}

/** The surface the worker exposes; StoreClient mirrors it asynchronously, typed by `keyof`. */
export interface StoreApi {
  commit(entries: CommitEntry[]): (number | null)[];
  loadTables(): Record<TableName, unknown[]>;
  readJournal(after: number, limit: number): StoredEvent[];
  outboxPending(limit: number, skip: number[], live?: LiveShare): OutboxItem[];
  outboxAck(seqs: number[], at: number): number;
  outboxStats(): OutboxStats;
  outboxThin(category: string, keepEveryMs: number, at: number): number;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;
  stats(): StoreStats;
}

export function migrate(db: Database.Database, upTo = LATEST_VERSION): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > LATEST_VERSION) {
    throw new Error(`database schema ${current} is newer than this Beacon (${LATEST_VERSION}); refusing to touch it`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > upTo) continue;
    // Each migration is one transaction with its version bump: a crash leaves N-1 or N, never half.
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}

export class Store implements StoreApi {
  readonly db: Database.Database;
  readonly repos: Record<TableName, Repository>;
  private readonly insertEvent: Database.Statement;
  private readonly insertOutbox: Database.Statement;
  private readonly path: string;

  constructor(path: string, opts: { readonly?: boolean } = {}) {
    this.path = path;
    this.db = new Database(path, { readonly: opts.readonly ?? false });
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      // FULL: a change the hall acknowledged survives power loss, not only a crash. Group commit
      // (one transaction per batch) pays for the extra fsync.
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      migrate(this.db);
    }
    this.db.pragma('busy_timeout = 5000');
    this.repos = makeRepositories(this.db);
    this.insertEvent = this.db.prepare(
      `INSERT INTO journal (ts, kind, subject, payload, origin, key) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (origin, key) DO NOTHING`,
    );
    this.insertOutbox = this.db.prepare('INSERT INTO outbox (event, category, priority, created) VALUES (?, ?, ?, ?)');
  }

  /** Appends the events and applies their projections in one transaction. Returns each event's id,
   *  or null where (origin, key) was already stored (its ops are then skipped: idempotent apply). */
  commit(entries: CommitEntry[]): (number | null)[] {
    return this.db.transaction((batch: CommitEntry[]) => {
      const ids: (number | null)[] = [];
      for (const { event, ops, outbox } of batch) {
        const info = this.insertEvent.run(event.ts, event.kind, event.subject, JSON.stringify(event.payload), event.origin, event.key ?? null);
        if (info.changes === 0) {
          ids.push(null);
          continue;
        }
        const id = Number(info.lastInsertRowid);
        for (const op of ops) {
          const repo = this.repos[op.table];
          if (!repo) throw new Error(`unknown table ${op.table}`);
          if (op.op === 'put') repo.put(op.value ?? {}, id);
          else repo.del(op.id);
        }
        if (outbox) this.insertOutbox.run(id, outbox.category, outbox.priority, event.ts);
        ids.push(id);
      }
      return ids;
    })(entries);
  }

  loadTables(): Record<TableName, unknown[]> {
    const out = {} as Record<TableName, unknown[]>;
    for (const t of TABLES) out[t] = this.repos[t].all();
    return out;
  }

  readJournal(after: number, limit: number): StoredEvent[] {
    const rows = this.db.prepare('SELECT id, ts, kind, subject, payload, origin, key FROM journal WHERE id > ? ORDER BY id LIMIT ?').all(after, limit) as (Omit<StoredEvent, 'payload'> & {
      payload: string;
    })[];
    return rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) as unknown }));
  }

  /** Unacknowledged outbox items, most urgent first, then in order; `skip` are already in flight. */
  outboxPending(limit: number, skip: number[], live?: LiveShare): OutboxItem[] {
    type Row = { seq: number; category: string; priority: number; attempts: number; id: number; ts: number; kind: string; subject: string; payload: string; origin: string; key: string | null };
    const skipJson = JSON.stringify(skip);
    const from = `FROM outbox o JOIN journal j ON j.id = o.event
         WHERE o.acked IS NULL AND o.thinned IS NULL AND o.seq NOT IN (SELECT value FROM json_each(?))`;
    const cols = 'SELECT o.seq, o.category, o.priority, o.attempts, j.id, j.ts, j.kind, j.subject, j.payload, j.origin, j.key';
    let liveRows: Row[] = [];
    if (live && live.slots > 0) {
      // Bounded probes, not counts: a drain asks many times, over a backlog of tens of thousands.
      const pending = this.db
        .prepare(`SELECT count(*) FROM (SELECT 1 ${from} LIMIT ?)`)
        .pluck()
        .get(skipJson, limit + 1) as number;
      const urgent = this.db.prepare(`SELECT count(*) FROM (SELECT 1 ${from} AND o.priority < ? LIMIT 1)`).pluck().get(skipJson, live.priority) as number;
      // Only a backlog (more waiting than asked for) with nothing more urgent waiting gives live
      // traffic its slots; otherwise everything goes in order anyway.
      if (pending > limit && urgent === 0) {
        liveRows = (
          this.db
            .prepare(`${cols} ${from} AND o.category = ? AND o.created >= ? AND o.seq > ? ORDER BY o.seq DESC LIMIT ?`)
            .all(skipJson, live.category, live.since, live.after, Math.min(live.slots, limit)) as Row[]
        ).reverse();
      }
    }
    const skip2 = liveRows.length ? JSON.stringify([...skip, ...liveRows.map((r) => r.seq)]) : skipJson;
    const ordered = this.db.prepare(`${cols} ${from} ORDER BY o.priority, o.seq LIMIT ?`).all(skip2, limit - liveRows.length) as Row[];
    const rows = [...ordered, ...liveRows];
    if (rows.length) this.db.prepare('UPDATE outbox SET attempts = attempts + 1 WHERE seq IN (SELECT value FROM json_each(?))').run(JSON.stringify(rows.map((r) => r.seq)));
    const liveSet = new Set(liveRows.map((r) => r.seq));
    return rows.map((r) => ({
      seq: r.seq,
      category: r.category,
      priority: r.priority,
      attempts: r.attempts + 1,
      event: { id: r.id, ts: r.ts, kind: r.kind, subject: r.subject, payload: JSON.parse(r.payload) as unknown, origin: r.origin, key: r.key },
      ...(liveSet.has(r.seq) ? { live: true } : {}),
    }));
  }

  outboxAck(seqs: number[], at: number): number {
    return this.db.prepare('UPDATE outbox SET acked = ? WHERE acked IS NULL AND seq IN (SELECT value FROM json_each(?))').run(at, JSON.stringify(seqs)).changes;
  }

  outboxStats(): OutboxStats {
    const rows = this.db.prepare('SELECT category, count(*) AS n, min(created) AS oldest FROM outbox WHERE acked IS NULL AND thinned IS NULL GROUP BY category').all() as {
      category: string;
      n: number;
      oldest: number;
    }[];
    const acked = this.db.prepare('SELECT count(*) FROM outbox WHERE acked IS NOT NULL').pluck().get() as number;
    const thinned = this.db.prepare('SELECT count(*) FROM outbox WHERE thinned IS NOT NULL').pluck().get() as number;
    return {
      depth: rows.reduce((a, r) => a + r.n, 0),
      oldest: rows.length ? Math.min(...rows.map((r) => r.oldest)) : null,
      byCategory: Object.fromEntries(rows.map((r) => [r.category, r.n])),
      acked,
      thinned,
    };
  }

  /** Thin a category's backlog: per subject, keep the newest item of every `keepEveryMs` of event
   *  time (so each unit's latest position always stays) and mark the rest thinned. Returns how many. */
  outboxThin(category: string, keepEveryMs: number, at: number): number {
    return this.db
      .prepare(
        `WITH ranked AS (
           SELECT o.seq, ROW_NUMBER() OVER (PARTITION BY j.subject, j.ts / CAST(? AS INTEGER) ORDER BY o.seq DESC) AS rn
           FROM outbox o JOIN journal j ON j.id = o.event
           WHERE o.acked IS NULL AND o.thinned IS NULL AND o.category = ?)
         UPDATE outbox SET thinned = ? WHERE seq IN (SELECT seq FROM ranked WHERE rn > 1)`,
      )
      .run(Math.max(1, Math.floor(keepEveryMs)), category, at).changes;
  }

  getMeta(key: string): string | null {
    const v = this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as string | undefined;
    return v ?? null;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  stats(): StoreStats {
    const q = (sql: string) => this.db.prepare(sql).pluck().get() as number;
    return {
      file: this.path,
      schemaVersion: this.db.pragma('user_version', { simple: true }) as number,
      journalEvents: q('SELECT count(*) FROM journal'),
      lastEvent: q('SELECT coalesce(max(id), 0) FROM journal'),
      bytes: q('SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()'),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
