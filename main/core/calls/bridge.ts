// The conference bridge that mixes a consultation (会商, issue 22). In production it is the platform's
// MCU; the adapter here speaks the Janus API (WebSocket, `janus-protocol`: AudioBridge for the voices,
// Streaming for the terminals' cameras, VideoRoom for the picture sent to them), which the tests run
// from Debian's `janus` package, standing for it.
//
// How a participant joins, by third-party call control (RFC 3725, flow I): the hall sends the far end
// an INVITE without a session description; the far end offers in its 200; the hall joins the bridge as
// a plain-RTP participant aimed at that offer (its camera, if any, to a mountpoint of its own), and
// answers in the ACK with the bridge's own addresses. So the media goes far end <-> bridge directly,
// never through the hall. The officer's headset joins as a WebRTC participant (its offer, the bridge's
// answer). Who speaks: the bridge's voice activity for WebRTC members (RFC 6464 levels; Janus 1.1
// reads them from those only), and for SIP legs the hall's meter of each leg's voice, which the bridge
// forwards alone (levels.ts). Mute comes from its moderation. Displays watch a camera by WebRTC from
// the bridge; the panel's multi-picture is a VideoRoom publisher the bridge forwards to each
// terminal's screen. A frame from the bridge that is not JSON, and a request it leaves unanswered,
// count as `errors`.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { LevelMeter } from './levels.ts';

