// The seam between a wire (a UDP port, a TCP listener, an MQTT subscription) and the feed manager.
import type { PositionReport } from './report.ts';

export interface FeedSink {
  /** Valid messages (`count`, default 1), and the positions (or "still here" reports) they
   *  carried; may be none. */
  message(reports: PositionReport[], count?: number): void;
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
