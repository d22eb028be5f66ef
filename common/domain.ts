// Domain types of the hall, shared by the core, the preload and the renderer.
// Pure TypeScript + zod: nothing of Node or the DOM may be imported here (lint enforces it).
import { z } from 'zod';

/** Names are bilingual: the hall reads Chinese first, visitors and liaison officers English. */
export const Name = z.object({ zh: z.string().min(1).max(200), en: z.string().min(1).max(200) });
export type Name = z.infer<typeof Name>;

export const Lat = z.number().min(-90).max(90);
export const Lon = z.number().min(-180).max(180);

/** GB/T 2260 administrative division code: 6 digits (province 330000, city 330100, county 331081). */
export const AdminCode = z.string().regex(/^\d{6}$/, 'a 6-digit GB/T 2260 code');

export const PlaceKind = z.enum(['province', 'city', 'county']);
export const Place = z.object({
  id: z.string().min(1).max(64),
  kind: PlaceKind,
  code: AdminCode,
  parent: AdminCode.nullable(),
  name: Name,
  lat: Lat,
  lon: Lon,
  coastal: z.boolean(),
  demo: z.boolean(),
});
export type Place = z.infer<typeof Place>;

export const TEAM_KINDS = ['fire-rescue', 'professional', 'social', 'aviation'] as const;
export type TeamKind = (typeof TEAM_KINDS)[number];
export const TeamKind = z.enum(TEAM_KINDS);
/** Pins others drop and TAK servers share (CoT atoms of hostile, unknown or neutral affiliation):
 *  shown on the map in their affiliation's colour, never counted among the hall's forces. */
export const MARKER_KINDS = ['marker-hostile', 'marker-unknown', 'marker-neutral'] as const;
export const UNIT_KINDS = [...TEAM_KINDS, 'depot', 'drone', 'vehicle', ...MARKER_KINDS] as const;
export const UnitKind = z.enum(UNIT_KINDS);
export type UnitKind = z.infer<typeof UnitKind>;
export const UNIT_STATUSES = ['standby', 'en-route', 'on-site', 'offline'] as const;
export const UnitStatus = z.enum(UNIT_STATUSES);
export type UnitStatus = z.infer<typeof UnitStatus>;

/** live: heard within the feed's stale time; stale: silent longer; lost: silent past the lost time.
 *  The globe dims a stale unit and greys a lost one at its last known position, never hides it. */
export const PRESENCES = ['live', 'stale', 'lost'] as const;
export const Presence = z.enum(PRESENCES);
export type Presence = z.infer<typeof Presence>;
export const Track = z.object({
  /** The feed it was heard on. */
  feed: z.string().min(1).max(64),
  /** The sender's own id (MAVLink system id, CoT uid, DJI serial number, device id). */
  source: z.string().min(1).max(128),
  /** Degrees clockwise from north, and metres per second over ground; null when not reported. */
  heading: z.number().min(0).max(360).nullable(),
  speed: z.number().min(0).max(2000).nullable(),
  /** Horizontal error in metres (CoT ce), when known. */
  ce: z.number().min(0).nullable(),
  callsign: z.string().max(128).nullable(),
  group: z.string().max(128).nullable(),
  /** The device's battery, percent (a drone's flight battery, a handset's), when reported. */
  battery: z.number().min(0).max(100).nullable().optional(),
  /** When the last message was received (hall clock), and when the unit counts as stale, then lost. */
  seen: z.number().int().min(0),
  staleAt: z.number().int().min(0),
  lostAt: z.number().int().min(0),
  presence: Presence,
});
export type Track = z.infer<typeof Track>;
export const DroneState = z.object({
  mode: z.string().max(64).nullable(),
  armed: z.boolean().nullable(),
  /** Height above the take-off point, metres (alt is above mean sea level). */
  relAlt: z.number().nullable(),
  climb: z.number().nullable(),
});
export type DroneState = z.infer<typeof DroneState>;

export const Unit = z.object({
  id: z.string().min(1).max(64),
  kind: UnitKind,
  name: Name,
  /** City (GB/T 2260) the unit belongs to. */
  home: AdminCode,
  lat: Lat,
  lon: Lon,
  alt: z.number().min(-500).max(20000).nullable(),
  status: UnitStatus,
  members: z.number().int().min(0).max(100000).nullable(),
  /** Stock by item for supply depots (items are i18n keys). */
  stock: z.record(z.string().max(64), z.number().int().min(0)).nullable(),
  /** Milliseconds since the epoch of the last position or status change. */
  updated: z.number().int().min(0),
  demo: z.boolean(),
  /** Units tracked by a live feed (drones, team trackers): where the fix came from, how fresh it is. */
  track: Track.nullable().optional(),
  /** Drones: what the autopilot reports. */
  drone: DroneState.nullable().optional(),
  /** The video source showing this unit's camera (a drone's stream, a body camera). */
  video: z.string().min(1).max(64).nullable().optional(),
  /** A child hall's unit (its code), as that hall's uplink told it; absent: this hall's own. */
  hall: AdminCode.optional(),
  /** The tracker bound to this unit (`unit.bind`): that feed's reports from that sender move it.
   *  Nothing else can: an unknown sender on a feed gets a unit of its own, in the feed's namespace. */
  device: z
    .object({ feed: z.string().min(1).max(64), source: z.string().min(1).max(128) })
    .nullable()
    .optional(),
});
export type Unit = z.infer<typeof Unit>;

/** The id a feed gives a sender it has no binding for: in the feed's namespace (`<feed>-<sender>`). */
export function feedUnitId(feed: string, source: string): string {
  const raw = `${feed}-${source}`.replace(/[^\w.:-]/g, '_');
  if (raw.length <= 64) return raw;
  // long senders (a CoT uid can be 128 characters): the start, and a hash of the whole
  let h = 2166136261;
  for (let i = 0; i < raw.length; i++) h = Math.imul(h ^ raw.charCodeAt(i), 16777619) >>> 0;
  return `${raw.slice(0, 55)}-${h.toString(16).padStart(8, '0')}`;
}

/** A unit a feed made for a sender (not a registered unit a tracker is bound to). */
export function isFeedUnit(u: Unit): boolean {
  return !!u.track && !u.device && u.id === feedUnitId(u.track.feed, u.track.source);
}

export const CONTACT_LEVELS = ['province', 'city', 'county', 'township', 'village', 'team', 'expert'] as const;
export const ContactLevel = z.enum(CONTACT_LEVELS);
export type ContactLevel = z.infer<typeof ContactLevel>;
export const CHANNEL_KINDS = ['video', 'voip', 'mobile', 'satellite', 'radio'] as const;
export const ChannelKind = z.enum(CHANNEL_KINDS);
export const Channel = z.object({ kind: ChannelKind, address: z.string().min(1).max(200) });
export const Person = z.object({ name: z.string().min(1).max(64), mobile: z.string().max(32) });
export const Contact = z.object({
  id: z.string().min(1).max(64),
  level: ContactLevel,
  /** Admin code of the area the contact serves (townships and villages: the county's code). */
  code: AdminCode,
  parent: z.string().max(64).nullable(),
  name: Name,
  duty: Person,
  deputy: Person,
  channels: z.array(Channel).max(16),
  lastReached: z.number().int().nullable(),
  demo: z.boolean(),
  /** Search keys the core derives from the Chinese name: pinyin initials and whole pinyin,
   *  lower case ("wlsyjglj wenlingshiyingjiguanliju"), so "wl" finds 温岭. */
  spell: z.string().max(600).optional(),
});
export type Contact = z.infer<typeof Contact>;

