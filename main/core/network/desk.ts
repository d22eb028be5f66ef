// The network desk (一张网, issue 20): the halls below this one. Every hall publishes its uplink to
// its own bus (beacon/<own>/up/#) as before; the buses are bridged up the tree, so a parent's bus
// carries its children's and grandchildren's uplinks. This desk reads them: each child's heartbeat
// (its WAN, its outbox) becomes its state on the `halls` topic, and what it reports (incidents,
// levels set, calls) joins this hall's own topics, each item carrying `hall`, journaled with the
// child as origin and its message key, so a repeat is applied once. docs/network.md.
import { z } from 'zod';
import { hallLevel, isDescendant, parentHall, unitInArea } from '../../../common/halls.ts';
import {
  type Advisory,
  Call,
  type HallNode,
  Incident,
  LinkState,
  type Order,
  type Place,
  Response,
  ResponseHazard,
  Risk,
  type Sheet,
  type Task,
  type Typhoon,
  Unit,
  UnitStatus,
} from '../../../common/domain.ts';
import { advisoryMessage, advisorySummary } from '../typhoon/advisory.ts';
import { hallName } from './identity.ts';
import { HubError } from '../hub/hub.ts';
import type { DeltaOp } from '../../../common/contract.ts';
import { type CommandHandlers, defineDesk, type Desk, type HallPort, type JournalEvent } from '../kernel/port.ts';

export interface NetworkOptions {
  /** This hall's GB/T 2260 code. */
  hallId: string;
  /** A child heartbeat older than this reads silent. @default 3500 */
  silentAfterMs?: number;
  /** Silent this long reads offline. @default 60000 */
  offlineAfterMs?: number;
  /** How often states are judged. @default 500 */
  sweepMs?: number;
}

/** What a hall says of itself every second on beacon/<hall>/up/heartbeat. */
export const Heartbeat = z
  .object({
    v: z.literal(1),
    hall: z.string().regex(/^\d{6}$/),
    at: z.number().int().min(0),
    wan: LinkState,
    outbox: z.object({ depth: z.number().int().min(0), oldest: z.number().int().nullable() }),
    responseLevel: z.string().max(16).nullable(),
    /** When the hall's process started: a new value means it restarted or was reinstalled. */
    started: z.number().int().optional(),
  })
  .strict();
export type Heartbeat = z.infer<typeof Heartbeat>;

const UpMessage = z.object({
  v: z.literal(1),
  hall: z.string().regex(/^\d{6}$/),
  key: z.string().min(1).max(128),
  seq: z.number().int(),
  category: z.string().max(32),
  live: z.literal(true).optional(),
  event: z.object({ id: z.number().int(), ts: z.number().int(), kind: z.string().max(64), subject: z.string().max(200), payload: z.unknown(), origin: z.string().max(300) }),
});

/** An id of a child's item in this hall: the child's code in front, so two halls' ids never meet. */
const childId = (hall: string, id: string) => `${hall}/${id}`.slice(0, 64);

export class NetworkDesk implements Desk {
  readonly commands: CommandHandlers = {
    'order.send': ({ text, priority, to }, ctx) => this.dispatch({ kind: 'instruction', text, priority }, to, ctx.by, ctx.origin),
    'advisory.forward': async ({ id, to }, ctx) => {
      const a = this.port.get<Advisory>('advisories', id);
      if (!a) throw new HubError('not_found', `no advisory ${id}`);
      const storm = this.port.get<Typhoon>('typhoons', a.storm);
      const [, year, number] = /^tc-(\d{4})-(\d{4})$/.exec(a.storm) ?? [];
      if (!storm && !number) throw new HubError('invalid_args', `advisory ${id}: storm ${a.storm} has no number`);
      const s = { number: storm?.number ?? number!, year: storm?.year ?? Number(year), name: storm?.name ?? null };
      return this.dispatch({ kind: 'advisory', advisory: a.id, text: advisorySummary(a, s), priority: 'normal' }, to, ctx.by, ctx.origin, {
        down: 'typhoon.advisory',
        body: advisoryMessage(a, s),
      });
    },
  };

