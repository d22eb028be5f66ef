// The hub contract: the only thing the renderer and the preload know of the core.
// The same messages travel over an Electron MessagePort (one per window) and over a WebSocket
// (browser displays, remote consoles), always as JSON text so both ends check one encoding.
import { z } from 'zod';
import { isPlain } from './plain.ts';
import {
  AdminCode,
  Advisory,
  Alert,
  HallNode,
  Order,
  Response,
  ResponseHazard,
  ResponseLevel,
  Plan,
  PlanItem,
  Checklist,
  Photo,
  Attachment,
  Sheet,
  SheetHazard,
  SheetTemplate,
  Task,
  MEASURE_STATUSES,
  DutyShift,
  OnDutyInput,
  Analysis,
  Boundary,
  Call,
  CallState,
  Consultation,
  Mix,
  Relay,
  ConsoleEntry,
  DialChannel,
  Switchboard,
  Contact,
  Incident,
  TileLayer,
  TileSourceConfig,
  PrefetchJob,
  Site,
  IncidentKind,
  Severity,
  Feed,
  FeedConfig,
  Hall,
  Instruction,
  VideoConfig,
  VideoSource,
  WallLayout,
  Lat,
  Link,
  Lon,
  Name,
  Place,
  Replay,
  GlobeView,
  PresenterView,
  Risk,
  RiskLevels,
  Typhoon,
  Unit,
  UnitStatus,
} from './domain.ts';
import { type Grant, COMMAND_GRANTS, Operator, Who } from './trust.ts';

export const PROTOCOL_VERSION = 1;
/** Largest frame a client may send. Commands are small; anything bigger is hostile or a bug. */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;
/** The commands that carry evidence (a photo, an attachment; issue 21) may send up to this much. */
export const MAX_EVIDENCE_FRAME_BYTES = 3 * 1024 * 1024;
export const EVIDENCE_COMMANDS: ReadonlySet<string> = new Set(['sheet.draft', 'sheet.feedback', 'task.update']);

/** Topics and the schema of the entities each one holds (keyed by `id`). */
export const TOPIC_SCHEMAS = {
  hall: Hall,
  places: Place,
  units: Unit,
  contacts: Contact,
  typhoons: Typhoon,
  feeds: Feed,
  link: Link,
  instructions: Instruction,
  /** Every agency's typhoon advisories (the newest per storm and agency is current). */
  advisories: Advisory,
  /** The five-colour map: levels per county as set or accepted. */
  risks: Risk,
  /** Threat analysis per storm being followed (live, computed by the core). */
  analysis: Analysis,
  /** The storm replay every display follows (one entity, id 'replay'). */
  replay: Replay,
  /** The presenter's globe view in a consultation, followed by the displays that follow it (live). */
  views: PresenterView,
  /** Incidents reported in this hall, open and closed. */
  incidents: Incident,
  /** Emergency alerts from field devices (TAK 911 and the like), open and closed. */
  alerts: Alert,
  /** The halls below this one in the command network, their state and last heartbeat (live). */
  halls: HallNode,
  /** Instructions this hall sent down, each target's receipts (delivered, read). */
  orders: Order,
  /** This hall's emergency response (`own`), the levels of the halls above (their codes), and the
   *  forecast's proposal (`proposal`, live). docs/command.md. */
  responses: Response,
  /** The plan's checklist per level (templates, editable by the hall). */
  plans: Plan,
  /** The checklists declared levels opened, with each item's deadline and who did it. */
  checklists: Checklist,
  /** Risk-prompt sheets issued here (with every recipient's progress) and received from above. */
  sheets: Sheet,
  /** The measures a sheet drafted from the analysis proposes, per hazard and level (editable). */
  templates: SheetTemplate,
  /** Tasks (派单) assigned here and from above, each with its history. */
  tasks: Task,
  /** Key targets (hazardous-chemical sites, reservoirs) and shelters. */
  sites: Site,
  /** County boundaries imported from the bureau's file (the five-colour map's polygons). */
  boundaries: Boundary,
  /** Online map sources the hall caches (live; from DATA/tiles/sources.json). */
  tiles: TileLayer,
  /** "Prepare for offline" jobs and their progress (live only). */
  prefetch: PrefetchJob,
  /** Who holds the hall's watch now: one item, replaced at each handover. */
  duty: DutyShift,
  /** Calls under way and today's ended calls (the whole log: `calls.search`). */
  calls: Call,
  consultations: Consultation,
  /** Each consultation's mix in the conference bridge: who is in, speaking, muted (live). */
  mixes: Mix,
  /** Calls' video relayed to wall tiles: each tile's offer and the panel's answer (live). */
  relays: Relay,
  /** Globe displays that can follow or present in a consultation, and which the panel chose (live). */
  consoles: ConsoleEntry,
  /** What one key can use now: SIP registration, satellite terminal, WAN, order (id 'switchboard'). */
  switchboard: Switchboard,
  /** Registered video sources (playback through the core, /video/<id>/…). */
  videos: VideoSource,
  /** Each display's video-wall layout, keyed by display. */
  walls: WallLayout,
  /** Who may sign in at a display: name and role from DATA/operators.json (never a PIN or its hash). */
  operators: Operator,
} as const;
export type TopicName = keyof typeof TOPIC_SCHEMAS;
export const TOPICS = Object.keys(TOPIC_SCHEMAS) as TopicName[];
export const TopicName = z.enum(TOPICS as [TopicName, ...TopicName[]]);
export type TopicEntity<T extends TopicName> = z.infer<(typeof TOPIC_SCHEMAS)[T]>;