/** GB/T 19201-2006 grades, from 2-minute mean wind at the centre. */
export const GRADES = ['TD', 'TS', 'STS', 'TY', 'STY', 'SuperTY'] as const;
export const Grade = z.enum(GRADES);
export type Grade = z.infer<typeof Grade>;
/** A fix of a track. `grade` is null below tropical-depression strength; `et` marks CMA's
 *  extratropical stage (intensity code 9), when the grade scale no longer applies. */
export const Fix = z.object({
  t: z.number().int(),
  lat: Lat,
  lon: Lon,
  pressure: z.number().min(850).max(1100),
  wind: z.number().min(0).max(120),
  grade: Grade.nullable(),
  et: z.boolean().optional(),
});
export type Fix = z.infer<typeof Fix>;
export const Typhoon = z.object({
  /** `tc-<year>-<China number>` (e.g. tc-2019-1909), or `tc-<year>-s<serial>` for a storm China did not number. */
  id: z.string().min(1).max(64),
  number: z.string().max(8),
  name: Name,
  year: z.number().int().min(1949).max(2200),
  fixes: z.array(Fix).max(2000),
  source: z.string().max(500),
  demo: z.boolean(),
});
export type Typhoon = z.infer<typeof Typhoon>;

/** Wind radii by quadrant, km. CMA, JMA and JTWC all publish NE/SE/SW/NW: the circle is not round. */
const Km = z.number().min(0).max(2000);
export const Quadrants = z.object({ ne: Km, se: Km, sw: Km, nw: Km }).strict();
export type Quadrants = z.infer<typeof Quadrants>;
/** Force 7 (≥13.9 m/s), force 10 (≥24.5 m/s) and force 12 (≥32.7 m/s) on the Beaufort scale. */
export const WIND_FORCES = [7, 10, 12] as const;
export type WindForce = (typeof WIND_FORCES)[number];
export const WindRadii = z.object({ r7: Quadrants.optional(), r10: Quadrants.optional(), r12: Quadrants.optional() }).strict();
export type WindRadii = z.infer<typeof WindRadii>;

export const TrackPoint = z.object({
  t: z.number().int(),
  lat: Lat,
  lon: Lon,
  pressure: z.number().min(850).max(1100).nullable(),
  wind: z.number().min(0).max(120).nullable(),
  radii: WindRadii.nullable(),
  /** Radius of the agency's probability circle at this lead time (the cone), km. */
  error: Km.nullable(),
});
export type TrackPoint = z.infer<typeof TrackPoint>;

/** Agencies: CMA, JMA, JTWC, KMA, HKO, CWA, PAGASA, a provincial observatory… upper-case codes. */
export const Agency = z.string().regex(/^[A-Z][A-Z0-9-]{1,15}$/, 'an upper-case agency code such as CMA, JMA, JTWC');
/** One agency's advisory: the analysed position now and its forecast points. Journaled; the newest
 *  per storm and agency is that agency's current forecast, the older ones stay for review. */
export const Advisory = z.object({
  /** `<storm>/<agency>/<issued ISO>`. */
  id: z.string().min(1).max(128),
  storm: z.string().min(1).max(64),
  agency: Agency,
  issued: z.number().int(),
  current: TrackPoint,
  forecast: z.array(TrackPoint).max(64),
  received: z.number().int(),
  demo: z.boolean(),
});
export type Advisory = z.infer<typeof Advisory>;

/** The five-colour map: per county, a level for now and for each horizon. */
export const RISK_LEVELS = ['red', 'orange', 'yellow', 'blue', 'none'] as const;
export const RiskLevel = z.enum(RISK_LEVELS);
export type RiskLevel = z.infer<typeof RiskLevel>;
export const RISK_HORIZONS = ['now', 'h3', 'h6', 'h24', 'h48'] as const;
export type RiskHorizon = (typeof RISK_HORIZONS)[number];
export const RiskLevels = z.object({ now: RiskLevel, h3: RiskLevel, h6: RiskLevel, h24: RiskLevel, h48: RiskLevel }).strict();
export type RiskLevels = z.infer<typeof RiskLevels>;
export const Risk = z.object({
  /** The county's (or city's) GB/T 2260 code. */
  id: AdminCode,
  levels: RiskLevels,
  /** 'manual', or what the levels were proposed from (e.g. 'typhoon:tc-2019-1909'). */
  basis: z.string().max(128),
  /** Who accepted or set them (the duty officer's name) and when. */
  by: z.string().min(1).max(64),
  at: z.number().int(),
  /** Set by a child hall (its code), as its uplink told it; absent: this hall's. */
  hall: AdminCode.optional(),
});
export type Risk = z.infer<typeof Risk>;

export const FEED_STATES = ['connecting', 'online', 'degraded', 'offline', 'failed'] as const;
export const FeedState = z.enum(FEED_STATES);
export type FeedState = z.infer<typeof FeedState>;
export const FEED_KINDS = ['mavlink-udp', 'cot-tcp', 'cot-tls', 'cot-udp', 'tak-server', 'tak-mesh', 'mqtt-json', 'dji-mqtt', 'video'] as const;
export const FeedKind = z.enum(FEED_KINDS);
export type FeedKind = z.infer<typeof FeedKind>;
/** A feed as every display sees it: its state and health. Its configuration stays in the core. */
export const Feed = z.object({
  id: z.string().min(1).max(64),
  kind: z.string().min(1).max(32),
  name: Name,
  state: FeedState,
  lastMessageAt: z.number().int().nullable(),
  /** What the state means in words ("listening on udp 0.0.0.0:14550", "broker refused: not authorised"). */
  detail: z.string().max(500).optional(),
  /** Where it listens or connects, without credentials. */
  endpoint: z.string().max(300).optional(),
  since: z.number().int().nullable().optional(),
  nextAttemptAt: z.number().int().nullable().optional(),
  health: z
    .object({
      messages: z.number().int().min(0),
      /** Accepted messages per second over the last few seconds. */
      rate: z.number().min(0),
      /** Rejected input by reason (bad_crc, not_xml, doctype, too_large, bad_coordinates, ...). */
      errors: z.record(z.string().max(64), z.number().int().min(0)),
      reconnects: z.number().int().min(0),
      /** Units (forces) this feed has reported. */
      units: z.number().int().min(0),
      /** Map markers of another affiliation (hostile, unknown, neutral pins): never forces. */
      markers: z.number().int().min(0).optional(),
      /** Messages understood and not used (chat, routes, a dialect's status): not refusals. */
      unused: z.number().int().min(0).optional(),
      /** Emergencies raised or cancelled through this feed. */
      alerts: z.number().int().min(0).optional(),
      /** Events of the hall's picture sent (TAK server and mesh outputs). */
      sent: z.number().int().min(0).optional(),
    })
    .optional(),
});
export type Feed = z.infer<typeof Feed>;

