// SIP transports to the hall's platform (its registrar/proxy): UDP, TCP, TLS, WS and WSS.
// The UA speaks only to that one outbound proxy (the fused-communication platform routes every
// call), so a transport is one socket or one connection to it, reopened on demand.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { MAX_SIP_BYTES, parseSip, type SipMessage, StreamFramer } from './message.ts';

export type SipTransportKind = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
export interface SipServer {
  host: string;
  port: number;
  transport: SipTransportKind;
  /** WebSocket path. @default '/' */
  path?: string;
  /** Extra CA certificates (PEM) trusted for TLS/WSS, e.g. the platform's own CA. */
  ca?: string;
}
/** Where a request came from (to answer it the same way). */
export interface Peer {
  host: string;
  port: number;
}

export interface TransportEvents {
  message(msg: SipMessage, from: Peer): void;
  /** A frame that is not SIP: counted and dropped by the UA. */
  malformed(error: string, sample: string): void;
  /** A stream transport lost its connection (the UA re-registers on the next one). */
  closed(reason: string): void;
}

export class SipTransport {
  readonly server: SipServer;
  /** Via's transport token. */
  readonly via: 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';
  private udp: UdpSocket | null = null;
  private stream: Socket | null = null;
  private ws: WebSocket | null = null;
  private connecting: Promise<void> | null = null;
  private localAddr: Peer = { host: '127.0.0.1', port: 0 };
  private disposed = false;
  private readonly ev: TransportEvents;

  constructor(server: SipServer, ev: TransportEvents) {
    this.server = server;
    this.via = server.transport.toUpperCase() as SipTransport['via'];
    this.ev = ev;
  }

  /** Our address as the platform sees it (Via sent-by, Contact). Valid after {@link open}. */
  get local(): Peer {
    return this.localAddr;
  }

  get reliable(): boolean {
    return this.server.transport !== 'udp';
  }

  /** Open the socket or connection if it is not open. Rejects when the platform cannot be reached. */
  open(): Promise<void> {
    if (this.disposed) return Promise.reject(new Error('transport closed'));
    if (this.isOpen()) return Promise.resolve();
    this.connecting ??= this.doOpen().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private isOpen(): boolean {
    if (this.server.transport === 'udp') return this.udp !== null;
    if (this.server.transport === 'ws' || this.server.transport === 'wss') return this.ws?.readyState === WebSocket.OPEN;
    return this.stream !== null && !this.stream.destroyed && !this.stream.connecting;
  }

  private async doOpen(): Promise<void> {
    const { host, port, transport } = this.server;
    if (transport === 'udp') {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      // The local address towards the platform: connect() picks the route, then we bind there.
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.bind(0, () => res());
      });
      const probe = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const localHost = await new Promise<string>((res) => probe.connect(port, host, () => res(probe.address().address))).finally(() => probe.close());
      s.removeAllListeners('error');
      s.on('error', (e) => this.ev.closed(`udp: ${e.message}`));
      s.on('message', (buf, rinfo) => this.deliver(buf.toString(), { host: rinfo.address, port: rinfo.port }));
      this.udp = s;
      this.localAddr = { host: localHost, port: s.address().port };
      return;
    }
    if (transport === 'ws' || transport === 'wss') {
      const url = `${transport}://${host.includes(':') ? `[${host}]` : host}:${port}${this.server.path ?? '/'}`;
      const ws = new WebSocket(url, 'sip', { ca: this.server.ca, maxPayload: MAX_SIP_BYTES, handshakeTimeout: 5000 });
      await new Promise<void>((res, rej) => {
        ws.once('open', () => res());
        ws.once('error', (e) => rej(e));
      });
      ws.on('error', () => undefined);
      ws.on('message', (data) => this.deliver(data.toString(), { host, port }));
      ws.on('close', () => {
        if (this.ws === ws) this.ws = null;
        if (!this.disposed) this.ev.closed('websocket closed');
      });
      this.ws = ws;
      // RFC 7118: the Via host of a WebSocket client is a made-up .invalid name.
      this.localAddr = { host: `${Math.random().toString(36).slice(2, 10)}.invalid`, port: 0 };
      return;
    }
    const sock = transport === 'tls' ? tlsConnect({ host, port, ca: this.server.ca, servername: /^[\d.:]+$/.test(host) ? undefined : host }) : netConnect({ host, port });
    await new Promise<void>((res, rej) => {
      sock.once(transport === 'tls' ? 'secureConnect' : 'connect', () => res());
      sock.once('error', rej);
      sock.setTimeout(5000, () => sock.destroy(new Error('connect timed out')));
    });
    sock.setTimeout(0);
    sock.removeAllListeners('error');
    sock.setKeepAlive(true, 15_000);
    const framer = new StreamFramer();
    sock.on('data', (chunk: Buffer) => {
      const r = framer.push(chunk);
      for (const m of r.messages) this.deliver(m, { host, port });
      if (r.error) {
        this.ev.malformed(r.error, '');
        sock.destroy();
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.stream === sock) this.stream = null;
      if (!this.disposed) this.ev.closed('connection closed');
    });
    this.stream = sock;
    this.localAddr = { host: sock.localAddress!.replace(/^::ffff:/, ''), port: sock.localPort! };
  }

  private deliver(text: string, from: Peer): void {
    const r = parseSip(text);
    if (r.ok) this.ev.message(r.msg, from);
    else this.ev.malformed(r.error, text.slice(0, 80));
  }

  /** Send to the platform, or (UDP) back to where a request came from. */
  async send(text: string, to?: Peer): Promise<void> {
    await this.open();
    if (this.udp) {
      const dst = to ?? { host: this.server.host, port: this.server.port };
      await new Promise<void>((res, rej) => this.udp!.send(text, dst.port, dst.host, (e) => (e ? rej(e) : res())));
    } else if (this.ws) this.ws.send(text);
    else if (this.stream) this.stream.write(text);
    else throw new Error('not connected');
  }

  close(): void {
    this.disposed = true;
    this.udp?.close();
    this.udp = null;
    this.stream?.destroy();
    this.stream = null;
    this.ws?.terminate();
    this.ws = null;
  }
}
