// Two transports for one protocol: a MessagePort to the main process (Electron) and a WebSocket
// (browser displays, remote consoles). The same text frames, the same check of each (parseServerFrame).
import type { BeaconBridge } from '../../common/bridge.ts';
import { type ClientMessage, deltaProblem, parseServerFrame, type ServerMessage } from '../../common/contract.ts';
import { decodeMoves, type DecodedMoves } from '../../common/positions.ts';

export interface TransportHandlers {
  open(): void;
  /** `size`: the frame's characters (text) or bytes (binary), what the hall counts for `ack`;
   *  `moves`: a binary delta's moves (common/positions.ts). */
  message(msg: ServerMessage, size: number, moves?: DecodedMoves['moves']): void;
  close(reason: string): void;
  invalid(reason: string): void;
}
export interface Transport {
  /** Whether it carries binary frames (units' moves); the client asks for them only then. */
  readonly binary: boolean;
  connect(h: TransportHandlers): void;
  send(msg: ClientMessage): void;
  close(): void;
}

/** Snapshots of large topics are big; this bounds what a display will parse from the hall. */
const MAX_SERVER_FRAME = 64 * 1024 * 1024;

/** One frame from the hall, text or binary, checked and handed on: a binary frame is a delta whose
 *  moves are packed (common/positions.ts), its header checked as any delta's. */
export function readFrame(data: unknown, h: TransportHandlers): void {
  if (typeof data === 'string') {
    const r = parseServerFrame(data, MAX_SERVER_FRAME);
    if (r.ok) h.message(r.msg, data.length);
    else h.invalid(r.error.message);
    return;
  }
  if (!(data instanceof ArrayBuffer)) return h.invalid('a frame that is neither text nor binary');
  const r = decodeMoves(data);
  if (!r.ok) return h.invalid(r.error);
  const head = r.frame.header;
  if (head.t !== 'delta') return h.invalid('a binary frame that is not a delta');
  const problem = deltaProblem(head);
  if (problem) return h.invalid(problem);
  h.message(head as ServerMessage, data.byteLength, r.frame.moves);
}

export class WebSocketTransport implements Transport {
  readonly binary = true;
  private ws: WebSocket | null = null;
  private readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  connect(h: TransportHandlers): void {
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => h.open();
    ws.onmessage = (e: MessageEvent) => readFrame(e.data, h);
    ws.onclose = (e: CloseEvent) => {
      if (this.ws === ws) this.ws = null;
      h.close(`${e.code}${e.reason ? ' ' + e.reason : ''}`);
    };
  }
  send(msg: ClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }
  close(): void {
    this.ws?.close(1000, 'display closed');
    this.ws = null;
  }
}

/**
 * Electron: the hub protocol over a MessagePort to the main process, the same text frames and the same
 * checks as the WebSocket. `acquire` yields a fresh port for each connection (the preload has the main
 * process make one per request); a port that closes ends the connection, and the client reconnects.
 */
export class MessagePortTransport implements Transport {
  readonly binary = false;
  private port: MessagePort | null = null;
  private readonly acquire: () => Promise<MessagePort>;
  private closed = false;
  constructor(acquire: () => Promise<MessagePort>) {
    this.acquire = acquire;
  }
  connect(h: TransportHandlers): void {
    this.closed = false;
    this.acquire().then(
      (port) => {
        if (this.closed) return port.close();
        this.port = port;
        port.onmessage = (e: MessageEvent) => {
          if (typeof e.data !== 'string') return h.invalid('not a text frame');
          const r = parseServerFrame(e.data, MAX_SERVER_FRAME);
          if (r.ok) h.message(r.msg, e.data.length);
          else h.invalid(r.error.message);
        };
        // Chromium signals a port whose other end went away (the hall restarted) with 'close'.
        port.addEventListener('close', () => {
          if (this.port !== port) return;
          this.port = null;
          h.close('port closed');
        });
        port.start();
        h.open();
      },
      (err: Error) => h.close(`no port to the hall: ${err.message}`),
    );
  }
  send(msg: ClientMessage): void {
    this.port?.postMessage(JSON.stringify(msg));
  }
  close(): void {
    this.closed = true;
    this.port?.close();
    this.port = null;
  }
}

/** The port from the preload (common/bridge.ts): listen for our nonce first, then ask; any other
 *  message to the window, with a port or not, is left alone. */
export function acquirePort(bridge: BeaconBridge, win: Window = window, timeoutMs = 10_000): Promise<MessagePort> {
  const nonce = `${crypto.randomUUID()}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      win.removeEventListener('message', onMessage);
      reject(new Error('the preload did not hand over a port'));
    }, timeoutMs);
    const onMessage = (e: MessageEvent) => {
      // The nonce is the proof: random, known only to this page and the preload it asked.
      if (e.data !== nonce || !e.ports[0]) return;
      clearTimeout(timer);
      win.removeEventListener('message', onMessage);
      resolve(e.ports[0]);
    };
    win.addEventListener('message', onMessage);
    bridge.acquirePort(nonce);
  });
}
