// The seam between a wire (a UDP port, a TCP listener, an MQTT subscription) and the feed manager.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { BlockList, isIP } from 'node:net';
import type { AlertReport, PositionReport } from './report.ts';

export interface FeedSink {
  /** Valid messages (`count`, default 1), and the positions (or "still here" reports) they
   *  carried; may be none. `unused`: how many of them were understood and not used (chat, a
   *  dialect's status message): shown on the feed board, never counted as refused. */
  message(reports: PositionReport[], count?: number, unused?: number): void;
  /** An emergency raised or cancelled by a device (after the message that carried it). */
  alert(a: AlertReport): void;
  /** One message refused: counted under `reason`, logged once per burst. */
  rejected(reason: string, message: string): void;
  /** The transport died after it was open; the manager reconnects with backoff. */
  lost(err: Error): void;
}

export interface FeedAdapter {
  /** Where it listens or connects, without credentials (shown on the feed board). */
  readonly endpoint: string;
  /** Open the transport: resolves once listening or connected. A rejection with `fatal` set means
   *  retrying cannot help until an operator acts (a refused login, a privileged port). */
  open(): Promise<void>;
  /** Close everything the adapter holds; idempotent. */
  close(): Promise<void>;
}

export class FeedOpenError extends Error {
  readonly fatal: boolean;
  constructor(message: string, fatal: boolean) {
    super(message);
    this.fatal = fatal;
  }
}

/** Socket errors that a retry will not fix without an operator (wrong address, no permission). */
export function fatalSocketError(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EINVAL';
}

/** A UDP socket bound for a feed: open errors become FeedOpenError (fatal when a retry cannot help),
 *  later errors are the feed's loss. Telemetry comes in bursts: a deeper receive buffer rides out a
 *  busy moment (the kernel's limit applies). */
/** A feed's `allowFrom` as a test of a sender's address; null: anyone who reaches the port. */
export function peerFilter(allowFrom: readonly string[] | undefined): ((address: string) => boolean) | null {
  if (!allowFrom?.length) return null;
  const list = new BlockList();
  for (const rule of allowFrom) {
    const [addr, bits] = rule.split('/');
    const family = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, family);
    else list.addSubnet(addr!, Number(bits), family);
  }
  return (address) => {
    // a v4 sender on a dual-stack socket arrives as ::ffff:a.b.c.d
    const a = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    return list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  };
}

export function listenUdp(
  host: string,
  port: number,
  endpoint: string,
  sink: FeedSink,
  onMessage: (msg: Buffer, from: RemoteInfo) => void,
  allowed: ((address: string) => boolean) | null = null,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    const onError = (err: NodeJS.ErrnoException) => {
      s.close();
      reject(new FeedOpenError(`cannot listen on ${endpoint}: ${err.message}`, fatalSocketError(err)));
    };
    s.once('error', onError);
    s.on('message', (msg, from) => {
      if (allowed && !allowed(from.address)) return sink.rejected('peer_refused', `${from.address}: not on this feed's allowFrom list`);
      onMessage(msg, from);
    });
    s.bind(port, host, () => {
      s.off('error', onError);
      try {
        s.setRecvBufferSize(4 * 1024 * 1024);
      } catch {
        /* the kernel's limit applies; not fatal */
      }
      s.on('error', (err) => sink.lost(err));
      resolve(s);
    });
  });
}