const FeedBase = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lower-case letters, digits and dashes, up to 32'),
  name: Name.optional(),
  /** Silence after which the feed reads degraded. @default 10 s */
  silentAfterS: z.number().min(1).max(3600).optional(),
  /** Silence after which a unit reads stale and then lost (CoT's own stale time wins for CoT). */
  staleAfterS: z.number().min(1).max(3600).optional(),
  lostAfterS: z.number().min(1).max(86400).optional(),
};
/** An IPv4 or IPv6 address, or a CIDR block of either (checked as text here; node:net checks it again). */
const PeerRule = z
  .string()
  .max(64)
  .regex(/^([0-9.]{7,15}|[0-9a-fA-F:.]{2,45})(\/\d{1,3})?$/, 'an IP address or CIDR block (10.33.0.0/16)');
/** Port 0 takes any free port (tests); the feed board shows the one bound. No host: where the hub
 *  listens (serve --host; loopback by default). `allowFrom`: only these senders are heard (others
 *  are refused and counted as peer_refused); absent, any sender that reaches the port. */
const ListenAddress = { host: z.string().min(1).max(255).optional(), port: z.number().int().min(0).max(65535), allowFrom: z.array(PeerRule).min(1).max(64).optional() };
const EnvName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/);
const Broker = {
  url: z
    .string()
    .regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'mqtt://, mqtts://, ws:// or wss://')
    .max(300),
  username: z.string().max(128).optional(),
  /** The name of the environment variable holding the password: a password never enters the journal. */
  passwordEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]{0,63}$/)
    .optional(),
};
/** What an operator configures for a feed (settings, `beacon serve --feed`, `feed.add`). */
export const FeedConfig = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('mavlink-udp'),
      ...FeedBase,
      ...ListenAddress,
      port: ListenAddress.port.default(14550),
      /** MAVLink 2 signing: the environment variable holding the key (64 hex digits, or a passphrase
       *  hashed with SHA-256 as Mission Planner and QGroundControl do). Set: every packet must be
       *  signed with it, and each link's timestamps must rise (no replays). */
      signingKeyEnv: EnvName.optional(),
    })
    .strict(),
  z.object({ kind: z.literal('cot-tcp'), ...FeedBase, ...ListenAddress, port: ListenAddress.port.default(8087), teamKind: TeamKind.optional() }).strict(),
  /** CoT over TLS as TAK servers take it (port 8089): the hall's certificate and key, and the CA that
   *  signs the devices' client certificates; a device without one signed by it is not heard. PEM
   *  files on the hall's machine, so only the operator at it sets them (`--feed`; not `feed.add`). */
  z
    .object({
      kind: z.literal('cot-tls'),
      ...FeedBase,
      ...ListenAddress,
      port: ListenAddress.port.default(8089),
      teamKind: TeamKind.optional(),
      certFile: z.string().min(1).max(500),
      keyFile: z.string().min(1).max(500),
      caFile: z.string().min(1).max(500),
    })
    .strict(),
  z.object({ kind: z.literal('cot-udp'), ...FeedBase, ...ListenAddress, port: ListenAddress.port.default(8087), teamKind: TeamKind.optional() }).strict(),
  /** The hall as a TAK client (docs/feeds.md, "Sending the hall's picture"): it connects to a TAK
   *  server (TCP; TLS with the hall's client certificate when the three files are given, set at
   *  start only), hears what the server relays, and sends the hall's picture (its units and open
   *  incidents) every `intervalS` for ATAK users in the field, read-only from their side. */
  z
    .object({
      kind: z.literal('tak-server'),
      ...FeedBase,
      host: z.string().min(1).max(255),
      port: z.number().int().min(1).max(65535).default(8087),
      teamKind: TeamKind.optional(),
      intervalS: z.number().int().min(1).max(3600).default(10),
      certFile: z.string().min(1).max(500).optional(),
      keyFile: z.string().min(1).max(500).optional(),
      caFile: z.string().min(1).max(500).optional(),
    })
    .strict()
    .refine((c) => [c.certFile, c.keyFile, c.caFile].every((f) => f === undefined) || [c.certFile, c.keyFile, c.caFile].every((f) => f !== undefined), {
      message: 'TLS needs certFile, keyFile and caFile together',
    }),
  /** A TAK mesh (ATAK's UDP situational-awareness group; 239.2.3.1:6969 by default): the hall hears
   *  it and sends its picture to it, as XML or as TAK Protocol version 1 (`protocol: 'tak'`). */
  z
    .object({
      kind: z.literal('tak-mesh'),
      ...FeedBase,
      group: z.string().min(1).max(64).default('239.2.3.1'),
      port: z.number().int().min(0).max(65535).default(6969),
      /** The interface address to join the group on and send from (multicast); absent: the system's choice. */
      host: z.string().min(1).max(255).optional(),
      protocol: z.enum(['xml', 'tak']).default('xml'),
      teamKind: TeamKind.optional(),
      intervalS: z.number().int().min(1).max(3600).default(10),
    })
    .strict(),
  z.object({ kind: z.literal('mqtt-json'), ...FeedBase, ...Broker, topic: z.string().min(1).max(200).default('beacon/positions/#'), teamKind: TeamKind.optional() }).strict(),
  z
    .object({
      kind: z.literal('dji-mqtt'),
      ...FeedBase,
      ...Broker,
      gateway: z
        .string()
        .regex(/^[A-Za-z0-9+_-]{1,64}$/)
        .default('+'),
    })
    .strict(),
]);
export type FeedConfig = z.infer<typeof FeedConfig>;
export type FeedConfigInput = z.input<typeof FeedConfig>;

/** 'unknown' until a link monitor has measured: the hall never claims a WAN state it has not seen. */
export const LINK_STATES = ['unknown', 'online', 'degraded', 'offline'] as const;
export const LinkState = z.enum(LINK_STATES);
export type LinkState = z.infer<typeof LinkState>;
export const Link = z.object({
  id: z.string().min(1).max(64),
  state: LinkState,
  since: z.number().int().nullable(),
  detail: z.string().max(500),
  /** For the store-and-forward outbox: what waits for the province, and since when. */
  queue: z.object({ depth: z.number().int().min(0), oldest: z.number().int().nullable() }).optional(),
});
export type Link = z.infer<typeof Link>;

export const Hall = z.object({
  id: z.literal('hall'),
  name: Name,
  /** The scenario that seeded this data directory; 'zhejiang-demo' data is demonstration data. */
  scenario: z.string().max(64),
  demo: z.boolean(),
  seededAt: z.number().int().nullable(),
});
export type Hall = z.infer<typeof Hall>;

/** Who holds the hall's watch now (值班): the duty officer, and the leader on duty (带班领导) a decision
 *  goes up to. One entity per hall, replaced at each handover (交接班), every handover journaled. */
const DutyName = z.string().trim().min(1).max(64);
const DutyPhone = z
  .string()
  .regex(/^\+?[\d -]{3,20}$/, 'digits, spaces or dashes')
  .nullable();
const OnDuty = z.object({ name: DutyName, phone: DutyPhone }).strict();
/** As a handover names them: the phone may be left out. */
export const OnDutyInput = z.object({ name: DutyName, phone: DutyPhone.optional() }).strict();
export const DutyShift = z.object({
  id: z.literal('duty'),
  officer: OnDuty,
  leader: OnDuty,
  /** When this watch took over. */
  since: z.number().int(),
  /** Who recorded the handover (the officer going off duty, usually). */
  by: z.string().trim().min(1).max(64),
  /** What the watch handed over: open matters, pending calls. */
  note: z.string().max(2000),
});
export type DutyShift = z.infer<typeof DutyShift>;

