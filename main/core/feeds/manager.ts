// The connection manager: every live feed (a MAVLink port, a CoT listener, an MQTT subscription) is a
// connection with a state and health figures, reconnected with backoff, and its reports become units.
//
// States: connecting (an attempt in flight), online (open, data flowing), degraded (open but silent
// longer than `silentAfterS`, or most input refused), offline (lost or refused; the next attempt is
// scheduled), failed (refused in a way a retry cannot fix: a bad login, a privileged port; still
// retried, at the slowest interval, so fixing the account brings it back without a restart).
//
// Positions take the live path (HallCore.putLive): applied and published at once, journaled as the
// storage policy says (report.ts). Everything else (a feed's state, a unit appearing, going stale or
// lost) is journaled as it happens.
import { randomBytes } from 'node:crypto';
import type { DeltaOp } from '../../../common/contract.ts';
import { type Feed, FeedConfig, type FeedConfigInput, type FeedState, feedUnitId, type Incident, isFeedUnit, type Place, type Presence, type Unit } from '../../../common/domain.ts';
import { distanceKm } from '../../../common/geo.ts';
import { HubError } from '../hub/hub.ts';
import { isLoopbackHost } from '../security.ts';
import type { Reach } from '../trust/reach.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';
import { type FeedAdapter, FeedOpenError, type FeedSink } from './adapter.ts';
import { signingKey } from './mavlink.ts';
import { FeedIoHost } from './io-host.ts';
import { decodePositionJson, DjiDecoder, MqttFeedAdapter } from './mqtt-feeds.ts';
import type { AlertsDesk } from '../alerts/desk.ts';
import { type CotOut, type PictureOut, PictureRound, pictureOf, TakMeshAdapter, TakServerAdapter } from './tak-out.ts';
import { type AlertReport, backoffMs, DEFAULT_STORAGE, presenceAt, type PositionReport, shouldStore, type StoragePolicy, type Stored } from './report.ts';

export interface FeedsOptions {
  /** Feeds from the command line (`--feed`), added to (or replacing) the configured ones at start. */
  feeds?: FeedConfigInput[];
  storage?: StoragePolicy;
  /** Health and presence are re-evaluated this often. @default 1000 */
  sweepMs?: number;
  /** Reconnect backoff: first delay and cap. @default 1000, 30000 */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Most units one feed may create (a hostile sender inventing ids must not grow the hall without end). @default 50000 */
  maxUnitsPerFeed?: number;
  /** Where a feed listens when it names no host: where the hub listens (serve --host). @default 127.0.0.1 */
  listenHost?: string;
  /** A unit a feed made is removed after being lost this long. @default 86400 (a day) */
  expireAfterS?: number;
  /** How often lost units are looked at for expiry. @default 30000 */
  expireSweepMs?: number;
  /** This hall's name in what it sends to TAK (`beacon.<hall>.<id>`): its GB/T 2260 code. @default 'hall' */
  hallId?: string;
}

const DEFAULTS = { silentAfterS: 10, staleAfterS: { drone: 5, team: 60 }, lostAfterS: { drone: 30, team: 600 } };
const KIND_NAMES: Record<FeedConfig['kind'], { zh: string; en: string }> = {
  'mavlink-udp': { zh: '无人机 MAVLink', en: 'Drones (MAVLink)' },
  'cot-tcp': { zh: '单兵 CoT (TCP)', en: 'Teams (CoT TCP)' },
  'cot-tls': { zh: '单兵 CoT (TLS 证书)', en: 'Teams (CoT TLS, certificates)' },
  'cot-udp': { zh: '单兵 CoT (UDP)', en: 'Teams (CoT UDP)' },
  'tak-server': { zh: 'TAK 服务器（收发）', en: 'TAK server (both ways)' },
  'tak-mesh': { zh: 'TAK 组网 (UDP，收发)', en: 'TAK mesh (UDP, both ways)' },
  'mqtt-json': { zh: '北斗/手持终端 (MQTT)', en: 'Beidou/handsets (MQTT)' },
  'dji-mqtt': { zh: '大疆司空 (MQTT)', en: 'DJI Cloud API (MQTT)' },
};

interface LogState {
  last: number;
  suppressed: number;
}

