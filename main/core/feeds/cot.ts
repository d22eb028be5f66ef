// Teams over Cursor-on-Target: the XML `event` that ATAK, WinTAK, iTAK and TAK servers send, on TCP
// (a stream of events, one after another) and UDP (one event per datagram).
//
// Parsing is strict XML (xml.ts) and hostile input is refused before it can cost anything: a DOCTYPE
// or entity declaration is refused outright (no XXE, no billion laughs: only the five predefined
// entities exist), an event larger than MAX_EVENT_BYTES is refused, and on TCP a sender that streams
// more than that without closing an event is disconnected.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:tls';
import type { Socket as UdpSocket } from 'node:dgram';
import type { TeamKind, UnitKind } from '../../../common/domain.ts';
import { peerFilter, type FeedAdapter, FeedOpenError, type FeedSink, fatalSocketError, listenUdp } from './adapter.ts';
import { type AlertReport, type Decoded, reject, type PositionReport } from './report.ts';
import { decodeTakMessage, readVarint, TAK_MAGIC, type TakMessage } from './takproto.ts';
import { parseXml, XmlError, type XmlElement } from './xml.ts';

export const MAX_EVENT_BYTES = 256 * 1024;
/** CoT's "unknown" for hae, ce and le: ATAK writes 9999999, TAK's .proto comments say 999999. */
const UNKNOWN = 999999;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)$/;
/** A sender's clock may run ahead of the hall's; beyond this its times are wrong, not early. */
const MAX_CLOCK_AHEAD_MS = 10 * 60_000;
/** A report this old is a replay or a stuck clock, not a live position. */
const MAX_AGE_MS = 24 * 3600_000;

interface Raw {
  event: Record<string, string>;
  point: Record<string, string> | null;
  contact: Record<string, string> | null;
  group: Record<string, string> | null;
  track: Record<string, string> | null;
  status: Record<string, string> | null;
  link: Record<string, string> | null;
  emergency: Record<string, string> | null;
}

/** One event's text (a TCP frame or a UDP datagram) to a report, or the reason it is refused. */
export class CotParser {
  parse(text: string, now: number, teamKind: TeamKind = 'professional'): Decoded {
    // (UTF-8 is at most 3 bytes per UTF-16 unit: only a long text needs its bytes counted.)
    if (text.length * 3 > MAX_EVENT_BYTES && Buffer.byteLength(text) > MAX_EVENT_BYTES) return reject('too_large', `event of ${Buffer.byteLength(text)} bytes (limit ${MAX_EVENT_BYTES})`);
    const body = text.trimStart();
    if (!body.startsWith('<')) return reject('not_xml', `starts with ${JSON.stringify(body.slice(0, 16))}`);
    // A DOCTYPE or ENTITY declaration anywhere is refused by the parser as 'doctype' before it is
    // read: a DTD has no business in CoT, and this is where XXE and entity expansion live.
    let root: XmlElement;
    try {
      root = parseXml(body, 3);
    } catch (e) {
      if (e instanceof XmlError) return reject(e.reason, e.message.slice(0, 200));
      throw e;
    }
    if (root.name !== 'event') return reject('not_event', `root element is <${root.name.slice(0, 40)}>, not <event>`);
    const raw: Raw = { event: root.attrs, point: null, contact: null, group: null, track: null, status: null, link: null, emergency: null };
    for (const c of root.children) {
      if (c.name === 'point') raw.point ??= c.attrs;
      else if (c.name === 'detail') readDetail(raw, c.children);
    }
    // a TAK client asking to switch this stream to TAK Protocol (protocol.txt, negotiation step 5)
    if (raw.event.type === 't-x-takp-q') return { ok: true, reports: [], takRequest: takRequestOf(body) };
    return toReport(raw, now, teamKind);
  }