export interface BridgeEvents {
  /** A participant started or stopped speaking, was muted or unmuted, or left the room. */
  participant(room: string, leg: string, change: { talking?: boolean; level?: number; muted?: boolean; left?: true }): void;
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

/** What the far end offered, read from its SDP: where it wants audio, in which codec, and the video it
 *  can send. */
export interface RtpOffer {
  ip: string;
  port: number;
  codec: 'pcmu' | 'pcma' | 'opus';
  pt: number;
  /** The RFC 6464 audio-level extension's id, when offered. */
  levelExt: number | null;
  /** The terminal's video line, when it offers plain-RTP video in a codec the bridge forwards: whether
   *  it sends its camera, whether it shows a picture, and where it receives one. */
  video: { codec: 'vp8' | 'vp9' | 'h264'; pt: number; fmtp: string | null; sends: boolean; receives: boolean; ip: string; port: number } | null;
  /** The offer's media lines in order: `audio`, `video` (the ones taken), or an m= line refused. */
  order: string[];
}

const VIDEO_CODECS = { vp8: 'vp8', vp9: 'vp9', h264: 'h264' } as const;

interface Section {
  line: string;
  media: string;
  port: number;
  proto: string;
  pts: number[];
  c: string;
  rtpmap: Map<number, string>;
  fmtp: Map<number, string>;
  ext: number | null;
  /** The line's direction attribute, when it has one. */
  dir: string;
}

/** Read a plain-RTP offer; throws with the reason when the bridge cannot take its audio. */
export function readRtpOffer(sdp: string): RtpOffer {
  let session = '';
  const sections: Section[] = [];
  for (const l of sdp.split(/\r?\n/)) {
    const cur = sections.at(-1);
    if (l.startsWith('m=')) {
      const [media, port, proto, ...pts] = l.slice(2).split(' ');
      sections.push({ line: l, media: media!, port: Number(port), proto: proto ?? '', pts: pts.map(Number), c: session, rtpmap: new Map(), fmtp: new Map(), ext: null, dir: 'sendrecv' });
    } else if (l.startsWith('c=IN IP4 ')) {
      if (cur) cur.c = l.slice(9).trim();
      else session = l.slice(9).trim();
    } else if (cur) {
      const rm = /^a=rtpmap:(\d+) ([^/]+)\//.exec(l);
      if (rm) cur.rtpmap.set(Number(rm[1]), rm[2]!.toLowerCase());
      const fm = /^a=fmtp:(\d+) (.+)$/.exec(l);
      if (fm) cur.fmtp.set(Number(fm[1]), fm[2]!.trim());
      const ex = /^a=extmap:(\d+)(?:\/\w+)? urn:ietf:params:rtp-hdrext:ssrc-audio-level/.exec(l);
      if (ex) cur.ext = Number(ex[1]);
      const dir = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(l.trim());
      if (dir) cur.dir = dir[1]!;
    }
  }
  const audio = sections.find((s) => s.media === 'audio');
  if (!audio) throw new Error('the offer has no audio');
  if (audio.proto !== 'RTP/AVP') throw new Error(`the bridge takes plain RTP (RTP/AVP), not ${audio.proto}`);
  if (!audio.c || !/^\d+\.\d+\.\d+\.\d+$/.test(audio.c)) throw new Error('the offer has no IPv4 address');
  if (!Number.isInteger(audio.port) || audio.port <= 0 || audio.port > 65535) throw new Error('the offer has no audio port');
  const name = (pt: number) => audio.rtpmap.get(pt) ?? (pt === 0 ? 'pcmu' : pt === 8 ? 'pcma' : '');
  // G.711 first: every SIP terminal has it, and the bridge needs no transcoding setup for it
  const want = (['pcmu', 'pcma', 'opus'] as const).find((w) => audio.pts.some((p) => name(p) === w));
  if (!want) throw new Error('the offer has no codec the bridge mixes (PCMU, PCMA, Opus)');
  const pt = audio.pts.find((p) => name(p) === want)!;
  // the camera: the first plain-RTP video line the terminal sends on, in a codec the bridge forwards
  const v = sections.find((s) => s.media === 'video' && s.proto === 'RTP/AVP' && s.port > 0 && s.dir !== 'inactive' && /^\d+\.\d+\.\d+\.\d+$/.test(s.c));
  let video: RtpOffer['video'] = null;
  if (v) {
    const vpt = v.pts.find((p) => (v.rtpmap.get(p) ?? '') in VIDEO_CODECS);
    if (vpt !== undefined)
      video = {
        codec: VIDEO_CODECS[v.rtpmap.get(vpt) as keyof typeof VIDEO_CODECS],
        pt: vpt,
        fmtp: v.fmtp.get(vpt) ?? null,
        sends: v.dir !== 'recvonly',
        receives: v.dir !== 'sendonly',
        ip: v.c,
        port: v.port,
      };
  }
  const order = sections.map((s) => (s === audio ? 'audio' : video && s === v ? 'video' : s.line));
  return { ip: audio.c, port: audio.port, codec: want, pt, levelExt: audio.ext, video, order };
}

/** The codec a WebRTC member joins with: Opus where offered (every browser does), else G.711. */
export function webRtcCodec(offer: string): 'opus' | 'pcmu' | 'pcma' {
  const audio = offer.split(/\r?\nm=/).find((sec) => sec.startsWith('audio ')) ?? '';
  if (/a=rtpmap:\d+ opus\//i.test(audio)) return 'opus';
  if (/a=rtpmap:\d+ PCMU\//i.test(audio) || /^audio \d+ \S+(?: \d+)* 0(?: |$)/m.test(audio)) return 'pcmu';
  return 'pcma';
}

/** The hall's answer in the ACK: the bridge's address and codec for the audio; the video line, where
 *  taken, to the bridge's video port (the camera comes in there; the consultation's picture goes out to
 *  the terminal's own port); other lines refused (port 0). */
export function rtpAnswer(o: RtpOffer, at: { ip: string; port: number }, video?: { port: number; rtcpPort: number | null }): string {
  const sess = Date.now();
  const enc = o.codec === 'opus' ? `opus/48000/2` : o.codec === 'pcmu' ? 'PCMU/8000' : 'PCMA/8000';
  const lines = ['v=0', `o=beacon-bridge ${sess} ${sess} IN IP4 ${at.ip}`, 's=Beacon consultation', `c=IN IP4 ${at.ip}`, 't=0 0'];
  for (const m of o.order) {
    if (m === 'audio') {
      lines.push(`m=audio ${at.port} RTP/AVP ${o.pt}`, `a=rtpmap:${o.pt} ${enc}`);
      if (o.levelExt !== null) lines.push(`a=extmap:${o.levelExt} urn:ietf:params:rtp-hdrext:ssrc-audio-level`);
      lines.push('a=sendrecv');
    } else if (m === 'video' && o.video && video) {
      const v = o.video;
      lines.push(`m=video ${video.port} RTP/AVP ${v.pt}`, `a=rtpmap:${v.pt} ${v.codec.toUpperCase()}/90000`);
      if (v.fmtp) lines.push(`a=fmtp:${v.pt} ${v.fmtp}`);
      if (video.rtcpPort) lines.push(`a=rtcp:${video.rtcpPort}`, `a=rtcp-fb:${v.pt} nack pli`);
      // the bridge takes the camera, and sends the consultation's picture where the terminal shows one
      lines.push(v.sends && v.receives ? 'a=sendrecv' : v.sends ? 'a=recvonly' : 'a=sendonly');
    } else lines.push((m === 'video' ? `m=video 0 RTP/AVP ${o.video!.pt}` : m).replace(/^m=(\S+) \d+/, 'm=$1 0'));
  }
  lines.push('');
  return lines.join('\r\n');
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
  /** A leg's video line: the bridge's mountpoint for it, and whether the terminal sends a camera there
   *  (one that only shows a picture has a line and nothing to watch). */
  private readonly cameras = new Map<string, { id: number; sends: boolean }>();
  /** Where each video terminal shows a picture (its own video port), by leg, and the forwarder that
   *  sends it the consultation's picture once there is one. */
  private readonly screens = new Map<string, { room: string; ip: string; port: number; pt: number; forward: number | null }>();
  /** The consultation's picture, by room: the display that publishes it (a VideoRoom publisher). */
  private readonly pictures = new Map<string, { leg: string; handle: number; publisher: number; mid: string }>();
  /** Displays watching a camera: streaming handle -> the leg whose camera, and who watches. */
  private readonly watchers = new Map<number, { leg: string; owner: string; started: boolean }>();
  /** Each SIP leg's voice, forwarded alone by the bridge, read for who speaks (levels.ts). */
  private readonly meter: LevelMeter;
  private meterAt: { host: string; port: number } | null = null;
  private readonly forwards = new Map<string, { room: string; stream: number }>();
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
    this.meter = new LevelMeter({
      level: (leg, change) => {
        const h = this.legs.get(leg);
        const room = h !== undefined ? this.handles.get(h)?.room : undefined;
        if (room) this.on.participant(room, leg, change);
      },
    });
  }

  /** The meter's counters, for the desk's stats. */
  get levelCounters(): { packets: number; bad: number } {
    return this.meter.counters;
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
      let local = '';
      // the hall's own address towards the bridge: where the bridge can send the legs' voices
      ws.on('upgrade', (res) => (local = res.socket.localAddress?.replace(/^::ffff:/, '') ?? ''));
      ws.on('open', () => {
        this.request({ janus: 'create' })
          .then(async (m) => {
            if (/^\d+\.\d+\.\d+\.\d+$/.test(local)) this.meterAt = { host: local, port: await this.meter.listen(local).catch(() => 0) };
            return m;
          })
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
    this.cameras.clear();
    this.watchers.clear();
    this.screens.clear();
    this.pictures.clear();
    this.forwards.clear();
    this.meter.clear();
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
    if ((m.janus === 'hangup' || m.janus === 'detached') && m.sender !== undefined && this.watchers.has(m.sender)) {
      // a display's picture ended (its page closed, the camera's leg left): free the handle
      void this.unwatch(m.sender);
      return;
    }
    if (m.janus === 'hangup' && m.sender !== undefined) {
      // the display publishing the picture is gone (its page closed): the terminals' forwarders go too
      for (const [room, p] of this.pictures)
        if (p.handle === m.sender) {
          void this.unpublish(p.leg);
          this.on.participant(room, p.leg, { left: true });
        }
    }
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

  private async attach(plugin = 'janus.plugin.audiobridge'): Promise<number> {
    const m = await this.request({ janus: 'attach', session_id: this.session, plugin });
    return m.data!.id;
  }

  private message(handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<JanusMessage> {
    return this.request({ janus: 'message', session_id: this.session, handle_id: handle, body, ...(jsep ? { jsep } : {}) }).catch((e: Error) => {
      this.counters.errors++;
      throw e;
    });
  }

  /** A room for one consultation; its number is returned. */
  async open(title: string, groups: string[] = []): Promise<string> {
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
        // a forwarding group per participant (their voice alone, for the level meter), one for headsets
        groups: [...groups, 'hall'],
      });
      // the consultation's picture (sent to the video terminals) goes through a VideoRoom of the same
      // number; fir_freq: the terminals cannot ask for a key frame there, so one is asked every 2 s
      const v = await this.attach('janus.plugin.videoroom');
      try {
        await this.message(v, { request: 'create', room, description: title.slice(0, 100), publishers: 4, videocodec: 'vp8,h264,vp9', audiocodec: 'opus', fir_freq: 2, is_private: true });
      } finally {
        void this.request({ janus: 'detach', session_id: this.session, handle_id: v }).catch(() => undefined);
      }
      return String(room);
    } finally {
      void this.request({ janus: 'detach', session_id: this.session, handle_id: h }).catch(() => undefined);
    }
  }

  async close(room: string): Promise<void> {
    for (const [leg, h] of this.legs) if (this.handles.get(h)?.room === room) await this.leave(leg);
    const p = this.pictures.get(room);
    if (p) await this.unpublish(p.leg);
    const h = await this.attach();
    const v = await this.attach('janus.plugin.videoroom');
    try {
      await this.message(h, { request: 'destroy', room: Number(room) });
      await this.message(v, { request: 'destroy', room: Number(room) }).catch(() => undefined);
    } finally {
      for (const x of [h, v]) void this.request({ janus: 'detach', session_id: this.session, handle_id: x }).catch(() => undefined);
    }
  }

  /** A SIP leg's far end joins by plain RTP: its offer in, the hall's answer (the bridge's port) out. */
  async joinRtp(room: string, leg: string, name: string, offer: string, group = 'hall'): Promise<string> {
    const o = readRtpOffer(offer);
    const h = await this.attach();
    this.handles.set(h, { leg, room, member: null });
    this.legs.set(leg, h);
    try {
      const m = await this.message(h, {
        request: 'join',
        room: Number(room),
        display: name.slice(0, 64),
        group,
        codec: o.codec,
        rtp: { ip: o.ip, port: o.port, ...(o.codec === 'opus' ? { payload_type: o.pt } : {}), ...(o.levelExt !== null ? { audiolevel_ext: o.levelExt } : {}) },
      });
      const d = m.plugindata!.data as { id: number; rtp?: { ip: string; port: number } };
      if (!d.rtp) throw new Error('conference bridge: no RTP address in its answer');
      this.handles.get(h)!.member = d.id;
      if (group !== 'hall') await this.meterLeg(room, leg, group);
      // the camera goes to a mountpoint of its own; without one the leg is still heard, and its
      // video line is refused
      const cam = o.video
        ? await this.camera(leg, name, o.video).catch((e: Error) => {
            console.warn(`beacon: the bridge takes no video from ${name}: ${e.message}`);
            return undefined;
          })
        : undefined;
      if (cam && o.video?.receives) {
        this.screens.set(leg, { room, ip: o.video.ip, port: o.video.port, pt: o.video.pt, forward: null });
        await this.forward(leg);
      }
      return rtpAnswer(o, d.rtp, cam);
    } catch (e) {
      await this.leave(leg);
      throw e;
    }
  }

  /** A mountpoint that receives a leg's camera (plain RTP) and serves it to displays by WebRTC. */
  private async camera(leg: string, name: string, v: NonNullable<RtpOffer['video']>): Promise<{ port: number; rtcpPort: number | null }> {
    const h = await this.attach('janus.plugin.streaming');
    try {
      const id = 1 + (randomBytes(4).readUInt32BE(0) % 2_000_000_000);
      const m = await this.message(h, {
        request: 'create',
        type: 'rtp',
        id,
        description: name.slice(0, 100),
        is_private: true,
        // bufferkf: a display that starts watching gets the last key frame at once
        media: [{ type: 'video', mid: 'v', port: 0, rtcpport: 0, pt: v.pt, codec: v.codec, ...(v.fmtp ? { fmtp: v.fmtp } : {}), bufferkf: true }],
      });
      const port = (m.plugindata!.data as { stream?: { ports?: { port?: number; rtcp_port?: number }[] } }).stream?.ports?.[0];
      if (!port?.port) throw new Error('conference bridge: no video port in its answer');
      this.cameras.set(leg, { id, sends: v.sends });
      return { port: port.port, rtcpPort: port.rtcp_port ?? null };
    } finally {
      void this.request({ janus: 'detach', session_id: this.session, handle_id: h }).catch(() => undefined);
    }
  }

  /** Have the bridge forward this leg's voice, alone (its group), to the level meter. */
  private async meterLeg(room: string, leg: string, group: string): Promise<void> {
    const at = this.meterAt;
    const h = this.legs.get(leg);
    if (!at?.port || h === undefined) return;
    const ssrc = 1 + (randomBytes(4).readUInt32BE(0) % 2_000_000_000);
    this.meter.add(ssrc, leg);
    const m = await this.message(h, { request: 'rtp_forward', room: Number(room), group, codec: 'pcmu', ptype: 0, host: at.host, port: at.port, ssrc }).catch((e: Error) => {
      console.warn(`beacon: no level for ${leg}: ${e.message}`);
      return null;
    });
    const stream = (m?.plugindata?.data as { stream_id?: number } | undefined)?.stream_id;
    if (stream !== undefined) this.forwards.set(leg, { room, stream });
    else this.meter.remove(leg);
  }

  /** Send the room's picture, if there is one, to a terminal's screen. */
  private async forward(leg: string): Promise<void> {
    const scr = this.screens.get(leg);
    const pic = scr ? this.pictures.get(scr.room) : undefined;
    if (!scr || !pic || scr.forward !== null) return;
    const m = await this.message(pic.handle, {
      request: 'rtp_forward',
      room: Number(scr.room),
      publisher_id: pic.publisher,
      host: scr.ip,
      host_family: 'ipv4',
      streams: [{ mid: pic.mid, port: scr.port, pt: scr.pt, ssrc: 1 + (randomBytes(4).readUInt32BE(0) % 2_000_000_000) }],
    }).catch((e: Error) => {
      console.warn(`beacon: the consultation's picture does not reach ${leg}: ${e.message}`);
      return null;
    });
    const f = (m?.plugindata?.data as { forwarders?: { stream_id?: number }[] } | undefined)?.forwarders?.[0]?.stream_id;
    if (f !== undefined) scr.forward = f;
  }

  /** A display publishes the consultation's picture (WebRTC, video): the bridge sends it to every video
   *  terminal's screen. One picture a room: a second display's replaces the first's. */
  async publish(room: string, leg: string, name: string, offer: string): Promise<string> {
    const mid = /m=video [\s\S]*?a=mid:(\S+)/.exec(offer)?.[1];
    if (!mid) throw new Error('the offer has no video');
    const prior = this.pictures.get(room);
    if (prior) await this.unpublish(prior.leg);
    const h = await this.attach('janus.plugin.videoroom');
    try {
      const m = await this.message(h, { request: 'joinandconfigure', room: Number(room), ptype: 'publisher', display: name.slice(0, 64) }, { type: 'offer', sdp: offer });
      const d = m.plugindata!.data as { id?: number };
      if (!m.jsep?.sdp || !d.id) throw new Error('conference bridge: no answer to the picture');
      if (!/^m=video [1-9]\d* /m.test(m.jsep.sdp)) throw new Error('conference bridge: it refused the picture (no codec in common)');
      this.pictures.set(room, { leg, handle: h, publisher: d.id, mid });
      for (const [l, scr] of this.screens) if (scr.room === room) await this.forward(l);
      return m.jsep.sdp;
    } catch (e) {
      void this.request({ janus: 'detach', session_id: this.session, handle_id: h }).catch(() => undefined);
      throw e;
    }
  }

  /** Stop the picture this leg publishes (its forwarders go with the publisher). */
  async unpublish(leg: string): Promise<void> {
    for (const [room, p] of this.pictures) {
      if (p.leg !== leg) continue;
      this.pictures.delete(room);
      for (const scr of this.screens.values()) if (scr.room === room) scr.forward = null;
      await this.request({ janus: 'detach', session_id: this.session, handle_id: p.handle }).catch(() => undefined);
    }
  }

  /** Whether the bridge receives this leg's camera. */
  hasCamera(leg: string): boolean {
    return this.cameras.get(leg)?.sends === true;
  }

  /** A display watches a leg's camera: the bridge offers (WebRTC), the display answers (`started`). */
  async watch(leg: string, owner: string): Promise<{ handle: number; offer: string }> {
    const id = this.cameras.get(leg)?.sends ? this.cameras.get(leg)!.id : undefined;
    if (id === undefined) throw new Error('the bridge receives no video from this participant');
    const h = await this.attach('janus.plugin.streaming');
    this.watchers.set(h, { leg, owner, started: false });
    try {
      const m = await this.message(h, { request: 'watch', id });
      if (!m.jsep?.sdp) throw new Error('conference bridge: no offer for the picture');
      // a display that never answers (its page gone before it could) does not keep the handle
      setTimeout(() => {
        if (this.watchers.get(h)?.started === false) void this.unwatch(h);
      }, 30_000).unref();
      return { handle: h, offer: m.jsep.sdp };
    } catch (e) {
      await this.unwatch(h);
      throw e;
    }
  }

  /** Who watches through this handle, or null when it is gone. */
  watcher(handle: number): string | null {
    return this.watchers.get(handle)?.owner ?? null;
  }

  /** How many pictures this owner watches. */
  watching(owner: string): number {
    let n = 0;
    for (const w of this.watchers.values()) if (w.owner === owner) n++;
    return n;
  }

  async started(handle: number, answer: string): Promise<void> {
    const w = this.watchers.get(handle);
    if (!w) throw new Error('that picture is no longer served');
    await this.message(handle, { request: 'start' }, { type: 'answer', sdp: answer });
    w.started = true;
  }

  async unwatch(handle: number): Promise<void> {
    if (!this.watchers.delete(handle)) return;
    await this.request({ janus: 'detach', session_id: this.session, handle_id: handle }).catch(() => undefined);
  }

  /** The officer's headset joins by WebRTC: the display's offer in, the bridge's answer out. */
  async joinWebRtc(room: string, leg: string, name: string, offer: string): Promise<string> {
    const h = await this.attach();
    this.handles.set(h, { leg, room, member: null });
    this.legs.set(leg, h);
    try {
      const m = await this.message(h, { request: 'join', room: Number(room), display: name.slice(0, 64), group: 'hall', codec: webRtcCodec(offer) }, { type: 'offer', sdp: offer });
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
    const fwd = this.forwards.get(leg);
    this.forwards.delete(leg);
    this.meter.remove(leg);
    const fh = this.legs.get(leg);
    if (fwd && fh !== undefined) await this.message(fh, { request: 'stop_rtp_forward', room: Number(fwd.room), stream_id: fwd.stream }).catch(() => undefined);
    const scr = this.screens.get(leg);
    this.screens.delete(leg);
    const pic = scr ? this.pictures.get(scr.room) : undefined;
    if (scr?.forward != null && pic)
      await this.message(pic.handle, { request: 'stop_rtp_forward', room: Number(scr.room), publisher_id: pic.publisher, stream_id: scr.forward }).catch(() => undefined);
    await this.unpublish(leg);
    const cam = this.cameras.get(leg);
    if (cam !== undefined) {
      this.cameras.delete(leg);
      // its watchers are hung up by the bridge; their handles go when it says so
      const c = await this.attach('janus.plugin.streaming').catch(() => null);
      if (c !== null) {
        await this.message(c, { request: 'destroy', id: cam.id }).catch(() => undefined);
        void this.request({ janus: 'detach', session_id: this.session, handle_id: c }).catch(() => undefined);
      }
    }
    const h = this.legs.get(leg);
    if (h === undefined) return;
    this.legs.delete(leg);
    this.handles.delete(h);
    await this.request({ janus: 'detach', session_id: this.session, handle_id: h }).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    this.closed = true;
    this.meter.close();
    if (this.retry) clearTimeout(this.retry);
    if (this.keepalive) clearInterval(this.keepalive);
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      await this.request({ janus: 'destroy', session_id: this.session }).catch(() => undefined);
      ws.close();
    }
  }
}
