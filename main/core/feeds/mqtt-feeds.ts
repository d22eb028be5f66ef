// Feeds over MQTT: JSON position reports from Beidou and handset gateways (docs/feeds.md gives the
// topic and schema), and DJI Cloud API drones (`thing/product/{sn}/osd`, `…/state`,
// `sys/product/{sn}/status`) from the hall's broker (EMQX in production, mosquitto in tests).
import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';
import { Lat, Lon, type TeamKind, UnitKind } from '../../../common/domain.ts';
import { type FeedAdapter, FeedOpenError, type FeedSink } from './adapter.ts';
import { type Decoded, reject, type PositionReport } from './report.ts';

/** Larger than any position batch a gateway sends; anything bigger is refused unread. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)$/;
const MAX_CLOCK_AHEAD_MS = 10 * 60_000;
const MAX_AGE_MS = 24 * 3600_000;

/** One position report (docs/feeds.md). Unknown fields are ignored: gateways add their own. */
export const PositionJson = z.object({
  /** The device's id; defaults to the last topic level. */
  id: z.string().min(1).max(128).optional(),
  /** Accepted and ignored: a device moves a registered unit only once bound to it (unit.bind),
   *  never by naming it (#18: a sender naming a team's id moved that team). */
  unit: z.string().min(1).max(64).optional(),
  name: z.string().min(1).max(128).optional(),
  kind: UnitKind.optional(),
  lat: Lat,
  lon: Lon,
  alt: z.number().min(-500).max(20000).nullable().optional(),
  /** Milliseconds since the epoch, or ISO 8601 with a zone. */
  time: z.union([z.number().int().positive(), z.string().regex(ISO)]),
  speed: z.number().min(0).max(2000).nullable().optional(),
  heading: z.number().min(0).max(360).nullable().optional(),
  /** Horizontal accuracy, metres. */
  accuracy: z.number().min(0).nullable().optional(),
  battery: z.number().min(0).max(100).nullable().optional(),
});
export type PositionJson = z.infer<typeof PositionJson>;
const PositionPayload = z.union([PositionJson, z.array(PositionJson).min(1).max(1000)]);

function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid';
}

function parseJson(payload: Buffer): { ok: true; value: unknown } | { ok: false; d: Decoded } {
  if (payload.length > MAX_PAYLOAD_BYTES) return { ok: false, d: reject('too_large', `payload of ${payload.length} bytes (limit ${MAX_PAYLOAD_BYTES})`) };
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) };
  } catch (e) {
    return { ok: false, d: reject('not_json', (e as Error).message.slice(0, 200)) };
  }
}

export function decodePositionJson(topic: string, payload: Buffer, now: number, teamKind: TeamKind = 'professional'): Decoded {
  const j = parseJson(payload);
  if (!j.ok) return j.d;
  const parsed = PositionPayload.safeParse(j.value);
  if (!parsed.success) return reject('bad_payload', firstIssue(parsed.error));
  const list = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
  const device = topic.split('/').pop() ?? '';
  const reports: PositionReport[] = [];
  for (const p of list) {
    const t = typeof p.time === 'number' ? p.time : Date.parse(p.time);
    if (!Number.isFinite(t) || t > now + MAX_CLOCK_AHEAD_MS || t < now - MAX_AGE_MS) return reject('bad_time', `time ${p.time} is ${t > now ? 'in the future' : 'more than a day old'}`);
    const id = p.id ?? device;
    if (!id || id.length > 128) return reject('bad_payload', 'no device id (neither "id" nor a topic level)');
    reports.push({
      source: id,
      kind: p.kind ?? teamKind,
      name: p.name ? { zh: p.name, en: p.name } : undefined,
      lat: p.lat,
      lon: p.lon,
      alt: p.alt ?? null,
      heading: p.heading ?? null,
      speed: p.speed ?? null,
      ce: p.accuracy ?? null,
      callsign: p.name ?? null,
      group: null,
      battery: p.battery ?? undefined,
    });
  }
  return { ok: true, reports };
}

// ---- DJI Cloud API ---------------------------------------------------------------------------

const DjiEnvelope = z.object({
  tid: z.string().max(128).optional(),
  bid: z.string().max(128).optional(),
  timestamp: z.number().int().positive(),
  gateway: z.string().max(64).optional(),
  method: z.string().max(64).optional(),
  data: z.record(z.string(), z.unknown()),
});
const DjiOsd = z.object({
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  /** Ellipsoid height, metres. */
  height: z.number().min(-500).max(20000).optional(),
  /** Height above the take-off point, metres. */
  elevation: z.number().optional(),
  attitude_head: z.number().min(-180).max(360).optional(),
  horizontal_speed: z.number().min(0).max(2000).optional(),
  vertical_speed: z.number().optional(),
  mode_code: z.number().int().optional(),
  battery: z
    .object({ capacity_percent: z.number().min(0).max(100) })
    .partial()
    .optional(),
});
const DjiTopo = z.object({ sub_devices: z.array(z.object({ sn: z.string().min(1).max(64) }).passthrough()).max(64) }).passthrough();
/** A dock's OSD names the aircraft that lives in it. */
const DjiSubDevice = z.object({ device_sn: z.string().min(1).max(64) }).passthrough();
const SN = /^[A-Za-z0-9_-]{1,64}$/;