  /** One TAK Protocol payload (a TakMessage, its header already read): the same checks as XML. */
  parseTak(payload: Uint8Array, now: number, teamKind: TeamKind = 'professional'): Decoded {
    if (payload.length > MAX_EVENT_BYTES) return reject('too_large', `TAK message of ${payload.length} bytes (limit ${MAX_EVENT_BYTES})`);
    let m: TakMessage;
    try {
      m = decodeTakMessage(payload);
    } catch (e) {
      return reject('bad_protobuf', `not a TakMessage: ${(e as Error).message.slice(0, 160)}`);
    }
    const e = m.cotEvent;
    if (!e) return { ok: true, reports: [], unused: true }; // TakControl alone: which versions the sender reads
    const iso = (ms: number | undefined) => (ms !== undefined && ms > 0 && ms < 8.64e15 ? new Date(ms).toISOString() : '');
    const s = (v: number | undefined) => (v === undefined ? '0' : String(v));
    const raw: Raw = {
      event: { uid: e.uid ?? '', type: e.type ?? '', how: e.how ?? '', time: iso(e.sendTime), start: iso(e.startTime), stale: iso(e.staleTime) },
      // proto3 leaves out zeros: an absent coordinate is 0
      point: { lat: s(e.lat), lon: s(e.lon), hae: s(e.hae), ce: s(e.ce), le: s(e.le) },
      contact: null,
      group: null,
      track: null,
      status: null,
      link: null,
      emergency: null,
    };
    const d = e.detail;
    if (d) {
      // the rest of <detail> as XML, read as strictly as an XML event's; per protocol.txt what it
      // holds wins over the typed messages
      if (d.xmlDetail) {
        let detail: XmlElement;
        try {
          detail = parseXml(`<detail>${d.xmlDetail}</detail>`, 2);
        } catch (err) {
          if (err instanceof XmlError) return reject(err.reason, `xmlDetail: ${err.message.slice(0, 200)}`);
          throw err;
        }
        readDetail(raw, detail.children);
      }
      if (d.contact) raw.contact ??= { callsign: d.contact.callsign ?? '' };
      if (d.group) raw.group ??= { name: d.group.name ?? '' };
      if (d.track) raw.track ??= { course: s(d.track.course), speed: s(d.track.speed) };
      if (d.status?.battery !== undefined) raw.status ??= { battery: String(d.status.battery) };
    }
    if (raw.event.type === 't-x-takp-q') return { ok: true, reports: [], unused: true };
    return toReport(raw, now, teamKind);
  }
}

function readDetail(raw: Raw, children: readonly XmlElement[]): void {
  for (const d of children) {
    if (d.name === 'contact') raw.contact ??= d.attrs;
    else if (d.name === '__group') raw.group ??= d.attrs;
    else if (d.name === 'track') raw.track ??= d.attrs;
    else if (d.name === 'status') raw.status ??= d.attrs;
    else if (d.name === 'link') raw.link ??= d.attrs;
    else if (d.name === 'emergency') raw.emergency ??= d.attrs;
  }
}

/** The version a t-x-takp-q asks for (<TakControl><TakRequest version="1"/>), or 0. */
function takRequestOf(body: string): number {
  const detail = parseXml(body, 4).children.find((c) => c.name === 'detail');
  const req = detail?.children.find((c) => c.name === 'TakControl')?.children.find((c) => c.name === 'TakRequest');
  const v = Number(req?.attrs.version);
  return Number.isInteger(v) && v > 0 ? v : 0;
}

