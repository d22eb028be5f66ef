// The main thread's end of the feed I/O worker (io-worker.ts): one worker for all listening feeds,
// and an adapter per feed that looks to the manager like any other.
import { Worker } from 'node:worker_threads';
import type { FeedConfig } from '../../../common/domain.ts';
import { type FeedAdapter, FeedOpenError, type FeedSink } from './adapter.ts';
import type { AlertReport, PositionReport } from './report.ts';

export type ListenConfig = Extract<FeedConfig, { kind: 'mavlink-udp' | 'cot-tcp' | 'cot-tls' | 'cot-udp' }>;
/** `signingKey`: the MAVLink signing key in hex, beside the config (which is journaled; the key never is). */
export type ToIo = { op: 'open'; feed: string; seq: number; config: ListenConfig; signingKey?: string } | { op: 'close'; feed: string; seq: number };
export type FromIo =
  | { op: 'opened'; feed: string; seq: number; port: number; endpoint: string }
  | { op: 'open-failed'; feed: string; seq: number; message: string; fatal: boolean }
  | { op: 'closed'; feed: string; seq: number }
  | { op: 'batch'; feed: string; reports: PositionReport[]; count: number; unused: number }
  | { op: 'alert'; feed: string; alert: AlertReport }
  | { op: 'rejected'; feed: string; reason: string; message: string }
  | { op: 'lost'; feed: string; message: string };

// Source runs as .ts under Node's type stripping; the build runs the compiled .js (unpacked from
// the asar archive in a packaged app, as the store's worker is: electron-builder.yml).
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './io-worker.ts' : './io-worker.js', import.meta.url.replace('/app.asar/', '/app.asar.unpacked/'));

export class FeedIoHost {
  private worker: Worker | null = null;
  private readonly sinks = new Map<string, FeedSink>();
  private readonly waiting = new Map<number, (m: FromIo) => void>();
  private seq = 0;

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_URL);
    w.on('message', (m: FromIo) => {
      if (m.op === 'opened' || m.op === 'open-failed' || m.op === 'closed') {
        this.waiting.get(m.seq)?.(m);
        this.waiting.delete(m.seq);
        return;
      }
      const sink = this.sinks.get(m.feed);
      if (!sink) return; // closed meanwhile
      if (m.op === 'batch') sink.message(m.reports, m.count, m.unused);
      else if (m.op === 'alert') sink.alert(m.alert);
      else if (m.op === 'rejected') sink.rejected(m.reason, m.message);
      else sink.lost(new Error(m.message));
    });
    w.on('error', (err) => {
      // The worker died (a bug, not bad input: input errors never throw there). Every listening
      // feed is lost; the manager reconnects each, which starts a fresh worker.
      console.error(`beacon: the feed I/O worker failed: ${err.message}`);
      this.worker = null;
      for (const [, cb] of this.waiting) cb({ op: 'open-failed', feed: '', seq: 0, message: `feed worker failed: ${err.message}`, fatal: false });
      this.waiting.clear();
      for (const s of [...this.sinks.values()]) s.lost(new Error(`feed worker failed: ${err.message}`));
    });
    this.worker = w;
    return w;
  }

  request(m: ToIo): Promise<FromIo> {
    const w = this.start();
    return new Promise((resolve) => {
      this.waiting.set(m.seq, resolve);
      w.postMessage(m);
    });
  }

  nextSeq(): number {
    return ++this.seq;
  }

  adapter(feed: string, config: ListenConfig, sink: FeedSink, signingKey?: Buffer): WorkerAdapter {
    return new WorkerAdapter(this, feed, config, sink, signingKey?.toString('hex'));
  }

  /** @internal */
  attach(feed: string, sink: FeedSink | null): void {
    if (sink) this.sinks.set(feed, sink);
    else this.sinks.delete(feed);
  }

  async dispose(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.sinks.clear();
    if (w) await w.terminate();
  }
}

export class WorkerAdapter implements FeedAdapter {
  endpoint: string;
  boundPort: number | undefined;
  private readonly host: FeedIoHost;
  private readonly feed: string;
  private readonly config: ListenConfig;
  private readonly sink: FeedSink;
  private open_ = false;

  private readonly signingKey: string | undefined;

  constructor(host: FeedIoHost, feed: string, config: ListenConfig, sink: FeedSink, signingKey?: string) {
    this.signingKey = signingKey;
    this.host = host;
    this.feed = feed;
    this.config = config;
    this.sink = sink;
    this.endpoint = `${config.kind === 'cot-tcp' ? 'tcp' : config.kind === 'cot-tls' ? 'tls' : 'udp'}://${config.host}:${config.port}`;
  }

  async open(): Promise<void> {
    this.host.attach(this.feed, this.sink);
    const r = await this.host.request({ op: 'open', feed: this.feed, seq: this.host.nextSeq(), config: this.config, ...(this.signingKey ? { signingKey: this.signingKey } : {}) });
    if (r.op !== 'opened') {
      this.host.attach(this.feed, null);
      throw new FeedOpenError(r.op === 'open-failed' ? r.message : 'feed worker did not open the feed', r.op === 'open-failed' && r.fatal);
    }
    this.open_ = true;
    this.boundPort = r.port;
    this.endpoint = r.endpoint;
  }

  async close(): Promise<void> {
    this.host.attach(this.feed, null);
    if (!this.open_) return;
    this.open_ = false;
    await this.host.request({ op: 'close', feed: this.feed, seq: this.host.nextSeq() });
  }
}
