// Journal event kinds and their payloads. The reducer turns an event into table operations; the
// same function feeds the SQLite projections (in the store's transaction) and the hub's live state,
// so the two can never disagree, and a replay of the journal rebuilds both.
import { z } from 'zod';
import { Role } from '../../../common/contract.ts';
import { complete } from '../../../common/sheets.ts';
import { isOpen, NEXT } from '../../../common/tasks.ts';
import {
  Advisory,
  Alert,
  Checklist,
  Feedback,
  Order,
  type Recipient,
  Sheet,
  SheetTemplate,
  Task,
  TaskStep,
  Plan,
  Response,
  ResponseHazard,
  ResponseLevel,
  Boundary,
  DutyShift,
  Call,
  Consultation,
  Contact,
  DroneState,
  Incident,
  FeedConfig,
  FeedState,
  Hall,
  Instruction,
  Lat,
  Lon,
  Name,
  Place,
  Risk,
  Site,
  Track,
  Typhoon,
  Unit,
  UnitStatus,
  VideoConfig,
  WallLayout,
  type Fix,
} from '../../../common/domain.ts';
import { gradeOf } from '../../../common/typhoon.ts';
import { Operator } from '../../../common/trust.ts';
import { spellOf } from '../calls/spell.ts';
import type { TableOp } from '../../../native/store/store.ts';
import type { TableName } from '../../../native/store/repositories.ts';

const Id = z.string().min(1).max(64);
const At = z.number().int().min(0);