/** Aircraft mode_code (DJI Cloud API, device properties). */
const DJI_MODES: Record<number, string> = {
  0: 'standby',
  1: 'takeoff preparation',
  2: 'ready',
  3: 'manual flight',
  4: 'auto takeoff',
  5: 'wayline flight',
  6: 'panorama',
  7: 'tracking',
  8: 'ADS-B avoidance',
  9: 'returning home',
  10: 'auto landing',
  11: 'forced landing',
  12: 'three-propeller landing',
  13: 'upgrading',
  14: 'not connected',
  15: 'APAS',
  16: 'virtual stick',
  17: 'live flight control',
  18: 'RTK fixing',
  19: 'dock site selection',
};
const DJI_AIRBORNE = new Set([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18]);

/**
 * Reads DJI Cloud API messages. Which serial numbers are aircraft, and whose, is learnt from the
 * gateways (docks, remote controllers): their topology updates (`update_topo`: the sub-devices), a
 * dock's OSD (`sub_device.device_sn`), and every message's `gateway` field (an aircraft publishes on
 * its own serial's topics, naming its gateway). Before any of these, an OSD with attitude or speed is
 * an aircraft's (a dock's or a remote controller's OSD has neither).
 *
 * With `gateway` set (the documented `gateway=SN` option) the feed follows that gateway and the
 * aircraft it reports, and nothing else: `topics()` names the gateway's topics and each known
 * aircraft's, and `onAircraft` is told of a new one so the feed subscribes to it at once. The decoder
 * lives as long as its feed, so a reconnect subscribes to what was learnt before.
 */
export class DjiDecoder {
  private readonly aircraft = new Map<string, string | null>();
  private readonly gateways = new Set<string>();
  private readonly only: string | null;
  onAircraft: ((sn: string) => void) | null = null;

  constructor(gateway: string | null = null) {
    this.only = gateway === '+' ? null : gateway;
  }

  /** The MQTT subscriptions this decoder needs now. */
  topics(): string[] {
    const g = this.only ?? '+';
    // a dock reports its topology on sys/…/status, a remote controller (DJI Pilot 2) on thing/…/status
    const own = [`thing/product/${g}/osd`, `thing/product/${g}/state`, `sys/product/${g}/status`, `thing/product/${g}/status`];
    if (!this.only) return own;
    const mine = [...this.aircraft].filter(([, gw]) => gw === this.only).map(([sn]) => sn);
    return [...own, ...mine.flatMap((sn) => [`thing/product/${sn}/osd`, `thing/product/${sn}/state`])];
  }

  /** The aircraft known and their gateways (tests, the feed board). */
  topology(): Record<string, string | null> {
    return Object.fromEntries(this.aircraft);
  }

  private learn(sn: string, gateway: string | null): void {
    if (!SN.test(sn) || sn === gateway) return;
    const had = this.aircraft.get(sn);
    if (had !== undefined && (had === gateway || gateway === null)) return;
    if (this.aircraft.size >= 4096 && had === undefined) return; // a gateway inventing aircraft does not grow the hall
    this.aircraft.set(sn, gateway ?? had ?? null);
    if (gateway && gateway === this.only) this.onAircraft?.(sn);
  }

  decode(topic: string, payload: Buffer, now: number): Decoded {
    const m = /^(thing|sys)\/product\/([A-Za-z0-9_-]{1,64})\/(osd|state|status)$/.exec(topic);
    if (!m) return reject('bad_topic', `not a DJI Cloud API topic: ${topic.slice(0, 100)}`);
    const sn = m[2]!;
    const j = parseJson(payload);
    if (!j.ok) return j.d;
    const env = DjiEnvelope.safeParse(j.value);
    if (!env.success) return reject('bad_payload', firstIssue(env.error));
    const { timestamp, data } = env.data;
    if (timestamp > now + MAX_CLOCK_AHEAD_MS || timestamp < now - MAX_AGE_MS) return reject('bad_time', `timestamp ${timestamp} is ${timestamp > now ? 'in the future' : 'more than a day old'}`);
    // an aircraft's messages name its gateway; a gateway's name itself (or nothing)
    const gateway = env.data.gateway && env.data.gateway !== sn && SN.test(env.data.gateway) ? env.data.gateway : null;
    if (gateway) this.learn(sn, gateway);
    if (m[3] === 'status') {
      if (env.data.method !== 'update_topo') return { ok: true, reports: [], unused: true };
      const topo = DjiTopo.safeParse(data);
      if (!topo.success) return reject('bad_payload', `update_topo: ${firstIssue(topo.error)}`);
      this.gateways.add(sn);
      for (const d of topo.data.sub_devices) this.learn(d.sn, sn);
      return { ok: true, reports: [] };
    }
    if (this.only && sn !== this.only && this.aircraft.get(sn) !== this.only) return { ok: true, reports: [], unused: true }; // another gateway's
    if (m[3] === 'state') return { ok: true, reports: [], unused: true };
    const dock = DjiSubDevice.safeParse(data.sub_device);
    if (dock.success && !gateway) {
      this.gateways.add(sn);
      this.learn(dock.data.device_sn, sn);
    }
    const looksAirborne = 'attitude_head' in data || 'horizontal_speed' in data;
    if (this.gateways.has(sn) || (!this.aircraft.has(sn) && !looksAirborne)) return { ok: true, reports: [] };
    const osd = DjiOsd.safeParse(data);
    if (!osd.success) return reject('bad_payload', `osd: ${firstIssue(osd.error)}`);
    const o = osd.data;
    const battery = o.battery?.capacity_percent ?? null;
    if (o.latitude === 0 && o.longitude === 0) return { ok: true, reports: [{ source: sn, kind: 'drone', battery, drone: droneOf(o) }] };
    return {
      ok: true,
      reports: [
        {
          source: sn,
          kind: 'drone',
          name: { zh: `无人机 ${sn.slice(-6)}`, en: `Drone ${sn.slice(-6)}` },
          lat: o.latitude,
          lon: o.longitude,
          alt: o.height ?? null,
          heading: o.attitude_head === undefined ? null : o.attitude_head < 0 ? o.attitude_head + 360 : o.attitude_head % 360,
          speed: o.horizontal_speed ?? null,
          battery,
          drone: droneOf(o),
        },
      ],
    };
  }
}

