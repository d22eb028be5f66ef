// The composition root of the hall core: plain Node, no Electron. It opens the store (in its worker),
// builds the kernel and the hub, starts the desks of desks.ts in order, merges their commands and
// disposes them in reverse. Nothing here knows a domain: that is each desk's business.
import { mkdirSync } from 'node:fs';
import { keepPrivate } from './security.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { COMMAND_NAMES, type CommandName } from '../../common/contract.ts';
import type { Boundary } from '../../common/domain.ts';
import { StoreClient } from '../../native/store/client.ts';
import { DESKS, type DeskMap, type DeskOptions } from './desks.ts';
import { CLOSE, Hub, HubError, localContext, type CommandContext, type HubOptions, type HubStats } from './hub/hub.ts';
import { Kernel, type KernelOptions } from './kernel/kernel.ts';
import type { Desk, DeskContext, DeskDef, HallPort } from './kernel/port.ts';
import { SCENARIO_ID, scenarioForHall, zhejiangScenario } from './scenario/seed.ts';
import { Reach, type ReachOptions } from './trust/reach.ts';

export interface HallOptions extends KernelOptions, DeskOptions {
  dataDir: string;
  hub?: HubOptions;
  /** Seed the demonstration scenario into an empty data directory. @default true */
  seed?: boolean;
  /** The desks to start, in order. @default DESKS (tests start a list of their own) */
  desks?: readonly DeskDef[];
  /** Outbound targets and secrets commands may name (trust/reach.ts). @default nothing */
  reach?: ReachOptions;
}

type Handler = (args: unknown, ctx: CommandContext) => Promise<unknown>;
type DeskStats = { [K in keyof DeskMap]: DeskMap[K] extends { stats(): infer S } ? S : null };
export type HallStats = Kernel['counters'] & { startedAt: number; reach: ReturnType<Reach['stats']>; queued: number; storeRefusing: Kernel['storeRefusing']; hub: HubStats } & DeskStats;

export class HallCore {
  readonly hub: Hub;
  readonly store: StoreClient;
  readonly dataDir: string;
  readonly startedAt: number;
  /** The desks by name, started. */
  readonly desks = {} as DeskMap;
  private readonly kernel: Kernel;
  /** Started desks, in start order (disposed in reverse). */
  private readonly started: { name: string; desk: Desk }[] = [];
  private readonly handlers = new Map<string, { desk: string; run: Handler }>();
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  readonly reach: Reach;

  private constructor(opts: HallOptions, store: StoreClient) {
    this.dataDir = opts.dataDir;
    this.store = store;
    this.reach = new Reach(opts.reach, process.env, opts.dataDir);
    this.hub = new Hub({ server: 'beacon', ...opts.hub });
    // an area given by a county's code: the county's boundary, where the hall has imported it
    this.hub.polygonsOf = (code) => {
      const b = this.hub.get('boundaries', code) as Boundary | undefined;
      return b ? b.polygons.map((rings) => rings[0]!) : null;
    };
    this.kernel = new Kernel(store.api, this.hub, opts);
    this.startedAt = this.kernel.now();
    for (const def of opts.desks ?? DESKS) for (const t of (def as DeskDef).topics ?? []) this.kernel.serve(t);
    this.hub.onCommand((name, args, ctx) => {
      const h = this.handlers.get(name);
      if (!h) return Promise.reject(new HubError('unknown_command', `unknown command ${name}`));
      return h.run(args, ctx);
    });
  }

  static async start(opts: HallOptions): Promise<HallCore> {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    const store = await StoreClient.open(join(opts.dataDir, 'beacon.sqlite'));
    HallCore.tightenDataDir(opts.dataDir);
    const core = new HallCore(opts, store);
    try {
      await core.kernel.load();
      if ((opts.seed ?? true) && core.kernel.all('hall').length === 0) {
        // a hall of the network seeds its own area of the demonstration (docs/network.md)
        const events = scenarioForHall(zhejiangScenario(core.kernel.now()), opts.network?.hallId);
        await core.kernel.recordMany(
          events,
          'seed',
          events.map((e) => `${SCENARIO_ID}:${e.subject}`),
        );
      }
      for (const def of (opts.desks ?? DESKS) as readonly DeskDef[]) await core.startDesk(def, (opts as unknown as Record<string, unknown>)[def.name]);
      core.wireTrust();
      const missing = COMMAND_NAMES.filter((c) => !core.handlers.has(c));
      if (missing.length) throw new Error(`no desk answers ${missing.join(', ')}`);
      // again: the desks opened files of their own (the tile caches)
      HallCore.tightenDataDir(opts.dataDir);
      core.loop.enable();
      core.hub.flush();
    } catch (err) {
      await core.dispose();
      throw err;
    }
    return core;
  }

