// Probes that speak the upstream's own protocol. A TCP connect only shows that something accepts
// connections; a broker that is up but wedged, or a SIP platform whose process died behind a load
// balancer, still accepts them. So:
//  - mqtt: one long-lived probe connection (CONNECT → CONNACK), then a PINGREQ → PINGRESP per probe.
//    A refused CONNACK (not authorized) still proves the broker answers. One connection, not one per
//    probe: a province bus with a hundred halls must not see two hundred connects a second.
//  - sip: an OPTIONS request over UDP; any SIP response with our Call-ID proves the platform answers
//    (404 and 403 included: the SIP stack is alive).
//  - tcp: the connect itself, for endpoints with no cheap protocol-level ping (tile servers).
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6, type Socket } from 'node:net';

export type ProbeProtocol = 'tcp' | 'mqtt' | 'sip';

export interface ProbeResult {
  ok: boolean;
  rttMs: number | null;
  /** What the far end said, when it said something worth showing (a CONNACK code, a SIP status). */
  note?: string;
}

export interface Prober {
  run(timeoutMs: number): Promise<ProbeResult>;
  close(): void;
}

export function makeProber(protocol: ProbeProtocol, host: string, port: number): Prober {
  if (protocol === 'mqtt') return new MqttProber(host, port);
  if (protocol === 'sip') return new SipProber(host, port);
  return new TcpProber(host, port);
}

class TcpProber implements Prober {
  private readonly host: string;
  private readonly port: number;
  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }
  run(timeoutMs: number): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const started = performance.now();
      const sock = connect({ host: this.host, port: this.port });
      const done = (ok: boolean) => {
        clearTimeout(timer);
        sock.destroy();
        resolve({ ok, rttMs: ok ? Math.round(performance.now() - started) : null });
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      sock.once('connect', () => done(true));
      sock.once('error', () => done(false));
    });
  }
  close(): void {}
}

/** MQTT 3.1.1 packets, just the four a keep-alive needs. */
export function mqttConnectPacket(clientId: string, keepaliveSeconds: number): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, keepaliveSeconds >> 8, keepaliveSeconds & 0xff]);
  const payload = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  const len = variable.length + payload.length; // < 128: one length byte
  return Buffer.concat([Buffer.from([0x10, len]), variable, payload]);
}
const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

class MqttProber implements Prober {
  private readonly host: string;
  private readonly port: number;
  private sock: Socket | null = null;
  private buf = Buffer.alloc(0);
  private waiting: ((type: number, body: Buffer) => void) | null = null;
  private readonly clientId = `beacon-probe-${randomBytes(6).toString('hex')}`;
  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  async run(timeoutMs: number): Promise<ProbeResult> {
    const started = performance.now();
    const fail = (): ProbeResult => {
      this.drop();
      return { ok: false, rttMs: null };
    };
    try {
      if (!this.sock) {
        const sock = await this.open(timeoutMs);
        if (!sock) return fail();
        const left = timeoutMs - (performance.now() - started);
        // Keepalive: the broker drops a probe connection that stops pinging (the hall stopped).
        sock.write(mqttConnectPacket(this.clientId, 10));
        const ack = await this.next(left);
        if (!ack || ack.type !== 2) return fail();
        const rc = ack.body[1] ?? 255;
        const rtt = Math.round(performance.now() - started);
        if (rc !== 0) {
          // Refused (bad credentials, server unavailable): the broker is there and answering.
          this.drop();
          return { ok: true, rttMs: rtt, note: `CONNACK ${rc}` };
        }
        return { ok: true, rttMs: rtt };
      }
      this.sock.write(PINGREQ);
      const r = await this.next(timeoutMs);
      if (!r || r.type !== 13) return fail();
      return { ok: true, rttMs: Math.round(performance.now() - started) };
    } catch {
      return fail();
    }
  }

  close(): void {
    if (this.sock && !this.sock.destroyed) this.sock.end(DISCONNECT);
    this.drop();
  }