export const EVENT_PAYLOADS = {
  'hall.configured': z.object({ hall: Hall }),
  'place.upserted': z.object({ place: Place }),
  'unit.upserted': z.object({ unit: Unit }),
  'unit.moved': z.object({ id: Id, lat: Lat, lon: Lon, alt: z.number().nullable(), at: At }),
  'unit.status': z.object({ id: Id, status: UnitStatus, at: At }),
  'contact.upserted': z.object({ contact: Contact }),
  'typhoon.upserted': z.object({ typhoon: Typhoon }),
  /** A live feed configured (settings, `--feed`, `feed.add`) or reconfigured. No secrets inside:
   *  a broker password is named by its environment variable. */
  'feed.configured': z.object({ config: FeedConfig, at: At }),
  'feed.removed': z.object({ id: Id, at: At }),
  /** A feed's connection changed state (the feed board's history). */
  'feed.changed': z.object({ id: Id, state: FeedState, from: z.string().max(32), detail: z.string().max(500), at: At }),
  /** A video source registered or changed (its config; displays see a view without URLs). */
  'video.configured': z.object({ config: VideoConfig }),
  'video.removed': z.object({ id: Id }),
  /** A display's video wall saved. */
  'wall.saved': z.object({ layout: WallLayout }),
  /** A tracked unit's position and presence as the storage policy keeps them (docs/feeds.md). */
  'unit.tracked': z.object({ id: Id, lat: Lat, lon: Lon, alt: z.number().nullable(), status: UnitStatus, at: At, track: Track, drone: DroneState.nullable() }),
  /** One agency's advisory. Creates the storm when the hall does not know it yet; CMA's analysed
   *  position extends the observed track (China's official track is CMA's). */
  'typhoon.advisory': z.object({ advisory: Advisory, name: Name.nullable(), year: z.number().int(), number: z.string().max(8) }),
  /** A county's boundary from the bureau's file (replaces any earlier one). */
  'boundary.imported': z.object({ boundary: Boundary }),
  /** An incident reported (or its report corrected): the whole entity. */
  'incident.reported': z.object({ incident: Incident }),
  /** A key target or shelter placed (or its facts updated): the whole entity. */
  'site.upserted': z.object({ site: Site }),
  'incident.closed': z.object({ id: Id, by: z.string().min(1).max(64), at: At }),
  /** An emergency alert raised by a field device, or repeated by it (the whole entity). */
  'alert.raised': z.object({ alert: Alert }),
  'alert.acknowledged': z.object({ id: Id, by: z.string().min(1).max(64), at: At }),
  /** The device cancelled its alert (CoT b-a-o-can). */
  'alert.cancelled': z.object({ id: Id, at: At }),
  /** Five-colour levels for one county, set or accepted by the duty officer (who and when inside). */
  'risk.set': z.object({ risk: Risk }),
  /** An instruction sent down (the whole order, receipts empty). */
  'order.sent': z.object({ order: Order }),
  /** One target's copy of an order: journal only; the outbox carries it to beacon/<to>/down/instruction. */
  'order.dispatched': z.object({
    order: Id,
    to: z.string().regex(/^\d{6}$/),
    key: z.string().max(128),
    from: z.string().max(200),
    text: z.string().max(4000),
    priority: z.enum(['urgent', 'normal']),
    sentAt: At,
    /** What goes down (downlink.ts kinds): an instruction (text), or a typhoon advisory (`body`, in
     *  the advisory form). Absent: an instruction. */
    down: z.enum(['instruction', 'typhoon.advisory']).optional(),
    body: z.unknown().optional(),
  }),
  /** Five-colour levels this hall set for an area below it, for the hall(s) there: journal only; the
   *  outbox carries them to beacon/<to>/down/risk.levels (the province's message form). */
  'risk.dispatched': z.object({
    to: z.string().regex(/^\d{6}$/),
    key: z.string().max(128),
    from: z.string().max(200),
    sentAt: At,
    body: z.object({ basis: z.string().max(128), items: z.array(z.object({ code: z.string(), levels: z.record(z.string(), z.string()) })).max(200) }),
  }),
  /** This hall declared, raised or lowered its response: the response, the checklist the level
   *  opens, and the one it closes (the level before's). Sent up (decisions) and down (response.dispatched). */
  'response.declared': z.object({ response: Response, checklist: Checklist.nullable(), closes: z.string().max(64).nullable() }),
  /** This hall ended its response: the level lifted, its checklist closed. */
  'response.ended': z.object({ hazard: ResponseHazard, at: At, by: z.string().min(1).max(64), reason: z.string().max(1000), closes: z.string().max(64).nullable() }),
  /** A hall above's response, as it came down (id: that hall's code). */
  'response.received': z.object({ response: Response }),
  /** A response (this hall's or one from above) passed to a hall below: journal only; the outbox
   *  carries it to beacon/<to>/down/response.level. */
  'response.dispatched': z.object({ to: z.string().regex(/^\d{6}$/), key: z.string().max(128), from: z.string().max(200), sentAt: At, body: Response }),
  /** A hall below declared or ended its response (journal only: the `halls` topic shows it live). */
  'response.reported': z.object({ hall: z.string().regex(/^\d{6}$/), hazard: ResponseHazard, level: ResponseLevel.nullable(), at: At, by: z.string().max(64), reason: z.string().max(1000) }),
  /** An item of a checklist done. */
  'checklist.checked': z.object({ id: Id, item: z.string().max(32), by: z.string().min(1).max(64), at: At, note: z.string().max(500).nullable() }),
  /** A level's checklist template saved (the hall's plan). */
  'plan.saved': z.object({ plan: Plan }),
  /** A sheet drafted or edited, issued (numbered, recipients set), or its state sent on. */
  'sheet.drafted': z.object({ sheet: Sheet }),
  'sheet.issued': z.object({ sheet: Sheet }),
  /** One target's copy of a sheet (issued, closed or cancelled): journal only; the outbox carries it
   *  to beacon/<to>/down/sheet. */
  'sheet.dispatched': z.object({ to: z.string().regex(/^\d{6}$/), key: z.string().max(128), from: z.string().max(200), sentAt: At, body: Sheet }),
  /** A sheet from above as it came down (new, or its issuer closed or cancelled it). */
  'sheet.received': z.object({ sheet: Sheet }),
  /** A recipient's progress: the same events at the recipient (its own) and, come up, at the issuer
   *  (origin hall:<code>). */
  'sheet.delivered': z.object({ id: Id, hall: z.string().regex(/^\d{6}$/), at: At }),
  'sheet.signed': z.object({ id: Id, hall: z.string().regex(/^\d{6}$/), by: z.string().min(1).max(64), at: At }),
  'sheet.feedback': z.object({ id: Id, hall: z.string().regex(/^\d{6}$/), measure: z.string().max(16), feedback: Feedback }),
  /** The issuer's: one recipient checked; the sheet closed (销号) or cancelled. */
  'sheet.verified': z.object({ id: Id, hall: z.string().regex(/^\d{6}$/), by: z.string().min(1).max(64), at: At }),
  'sheet.closed': z.object({ id: Id, by: z.string().min(1).max(64), at: At }),
  'sheet.cancelled': z.object({ id: Id, by: z.string().min(1).max(64), at: At, reason: z.string().max(1000) }),
  /** A measure template saved (the hall's own, or the demonstration's). */
  'template.saved': z.object({ template: SheetTemplate }),
  /** A task assigned here (new). */
  'task.assigned': z.object({ task: Task }),
  /** A step of a task: taken here for a team of this hall, or by the issuer (verified, cancelled,
   *  reassigned). */
  'task.stepped': z.object({ id: Id, step: TaskStep }),
  /** A step a hall below took on a task from above: at that hall (sent up), and at the issuer (origin hall:<code>). */
  'task.answered': z.object({ id: Id, step: TaskStep }),
  /** One hall's copy of a task: journal only; the outbox carries it to beacon/<to>/down/task. */
  'task.dispatched': z.object({ to: z.string().regex(/^\d{6}$/), key: z.string().max(128), from: z.string().max(200), sentAt: At, body: Task }),
  /** A task from above as it came down (new, or the issuer's step). */
  'task.received': z.object({ task: Task }),
  /** A target's receipt came back up: delivered (in its journal) or read by an operator there. */
  'order.receipt': z.object({ order: Id, hall: z.string().regex(/^\d{6}$/), delivered: At.nullable(), read: At.nullable(), readBy: z.string().max(64).nullable() }),
  /** This hall's roster of units, for the hall above (journal only; sent up at each start). */
  'unit.roster': z.object({ units: z.array(Unit).max(1000) }),
  /** Here: an instruction from above is in the journal (journal only; its receipt goes up). */
  'instruction.delivered': z.object({ id: z.string().max(128), at: At }),
  /** Here: an operator read it. */
  'instruction.read': z.object({ id: z.string().max(128), by: z.string().min(1).max(64), at: At }),
  /** Received from the province over the bus; journaled with origin 'province' and the message's key. */
  'instruction.received': z.object({ instruction: Instruction }),
  'layout.saved': z.object({ id: Id, assignments: z.record(z.string().max(128), Role) }),
  /** A link (an upstream endpoint, or the WAN as a whole) changed state. Live state, not a table:
   *  the journal keeps the transitions for after-action review and for the province. */
  'link.changed': z.object({ id: Id, state: z.enum(['unknown', 'online', 'degraded', 'offline']), from: z.string(), detail: z.string().max(500), at: At }),
  /** A call's progress (each attempt, ringing, connected): the live switchboard, journaled. */
  'call.updated': z.object({ call: Call }),
  /** A call as it ended: the call log entry, told to the province. */
  'call.logged': z.object({ call: Call }),
  'consult.updated': z.object({ consultation: Consultation }),
  /** A handover of the watch: the new duty officer and leader on duty (the whole entity). */
  'duty.handedOver': z.object({ shift: DutyShift }),
  /** An operator signed in at a display or console (journal only: who was at the desk, when). */
  'session.signedIn': z.object({ operator: Operator, console: z.string().max(64).nullable(), at: At }),
  'session.signedOut': z.object({ operator: Operator, console: z.string().max(64).nullable(), at: At }),
  /** A sign-in refused: the name tried (as typed, clipped), why, and whether the operator is now locked. */
  'session.refused': z.object({ operator: z.string().max(64), console: z.string().max(64).nullable(), reason: z.string().max(200), locked: z.boolean(), at: At }),
  /** An online map source added or changed by command: its server, never its URL's key. */
  'tiles.sourcePut': z.object({ id: Id, name: z.string().max(100), host: z.string().max(255), format: z.string().max(32), by: z.string().max(64), at: At }),
  'tiles.sourceRemoved': z.object({ id: Id, by: z.string().max(64), at: At }),
  /** A "prepare for offline" job started: what, where, how fast, by whom. */
  'tiles.prefetchStarted': z.object({ job: z.record(z.string(), z.unknown()) }),
  /** The shared storm replay moved (every display follows it). */
  'replay.set': z.object({ replay: z.record(z.string(), z.unknown()), by: z.string().max(64) }),
  /** A tracker bound to a registered unit (or unbound: null). */
  'unit.bound': z.object({ id: Id, device: z.object({ feed: Id, source: z.string().min(1).max(128) }).nullable(), at: At }),
  /** A unit a feed made, removed by an operator or expired after being lost long enough. */
  'unit.removed': z.object({ id: Id, why: z.enum(['operator', 'expired', 'bound']), at: At }),
  /** Marks the end of a seeding: the counts let a reader check the seed without replaying it. */
  'scenario.seeded': z.object({ scenario: z.string(), counts: z.record(z.string(), z.number().int()) }),
} as const;
export type EventKind = keyof typeof EVENT_PAYLOADS;
export type EventPayload<K extends EventKind> = z.infer<(typeof EVENT_PAYLOADS)[K]>;