  /** The trust desk decides who a session is; the hub holds the sessions. Tests that start a list of
   *  desks without it get displays nobody can sign in at. */
  private wireTrust(): void {
    const trust = (this.desks as Partial<DeskMap>).trust;
    if (!trust) return;
    this.hub.auth = trust;
    trust.onRevoked((which) => trust.noteClosed(this.hub.closeWhere(which, CLOSE.revoked, 'credential revoked or changed; sign in again')));
  }

  /** Owner only, whatever created the files (security.ts, keepPrivate). */
  private static tightenDataDir(dataDir: string): void {
    const n = keepPrivate(dataDir);
    if (n > 0) console.warn(`beacon: ${dataDir}: ${n} file(s) or folder(s) were readable by others; now owner only`);
  }

  private async startDesk(def: DeskDef, options: unknown): Promise<void> {
    if (this.started.some((s) => s.name === def.name)) throw new Error(`two desks are named ${def.name}`);
    const ctx: DeskContext<unknown> = {
      options,
      dataDir: this.dataDir,
      reach: this.reach,
      store: this.store.api,
      desk: <D extends Desk>(name: string) => this.started.find((s) => s.name === name)?.desk as D | undefined,
      routeOutbox: (route, kick) => this.kernel.routeOutbox(route, kick),
    };
    const desk = await def.start(this.kernel, ctx);
    this.started.push({ name: def.name, desk });
    (this.desks as Record<string, Desk>)[def.name] = desk;
    for (const [name, run] of Object.entries(desk.commands ?? {})) {
      const held = this.handlers.get(name);
      if (held) throw new Error(`command ${name} is answered by both the ${held.desk} and the ${def.name} desk`);
      this.handlers.set(name as CommandName, { desk: def.name, run: run as Handler });
    }
  }

  /** Run a contract command as a display would, without a socket (the CLI's direct import): the
   *  arguments are checked against the contract first. */
  command(name: string, args: unknown, origin: string): Promise<unknown> {
    return this.hub.runCommand(name, args, localContext(origin));
  }

  /** The port desks are given, for tools that act as one (the CLI's import, the benchmarks). */
  get port(): HallPort {
    return this.kernel;
  }

  get<T = Record<string, unknown>>(table: Parameters<HallPort['get']>[0], id: string): T | undefined {
    return this.kernel.get<T>(table, id);
  }

  all<T = Record<string, unknown>>(table: Parameters<HallPort['all']>[0]): T[] {
    return this.kernel.all<T>(table);
  }

  readonly record: HallPort['record'] = (kind, subject, payload, origin, key) => this.kernel.record(kind, subject, payload, origin, key);
  readonly recordMany: HallPort['recordMany'] = (events, origin, keys) => this.kernel.recordMany(events, origin, keys);
  readonly journalLive: HallPort['journalLive'] = (events, origin) => this.kernel.journalLive(events, origin);
  readonly onChange: HallPort['onChange'] = (cb) => this.kernel.onChange(cb);

  /** Event-loop delay since the previous call (p50, p99, max in ms): how long a display's command or
   *  a feed's datagram may wait behind other work. For /api/health and the benchmarks. */
  loopDelay(): { p50Ms: number; p99Ms: number; maxMs: number } {
    const r = { p50Ms: Math.round(this.loop.percentile(50) / 1e5) / 10, p99Ms: Math.round(this.loop.percentile(99) / 1e5) / 10, maxMs: Math.round(this.loop.max / 1e5) / 10 };
    this.loop.reset();
    return r;
  }

  /** The kernel's counters, the hub's, and each desk's under its name (null: it keeps none). */
  stats(): HallStats {
    const desks: Record<string, unknown> = {};
    for (const { name, desk } of this.started) desks[name] = desk.stats?.() ?? null;
    return {
      startedAt: this.startedAt,
      reach: this.reach.stats(),
      ...this.kernel.counters,
      queued: this.kernel.queued,
      storeRefusing: this.kernel.storeRefusing,
      hub: this.hub.stats(),
      ...desks,
    } as HallStats;
  }

  async dispose(): Promise<void> {
    this.loop.disable();
    for (const { name, desk } of this.started.splice(0).reverse()) {
      try {
        await desk.dispose?.();
      } catch (err) {
        console.error(`beacon: the ${name} desk did not stop cleanly: ${(err as Error).message}`);
      }
    }
    await this.kernel.settle();
    this.hub.dispose();
    await this.store.dispose();
  }
}
