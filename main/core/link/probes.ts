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
import mqttPacket, { type Packet } from 'mqtt-packet';
import { header, parseSip, serialize } from '../calls/sip/message.ts';

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

// MQTT packets are MQTT.js's own encoder and parser (mqtt-packet): the probe speaks exactly what the
// uplink's client speaks, and long client ids and split reads are the library's business.
const PINGREQ = mqttPacket.generate({ cmd: 'pingreq' });
const DISCONNECT = mqttPacket.generate({ cmd: 'disconnect' });

class MqttProber implements Prober {
  private readonly host: string;
  private readonly port: number;
  private sock: Socket | null = null;
  private waiting: ((packet: Packet | null) => void) | null = null;
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
        sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: this.clientId, keepalive: 10 }));
        const ack = await this.next(left);
        if (ack?.cmd !== 'connack') return fail();
        const rc = ack.returnCode ?? 255;
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
      if (r?.cmd !== 'pingresp') return fail();
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
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on('packet', (packet: Packet) => {
          const w = this.waiting;
          this.waiting = null;
          w?.(packet);
        });
        // Not MQTT: whatever listens there is not a broker.
        parser.on('error', () => this.drop(sock));
        sock.on('data', (d: Buffer) => parser.parse(d));
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

  private next(timeoutMs: number): Promise<Packet | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.waiting = null;
          resolve(null);
        },
        Math.max(1, timeoutMs),
      );
      this.waiting = (packet) => {
        clearTimeout(timer);
        resolve(packet);
      };
    });
  }

  private drop(which?: Socket): void {
    if (which && which !== this.sock) return;
    this.sock?.destroy();
    this.sock = null;
    const w = this.waiting;
    this.waiting = null;
    w?.(null);
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
    // The call desk's own SIP encoder: one way to write SIP in the hall.
    const msg = serialize({
      kind: 'request',
      method: 'OPTIONS',
      uri: `sip:${target}:${this.port}`,
      headers: [
        ['via', `SIP/2.0/UDP ${at}:${local.port};branch=${branch};rport`],
        ['max-forwards', '70'],
        ['from', `<sip:beacon-probe@${at}>;tag=${randomBytes(4).toString('hex')}`],
        ['to', `<sip:${target}:${this.port}>`],
        ['call-id', callId],
        ['cseq', '1 OPTIONS'],
        ['contact', `<sip:beacon-probe@${at}:${local.port}>`],
        ['accept', 'application/sdp'],
        ['user-agent', 'Beacon link monitor'],
      ],
      body: '',
    });
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
      const r = parseSip(data.toString('utf8'));
      if (!r.ok || r.msg.kind !== 'response') return;
      const callId = header(r.msg, 'call-id');
      if (callId) this.pending.get(callId)?.(String(r.msg.status));
    });
    sock.on('error', () => undefined);
    sock.unref();
    this.ready = new Promise((resolve) => sock.bind(0, () => resolve()));
    return this.ready;
  }
}
