// One video tile's player: WebRTC over WHEP first, then HLS, then HTTP-FLV, all through the core
// (/video/<id>/…). It is honest about the picture: "live" only while frames keep arriving; when they
// stop the tile says "signal lost" with the time since and hides the last frame (a frozen frame must
// never pass for live), and it reconnects on its own with backoff and jitter, independently of every
// other tile.
import type { VideoProtocol, VideoSource } from '../../common/domain.ts';

export type PlayerState = 'idle' | 'connecting' | 'live' | 'lost';

export interface PlayerStatus {
  state: PlayerState;
  protocol: VideoProtocol | null;
  /** When the picture was lost (or first tried), for "signal lost 00:42". */
  since: number | null;
  attempts: number;
  detail: string;
}

export interface PlayerOptions {
  /** Prefix for /video/… (serve mode: '' or with the token query). @default '' */
  base?: string;
  /** Query string appended to every request (the access token for remote displays). @default '' */
  query?: string;
  /** No new frame for this long means the signal is lost. @default 3000 */
  stallMs?: number;
  /** Reconnect backoff: first delay and cap. @default 1000, 15000 */
  backoffMs?: number;
  maxBackoffMs?: number;
  onStatus?: (s: PlayerStatus) => void;
}

interface Session {
  stop(): void;
}

type MpegtsPlayer = { attachMediaElement(v: HTMLVideoElement): void; load(): void; play(): Promise<void> | void; destroy(): void; on(ev: string, cb: (...a: unknown[]) => void): void };

export class VideoPlayer {
  private readonly video: HTMLVideoElement;
  private readonly o: Required<Omit<PlayerOptions, 'onStatus'>> & Pick<PlayerOptions, 'onStatus'>;
  private source: VideoSource | null = null;
  private session: Session | null = null;
  private status: PlayerStatus = { state: 'idle', protocol: null, since: null, attempts: 0, detail: '' };
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private lastFrames = 0;
  private lastProgress = 0;
  private failures = 0;
  private generation = 0;

  constructor(video: HTMLVideoElement, opts: PlayerOptions = {}) {
    this.video = video;
    this.o = { base: '', query: '', stallMs: 3000, backoffMs: 1000, maxBackoffMs: 15_000, ...opts };
  }

  get current(): PlayerStatus {
    return this.status;
  }

  /** Play a source (null: stop and show nothing). */
  play(source: VideoSource | null): void {
    if (source?.id === this.source?.id && source?.protocols.join() === this.source?.protocols.join()) return;
    this.teardown();
    this.source = source;
    this.failures = 0;
    if (!source) return this.set({ state: 'idle', protocol: null, since: null, attempts: 0, detail: '' });
    this.set({ state: 'connecting', protocol: null, since: Date.now(), attempts: 0, detail: '' });
    void this.attempt();
  }

  dispose(): void {
    this.teardown();
    this.source = null;
  }

  private set(s: Partial<PlayerStatus>): void {
    this.status = { ...this.status, ...s };
    // The last frame of a lost picture is never left on show.
    this.video.style.visibility = this.status.state === 'live' ? 'visible' : 'hidden';
    this.o.onStatus?.(this.status);
  }

