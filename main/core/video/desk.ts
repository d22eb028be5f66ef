// Video sources and their playback through the core. Displays never talk to the media gateway
// themselves (an Electron window cannot reach the network at all, and a browser display should not
// need the gateway's address or token): WHEP signalling, HLS playlists and segments and HTTP-FLV all
// go through /video/<id>/… (serve mode) or app://beacon/video/… (Electron), answered by `route`.
// The media itself (WebRTC's RTP) flows between the display and the gateway directly.
import { randomBytes } from 'node:crypto';
import { VideoConfig, type VideoConfigInput, type VideoSource, VIDEO_PROTOCOLS } from '../../../common/domain.ts';
import { HubError } from '../hub/hub.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';
import type { Reach } from '../trust/reach.ts';

export interface VideoAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string | ReadableStream<Uint8Array> | null;
}

const MAX_SDP = 64 * 1024;
const UPSTREAM_TIMEOUT_MS = 10_000;
const SESSION_TTL_MS = 12 * 3600_000;

const text = (status: number, message: string): VideoAnswer => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: message });

/** Every /video answer is media or a short message, served from the hall's own origin: it must never
 *  run as a page there. So no script, no frame, a sandbox, and the type never sniffed. */
export const VIDEO_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'";
/** What a gateway's answer may be called (HLS playlists and segments, FLV); anything else (a
 *  gateway's HTML error page, a login form) goes out as opaque bytes, never as a page. */
const MEDIA_TYPES = /^(application\/(vnd\.apple\.mpegurl|x-mpegurl|octet-stream)|audio\/(mpegurl|x-mpegurl|aac|mp4|mpeg)|video\/(mp2t|mp4|iso\.segment|x-flv|webm))\s*(;.*)?$/i;

export class VideoDesk implements Desk {
  private readonly port: HallPort;
  private readonly now: () => number;
  /** WHEP sessions: our key → the gateway's session resource, so a display's DELETE reaches it. */
  private readonly sessions = new Map<string, { source: string; upstream: string; at: number }>();
  readonly counters = { whepOffers: 0, whepAnswers: 0, hlsRequests: 0, flvRequests: 0, upstreamFailures: 0, refused: 0, retyped: 0 };

  readonly commands: CommandHandlers = {
    'video.put': async ({ config }, ctx) => ({ id: await this.put(config, ctx.origin) }),
    'video.remove': async ({ id }, ctx) => {
      await this.remove(id, ctx.origin);
      return { id };
    },
    // The wall's layout per display: which source on which tile.
    'wall.save': async ({ display, grid, tiles }, ctx) => {
      const event = await this.port.record('wall.saved', `wall:${display}`, { layout: { id: display, grid, tiles: tiles.slice(0, grid), at: this.now() } }, ctx.origin);
      return { event: event ?? 0 };
    },
  };

  private readonly reach: Reach;

  constructor(port: HallPort, reach: Reach) {
    this.port = port;
    this.reach = reach;
    this.now = () => port.now();
  }

  start(): void {
    this.port.replace(
      'videos',
      this.port.all<VideoConfig & { id: string }>('videos').map((c) => this.view(c)),
    );
  }

  view(c: VideoConfig): VideoSource {
    return { id: c.id, kind: c.kind, name: c.name, unit: c.unit ?? null, protocols: VIDEO_PROTOCOLS.filter((p) => c[p]) };
  }

  async put(input: VideoConfigInput, origin: string): Promise<string> {
    const parsed = VideoConfig.safeParse(input);
    if (!parsed.success) throw new HubError('invalid_args', `video: ${parsed.error.issues[0]?.path.join('.') || 'config'}: ${parsed.error.issues[0]?.message}`);
    const c = parsed.data;
    for (const p of VIDEO_PROTOCOLS) {
      const problem = c[p] ? this.reach.outboundProblem(c[p]) : null;
      if (problem) throw new HubError('forbidden', `video ${c.id}: ${p}: ${problem}`);
    }
    const secret = c.tokenEnv ? this.reach.secretProblem(c.tokenEnv) : null;
    if (secret) throw new HubError('forbidden', `video ${c.id}: ${secret}`);
    // a gateway's credentials written into a URL are kept apart, never journaled
    for (const p of VIDEO_PROTOCOLS) if (c[p]) c[p] = this.reach.stash(`video:${c.id}:${p}`, c[p]);
    if (c.unit && !this.port.get('units', c.unit)) throw new HubError('not_found', `no unit ${c.unit}`);
    await this.port.record('video.configured', `video:${c.id}`, { config: c }, origin);
    this.port.publish('videos', [{ op: 'put', id: c.id, value: this.view(c) }]);
    return c.id;
  }

  async remove(id: string, origin: string): Promise<void> {
    if (!this.port.get('videos', id)) throw new HubError('not_found', `no video source ${id}`);
    await this.port.record('video.removed', `video:${id}`, { id }, origin);
    for (const p of VIDEO_PROTOCOLS) this.reach.forget(`video:${id}:${p}`);
    this.port.publish('videos', [{ op: 'del', id }]);
  }

  private config(id: string): VideoConfig | undefined {
    return this.port.get<VideoConfig>('videos', id);
  }