/** An instruction from the province (or another superior command) to this hall. */
export const Instruction = z.object({
  id: z.string().min(1).max(128),
  from: z.string().min(1).max(200),
  text: z.string().min(1).max(4000),
  priority: z.enum(['urgent', 'normal']),
  sentAt: z.number().int(),
  receivedAt: z.number().int(),
  /** A typhoon advisory passed down: its id (the notice of its arrival). */
  advisory: z.string().max(128).optional(),
  /** Read by an operator here (the receipt goes back up the network). */
  readAt: z.number().int().nullable().optional(),
  readBy: z.string().max(64).nullable().optional(),
});
export type Instruction = z.infer<typeof Instruction>;

/** The storm replay every display follows: which storm, at what storm time, playing or not.
 *  Live state of the hall (not journaled): the time is `t` at wall-clock `anchor`, advancing at
 *  `speed` storm-seconds per second while playing, so every display computes the same moment. */
export const Replay = z.object({
  id: z.literal('replay'),
  storm: z.string().max(64).nullable(),
  t: z.number().int(),
  anchor: z.number().int(),
  playing: z.boolean(),
  speed: z.number().min(1).max(1_000_000),
  /** The span of the storm's data (first fix to last forecast point), for the slider. */
  start: z.number().int(),
  end: z.number().int(),
});
export type Replay = z.infer<typeof Replay>;

/** A globe view: where the camera is (degrees, metres) and where it looks (radians). */
export const GlobeView = z.object({
  lon: Lon,
  lat: Lat,
  height: z.number().min(1).max(50_000_000),
  heading: z.number().min(-7).max(7),
  pitch: z.number().min(-4).max(4),
  roll: z.number().min(-7).max(7),
});
export type GlobeView = z.infer<typeof GlobeView>;
/** The presenter's view in a consultation (会商, issue 22): every display that follows it turns its
 *  globe to this view and shows the presenter's pointer. Live state, one entity (id 'presenter'). */
export const PresenterView = GlobeView.extend({
  id: z.literal('presenter'),
  /** Who presents (the operator signed in, or the console), and from which session. */
  by: z.string().max(64),
  session: z.string().max(64),
  pointer: z.object({ lon: Lon, lat: Lat }).nullable(),
  /** Marks the presenter placed on the map, in order (a route, the places it speaks of). */
  marks: z.array(z.object({ lon: Lon, lat: Lat })).max(64),
  at: z.number().int(),
});
export type PresenterView = z.infer<typeof PresenterView>;

/** A globe display that can follow or present in a consultation (issue 22): each says it is there
 *  every 10 s (`console.here`); the call panel chooses the presenter among them (`view.assign`).
 *  Live state, by session; gone after 30 s unheard. */
export const ConsoleEntry = z.object({
  id: z.string().max(64),
  by: z.string().max(64),
  client: z.string().max(64),
  /** It may present (its operator or console has `operate`). */
  canPresent: z.boolean(),
  /** The call panel chose it to present. */
  assigned: z.boolean(),
  at: z.number().int(),
});
export type ConsoleEntry = z.infer<typeof ConsoleEntry>;

const Force = z.union([z.literal(0), z.literal(7), z.literal(10), z.literal(12)]);
const AgencyTime = z.object({ agency: z.string(), t: z.number().int() });
export const Landfall = z.object({
  /** 'observed' or the agency whose forecast it is. */
  track: z.string().max(16),
  t: z.number().int(),
  lat: Lat,
  lon: Lon,
  /** Nearest county seat within 100 km, else null. */
  place: z.string().nullable(),
  placeKm: z.number().nullable(),
  wind: z.number().nullable(),
  pressure: z.number().nullable(),
  /** Grade at the fix nearest in time (observed track) or at the crossing (forecast). */
  grade: Grade.nullable(),
  nearestFix: z.object({ t: z.number().int(), wind: z.number(), pressure: z.number(), grade: Grade.nullable() }).nullable(),
});
export type Landfall = z.infer<typeof Landfall>;
export const PlaceThreat = z.object({
  code: AdminCode,
  kind: z.enum(['city', 'county']),
  city: AdminCode,
  /** Distance (km) and bearing (degrees, from the place) to the centre at the analysis time. */
  km: z.number().nullable(),
  bearing: z.number().nullable(),
  /** Force felt now, from the current advisories' radii. */
  forceNow: Force,
  /** Per agency: closest approach along its forecast. */
  closest: z.array(z.object({ agency: z.string(), t: z.number().int(), km: z.number() })),
  /** Earliest forecast arrival of force-7/10/12 winds across agencies (null: not forecast). */
  force7: AgencyTime.nullable(),
  force10: AgencyTime.nullable(),
  force12: AgencyTime.nullable(),
  /** Highest force forecast within 48 h: the first key of the ranking. */
  level: Force,
  /** Rank among places of the same kind, from 1 (most threatened). */
  rank: z.number().int().min(0),
  /** The five-colour levels the analysis proposes. */
  proposal: RiskLevels,
});
export type PlaceThreat = z.infer<typeof PlaceThreat>;
export const Analysis = z.object({
  id: z.string().min(1).max(64),
  t: z.number().int(),
  centre: z.object({ lat: Lat, lon: Lon, wind: z.number().nullable(), pressure: z.number().nullable(), grade: Grade.nullable() }).nullable(),
  agencies: z.array(z.string()),
  landfalls: z.array(Landfall),
  places: z.array(PlaceThreat),
});
export type Analysis = z.infer<typeof Analysis>;

/** An incident the hall is handling: reported by its duty officer (or later a feed), told to the
 *  province at once (decisions-level priority), shown on the globe and the board. Severity is the
 *  national four-level scale for emergencies: I 特别重大, II 重大, III 较大, IV 一般. */
export const INCIDENT_KINDS = ['typhoon', 'flood', 'landslide', 'hazchem', 'fire', 'traffic', 'rescue', 'other'] as const;
export const IncidentKind = z.enum(INCIDENT_KINDS);
export type IncidentKind = z.infer<typeof IncidentKind>;
export const SEVERITIES = ['I', 'II', 'III', 'IV'] as const;
export const Severity = z.enum(SEVERITIES);
export const Incident = z.object({
  id: z.string().min(1).max(64),
  kind: IncidentKind,
  title: z.string().trim().min(1).max(200),
  severity: Severity,
  lat: Lat,
  lon: Lon,
  /** The county it is in, when known. */
  county: AdminCode.nullable(),
  status: z.enum(['open', 'closed']),
  reportedBy: z.string().min(1).max(64),
  reportedAt: z.number().int(),
  closedAt: z.number().int().nullable(),
  closedBy: z.string().max(64).nullable(),
  demo: z.boolean(),
  /** Reported in a child hall (its GB/T 2260 code), as that hall's uplink told it; absent: this hall's. */
  hall: AdminCode.optional(),
});
export type Incident = z.infer<typeof Incident>;

/**
 * An emergency alert a field device raised (ATAK's 911, Ring The Bell, In Contact, a custom alert:
 * CoT `b-a-o-*`): shown on every display until an operator acknowledges it, with an incident at the
 * sender's position; cleared when the device cancels (`b-a-o-can`). docs/feeds.md, "Emergency alerts".
 */