class FeedRunner implements FeedSink {
  cfg: FeedConfig;
  adapter: FeedAdapter | null = null;
  state: FeedState = 'connecting';
  detail = '';
  since: number;
  lastMessageAt: number | null = null;
  openedAt: number | null = null;
  nextAttemptAt: number | null = null;
  failures = 0;
  attempts = 0;
  inFlight = false;
  /** The most attempts ever in flight at once (1, or something is wrong): tests assert it. */
  maxInFlight = 0;
  timer: NodeJS.Timeout | null = null;
  messages = 0;
  /** Events of the hall's picture sent (tak-server, tak-mesh), and the round that sends them. */
  sent = 0;
  readonly round = new PictureRound();
  /** Understood and not used (chat, a dialect's status): not refusals. */
  unused = 0;
  /** Emergencies raised or cancelled through this feed. */
  alerts = 0;
  errors: Record<string, number> = {};
  readonly units = new Set<string>();
  /** Of those, map markers (another affiliation than friend): never counted as forces. */
  readonly markers = new Set<string>();
  /** Sender id → unit id, so a hot position costs one Map lookup. */
  readonly unitOf = new Map<string, string>();
  /** Per-second buckets of accepted and refused messages, for the rate and the refusal ratio. */
  private buckets: { sec: number; ok: number; bad: number }[] = [];
  private readonly logged = new Map<string, LogState>();
  disposed = false;
  private readonly m: FeedManager;

  constructor(cfg: FeedConfig, m: FeedManager) {
    this.cfg = cfg;
    this.m = m;
    this.since = m.now();
  }

  private bucket(): { sec: number; ok: number; bad: number } {
    const sec = Math.floor(this.m.now() / 1000);
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.sec !== sec) {
      b = { sec, ok: 0, bad: 0 };
      this.buckets.push(b);
      if (this.buckets.length > 6) this.buckets.shift();
    }
    return b;
  }

  /** Accepted messages per second over the last 5 whole seconds. */
  rate(now: number): number {
    const sec = Math.floor(now / 1000);
    let n = 0;
    for (const b of this.buckets) if (b.sec < sec && b.sec >= sec - 5) n += b.ok;
    return n / 5;
  }

  refusedRatio(now: number): { ok: number; bad: number } {
    const sec = Math.floor(now / 1000);
    let ok = 0;
    let bad = 0;
    for (const b of this.buckets) {
      if (b.sec < sec - 5) continue;
      ok += b.ok;
      bad += b.bad;
    }
    return { ok, bad };
  }

  // ---- FeedSink ---------------------------------------------------------------------------------

  message(reports: PositionReport[], count = 1, unused = 0): void {
    if (this.disposed) return;
    this.messages += count;
    this.unused += unused;
    this.bucket().ok += count;
    this.lastMessageAt = this.m.now();
    if (this.state === 'degraded' && this.openedAt !== null) this.m.evaluate(this);
    for (const r of reports) this.m.ingest(this, r);
  }

  alert(a: AlertReport): void {
    if (this.disposed) return;
    this.alerts++;
    this.m.alert(this, a);
  }

  rejected(reason: string, message: string): void {
    if (this.disposed) return;
    this.errors[reason] = (this.errors[reason] ?? 0) + 1;
    this.m.counters.rejected++;
    this.bucket().bad++;
    // Logged once per burst: the first of a reason, then a count once a minute while it lasts.
    const now = this.m.now();
    const l = this.logged.get(reason);
    if (!l || now - l.last >= 60_000) {
      const more = l?.suppressed ? ` (and ${l.suppressed} more since the last report)` : '';
      console.warn(`beacon: feed ${this.cfg.id} refused input (${reason}): ${message.slice(0, 300)}${more}`);
      this.logged.set(reason, { last: now, suppressed: 0 });
    } else l.suppressed++;
  }

  lost(err: Error): void {
    if (this.disposed || !this.adapter) return;
    this.m.lost(this, err);
  }
}

export class FeedManager implements Desk {
  private readonly hall: HallPort;
  private readonly opts: FeedsOptions;
  private readonly runners = new Map<string, FeedRunner>();
  private readonly stored = new Map<string, Stored>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly io = new FeedIoHost();
  private cities: Place[] = [];
  readonly now: () => number;
  readonly counters = { positions: 0, stored: 0, thinned: 0, rejected: 0, unitsCreated: 0, presenceChanges: 0, expired: 0 };
  /** feed NUL source → the registered unit its tracker is bound to. */
  private readonly bindings = new Map<string, string>();
  /** Each DJI feed's decoder (its gateway's topology), kept across reconnects. */
  private readonly dji = new Map<string, { gateway: string; decoder: DjiDecoder }>();
  private unsubUnits: (() => void) | null = null;
  private lastExpiry = 0;

  readonly commands: CommandHandlers = {
    'feed.add': async ({ config, replace }, ctx) => ({ id: await this.add(config, ctx.origin, replace ?? false, true) }),
    'feed.remove': async ({ id }, ctx) => {
      await this.remove(id, ctx.origin);
      return { id };
    },
  };

  private readonly reach: Reach | null;
  private readonly alerts: AlertsDesk | null;

  constructor(port: HallPort, opts: FeedsOptions, reach: Reach | null = null, alerts: AlertsDesk | null = null) {
    this.hall = port;
    this.opts = opts;
    this.reach = reach;
    this.alerts = alerts;
    this.now = () => port.now();
  }

