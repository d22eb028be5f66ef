// What every feed decoder produces, whatever the wire: a position (or a "still here") from one
// sender, plus the pure rules the manager applies to it (presence, storage thinning, backoff).
import type { DroneState, Name, Presence, UnitKind, UnitStatus } from '../../../common/domain.ts';
import { distanceKm } from '../../../common/geo.ts';

export interface PositionReport {
  /** The sender's own id: MAVLink system id, CoT uid, DJI serial number, a gateway's device id. */
  source: string;
  kind: UnitKind;
  name?: Name;
  /** Absent: the sender is heard (a heartbeat, a status) but has no new position. */
  lat?: number;
  lon?: number;
  alt?: number | null;
  heading?: number | null;
  speed?: number | null;
  ce?: number | null;
  callsign?: string | null;
  group?: string | null;
  status?: UnitStatus;
  /** When the sender says its report goes stale (CoT `stale`), hall clock. */
  staleAt?: number;
  /** Percent; absent when the message does not say. */
  battery?: number | null;
  drone?: Partial<DroneState>;
}

/** An emergency a device raised (CoT `b-a-o-*`) or cancelled (`b-a-o-can`): the alerts desk's. */
export interface AlertReport {
  /** The alert's own id on the wire (ATAK: `<device>-9-1-1`, the same for the cancel). */
  source: string;
  cancel: boolean;
  type: string;
  /** What the device calls it ("911 Alert", "Ring The Bell", "In Contact", "Manual Alert: Gunshot"). */
  label: string;
  /** The device that raised it (the `link` uid), when it says. */
  sender: string | null;
  callsign: string | null;
  /** Absent: the device has no fix. */
  lat?: number;
  lon?: number;
}

/** A decoder's verdict on one message. `unused`: understood and deliberately not used (a known
 *  message the hall has no use for: counted apart, never as a refusal). */
export type Decoded =
  | {
      ok: true;
      reports: PositionReport[];
      alert?: AlertReport;
      unused?: boolean;
      /** A TAK client asks to switch its stream to this TAK Protocol version (0: a version it did not say). */
      takRequest?: number;
    }
  | { ok: false; reason: string; message: string };

export const reject = (reason: string, message: string): Decoded => ({ ok: false, reason, message });

/** Presence of a tracked unit at `now`. */
export function presenceAt(now: number, staleAt: number, lostAt: number): Presence {
  return now >= lostAt ? 'lost' : now >= staleAt ? 'stale' : 'live';
}

/**
 * Storage thinning (docs/feeds.md): every position reaches the live picture, but the journal keeps a
 * unit's track at most every `minIntervalMs`, and then only when it moved `minMoveM` or `maxIntervalMs`
 * passed. A change of presence or status is always kept. At 20,000 units reporting once a second this
 * is the difference between 20,000 and under 2,000 rows a second, and an after-action replay still
 * draws each track to within the move threshold.
 */
export interface StoragePolicy {
  minIntervalMs: number;
  minMoveM: number;
  maxIntervalMs: number;
}
export const DEFAULT_STORAGE: StoragePolicy = { minIntervalMs: 5_000, minMoveM: 25, maxIntervalMs: 60_000 };

export interface Stored {
  lat: number;
  lon: number;
  at: number;
}

export function shouldStore(last: Stored | undefined, lat: number, lon: number, at: number, p: StoragePolicy = DEFAULT_STORAGE): boolean {
  if (!last) return true;
  const dt = at - last.at;
  if (dt >= p.maxIntervalMs) return true;
  if (dt < p.minIntervalMs) return false;
  return distanceKm(last, { lat, lon }) * 1000 >= p.minMoveM;
}

/**
 * Reconnect delay after `failures` consecutive failures: exponential from `baseMs`, capped, with
 * "equal jitter" (half fixed, half random). The jitter keeps a hall's feeds from reconnecting in step
 * to a broker that has just come back; the fixed half keeps a retry from ever being immediate.
 */
export function backoffMs(failures: number, rand: () => number = Math.random, baseMs = 1000, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 20)));
  return Math.round(ceiling / 2 + rand() * (ceiling / 2));
}