export const ALERT_STATES = ['active', 'acknowledged', 'cancelled'] as const;
export const Alert = z.object({
  id: z.string().min(1).max(64),
  /** The feed it came in on, and the alert's own id there (ATAK: `<device>-9-1-1`). */
  feed: z.string().min(1).max(64),
  source: z.string().min(1).max(128),
  /** The device that raised it (CoT `link` uid), when it says. */
  sender: z.string().max(128).nullable(),
  callsign: z.string().max(128).nullable(),
  /** The wire's type (`b-a-o-tbl`) and what the device calls it ("911 Alert"). */
  type: z.string().max(64),
  label: z.string().max(128),
  lat: Lat.nullable(),
  lon: Lon.nullable(),
  status: z.enum(ALERT_STATES),
  raisedAt: z.number().int(),
  /** The last time the device repeated it (ATAK repeats an open alert). */
  heardAt: z.number().int(),
  ackBy: z.string().max(64).nullable(),
  ackAt: z.number().int().nullable(),
  cancelledAt: z.number().int().nullable(),
  /** The incident opened at the sender's position (null while the device has no fix). */
  incident: z.string().max(64).nullable(),
});
export type Alert = z.infer<typeof Alert>;

/** Key targets and shelters on the map: hazardous-chemical sites and reservoirs (what a typhoon or
 *  flood threatens first), and the shelters people are moved to. Static: set by seed or import. */
export const SITE_KINDS = ['hazchem', 'reservoir', 'shelter'] as const;
export const SiteKind = z.enum(SITE_KINDS);
export type SiteKind = z.infer<typeof SiteKind>;
export const Site = z.object({
  id: z.string().min(1).max(64),
  kind: SiteKind,
  name: Name,
  /** The county it lies in (GB/T 2260). */
  county: AdminCode,
  lat: Lat,
  lon: Lon,
  /** Shelters: people it takes, and how many are in it now. */
  capacity: z.number().int().min(0).max(10_000_000).nullable(),
  occupancy: z.number().int().min(0).max(10_000_000).nullable(),
  /** What the duty officer needs at a glance, by i18n key: a reservoir's storage (10⁴ m³) and
   *  flood-limit level (m), a chemical site's main hazards. */
  facts: z.record(z.string().max(32), z.union([z.string().max(200), z.number()])).nullable(),
  demo: z.boolean(),
});
export type Site = z.infer<typeof Site>;

/** An online map source as the core holds it (DATA/tiles/sources.json; `tiles.source.put`). The URL
 *  and key never reach a display. The template has {z} {x} {y} ({-y} for TMS rows), or WMTS's
 *  {TileMatrix} {TileCol} {TileRow} for a GoogleMapsCompatible (Web Mercator) matrix set such as
 *  Tianditu's `w`; {s} for subdomains and {k} for the key. */
export const TileSourceConfig = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'a short lower-case id'),
    name: z.string().trim().min(1).max(100),
    url: z
      .string()
      .url()
      .max(500)
      .regex(/^https?:\/\//i, 'an http(s) URL')
      .refine(
        (u) => (/\{z\}/.test(u) && /\{x\}/.test(u) && /\{-?y\}/.test(u)) || (/\{TileMatrix\}/.test(u) && /\{TileCol\}/.test(u) && /\{TileRow\}/.test(u)),
        'the url must contain {z}, {x} and {y} (or {-y}), or WMTS {TileMatrix}, {TileCol} and {TileRow}',
      ),
    subdomains: z.array(z.string().max(8)).max(8).optional(),
    /** Tianditu and other keyed services: substituted for {k}, never shown to displays. */
    key: z.string().max(100).optional(),
    /** Imagery (png, jpg), or terrain: Cesium's quantized-mesh-1.0 (layer.json beside the tiles). */
    format: z.enum(['png', 'jpg', 'quantized-mesh']),
    minZoom: z.number().int().min(0).max(22).default(0),
    maxZoom: z.number().int().min(0).max(22).default(18),
    /** Unpinned tiles kept, MB; least recently used go first. Pinned (prepared) tiles stay. */
    maxCacheMB: z.number().int().min(1).max(1_000_000).default(2048),
  })
  .strict();
export type TileSourceConfig = z.infer<typeof TileSourceConfig>;

/** "Prepare for offline": one prefetch of an area and zoom range into a source's cache (topic
 *  `prefetch`, live only: a job does not outlive the hall, its tiles do). */
export const PrefetchJob = z.object({
  id: z.string().min(1).max(32),
  source: z.string().min(1).max(32),
  /** What was asked for: a place's name, or the box in degrees. */
  area: z.string().max(200),
  bbox: z.object({ west: Lon, south: Lat, east: Lon, north: Lat }),
  minZoom: z.number().int().min(0).max(22),
  maxZoom: z.number().int().min(0).max(22),
  rate: z.number().positive(),
  state: z.enum(['running', 'paused', 'done', 'cancelled', 'failed']),
  total: z.number().int().min(0),
  done: z.number().int().min(0),
  fetched: z.number().int().min(0),
  cached: z.number().int().min(0),
  failed: z.number().int().min(0),
  startedAt: z.number().int(),
  endedAt: z.number().int().nullable(),
  by: z.string().max(64),
});
export type PrefetchJob = z.infer<typeof PrefetchJob>;

/** An online map source as displays see it (no URL, no key: those stay in the core). Tiles are
 *  fetched from the hall at /tiles/<id>/{z}/{x}/{y}. */
export const TileLayer = z.object({
  id: z.string().min(1).max(32),
  name: z.string().min(1).max(100),
  format: z.enum(['png', 'jpg', 'quantized-mesh']),
  minZoom: z.number().int().min(0).max(22),
  maxZoom: z.number().int().min(0).max(22),
});
export type TileLayer = z.infer<typeof TileLayer>;

/** A county's (or city's) boundary, imported from the bureau's own file: WGS-84, simplified to about
 *  50 m. Polygons of rings; each ring a flat [lon0, lat0, lon1, lat1, …] array, outer ring first. */
export const Boundary = z.object({
  id: AdminCode,
  polygons: z
    .array(z.array(z.array(z.number()).min(8).max(200_000)).min(1).max(200))
    .min(1)
    .max(500),
  source: z.string().max(200),
  importedAt: z.number().int(),
});
export type Boundary = z.infer<typeof Boundary>;

// ---- one-key connect (一键通) -----------------------------------------------------------------

/** Channels one key tries, in the hall's order; radio talk-groups are called from the dispatch console. */
export const DIAL_CHANNELS = ['video', 'voip', 'mobile', 'satellite'] as const;
export const DialChannel = z.enum(DIAL_CHANNELS);
export type DialChannel = z.infer<typeof DialChannel>;

export const ATTEMPT_RESULTS = ['skipped', 'trying', 'ringing', 'connected', 'busy', 'no_answer', 'rejected', 'failed', 'cancelled', 'ended'] as const;
export const CallAttempt = z.object({
  channel: DialChannel,
  address: z.string().max(200),
  result: z.enum(ATTEMPT_RESULTS),
  /** Why, in the operator's terms: "WAN offline", "486 Busy Here", "no answer after 20 s". */
  detail: z.string().max(300),
  startedAt: z.number().int(),
  endedAt: z.number().int().nullable(),
});
export type CallAttempt = z.infer<typeof CallAttempt>;