  private auth(c: VideoConfig): Record<string, string> {
    const token = this.reach.secret(c.tokenEnv);
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  /** One request under /video/. Never throws: a gateway that fails is a 502 with the reason. */
  async route(method: string, pathname: string, body: Buffer | null, contentType: string | undefined): Promise<VideoAnswer> {
    const a = await this.answer(method, pathname, body, contentType);
    a.headers['content-security-policy'] = VIDEO_CSP;
    a.headers['x-content-type-options'] = 'nosniff';
    return a;
  }

  private async answer(method: string, pathname: string, body: Buffer | null, contentType: string | undefined): Promise<VideoAnswer> {
    const m = /^\/video\/([a-z0-9][a-z0-9-]{0,63})\/(whep|hls|flv)(?:\/(.*))?$/.exec(pathname);
    if (!m) return text(404, 'video paths are /video/<id>/whep, /video/<id>/hls/<file>, /video/<id>/flv');
    const [, id, proto, rest] = m as unknown as [string, string, 'whep' | 'hls' | 'flv', string | undefined];
    const c = this.config(id);
    if (!c) return text(404, `no video source ${id}`);
    const stored = c[proto];
    if (!stored) return text(404, `${id} has no ${proto} endpoint`);
    const upstream = this.reach.unstash(`video:${id}:${proto}`, stored);
    // again at each request: a source stored before the allowlist shrank is not reached either
    const problem = this.reach.outboundProblem(upstream);
    if (problem) return this.refuse(403, `${id}: ${problem}`);
    try {
      if (proto === 'whep') return await this.whep(c, upstream, method, rest, body, contentType);
      if (method !== 'GET' && method !== 'HEAD') return text(405, 'GET only');
      if (proto === 'hls') {
        this.counters.hlsRequests++;
        // The playlist is "playlist"; segments and sub-playlists are resolved against the gateway's
        // playlist URL, and must stay on that gateway.
        const target = rest === 'playlist' || !rest ? new URL(upstream) : new URL(rest, upstream);
        if (target.origin !== new URL(upstream).origin || (rest ?? '').includes('..')) return this.refuse(400, 'segment outside the source');
        return await this.passthrough(c, target.href);
      }
      this.counters.flvRequests++;
      return await this.passthrough(c, upstream);
    } catch (e) {
      this.counters.upstreamFailures++;
      return text(502, `media gateway: ${(e as Error).message}`);
    }
  }

  private refuse(status: number, message: string): VideoAnswer {
    this.counters.refused++;
    return text(status, message);
  }

  private async whep(c: VideoConfig, upstream: string, method: string, rest: string | undefined, body: Buffer | null, contentType: string | undefined): Promise<VideoAnswer> {
    if (method === 'DELETE' && rest) {
      const s = this.sessions.get(rest);
      if (!s || s.source !== c.id) return text(404, 'no such session');
      this.sessions.delete(rest);
      const r = await fetch(s.upstream, { method: 'DELETE', headers: this.auth(c), signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
      return text(r.ok ? 200 : 502, r.ok ? 'ended' : `gateway answered ${r.status}`);
    }
    if (method !== 'POST' || rest) return this.refuse(405, 'WHEP: POST an SDP offer to /video/<id>/whep; DELETE the session it returns');
    if (!contentType?.startsWith('application/sdp')) return this.refuse(415, 'WHEP offers are application/sdp');
    if (!body || body.length === 0 || body.length > MAX_SDP || (!body.subarray(0, 4).equals(Buffer.from('v=0\r')) && !body.subarray(0, 4).equals(Buffer.from('v=0\n'))))
      return this.refuse(400, 'not an SDP offer');
    this.counters.whepOffers++;
    const r = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/sdp', ...this.auth(c) }, body: new Uint8Array(body), signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
    const answer = await r.text();
    if (r.status !== 201 && r.status !== 200) {
      this.counters.upstreamFailures++;
      return text(r.status === 404 ? 404 : 502, `gateway answered ${r.status}: ${answer.slice(0, 200)}`);
    }
    if (!answer.startsWith('v=0')) {
      this.counters.upstreamFailures++;
      return text(502, 'gateway answer is not SDP');
    }
    this.counters.whepAnswers++;
    const headers: Record<string, string> = { 'content-type': 'application/sdp', 'cache-control': 'no-store' };
    const loc = r.headers.get('location');
    if (loc) {
      this.expire();
      const key = randomBytes(12).toString('hex');
      this.sessions.set(key, { source: c.id, upstream: new URL(loc, upstream).href, at: this.now() });
      headers.location = `/video/${c.id}/whep/${key}`;
    }
    return { status: 201, headers, body: answer };
  }

  private async passthrough(c: VideoConfig, url: string): Promise<VideoAnswer> {
    const r = await fetch(url, { headers: this.auth(c), signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
    if (!r.ok || !r.body) {
      this.counters.upstreamFailures++;
      return text(r.status === 404 ? 404 : 502, `gateway answered ${r.status}`);
    }
    const headers: Record<string, string> = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    const type = r.headers.get('content-type') ?? '';
    headers['content-type'] = MEDIA_TYPES.test(type) ? type : 'application/octet-stream';
    if (!MEDIA_TYPES.test(type)) this.counters.retyped++;
    return { status: 200, headers, body: r.body as ReadableStream<Uint8Array> };
  }

  private expire(): void {
    const cutoff = this.now() - SESSION_TTL_MS;
    for (const [k, s] of this.sessions) if (s.at < cutoff) this.sessions.delete(k);
    // A display that never hangs up must not grow the table without end.
    while (this.sessions.size >= 1024) this.sessions.delete(this.sessions.keys().next().value!);
  }

  stats() {
    return { sources: this.port.all('videos').length, sessions: this.sessions.size, ...this.counters };
  }
}

export const videoDesk = defineDesk()({
  name: 'video',
  topics: ['walls'],
  start(port, ctx) {
    const desk = new VideoDesk(port, ctx.reach);
    desk.start();
    return desk;
  },
});
