// The hall's picture for TAK users in the field (#19, "Send back"): its units and open incidents as
// CoT, to a TAK server the hall connects to as a client (`tak-server`) or to a TAK mesh group
// (`tak-mesh`), so ATAK, WinTAK and iTAK show what the hall shows. Read-only from their side: what
// they send back is heard as any CoT feed is (markers, alerts), never as a change to a hall's unit.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, isIPv4, isIPv6, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { FeedConfig, Incident, Unit, UnitKind } from '../../../common/domain.ts';
import { type FeedAdapter, FeedOpenError, type FeedSink, fatalSocketError } from './adapter.ts';
import { CotFramer, CotParser, meshPayload } from './cot.ts';
import type { AlertReport, Decoded, PositionReport } from './report.ts';
import { encodeTakMessage, meshFrame } from './takproto.ts';

/** One CoT event the hall sends: enough for XML and for TAK Protocol alike. */
export interface CotOut {
  uid: string;
  type: string;
  lat: number;
  lon: number;
  hae: number | null;
  callsign: string;
  remarks: string;
  group: string | null;
  battery: number | null;
  course: number | null;
  speed: number | null;
  /** ATAK's marker colour (ARGB as a signed 32-bit integer). */
  color: number | null;
  /** A deletion (t-x-d-d) of the event with this uid and type. */
  deletes?: { uid: string; type: string };
}

const UNKNOWN = 9999999;
const KIND_TYPE: Partial<Record<UnitKind, string>> = {
  drone: 'a-f-A-M-F-Q',
  vehicle: 'a-f-G-E-V',
  aviation: 'a-f-A',
  depot: 'a-f-G-U-S',
  'fire-rescue': 'a-f-G-U-C',
  professional: 'a-f-G-U-C',
  social: 'a-f-G-U-C',
};
const KIND_ZH: Partial<Record<UnitKind, string>> = {
  'fire-rescue': '消防救援',
  professional: '专业救援',
  social: '社会救援',
  aviation: '航空救援',
  depot: '物资储备库',
  drone: '无人机',
  vehicle: '车辆',
};
const STATUS_ZH = { standby: '待命', 'en-route': '出动', 'on-site': '到场', offline: '离线' } as const;
const SEVERITY_COLOR = { I: -65536, II: -32768, III: -256, IV: -16776961 } as const; // red, orange, yellow, blue
export const INCIDENT_TYPE = 'b-m-p-s-m';

/**
 * The hall's picture as events: its units (teams, depots, vehicles, drones; not markers, and not
 * units that came in over TAK, which their senders already show) and its open incidents, each under
 * a uid that names the hall (`beacon.<hall>.<id>`), at most `max` of them (incidents first).
 */
export function pictureOf(units: Iterable<Unit>, incidents: Iterable<Incident>, o: { hall: string; skipFeeds: ReadonlySet<string>; max: number }): CotOut[] {
  const out: CotOut[] = [];
  for (const i of incidents) {
    if (i.status !== 'open') continue;
    out.push({
      uid: `beacon.${o.hall}.${i.id}`,
      type: INCIDENT_TYPE,
      lat: i.lat,
      lon: i.lon,
      hae: null,
      callsign: i.title,
      remarks: `突发事件 ${i.severity}级 · ${i.kind} · ${i.reportedBy}`,
      group: null,
      battery: null,
      course: null,
      speed: null,
      color: SEVERITY_COLOR[i.severity],
    });
  }
  for (const u of units) {
    if (out.length >= o.max) break;
    const type = KIND_TYPE[u.kind];
    if (!type || (u.track && o.skipFeeds.has(u.track.feed))) continue;
    out.push({
      uid: `beacon.${o.hall}.${u.id}`,
      type,
      lat: u.lat,
      lon: u.lon,
      hae: u.alt,
      callsign: u.name.zh,
      remarks: `${KIND_ZH[u.kind] ?? u.kind} · ${STATUS_ZH[u.status]}${u.members ? ` · ${u.members}人` : ''}`,
      group: null,
      battery: u.track?.battery ?? null,
      course: u.track?.heading ?? null,
      speed: u.track?.speed ?? null,
      color: null,
    });
  }
  return out.slice(0, o.max);
}