  async start(): Promise<void> {
    this.cities = this.hall.all<Place>('places').filter((p) => p.kind === 'city');
    for (const u of this.hall.all<Unit>('units')) if (u.device) this.bindings.set(`${u.device.feed}\u0000${u.device.source}`, u.id);
    this.unsubUnits = this.hall.onChange((topic, ops) => topic === 'units' && this.follow(ops));
    for (const row of this.hall.all<{ id: string; config: unknown }>('feeds')) {
      const cfg = FeedConfig.safeParse(row.config);
      if (cfg.success) this.launch(this.placed(cfg.data));
      else console.warn(`beacon: stored feed ${row.id} has a configuration this version cannot read; skipped`);
    }
    for (const input of this.opts.feeds ?? []) {
      const cfg = FeedConfig.parse(input);
      const existing = this.runners.get(cfg.id);
      if (existing && JSON.stringify(existing.cfg) === JSON.stringify(cfg)) continue;
      await this.add(cfg, 'command-line', true);
    }
    this.sweepTimer = setInterval(() => this.sweep(), this.opts.sweepMs ?? 1000);
    this.sweepTimer.unref();
    this.publish();
  }

  /** Add a feed (or, with `replace`, reconfigure one). Journaled; the connection opens at once. */
  async add(input: FeedConfigInput, origin: string, replace = false, byCommand = false): Promise<string> {
    const parsed = FeedConfig.safeParse(input);
    if (!parsed.success) throw new HubError('invalid_args', `feed: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
    let cfg = this.placed(parsed.data);
    if (byCommand) this.vet(cfg);
    // a broker's credentials written into its URL are kept apart, never journaled
    if ('url' in cfg && this.reach) cfg = { ...cfg, url: this.reach.stash(`feed:${cfg.id}`, cfg.url) };
    if (this.runners.has(cfg.id) && !replace) throw new HubError('invalid_args', `a feed named ${cfg.id} exists; remove it first`);
    for (const r of this.runners.values()) {
      if (r.cfg.id !== cfg.id && listens(r.cfg) && listens(cfg) && r.cfg.port === cfg.port && cfg.port !== 0 && transportOf(r.cfg.kind) === transportOf(cfg.kind)) {
        throw new HubError('invalid_args', `feed ${r.cfg.id} already listens on ${transportOf(cfg.kind)} port ${cfg.port}`);
      }
    }
    await this.hall.record('feed.configured', `feed:${cfg.id}`, { config: cfg, at: this.now() }, origin);
    const old = this.runners.get(cfg.id);
    if (old) await this.stop(old);
    this.launch(cfg);
    this.publish();
    return cfg.id;
  }

  /** A MAVLink feed's signing key, from the secret the operator allowed. A feed that asks for signing
   *  without its key set does not open (it would otherwise hear anyone). */
  private signingKeyOf(c: FeedConfig & { kind: 'mavlink-udp' }): Buffer | undefined {
    if (!c.signingKeyEnv) return undefined;
    const secret = this.reach ? this.reach.secret(c.signingKeyEnv) : process.env[c.signingKeyEnv];
    if (!secret) throw new FeedOpenError(`MAVLink signing: ${c.signingKeyEnv} is not set (or not allowed: --secret-env)`, true);
    return signingKey(secret);
  }

  /** A feed that names no host listens where the hub does. */
  private placed(c: FeedConfig): FeedConfig {
    return 'port' in c && !c.host && c.kind !== 'tak-mesh' ? { ...c, host: this.opts.listenHost ?? '127.0.0.1' } : c;
  }

  /** What a command (not the operator at the command line) may configure: a listener where the hub
   *  listens or on loopback, a broker on the outbound allowlist, a password the operator allowed. */
  private vet(c: FeedConfig): void {
    if (c.kind === 'tak-server' || c.kind === 'tak-mesh') {
      // the hall reaches out (or sends to a group): only where the operator allowed
      if (c.kind === 'tak-server' && c.certFile) throw new HubError('forbidden', `feed ${c.id}: TLS names files on the hall's machine; it is set at start (--feed tak-server:…,certFile=…)`);
      const where = c.kind === 'tak-server' ? c.host : c.group;
      const problem = this.reach?.outboundProblem(`http://${where.includes(':') ? `[${where}]` : where}:${c.port}`) ?? null;
      if (problem) throw new HubError('forbidden', `feed ${c.id}: ${problem}`);
      return;
    }
    if ('port' in c) {
      const h = c.host!;
      if (h !== (this.opts.listenHost ?? '127.0.0.1') && !isLoopbackHost(h))
        throw new HubError(
          'forbidden',
          `feed ${c.id}: a feed added by command listens where the hub does (${this.opts.listenHost ?? '127.0.0.1'}) or on loopback; another address is set at start (--feed)`,
        );
      // the hall's own key and CA are files on its machine: named by the operator there, not by a command
      if (c.kind === 'cot-tls') throw new HubError('forbidden', `feed ${c.id}: a TLS listener names files on the hall's machine; it is set at start (--feed cot-tls:certFile=…)`);
      const key = c.kind === 'mavlink-udp' && c.signingKeyEnv ? (this.reach?.secretProblem(c.signingKeyEnv) ?? null) : null;
      if (key) throw new HubError('forbidden', `feed ${c.id}: ${key}`);
      return;
    }
    const problem = this.reach?.outboundProblem(c.url.replace(/^ws(s?):/, 'http$1:')) ?? null;
    if (problem) throw new HubError('forbidden', `feed ${c.id}: ${problem}`);
    const secret = c.passwordEnv ? (this.reach?.secretProblem(c.passwordEnv) ?? null) : null;
    if (secret) throw new HubError('forbidden', `feed ${c.id}: ${secret}`);
  }

