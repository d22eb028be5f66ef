// The hall core: plain Node, no Electron. Owns the store (in its worker), the live state, the hub.
// A change is: validate -> reduce to table ops -> apply to live state -> commit (journal + projections,
// one transaction per batch) -> publish to the hub. Displays only see what is durable.
import { mkdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import type { DeltaOp, TopicName } from '../../common/contract.ts';
import type { Link } from '../../common/domain.ts';
import { StoreClient } from '../../native/store/client.ts';
import { TABLES, type TableName } from '../../native/store/repositories.ts';
import type { CommitEntry, TableOp } from '../../native/store/store.ts';
import { makeCommandHandler } from './commands.ts';
import { Hub, HubError, type HubOptions } from './hub/hub.ts';
import { type EventKind, type EventPayload, reduce, ReduceError } from './journal/events.ts';
import { LinkMonitor, type LinkMonitorOptions } from './link/monitor.ts';
import { parseDown } from './uplink/downlink.ts';
import { outboxRoute } from './uplink/policy.ts';
import { UplinkSender, type UplinkOptions } from './uplink/sender.ts';
import { SCENARIO_ID, zhejiangScenario } from './scenario/seed.ts';
import { TyphoonDesk } from './typhoon/desk.ts';
import { TileService } from './tiles/service.ts';
import { TilesDesk } from './tiles/desk.ts';
import { readSources, sourcesFile } from './tiles/sources-file.ts';
import { CallDesk, type CallsOptions } from './calls/desk.ts';
import { FeedManager, type FeedsOptions } from './feeds/manager.ts';
import { VideoDesk } from './video/desk.ts';

const noop = () => undefined;
/** Tables whose rows are served as hub topics of the same name. */
const TOPIC_OF: Partial<Record<TableName, TopicName>> = {
  hall: 'hall',
  places: 'places',
  units: 'units',
  contacts: 'contacts',
  typhoons: 'typhoons',
  instructions: 'instructions',
  advisories: 'advisories',
  risks: 'risks',
  incidents: 'incidents',
  sites: 'sites',
  boundaries: 'boundaries',
  calls: 'calls',
  consultations: 'consultations',
  walls: 'walls',
};

export interface HallOptions {
  dataDir: string;
  hub?: HubOptions;
  /** Seed the demonstration scenario into an empty data directory. @default true */
  seed?: boolean;
  /** Upstream endpoints to probe for the WAN state; none: the WAN shows as not monitored. */
  link?: Omit<LinkMonitorOptions, 'onChange'>;
  /** The provincial bus to store-and-forward to. Without it nothing is queued for the province. */
  uplink?: UplinkOptions;
  /** One-key connect: the SIP platform account, the satellite terminal, the dial order. */
  calls?: CallsOptions;
  /** Live feeds: drones (MAVLink, DJI), team trackers (CoT, JSON over MQTT). */
  feeds?: FeedsOptions;
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

export class HallCore {
  readonly hub: Hub;
  readonly store: StoreClient;
  readonly dataDir: string;
  readonly startedAt: number;
  private readonly state = new Map<TableName, Map<string, Record<string, unknown>>>();
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  private readonly maxBatch: number;
  private readonly liveCommitMs: number;
  private liveTimer: NodeJS.Timeout | null = null;
  private link: LinkMonitor | null = null;
  private uplink: UplinkSender | null = null;
  private readonly linkListeners = new Set<(l: Link) => void>();
  private readonly changeListeners = new Set<(topic: TopicName, ops: DeltaOp[]) => void>();
  readonly typhoons: TyphoonDesk;
  /** One-key connect: the switchboard (SIP platform, satellite terminal) and the call log. */
  readonly calls: CallDesk;
  /** Map tiles through the cache (serve mode's /tiles route, Electron's app:// protocol). */
  readonly tiles: TileService;
  /** Map sources and "prepare for offline" by command (the settings panel). */
  readonly tilesDesk: TilesDesk;
  /** Live feeds and the units they track. */
  readonly feeds: FeedManager;
  /** Video sources and playback through the core. */
  readonly video: VideoDesk;
  private wanState: Link['state'] = 'unknown';
  private readonly now: () => number;
  readonly counters = { events: 0, batches: 0, commitFailures: 0, downApplied: 0, downDuplicates: 0, downRejected: {} as Record<string, number> };
  private readonly downLogged = new Map<string, number>();

  private constructor(dataDir: string, store: StoreClient, opts: HallOptions) {
    this.dataDir = dataDir;
    this.store = store;
    this.hub = new Hub({ server: 'beacon', ...opts.hub });
    this.maxBatch = opts.maxBatch ?? 5000;
    this.liveCommitMs = opts.liveCommitMs ?? 100;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    this.typhoons = new TyphoonDesk(this, this.now);
    this.calls = new CallDesk(this, opts.calls ?? {}, this.now);
    this.feeds = new FeedManager(this, opts.feeds ?? {}, this.now);
    this.video = new VideoDesk(this, this.now);
    // Offline-first: while the WAN is known to be down, tiles come from the cache without waiting
    // on fetches that cannot succeed.
    this.tiles = new TileService({ dir: join(dataDir, 'tiles'), online: () => this.wanState !== 'offline', now: this.now });
    this.tilesDesk = new TilesDesk({ tiles: this.tiles, dataDir, get: (t, id) => this.get(t, id), hub: this.hub });
    this.loadTileSources();
    this.hub.onCommand(makeCommandHandler(this));
  }

  static async start(opts: HallOptions): Promise<HallCore> {
    mkdirSync(opts.dataDir, { recursive: true });
    const store = await StoreClient.open(join(opts.dataDir, 'beacon.sqlite'));
    const core = new HallCore(opts.dataDir, store, opts);
    try {
      await core.loadState();
      if ((opts.seed ?? true) && core.state.get('hall')!.size === 0) await core.seed();
      core.startLinkMonitor(opts.link);
      core.typhoons.start();
      await core.calls.start();
      await core.feeds.start();
      core.video.start();
      core.loop.enable();
      core.tilesDesk.publishLayers();
      if (opts.uplink) {
        const hallId = opts.uplink.hallId;
        core.uplink = new UplinkSender(store.api, opts.uplink, (l) => core.hub.publish('link', [{ op: 'put', id: l.id, value: l }]), (topic, payload) => core.receiveDown(topic, payload, hallId));
        // The bus's bandwidth is judged by the hall's own traffic to it (see LinkMonitor.observeBandwidth).
        const bus = new URL(opts.uplink.url);
        const busTarget = core.link?.targetAt(bus.hostname.replace(/^\[|\]$/g, ''), Number(bus.port || (bus.protocol === 'mqtts:' ? 8883 : 1883)));
        if (busTarget) {
          core.uplink.onThroughput = (kbps) => core.link?.observeBandwidth(busTarget, kbps);
          core.uplink.onAck = () => core.link?.observeDelivery(busTarget);
        }
      }
      core.hub.flush();
    } catch (err) {
      await store.dispose();
      throw err;
    }
    return core;
  }

  /** Link changes (the WAN and each uplink) for parts of the core that act on them: one-key
   *  connect skips channels the WAN cannot carry, the tile cache answers from SQLite when offline.
   *  Called with the current links at once. Returns the unsubscribe function. */
  onLink(cb: (l: Link) => void): () => void {
    this.linkListeners.add(cb);
    for (const l of this.hub.items('link') as Link[]) cb(l);
    return () => this.linkListeners.delete(cb);
  }

  /** Tile sources from DATA/tiles/sources.json (written by `beacon tiles add-source`). A bad
   *  entry is reported and skipped; the others still load. */
  private loadTileSources(): void {
    let list: unknown[];
    try {
      list = readSources(this.dataDir);
    } catch (e) {
      console.warn(`beacon: ${(e as Error).message}; no online tile sources`);
      return;
    }
    for (const [i, src] of list.entries()) {
      try {
        this.tiles.addSource(src);
      } catch (e) {
        console.warn(`beacon: tile source ${i + 1} in ${sourcesFile(this.dataDir)} refused: ${(e as Error).message.slice(0, 300)}`);
      }
    }
  }

  /** Durable changes as they are published, per topic. Returns the unsubscribe function. */
  onChange(cb: (topic: TopicName, ops: DeltaOp[]) => void): () => void {
    this.changeListeners.add(cb);
    return () => this.changeListeners.delete(cb);
  }

  get<T = Record<string, unknown>>(table: TableName, id: string): T | undefined {
    return this.state.get(table)!.get(id) as T | undefined;
  }

  all<T = Record<string, unknown>>(table: TableName): T[] {
    return [...this.state.get(table)!.values()] as T[];
  }

  /** Record one change. Resolves with its journal id once it is durable and published. */
  record<K extends EventKind>(kind: K, subject: string, payload: EventPayload<K>, origin: string, key?: string): Promise<number | null> {
    return this.recordMany([{ kind, subject, payload }], origin, key ? [key] : undefined).then((ids) => ids[0]!);
  }

  recordMany(events: { kind: EventKind; subject: string; payload: unknown }[], origin: string, keys?: string[]): Promise<(number | null)[]> {
    const ts = this.now();
    const promises: Promise<number | null>[] = [];
    for (let i = 0; i < events.length; i++) {
      const { kind, subject, payload } = events[i]!;
      let ops: TableOp[];
      try {
        ops = reduce(kind, payload, (t, id) => this.state.get(t)!.get(id));
      } catch (err) {
        if (err instanceof ReduceError) throw new HubError(err.code, err.message);
        throw err;
      }
      // Applied to the live state now so the next change reduces against it; published after commit.
      const undo = this.applyToState(ops);
      // With an uplink, what the province must know is queued in the same transaction as the change.
      // What came from the province is never echoed back to it.
      const outbox = this.uplink && origin !== 'province' ? outboxRoute(kind) : null;
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
    const topic = TOPIC_OF[table];
    if (topic) this.hub.publish(topic, [{ op: 'put', id: value.id, value }]);
  }

  /** Journal and project changes that `putLive` already made live: not applied or published again.
   *  Settles once all of them are stored (or with the first failure). Cheap per event: thousands of
   *  positions a second come through here, so there is one promise per call, not per event. */
  journalLive(events: { kind: EventKind; subject: string; payload: unknown }[], origin: string): Promise<void> {
    const ts = this.now();
    const entries: CommitEntry[] = [];
    for (const { kind, subject, payload } of events) {
      let ops: TableOp[];
      try {
        ops = reduce(kind, payload, this.lookup, { trusted: true });
      } catch (err) {
        return Promise.reject(err instanceof ReduceError ? new HubError(err.code, err.message) : err);
      }
      const outbox = this.uplink ? outboxRoute(kind) : null;
      entries.push({ event: { ts, kind, subject, payload, origin, key: null }, ops, outbox });
    }
    if (entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const last = entries.length - 1;
      entries.forEach((entry, i) => this.queue.push({ entry, undo: [], resolve: i === last ? () => resolve() : noop, reject, publish: false }));
      this.scheduleDrain(this.liveCommitMs > 0);
    });
  }

  private readonly lookup = (t: TableName, id: string) => this.state.get(t)!.get(id);

  private readonly loop = monitorEventLoopDelay({ resolution: 10 });

  /** Event-loop delay since the previous call (p50, p99, max in ms): how long a display's command or
   *  a feed's datagram may wait behind other work. For /api/health and the benchmarks. */
  loopDelay(): { p50Ms: number; p99Ms: number; maxMs: number } {
    const r = { p50Ms: Math.round(this.loop.percentile(50) / 1e5) / 10, p99Ms: Math.round(this.loop.percentile(99) / 1e5) / 10, maxMs: Math.round(this.loop.max / 1e5) / 10 };
    this.loop.reset();
    return r;
  }

  stats() {
    return { startedAt: this.startedAt, ...this.counters, queued: this.queue.length, hub: this.hub.stats(), uplink: this.uplink ? { state: this.uplink.state, ...this.uplink.counters, kbpsUnderLoad: this.uplink.lastKbps } : null, typhoons: this.typhoons.stats(), calls: this.calls.stats(), feeds: this.feeds.stats(), video: this.video.stats() };
  }

  async dispose(): Promise<void> {
    this.loop.disable();
    await this.feeds.dispose();
    await this.calls.dispose();
    this.link?.dispose();
    this.typhoons.dispose();
    this.tilesDesk.dispose();
    this.tiles.close();
    // Store everything waiting, live rows included: a drain that ends with rows queued behind it
    // would otherwise leave them on a group timer that fires after the store is gone.
    while (this.draining || this.liveTimer || this.queue.length > 0) {
      if (!this.draining) this.scheduleDrain();
      await this.draining;
    }
    await this.uplink?.dispose();
    this.hub.dispose();
    await this.store.dispose();
  }

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
          const ids = await this.store.api.commit(batch.map((p) => p.entry));
          this.counters.batches += 1;
          this.counters.events += batch.length;
          const byTopic = new Map<TopicName, DeltaOp[]>();
          batch.forEach((p, i) => {
            if (ids[i] === null) return; // already stored under its idempotency key: nothing changed
            if (!p.publish) return;
            for (const op of p.entry.ops) {
              const topic = TOPIC_OF[op.table];
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
          if (this.uplink && batch.some((p) => p.entry.outbox)) this.uplink.kick();
          batch.forEach((p, i) => p.resolve(ids[i] ?? null));
        } catch (err) {
          // The write did not happen (disk full, file gone): say so to every caller, and put the live
          // state back (newest change first) so no display is ever shown a change the hall does not hold.
          this.counters.commitFailures += 1;
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

  private async loadState(): Promise<void> {
    const tables = await this.store.api.loadTables();
    for (const t of TABLES) {
      const m = new Map<string, Record<string, unknown>>();
      for (const row of tables[t] as Record<string, unknown>[]) m.set(String(row.id), row);
      this.state.set(t, m);
      const topic = TOPIC_OF[t];
      // The live calls topic holds today's calls; the whole log is searched on demand (calls.search).
      const cutoff = this.now() - 12 * 3600_000;
      const rows = t === 'calls' ? [...m.values()].filter((c) => c.endedAt === null || (c.endedAt as number) >= cutoff) : m.values();
      if (topic) this.hub.replace(topic, rows as Iterable<{ id: string }>);
    }
  }

  /** A message from the province: checked, then journaled once under its key (a repeat changes
   *  nothing). Settles with the MQTT 5 reason code to acknowledge it with; rejects when the store
   *  refused it, so the bus keeps it and delivers it again. */
  private async receiveDown(topic: string, payload: Buffer, hallId: string): Promise<number> {
    const r = parseDown(topic, payload, hallId, this.now());
    if (!r.ok) {
      this.counters.downRejected[r.reason] = (this.counters.downRejected[r.reason] ?? 0) + 1;
      // Logged once per reason per minute: a flood of bad messages must not flood the log.
      const last = this.downLogged.get(r.reason) ?? 0;
      if (this.now() - last > 60_000) {
        this.downLogged.set(r.reason, this.now());
        console.warn(`beacon: refused a message from the province (${r.reason}): ${r.message}`);
      }
      return 153; // payload format invalid: it will never become valid, so it is not redelivered
    }
    if (r.kind === 'instruction' && this.get('instructions', r.key)) {
      this.counters.downDuplicates += 1;
      return 0;
    }
    if (r.kind === 'risk.levels') {
      const unknown = r.events.map((e) => e.subject.slice(5)).filter((code) => !this.get('places', code));
      if (unknown.length) {
        this.counters.downRejected.unknown_place = (this.counters.downRejected.unknown_place ?? 0) + 1;
        console.warn(`beacon: refused risk levels from the province for unknown places ${unknown.slice(0, 5).join(', ')}`);
        return 153;
      }
    }
    let ids: (number | null)[];
    try {
      ids = await this.recordMany(r.events.map(({ kind, subject, payload }) => ({ kind, subject, payload })), 'province', r.events.map((e) => e.key));
    } catch (err) {
      if (err instanceof HubError && err.code !== 'unavailable') {
        // Valid JSON that the reducer still refuses (a unit that does not exist): never valid later.
        this.counters.downRejected[err.code] = (this.counters.downRejected[err.code] ?? 0) + 1;
        return 153;
      }
      throw err;
    }
    if (ids.every((id) => id === null)) this.counters.downDuplicates += 1;
    else this.counters.downApplied += 1;
    return 0;
  }

  private startLinkMonitor(opts: HallOptions['link']): void {
    if (!opts || opts.targets.length === 0) {
      const wan: Link = { id: 'wan', state: 'unknown', since: null, detail: 'no link monitor configured' };
      this.hub.replace('link', [wan]);
      return;
    }
    const previous = new Map<string, string>();
    this.link = new LinkMonitor({
      ...opts,
      onChange: (changed) => {
        for (const l of changed) if (l.id === 'wan') this.wanState = l.state;
        this.hub.publish('link', changed.map((l) => ({ op: 'put', id: l.id, value: l })));
        for (const l of changed) for (const cb of this.linkListeners) cb(l);
        for (const l of changed) {
          const from = previous.get(l.id) ?? 'unknown';
          previous.set(l.id, l.state);
          // Journaled, not awaited: a link report must never wait on the disk it may be reporting on.
          this.record('link.changed', `link:${l.id}`, { id: l.id, state: l.state, from, detail: l.detail, at: l.since ?? this.now() }, 'link-monitor').catch(() => undefined);
        }
      },
    });
    this.hub.replace('link', this.link.links());
    this.link.start();
  }

  private async seed(): Promise<void> {
    const events = zhejiangScenario(this.now());
    await this.recordMany(events, 'seed', events.map((e) => `${SCENARIO_ID}:${e.subject}`));
  }
}
