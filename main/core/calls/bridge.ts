// The conference bridge that mixes a consultation (会商, issue 22). In production it is the platform's
// MCU; the adapter here speaks the Janus AudioBridge API (WebSocket, `janus-protocol`), which the tests
// run from Debian's `janus` package, standing for it.
//
// How a participant joins, by third-party call control (RFC 3725, flow I): the hall sends the far end
// an INVITE without a session description; the far end offers in its 200; the hall joins the bridge as
// a plain-RTP participant aimed at that offer, and answers in the ACK with the bridge's own address. So
// the media goes far end <-> bridge directly, never through the hall. The officer's headset joins as a
// WebRTC participant (its offer, the bridge's answer). Who speaks comes from the bridge's voice
// activity (RFC 6464 levels; Janus 1.1 reads them from WebRTC members only), mute from its moderation.
// A frame from the bridge that is not JSON, and a request it leaves unanswered, count as `errors`.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

export interface BridgeEvents {
  /** A participant started or stopped speaking, was muted or unmuted, or left the room. */
  participant(room: string, leg: string, change: { talking?: boolean; muted?: boolean; left?: true }): void;
  /** The bridge's connection came up or went down (then every room on it is gone). */
  state(up: boolean, detail: string): void;
}

interface Pending {
  resolve: (m: JanusMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface JanusMessage {
  janus: string;
  transaction?: string;
  session_id?: number;
  sender?: number;
  data?: { id: number };
  error?: { code: number; reason: string };
  plugindata?: { plugin: string; data: Record<string, unknown> };
  jsep?: { type: string; sdp: string };
}

/** What the far end offered, read from its SDP: where it wants audio, in which codec. */
export interface RtpOffer {
  ip: string;
  port: number;
  codec: 'pcmu' | 'pcma' | 'opus';
  pt: number;
  /** The RFC 6464 audio-level extension's id, when offered. */
  levelExt: number | null;
  /** Other media lines (video), answered as refused (port 0): the mix is audio. */
  others: string[];
}

/** Read a plain-RTP audio offer; throws with the reason when the bridge cannot take it. */
export function readRtpOffer(sdp: string): RtpOffer {
  const lines = sdp.split(/\r?\n/);
  let session = '';
  let media: string | null = null;
  let audio: { c: string; port: number; pts: number[]; rtpmap: Map<number, string>; ext: number | null } | null = null;
  const others: string[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) {
      media = l.slice(2).split(' ')[0]!;
      if (media === 'audio' && !audio) {
        const [, port, proto, ...pts] = l.slice(2).split(' ');
        if (proto !== 'RTP/AVP') throw new Error(`the bridge takes plain RTP (RTP/AVP), not ${proto}`);
        audio = { c: session, port: Number(port), pts: pts.map(Number), rtpmap: new Map(), ext: null };
      } else others.push(l);
      continue;
    }
    if (l.startsWith('c=IN IP4 ')) {
      if (media === null) session = l.slice(9).trim();
      else if (media === 'audio' && audio) audio.c = l.slice(9).trim();
    }
    if (media === 'audio' && audio) {
      const rm = /^a=rtpmap:(\d+) ([^/]+)\//.exec(l);
      if (rm) audio.rtpmap.set(Number(rm[1]), rm[2]!.toLowerCase());
      const ex = /^a=extmap:(\d+)(?:\/\w+)? urn:ietf:params:rtp-hdrext:ssrc-audio-level/.exec(l);
      if (ex) audio.ext = Number(ex[1]);
    }
  }
  if (!audio) throw new Error('the offer has no audio');
  if (!audio.c || !/^\d+\.\d+\.\d+\.\d+$/.test(audio.c)) throw new Error('the offer has no IPv4 address');
  if (!Number.isInteger(audio.port) || audio.port <= 0 || audio.port > 65535) throw new Error('the offer has no audio port');
  const name = (pt: number) => audio.rtpmap.get(pt) ?? (pt === 0 ? 'pcmu' : pt === 8 ? 'pcma' : '');
  // G.711 first: every SIP terminal has it, and the bridge needs no transcoding setup for it
  for (const want of ['pcmu', 'pcma', 'opus'] as const) {
    const pt = audio.pts.find((p) => name(p) === want);
    if (pt !== undefined) return { ip: audio.c, port: audio.port, codec: want, pt, levelExt: audio.ext, others };
  }
  throw new Error('the offer has no codec the bridge mixes (PCMU, PCMA, Opus)');
}

/** The codec a WebRTC member joins with: Opus where offered (every browser does), else G.711. */
export function webRtcCodec(offer: string): 'opus' | 'pcmu' | 'pcma' {
  const audio = offer.split(/\r?\nm=/).find((sec) => sec.startsWith('audio ')) ?? '';
  if (/a=rtpmap:\d+ opus\//i.test(audio)) return 'opus';
  if (/a=rtpmap:\d+ PCMU\//i.test(audio) || /^audio \d+ \S+(?: \d+)* 0(?: |$)/m.test(audio)) return 'pcmu';
  return 'pcma';
}

/** The hall's answer in the ACK: the bridge's address, the chosen codec, video refused. */
export function rtpAnswer(o: RtpOffer, at: { ip: string; port: number }): string {
  const sess = Date.now();
  const enc = o.codec === 'opus' ? `opus/48000/2` : o.codec === 'pcmu' ? 'PCMU/8000' : 'PCMA/8000';
  return [
    'v=0',
    `o=beacon-bridge ${sess} ${sess} IN IP4 ${at.ip}`,
    's=Beacon consultation',
    `c=IN IP4 ${at.ip}`,
    't=0 0',
    `m=audio ${at.port} RTP/AVP ${o.pt}`,
    `a=rtpmap:${o.pt} ${enc}`,
    ...(o.levelExt !== null ? [`a=extmap:${o.levelExt} urn:ietf:params:rtp-hdrext:ssrc-audio-level`] : []),
    'a=sendrecv',
    ...o.others.map((m) => m.replace(/^m=(\S+) \d+/, 'm=$1 0')),
    '',
  ].join('\r\n');
}

/** One connection to the bridge: a Janus session, one handle per participant. */
export class JanusBridge {
  private ws: WebSocket | null = null;
  private session = 0;
  private up = false;
  private readonly pending = new Map<string, Pending>();
  /** handle id -> the leg it carries, and its room. */
  private readonly handles = new Map<number, { leg: string; room: string; member: number | null }>();
  private readonly legs = new Map<string, number>();
  private keepalive: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private n = 0;
  readonly counters = { requests: 0, errors: 0, events: 0 };

  private readonly url: string;
  private readonly on: BridgeEvents;
  private readonly timeoutMs: number;

  constructor(url: string, on: BridgeEvents, timeoutMs = 8000) {
    this.url = url;
    this.on = on;
    this.timeoutMs = timeoutMs;
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Connect, and keep reconnecting (a bridge restarted has lost its rooms: the owner is told). */
  start(): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.url, 'janus-protocol', { handshakeTimeout: this.timeoutMs });
      this.ws = ws;
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        resolve();
      };
      ws.on('open', () => {
        this.request({ janus: 'create' })
          .then((m) => {
            this.session = m.data!.id;
            this.up = true;
            this.keepalive = setInterval(() => void this.request({ janus: 'keepalive', session_id: this.session }).catch(() => undefined), 20_000);
            this.keepalive.unref();
            this.on.state(true, 'connected');
          })
          .catch((e: Error) => this.on.state(false, e.message))
          .finally(settle);
      });
      ws.on('message', (d) => this.receive(String(d)));
      ws.on('error', () => undefined);
      ws.on('close', () => {
        settle();
        this.down('the conference bridge closed the connection');
        if (!this.closed) {
          this.retry = setTimeout(() => void this.start(), 3000);
          this.retry.unref();
        }
      });
    });
  }

  private down(detail: string): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(detail));
    }
    this.pending.clear();
    const was = this.up;
    this.up = false;
    for (const h of this.handles.values()) this.on.participant(h.room, h.leg, { left: true });
    this.handles.clear();
    this.legs.clear();
    if (was) this.on.state(false, detail);
  }

  private receive(text: string): void {
    let m: JanusMessage;
    try {
      m = JSON.parse(text) as JanusMessage;
    } catch {
      this.counters.errors++;
      return;
    }
    if (m.janus === 'ack') return;
    const p = m.transaction ? this.pending.get(m.transaction) : undefined;
    if (p) {
      // a plugin's asynchronous request answers with ack, then an event on the same transaction
      this.pending.delete(m.transaction!);
      clearTimeout(p.timer);
      const err = m.error ?? (m.plugindata?.data.error ? { code: Number(m.plugindata.data.error_code ?? 0), reason: String(m.plugindata.data.error) } : null);
      if (err) p.reject(new Error(`conference bridge: ${err.reason} (${err.code})`));
      else p.resolve(m);
      return;
    }
    if (m.janus === 'event' && m.plugindata) this.event(m.plugindata.data);
    if (m.janus === 'hangup' || m.janus === 'detached') {
      const h = m.sender !== undefined ? this.handles.get(m.sender) : undefined;
      if (h && m.janus === 'detached') this.on.participant(h.room, h.leg, { left: true });
    }
  }

  /** Room-wide events arrive on every participant's handle: act on each change once. */
  private event(d: Record<string, unknown>): void {
    this.counters.events++;
    const room = String(d.room ?? '');
    const legOf = (member: unknown) => {
      for (const h of this.handles.values()) if (h.room === room && h.member === Number(member)) return h.leg;
      return null;
    };
    if (d.audiobridge === 'talking' || d.audiobridge === 'stopped-talking') {
      const leg = legOf(d.id);
      if (leg) this.on.participant(room, leg, { talking: d.audiobridge === 'talking' });
    } else if (d.audiobridge === 'event' && Array.isArray(d.participants)) {
      for (const p of d.participants as { id: number; muted?: boolean; talking?: boolean }[]) {
        const leg = legOf(p.id);
        if (leg && typeof p.muted === 'boolean') this.on.participant(room, leg, { muted: p.muted });
      }
    } else if (d.audiobridge === 'event' && d.leaving !== undefined) {
      const leg = legOf(d.leaving);
      if (leg) this.on.participant(room, leg, { left: true });
    }
  }

  private request(body: Record<string, unknown>): Promise<JanusMessage> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('the conference bridge is not connected'));
    const transaction = `b${++this.n}`;
    this.counters.requests++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        this.counters.errors++;
        reject(new Error(`conference bridge: no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(transaction, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...body, transaction }));
    });
  }

  private async attach(): Promise<number> {
    const m = await this.request({ janus: 'attach', session_id: this.session, plugin: 'janus.plugin.audiobridge' });
    return m.data!.id;
  }

  private message(handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<JanusMessage> {
    return this.request({ janus: 'message', session_id: this.session, handle_id: handle, body, ...(jsep ? { jsep } : {}) }).catch((e: Error) => {
      this.counters.errors++;
      throw e;
    });
  }

  /** A room for one consultation; its number is returned. */
  async open(title: string): Promise<string> {
    const h = await this.attach();
    try {
      const room = 100_000 + (randomBytes(4).readUInt32BE(0) % 900_000_000);
      await this.message(h, {
        request: 'create',
        room,
        description: title.slice(0, 100),
        audiolevel_event: true,
        audio_active_packets: 50,
        audio_level_average: 50,
        allow_rtp_participants: true,
        sampling_rate: 16000,
      });
      return String(room);
    } finally {
      void this.request({ janus: 'detach', session_id: this.session, handle_id: h }).catch(() => undefined);
    }
  }

  async close(room: string): Promise<void> {
    for (const [leg, h] of this.legs) if (this.handles.get(h)?.room === room) await this.leave(leg);
    const h = await this.attach();
    try {
      await this.message(h, { request: 'destroy', room: Number(room) });
    } finally {
      void this.request({ janus: 'detach', session_id: this.session, handle_id: h }).catch(() => undefined);
    }
  }

  /** A SIP leg's far end joins by plain RTP: its offer in, the hall's answer (the bridge's port) out. */
  async joinRtp(room: string, leg: string, name: string, offer: string): Promise<string> {
    const o = readRtpOffer(offer);
    const h = await this.attach();
    this.handles.set(h, { leg, room, member: null });
    this.legs.set(leg, h);
    try {
      const m = await this.message(h, {
        request: 'join',
        room: Number(room),
        display: name.slice(0, 64),
        codec: o.codec,
        rtp: { ip: o.ip, port: o.port, ...(o.codec === 'opus' ? { payload_type: o.pt } : {}), ...(o.levelExt !== null ? { audiolevel_ext: o.levelExt } : {}) },
      });
      const d = m.plugindata!.data as { id: number; rtp?: { ip: string; port: number } };
      if (!d.rtp) throw new Error('conference bridge: no RTP address in its answer');
      this.handles.get(h)!.member = d.id;
      return rtpAnswer(o, d.rtp);
    } catch (e) {
      await this.leave(leg);
      throw e;
    }
  }

  /** The officer's headset joins by WebRTC: the display's offer in, the bridge's answer out. */
  async joinWebRtc(room: string, leg: string, name: string, offer: string): Promise<string> {
    const h = await this.attach();
    this.handles.set(h, { leg, room, member: null });
    this.legs.set(leg, h);
    try {
      const m = await this.message(h, { request: 'join', room: Number(room), display: name.slice(0, 64), codec: webRtcCodec(offer) }, { type: 'offer', sdp: offer });
      const d = m.plugindata!.data as { id: number };
      this.handles.get(h)!.member = d.id;
      if (!m.jsep?.sdp) throw new Error('conference bridge: no answer to the offer');
      // an answer that refuses the audio (port 0) is no member of the mix, whatever the join said
      if (!/^m=audio [1-9]\d* /m.test(m.jsep.sdp)) throw new Error('conference bridge: it refused the audio (no codec in common)');
      return m.jsep.sdp;
    } catch (e) {
      await this.leave(leg);
      throw e;
    }
  }

  async mute(room: string, leg: string, muted: boolean): Promise<void> {
    const h = this.legs.get(leg);
    const member = h !== undefined ? this.handles.get(h)?.member : null;
    if (h === undefined || member === null || member === undefined) throw new Error('not in the mix');
    await this.message(h, { request: muted ? 'mute' : 'unmute', room: Number(room), id: member });
  }

  /** Take a leg out of the mix (its call ended). */
  async leave(leg: string): Promise<void> {
    const h = this.legs.get(leg);
    if (h === undefined) return;
    this.legs.delete(leg);
    this.handles.delete(h);
    await this.request({ janus: 'detach', session_id: this.session, handle_id: h }).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.keepalive) clearInterval(this.keepalive);
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      await this.request({ janus: 'destroy', session_id: this.session }).catch(() => undefined);
      ws.close();
    }
  }
}