  private open(timeoutMs: number): Promise<Socket | null> {
    return new Promise((resolve) => {
      const sock = connect({ host: this.host, port: this.port });
      sock.setNoDelay(true);
      const timer = setTimeout(() => {
        sock.destroy();
        resolve(null);
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        this.sock = sock;
        this.buf = Buffer.alloc(0);
        sock.on('data', (d: Buffer) => this.onData(d));
        sock.on('close', () => this.drop(sock));
        sock.on('error', () => this.drop(sock));
        resolve(sock);
      });
      sock.once('error', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      // Remaining length: variable-length integer, up to 4 bytes.
      let len = 0;
      let mul = 1;
      let i = 1;
      for (; i < 5; i++) {
        if (i >= this.buf.length) return;
        const b = this.buf[i]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) break;
      }
      if (i === 5) return this.drop(); // malformed: not an MQTT broker
      const total = i + 1 + len;
      if (this.buf.length < total) return;
      const type = this.buf[0]! >> 4;
      const body = this.buf.subarray(i + 1, total);
      this.buf = this.buf.subarray(total);
      const w = this.waiting;
      this.waiting = null;
      w?.(type, body);
    }
  }

  private next(timeoutMs: number): Promise<{ type: number; body: Buffer } | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.waiting = null;
          resolve(null);
        },
        Math.max(1, timeoutMs),
      );
      this.waiting = (type, body) => {
        clearTimeout(timer);
        resolve({ type, body });
      };
    });
  }

  private drop(which?: Socket): void {
    if (which && which !== this.sock) return;
    this.sock?.destroy();
    this.sock = null;
    this.buf = Buffer.alloc(0);
    const w = this.waiting;
    this.waiting = null;
    w?.(-1, Buffer.alloc(0));
  }
}

class SipProber implements Prober {
  private readonly host: string;
  private readonly port: number;
  private sock: UdpSocket | null = null;
  private pending = new Map<string, (status: string) => void>();
  private ready: Promise<void> | null = null;
  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  async run(timeoutMs: number): Promise<ProbeResult> {
    const started = performance.now();
    await this.open();
    const callId = `${randomBytes(8).toString('hex')}@beacon-probe`;
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const local = this.sock!.address();
    const at = isIPv6(local.address) ? `[${local.address}]` : local.address;
    const target = isIPv6(this.host) ? `[${this.host}]` : this.host;
    const msg = [
      `OPTIONS sip:${target}:${this.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${at}:${local.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:beacon-probe@${at}>;tag=${randomBytes(4).toString('hex')}`,
      `To: <sip:${target}:${this.port}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 OPTIONS',
      `Contact: <sip:beacon-probe@${at}:${local.port}>`,
      'Accept: application/sdp',
      'User-Agent: Beacon link monitor',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(callId);
        resolve({ ok: false, rttMs: null });
      }, timeoutMs);
      this.pending.set(callId, (status) => {
        clearTimeout(timer);
        this.pending.delete(callId);
        resolve({ ok: true, rttMs: Math.round(performance.now() - started), note: status });
      });
      this.sock!.send(msg, this.port, this.host, (err) => {
        if (err) {
          clearTimeout(timer);
          this.pending.delete(callId);
          resolve({ ok: false, rttMs: null });
        }
      });
    });
  }

  close(): void {
    this.sock?.close();
    this.sock = null;
    this.ready = null;
  }

  private open(): Promise<void> {
    if (this.ready) return this.ready;
    const sock = createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
    this.sock = sock;
    sock.on('message', (data) => {
      // Only a SIP response counts, and only one to a probe of ours (its Call-ID).
      const text = data.toString('utf8', 0, Math.min(data.length, 4096));
      const status = /^SIP\/2\.0 (\d{3})/.exec(text)?.[1];
      const callId = /^(?:Call-ID|i)\s*:\s*(\S+)/im.exec(text)?.[1];
      if (status && callId) this.pending.get(callId)?.(status);
    });
    sock.on('error', () => undefined);
    sock.unref();
    this.ready = new Promise((resolve) => sock.bind(0, () => resolve()));
    return this.ready;
  }
}