export class ReduceError extends Error {
  readonly code: 'not_found' | 'invalid_args';
  constructor(code: 'not_found' | 'invalid_args', message: string) {
    super(message);
    this.code = code;
  }
}

export type Lookup = (table: TableName, id: string) => Record<string, unknown> | undefined;

const put = (table: TableName, value: { id: string; [k: string]: unknown }): TableOp => ({ table, op: 'put', id: value.id, value });

/** Events that carry a whole entity: which table it goes to and under which payload key. */
const UPSERTS = {
  'hall.configured': ['hall', 'hall'],
  'place.upserted': ['places', 'place'],
  'unit.upserted': ['units', 'unit'],
  'typhoon.upserted': ['typhoons', 'typhoon'],
  'instruction.received': ['instructions', 'instruction'],
  'order.sent': ['orders', 'order'],
  'response.received': ['responses', 'response'],
  'plan.saved': ['plans', 'plan'],
  'sheet.drafted': ['sheets', 'sheet'],
  'sheet.issued': ['sheets', 'sheet'],
  'task.assigned': ['tasks', 'task'],
  'template.saved': ['templates', 'template'],
  'risk.set': ['risks', 'risk'],
  'incident.reported': ['incidents', 'incident'],
  'alert.raised': ['alerts', 'alert'],
  'site.upserted': ['sites', 'site'],
  'duty.handedOver': ['duty', 'shift'],
  'boundary.imported': ['boundaries', 'boundary'],
  'call.updated': ['calls', 'call'],
  'consult.updated': ['consultations', 'consultation'],
  'video.configured': ['videos', 'config'],
  'wall.saved': ['walls', 'layout'],
} as const satisfies Partial<Record<EventKind, readonly [TableName, string]>>;

