// The feed I/O worker: the listening feeds (MAVLink UDP, CoT TCP and UDP) run here, off the thread
// that serves the displays. Sockets, framing, XML and MAVLink decoding and every check happen in this
// thread; the main thread receives finished reports in batches (one message per turn of this loop)
// and only applies them. At 20,000 positions a second decoding was a third of the main thread's time.
import { parentPort } from 'node:worker_threads';
import type { FeedAdapter, FeedSink } from './adapter.ts';
import { FeedOpenError } from './adapter.ts';
import { CotTcpAdapter, CotUdpAdapter } from './cot.ts';
import { MavlinkUdpAdapter } from './mavlink.ts';
import type { AlertReport, PositionReport } from './report.ts';
import type { ToIo, FromIo } from './io-host.ts';

const port = parentPort!;
const adapters = new Map<string, FeedAdapter>();
const post = (m: FromIo) => port.postMessage(m);

class BatchingSink implements FeedSink {
  private reports: PositionReport[] = [];
  private count = 0;
  private unused = 0;
  private scheduled = false;
  private readonly feed: string;
  constructor(feed: string) {
    this.feed = feed;
  }
  message(reports: PositionReport[], count = 1, unused = 0): void {
    for (const r of reports) this.reports.push(r);
    this.count += count;
    this.unused += unused;
    if (this.scheduled) return;
    this.scheduled = true;
    // One message per turn of this loop: at high rates batches grow, at low rates nothing waits.
    setImmediate(() => this.flush());
  }
  flush(): void {
    this.scheduled = false;
    if (this.count === 0) return;
    post({ op: 'batch', feed: this.feed, reports: this.reports, count: this.count, unused: this.unused });
    this.reports = [];
    this.count = 0;
    this.unused = 0;
  }
  alert(a: AlertReport): void {
    this.flush(); // after the message that carried it
    post({ op: 'alert', feed: this.feed, alert: a });
  }
  rejected(reason: string, message: string): void {
    this.flush(); // keep the order: what was good before the bad input is applied first
    post({ op: 'rejected', feed: this.feed, reason, message });
  }
  lost(err: Error): void {
    this.flush();
    post({ op: 'lost', feed: this.feed, message: err.message });
  }
}

port.on('message', (m: ToIo) => {
  if (m.op === 'open') {
    const sink = new BatchingSink(m.feed);
    const c = m.config;
    // the manager places every listener before it opens (no host: where the hub listens)
    const host = c.host ?? '127.0.0.1';
    const a: FeedAdapter & { boundPort?: number } =
      c.kind === 'mavlink-udp'
        ? new MavlinkUdpAdapter({ host, port: c.port, allowFrom: c.allowFrom, key: m.signingKey ? Buffer.from(m.signingKey, 'hex') : null }, sink)
        : c.kind === 'cot-tcp' || c.kind === 'cot-tls'
          ? new CotTcpAdapter(
              { host, port: c.port, teamKind: c.teamKind, allowFrom: c.allowFrom, tls: c.kind === 'cot-tls' ? { certFile: c.certFile, keyFile: c.keyFile, caFile: c.caFile } : undefined },
              sink,
            )
          : new CotUdpAdapter({ host, port: c.port, teamKind: c.teamKind, allowFrom: c.allowFrom }, sink);
    a.open().then(
      () => {
        adapters.set(m.feed, a);
        post({ op: 'opened', feed: m.feed, seq: m.seq, port: a.boundPort ?? c.port, endpoint: a.endpoint });
      },
      (e: Error) => post({ op: 'open-failed', feed: m.feed, seq: m.seq, message: e.message, fatal: e instanceof FeedOpenError && e.fatal }),
    );
    return;
  }
  if (m.op === 'close') {
    const a = adapters.get(m.feed);
    adapters.delete(m.feed);
    void (a?.close() ?? Promise.resolve()).then(() => post({ op: 'closed', feed: m.feed, seq: m.seq }));
  }
});