export const ROLES = ['globe', 'wall', 'calls', 'board'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

// ---- commands: name -> args schema, result schema -------------------------------------------

const Empty = z.object({}).strict();
const EventRecord = z.object({
  id: z.number().int(),
  ts: z.number().int(),
  kind: z.string(),
  subject: z.string(),
  payload: z.unknown(),
  origin: z.string(),
});
export type EventRecord = z.infer<typeof EventRecord>;

export const COMMANDS = {
  /** Round trip and server clock, for the status bar's clock skew and for tests. */
  'hall.ping': { args: Empty, result: z.object({ now: z.number().int() }) },
  /** Sign an operator in at this display with the PIN. The answer holds a ticket the display presents
   *  in its next hello (a reconnect keeps the operator signed in); the ticket dies at sign-out. */
  'session.signIn': {
    args: z.object({ operator: z.string().min(1).max(64), pin: z.string().min(1).max(128) }).strict(),
    result: z.object({ who: Who, ticket: z.string() }),
  },
  'session.signOut': { args: Empty, result: z.object({ who: Who }) },
  'unit.move': {
    args: z.object({ id: z.string().min(1).max(64), lat: Lat, lon: Lon, alt: z.number().min(-500).max(20000).nullable().optional() }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  'unit.setStatus': {
    args: z.object({ id: z.string().min(1).max(64), status: UnitStatus }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Bind a tracker (a feed's sender: CoT uid, MAVLink system id, device id) to a registered unit, so
   *  its reports move that unit; `source: null` unbinds. Nothing binds by a matching name alone. */
  'unit.bind': {
    args: z.object({ id: z.string().min(1).max(64), feed: z.string().min(1).max(64), source: z.string().min(1).max(128).nullable() }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Remove a unit a feed made (a junk sender, a tracker retired); registered units are not removed. */
  'unit.remove': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Role per display key; the Electron shell saves it when the operator moves a role. */
  'layout.save': {
    // a hall has a few displays: 32 is room to spare, and keeps each saved layout small
    args: z.object({ assignments: z.record(z.string().max(128), Role).refine((a) => Object.keys(a).length <= 32, 'at most 32 displays') }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** The journal in order, for after-action review and for the province's replay. */
  'journal.read': {
    args: z.object({ after: z.number().int().min(0), limit: z.number().int().min(1).max(1000) }).strict(),
    result: z.object({ events: z.array(EventRecord), last: z.number().int() }),
  },
  /** Import a CMA best-track file (CH<year>BST.txt), or a chunk of whole storms of one: every storm
   *  with its valid fixes, every bad line reported by number. Re-importing changes nothing. */
  'typhoon.import': {
    args: z.object({ text: z.string().min(1).max(60_000), firstLine: z.number().int().min(1).optional(), file: z.string().max(200).optional() }).strict(),
    result: z.object({
      storms: z.array(z.object({ id: z.string(), name: Name, fixes: z.number().int(), changed: z.boolean() })),
      errors: z.array(z.object({ line: z.number().int(), message: z.string() })),
      lines: z.number().int(),
    }),
  },
  /** One advisory in the hall's form (docs/typhoon-advisory.md); `event` 0 when already held. */
  'typhoon.advisory': {
    args: z.object({ advisory: z.unknown() }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Present this display's globe view to the consultation (the pointer too): every display that
   *  follows the presenter turns to it. Sent as the view changes (a few times a second at most). */
  'view.present': {
    args: GlobeView.extend({
      pointer: z.object({ lon: Lon, lat: Lat }).nullable().optional(),
      marks: z
        .array(z.object({ lon: Lon, lat: Lat }))
        .max(64)
        .optional(),
    }).strict(),
    /** `session`: this display's, as the presenter entity names it (so it knows when another took over). */
    result: z.object({ at: z.number().int(), session: z.string() }),
  },
  /** A globe display says it is there (every 10 s): the call panel lists it to present. */
  'console.here': {
    args: z.object({ client: z.string().max(64).optional() }).strict(),
    result: z.object({ session: z.string() }),
  },
  /** The call panel chooses the display that presents (null: none chosen); it starts presenting. */
  'view.assign': {
    args: z.object({ session: z.string().min(1).max(64).nullable() }).strict(),
    result: z.object({ assigned: z.string().nullable() }),
  },
  /** Stop presenting (the presenter's own session, or anyone who may operate: a display left presenting). */
  'view.stop': {
    args: z.object({}).strict(),
    result: z.object({ stopped: z.boolean() }),
  },
  /** Move the shared replay: pick a storm, seek, play, pause, change speed. */
  'replay.set': {
    args: z.object({ storm: z.string().max(64).nullable().optional(), t: z.number().int().optional(), playing: z.boolean().optional(), speed: z.number().min(1).max(1_000_000).optional() }).strict(),
    result: Replay,
  },
  /** Set or accept five-colour levels for counties, journaled with who and on what basis. */
  'risk.set': {
    args: z
      .object({
        basis: z.string().min(1).max(128),
        items: z
          .array(z.object({ code: AdminCode, levels: RiskLevels }).strict())
          .min(1)
          .max(200),
      })
      .strict(),
    result: z.object({ events: z.number().int() }),
  },
  /** Report an incident; told to the province at once. `by` is the duty officer. */
  'incident.report': {
    args: z.object({ kind: IncidentKind, title: z.string().trim().min(1).max(200), severity: Severity, lat: Lat, lon: Lon, county: AdminCode.nullable().optional() }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  'incident.close': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Send an instruction down the network: to one hall below, to a city and its counties, or to all
   *  below. One message per hall through the outbox; receipts come back on the `orders` topic. */
  'order.send': {
    args: z
      .object({
        text: z.string().trim().min(1).max(4000),
        priority: z.enum(['urgent', 'normal']),
        to: z.union([z.object({ hall: AdminCode }).strict(), z.object({ city: AdminCode }).strict(), z.object({ all: z.literal(true) }).strict()]),
      })
      .strict(),
    result: z.object({ id: z.string(), to: z.array(z.string()) }),
  },
  /** Pass a typhoon advisory this hall holds down the network, to the same targets as an
   *  instruction; each target's receipts come back on the `orders` topic as an instruction's do. */
  'advisory.forward': {
    args: z
      .object({
        id: z.string().min(1).max(128),
        to: z.union([z.object({ hall: AdminCode }).strict(), z.object({ city: AdminCode }).strict(), z.object({ all: z.literal(true) }).strict()]),
      })
      .strict(),
    result: z.object({ id: z.string(), to: z.array(z.string()) }),
  },
  /** Declare, raise or lower this hall's emergency response (应急响应): journaled, sent down to the
   *  halls below, told up on the heartbeat; opens the level's checklist (docs/command.md). */
  'response.declare': {
    args: z.object({ hazard: ResponseHazard, level: ResponseLevel, reason: z.string().trim().min(1).max(1000), basis: z.string().max(128).optional() }).strict(),
    result: z.object({ level: ResponseLevel, checklist: z.string(), event: z.number().int() }),
  },
  /** End this hall's response: the level is lifted and its checklist closed. */
  'response.end': {
    args: z.object({ hazard: ResponseHazard, reason: z.string().trim().min(1).max(1000) }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** Mark a checklist item done (who and when are the session's operator and the hall's clock). */
  'checklist.check': {
    args: z.object({ checklist: z.string().min(1).max(64), item: z.string().min(1).max(32), note: z.string().max(500).optional() }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** Replace a level's checklist template (the hall's own plan). */
  'plan.put': {
    args: z.object({ level: ResponseLevel, items: z.array(PlanItem).min(1).max(100), source: z.string().max(300).optional() }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Create or edit a draft risk-prompt sheet (nothing is sent: a leader issues it). */
  'sheet.draft': {
    args: z
      .object({
        id: z.string().max(32).optional(),
        hazard: SheetHazard,
        title: z.string().trim().min(1).max(200),
        judgement: z.string().trim().min(1).max(4000),
        basis: z
          .object({ storm: z.string().max(64), agency: z.string().max(16), horizon: z.string().max(16) })
          .strict()
          .nullable()
          .optional(),
        targets: z.array(AdminCode).min(1).max(120),
        points: z
          .array(z.object({ lat: Lat, lon: Lon, label: z.string().max(100) }).strict())
          .max(50)
          .optional(),
        measures: z
          .array(z.object({ text: z.string().trim().min(1).max(500), owner: z.string().trim().min(1).max(64), deadline: z.number().int() }).strict())
          .min(1)
          .max(30),
        feedbackDue: z.number().int(),
        attachments: z.array(Attachment.strict()).max(5).optional(),
      })
      .strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Draft one sheet per county the typhoon analysis puts at orange or worse within 24 h, measures
   *  from the template for its level. */
  'sheet.draftFromAnalysis': {
    args: z.object({ storm: z.string().max(64).optional() }).strict(),
    result: z.object({ ids: z.array(z.string()) }),
  },
  /** Replace the hall's measure template for a hazard at a level (orange, red). */
  'template.put': {
    args: SheetTemplate.pick({ hazard: true, level: true, measures: true, feedbackHours: true })
      .extend({ source: z.string().max(300).optional() })
      .strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Issue a draft: numbered, and sent to each target through the outbox. */
  'sheet.issue': {
    args: z.object({ id: z.string().max(32) }).strict(),
    result: z.object({ id: z.string(), number: z.string(), to: z.array(z.string()) }),
  },
  /** Withdraw an issued sheet (the recipients are told). */
  'sheet.cancel': {
    args: z.object({ id: z.string().max(32), reason: z.string().trim().min(1).max(1000) }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** The issuer checked one recipient's feedback. */
  'sheet.verify': {
    args: z.object({ id: z.string().max(32), hall: AdminCode }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** 销号: close the sheet once every recipient is complete (the recipients are told). */
  'sheet.close': {
    args: z.object({ id: z.string().max(32) }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** 签收: a recipient signs for a sheet from above. */
  'sheet.sign': {
    args: z.object({ id: z.string().max(32) }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** A recipient's feedback on one measure: done, not applicable, or blocked, with evidence. */
  'sheet.feedback': {
    args: z
      .object({
        id: z.string().max(32),
        measure: z.string().max(16),
        status: z.enum(MEASURE_STATUSES),
        text: z.string().max(1000),
        photo: Photo.optional(),
        lat: Lat.optional(),
        lon: Lon.optional(),
      })
      .strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** 派单: one order to a team or depot of this hall, or to a hall below, with a deadline. */
  'task.assign': {
    args: z
      .object({
        assignee: z.object({ kind: z.enum(['unit', 'hall']), id: z.string().min(1).max(64) }).strict(),
        title: z.string().trim().min(1).max(200),
        detail: z.string().max(2000).optional(),
        location: z
          .object({ lat: Lat, lon: Lon, label: z.string().max(100) })
          .strict()
          .optional(),
        deadline: z.number().int(),
        sheet: z.string().max(32).optional(),
        checklist: z.string().max(100).optional(),
      })
      .strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** The assignee's step: accepted, rejected (with a reason), under way, done (with evidence). For a
   *  team of this hall the duty officer records what the team said; at a hall below, its own. */
  'task.update': {
    args: z
      .object({
        id: z.string().max(32),
        state: z.enum(['accepted', 'rejected', 'underway', 'done']),
        note: z.string().max(1000).optional(),
        photo: Photo.optional(),
        lat: Lat.optional(),
        lon: Lon.optional(),
      })
      .strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** The issuer: the work is checked (after done). */
  'task.verify': {
    args: z.object({ id: z.string().max(32), note: z.string().max(1000).optional() }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** The issuer: to another team or hall (after a rejection, or while open). */
  'task.reassign': {
    args: z.object({ id: z.string().max(32), assignee: z.object({ kind: z.enum(['unit', 'hall']), id: z.string().min(1).max(64) }).strict(), note: z.string().max(1000).optional() }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** The issuer: withdrawn, with a reason. */
  'task.cancel': {
    args: z.object({ id: z.string().max(32), reason: z.string().trim().min(1).max(1000) }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** Mark an instruction from above read here (its receipt goes back up). */
  'instruction.read': {
    args: z.object({ id: z.string().min(1).max(128) }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Acknowledge an emergency alert: the operator has seen it and the hall is acting (journaled). */
  'alert.ack': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** Add or replace an online map source (settings). The URL and key stay in the core. */
  'tiles.source.put': {
    args: z.object({ source: TileSourceConfig }).strict(),
    result: z.object({ id: z.string(), replaced: z.boolean() }),
  },
  'tiles.source.remove': {
    args: z.object({ id: z.string().min(1).max(32) }).strict(),
    result: z.object({ id: z.string() }),
  },
  /** Prepare an area for offline use: a place (its boundary, or its seat with a margin) or a box. */
  'tiles.prefetch': {
    args: z
      .object({
        source: z.string().min(1).max(32),
        place: AdminCode.optional(),
        bbox: z.object({ west: Lon, south: Lat, east: Lon, north: Lat }).strict().optional(),
        minZoom: z.number().int().min(0).max(22),
        maxZoom: z.number().int().min(0).max(22),
        rate: z.number().min(0.1).max(500).optional(),
      })
      .strict()
      .refine((a) => (a.place === undefined) !== (a.bbox === undefined), 'give a place or a bbox, not both'),
    result: z.object({ id: z.string(), total: z.number().int() }),
  },
  'tiles.prefetch.control': {
    args: z.object({ id: z.string().min(1).max(32), action: z.enum(['pause', 'resume', 'cancel']) }).strict(),
    result: z.object({ id: z.string(), state: z.string() }),
  },
  /** A handover of the watch (交接班): the new duty officer and leader on duty, stamped by the hall's clock. */
  'duty.handover': {
    args: z.object({ officer: OnDutyInput, leader: OnDutyInput, note: DutyShift.shape.note.optional() }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  /** One county's boundary, already checked and converted (the CLI and the import UI send them one by one). */
  'boundary.put': {
    args: z.object({ boundary: Boundary }).strict(),
    result: z.object({ id: z.string(), event: z.number().int() }),
  },
  /** One key: connect to a contact by the best channel the links allow. Returns at once; the call's
   *  progress is on the `calls` topic. */
  'call.dial': {
    args: z
      .object({
        contact: z.string().min(1).max(64),
        about: z
          .string()
          .regex(/^sheet:\d{6}-[0-9a-z]{4,12}$/)
          .optional(),
        /** The calling display's session description (its WebRTC offer: the officer's headset
         *  carries the call, issue 22); without it the platform bridges the hall's own terminal. */
        sdp: z
          .string()
          .min(10)
          .max(16_000)
          .regex(/^v=0\r?\n/)
          .optional(),
      })
      .strict(),
    result: z.object({ id: z.string() }),
  },
  /** The far end's session description for a call a display dialled with its own (null until it
   *  answers). Only the media's addresses and keys' fingerprints: nothing secret. */
  'call.media': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ answer: z.string().nullable() }),
  },
  /** Hold or resume a headset call with a SIP re-INVITE (the display's new offer: a=sendonly to hold,
   *  sendrecv to resume); the far end's answer comes back. */
  'call.hold': {
    args: z.object({ id: z.string().min(1).max(64), held: z.boolean(), sdp: z.string().min(10).max(20_000) }).strict(),
    result: z.object({ answer: z.string() }),
  },
  /** Cancel before an answer, hang up after. */
  'call.end': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ id: z.string() }),
  },
  /** A consultation (会商): each participant dialled at once by its own best channel. */
  'consult.start': {
    args: z.object({ contacts: z.array(z.string().min(1).max(64)).min(2).max(32), title: z.string().trim().min(1).max(200) }).strict(),
    result: z.object({ id: z.string() }),
  },
  'consult.redial': {
    args: z.object({ id: z.string().min(1).max(64), contact: z.string().min(1).max(64) }).strict(),
    result: z.object({ call: z.string() }),
  },
  'consult.end': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ id: z.string() }),
  },
  /** Mute or unmute one member in the bridge (a participant by contact id, or `headset:<session>`). */
  'consult.mute': {
    args: z.object({ id: z.string().min(1).max(64), member: z.string().min(1).max(80), muted: z.boolean() }).strict(),
    result: z.object({ muted: z.boolean() }),
  },
  /** This display's headset joins the consultation's mix: its WebRTC offer in, the bridge's answer out. */
  'consult.join': {
    args: z.object({ id: z.string().min(1).max(64), sdp: z.string().min(10).max(20_000) }).strict(),
    result: z.object({ answer: z.string(), member: z.string() }),
  },
  /** A wall tile asks for a call's video (the call must be on a saved wall layout, as \`call:<id>\`). */
  'relay.offer': {
    args: z.object({ call: z.string().min(1).max(64), sdp: z.string().min(10).max(20_000) }).strict(),
    result: z.object({ id: z.string() }),
  },
  /** The call panel whose headset carries the call answers a tile's offer. */
  'relay.answer': {
    args: z.object({ id: z.string().min(1).max(64), sdp: z.string().min(10).max(20_000) }).strict(),
    result: z.object({ id: z.string() }),
  },
  /** The tile is gone, or the panel cannot serve it (`detail`). */
  'relay.close': {
    args: z.object({ id: z.string().min(1).max(64), detail: z.string().max(300).optional() }).strict(),
    result: z.object({ closed: z.boolean() }),
  },
  /** Watch a participant's camera through the bridge: the bridge's WebRTC offer comes back; the display
   *  answers with \`consult.watched\`. */
  'consult.watch': {
    args: z.object({ id: z.string().min(1).max(64), member: z.string().min(1).max(80) }).strict(),
    result: z.object({ watch: z.string(), offer: z.string() }),
  },
  'consult.watched': {
    args: z.object({ watch: z.string().min(1).max(32), sdp: z.string().min(10).max(20_000) }).strict(),
    result: z.object({ watch: z.string() }),
  },
  /** This display sends the consultation's picture to the video terminals: its WebRTC offer (video only)
   *  in, the bridge's answer out. One picture a consultation: a second display's replaces the first's. */
  'consult.picture': {
    args: z.object({ id: z.string().min(1).max(64), sdp: z.string().min(10).max(20_000) }).strict(),
    result: z.object({ answer: z.string() }),
  },
  'consult.unpicture': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ stopped: z.boolean() }),
  },
  /** The display stops watching (its tile cleared or closed). */
  'consult.unwatch': {
    args: z.object({ watch: z.string().min(1).max(32) }).strict(),
    result: z.object({ stopped: z.boolean() }),
  },
  /** This display's headset leaves the mix. */
  'consult.leave': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ left: z.boolean() }),
  },
  /** The call log, newest first; page with `before` (the last id of the previous page). */
  'calls.search': {
    args: z
      .object({
        text: z.string().max(100).optional(),
        from: z.number().int().optional(),
        to: z.number().int().optional(),
        channel: DialChannel.optional(),
        state: CallState.optional(),
        before: z.string().max(64).optional(),
        limit: z.number().int().min(1).max(1000),
      })
      .strict(),
    result: z.object({ calls: z.array(Call) }),
  },
  /** Import directory rows from CSV text (docs/calls.md for the columns). Every row is checked;
   *  with any error nothing is written (`dryRun` only checks). Large files go in chunks of lines,
   *  each with the header line. */
  'contacts.import': {
    args: z.object({ csv: z.string().min(1).max(60_000), firstLine: z.number().int().min(1).optional(), dryRun: z.boolean().optional() }).strict(),
    result: z.object({
      rows: z.number().int(),
      added: z.number().int(),
      updated: z.number().int(),
      unchanged: z.number().int(),
      errors: z.array(z.object({ line: z.number().int(), message: z.string() })),
    }),
  },
  /** Add a live feed (docs/feeds.md), or reconfigure one with `replace`. Journaled; opens at once. */
  'feed.add': {
    args: z.object({ config: FeedConfig, replace: z.boolean().optional() }).strict(),
    result: z.object({ id: z.string() }),
  },
  /** Register (or replace) a video source; its endpoints stay in the core. */
  'video.put': {
    args: z.object({ config: VideoConfig }).strict(),
    result: z.object({ id: z.string() }),
  },
  'video.remove': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ id: z.string() }),
  },
  /** Save one display's wall: grid and sources per tile. */
  'wall.save': {
    args: z.object({ display: z.string().min(1).max(128), grid: WallLayout.shape.grid, tiles: z.array(z.string().max(64).nullable()).max(16) }).strict(),
    result: z.object({ event: z.number().int() }),
  },
  'feed.remove': {
    args: z.object({ id: z.string().min(1).max(64) }).strict(),
    result: z.object({ id: z.string() }),
  },
} as const;
export type CommandName = keyof typeof COMMANDS;
/** Every command has a grant in common/trust.ts, and every grant there a command here. */
export const COMMAND_GRANT: Readonly<Record<CommandName, Grant>> = COMMAND_GRANTS satisfies Record<CommandName, Grant> & { [K in Exclude<keyof typeof COMMAND_GRANTS, CommandName>]: never };
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];
export type CommandArgs<C extends CommandName> = z.infer<(typeof COMMANDS)[C]['args']>;
export type CommandResult<C extends CommandName> = z.infer<(typeof COMMANDS)[C]['result']>;

export const ERROR_CODES = [
  'bad_frame', // not JSON, not an object
  'bad_message', // JSON but not a valid message
  'unknown_topic',
  'unknown_command',
  'invalid_args',
  'not_found',
  'too_large',
  'forbidden', // the session's operator (or none) may not do this; sign in with a role that may
  'signin_failed', // unknown operator or wrong PIN (not told apart), or locked after repeated failures
  'rate_limited', // too many commands in too short a time; nothing was done
  'conflict', // already so (a second subscription to one topic)
  'unavailable', // the store refused the write (disk full, closed); nothing was changed
  'internal',
] as const;
export const ErrorCode = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCode>;
export const HubErrorBody = z.object({ code: ErrorCode, message: z.string().max(2000) });
export type HubErrorBody = z.infer<typeof HubErrorBody>;

// ---- messages ---------------------------------------------------------------------------------

const Id = z.string().min(1).max(64);
const Seq = z.number().int().min(0);

/** A region a subscription asks for (issue 23): boxes `[west, south, east, north]` in degrees, and/or
 *  admin codes (a county by its boundary where the hall has it, else by the hall a unit belongs to). */
export const Area = z
  .object({
    bbox: z
      .array(z.tuple([Lon, Lat, Lon, Lat]))
      .max(16)
      .optional(),
    codes: z.array(AdminCode).max(200).optional(),
  })
  .strict()
  .refine((a) => (a.bbox?.length ?? 0) + (a.codes?.length ?? 0) > 0, 'an area needs a box or a code');
export type Area = z.infer<typeof Area>;
/** Topics a subscription may narrow to an area and thin to a rate: the ones that move. */
export const AREA_TOPICS: ReadonlySet<string> = new Set(['units']);
/** Topics whose entities are a live state (the latest value is all that matters): a client that
 *  falls behind receives each entity's latest instead of every change. Every other topic carries
 *  decisions (incidents, sheets, levels, calls, instructions…): never coalesced, never held back. */
export const LIVE_TOPICS: ReadonlySet<string> = new Set(['units', 'feeds', 'halls', 'link', 'analysis', 'prefetch', 'replay', 'switchboard', 'tiles', 'views', 'mixes', 'relays', 'consoles']);

export const ClientMessage = z.discriminatedUnion('t', [
  /** `ticket`: from an earlier session.signIn at this display, to stay signed in across a reconnect.
   *  `flow`: the client acknowledges what it received (`ack`), so the hall sends no more than the
   *  link carries. `pos`: it reads units' moves as binary frames (common/positions.ts). */
  z
    .object({
      t: z.literal('hello'),
      v: z.number().int(),
      client: z.string().max(128),
      ticket: z.string().max(128).optional(),
      flow: z.literal(true).optional(),
      pos: z.literal(1).optional(),
    })
    .strict(),
  /** `since` (with the epoch it belongs to) asks for the deltas after it instead of a snapshot.
   *  `area` and `every` (ms between two updates of one entity) narrow and thin a moving topic. */
  z
    .object({
      t: z.literal('sub'),
      topic: TopicName,
      since: z.object({ epoch: Id, seq: Seq }).strict().optional(),
      area: Area.optional(),
      every: z.number().int().min(250).max(600_000).optional(),
    })
    .strict(),
  z.object({ t: z.literal('unsub'), topic: TopicName }).strict(),
  z.object({ t: z.literal('cmd'), id: Id, name: z.string().max(64), args: z.unknown() }).strict(),
  /** With `flow`: how much of what the hall sent has arrived (characters of text frames plus bytes
   *  of binary frames, counted since the connection opened). */
  z.object({ t: z.literal('ack'), n: z.number().int().min(0) }).strict(),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const DeltaOp = z.discriminatedUnion('op', [z.object({ op: z.literal('put'), id: Id, value: z.unknown() }), z.object({ op: z.literal('del'), id: Id })]);
export type DeltaOp = z.infer<typeof DeltaOp>;
/** On the wire a put of an entity the client already holds may travel as a patch: only the fields
 *  that changed, as `key` or `key.sub` (one level into a plain object). Clients turn it back into a
 *  put of the whole entity (common/ops.ts), so views only ever see put and del. */
export const WireOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('put'), id: Id, value: z.unknown() }),
  z.object({ op: z.literal('del'), id: Id }),
  z.object({ op: z.literal('patch'), id: Id, set: z.record(z.string().max(129), z.unknown()) }),
]);
export type WireOp = z.infer<typeof WireOp>;

export const ServerMessage = z.discriminatedUnion('t', [
  /** `who`: the session as the hall sees it (signed-in operator, console, grants). */
  z.object({ t: z.literal('welcome'), v: z.number().int(), epoch: Id, server: z.string(), topics: z.array(TopicName), commands: z.array(z.string()), who: Who }),
  /** The whole topic at `seq`. Deltas that follow carry seq+1, seq+2, … with no gap. `partial`: the
   *  subscription's area, not the whole topic (never resumed). `ix`: each item's index (moves). */
  z.object({ t: z.literal('snapshot'), topic: TopicName, epoch: Id, seq: Seq, items: z.array(z.unknown()), partial: z.literal(true).optional(), ix: z.array(Seq).optional() }),
  /** `from`: a delta made for this client alone (it fell behind, or asked for an area or a rate)
   *  follows the client's `from` rather than seq−1. `partial`: after it the client does not hold the
   *  topic at `seq` (more is still to come, or an area): it must not resume from it. `at`: the hall's
   *  clock when it was made; `old`: the hall's time of the oldest change this client still lacks.
   *  `ix`: the index of each entity put for the first time. */
  z.object({
    t: z.literal('delta'),
    topic: TopicName,
    epoch: Id,
    seq: Seq,
    ops: z.array(WireOp),
    from: Seq.optional(),
    partial: z.literal(true).optional(),
    at: Seq.optional(),
    old: Seq.optional(),
    ix: z.array(z.tuple([Id, Seq])).optional(),
  }),
  /** Answer to `sub` with `since` when the client is already current. */
  z.object({ t: z.literal('current'), topic: TopicName, epoch: Id, seq: Seq }),
  /** Once a second to a client with `flow`: the hall's clock, and the hall's time of the oldest
   *  change it still lacks (absent: it lacks none), so a display knows how old its picture is even
   *  when nothing arrives. */
  z.object({ t: z.literal('tick'), at: Seq, old: Seq.optional() }),
  z.discriminatedUnion('ok', [
    z.object({ t: z.literal('result'), id: Id, ok: z.literal(true), value: z.unknown() }),
    z.object({ t: z.literal('result'), id: Id, ok: z.literal(false), error: HubErrorBody }),
  ]),
  /** A protocol error not tied to a command (bad frame, unknown topic). */
  z.object({ t: z.literal('error'), error: HubErrorBody }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** A frame's text as a JSON object, or why it is not one. */
function readObject(text: string, maxBytes: number): { ok: true; raw: Record<string, unknown> } | { ok: false; error: HubErrorBody } {
  // String length in UTF-16 units bounds the UTF-8 size from below; the transports enforce bytes.
  if (text.length > maxBytes) return { ok: false, error: { code: 'too_large', message: `frame of ${text.length} characters exceeds ${maxBytes}` } };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: { code: 'bad_frame', message: 'frame is not JSON' } };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: { code: 'bad_frame', message: 'frame is not a JSON object' } };
  return { ok: true, raw: raw as Record<string, unknown> };
}

/** Parse a frame from text, never throwing: the caller counts and answers the failure. */
export function parseFrame<T>(schema: z.ZodType<T>, text: string, maxBytes: number): { ok: true; msg: T } | { ok: false; error: HubErrorBody } {
  const o = readObject(text, maxBytes);
  if (!o.ok) return o;
  const r = schema.safeParse(o.raw);
  if (!r.success) return { ok: false, error: { code: 'bad_message', message: describeIssues(r.error) } };
  return { ok: true, msg: r.data };
}

const TOPIC_SET: ReadonlySet<string> = new Set(TOPICS);
const idProblem = (v: unknown): string | null => (typeof v !== 'string' ? 'expected a string' : v.length < 1 || v.length > 64 ? 'must be 1 to 64 characters' : null);

/**
 * The delta frame checked by hand: the same rules as `ServerMessage`'s delta branch (a test holds
 * the two to agreement on valid and broken frames), without zod copying 20,000 ops into new objects.
 * A display at province scale receives 20,000 moves a second; this is most of what that costs.
 * Returns null when the frame is a valid delta, else what is wrong with it.
 */
export function deltaProblem(raw: Record<string, unknown>): string | null {
  if (typeof raw.topic !== 'string' || !TOPIC_SET.has(raw.topic)) return 'topic: not a topic';
  const e = idProblem(raw.epoch);
  if (e) return `epoch: ${e}`;
  if (typeof raw.seq !== 'number' || !Number.isSafeInteger(raw.seq) || raw.seq < 0) return 'seq: expected a whole number from 0';
  for (const k of ['from', 'at', 'old'] as const) {
    const v = raw[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) return `${k}: expected a whole number from 0`;
  }
  if (raw.partial !== undefined && raw.partial !== true) return 'partial: expected true';
  if (raw.ix !== undefined) {
    if (!Array.isArray(raw.ix)) return 'ix: expected an array';
    for (let i = 0; i < raw.ix.length; i++) {
      const p: unknown = raw.ix[i];
      if (!Array.isArray(p) || p.length !== 2 || idProblem(p[0]) || typeof p[1] !== 'number' || !Number.isSafeInteger(p[1]) || p[1] < 0) return `ix.${i}: expected [id, index]`;
    }
  }
  const ops = raw.ops;
  if (!Array.isArray(ops)) return 'ops: expected an array';
  for (let i = 0; i < ops.length; i++) {
    const op: unknown = ops[i];
    if (!isPlain(op)) return `ops.${i}: expected an object`;
    const id = idProblem(op.id);
    if (op.op !== 'put' && op.op !== 'del' && op.op !== 'patch') return `ops.${i}.op: expected put, del or patch`;
    if (id) return `ops.${i}.id: ${id}`;
    if (op.op === 'put' && op.value === undefined) return `ops.${i}.value: missing`;
    if (op.op === 'patch') {
      const set = op.set;
      if (!isPlain(set)) return `ops.${i}.set: expected an object`;
      for (const k in set) {
        if (k.length > 129) return `ops.${i}.set: a path longer than 129 characters`;
        // stricter than the schema: applied to a copy, this path would replace the copy's prototype
        if (k === '__proto__' || k.startsWith('__proto__.') || k.endsWith('.__proto__')) return `ops.${i}.set: the path "${k}" is refused`;
      }
    }
  }
  return null;
}

/** A frame from the hall, as every display reads it: deltas by hand (`deltaProblem`), the rest by schema. */
export function parseServerFrame(text: string, maxBytes: number): { ok: true; msg: ServerMessage } | { ok: false; error: HubErrorBody } {
  const o = readObject(text, maxBytes);
  if (!o.ok) return o;
  const raw = o.raw;
  if (raw.t !== 'delta') {
    const r = ServerMessage.safeParse(raw);
    return r.success ? { ok: true, msg: r.data } : { ok: false, error: { code: 'bad_message', message: describeIssues(r.error) } };
  }
  const problem = deltaProblem(raw);
  if (problem) return { ok: false, error: { code: 'bad_message', message: problem } };
  return { ok: true, msg: raw as ServerMessage };
}

export function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ')
    .slice(0, 1000);
}

/** Which schema a command's args are checked against; undefined for an unknown command. */
export function commandSpec(name: string): (typeof COMMANDS)[CommandName] | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name as CommandName] : undefined;
}