export const CALL_STATES = ['dialing', 'ringing', 'connected', 'ended', 'failed', 'cancelled'] as const;
export const CallState = z.enum(CALL_STATES);
export type CallState = z.infer<typeof CallState>;
export const Call = z.object({
  id: z.string().min(1).max(64),
  contact: z.string().min(1).max(64),
  /** The contact's name and code when the call was placed (the log outlives directory edits). */
  name: Name,
  code: AdminCode,
  consultation: z.string().max(64).nullable(),
  /** What the call was about, when pressed from it: `sheet:<id>` (督办 of a risk-prompt sheet). */
  about: z.string().max(64).nullable().optional(),
  /** The duty officer who pressed the key. */
  by: z.string().min(1).max(64),
  state: CallState,
  /** The channel that connected, once one did. */
  channel: DialChannel.nullable(),
  attempts: z.array(CallAttempt).max(16),
  startedAt: z.number().int(),
  answeredAt: z.number().int().nullable(),
  endedAt: z.number().int().nullable(),
  /** Seconds connected. */
  duration: z.number().int().nullable(),
  /** Who ended it: local, remote, dropped... */
  endedBy: z.string().max(32).nullable(),
  /** Logged by a child hall (its code), as its uplink told it; absent: this hall's. */
  hall: z
    .string()
    .regex(/^\d{6}$/)
    .optional(),
});
export type Call = z.infer<typeof Call>;

export const Consultation = z.object({
  id: z.string().min(1).max(64),
  title: z.string().min(1).max(200),
  by: z.string().min(1).max(64),
  /** Contact ids, in the order chosen. */
  participants: z.array(z.string().min(1).max(64)).min(1).max(32),
  /** The current call per participant (contact id -> call id); redial replaces it. */
  legs: z.record(z.string().max(64), z.string().max(64)),
  startedAt: z.number().int(),
  endedAt: z.number().int().nullable(),
});
export type Consultation = z.infer<typeof Consultation>;

/** A consultation's mix in the conference bridge (issue 22): live state, one entity per consultation
 *  under way (its id). Who is in the mix, speaking (the bridge's voice activity) and muted. */
export const MixMember = z.object({
  /** `contact`: a participant's SIP leg; `headset`: an officer of this hall, by display session. */
  kind: z.enum(['contact', 'headset']),
  name: z.string().max(64),
  /** The participant's current call (contacts), or null. */
  call: z.string().max(64).nullable(),
  /** In the mix now: hears the others and is heard. */
  joined: z.boolean(),
  /** Speaking: the bridge's voice activity for headsets (RFC 6464 levels), the hall's meter of each SIP
   *  participant's voice for the others; null until either says. */
  talking: z.boolean().nullable(),
  /** How loud it speaks, 0..1 (-60 dBov to full scale, in tenths), from the hall's meter of the voice
   *  the bridge forwards alone (SIP legs); null where there is none (headsets: the bridge says only
   *  whether they speak). */
  level: z.number().min(0).max(1).nullable(),
  /** Muted in the bridge (mute-participant): the others do not hear it. */
  muted: z.boolean(),
  /** The bridge receives its camera: displays may watch it (\`consult.watch\`, wall tiles \`mix:<contact>\`). */
  video: z.boolean(),
  /** Why it is not in the mix although connected (the satellite terminal's handset), else ''. */
  outside: z.string().max(200),
});
export type MixMember = z.infer<typeof MixMember>;
export const Mix = z.object({
  id: z.string().min(1).max(64),
  /** The bridge's room, or null without one. */
  room: z.string().max(32).nullable(),
  /** mixing: in the bridge; no_bridge: none configured; bridge_down: configured, unreachable. Without
   *  a mix each leg is a call of its own, and the panel says so. */
  state: z.enum(['mixing', 'no_bridge', 'bridge_down']),
  detail: z.string().max(300),
  /** By contact id, or `headset:<session>` for an officer's headset. */
  members: z.record(z.string().max(80), MixMember),
  /** The consultation's picture the bridge sends to every video terminal (the panel's multi-picture:
   *  this hall and each city's camera), and the display sending it; null when none is sent. */
  picture: z.object({ by: z.string().max(64), session: z.string().max(64) }).nullable(),
});
export type Mix = z.infer<typeof Mix>;

/** A call's video relayed to a video-wall tile (issue 22): the tile's WebRTC offer, and the answer of
 *  the call panel whose headset carries the call (it forwards the far end's picture over the hall's
 *  LAN). Live state, one entity per tile that asks. */
export const Relay = z.object({
  id: z.string().min(1).max(64),
  call: z.string().min(1).max(64),
  /** The wall display's session that asked, and its offer. */
  session: z.string().max(64),
  offer: z.string().max(20_000),
  answer: z.string().max(20_000).nullable(),
  /** Why no picture will come (the call has no headset video, the panel closed), else ''. */
  detail: z.string().max(300),
  at: z.number().int(),
});
export type Relay = z.infer<typeof Relay>;

/** The switchboard's own state: what one key can use right now (one entity, id 'switchboard'). */
export const Switchboard = z.object({
  id: z.literal('switchboard'),
  order: z.array(DialChannel),
  noAnswerS: z.number().int().min(5).max(120),
  /** Who carries a SIP call's voice: the calling display's headset (WebRTC) or the hall's terminal. */
  media: z.enum(['headset', 'terminal']),
  sip: z.object({ configured: z.boolean(), state: z.enum(['unregistered', 'registering', 'registered', 'failed']), detail: z.string().max(300), aor: z.string().max(200).nullable() }),
  satellite: z.object({
    configured: z.boolean(),
    state: z.enum(['closed', 'opening', 'ready', 'unresponsive']),
    signal: z.number().int().min(0).max(31).nullable(),
    registration: z.string().max(32),
    busy: z.boolean(),
    detail: z.string().max(300),
  }),
  wan: LinkState,
  /** The platform's conference bridge that mixes consultations. */
  bridge: z.object({ configured: z.boolean(), up: z.boolean(), detail: z.string().max(300) }),
});
export type Switchboard = z.infer<typeof Switchboard>;

// ---- video ------------------------------------------------------------------------------------

export const VIDEO_KINDS = ['camera', 'drone', 'bodycam'] as const;
export const VideoKind = z.enum(VIDEO_KINDS);
const MediaUrl = z
  .string()
  .regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL')
  .max(500);
/** A video source as the operator registers it: its playback endpoints on the hall's media gateway
 *  (MediaMTX, ZLMediaKit, SRS). WebRTC over WHEP first; HLS and HTTP-FLV as fallbacks. */
export const VideoConfig = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lower-case letters, digits and dashes'),
    kind: VideoKind,
    name: Name,
    /** The unit whose camera this is (a drone's stream, a team's body camera): opens from its marker. */
    unit: z.string().min(1).max(64).nullable().default(null),
    whep: MediaUrl.optional(),
    hls: MediaUrl.optional(),
    flv: MediaUrl.optional(),
    /** Environment variable with a bearer token for the gateway (never stored, never sent to displays). */
    tokenEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,63}$/)
      .optional(),
  })
  .strict()
  .refine((c) => c.whep || c.hls || c.flv, 'at least one of whep, hls, flv');
