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
export const UNIT_KINDS = [...TEAM_KINDS, 'depot', 'drone', 'vehicle'] as const;
export const UnitKind = z.enum(UNIT_KINDS);
export type UnitKind = z.infer<typeof UnitKind>;
export const UNIT_STATUSES = ['standby', 'en-route', 'on-site', 'offline'] as const;
export const UnitStatus = z.enum(UNIT_STATUSES);
export type UnitStatus = z.infer<typeof UnitStatus>;

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
});
export type Unit = z.infer<typeof Unit>;

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
});
export type Contact = z.infer<typeof Contact>;

/** GB/T 19201-2006 grades, from 2-minute mean wind at the centre. */
export const GRADES = ['TD', 'TS', 'STS', 'TY', 'STY', 'SuperTY'] as const;
export const Grade = z.enum(GRADES);
export type Grade = z.infer<typeof Grade>;
export const Fix = z.object({
  t: z.number().int(),
  lat: Lat,
  lon: Lon,
  pressure: z.number().min(850).max(1100),
  wind: z.number().min(0).max(120),
  grade: Grade,
});
export type Fix = z.infer<typeof Fix>;
export const Typhoon = z.object({
  id: z.string().min(1).max(64),
  number: z.string().max(8),
  name: Name,
  year: z.number().int().min(1949).max(2200),
  fixes: z.array(Fix).max(2000),
  source: z.string().max(500),
  demo: z.boolean(),
});
export type Typhoon = z.infer<typeof Typhoon>;

export const FEED_STATES = ['connecting', 'online', 'degraded', 'offline', 'failed'] as const;
export const Feed = z.object({
  id: z.string().min(1).max(64),
  kind: z.string().min(1).max(32),
  name: Name,
  state: z.enum(FEED_STATES),
  lastMessageAt: z.number().int().nullable(),
});
export type Feed = z.infer<typeof Feed>;

/** 'unknown' until a link monitor has measured: the hall never claims a WAN state it has not seen. */
export const LINK_STATES = ['unknown', 'online', 'degraded', 'offline'] as const;
export const LinkState = z.enum(LINK_STATES);
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

/** An instruction from the province (or another superior command) to this hall. */
export const Instruction = z.object({
  id: z.string().min(1).max(128),
  from: z.string().min(1).max(200),
  text: z.string().min(1).max(4000),
  priority: z.enum(['urgent', 'normal']),
  sentAt: z.number().int(),
  receivedAt: z.number().int(),
});
export type Instruction = z.infer<typeof Instruction>;