/** Event kinds the core itself builds on its hot path from values it already checked (a tracked
 *  unit's position, from a decoded and range-checked report). `reduce(…, { trusted: true })` skips
 *  their schema check; the feeds tests replay what they stored through the checked path. */
const TRUSTED_KINDS: ReadonlySet<string> = new Set<EventKind>(['unit.tracked']);

/** The table operations an event causes, given the current state. Pure. */
export function reduce(kind: string, payload: unknown, get: Lookup, opts?: { trusted?: boolean }): TableOp[] {
  if (!Object.hasOwn(EVENT_PAYLOADS, kind)) throw new ReduceError('invalid_args', `unknown event kind ${kind}`);
  let p: Record<string, unknown>;
  if (opts?.trusted && TRUSTED_KINDS.has(kind)) p = payload as Record<string, unknown>;
  else {
    const parsed = EVENT_PAYLOADS[kind as EventKind].safeParse(payload);
    if (!parsed.success) throw new ReduceError('invalid_args', `bad ${kind} payload: ${parsed.error.issues[0]?.message}`);
    p = parsed.data as Record<string, unknown>;
  }
  const upsert = UPSERTS[kind as keyof typeof UPSERTS];
  if (upsert) return [put(upsert[0], p[upsert[1]] as { id: string })];
  switch (kind as Exclude<EventKind, keyof typeof UPSERTS>) {
    case 'layout.saved':
      return [put('layouts', { id: p.id as string, assignments: p.assignments })];
    case 'unit.moved': {
      const e = p as EventPayload<'unit.moved'>;
      const unit = get('units', e.id) as Unit | undefined;
      if (!unit) throw new ReduceError('not_found', `no unit ${e.id}`);
      return [put('units', { ...unit, lat: e.lat, lon: e.lon, alt: e.alt ?? unit.alt, updated: e.at })];
    }
    case 'unit.tracked': {
      const e = p as EventPayload<'unit.tracked'>;
      const unit = get('units', e.id) as Unit | undefined;
      if (!unit) throw new ReduceError('not_found', `no unit ${e.id}`);
      return [put('units', { ...unit, lat: e.lat, lon: e.lon, alt: e.alt, status: e.status, updated: e.at, track: e.track, drone: e.drone })];
    }
    case 'feed.configured': {
      const e = p as EventPayload<'feed.configured'>;
      const prev = get('feeds', e.config.id);
      return [put('feeds', { id: e.config.id, kind: e.config.kind, config: e.config, state: prev?.state ?? 'connecting', detail: prev?.detail ?? '', since: e.at })];
    }
    case 'video.removed': {
      const e = p as EventPayload<'video.removed'>;
      return get('videos', e.id) ? [{ table: 'videos', op: 'del', id: e.id }] : [];
    }
    case 'feed.removed': {
      const e = p as EventPayload<'feed.removed'>;
      return get('feeds', e.id) ? [{ table: 'feeds', op: 'del', id: e.id }] : [];
    }
    case 'feed.changed': {
      const e = p as EventPayload<'feed.changed'>;
      const prev = get('feeds', e.id);
      return prev ? [put('feeds', { ...prev, id: e.id, state: e.state, detail: e.detail, since: e.at })] : [];
    }
    case 'unit.bound': {
      const e = p as EventPayload<'unit.bound'>;
      const unit = get('units', e.id) as Unit | undefined;
      if (!unit) throw new ReduceError('not_found', `no unit ${e.id}`);
      return [put('units', { ...unit, device: e.device })];
    }
    case 'unit.removed': {
      const e = p as EventPayload<'unit.removed'>;
      return get('units', e.id) ? [{ table: 'units', op: 'del', id: e.id }] : [];
    }
    case 'unit.status': {
      const e = p as EventPayload<'unit.status'>;
      const unit = get('units', e.id) as Unit | undefined;
      if (!unit) throw new ReduceError('not_found', `no unit ${e.id}`);
      return [put('units', { ...unit, status: e.status, updated: e.at })];
    }
    case 'response.declared': {
      const e = p as EventPayload<'response.declared'>;
      const ops = [put('responses', e.response)];
      const was = e.closes ? (get('checklists', e.closes) as Checklist | undefined) : undefined;
      if (was && was.closedAt === null) ops.push(put('checklists', { ...was, closedAt: e.response.since }));
      if (e.checklist) ops.push(put('checklists', e.checklist));
      return ops;
    }
    case 'response.ended': {
      const e = p as EventPayload<'response.ended'>;
      const r = get('responses', 'own') as Response | undefined;
      if (!r || r.level === null) throw new ReduceError('invalid_args', 'no response to end');
      const ops = [put('responses', { ...r, level: null, since: e.at, by: e.by, reason: e.reason, history: [...r.history, { level: null, at: e.at, by: e.by, reason: e.reason }].slice(-50) })];
      const was = e.closes ? (get('checklists', e.closes) as Checklist | undefined) : undefined;
      if (was && was.closedAt === null) ops.push(put('checklists', { ...was, closedAt: e.at }));
      return ops;
    }
    case 'checklist.checked': {
      const e = p as EventPayload<'checklist.checked'>;
      const c = get('checklists', e.id) as Checklist | undefined;
      if (!c) throw new ReduceError('not_found', `no checklist ${e.id}`);
      if (c.closedAt !== null) throw new ReduceError('invalid_args', `checklist ${e.id} is closed (the level changed or the response ended)`);
      const item = c.items.find((i) => i.id === e.item);
      if (!item) throw new ReduceError('not_found', `no item ${e.item} in checklist ${e.id}`);
      if (item.doneAt !== null) throw new ReduceError('invalid_args', `item ${e.item} already done by ${item.doneBy}`);
      return [put('checklists', { ...c, items: c.items.map((i) => (i.id === e.item ? { ...i, doneAt: e.at, doneBy: e.by, note: e.note } : i)) })];
    }
    case 'sheet.received': {
      // a sheet from above: new, or its state changed there; this hall's own progress is kept
      const e = p as EventPayload<'sheet.received'>;
      const was = get('sheets', e.sheet.id) as Sheet | undefined;
      if (was && was.direction === 'out') throw new ReduceError('invalid_args', `sheet ${e.sheet.id} was issued here`);
      return [put('sheets', was ? { ...e.sheet, direction: 'in', recipients: was.recipients } : { ...e.sheet, direction: 'in' })];
    }
    case 'sheet.delivered':
    case 'sheet.signed':
    case 'sheet.feedback':
    case 'sheet.verified': {
      const e = p as EventPayload<'sheet.signed'> & Partial<EventPayload<'sheet.feedback'>>;
      const s = get('sheets', e.id) as Sheet | undefined;
      if (!s) throw new ReduceError('not_found', `no sheet ${e.id}`);
      const r = s.recipients[e.hall];
      if (!r) throw new ReduceError('invalid_args', `sheet ${e.id} was not sent to ${e.hall}`);
      if (kind !== 'sheet.delivered' && s.state !== 'issued') throw new ReduceError('invalid_args', `sheet ${s.number} is ${s.state}`);
      let next: Recipient;
      if (kind === 'sheet.delivered') next = { ...r, delivered: r.delivered ?? (p as EventPayload<'sheet.delivered'>).at };
      else if (kind === 'sheet.signed') {
        if (r.signedAt !== null) throw new ReduceError('invalid_args', `already signed for by ${r.signedBy}`);
        next = { ...r, delivered: r.delivered ?? e.at, signedAt: e.at, signedBy: e.by };
      } else if (kind === 'sheet.feedback') {
        if (r.signedAt === null) throw new ReduceError('invalid_args', 'sign for the sheet first');
        if (!s.measures.some((m) => m.id === e.measure)) throw new ReduceError('not_found', `no measure ${e.measure} on sheet ${s.number}`);
        next = { ...r, feedback: { ...r.feedback, [e.measure!]: e.feedback! } };
      } else {
        if (!complete(s, e.hall)) throw new ReduceError('invalid_args', `${e.hall} has measures not done`);
        next = { ...r, verifiedAt: e.at, verifiedBy: e.by };
      }
      return [put('sheets', { ...s, recipients: { ...s.recipients, [e.hall]: next } })];
    }
    case 'sheet.closed': {
      const e = p as EventPayload<'sheet.closed'>;
      const s = get('sheets', e.id) as Sheet | undefined;
      if (!s) throw new ReduceError('not_found', `no sheet ${e.id}`);
      if (s.state !== 'issued') throw new ReduceError('invalid_args', `sheet ${s.number} is ${s.state}`);
      const open = s.targets.filter((t) => !complete(s, t));
      if (open.length) throw new ReduceError('invalid_args', `measures still open at ${open.join(', ')}`);
      return [put('sheets', { ...s, state: 'closed', closedAt: e.at, closedBy: e.by })];
    }
    case 'sheet.cancelled': {
      const e = p as EventPayload<'sheet.cancelled'>;
      const s = get('sheets', e.id) as Sheet | undefined;
      if (!s) throw new ReduceError('not_found', `no sheet ${e.id}`);
      if (s.state === 'closed' || s.state === 'cancelled') throw new ReduceError('invalid_args', `sheet ${s.number} is ${s.state}`);
      return [put('sheets', { ...s, state: 'cancelled', closedAt: e.at, closedBy: e.by, cancelled: e.reason })];
    }
    case 'task.stepped':
    case 'task.answered': {
      const e = p as EventPayload<'task.stepped'>;
      const task = get('tasks', e.id) as Task | undefined;
      if (!task) throw new ReduceError('not_found', `no task ${e.id}`);
      const to = e.step.state;
      const ok = to === 'verified' ? task.state === 'done' : to === 'cancelled' ? isOpen(task) : to === 'assigned' ? isOpen(task) || task.state === 'rejected' : NEXT[task.state].includes(to);
      if (!ok) throw new ReduceError('invalid_args', `task ${task.title}: ${task.state} cannot become ${to}`);
      if (to === 'assigned' && !e.step.assignee) throw new ReduceError('invalid_args', 'a reassignment names the new assignee');
      return [put('tasks', { ...task, state: to, ...(e.step.assignee ? { assignee: e.step.assignee } : {}), history: [...task.history, e.step].slice(-50) })];
    }
    case 'task.received': {
      // from above: the issuer's task; the steps taken here that it has not seen yet are kept
      const e = p as EventPayload<'task.received'>;
      const was = get('tasks', e.task.id) as Task | undefined;
      if (was && was.direction === 'out') throw new ReduceError('invalid_args', `task ${e.task.id} was assigned here`);
      const seen = new Set(e.task.history.map((h) => `${h.state}|${h.at}|${h.by}`));
      const mine = (was?.history ?? []).filter((h) => !seen.has(`${h.state}|${h.at}|${h.by}`));
      const history = [...e.task.history, ...mine].sort((a, b) => a.at - b.at).slice(-50);
      const newest = history[history.length - 1]!;
      return [put('tasks', { ...e.task, direction: 'in', history, state: mine.includes(newest) ? newest.state : e.task.state })];
    }
    case 'task.dispatched':
    case 'sheet.dispatched':
    case 'response.dispatched':
    case 'response.reported':
    case 'order.dispatched':
    case 'risk.dispatched':
    case 'unit.roster':
    case 'instruction.delivered':
      return [];
    case 'order.receipt': {
      const e = p as EventPayload<'order.receipt'>;
      const o = get('orders', e.order) as Order | undefined;
      if (!o) throw new ReduceError('not_found', `no order ${e.order}`);
      const was = o.receipts[e.hall];
      if (!was) throw new ReduceError('invalid_args', `order ${e.order} was not sent to ${e.hall}`);
      const next = { delivered: was.delivered ?? e.delivered ?? e.read, read: was.read ?? e.read, readBy: was.readBy ?? e.readBy };
      return [put('orders', { ...o, receipts: { ...o.receipts, [e.hall]: next } })];
    }
    case 'instruction.read': {
      const e = p as EventPayload<'instruction.read'>;
      const i = get('instructions', e.id) as Instruction | undefined;
      if (!i) throw new ReduceError('not_found', `no instruction ${e.id}`);
      if (i.readAt) throw new ReduceError('invalid_args', `instruction already read by ${i.readBy}`);
      return [put('instructions', { ...i, readAt: e.at, readBy: e.by })];
    }
    case 'alert.acknowledged': {
      const e = p as EventPayload<'alert.acknowledged'>;
      const a = get('alerts', e.id) as Alert | undefined;
      if (!a) throw new ReduceError('not_found', `no alert ${e.id}`);
      if (a.status !== 'active') throw new ReduceError('invalid_args', `alert ${e.id} is ${a.status}`);
      return [put('alerts', { ...a, status: 'acknowledged', ackBy: e.by, ackAt: e.at })];
    }
    case 'alert.cancelled': {
      const e = p as EventPayload<'alert.cancelled'>;
      const a = get('alerts', e.id) as Alert | undefined;
      if (!a) throw new ReduceError('not_found', `no alert ${e.id}`);
      return [put('alerts', { ...a, status: 'cancelled', cancelledAt: e.at })];
    }
    case 'incident.closed': {
      const e = p as EventPayload<'incident.closed'>;
      const inc = get('incidents', e.id) as Incident | undefined;
      if (!inc) throw new ReduceError('not_found', `no incident ${e.id}`);
      if (inc.status === 'closed') throw new ReduceError('invalid_args', `incident ${e.id} is already closed`);
      return [put('incidents', { ...inc, status: 'closed', closedAt: e.at, closedBy: e.by })];
    }
    case 'typhoon.advisory': {
      const e = p as EventPayload<'typhoon.advisory'>;
      const a = e.advisory;
      const ops = [put('advisories', a)];
      const storm = get('typhoons', a.storm) as Typhoon | undefined;
      const c = a.current;
      const fix: Fix | null = c.pressure !== null && c.wind !== null ? { t: c.t, lat: c.lat, lon: c.lon, pressure: c.pressure, wind: c.wind, grade: gradeOf(c.wind) } : null;
      const extend = a.agency === 'CMA' && fix !== null;
      if (!storm) {
        const name = e.name ?? { zh: `${e.number}号台风`, en: `Typhoon ${e.number}` };
        ops.push(put('typhoons', { id: a.storm, number: e.number, name, year: e.year, fixes: extend ? [fix] : [], source: `advisories (${a.agency})`, demo: a.demo } satisfies Typhoon));
      } else if (extend && (storm.fixes.length === 0 || fix.t > storm.fixes[storm.fixes.length - 1]!.t)) {
        ops.push(put('typhoons', { ...storm, fixes: [...storm.fixes, fix] }));
      }
      return ops;
    }
    case 'call.logged': {
      const e = p as EventPayload<'call.logged'>;
      const ops = [put('calls', e.call)];
      // A contact reached is worth knowing next time: "last reached 2 h ago over satellite".
      const contact = get('contacts', e.call.contact) as Contact | undefined;
      if (contact && e.call.answeredAt !== null && (contact.lastReached ?? 0) < e.call.answeredAt) ops.push(put('contacts', { ...contact, lastReached: e.call.answeredAt }));
      return ops;
    }
    case 'contact.upserted': {
      const c = (p as EventPayload<'contact.upserted'>).contact;
      return [put('contacts', { ...c, spell: spellOf(c.name.zh) })];
    }
    case 'scenario.seeded':
    case 'link.changed':
    case 'session.signedIn':
    case 'session.signedOut':
    case 'session.refused':
    case 'tiles.sourcePut':
    case 'tiles.sourceRemoved':
    case 'tiles.prefetchStarted':
    case 'replay.set':
      return [];
  }
}