  /** An order to the halls below: one copy per hall through the outbox, exactly once and in order
   *  per hall, also to a hall that is offline now (it goes when the link returns). */
  private async dispatch(
    what: Pick<Order, 'kind' | 'text' | 'priority' | 'advisory'>,
    to: { hall: string } | { city: string } | { all: true },
    by: string,
    origin: string,
    down?: { down: 'typhoon.advisory'; body: unknown },
  ): Promise<{ id: string; to: string[] }> {
    const targets = 'all' in to ? this.descendants() : 'city' in to ? this.descendants().filter((c) => c === to.city || parentHall(c) === to.city) : this.nodes.has(to.hall) ? [to.hall] : [];
    if (targets.length === 0) throw new HubError('not_found', `no hall below ${this.o.hallId} matches ${JSON.stringify(to)}`);
    const now = this.port.now();
    const id = `ord-${now.toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const from = `${hallName(this.port, this.o.hallId)} ${by}`.slice(0, 200);
    const order: Order = { id, ...what, by, from, sentAt: now, receipts: Object.fromEntries(targets.map((t) => [t, { delivered: null, read: null, readBy: null }])) };
    const key = `${this.o.hallId}:${id}`;
    await this.port.recordMany(
      [
        { kind: 'order.sent', subject: `order:${id}`, payload: { order } },
        ...targets.map((t) => ({
          kind: 'order.dispatched' as const,
          subject: `order:${id}`,
          payload: { order: id, to: t, key, from, text: what.text, priority: what.priority, sentAt: now, ...down },
        })),
      ],
      origin,
    );
    return { id, to: targets };
  }
  private readonly port: HallPort;
  private readonly o: Required<NetworkOptions>;
  private readonly nodes = new Map<string, HallNode>();
  /** Each hall's process start, from its heartbeats. */
  private readonly started = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  readonly counters = { heartbeats: 0, applied: 0, positions: 0, duplicates: 0, refused: {} as Record<string, number>, notYet: 0 };

  constructor(port: HallPort, o: NetworkOptions) {
    this.port = port;
    this.o = { silentAfterMs: 3500, offlineAfterMs: 60_000, sweepMs: 500, ...o };
    for (const p of port.all<Place>('places')) {
      if ((p.kind !== 'city' && p.kind !== 'county') || !isDescendant(p.code, o.hallId)) continue;
      this.nodes.set(p.code, {
        id: p.code,
        name: p.name,
        level: hallLevel(p.code)!,
        parent: parentHall(p.code),
        state: 'unknown',
        since: null,
        lastHeard: null,
        wan: null,
        outbox: null,
        responseLevel: null,
        detail: 'not heard yet',
      });
    }
    port.replace('halls', this.nodes.values());
    // levels set here for an area below go down the chain of command: to the hall one level down
    // whose area it is, which passes them on to its own (province → city → county)
    this.unsub = port.onChange((topic, ops) => {
      if (topic === 'risks') void this.sendRisks(ops).catch((e: Error) => console.warn(`beacon: levels for the halls below not queued: ${e.message}`));
      // emergency responses (this hall's, and those from above) go to the halls one level down
      if (topic === 'responses') {
        const list = ops.flatMap((op) => (op.op === 'put' && op.id !== 'proposal' ? [op.value as Response] : []));
        if (list.length) void this.sendResponses(this.children(), list).catch((e: Error) => console.warn(`beacon: responses for the halls below not queued: ${e.message}`));
      }
    });
    this.timer = setInterval(() => this.sweep(), this.o.sweepMs);
    this.timer.unref();
  }

  get hallId(): string {
    return this.o.hallId;
  }

  /** The halls whose uplinks this one reads (children and grandchildren). */
  descendants(): string[] {
    return [...this.nodes.keys()];
  }

  /** A message on a descendant's uplink. Settles with the MQTT 5 reason code to acknowledge it with;
   *  rejects when the store refused it (the bus keeps it and delivers it again). */
  async up(topic: string, payload: Buffer): Promise<number> {
    const m = /^beacon\/(\d{6})\/up\/([a-z-]{1,32})$/.exec(topic);
    if (!m || !this.nodes.has(m[1]!)) return this.refuse('not_descendant', `${topic.slice(0, 100)} is not a hall below ${this.o.hallId}`);
    const hall = m[1]!;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.refuse('not_json', `${topic}: not JSON`);
    }
    if (m[2] === 'heartbeat') {
      const hb = Heartbeat.safeParse(json);
      if (!hb.success || hb.data.hall !== hall) return this.refuse('bad_heartbeat', `${topic}: ${hb.success ? 'names another hall' : hb.error.issues[0]?.message}`);
      this.heard(hb.data);
      return 0;
    }
    const msg = UpMessage.safeParse(json);
    if (!msg.success || msg.data.hall !== hall) return this.refuse('bad_message', `${topic}: ${msg.success ? 'names another hall' : msg.error.issues[0]?.message}`);
    const events = this.translate(hall, msg.data.event.kind, msg.data.event.payload);
    if (events === null) {
      this.counters.notYet += 1; // kinds this hall does not merge yet (positions, dispatches): acknowledged
      return 0;
    }
    if (events instanceof Error) return this.refuse('bad_payload', `${topic}: ${events.message}`);
    if (events.length === 0) {
      this.touch(hall); // applied to the live picture only (a position)
      return 0;
    }
    try {
      const ids = await this.port.recordMany(
        events,
        `hall:${hall}`,
        events.map((_, i) => `${msg.data.key}${i ? `:${i}` : ''}`),
      );
      if (ids.every((id) => id === null)) this.counters.duplicates += 1;
      else this.counters.applied += 1;
    } catch (err) {
      // valid JSON the reducer still refuses (closing an incident it never heard of): never valid later
      if (err instanceof HubError && err.code !== 'unavailable') return this.refuse(err.code, `${topic}: ${err.message}`);
      throw err;
    }
    // anything from a hall is a sign of life too
    this.touch(hall);
    return 0;
  }

  /** This hall's roster for the hall above (called once the outbox routes, at each start): its own
   *  units, not markers, not those of the halls below (theirs go up their own way). */
  async sendRoster(): Promise<void> {
    if (hallLevel(this.o.hallId) === 'province') return;
    const own = this.port.all<Unit>('units').filter((u) => !u.hall && !u.kind.startsWith('marker-') && this.inArea(u));
    const events: JournalEvent[] = [];
    for (let i = 0; i < own.length; i += 200) events.push({ kind: 'unit.roster', subject: `hall:${this.o.hallId}`, payload: { units: own.slice(i, i + 200) } });
    if (events.length) await this.port.recordMany(events, 'network');
  }

  /** Whether a unit is this hall's to report (its area; common/halls.ts). */
  private inArea(u: Unit): boolean {
    this.seats ??= this.port.all<Place>('places').filter((p) => p.kind === 'county');
    return unitInArea(u, this.o.hallId, this.seats);
  }
  private seats: Place[] | null = null;

  /** A child's unit as this hall holds it. */
  private childUnit(hall: string, u: Unit): Unit {
    // its tracker's presence is judged by its own hall (this hall's feeds must not expire it)
    return { ...u, id: childId(hall, u.id), hall, track: null, video: null, device: undefined };
  }

  /** A child's event as this hall's own, carrying the child's code. */
  private translate(hall: string, kind: string, payload: unknown): JournalEvent[] | Error | null {
    const p = payload as Record<string, unknown>;
    switch (kind) {
      case 'incident.reported': {
        const inc = Incident.safeParse((p as { incident?: unknown }).incident);
        if (!inc.success) return new Error(`incident: ${inc.error.issues[0]?.message}`);
        const incident = { ...inc.data, id: childId(hall, inc.data.id), hall };
        return [{ kind: 'incident.reported', subject: `incident:${incident.id}`, payload: { incident } }];
      }
      case 'unit.roster':
      case 'unit.upserted': {
        const list = kind === 'unit.roster' ? (p as { units?: unknown[] }).units : [(p as { unit?: unknown }).unit];
        const units = z.array(Unit).max(1000).safeParse(list);
        if (!units.success) return new Error(`${kind}: ${units.error.issues[0]?.message}`);
        return units.data.map((u) => ({ kind: 'unit.upserted' as const, subject: `unit:${childId(hall, u.id)}`, payload: { unit: this.childUnit(hall, u) } }));
      }
      case 'unit.status': {
        const e = z.object({ id: z.string().max(64), status: UnitStatus, at: z.number().int() }).safeParse(p);
        if (!e.success) return new Error(`unit.status: ${e.error.issues[0]?.message}`);
        const id = childId(hall, e.data.id);
        if (!this.port.get('units', id)) return null; // its roster has not arrived: the roster carries the status
        return [{ kind: 'unit.status', subject: `unit:${id}`, payload: { ...e.data, id } }];
      }
      case 'unit.moved':
      case 'unit.tracked': {
        // positions: the live picture only (the child's journal keeps its track)
        const e = z
          .object({ id: z.string().max(64), lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180), alt: z.number().nullable(), at: z.number().int(), status: UnitStatus.optional() })
          .safeParse(p);
        if (!e.success) return new Error(`${kind}: ${e.error.issues[0]?.message}`);
        const was = this.port.get<Unit>('units', childId(hall, e.data.id));
        if (!was) return null;
        this.counters.positions += 1;
        if (was.updated <= e.data.at) {
          const next: Unit = { ...was, lat: e.data.lat, lon: e.data.lon, alt: e.data.alt, updated: e.data.at, ...(e.data.status ? { status: e.data.status } : {}) };
          this.port.putLive('units', next);
        }
        return [];
      }
      case 'incident.closed': {
        const e = z.object({ id: z.string().max(64), by: z.string().min(1).max(64), at: z.number().int() }).safeParse(p);
        if (!e.success) return new Error(`incident.closed: ${e.error.issues[0]?.message}`);
        const id = childId(hall, e.data.id);
        return [{ kind: 'incident.closed', subject: `incident:${id}`, payload: { ...e.data, id } }];
      }
      case 'risk.set': {
        const r = Risk.safeParse((p as { risk?: unknown }).risk);
        if (!r.success) return new Error(`risk: ${r.error.issues[0]?.message}`);
        // a hall sets levels for its own area only
        if (r.data.id !== hall && !isDescendant(r.data.id, hall)) return new Error(`risk for ${r.data.id}, outside hall ${hall}`);
        return [{ kind: 'risk.set', subject: `risk:${r.data.id}`, payload: { risk: { ...r.data, hall } } }];
      }
      case 'instruction.delivered':
      case 'instruction.read': {
        // a receipt for an instruction this hall sent (its id is "<this hall>:<order>"); a
        // grandchild's receipt to its own city is not this hall's business
        const e = z.object({ id: z.string().max(128), at: z.number().int(), by: z.string().max(64).optional() }).safeParse(p);
        if (!e.success) return new Error(`${kind}: ${e.error.issues[0]?.message}`);
        if (!e.data.id.startsWith(`${this.o.hallId}:`)) return null;
        const order = e.data.id.slice(this.o.hallId.length + 1);
        if (!this.port.get('orders', order)) return new Error(`receipt for an order this hall does not hold: ${order.slice(0, 64)}`);
        const read = kind === 'instruction.read';
        return [
          { kind: 'order.receipt', subject: `order:${order}`, payload: { order, hall, delivered: read ? null : e.data.at, read: read ? e.data.at : null, readBy: read ? (e.data.by ?? null) : null } },
        ];
      }
      case 'task.answered': {
        // a hall's step on a task: this hall's business only if it assigned the task to that hall
        // only the assignee's steps: verifying, reassigning and cancelling are the issuer's alone
        const e = z
          .object({ id: z.string().max(64), step: z.object({ state: z.enum(['accepted', 'rejected', 'underway', 'done']), assignee: z.never().optional() }).passthrough() })
          .passthrough()
          .safeParse(p);
        if (!e.success) return new Error(`${kind}: ${e.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)[0]}`);
        const t = this.port.get<Task>('tasks', e.data.id);
        if (!t || t.direction !== 'out') return null;
        if (t.assignee.kind !== 'hall' || t.assignee.id !== hall) return new Error(`${kind}: task ${t.id} is not ${hall}'s`);
        return [{ kind, subject: `task:${t.id}`, payload: p } as JournalEvent];
      }
      case 'sheet.delivered':
      case 'sheet.signed':
      case 'sheet.feedback': {
        // a recipient's progress on a sheet: this hall's business only if it issued the sheet
        const e = z
          .object({ id: z.string().max(64), hall: z.literal(hall) })
          .passthrough()
          .safeParse(p);
        if (!e.success) return new Error(`${kind}: ${e.error.issues[0]?.message}`);
        const s = this.port.get<Sheet>('sheets', e.data.id);
        if (!s || s.direction !== 'out') return null;
        if (!s.recipients[hall]) return new Error(`${kind}: sheet ${s.number} was not sent to ${hall}`);
        return [{ kind, subject: `sheet:${s.id}`, payload: p } as JournalEvent];
      }
      case 'response.declared':
      case 'response.ended': {
        // a hall below's own response: its state on the `halls` topic at once, and the journal's record
        const r = kind === 'response.declared' ? Response.safeParse((p as { response?: unknown }).response) : null;
        const e = kind === 'response.ended' ? z.object({ hazard: ResponseHazard, at: z.number().int(), by: z.string().max(64), reason: z.string().max(1000) }).safeParse(p) : null;
        if (r && !r.success) return new Error(`response: ${r.error.issues[0]?.message}`);
        if (e && !e.success) return new Error(`response.ended: ${e.error.issues[0]?.message}`);
        const reported = r?.success
          ? { hall, hazard: r.data.hazard, level: r.data.level, at: r.data.since, by: r.data.by, reason: r.data.reason }
          : { hall, hazard: e!.data!.hazard, level: null, at: e!.data!.at, by: e!.data!.by, reason: e!.data!.reason };
        const n = this.nodes.get(hall)!;
        this.put({ ...n, responseLevel: reported.level });
        return [{ kind: 'response.reported', subject: `hall:${hall}`, payload: reported }];
      }
      case 'call.logged': {
        const call = Call.safeParse((p as { call?: unknown }).call);
        if (!call.success) return new Error(`call: ${call.error.issues[0]?.message}`);
        const id = childId(hall, call.data.id);
        return [{ kind: 'call.logged', subject: `call:${id}`, payload: { call: { ...call.data, id, hall } } }];
      }
      default:
        return null;
    }
  }

  private heard(hb: Heartbeat): void {
    this.counters.heartbeats += 1;
    const n = this.nodes.get(hb.hall)!;
    // a hall below heard for the first time since this one started, or since it restarted (a new
    // hall, a reinstalled one with an empty journal): it is told the responses in force, which it
    // may never have received
    const restarted = hb.started !== undefined && this.started.get(hb.hall) !== hb.started;
    if (hb.started !== undefined) this.started.set(hb.hall, hb.started);
    if ((n.state === 'unknown' || restarted) && parentHall(hb.hall) === this.o.hallId) {
      const now = this.port.all<Response>('responses').filter((r) => r.level !== null);
      if (now.length) void this.sendResponses([hb.hall], now).catch((e: Error) => console.warn(`beacon: responses for ${hb.hall} not queued: ${e.message}`));
    }
    const now = this.port.now();
    const trouble = hb.wan === 'offline' || hb.wan === 'degraded' || (hb.outbox.oldest !== null && now - hb.outbox.oldest > 60_000);
    const state = trouble ? 'degraded' : 'online';
    const detail = `WAN ${hb.wan}, outbox ${hb.outbox.depth}${hb.outbox.oldest !== null ? `, oldest ${Math.round((now - hb.outbox.oldest) / 1000)} s` : ''}`;
    this.put({ ...n, state, since: n.state === state ? n.since : now, lastHeard: now, wan: hb.wan, outbox: hb.outbox, responseLevel: hb.responseLevel, detail });
  }

  private touch(hall: string): void {
    const n = this.nodes.get(hall)!;
    const now = this.port.now();
    if (n.state === 'silent' || n.state === 'offline' || n.state === 'unknown') this.put({ ...n, state: 'online', since: now, lastHeard: now, detail: 'reporting' });
    else this.put({ ...n, lastHeard: now });
  }

  /** Silence: a child that stopped speaking reads silent within a few seconds, keeping what it last said. */
  private sweep(): void {
    const now = this.port.now();
    for (const n of this.nodes.values()) {
      if (n.lastHeard === null) continue;
      const quiet = now - n.lastHeard;
      const state = quiet >= this.o.offlineAfterMs ? 'offline' : quiet >= this.o.silentAfterMs ? 'silent' : n.state;
      if (state !== n.state) this.put({ ...n, state, since: now, detail: `nothing heard for ${Math.round(quiet / 1000)} s; last: ${n.detail.replace(/^nothing heard.*?; last: /, '')}`.slice(0, 300) });
    }
  }

  private unsub: () => void = () => undefined;

  private async sendRisks(ops: readonly DeltaOp[]): Promise<void> {
    const byHall = new Map<string, { code: string; levels: Risk['levels'] }[]>();
    let basis = 'manual';
    for (const op of ops) {
      if (op.op !== 'put') continue;
      const r = op.value as Risk;
      if (r.hall) continue; // a child's own levels, come up: not sent back down
      basis = r.basis;
      for (const h of this.nodes.keys()) {
        if (parentHall(h) !== this.o.hallId || (h !== r.id && !isDescendant(r.id, h))) continue;
        byHall.set(h, [...(byHall.get(h) ?? []), { code: r.id, levels: r.levels }]);
      }
    }
    if (byHall.size === 0) return;
    const now = this.port.now();
    const name = hallName(this.port, this.o.hallId);
    const id = `risk-${now.toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    await this.port.recordMany(
      [...byHall].map(([to, items]) => ({
        kind: 'risk.dispatched' as const,
        subject: `risk:${to}`,
        payload: { to, key: `${this.o.hallId}:${id}`, from: name, sentAt: now, body: { basis, items } },
      })),
      'network',
    );
  }

  /** The halls one level down (the network's children; grandchildren hear through them). */
  private children(): string[] {
    return [...this.nodes.keys()].filter((h) => parentHall(h) === this.o.hallId);
  }

  private async sendResponses(to: string[], list: Response[]): Promise<void> {
    if (to.length === 0) return;
    const now = this.port.now();
    const name = hallName(this.port, this.o.hallId);
    const events = list.flatMap((r, i) =>
      to.map((t) => ({
        kind: 'response.dispatched' as const,
        subject: `response:${r.hall}`,
        payload: {
          to: t,
          key: `${this.o.hallId}:resp-${now.toString(36)}-${i}-${Math.random().toString(36).slice(2, 6)}`,
          from: name,
          sentAt: now,
          body: r.id === 'own' ? { ...r, id: r.hall } : r,
        },
      })),
    );
    await this.port.recordMany(events, 'network');
  }

  private put(n: HallNode): void {
    this.nodes.set(n.id, n);
    this.port.publish('halls', [{ op: 'put', id: n.id, value: n }]);
  }

  private refuse(reason: string, message: string): number {
    this.counters.refused[reason] = (this.counters.refused[reason] ?? 0) + 1;
    if (this.counters.refused[reason] === 1 || this.counters.refused[reason] % 100 === 0) console.warn(`beacon: refused a message from a hall below (${reason}): ${message.slice(0, 200)}`);
    return 153;
  }

  stats() {
    return { ...this.counters, halls: this.nodes.size };
  }

  dispose(): void {
    this.unsub();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

export const networkDesk = defineDesk<NetworkOptions>()({
  name: 'network',
  topics: ['orders'],
  start: (port, ctx): NetworkDesk | Desk =>
    ctx.options
      ? new NetworkDesk(port, ctx.options)
      : {
          commands: Object.fromEntries(
            (['order.send', 'advisory.forward'] as const).map((c) => [
              c,
              async () => {
                throw new HubError('unavailable', 'this hall is on no bus (--province, --hall-id): there is no hall below to send to');
              },
            ]),
          ),
        },
});