export function deletion(uid: string, type: string): CotOut {
  return { uid: `${uid}.delete`, type: 't-x-d-d', lat: 0, lon: 0, hae: null, callsign: '', remarks: '', group: null, battery: null, course: null, speed: null, color: null, deletes: { uid, type } };
}

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The detail as XML (the whole of it for XML, what has no typed field for TAK Protocol). */
function detailXml(e: CotOut, typed: boolean): string {
  if (e.deletes) return `<link uid="${esc(e.deletes.uid)}" relation="none" type="${esc(e.deletes.type)}"/><__forcedelete/>`;
  let x = '';
  if (!typed) {
    x += `<contact callsign="${esc(e.callsign)}"/>`;
    if (e.group) x += `<__group name="${esc(e.group)}" role="Team Member"/>`;
    if (e.battery !== null) x += `<status battery="${Math.round(e.battery)}"/>`;
    if (e.course !== null || e.speed !== null) x += `<track course="${e.course ?? 0}" speed="${e.speed ?? 0}"/>`;
  }
  if (e.remarks) x += `<remarks>${esc(e.remarks)}</remarks>`;
  if (e.color !== null) x += `<color argb="${e.color}"/>`;
  // what ATAK shows a read-only item as: not editable, from the hall
  x += `<archive/><link uid="beacon" type="a-f-G-U-C-I" relation="p-p"/>`;
  return x;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function toXml(e: CotOut, now: number, staleMs: number): string {
  const t = iso(now);
  return (
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<event version="2.0" uid="${esc(e.uid)}" type="${e.type}" how="m-g" time="${t}" start="${t}" stale="${iso(now + staleMs)}">` +
    `<point lat="${e.lat}" lon="${e.lon}" hae="${e.hae ?? UNKNOWN}" ce="${UNKNOWN}" le="${UNKNOWN}"/><detail>${detailXml(e, false)}</detail></event>`
  );
}

export function toTak(e: CotOut, now: number, staleMs: number): Uint8Array {
  return encodeTakMessage({
    cotEvent: {
      type: e.type,
      uid: e.uid,
      how: 'm-g',
      sendTime: now,
      startTime: now,
      staleTime: now + staleMs,
      lat: e.lat,
      lon: e.lon,
      hae: e.hae ?? UNKNOWN,
      ce: UNKNOWN,
      le: UNKNOWN,
      detail: {
        xmlDetail: detailXml(e, !e.deletes),
        ...(e.deletes
          ? {}
          : {
              contact: { callsign: e.callsign },
              ...(e.group ? { group: { name: e.group, role: 'Team Member' } } : {}),
              ...(e.battery !== null ? { status: { battery: Math.round(e.battery) } } : {}),
              ...(e.course !== null || e.speed !== null ? { track: { course: e.course ?? 0, speed: e.speed ?? 0 } } : {}),
            }),
      },
    },
  });
}

/** A connection that sends the hall's picture: `send` takes a round of events. */
export interface PictureOut extends FeedAdapter {
  send(events: CotOut[], now: number, staleMs: number): number;
}

type TakServerConfig = Extract<FeedConfig, { kind: 'tak-server' }>;
type TakMeshConfig = Extract<FeedConfig, { kind: 'tak-mesh' }>;

/** Hears what a peer sends (a TAK server's relay, a mesh's SA) with the CoT feeds' parser; the hall's
 *  own events coming back (a mesh hears itself; some servers echo) are not heard again. */
function hear(sink: FeedSink, decoded: Decoded[], self: string): void {
  const reports: PositionReport[] = [];
  const alerts: AlertReport[] = [];
  let ok = 0;
  let unused = 0;
  for (const d of decoded) {
    if (!d.ok) {
      sink.rejected(d.reason, d.message);
      continue;
    }
    ok++;
    if (d.unused || d.takRequest !== undefined) unused++;
    if (d.alert && !d.alert.source.startsWith(self)) alerts.push(d.alert);
    for (const r of d.reports) if (!r.source.startsWith(self)) reports.push(r);
  }
  if (ok > 0) sink.message(reports, ok, unused);
  for (const a of alerts) sink.alert(a);
}

/** The hall as a TAK server's client: XML out (every TAK server reads it), XML or TAK Protocol in. */
export class TakServerAdapter implements PictureOut {
  readonly endpoint: string;
  private sock: Socket | null = null;
  private readonly parser = new CotParser();
  private readonly c: TakServerConfig;
  private readonly sink: FeedSink;
  private readonly now: () => number;
  private readonly self: string;

  constructor(c: TakServerConfig, sink: FeedSink, now: () => number, hall: string) {
    this.c = c;
    this.sink = sink;
    this.now = now;
    this.self = `beacon.${hall}.`;
    this.endpoint = `${c.certFile ? 'tls' : 'tcp'}://${c.host}:${c.port}`;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const c = this.c;
      let s: Socket;
      const onConnect = () => {
        s.off('error', onError);
        s.setNoDelay(true);
        s.setKeepAlive(true, 30_000);
        const framer = new CotFramer();
        s.on('data', (chunk: Buffer) => {
          const { events, overflow } = framer.push(chunk);
          hear(
            this.sink,
            events.map((e) => (typeof e === 'string' ? this.parser.parse(e, this.now(), c.teamKind) : this.parser.parseTak(e, this.now(), c.teamKind))),
            this.self,
          );
          if (overflow) s.destroy(new Error('over 256 KiB without the end of an event'));
        });
        s.on('error', () => undefined); // 'close' follows
        s.on('close', () => {
          if (this.sock === s) {
            this.sock = null;
            this.sink.lost(new Error('the TAK server closed the connection'));
          }
        });
        this.sock = s;
        resolve();
      };
      const onError = (err: NodeJS.ErrnoException) => {
        s.destroy();
        reject(new FeedOpenError(`${this.endpoint}: ${err.message}`, fatalSocketError(err)));
      };
      try {
        s = c.certFile
          ? tlsConnect({ host: c.host, port: c.port, cert: readFileSync(c.certFile), key: readFileSync(c.keyFile!), ca: readFileSync(c.caFile!), minVersion: 'TLSv1.2' }, onConnect)
          : connect({ host: c.host, port: c.port }, onConnect);
      } catch (e) {
        return reject(new FeedOpenError(`${this.endpoint}: ${(e as Error).message}`, true));
      }
      s.once('error', onError);
      s.setTimeout(10_000, () => s.destroy(new Error('no answer in 10 s')));
      s.once('connect', () => s.setTimeout(0));
    });
  }

  send(events: CotOut[], now: number, staleMs: number): number {
    const s = this.sock;
    if (!s || s.destroyed) return 0;
    // a server that does not read is not fed without end: a round waits until the last has gone
    if (s.writableLength > 4 * 1024 * 1024) return 0;
    s.write(events.map((e) => toXml(e, now, staleMs)).join(''));
    return events.length;
  }

  async close(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    s?.destroy();
  }
}

