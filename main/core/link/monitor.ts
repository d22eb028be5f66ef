// The link monitor: probes each configured upstream endpoint (the provincial bus, the SIP platform,
// tile sources) in its own protocol (probes.ts), classifies each target and the WAN as a whole, and
// reports changes. One probe in flight per target at most; a probe that hangs counts as lost at its
// timeout.
import type { Link } from '../../../common/domain.ts';
import { aggregate, LevelFilter, type LinkLevel, type LinkThresholds, measure, type Probe } from './classify.ts';
import { makeProber, type ProbeProtocol, type Prober } from './probes.ts';

export interface LinkTarget {
  /** Short stable id (journal subject link:<id>). */
  id: string;
  host: string;
  port: number;
  /** How to probe it. @default 'tcp' */
  protocol?: ProbeProtocol;
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
  prober: Prober;
  note: string | null;
  /** Throughput measured by the traffic itself (the uplink under load), kbit/s, and when. */
  bandwidth: { kbps: number; at: number } | null;
  /** When the current run of failed probes began (the first one was declared lost), or null. */
  failedSince: number | null;
  /** Last time the hall's own traffic to this target was acknowledged. */
  delivered: number;
}

/** A throughput sample is used for this long: the sender measures once a second while backlogged. */
const BANDWIDTH_FRESH_MS = 5000;

/** Parse "[mqtt://|sip://|tcp://]host:port" (or "[v6]:port") as given on the command line. */
export function parseTarget(spec: string, id?: string): LinkTarget {
  const s = spec.trim();
  const scheme = /^(mqtt|sip|tcp):(?:\/\/)?/i.exec(s);
  const protocol = (scheme?.[1]?.toLowerCase() ?? 'tcp') as ProbeProtocol;
  const rest = scheme ? s.slice(scheme[0].length) : s;
  const m = /^(?:\[([^\]]+)\]|([^:/]+)):(\d{1,5})$/.exec(rest);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new Error(`uplink '${spec}' is not [mqtt://|sip://|tcp://]host:port`);
  const host = m[1] ?? m[2]!;
  return { id: id ?? `${host}:${port}`, host, port, protocol };
}

/** The targets to probe: those given, plus the provincial bus itself (probed in MQTT) when it is
 *  configured and not among them. The bus is by definition an upstream the hall depends on. */
export function linkTargets(specs: readonly string[], provinceUrl?: string): LinkTarget[] {
  const targets = specs.map((s) => parseTarget(s));
  if (provinceUrl) {
    const u = new URL(provinceUrl);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || (u.protocol === 'mqtts:' ? 8883 : 1883));
    if (!targets.some((t) => t.host === host && t.port === port)) targets.push({ id: 'province', host, port, protocol: u.protocol === 'mqtt:' ? 'mqtt' : 'tcp' });
  }
  return targets;
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
      link: { id: `uplink:${target.id}`, state: 'unknown', since: null, detail: `${target.protocol ?? 'tcp'} ${target.host}:${target.port}` },
      prober: makeProber(target.protocol ?? 'tcp', target.host, target.port),
      note: null,
      bandwidth: null,
      failedSince: null,
      delivered: 0,
    }));
  }

  links(): Link[] {
    return [this.wan, ...this.targets.map((t) => t.link)];
  }

  /** The target probing this host and port, if any. */
  targetAt(host: string, port: number): string | null {
    return this.targets.find((t) => t.target.host === host && t.target.port === port)?.target.id ?? null;
  }

  /** Throughput the hall's own traffic got through to a target while it had a backlog: the only
   *  honest bandwidth figure (probes are too small to measure it). Judged at the next probe. */
  observeBandwidth(targetId: string, kbps: number): void {
    const t = this.targets.find((x) => x.target.id === targetId);
    if (t) t.bandwidth = { kbps, at: this.opts.now() };
  }

  /** The hall's own traffic to a target was acknowledged (an MQTT PUBACK). When that keeps happening
   *  after probes started getting lost, the link is congested, not down: a saturated queue (a
   *  squeezed uplink with a backlog) delays the small probes past their timeout while data flows. */
  observeDelivery(targetId: string, at = this.opts.now()): void {
    const t = this.targets.find((x) => x.target.id === targetId);
    if (t) t.delivered = at;
  }

  start(): void {
    for (const t of this.targets) this.schedule(t, 0);
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.targets) {
      if (t.timer) clearTimeout(t.timer);
      t.prober.close();
    }
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
    void t.prober.run(this.timeout(t)).then((r) => {
      t.inFlight = false;
      if (this.disposed) return;
      t.note = r.note ?? null;
      this.record(t, { ok: r.ok, rttMs: r.rttMs });
      // Next probe an interval after this one started, never overlapping it.
      this.schedule(t, Math.max(0, this.opts.intervalMs - (performance.now() - started)));
    });
  }

  /** Worst case to see a silent cut on a fast link: interval + 2 timeouts = 0.5 + 0.6 + 0.6 s. */
  private timeout(t: TargetState): number {
    const rtts = t.probes
      .filter((p) => p.ok)
      .map((p) => p.rttMs!)
      .sort((a, b) => a - b);
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
    const now = this.opts.now();
    if (p.ok) t.failedSince = null;
    else if (t.failedSince === null) t.failedSince = now;
    const bw = t.bandwidth && now - t.bandwidth.at <= BANDWIDTH_FRESH_MS ? t.bandwidth.kbps : null;
    let m = measure(t.probes, this.opts.thresholds, bw)!;
    let note = t.note;
    if (m.level === 'offline' && t.failedSince !== null && t.delivered > t.failedSince) {
      m = { ...m, level: 'degraded' };
      note = 'probes lost but traffic is getting through (congested)';
    }
    const changed: Link[] = [];
    if (t.filter.push(m.level)) {
      t.link = { ...t.link, state: t.filter.level!, since: this.opts.now(), detail: describe(t.target, m, note) };
      changed.push(t.link);
      const state = aggregate(this.targets.map((x) => x.filter.level));
      const bad = this.targets.filter((x) => x.filter.level !== 'online').map((x) => `${x.target.id} ${x.filter.level ?? 'unknown'}`);
      const detail = bad.length ? bad.join('; ') : `${this.targets.length} upstream endpoint(s) up`;
      // Which endpoints are in trouble is part of the WAN's state: a change there is reported even
      // when the one word stays the same (one endpoint degraded, then down: still "degraded").
      if (state !== this.wan.state || detail !== this.wan.detail) {
        this.wan = { id: 'wan', state, since: state !== this.wan.state ? this.opts.now() : this.wan.since, detail };
        changed.push(this.wan);
      }
    } else {
      // Keep the figures fresh for the tooltip without calling it a change of state.
      t.link = { ...t.link, detail: describe(t.target, m, note) };
    }
    if (changed.length) this.opts.onChange(changed);
  }
}

function describe(t: LinkTarget, m: { level: LinkLevel; loss: number; medianRttMs: number | null; kbps?: number | null }, note: string | null): string {
  const bw = m.kbps != null ? `, bandwidth ${Math.round(m.kbps)} kbit/s under load` : '';
  return `${t.protocol ?? 'tcp'} ${t.host}:${t.port} ${m.level}, rtt ${m.medianRttMs ?? '–'} ms, loss ${Math.round(m.loss * 100)}%${bw}${note ? `, ${note}` : ''}`;
}