  async remove(id: string, origin: string): Promise<void> {
    const r = this.runners.get(id);
    if (!r) throw new HubError('not_found', `no feed ${id}`);
    await this.stop(r);
    this.runners.delete(id);
    this.dji.delete(id);
    await this.hall.record('feed.removed', `feed:${id}`, { id, at: this.now() }, origin);
    this.reach?.forget(`feed:${id}`);
    this.hall.publish('feeds', [{ op: 'del', id }]);
  }

  /** The port a feed actually listens on (tests bind port 0). */
  port(id: string): number | null {
    const a = this.runners.get(id)?.adapter as { boundPort?: number } | null | undefined;
    return a?.boundPort ?? null;
  }

  /** A feed's runtime view (tests, /api/health). */
  view(id: string): Feed | undefined {
    const r = this.runners.get(id);
    return r ? this.viewOf(r) : undefined;
  }

  stats() {
    const feeds: Record<string, { state: FeedState; messages: number; errors: Record<string, number>; reconnects: number; maxInFlight: number; units: number }> = {};
    for (const r of this.runners.values())
      feeds[r.cfg.id] = { state: r.state, messages: r.messages, errors: { ...r.errors }, reconnects: Math.max(0, r.attempts - 1), maxInFlight: r.maxInFlight, units: r.units.size };
    return { ...this.counters, feeds };
  }

  async dispose(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.unsubUnits?.();
    for (const r of this.runners.values()) await this.stop(r);
    await this.io.dispose();
    // The last position of every unit survives a restart, whatever the thinning skipped.
    this.flushPositions();
  }

  // ---- connections ---------------------------------------------------------------------------

  private launch(cfg: FeedConfig): void {
    const r = new FeedRunner(cfg, this);
    this.runners.set(cfg.id, r);
    this.connect(r);
  }

  private async stop(r: FeedRunner): Promise<void> {
    r.disposed = true;
    if (r.timer) clearTimeout(r.timer);
    r.timer = null;
    const a = r.adapter;
    r.adapter = null;
    await a?.close().catch(() => undefined);
  }

  private makeAdapter(r: FeedRunner): FeedAdapter {
    const c = r.cfg;
    const now = this.now;
    switch (c.kind) {
      // Listening feeds run in the feed I/O worker (io-worker.ts): decoding stays off this thread.
      case 'mavlink-udp':
      case 'cot-tcp':
      case 'cot-tls':
      case 'cot-udp':
        return this.io.adapter(c.id, c, r, c.kind === 'mavlink-udp' ? this.signingKeyOf(c) : undefined);
      // the hall as a TAK client, and a TAK mesh: on this thread, where the picture is
      case 'tak-server':
        return new TakServerAdapter(c, r, now, this.opts.hallId ?? 'hall');
      case 'tak-mesh':
        return new TakMeshAdapter(c, r, now, this.opts.hallId ?? 'hall');
      case 'mqtt-json':
      case 'dji-mqtt': {
        // from the operator's --secret-env (read once at start), or the environment for a hall
        // started without trust wiring (tests of the feeds alone)
        const password = c.passwordEnv ? (this.reach ? this.reach.secret(c.passwordEnv) : process.env[c.passwordEnv]) : undefined;
        const clientId = `beacon-${c.id}-${randomBytes(3).toString('hex')}`;
        if (c.kind === 'mqtt-json')
          return new MqttFeedAdapter(
            { url: this.reach?.unstash(`feed:${c.id}`, c.url) ?? c.url, username: c.username, password, clientId, topics: [c.topic], decode: (t, p) => decodePositionJson(t, p, now(), c.teamKind) },
            r,
          );
        // one decoder for the feed's life: what it learnt of the gateways' aircraft outlives a reconnect
        let dji = this.dji.get(c.id);
        if (!dji || dji.gateway !== c.gateway) this.dji.set(c.id, (dji = { gateway: c.gateway, decoder: new DjiDecoder(c.gateway) }));
        const decoder = dji.decoder;
        const adapter = new MqttFeedAdapter(
          {
            url: this.reach?.unstash(`feed:${c.id}`, c.url) ?? c.url,
            username: c.username,
            password,
            clientId,
            topics: decoder.topics(),
            decode: (t, p) => decoder.decode(t, p, now()),
          },
          r,
        );
        decoder.onAircraft = (sn) => adapter.subscribe([`thing/product/${sn}/osd`, `thing/product/${sn}/state`]);
        return adapter;
      }
    }
  }