export type VideoConfig = z.infer<typeof VideoConfig>;
export type VideoConfigInput = z.input<typeof VideoConfig>;
export const VIDEO_PROTOCOLS = ['whep', 'hls', 'flv'] as const;
export type VideoProtocol = (typeof VIDEO_PROTOCOLS)[number];
/** A video source as displays see it: what it is and how it can be played, never where the gateway is.
 *  Playback goes through the core: /video/<id>/whep, /video/<id>/hls/…, /video/<id>/flv. */
export const VideoSource = z.object({
  id: z.string().min(1).max(64),
  kind: VideoKind,
  name: Name,
  unit: z.string().max(64).nullable(),
  protocols: z.array(z.enum(VIDEO_PROTOCOLS)).min(1),
});
export type VideoSource = z.infer<typeof VideoSource>;

export const WALL_GRIDS = [1, 4, 9, 16] as const;
/** One display's video wall: its grid and which source is on each tile (saved per display). */
export const WallLayout = z.object({
  id: z.string().min(1).max(128),
  grid: z.union([z.literal(1), z.literal(4), z.literal(9), z.literal(16)]),
  tiles: z.array(z.string().max(64).nullable()).max(16),
  at: z.number().int(),
});
export type WallLayout = z.infer<typeof WallLayout>;

/** A hall of the command network below this one (a city's counties; a province's cities and their
 *  counties), as its heartbeats and uplink show it (issue 20; docs/network.md). */
export const HALL_STATES = ['unknown', 'online', 'degraded', 'silent', 'offline'] as const;
export const HallNode = z.object({
  id: AdminCode,
  name: Name,
  level: z.enum(['province', 'city', 'county']),
  parent: AdminCode.nullable(),
  /** online: heard within the heartbeat window; degraded: heard, but its WAN or outbox is in trouble;
   *  silent: no heartbeat for a few seconds; offline: silent for a minute; unknown: never heard. */
  state: z.enum(HALL_STATES),
  since: z.number().int().nullable(),
  lastHeard: z.number().int().nullable(),
  /** What the hall itself says of its link to the bus and its outbox (its last heartbeat). */
  wan: LinkState.nullable(),
  outbox: z.object({ depth: z.number().int().min(0), oldest: z.number().int().nullable() }).nullable(),
  /** Its current emergency response level, once halls declare one (issue 21). */
  responseLevel: z.string().max(16).nullable(),
  detail: z.string().max(300),
});
export type HallNode = z.infer<typeof HallNode>;

/** An instruction this hall sent down to halls below it (issue 20): one message per target through
 *  the outbox (exactly once, in order per hall, also while a hall is offline), and each target's
 *  receipts as they come back up: delivered (in its journal), then read by an operator. */
export const Receipt = z.object({ delivered: z.number().int().nullable(), read: z.number().int().nullable(), readBy: z.string().max(64).nullable() });
export const Order = z.object({
  id: z.string().min(1).max(64),
  /** An instruction (text), or a typhoon advisory this hall holds, passed on (`advisory`: its id;
   *  `text`: its summary). */
  kind: z.enum(['instruction', 'advisory']),
  advisory: z.string().max(128).optional(),
  text: z.string().min(1).max(4000),
  priority: z.enum(['urgent', 'normal']),
  /** Who sent it: the operator signed in, and the hall's name. */
  by: z.string().min(1).max(64),
  from: z.string().min(1).max(200),
  sentAt: z.number().int(),
  /** Target hall code → its receipts. */
  receipts: z.record(AdminCode, Receipt),
});
export type Order = z.infer<typeof Order>;

/**
 * Emergency response levels (应急响应) of the provincial flood-and-typhoon plan (issue 21; docs/command.md):
 * the marine stage (海上防台风), then IV, III, II, I, in rising order. A hall declares its own; the
 * levels of the halls above reach it down the network.
 */
export const RESPONSE_LEVELS = ['marine', 'IV', 'III', 'II', 'I'] as const;
export const ResponseLevel = z.enum(RESPONSE_LEVELS);
export type ResponseLevel = z.infer<typeof ResponseLevel>;
export const RESPONSE_HAZARDS = ['typhoon'] as const;
export const ResponseHazard = z.enum(RESPONSE_HAZARDS);
export const ResponseStep = z.object({
  level: ResponseLevel.nullable(),
  at: z.number().int(),
  by: z.string().max(64),
  reason: z.string().max(1000),
});
/**
 * A hall's response to a hazard: id `own` for this hall's, or the code of a hall above whose level
 * came down; `level` null once ended. `proposal` (live, never journaled) is what the hall's forecast
 * analysis suggests, for a leader to confirm.
 */
export const Response = z.object({
  id: z.string().min(1).max(16),
  hall: AdminCode,
  hallName: z.string().max(200),
  hazard: ResponseHazard,
  level: ResponseLevel.nullable(),
  /** When the current level was declared (or the response ended). */
  since: z.number().int(),
  by: z.string().max(64),
  reason: z.string().max(1000),
  /** What it was declared on: a storm (`typhoon:tc-2019-1909`), or 'manual'. */
  basis: z.string().max(128),
  /** Every change, oldest first (the last 50). */
  history: z.array(ResponseStep).max(50),
});
export type Response = z.infer<typeof Response>;

/** One item of a plan's checklist: who does it (a role of the hall, or an agency), within how long
 *  of the declaration. */
export const PlanItem = z.object({
  id: z.string().min(1).max(32),
  text: z.string().trim().min(1).max(300),
  /** The role in the hall (值班员, 带班领导) or the agency (气象, 水利, 海事…) that does it. */
  owner: z.string().trim().min(1).max(64),
  dueMinutes: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60),
});
export type PlanItem = z.infer<typeof PlanItem>;
/** The checklist a level opens (`<hazard>:<level>`), editable by the hall. */
export const Plan = z.object({
  id: z.string().regex(/^typhoon:(marine|IV|III|II|I)$/),
  hazard: ResponseHazard,
  level: ResponseLevel,
  items: z.array(PlanItem).min(1).max(100),
  /** Where the items come from (the plan's section, or the hall's own edit). */
  source: z.string().max(300),
  updatedBy: z.string().max(64),
  updatedAt: z.number().int(),
  demo: z.boolean(),
});
export type Plan = z.infer<typeof Plan>;
/** A level's checklist as declared: each item due at an hour, done by whom and when. Closed when the
 *  level changes or the response ends (what was done stays). */
export const Checklist = z.object({
  id: z.string().min(1).max(64),
  hazard: ResponseHazard,
  level: ResponseLevel,
  openedAt: z.number().int(),
  closedAt: z.number().int().nullable(),
  items: z.array(
    PlanItem.extend({
      due: z.number().int(),
      doneAt: z.number().int().nullable(),
      doneBy: z.string().max(64).nullable(),
      note: z.string().max(500).nullable(),
    }),
  ),
});
export type Checklist = z.infer<typeof Checklist>;

/**
 * A risk-prompt sheet (风险提示单, issue 21; docs/command.md): a hall's judgement of a risk, sent point to
 * point to halls below with measures and a deadline for feedback (限时反馈), followed until the issuer
 * closes it (销号). The issuer holds it with every recipient's progress; each recipient holds its own
 * copy with its own progress. States: draft → issued → closed, or cancelled; per recipient: not
 * delivered, delivered, signed for (签收), in progress (feedback), complete, verified; overdue is the
 * clock's (common/sheets.ts).
 */