/** A TAK mesh: hears the group, sends the picture to it, one event per datagram. */
export class TakMeshAdapter implements PictureOut {
  readonly endpoint: string;
  private sock: UdpSocket | null = null;
  private readonly parser = new CotParser();
  private readonly c: TakMeshConfig;
  private readonly sink: FeedSink;
  private readonly now: () => number;
  private readonly self: string;

  constructor(c: TakMeshConfig, sink: FeedSink, now: () => number, hall: string) {
    this.c = c;
    this.sink = sink;
    this.now = now;
    this.self = `beacon.${hall}.`;
    this.endpoint = `udp://${c.group}:${c.port}`;
  }

  get boundPort(): number {
    return (this.sock?.address() as { port: number } | undefined)?.port ?? this.c.port;
  }

  open(): Promise<void> {
    const c = this.c;
    return new Promise((resolve, reject) => {
      const s = createSocket({ type: isIPv6(c.group) ? 'udp6' : 'udp4', reuseAddr: true });
      const onError = (err: NodeJS.ErrnoException) => {
        s.close();
        reject(new FeedOpenError(`cannot join ${this.endpoint}: ${err.message}`, fatalSocketError(err)));
      };
      s.once('error', onError);
      s.on('message', (msg) => {
        const now = this.now();
        const mesh = meshPayload(msg);
        const d: Decoded =
          mesh === null
            ? this.parser.parse(msg.toString('utf8'), now, c.teamKind)
            : mesh.version === 1
              ? this.parser.parseTak(mesh.payload, now, c.teamKind)
              : { ok: false, reason: 'bad_frame', message: `TAK Protocol version ${mesh.version} (this hall reads 1)` };
        hear(this.sink, [d], this.self);
      });
      s.bind(c.port, () => {
        try {
          const group = c.group;
          const multicast = isIPv4(group) ? Number(group.split('.')[0]) >= 224 && Number(group.split('.')[0]) <= 239 : group.toLowerCase().startsWith('ff');
          if (multicast) {
            s.addMembership(group, c.host);
            if (c.host) s.setMulticastInterface(c.host);
            s.setMulticastLoopback(true);
          }
        } catch (e) {
          onError(e as NodeJS.ErrnoException);
          return;
        }
        s.off('error', onError);
        s.on('error', (err) => this.sink.lost(err));
        this.sock = s;
        resolve();
      });
    });
  }

  send(events: CotOut[], now: number, staleMs: number): number {
    const s = this.sock;
    if (!s) return 0;
    for (const e of events) {
      const datagram = this.c.protocol === 'tak' ? meshFrame(toTak(e, now, staleMs)) : Buffer.from(toXml(e, now, staleMs));
      s.send(datagram, this.c.port, this.c.group);
    }
    return events.length;
  }

  async close(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** Per feed: what was last sent, so what left the picture is deleted on the TAK side. */
export class PictureRound {
  private sent = new Map<string, string>();
  lastAt = 0;

  /** This round's events: the picture, and a deletion for each item sent before and gone now. */
  next(picture: CotOut[]): CotOut[] {
    const now = new Map(picture.map((e) => [e.uid, e.type]));
    const gone = [...this.sent].filter(([uid]) => !now.has(uid)).map(([uid, type]) => deletion(uid, type));
    this.sent = now;
    return [...picture, ...gone];
  }
}