  /** One attempt at a time per feed: a second call while one is in flight does nothing. */
  private connect(r: FeedRunner): void {
    if (r.inFlight || r.disposed) return;
    r.inFlight = true;
    r.maxInFlight = Math.max(r.maxInFlight, 1);
    r.attempts++;
    r.timer = null;
    r.nextAttemptAt = null;
    let adapter: FeedAdapter;
    try {
      adapter = this.makeAdapter(r);
    } catch (err) {
      // a feed that cannot be built (signing asked, no key) fails as a feed that cannot open
      adapter = { endpoint: r.cfg.id, open: () => Promise.reject(err as Error), close: async () => undefined };
    }
    this.setState(r, 'connecting', `opening ${adapter.endpoint}`);
    adapter.open().then(
      () => {
        r.inFlight = false;
        if (r.disposed) return void adapter.close();
        r.adapter = adapter;
        r.failures = 0;
        r.openedAt = this.now();
        this.evaluate(r, true);
      },
      (err: Error) => {
        r.inFlight = false;
        void adapter.close().catch(() => undefined);
        if (r.disposed) return;
        const fatal = err instanceof FeedOpenError && err.fatal;
        this.retry(r, fatal ? 'failed' : 'offline', err.message, fatal);
      },
    );
  }

  /** @internal the adapter's transport died */
  lost(r: FeedRunner, err: Error): void {
    const a = r.adapter;
    r.adapter = null;
    r.openedAt = null;
    void a?.close().catch(() => undefined);
    this.retry(r, 'offline', `connection lost: ${err.message}`, false);
  }

  private retry(r: FeedRunner, state: FeedState, detail: string, fatal: boolean): void {
    r.failures++;
    const cap = this.opts.backoffCapMs ?? 30_000;
    const delay = fatal ? cap : backoffMs(r.failures, Math.random, this.opts.backoffBaseMs ?? 1000, cap);
    r.nextAttemptAt = this.now() + delay;
    this.setState(r, state, detail);
    if (r.timer) clearTimeout(r.timer);
    r.timer = setTimeout(() => this.connect(r), delay);
    r.timer.unref();
  }

  /** @internal Re-judge an open feed: silent, mostly refused, or online. */
  evaluate(r: FeedRunner, justOpened = false): void {
    if (!r.adapter || r.openedAt === null) return;
    const now = this.now();
    const silentMs = (r.cfg.silentAfterS ?? DEFAULTS.silentAfterS) * 1000;
    const heard = r.lastMessageAt !== null && r.lastMessageAt >= r.openedAt ? r.lastMessageAt : null;
    const { ok, bad } = r.refusedRatio(now);
    const where = `${r.adapter.endpoint}${this.port(r.cfg.id) !== null && 'port' in r.cfg && r.cfg.port === 0 ? ` (port ${this.port(r.cfg.id)})` : ''}`;
    const top = Object.entries(r.errors).sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    const refused = Object.values(r.errors).reduce((a, b) => a + b, 0);
    if (bad >= 10 && bad > ok) this.setState(r, 'degraded', `${where}: most input refused (${top})`);
    // a TAK output is working while it is connected and sending: a quiet server or mesh is normal
    else if (r.cfg.kind === 'tak-server' || r.cfg.kind === 'tak-mesh')
      this.setState(r, 'online', `${where}: ${r.sent} sent${heard === null ? ', nothing heard yet' : now - heard >= silentMs ? `, nothing heard for ${Math.round((now - heard) / 1000)} s` : ''}`);
    // something arrives, all of it refused: say so, not "no data" (a wrong key, a wrong dialect)
    else if (heard === null && refused > 0) this.setState(r, 'degraded', `${where}: ${refused} refused (${top}), nothing accepted yet`);
    else if (heard === null && now - r.openedAt >= silentMs) this.setState(r, 'degraded', `${where}: open, no data yet`);
    else if (heard !== null && now - heard >= silentMs) this.setState(r, 'degraded', `${where}: no data for ${Math.round((now - heard) / 1000)} s`);
    else if (heard !== null) this.setState(r, 'online', where);
    else if (justOpened) this.setState(r, 'online', `${where}: open, waiting for data`);
  }

