// The alerts desk: emergencies raised by field devices (ATAK's 911, Ring The Bell, In Contact, a
// WearOS companion's manual alert: CoT `b-a-o-*`). In an emergency hall these must not vanish: each
// raises an alert on every display until an operator acknowledges it (journaled, with who), opens an
// incident at the sender's position, and is cleared when the device cancels (`b-a-o-can`), which
// closes the incident. The feeds desk hands it what the decoders found (docs/feeds.md, "Emergency
// alerts").
import type { Alert, Incident } from '../../../common/domain.ts';
import type { AlertReport } from '../feeds/report.ts';
import { HubError } from '../hub/hub.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort, type JournalEvent } from '../kernel/port.ts';

/** A device repeats an open alert every few seconds: the journal keeps a repeat only when it moved,
 *  changed kind, or this long passed. */
const REPEAT_KEEP_MS = 60_000;

export class AlertsDesk implements Desk {
  private readonly port: HallPort;
  /** One alert's changes one after another (a device's repeats arrive back to back). */
  private readonly chains = new Map<string, Promise<void>>();
  readonly counters = { raised: 0, repeated: 0, cancelled: 0, acknowledged: 0, unmatchedCancels: 0 };

  readonly commands: CommandHandlers;

  constructor(port: HallPort) {
    this.port = port;
    this.commands = {
      'alert.ack': async ({ id }, ctx) => {
        const a = port.get<Alert>('alerts', id);
        if (!a) throw new HubError('not_found', `no alert ${id}`);
        if (a.status !== 'active') throw new HubError('invalid_args', `alert ${id} is already ${a.status}${a.ackBy ? ` (by ${a.ackBy})` : ''}`);
        const event = await port.record('alert.acknowledged', `alert:${id}`, { id, by: ctx.by, at: port.now() }, ctx.origin);
        this.counters.acknowledged++;
        return { id, event: event ?? 0 };
      },
    };
  }

  /** What a feed's decoder found: an alert raised or repeated, or a cancel. Never throws. */
  fromFeed(feed: string, r: AlertReport): Promise<void> {
    const key = `${feed}\u0000${r.source}`;
    const next = (this.chains.get(key) ?? Promise.resolve())
      .then(() => (r.cancel ? this.cancel(feed, r) : this.raise(feed, r)))
      .catch((e: Error) => console.warn(`beacon: alert from feed ${feed} (${r.source.slice(0, 64)}) not recorded: ${e.message}`));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  /** The alert a device's message is about: its open one under the same id, or (for a cancel that
   *  names its device) the device's open one. */
  private open(feed: string, r: AlertReport): Alert | undefined {
    let bySender: Alert | undefined;
    for (const a of this.port.all<Alert>('alerts')) {
      if (a.feed !== feed || a.status === 'cancelled') continue;
      if (a.source === r.source) return a;
      if (r.sender && a.sender === r.sender) bySender = a;
    }
    return bySender;
  }

  private who(r: AlertReport): string {
    return (r.callsign ?? r.sender ?? r.source).slice(0, 64);
  }

  private async raise(feed: string, r: AlertReport): Promise<void> {
    const now = this.port.now();
    const fix = r.lat !== undefined && r.lon !== undefined;
    const was = this.open(feed, r);
    const events: JournalEvent[] = [];
    let incident = was?.incident ?? null;
    if (!incident && fix) {
      incident = `inc-${now.toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
      const inc: Incident = {
        id: incident,
        kind: 'rescue',
        title: `${r.label} · ${this.who(r)}`.slice(0, 200),
        severity: 'IV',
        lat: r.lat!,
        lon: r.lon!,
        county: null,
        status: 'open',
        reportedBy: this.who(r),
        reportedAt: now,
        closedAt: null,
        closedBy: null,
        demo: false,
      };
      events.push({ kind: 'incident.reported', subject: `incident:${incident}`, payload: { incident: inc } });
    }
    if (was) {
      const changed = was.type !== r.type || was.lat !== (r.lat ?? was.lat) || was.lon !== (r.lon ?? was.lon) || incident !== was.incident;
      if (!changed && now - was.heardAt < REPEAT_KEEP_MS) return;
      const alert: Alert = { ...was, type: r.type, label: r.label, lat: r.lat ?? was.lat, lon: r.lon ?? was.lon, heardAt: now, incident, callsign: r.callsign ?? was.callsign };
      events.push({ kind: 'alert.raised', subject: `alert:${was.id}`, payload: { alert } });
      this.counters.repeated++;
    } else {
      const id = `alert-${now.toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
      const alert: Alert = {
        id,
        feed,
        source: r.source,
        sender: r.sender,
        callsign: r.callsign,
        type: r.type,
        label: r.label,
        lat: r.lat ?? null,
        lon: r.lon ?? null,
        status: 'active',
        raisedAt: now,
        heardAt: now,
        ackBy: null,
        ackAt: null,
        cancelledAt: null,
        incident,
      };
      events.push({ kind: 'alert.raised', subject: `alert:${id}`, payload: { alert } });
      this.counters.raised++;
    }
    await this.port.recordMany(events, `feed:${feed}`);
  }

  private async cancel(feed: string, r: AlertReport): Promise<void> {
    const was = this.open(feed, r);
    if (!was) {
      this.counters.unmatchedCancels++;
      return;
    }
    const now = this.port.now();
    const events: JournalEvent[] = [{ kind: 'alert.cancelled', subject: `alert:${was.id}`, payload: { id: was.id, at: now } }];
    const inc = was.incident ? this.port.get<Incident>('incidents', was.incident) : undefined;
    if (inc && inc.status === 'open')
      events.push({ kind: 'incident.closed', subject: `incident:${inc.id}`, payload: { id: inc.id, by: `${was.callsign ?? this.who(r)} (${r.type})`.slice(0, 64), at: now } });
    await this.port.recordMany(events, `feed:${feed}`);
    this.counters.cancelled++;
  }

  stats() {
    return { ...this.counters };
  }
}

export const alertsDesk = defineDesk()({
  name: 'alerts',
  topics: ['alerts'],
  start: (port): AlertsDesk => new AlertsDesk(port),
});