function droneOf(o: z.infer<typeof DjiOsd>): PositionReport['drone'] {
  return {
    mode: o.mode_code === undefined ? null : (DJI_MODES[o.mode_code] ?? `mode ${o.mode_code}`),
    armed: o.mode_code === undefined ? null : DJI_AIRBORNE.has(o.mode_code),
    relAlt: o.elevation ?? null,
    climb: o.vertical_speed ?? null,
  };
}

// ---- the MQTT connection ------------------------------------------------------------------------

export interface MqttFeedOptions {
  url: string;
  username?: string;
  password?: string;
  topics: string[];
  clientId: string;
  decode: (topic: string, payload: Buffer) => Decoded;
}

/** One subscription on a broker. MQTT.js's own reconnect is off: the feed manager reconnects, with
 *  its backoff and jitter and one attempt at a time, and counts each one. */
export class MqttFeedAdapter implements FeedAdapter {
  readonly endpoint: string;
  private client: MqttClient | null = null;
  private readonly o: MqttFeedOptions;
  private readonly sink: FeedSink;

  /** Follow more topics from now on (an aircraft a DJI gateway just reported). */
  subscribe(topics: string[]): void {
    const fresh = topics.filter((t) => !this.o.topics.includes(t));
    if (fresh.length === 0) return;
    this.o.topics.push(...fresh);
    this.client?.subscribe(fresh, { qos: 0 }, (err, granted) => {
      if (err || granted?.some((g) => g.qos >= 128)) this.sink.rejected('subscription_refused', `${fresh.join(' ')}: ${err?.message ?? 'refused by the broker'}`);
    });
  }

  constructor(o: MqttFeedOptions, sink: FeedSink) {
    this.o = o;
    this.sink = sink;
    const u = new URL(o.url);
    this.endpoint = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname} ${o.topics.join(' ')}`;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect(this.o.url, {
        clientId: this.o.clientId,
        username: this.o.username,
        password: this.o.password,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        keepalive: 15,
        protocolVersion: 5,
        // Asks the broker not to send what no position report needs; memory is bounded by it.
        properties: { maximumPacketSize: 1024 * 1024 },
      });
      this.client = c;
      let opened = false;
      c.on('message', (topic, payload) => {
        const d = this.o.decode(topic, payload);
        if (d.ok) this.sink.message(d.reports, 1, d.unused ? 1 : 0);
        else this.sink.rejected(d.reason, `${topic}: ${d.message}`);
      });
      c.on('error', (err: Error & { code?: number }) => {
        if (opened) return; // 'close' follows and reports the loss
        c.end(true);
        // 4/5 (3.1.1) and 134/135 (5): bad credentials or not authorised. Retrying will not help
        // until someone fixes the account, so the feed reads "failed", not "offline".
        const refused = err.code === 4 || err.code === 5 || err.code === 134 || err.code === 135;
        reject(new FeedOpenError(`${this.endpoint}: ${err.message}`, refused));
      });
      c.on('close', () => {
        if (!opened) {
          c.end(true);
          reject(new FeedOpenError(`${this.endpoint}: connection closed before CONNACK`, false));
          return;
        }
        if (this.client === c) this.sink.lost(new Error('broker connection lost'));
      });
      c.on('connect', () => {
        c.subscribe(this.o.topics, { qos: 0 }, (err, granted) => {
          if (err || granted?.some((g) => g.qos >= 128)) {
            c.end(true);
            reject(new FeedOpenError(`${this.endpoint}: subscription refused${err ? `: ${err.message}` : ''}`, true));
            return;
          }
          opened = true;
          resolve();
        });
      });
    });
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await new Promise<void>((r) => c.end(true, {}, () => r()));
  }
}