  private setState(r: FeedRunner, state: FeedState, detail: string): void {
    const changed = r.state !== state;
    const from = r.state;
    r.detail = detail.slice(0, 500);
    if (!changed) return;
    r.state = state;
    r.since = this.now();
    // Journaled, not awaited: a feed's report must never wait on the disk.
    this.hall.record('feed.changed', `feed:${r.cfg.id}`, { id: r.cfg.id, state, from, detail: r.detail, at: r.since }, 'feeds').catch(() => undefined);
    this.hall.publish('feeds', [{ op: 'put', id: r.cfg.id, value: this.viewOf(r) }]);
  }

  private viewOf(r: FeedRunner): Feed {
    const where = r.adapter?.endpoint ?? endpointOf(r.cfg);
    return {
      id: r.cfg.id,
      kind: r.cfg.kind,
      name: r.cfg.name ?? KIND_NAMES[r.cfg.kind],
      state: r.state,
      lastMessageAt: r.lastMessageAt,
      detail: r.detail,
      endpoint: where,
      since: r.since,
      nextAttemptAt: r.nextAttemptAt,
      health: {
        messages: r.messages,
        rate: Math.round(r.rate(this.now()) * 10) / 10,
        errors: { ...r.errors },
        reconnects: Math.max(0, r.attempts - 1),
        units: r.units.size - r.markers.size,
        markers: r.markers.size,
        unused: r.unused,
        alerts: r.alerts,
        ...(r.cfg.kind === 'tak-server' || r.cfg.kind === 'tak-mesh' ? { sent: r.sent } : {}),
      },
    };
  }

  private publish(): void {
    const ops: DeltaOp[] = [];
    for (const r of this.runners.values()) ops.push({ op: 'put', id: r.cfg.id, value: this.viewOf(r) });
    this.hall.publish('feeds', ops);
  }

  /** Once a second: feed health, and the presence of every tracked unit. */
  private sweep(): void {
    for (const r of this.runners.values()) this.evaluate(r);
    this.publish();
    const now = this.now();
    this.sendPicture(now);
    if (now - this.lastExpiry >= (this.opts.expireSweepMs ?? 30_000)) {
      this.lastExpiry = now;
      this.expire(now);
    }
    const journal: { kind: 'unit.tracked'; subject: string; payload: unknown }[] = [];
    for (const r of this.runners.values()) {
      for (const id of r.units) {
        const u = this.hall.get<Unit>('units', id);
        const t = u?.track;
        if (!u || !t || t.feed !== r.cfg.id) continue;
        const p = presenceAt(now, t.staleAt, t.lostAt);
        if (p === t.presence) continue;
        const next: Unit = { ...u, track: { ...t, presence: p } };
        this.hall.putLive('units', next);
        this.counters.presenceChanges++;
        journal.push(this.trackedEvent(next, now));
      }
    }
    if (journal.length) this.hall.journalLive(journal, 'feeds').catch(() => undefined);
  }

  // ---- reports to units --------------------------------------------------------------------------

  /**
   * The unit a report moves: the registered unit its sender is bound to (`unit.bind`), else the
   * sender's own unit in the feed's namespace. A sender never moves a unit by naming it (a CoT uid
   * equal to a team's id): null when the namespace id is already someone else's.
   */
  private unitIdFor(r: FeedRunner, rep: PositionReport): string | null {
    const bound = this.bindings.get(`${r.cfg.id}\u0000${rep.source}`);
    if (bound) return bound;
    let id = r.unitOf.get(rep.source);
    if (id) return id;
    id = feedUnitId(r.cfg.id, rep.source);
    const held = this.hall.get<Unit>('units', id);
    if (held && !(isFeedUnit(held) && held.track!.feed === r.cfg.id)) return null;
    r.unitOf.set(rep.source, id);
    return id;
  }

  /** Follow bindings and removals made by command (units desk) or by the sweep. */
  private follow(ops: readonly DeltaOp[]): void {
    for (const op of ops) {
      if (op.op === 'del') {
        for (const r of this.runners.values()) {
          r.units.delete(op.id);
          r.markers.delete(op.id);
          for (const [src, uid] of r.unitOf) if (uid === op.id) r.unitOf.delete(src);
        }
        this.stored.delete(op.id);
        for (const [k, uid] of this.bindings) if (uid === op.id) this.bindings.delete(k);
        continue;
      }
      const u = op.value as Unit;
      for (const [k, uid] of this.bindings) if (uid === u.id) this.bindings.delete(k);
      if (u.device) this.bindings.set(`${u.device.feed}\u0000${u.device.source}`, u.id);
    }
  }

