// The link monitor: probes each configured upstream endpoint (the provincial bus, the SIP platform,
// tile sources) with a TCP connect, classifies each target and the WAN as a whole, and reports
// changes. One probe in flight per target at most; a probe that hangs counts as lost at its timeout.
import { connect } from 'node:net';
import type { Link } from '../../../common/domain.ts';
import { aggregate, LevelFilter, type LinkLevel, type LinkThresholds, measure, type Probe } from './classify.ts';

export interface LinkTarget {
  /** Short stable id (journal subject link:<id>). */
  id: string;
  host: string;
  port: number;
}

export interface LinkMonitorOptions {
  targets: readonly LinkTarget[];
  /** Time between probes of one target. @default 500 */
  intervalMs?: number;
  /** A connect not answered within this is a lost probe; on a slow link (satellite backhaul) the
   *  timeout grows to 3x the median connect time, up to 3 s, so slowness reads as slow, not as down.
   *  @default 600 */
  timeoutMs?: number;
  thresholds?: LinkThresholds;
  /** Called with the links whose reported state changed (targets and/or the WAN). */
  onChange: (changed: Link[]) => void;
  now?: () => number;
}

interface TargetState {
  target: LinkTarget;
  probes: Probe[];
  filter: LevelFilter;
  inFlight: boolean;
  timer: NodeJS.Timeout | null;
  link: Link;
}

/** Parse "host:port" (or "[v6]:port") as given on the command line. */
export function parseTarget(spec: string, id?: string): LinkTarget {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(spec.trim());
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new Error(`uplink '${spec}' is not host:port`);
  const host = m[1] ?? m[2]!;
  return { id: id ?? `${host}:${port}`, host, port };
}

export class LinkMonitor {
  private readonly targets: TargetState[];
  private readonly opts: Required<Omit<LinkMonitorOptions, 'thresholds'>> & { thresholds: LinkThresholds };
  private wan: Link;
  private disposed = false;

  constructor(opts: LinkMonitorOptions) {
    this.opts = { intervalMs: 500, timeoutMs: 600, thresholds: {}, now: Date.now, ...opts };
    this.wan = { id: 'wan', state: 'unknown', since: null, detail: `probing ${opts.targets.length} upstream endpoint(s)` };
    this.targets = opts.targets.map((target) => ({
      target,
      probes: [],
      filter: new LevelFilter(this.opts.thresholds),
      inFlight: false,
      timer: null,
      link: { id: `uplink:${target.id}`, state: 'unknown', since: null, detail: `${target.host}:${target.port}` },
    }));
  }

  links(): Link[] {
    return [this.wan, ...this.targets.map((t) => t.link)];
  }

  start(): void {
    for (const t of this.targets) this.schedule(t, 0);
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.targets) if (t.timer) clearTimeout(t.timer);
  }

  private schedule(t: TargetState, delay: number): void {
    if (this.disposed) return;
    t.timer = setTimeout(() => {
      t.timer = null;
      this.probe(t);
    }, delay);
  }

  private probe(t: TargetState): void {
    if (t.inFlight || this.disposed) return;
    t.inFlight = true;
    const started = performance.now();
    const sock = connect({ host: t.target.host, port: t.target.port });
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      t.inFlight = false;
      this.record(t, { ok, rttMs: ok ? Math.round(performance.now() - started) : null });
      // Next probe an interval after this one started, never overlapping it.
      this.schedule(t, Math.max(0, this.opts.intervalMs - (performance.now() - started)));
    };
    const timer = setTimeout(() => done(false), this.timeout(t));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  }

  /** Worst case to see a silent cut on a fast link: interval + 2 timeouts = 0.5 + 0.6 + 0.6 s. */
  private timeout(t: TargetState): number {
    const rtts = t.probes.filter((p) => p.ok).map((p) => p.rttMs!).sort((a, b) => a - b);
    const median = rtts.length ? rtts[Math.floor(rtts.length / 2)]! : 0;
    return Math.min(3000, Math.max(this.opts.timeoutMs, 3 * median));
  }

  private record(t: TargetState, p: Probe): void {
    if (this.disposed) return;
    const window = this.opts.thresholds.window ?? 8;
    // The failures of an outage are not packet loss on the link that comes back: start afresh, or a
    // recovered link would read "degraded" until the outage aged out of the window.
    if (p.ok && t.filter.level === 'offline') t.probes = [];
    t.probes.push(p);
    if (t.probes.length > window) t.probes.shift();
    const m = measure(t.probes, this.opts.thresholds)!;
    const changed: Link[] = [];
    if (t.filter.push(m.level)) {
      t.link = { ...t.link, state: t.filter.level!, since: this.opts.now(), detail: describe(t.target, m) };
      changed.push(t.link);
      const state = aggregate(this.targets.map((x) => x.filter.level));
      if (state !== this.wan.state) {
        const bad = this.targets.filter((x) => x.filter.level !== 'online').map((x) => `${x.target.id} ${x.filter.level ?? 'unknown'}`);
        this.wan = { id: 'wan', state, since: this.opts.now(), detail: bad.length ? bad.join('; ') : `${this.targets.length} upstream endpoint(s) up` };
        changed.push(this.wan);
      }
    } else {
      // Keep the figures fresh for the tooltip without calling it a change of state.
      t.link = { ...t.link, detail: describe(t.target, m) };
    }
    if (changed.length) this.opts.onChange(changed);
  }
}

function describe(t: LinkTarget, m: { level: LinkLevel; loss: number; medianRttMs: number | null }): string {
  return `${t.host}:${t.port} ${m.level}, rtt ${m.medianRttMs ?? '–'} ms, loss ${Math.round(m.loss * 100)}%`;
}