/** A photo as evidence (a sheet's feedback, a task done): a JPEG or PNG data URL, at most 192 KiB. */
export const Photo = z
  .string()
  .max(192 * 1024)
  .regex(/^data:image\/(jpeg|png);base64,[A-Za-z0-9+/=]+$/);

/** A file sent with a sheet (a list of risk points, a map): a PDF, an image or an Office sheet or
 *  document as a data URL, at most 512 KiB of it; or a name and a note alone. */
export const Attachment = z.object({
  name: z.string().trim().min(1).max(200),
  note: z.string().max(500),
  data: z
    .string()
    .max(512 * 1024)
    .regex(/^data:(application\/pdf|image\/png|image\/jpeg|application\/vnd\.openxmlformats-officedocument\.(spreadsheetml\.sheet|wordprocessingml\.document));base64,[A-Za-z0-9+/=]+$/)
    .nullable()
    .optional(),
});
export type Attachment = z.infer<typeof Attachment>;

export const SHEET_HAZARDS = ['typhoon', 'flood', 'landslide', 'hazchem', 'other'] as const;
export const SheetHazard = z.enum(SHEET_HAZARDS);
export type SheetHazard = z.infer<typeof SheetHazard>;
export const SheetMeasure = z.object({
  id: z.string().min(1).max(16),
  text: z.string().trim().min(1).max(500),
  /** Who carries it out there (a role, an agency). */
  owner: z.string().trim().min(1).max(64),
  deadline: z.number().int(),
});
export type SheetMeasure = z.infer<typeof SheetMeasure>;
export const MEASURE_STATUSES = ['done', 'na', 'blocked'] as const;
export const Feedback = z.object({
  status: z.enum(MEASURE_STATUSES),
  text: z.string().max(1000),
  /** A photo as evidence: a JPEG or PNG data URL, at most 192 KiB. */
  photo: Photo.nullable(),
  lat: Lat.nullable(),
  lon: Lon.nullable(),
  by: z.string().max(64),
  at: z.number().int(),
});
export type Feedback = z.infer<typeof Feedback>;
export const Recipient = z.object({
  /** In the recipient's journal (its receipt came up). */
  delivered: z.number().int().nullable(),
  signedAt: z.number().int().nullable(),
  signedBy: z.string().max(64).nullable(),
  /** Measure id → the latest feedback on it. */
  feedback: z.record(z.string(), Feedback),
  verifiedAt: z.number().int().nullable(),
  verifiedBy: z.string().max(64).nullable(),
});
export type Recipient = z.infer<typeof Recipient>;
export const Sheet = z.object({
  /** `<issuing hall>-<random>`, from the draft on: the same at the issuer and every recipient. */
  id: z.string().regex(/^\d{6}-[0-9a-z]{4,12}$/),
  /** 浙防指风险提示〔2019〕7号: the number as printed. */
  number: z.string().max(64),
  /** out: issued here; in: received from a hall above. */
  direction: z.enum(['out', 'in']),
  issuer: z.object({ hall: AdminCode, name: z.string().max(200), by: z.string().max(64) }),
  state: z.enum(['draft', 'issued', 'closed', 'cancelled']),
  hazard: SheetHazard,
  title: z.string().trim().min(1).max(200),
  /** The risk judgement, and the analysis it came from. */
  judgement: z.string().trim().min(1).max(4000),
  basis: z.object({ storm: z.string().max(64), agency: z.string().max(16), horizon: z.string().max(16) }).nullable(),
  targets: z.array(AdminCode).min(1).max(120),
  points: z.array(z.object({ lat: Lat, lon: Lon, label: z.string().max(100) })).max(50),
  measures: z.array(SheetMeasure).min(1).max(30),
  feedbackDue: z.number().int(),
  /** Sign for it (签收) by then: set when issued (half an hour, or the feedback deadline if sooner). */
  signBy: z.number().int().nullable(),
  attachments: z.array(Attachment).max(5),
  createdAt: z.number().int(),
  issuedAt: z.number().int().nullable(),
  closedAt: z.number().int().nullable(),
  closedBy: z.string().max(64).nullable(),
  /** Why it was cancelled (null otherwise). */
  cancelled: z.string().max(1000).nullable(),
  /** Target code → its progress (at a recipient: its own only). */
  recipients: z.record(AdminCode, Recipient),
  demo: z.boolean(),
});
export type Sheet = z.infer<typeof Sheet>;

/**
 * A task (派单, issue 21): one order to a team or depot of this hall, or to a hall below, followed to
 * its end: assigned → accepted or rejected (with a reason) → under way → done (with evidence) →
 * verified; reassigned after a rejection; cancelled; overdue by the clock. A team's answers are
 * recorded by the duty officer who heard them (by phone, by radio); a hall's come up the network.
 */
export const TASK_STATES = ['assigned', 'accepted', 'rejected', 'underway', 'done', 'verified', 'cancelled'] as const;
export const TaskState = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskState>;
export const TaskAssignee = z.object({ kind: z.enum(['unit', 'hall']), id: z.string().min(1).max(64), name: z.string().max(200) });
export const TaskStep = z.object({
  state: TaskState,
  at: z.number().int(),
  by: z.string().max(64),
  note: z.string().max(1000),
  /** Who it was assigned to at this step (a reassignment). */
  assignee: TaskAssignee.optional(),
  photo: Photo.nullable().optional(),
  lat: Lat.nullable().optional(),
  lon: Lon.nullable().optional(),
});
export const Task = z.object({
  /** `<issuing hall>-t<random>`: the same at the issuer and at a hall it was sent to. */
  id: z.string().regex(/^\d{6}-t[0-9a-z]{4,12}$/),
  direction: z.enum(['out', 'in']),
  issuer: z.object({ hall: AdminCode, name: z.string().max(200), by: z.string().max(64) }),
  assignee: TaskAssignee,
  title: z.string().trim().min(1).max(200),
  detail: z.string().max(2000),
  location: z.object({ lat: Lat, lon: Lon, label: z.string().max(100) }).nullable(),
  deadline: z.number().int(),
  state: TaskState,
  /** Every step, oldest first (the last 50). */
  history: z.array(TaskStep).max(50),
  /** The sheet it serves, if any. */
  sheet: z.string().max(32).nullable(),
  /** The checklist item it carries out (`<checklist>/<item>`), if any. */
  checklist: z.string().max(100).nullable().optional(),
  /** At a hall it came down to: whether it is this hall's to answer now (not reassigned away). */
  mine: z.boolean().optional(),
  createdAt: z.number().int(),
  demo: z.boolean(),
});
export type Task = z.infer<typeof Task>;

/** The measures a sheet drafted from the analysis proposes for a hazard at a five-colour level (issue
 *  21): the hall's template library, seeded for the demonstration, edited by the hall. */
export const SheetTemplate = z.object({
  id: z.string().regex(/^(typhoon|flood|landslide|hazchem|other):(orange|red)$/),
  hazard: SheetHazard,
  level: z.enum(['orange', 'red']),
  measures: z
    .array(z.object({ text: z.string().trim().min(1).max(500), owner: z.string().trim().min(1).max(64), hours: z.number().int().min(1).max(168) }).strict())
    .min(1)
    .max(30),
  feedbackHours: z.number().int().min(1).max(168),
  source: z.string().max(300),
  updatedBy: z.string().max(64),
  updatedAt: z.number().int(),
  demo: z.boolean(),
});
export type SheetTemplate = z.infer<typeof SheetTemplate>;