  /** Units a feed made that have been lost for `expireAfterS` go (journaled): a sender that came
   *  once, or 5,000 invented uids, do not stay on the map for ever. */
  private expire(now: number): void {
    const after = (this.opts.expireAfterS ?? 86_400) * 1000;
    for (const u of this.hall.all<Unit>('units')) {
      if (!isFeedUnit(u) || u.track!.presence !== 'lost' || u.track!.lostAt + after > now) continue;
      this.counters.expired++;
      this.hall.record('unit.removed', `unit:${u.id}`, { id: u.id, why: 'expired', at: now }, 'feeds').catch(() => undefined);
    }
  }

  private homeOf(lat: number, lon: number): string {
    let best = this.cities[0];
    let bestD = Infinity;
    for (const c of this.cities) {
      const d = distanceKm(c, { lat, lon });
      if (d >= bestD) continue;
      best = c;
      bestD = d;
    }
    return best?.code ?? '330000';
  }

  /** Each TAK output whose interval has passed gets a round: the picture, and deletions of what left it. */
  private sendPicture(now: number): void {
    let picture: CotOut[] | null = null;
    for (const r of this.runners.values()) {
      const c = r.cfg;
      if ((c.kind !== 'tak-server' && c.kind !== 'tak-mesh') || !r.adapter || now - r.round.lastAt < c.intervalS * 1000) continue;
      const out = r.adapter as PictureOut;
      picture ??= pictureOf(this.hall.all<Unit>('units'), this.hall.all<Incident>('incidents'), {
        hall: this.opts.hallId ?? 'hall',
        // what came in over CoT its senders already show
        skipFeeds: new Set([...this.runners.values()].filter((x) => x.cfg.kind.startsWith('cot-') || x.cfg.kind.startsWith('tak-')).map((x) => x.cfg.id)),
        max: 5000,
      });
      r.round.lastAt = now;
      r.sent += out.send(r.round.next(picture), now, c.intervalS * 3000);
    }
  }

  /** @internal an emergency from a feed: the alerts desk raises or clears it. */
  alert(r: FeedRunner, a: AlertReport): void {
    if (this.alerts) void this.alerts.fromFeed(r.cfg.id, a);
    else console.warn(`beacon: feed ${r.cfg.id}: an emergency (${a.type}) from ${a.source.slice(0, 64)}, and no alerts desk to raise it`);
  }