function num(v: string | undefined): number | null {
  if (v === undefined || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const digits = (v: string, at: number, n: number): number => {
  let x = 0;
  for (let k = at; k < at + n; k++) {
    const c = v.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
};

/** ISO 8601 to epoch ms, or null. TAK devices send `YYYY-MM-DDThh:mm:ss[.fff…]Z`, three per event:
 *  that form is read digit by digit (a regex and Date.parse per field cost a tenth of the decoder
 *  at 20,000 events a second); any other zone goes the general way. A date that does not exist
 *  (30 February) is refused either way. */
function time(v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = v.length;
  if (n >= 20 && v.charCodeAt(n - 1) === 90 /* Z */ && v[4] === '-' && v[7] === '-' && v[10] === 'T' && v[13] === ':' && v[16] === ':') {
    const y = digits(v, 0, 4);
    const mo = digits(v, 5, 2);
    const d = digits(v, 8, 2);
    const h = digits(v, 11, 2);
    const mi = digits(v, 14, 2);
    const sec = digits(v, 17, 2);
    let ms = 0;
    if (n > 20) {
      if (v[19] !== '.' || n - 21 > 9) return null;
      const frac = digits(v, 20, n - 21);
      if (frac < 0) return null;
      ms = Math.floor(frac / 10 ** (n - 21 - 3));
    }
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return null;
    const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
    if (d > DAYS[mo - 1]! || (mo === 2 && d === 29 && !leap)) return null;
    return Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  }
  if (!ISO.test(v)) return null;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : null;
}

/** CoT type → unit kind: air tracks are aviation, ground equipment is a vehicle, other friendly
 *  ground units are teams of the feed's kind. */
/**
 * CoT type → unit kind. The second letter is the affiliation (MIL-STD-2525 standard identity): f
 * friend, a assumed friend; h hostile, s suspect, j joker, k faker; u unknown, p pending; n
 * neutral. Only friends are the hall's units; the rest are markers (a pin "Assault Team 3" that an
 * ATAK user dropped is not a rescue team), drawn as such and never counted as forces.
 */
export function kindOfType(type: string, teamKind: TeamKind): UnitKind {
  const affiliation = type[2];
  if (affiliation === 'h' || affiliation === 's' || affiliation === 'j' || affiliation === 'k') return 'marker-hostile';
  if (affiliation === 'n') return 'marker-neutral';
  if (affiliation !== 'f' && affiliation !== 'a') return 'marker-unknown';
  if (/^a-[fa]-A/.test(type)) return 'aviation';
  if (/^a-[fa]-G-E-V/.test(type)) return 'vehicle';
  return teamKind;
}

function toReport(r: Raw, now: number, teamKind: TeamKind): Decoded {
  const e = r.event;
  const uid = e.uid ?? '';
  if (uid.length === 0 || uid.length > 128) return reject('bad_uid', `uid ${JSON.stringify(uid.slice(0, 40))} (1-128 characters)`);
  const type = e.type ?? '';
  if (!/^[\w.-]{1,64}$/.test(type)) return reject('bad_type', `type ${JSON.stringify(type.slice(0, 40))}`);
  const alert = type.startsWith('b-a-o');
  // Atoms (a-…) are things on the map and b-a-o-… are emergencies; chat, receipts, routes, pings and
  // drawings are understood and not used (they keep the feed alive).
  if (!type.startsWith('a-') && !alert) return { ok: true, reports: [], unused: true };
  const t = time(e.time);
  const start = time(e.start);
  const stale = time(e.stale);
  if (t === null || start === null || stale === null) return reject('bad_time', `time/start/stale must be ISO 8601 (${e.time}, ${e.start}, ${e.stale})`);
  if (stale < start) return reject('bad_time', `stale ${e.stale} before start ${e.start}`);
  if (t > now + MAX_CLOCK_AHEAD_MS) return reject('bad_time', `time ${e.time} is in the future`);
  if (t < now - MAX_AGE_MS) return reject('bad_time', `time ${e.time} is more than a day old`);
  if (!r.point) return reject('no_point', `event ${uid} has no <point>`);
  const lat = num(r.point.lat);
  const lon = num(r.point.lon);
  if (lat === null || lon === null || !(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180)) return reject('bad_coordinates', `uid ${uid}: lat ${r.point.lat}, lon ${r.point.lon}`);
  const hae = num(r.point.hae);
  const ce = num(r.point.ce);
  if (Number.isNaN(hae) || Number.isNaN(ce) || (hae !== null && hae < UNKNOWN && Math.abs(hae) > 20000)) return reject('bad_coordinates', `uid ${uid}: hae ${r.point.hae}, ce ${r.point.ce}`);
  // (0, 0) is a device without a fix yet, as MAVLink and DJI report it: heard, not placed (#19 point 8)
  const fix = !(lat === 0 && lon === 0);
  if (alert) return { ok: true, reports: [], alert: alertOf(r, uid, type, fix ? { lat, lon } : null) };
  const course = num(r.track?.course);
  const speed = num(r.track?.speed);
  const callsign = r.contact?.callsign?.slice(0, 128) || null;
  const battery = num(r.status?.battery);
  const report: PositionReport = {
    source: uid,
    kind: kindOfType(type, teamKind),
    name: callsign ? { zh: callsign, en: callsign } : undefined,
    ...(fix ? { lat, lon } : {}),
    alt: !fix || hae === null || hae >= UNKNOWN ? null : hae,
    ce: ce === null || ce >= UNKNOWN || ce < 0 ? null : ce,
    // a course of -90 is 270 (some senders write signed degrees), not no course (#19 point 8)
    heading: course !== null && Number.isFinite(course) && Math.abs(course) <= 720 ? ((course % 360) + 360) % 360 : null,
    speed: speed !== null && speed >= 0 && speed < 2000 ? speed : null,
    callsign,
    group: r.group?.name?.slice(0, 128) || null,
    // Stale as the sender says, on the hall's clock (the sender's may be off), at most a day ahead.
    staleAt: now + Math.min(Math.max(0, stale - t), MAX_AGE_MS),
    battery: battery !== null && battery >= 0 && battery <= 100 ? battery : undefined,
  };
  return { ok: true, reports: [report] };
}

/** ATAK's names for its emergency types, where the event does not say (`<emergency type=…>`). */
const ALERT_LABELS: Record<string, string> = {
  'b-a-o-tbl': '911 Alert',
  'b-a-o-pan': 'Ring The Bell',
  'b-a-o-opn': 'In Contact',
  'b-a-o-c': 'Custom',
  'b-a-o-can': 'Cancel',
};

/** An emergency event (`b-a-o-…`): raised, repeated, or cancelled (`b-a-o-can`, or any with
 *  `<emergency cancel="true">`). ATAK names the callsign "<callsign>-Alert": the person is the callsign. */
function alertOf(r: Raw, uid: string, type: string, at: { lat: number; lon: number } | null): AlertReport {
  const cancel = type === 'b-a-o-can' || r.emergency?.cancel === 'true';
  const callsign =
    r.contact?.callsign
      ?.replace(/-Alert$/, '')
      .split('\n')[0]!
      .trim()
      .slice(0, 128) || null;
  return {
    source: uid,
    cancel,
    type,
    label: (r.emergency?.type?.trim() || ALERT_LABELS[type] || 'Alert').slice(0, 128),
    sender: r.link?.uid?.slice(0, 128) || null,
    callsign,
    ...(at ?? {}),
  };
}

const END_EVENT = Buffer.from('</event>');

/**
 * Splits a TCP stream into messages, XML and TAK Protocol alike (a client switches after
 * negotiating, and a TAK server may relay both). XML: TAK senders put no delimiter between events,
 * so an event ends at its `</event>`; whatever precedes the next `<event` (an XML declaration,
 * whitespace) goes with it. TAK Protocol: 0xbf, the payload's length as a varint, the payload.
 * Bytes, not text: a character cut across two reads is whole once its event is.
 */
export class CotFramer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly max: number;
  constructor(max = MAX_EVENT_BYTES) {
    this.max = max;
  }
  /** The complete messages in what arrived: XML events as text, TAK payloads as bytes. `overflow`
   *  when a sender exceeded the limit without ending one (or announced a longer TAK message). */
  push(chunk: Buffer | string): { events: (string | Uint8Array)[]; overflow: boolean } {
    const more = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.buf = this.buf.length ? Buffer.concat([this.buf, more]) : more;
    const events: (string | Uint8Array)[] = [];
    let at = 0;
    for (;;) {
      let lead = at;
      while (lead < this.buf.length && (this.buf[lead] === 0x20 || this.buf[lead] === 0x0a || this.buf[lead] === 0x0d || this.buf[lead] === 0x09)) lead++;
      if (lead < this.buf.length && this.buf[lead] === TAK_MAGIC) {
        const len = readVarint(this.buf, lead + 1);
        if (!len) break; // the header is not all here yet
        if (!(len.value <= this.max)) return this.overflow(events);
        const from = lead + 1 + len.length;
        if (this.buf.length < from + len.value) break;
        events.push(this.buf.subarray(from, from + len.value));
        at = from + len.value;
        continue;
      }
      const end = this.buf.indexOf(END_EVENT, lead);
      if (end < 0) break;
      events.push(this.buf.toString('utf8', at, end + END_EVENT.length));
      at = end + END_EVENT.length;
    }
    this.buf = at === 0 ? this.buf : this.buf.subarray(at);
    if (this.buf.length > this.max + 16) return this.overflow(events);
    return { events, overflow: false };
  }
  private overflow(events: (string | Uint8Array)[]): { events: (string | Uint8Array)[]; overflow: boolean } {
    this.buf = Buffer.alloc(0);
    return { events, overflow: true };
  }
  get pending(): number {
    return this.buf.length;
  }
}

/** A TAK Protocol mesh message (UDP): 0xbf, the version, 0xbf, the payload. Null when the datagram
 *  is not one (XML). */
export function meshPayload(msg: Buffer): { version: number; payload: Buffer } | null {
  if (msg.length < 3 || msg[0] !== TAK_MAGIC) return null;
  const v = readVarint(msg, 1);
  if (!v || msg[1 + v.length] !== TAK_MAGIC) return { version: NaN, payload: msg };
  return { version: v.value, payload: msg.subarray(2 + v.length) };
}

/** What a hall listening for TAK clients says first, and answers (protocol.txt, "Streaming Connection
 *  Protocol Negotiation"): it offers version 1, and accepts a request for it. */
export function takNegotiation(kind: 'offer' | 'accept' | 'refuse', uid: string, now: number): string {
  const t = new Date(now).toISOString();
  const stale = new Date(now + 60_000).toISOString();
  const type = kind === 'offer' ? 't-x-takp-v' : 't-x-takp-r';
  const control = kind === 'offer' ? '<TakProtocolSupport version="1"/>' : `<TakResponse status="${kind === 'accept'}"/>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<event version="2.0" uid="${uid}" type="${type}" time="${t}" start="${t}" stale="${stale}" how="m-g"><point lat="0.0" lon="0.0" hae="0.0" ce="999999" le="999999"/><detail><TakControl>${control}</TakControl></detail></event>`;
}

export interface CotOptions {
  host: string;
  port: number;
  teamKind?: TeamKind;
  now?: () => number;
  /** Senders connected at once (a county's teams; a TAK server's clients). @default 1024 */
  maxConnections?: number;
  /** From one address (a TAK server relaying many is one address: room for it). @default 256 */
  maxPerAddress?: number;
  /** A connection that sends nothing this long is closed (ATAK reports every few seconds and
   *  reconnects by itself). @default 300000 */
  idleMs?: number;
  /** Unfinished events held across every connection: past it, the connection that grew it goes. @default 16 MiB */
  maxPendingBytes?: number;
  /** Only these senders are heard (addresses, CIDR blocks); absent: anyone who reaches the port. */
  allowFrom?: readonly string[];
  /** TLS as TAK servers do (8089): our certificate and key, and the CA whose client certificates
   *  are heard; a device without one is refused in the handshake (counted tls_refused). */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

/** A TAK-style CoT input: a TCP listener, any number of senders, each a stream of events. */
export class CotTcpAdapter implements FeedAdapter {
  readonly endpoint: string;
  private server: Server | null = null;
  private readonly sockets = new Set<TcpSocket>();
  private readonly o: CotOptions;
  private readonly sink: FeedSink;
  private readonly parser = new CotParser();
  private readonly perAddress = new Map<string, number>();
  private readonly allowed: ((address: string) => boolean) | null;
  private readonly pending = new Map<TcpSocket, number>();
  private pendingTotal = 0;

  constructor(o: CotOptions, sink: FeedSink) {
    this.o = o;
    this.sink = sink;
    this.endpoint = `${o.tls ? 'tls' : 'tcp'}://${o.host}:${o.port}`;
    this.allowed = peerFilter(o.allowFrom);
  }

  /** Bytes of unfinished events held now, across all connections. */
  get pendingBytes(): number {
    return this.pendingTotal;
  }

  get boundPort(): number {
    return (this.server?.address() as { port: number } | null)?.port ?? this.o.port;
  }

  get connections(): number {
    return this.sockets.size;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let server: Server;
      if (this.o.tls) {
        let creds: { cert: Buffer; key: Buffer; ca: Buffer };
        try {
          creds = { cert: readFileSync(this.o.tls.certFile), key: readFileSync(this.o.tls.keyFile), ca: readFileSync(this.o.tls.caFile) };
        } catch (e) {
          return reject(new FeedOpenError(`TLS: ${(e as Error).message}`, true));
        }
        try {
          server = createTlsServer({ ...creds, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (sock) => this.accept(sock));
        } catch (e) {
          return reject(new FeedOpenError(`TLS: ${(e as Error).message}`, true));
        }
        server.on('tlsClientError', (err: Error, sock: TcpSocket) => this.sink.rejected('tls_refused', `${sock.remoteAddress ?? '?'}: ${err.message}`));
      } else server = createServer((sock) => this.accept(sock));
      const onError = (err: NodeJS.ErrnoException) => {
        server.close();
        reject(new FeedOpenError(`cannot listen on ${this.endpoint}: ${err.message}`, fatalSocketError(err)));
      };
      server.once('error', onError);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.sink.lost(err));
        this.server = server;
        resolve();
      });
    });
  }

  private accept(sock: TcpSocket): void {
    const address = sock.remoteAddress ?? '?';
    if (this.allowed && !this.allowed(address)) {
      this.sink.rejected('peer_refused', `${address}: not on this feed's allowFrom list`);
      sock.destroy();
      return;
    }
    const held = this.perAddress.get(address) ?? 0;
    if (this.sockets.size >= (this.o.maxConnections ?? 1024) || held >= (this.o.maxPerAddress ?? 256)) {
      this.sink.rejected('too_many_connections', `${address}: ${this.sockets.size} connections (${held} from it); refused`);
      sock.destroy();
      return;
    }
    this.perAddress.set(address, held + 1);
    this.sockets.add(sock);
    sock.setNoDelay(true);
    // a connection that only holds a slot (opened, never speaks) is let go
    sock.setTimeout(this.o.idleMs ?? 300_000, () => {
      this.sink.rejected('idle', `${address}: silent for ${Math.round((this.o.idleMs ?? 300_000) / 1000)} s; disconnected`);
      sock.destroy();
    });
    const framer = new CotFramer();
    const now = this.o.now ?? Date.now;
    // TAK clients switch to TAK Protocol only when offered (ATAK, WinTAK, iTAK); XML-only senders
    // ignore the offer (a t-x- control event)
    const negotiation = `beacon-takp-${randomUUID()}`;
    sock.write(takNegotiation('offer', negotiation, now()));
    sock.on('data', (chunk: Buffer) => {
      const { events, overflow } = framer.push(chunk);
      this.pendingTotal += framer.pending - (this.pending.get(sock) ?? 0);
      this.pending.set(sock, framer.pending);
      if (this.pendingTotal > (this.o.maxPendingBytes ?? 16 * 1024 * 1024)) {
        // many senders each holding part of an event add up: the one that went over goes
        this.sink.rejected('too_large', `${address}: unfinished events across all senders over ${this.o.maxPendingBytes ?? 16 * 1024 * 1024} bytes; disconnected`);
        sock.destroy();
        return;
      }
      const reports: PositionReport[] = [];
      const alerts: AlertReport[] = [];
      let ok = 0;
      let unused = 0;
      for (const ev of events) {
        const d = typeof ev === 'string' ? this.parser.parse(ev, now(), this.o.teamKind) : this.parser.parseTak(ev, now(), this.o.teamKind);
        if (d.ok) {
          ok++;
          if (d.unused) unused++;
          // the client asks to switch: version 1 is accepted, anything else refused (it stays on XML)
          if (d.takRequest !== undefined) sock.write(takNegotiation(d.takRequest === 1 ? 'accept' : 'refuse', negotiation, now()));
          if (d.alert) alerts.push(d.alert);
          for (const r of d.reports) reports.push(r);
        } else this.sink.rejected(d.reason, `${sock.remoteAddress}: ${d.message}`);
      }
      if (ok > 0) this.sink.message(reports, ok, unused);
      for (const a of alerts) this.sink.alert(a);
      if (overflow) {
        // A sender streaming without ever closing an event is broken or hostile: hang up on it
        // (a TAK client reconnects) rather than buffer without end.
        this.sink.rejected('too_large', `${sock.remoteAddress}: over ${MAX_EVENT_BYTES} bytes without </event> (or a TAK message announced longer); disconnected`);
        sock.destroy();
      }
    });
    sock.on('error', () => undefined); // a sender vanishing is its business; the close below cleans up
    sock.on('close', () => {
      this.sockets.delete(sock);
      this.pendingTotal -= this.pending.get(sock) ?? 0;
      this.pending.delete(sock);
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n > 0) this.perAddress.set(address, n);
      else this.perAddress.delete(address);
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** CoT over UDP: one event per datagram (TAK's "SA" and mesh inputs). */
export class CotUdpAdapter implements FeedAdapter {
  readonly endpoint: string;
  private socket: UdpSocket | null = null;
  private readonly o: CotOptions;
  private readonly sink: FeedSink;
  private readonly parser = new CotParser();

  constructor(o: CotOptions, sink: FeedSink) {
    this.o = o;
    this.sink = sink;
    this.endpoint = `udp://${o.host}:${o.port}`;
  }

  get boundPort(): number {
    return (this.socket?.address() as { port: number } | undefined)?.port ?? this.o.port;
  }

  async open(): Promise<void> {
    this.socket = await listenUdp(
      this.o.host,
      this.o.port,
      this.endpoint,
      this.sink,
      (msg, rinfo) => {
        const now = (this.o.now ?? Date.now)();
        // TAK Protocol mesh (0xbf <version> 0xbf <TakMessage>) or XML, datagram by datagram
        const mesh = meshPayload(msg);
        const d =
          mesh === null
            ? this.parser.parse(msg.toString('utf8'), now, this.o.teamKind)
            : mesh.version === 1
              ? this.parser.parseTak(mesh.payload, now, this.o.teamKind)
              : reject('bad_frame', Number.isNaN(mesh.version) ? 'a TAK Protocol header without its second 0xbf' : `TAK Protocol version ${mesh.version} (this hall reads 1)`);
        if (!d.ok) return this.sink.rejected(d.reason, `${rinfo.address}: ${d.message}`);
        this.sink.message(d.reports, 1, d.unused ? 1 : 0);
        if (d.alert) this.sink.alert(d.alert);
      },
      peerFilter(this.o.allowFrom),
    );
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
