// WAN classification from probe results: pure, so the thresholds and the hysteresis are tested
// without sockets. The prober (monitor.ts) feeds it real TCP connects.
import type { Link } from '../../../common/domain.ts';

export type LinkLevel = 'online' | 'degraded' | 'offline';

export interface Probe {
  ok: boolean;
  /** Round trip of the connect in ms, when ok. */
  rttMs: number | null;
}

export interface LinkThresholds {
  /** Probes kept per target for loss and latency. @default 8 */
  window?: number;
  /** Consecutive failures that make a target offline. @default 2 */
  failuresForOffline?: number;
  /** Median round trip above which the target is degraded. @default 300 */
  degradedRttMs?: number;
  /** Share of failed probes in the window above which the target is degraded. @default 0.2 */
  degradedLoss?: number;
  /** Throughput measured under load (the uplink had a backlog) below which the target is degraded,
   *  kbit/s. An idle link is never judged on bandwidth: only traffic shows what it carries. @default 512 */
  degradedKbps?: number;
  /** Consecutive evaluations a new level must hold before it is reported, except going offline,
   *  which is reported at once (a hall must know at once that the province cannot hear it). @default 3 */
  hold?: number;
}

const DEFAULTS: Required<LinkThresholds> = { window: 8, failuresForOffline: 2, degradedRttMs: 300, degradedLoss: 0.2, degradedKbps: 512, hold: 3 };

export interface Measure {
  level: LinkLevel;
  loss: number;
  medianRttMs: number | null;
  /** Throughput under load, when recently measured. */
  kbps?: number | null;
}

/** `kbps`: the throughput the uplink achieved while it had more to send than it could (null when
 *  not measured recently). */
export function measure(probes: readonly Probe[], t: LinkThresholds = {}, kbps: number | null = null): Measure | null {
  const o = { ...DEFAULTS, ...t };
  if (probes.length === 0) return null;
  const recent = probes.slice(-o.window);
  const tail = recent.slice(-o.failuresForOffline);
  const loss = recent.filter((p) => !p.ok).length / recent.length;
  const rtts = recent
    .filter((p) => p.ok && p.rttMs !== null)
    .map((p) => p.rttMs!)
    .sort((a, b) => a - b);
  const medianRttMs = rtts.length ? rtts[Math.floor(rtts.length / 2)]! : null;
  if (tail.length >= o.failuresForOffline && tail.every((p) => !p.ok)) return { level: 'offline', loss, medianRttMs, kbps };
  if (loss > o.degradedLoss || (medianRttMs !== null && medianRttMs > o.degradedRttMs) || (kbps !== null && kbps < o.degradedKbps)) return { level: 'degraded', loss, medianRttMs, kbps };
  return { level: 'online', loss, medianRttMs, kbps };
}

/** One target's reported level, with hysteresis so a marginal link does not flap on the wall. */
export class LevelFilter {
  level: LinkLevel | null = null;
  private candidate: LinkLevel | null = null;
  private count = 0;
  private readonly hold: number;
  constructor(t: LinkThresholds = {}) {
    this.hold = t.hold ?? DEFAULTS.hold;
  }
  /** Feed one evaluation; returns true when the reported level changed. */
  push(next: LinkLevel): boolean {
    if (next === this.level) {
      this.candidate = null;
      this.count = 0;
      return false;
    }
    if (this.level === null || next === 'offline') return this.set(next);
    if (next !== this.candidate) {
      this.candidate = next;
      this.count = 0;
    }
    this.count += 1;
    return this.count >= this.hold ? this.set(next) : false;
  }
  private set(level: LinkLevel): boolean {
    this.level = level;
    this.candidate = null;
    this.count = 0;
    return true;
  }
}

/** The WAN as one word from its targets: all down is offline, any trouble is degraded. */
export function aggregate(levels: readonly (LinkLevel | null)[]): Link['state'] {
  const known = levels.filter((l): l is LinkLevel => l !== null);
  if (known.length === 0) return 'unknown';
  if (known.every((l) => l === 'offline')) return 'offline';
  if (known.some((l) => l !== 'online')) return 'degraded';
  return 'online';
}