  private teardown(): void {
    this.generation++;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.retry) clearTimeout(this.retry);
    this.watchdog = this.retry = null;
    this.session?.stop();
    this.session = null;
    this.video.srcObject = null;
    this.video.removeAttribute('src');
    this.video.load();
  }

  private url(path: string): string {
    return `${this.o.base}/video/${this.source!.id}/${path}${this.o.query}`;
  }

  /** One attempt: each protocol the source offers, in order, until one shows frames. */
  private async attempt(): Promise<void> {
    const gen = this.generation;
    const src = this.source!;
    this.set({ attempts: this.status.attempts + 1 });
    let detail = '';
    for (const p of (['whep', 'hls', 'flv'] as const).filter((x) => src.protocols.includes(x))) {
      if (gen !== this.generation) return;
      try {
        this.session = p === 'whep' ? await this.whep() : p === 'hls' ? await this.hls() : await this.flv();
        if (gen !== this.generation) return this.session?.stop();
        if (await this.firstFrame(gen)) {
          this.failures = 0;
          this.set({ state: 'live', protocol: p, since: Date.now(), detail: '' });
          this.watch(gen);
          return;
        }
        detail = `${p}: no picture`;
      } catch (e) {
        detail = `${p}: ${(e as Error).message}`;
      }
      this.session?.stop();
      this.session = null;
    }
    if (gen !== this.generation) return;
    this.lost(detail || 'no protocol');
  }

  private lost(detail: string): void {
    const wasLive = this.status.state === 'live';
    this.session?.stop();
    this.session = null;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.failures++;
    this.set({ state: 'lost', since: wasLive || this.status.state !== 'lost' ? Date.now() : this.status.since, detail });
    // Exponential backoff with jitter: a wall of tiles whose gateway restarts must not reconnect in step.
    const ceiling = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** Math.min(this.failures - 1, 10));
    const gen = this.generation;
    this.retry = setTimeout(
      () => {
        if (gen === this.generation) void this.attempt();
      },
      ceiling / 2 + Math.random() * (ceiling / 2),
    );
  }

  private frames(): number {
    return this.video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
  }

  private async firstFrame(gen: number): Promise<boolean> {
    const start = this.frames();
    const t0 = Date.now();
    while (Date.now() - t0 < 8000) {
      if (gen !== this.generation) return false;
      if (this.frames() > start && this.video.videoWidth > 0) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /** Frames must keep coming: a stall longer than stallMs is a lost signal, whatever the transport says. */
  private watch(gen: number): void {
    this.lastFrames = this.frames();
    this.lastProgress = Date.now();
    this.watchdog = setInterval(() => {
      if (gen !== this.generation) return;
      const f = this.frames();
      if (f !== this.lastFrames) {
        this.lastFrames = f;
        this.lastProgress = Date.now();
        return;
      }
      if (Date.now() - this.lastProgress > this.o.stallMs) this.lost('no frames');
    }, 500);
  }

  private async whep(): Promise<Session> {
    const pc = new RTCPeerConnection();
    let resource: string | null = null;
    const stop = () => {
      pc.close();
      if (resource) void fetch(resource + this.o.query, { method: 'DELETE' }).catch(() => undefined);
    };
    try {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      const stream = new MediaStream();
      pc.ontrack = (e) => {
        stream.addTrack(e.track);
        this.video.srcObject = stream;
        void this.video.play().catch(() => undefined);
      };
      pc.onconnectionstatechange = () => {
        if ((pc.connectionState === 'failed' || pc.connectionState === 'closed') && this.status.state === 'live') this.lost(`webrtc ${pc.connectionState}`);
      };
      await pc.setLocalDescription(await pc.createOffer());
      // Non-trickle WHEP: send the offer with every candidate gathered (a LAN gathers in milliseconds).
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        const t = setTimeout(resolve, 2000);
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') {
            clearTimeout(t);
            resolve();
          }
        });
      });
      const r = await fetch(this.url('whep'), { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
      if (r.status !== 201) throw new Error(`${r.status} ${(await r.text()).slice(0, 120)}`);
      const loc = r.headers.get('location');
      if (loc) resource = loc;
      await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
      return { stop };
    } catch (e) {
      stop();
      throw e;
    }
  }

  private async hls(): Promise<Session> {
    const { default: Hls } = await import('hls.js');
    if (!Hls.isSupported()) throw new Error('MSE unavailable');
    // No worker (the CSP allows blob workers, but one per tile is a waste), small live buffer.
    const query = this.o.query;
    const hls = new Hls({
      enableWorker: false,
      lowLatencyMode: true,
      liveSyncDurationCount: 2,
      manifestLoadingMaxRetry: 0,
      levelLoadingMaxRetry: 1,
      fragLoadingMaxRetry: 1,
      // Segments are named relative to the playlist, without its query: each request carries the
      // display's token as the playlist did (hls.js opens the request itself unless we do).
      xhrSetup: (xhr, url) => {
        if (query && !url.includes('token=')) xhr.open('GET', url + (url.includes('?') ? '&' : '?') + query.slice(1), true);
      },
    });
    return new Promise<Session>((resolve, reject) => {
      const stop = () => hls.destroy();
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        if (this.status.state === 'live') this.lost(`hls ${data.details}`);
        else {
          stop();
          reject(new Error(String(data.details)));
        }
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        void this.video.play().catch(() => undefined);
        resolve({ stop });
      });
      hls.loadSource(this.url('hls/playlist'));
      hls.attachMedia(this.video);
    });
  }

  private async flv(): Promise<Session> {
    const mod = (await import('mpegts.js')) as unknown as { default: { isSupported(): boolean; createPlayer(m: object, c: object): MpegtsPlayer; Events: Record<string, string> } };
    const mpegts = mod.default;
    if (!mpegts.isSupported()) throw new Error('MSE unavailable');
    const p = mpegts.createPlayer({ type: 'flv', isLive: true, url: new URL(this.url('flv'), location.href).href }, { enableWorker: false, liveBufferLatencyChasing: true });
    p.on(mpegts.Events.ERROR ?? 'error', () => {
      if (this.status.state === 'live') this.lost('flv error');
    });
    p.attachMediaElement(this.video);
    p.load();
    void Promise.resolve(p.play()).catch(() => undefined);
    return { stop: () => p.destroy() };
  }
}