  /** @internal one report from a feed */
  ingest(r: FeedRunner, rep: PositionReport): void {
    const now = this.now();
    const id = this.unitIdFor(r, rep);
    if (id === null) {
      r.rejected('id_taken', `${rep.source.slice(0, 64)}: its id in this feed is a unit the feed did not make; bind the tracker with unit.bind`);
      return;
    }
    const prev = this.hall.get<Unit>('units', id);
    const isDrone = rep.kind === 'drone';
    const staleAfter = (r.cfg.staleAfterS ?? (isDrone ? DEFAULTS.staleAfterS.drone : DEFAULTS.staleAfterS.team)) * 1000;
    const lostAfter = (r.cfg.lostAfterS ?? (isDrone ? DEFAULTS.lostAfterS.drone : DEFAULTS.lostAfterS.team)) * 1000;
    const staleAt = rep.staleAt ?? now + staleAfter;
    const lostAt = Math.max(staleAt, rep.staleAt !== undefined ? rep.staleAt + (lostAfter - staleAfter) : now + lostAfter);
    const hasPos = rep.lat !== undefined && rep.lon !== undefined;
    if (!prev && !hasPos) return; // heard before its first position: nothing to draw yet
    if (!prev && r.units.size >= (this.opts.maxUnitsPerFeed ?? 50_000)) {
      r.rejected('too_many_units', `more than ${this.opts.maxUnitsPerFeed ?? 50_000} units; ${rep.source} ignored`);
      return;
    }
    const t = prev?.track;
    const drone = isDrone ? { mode: null, armed: null, relAlt: null, climb: null, ...(prev?.drone ?? {}), ...stripUndefined(rep.drone ?? {}) } : (prev?.drone ?? null);
    const track = {
      feed: r.cfg.id,
      source: rep.source.slice(0, 128),
      heading: rep.heading ?? (hasPos ? null : (t?.heading ?? null)),
      speed: rep.speed ?? (hasPos ? null : (t?.speed ?? null)),
      ce: rep.ce ?? t?.ce ?? null,
      callsign: rep.callsign ?? t?.callsign ?? null,
      group: rep.group ?? t?.group ?? null,
      battery: rep.battery ?? t?.battery ?? null,
      seen: now,
      staleAt,
      lostAt,
      presence: 'live' as Presence,
    };
    const status = isDrone && drone?.armed !== null && drone?.armed !== undefined ? (drone.armed ? 'en-route' : 'standby') : (prev?.status ?? ((rep.speed ?? 0) > 0.5 ? 'en-route' : 'on-site'));
    const unit: Unit = prev
      ? { ...prev, lat: hasPos ? rep.lat! : prev.lat, lon: hasPos ? rep.lon! : prev.lon, alt: hasPos ? (rep.alt ?? null) : prev.alt, status, updated: hasPos ? now : prev.updated, track, drone }
      : {
          id,
          kind: rep.kind,
          name: rep.name ?? { zh: rep.source.slice(0, 200), en: rep.source.slice(0, 200) },
          home: this.homeOf(rep.lat!, rep.lon!),
          lat: rep.lat!,
          lon: rep.lon!,
          alt: rep.alt ?? null,
          status,
          members: null,
          stock: null,
          updated: now,
          demo: false,
          track,
          drone,
          video: null,
        };
    if (hasPos) this.counters.positions++;
    if (!prev || !r.units.has(id)) {
      r.units.add(id);
      if (rep.kind.startsWith('marker-')) r.markers.add(id);
    }
    this.hall.putLive('units', unit);
    // What the journal keeps: every unit's first appearance, every change of presence, status or
    // flight mode, and positions as thinned by the storage policy.
    if (!prev) {
      this.counters.unitsCreated++;
      this.counters.stored++;
      // The unit's storage clock starts at a random phase within the policy's interval: 20,000 units
      // that appear together (a hall restart, a gateway reconnecting) would otherwise store their
      // positions in one wave every few seconds instead of evenly. It only delays the second row.
      this.stored.set(id, { lat: unit.lat, lon: unit.lon, at: now + Math.random() * (this.opts.storage ?? DEFAULT_STORAGE).minIntervalMs });
      this.hall.journalLive([{ kind: 'unit.upserted', subject: `unit:${id}`, payload: { unit } }], 'feeds').catch(() => undefined);
      return;
    }
    const changed = t?.presence !== 'live' || prev.status !== unit.status || prev.drone?.mode !== unit.drone?.mode || prev.drone?.armed !== unit.drone?.armed;
    if (changed || (hasPos && shouldStore(this.stored.get(id), unit.lat, unit.lon, now, this.opts.storage ?? DEFAULT_STORAGE))) {
      this.counters.stored++;
      this.stored.set(id, { lat: unit.lat, lon: unit.lon, at: now });
      this.hall.journalLive([this.trackedEvent(unit, now)], 'feeds').catch(() => undefined);
    } else if (hasPos) this.counters.thinned++;
  }

  private trackedEvent(u: Unit, at: number) {
    return { kind: 'unit.tracked' as const, subject: `unit:${u.id}`, payload: { id: u.id, lat: u.lat, lon: u.lon, alt: u.alt, status: u.status, at, track: u.track!, drone: u.drone ?? null } };
  }

  /** Journal every tracked unit's newest position that the thinning held back. */
  private flushPositions(): void {
    const events = [];
    for (const r of this.runners.values()) {
      for (const id of r.units) {
        const u = this.hall.get<Unit>('units', id);
        const s = this.stored.get(id);
        if (u?.track && (!s || s.lat !== u.lat || s.lon !== u.lon)) events.push(this.trackedEvent(u, this.now()));
      }
    }
    if (events.length) this.hall.journalLive(events, 'feeds').catch(() => undefined);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function transportOf(kind: FeedConfig['kind']): string {
  return kind === 'cot-tcp' || kind === 'tak-server' ? 'tcp' : kind === 'cot-tls' ? 'tls' : kind === 'mqtt-json' || kind === 'dji-mqtt' ? 'mqtt' : 'udp';
}

/** Feeds that hold a local port (a TAK server's port is the server's). */
function listens(c: FeedConfig): c is FeedConfig & { port: number } {
  return 'port' in c && c.kind !== 'tak-server';
}

export function endpointOf(c: FeedConfig): string {
  if (c.kind === 'tak-mesh') return `udp://${c.group}:${c.port}`;
  if (c.kind === 'tak-server') return `${c.certFile ? 'tls' : 'tcp'}://${c.host}:${c.port}`;
  if ('port' in c) return `${transportOf(c.kind)}://${c.host}:${c.port}`;
  const u = new URL(c.url);
  return `${u.protocol}//${u.host}`;
}

export const feedsDesk = defineDesk<FeedsOptions>()({
  name: 'feeds',
  async start(port, ctx) {
    const desk = new FeedManager(port, ctx.options ?? {}, ctx.reach, ctx.desk<AlertsDesk>('alerts') ?? null);
    await desk.start();
    return desk;
  },
});
