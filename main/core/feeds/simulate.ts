// `beacon simulate`: a scenario played onto the wire as real devices would send it, so the hall can be
// seen working without a drone or a TAK server in the room, and tests and the ingest benchmark have a
// sender that speaks the real protocols:
//   drones  MAVLink 2 over UDP (HEARTBEAT 1 Hz, GLOBAL_POSITION_INT at droneHz, VFR_HUD, SYS_STATUS)
//   teams   Cursor-on-Target XML over TCP (as ATAK does), or UDP
//   teams   JSON position reports over MQTT (as a Beidou gateway does), when a broker is given
// Routes are deterministic for a seed: drones orbit coastal county seats at 50-200 m, teams drive from
// their city's seat to one of its counties at 30-50 km/h and then work on site.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { common, minimal, MavLinkProtocolV2 } from 'node-mavlink';
import { bearingDeg, destination, distanceKm } from '../../../common/geo.ts';
import { rng } from '../scenario/seed.ts';
import { CITIES, cityOf, COUNTIES } from '../scenario/zhejiang-places.ts';

export interface SimulateOptions {
  /** Where the hall listens. @default 127.0.0.1 */
  host?: string;
  /** @default 6 */
  drones?: number;
  /** @default 14550 */
  mavlinkPort?: number;
  /** GLOBAL_POSITION_INT per second per drone. @default 2 */
  droneHz?: number;
  /** Teams over CoT. @default 20 */
  teams?: number;
  /** @default 8087 */
  cotPort?: number;
  /** @default tcp */
  cotTransport?: 'tcp' | 'udp';
  /** Reports per second per team. @default 0.5 */
  teamHz?: number;
  /** TCP connections the CoT teams share (a TAK device has its own; a TAK server relays many).
   *  @default min(teams, 64) */
  cotConnections?: number;
  /** A broker for JSON position reports (topic `beacon/positions/{device}`). */
  mqttUrl?: string;
  /** @default 10 when mqttUrl is given */
  mqttTeams?: number;
  /** @default 1 */
  seed?: number;
  /** Called for every position put on the wire (the benchmark's latency clock). */
  onSend?: (source: string, lat: number, lon: number, at: number) => void;
  /** Time scale for tests; the wire always carries the real clock. @default Date.now */
  now?: () => number;
}

interface Mover {
  source: string;
  /** Position at t seconds after the start. */
  at(t: number): { lat: number; lon: number; alt: number; heading: number; speed: number };
  periodMs: number;
  next: number;
  phase: number;
}

function orbit(center: { lat: number; lon: number }, radiusM: number, speed: number, alt: number, phase: number) {
  const omega = speed / radiusM; // rad/s
  return (t: number) => {
    const ang = phase + omega * t;
    const bearing = ((ang * 180) / Math.PI) % 360;
    const p = destination(center, bearing, radiusM / 1000);
    return { lat: p.lat, lon: p.lon, alt, heading: (bearing + 90) % 360, speed };
  };
}

function drive(from: { lat: number; lon: number }, to: { lat: number; lon: number }, speed: number, alt: number, phase: number) {
  const km = distanceKm(from, to);
  const bearing = bearingDeg(from, to);
  const arrive = (km * 1000) / speed;
  const work = orbit(to, 60, 1.2, alt, phase);
  return (t: number) => {
    if (t >= arrive) return work(t - arrive);
    const p = destination(from, bearing, (speed * t) / 1000);
    return { lat: p.lat, lon: p.lon, alt, heading: bearing, speed };
  };
}

const round7 = (x: number) => Math.round(x * 1e7) / 1e7;
const iso = (ms: number) => new Date(ms).toISOString();

export function cotEvent(uid: string, callsign: string, p: { lat: number; lon: number; alt: number; heading: number; speed: number }, now: number, staleS = 60, battery = 90): string {
  return (
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
    `<event version="2.0" uid="${uid}" type="a-f-G-U-C" how="m-g" time="${iso(now)}" start="${iso(now)}" stale="${iso(now + staleS * 1000)}">` +
    `<point lat="${p.lat.toFixed(7)}" lon="${p.lon.toFixed(7)}" hae="${p.alt.toFixed(1)}" ce="5.0" le="9999999.0"/>` +
    `<detail><contact callsign="${callsign}"/><__group name="Cyan" role="Team Member"/>` +
    `<track course="${p.heading.toFixed(1)}" speed="${p.speed.toFixed(2)}"/><status battery="${battery}"/>` +
    `<takv device="Beacon simulator" platform="beacon-simulate" os="node" version="1"/></detail></event>`
  );
}

export class Simulator {
  readonly sent = { mavlink: 0, cot: 0, mqtt: 0 };
  readonly errors = { mavlink: 0, cot: 0, mqtt: 0 };
  private readonly o: Required<Omit<SimulateOptions, 'mqttUrl' | 'onSend' | 'cotConnections'>> & Pick<SimulateOptions, 'mqttUrl' | 'onSend' | 'cotConnections'>;
  private drones: Mover[] = [];
  private teams: Mover[] = [];
  private mqttTeams: Mover[] = [];
  private udp: UdpSocket | null = null;
  private cotUdp: UdpSocket | null = null;
  private tcp: (Socket | null)[] = [];
  private mqtt: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private seq = 0;
  private stopped = false;
  private readonly protocols = new Map<number, MavLinkProtocolV2>();
  private lastHeartbeat = 0;

  constructor(opts: SimulateOptions = {}) {
    this.o = {
      host: '127.0.0.1',
      drones: 6,
      mavlinkPort: 14550,
      droneHz: 2,
      teams: 20,
      cotPort: 8087,
      cotTransport: 'tcp',
      teamHz: 0.5,
      mqttTeams: opts.mqttUrl ? 10 : 0,
      seed: 1,
      now: Date.now,
      ...opts,
    };
    if (this.o.drones > 250) throw new Error('simulate: at most 250 drones per MAVLink link (system ids 1-250)');
    this.build();
  }

  private build(): void {
    const r = rng(this.o.seed);
    const coastal = COUNTIES.filter((c) => c.coastal);
    for (let i = 0; i < this.o.drones; i++) {
      const c = coastal[i % coastal.length]!;
      const center = destination(c, r() * 360, r() * 3);
      this.drones.push({ source: String(i + 1), at: orbit(center, 400 + r() * 1100, 8 + r() * 7, 50 + r() * 150, r() * 6.28), periodMs: 1000 / this.o.droneHz, next: 0, phase: r() });
    }
    const team = (j: number, source: string): Mover => {
      const city = CITIES[j % CITIES.length]!;
      const counties = COUNTIES.filter((c) => cityOf(c.code) === city.code);
      const target = counties[Math.floor(r() * counties.length)] ?? city;
      const from = destination(city, r() * 360, r() * 5);
      const to = destination(target, r() * 360, 0.2 + r() * 2);
      return { source, at: drive(from, to, 8 + r() * 6, 5 + r() * 30, r() * 6.28), periodMs: 1000 / this.o.teamHz, next: 0, phase: r() };
    };
    for (let j = 0; j < this.o.teams; j++) this.teams.push(team(j, `BEACON-SIM-T${String(j + 1).padStart(5, '0')}`));
    for (let j = 0; j < this.o.mqttTeams; j++) this.mqttTeams.push(team(j + 7, `bd-${100001 + j}`));
    // Spread each sender's reports across its period, as independent devices would be.
    for (const m of [...this.drones, ...this.teams, ...this.mqttTeams]) m.next = m.phase * m.periodMs;
  }

  async start(): Promise<void> {
    this.t0 = this.o.now();
    if (this.drones.length) this.udp = createSocket('udp4');
    if (this.teams.length && this.o.cotTransport === 'udp') this.cotUdp = createSocket('udp4');
    if (this.teams.length && this.o.cotTransport === 'tcp') {
      const n = Math.max(1, Math.min(this.o.cotConnections ?? 64, this.teams.length));
      this.tcp = Array.from({ length: n }, () => null);
      await Promise.all(this.tcp.map((_, i) => this.openTcp(i)));
    }
    if (this.mqttTeams.length && this.o.mqttUrl) {
      this.mqtt = await mqtt.connectAsync(this.o.mqttUrl, { clientId: `beacon-simulate-${process.pid}`, reconnectPeriod: 1000 });
    }
    this.timer = setInterval(() => this.tick(), 20);
  }

  private openTcp(i: number): Promise<void> {
    return new Promise((resolve) => {
      const s = connect(this.o.cotPort, this.o.host);
      s.setNoDelay(true);
      s.resume(); // what the hall says (its TAK Protocol offer) is read and let go, as an XML-only client does
      s.once('connect', () => {
        this.tcp[i] = s;
        resolve();
      });
      s.on('error', () => {
        this.errors.cot++;
      });
      s.on('close', () => {
        if (this.tcp[i] === s) this.tcp[i] = null;
        resolve();
        // A TAK client reconnects when the server goes away; so does the simulator.
        if (!this.stopped) setTimeout(() => void this.openTcp(i), 1000).unref();
      });
    });
  }

  private protocol(sysid: number): MavLinkProtocolV2 {
    let p = this.protocols.get(sysid);
    if (!p) this.protocols.set(sysid, (p = new MavLinkProtocolV2(sysid, 1)));
    return p;
  }

  private tick(): void {
    const now = this.o.now();
    const t = now - this.t0;
    const secs = t / 1000;
    // Drones: a heartbeat and status each second, positions at droneHz.
    if (this.udp) {
      const heartbeat = now - this.lastHeartbeat >= 1000;
      if (heartbeat) this.lastHeartbeat = now;
      for (const d of this.drones) {
        const sysid = Number(d.source);
        const p = this.protocol(sysid);
        const parts: Buffer[] = [];
        if (heartbeat) {
          const hb = new minimal.Heartbeat();
          hb.type = minimal.MavType.QUADROTOR;
          hb.autopilot = minimal.MavAutopilot.ARDUPILOTMEGA;
          hb.baseMode = 128 | 1; // armed, custom mode
          hb.customMode = 3; // AUTO
          hb.systemStatus = minimal.MavState.ACTIVE;
          hb.mavlinkVersion = 3;
          parts.push(p.serialize(hb, this.seq++ & 255));
          const st = new common.SysStatus();
          st.batteryRemaining = Math.max(15, 100 - Math.floor(secs / 20) - (sysid % 7));
          st.voltageBattery = 15200;
          st.currentBattery = -1;
          parts.push(p.serialize(st, this.seq++ & 255));
        }
        if (t >= d.next) {
          d.next += d.periodMs;
          if (d.next < t) d.next = t + d.periodMs; // fell behind (a paused process): do not burst
          const pos = d.at(secs);
          const g = new common.GlobalPositionInt();
          g.timeBootMs = t >>> 0;
          g.lat = Math.round(pos.lat * 1e7);
          g.lon = Math.round(pos.lon * 1e7);
          g.alt = Math.round((pos.alt + 10) * 1000);
          g.relativeAlt = Math.round(pos.alt * 1000);
          const rad = (pos.heading * Math.PI) / 180;
          g.vx = Math.round(Math.cos(rad) * pos.speed * 100);
          g.vy = Math.round(Math.sin(rad) * pos.speed * 100);
          g.vz = 0;
          g.hdg = Math.round(pos.heading * 100) % 36000;
          parts.push(p.serialize(g, this.seq++ & 255));
          this.o.onSend?.(d.source, g.lat / 1e7, g.lon / 1e7, now);
          this.sent.mavlink++;
        }
        if (parts.length) this.udp.send(Buffer.concat(parts), this.o.mavlinkPort, this.o.host, (err) => err && this.errors.mavlink++);
      }
    }
    // Teams over CoT: each TCP connection gets one write per tick with every event due on it.
    if (this.teams.length) {
      const batches: string[][] = this.tcp.map(() => []);
      this.teams.forEach((m, j) => {
        if (t < m.next) return;
        m.next += m.periodMs;
        if (m.next < t) m.next = t + m.periodMs;
        const p = m.at(secs);
        const pos = { ...p, lat: round7(p.lat), lon: round7(p.lon) };
        const xml = cotEvent(m.source, `救援${j + 1}`, pos, now);
        if (this.cotUdp) {
          this.cotUdp.send(xml, this.o.cotPort, this.o.host, (err) => err && this.errors.cot++);
        } else {
          const c = j % this.tcp.length;
          if (!this.tcp[c]) return void this.errors.cot++;
          batches[c]!.push(xml);
        }
        this.o.onSend?.(m.source, pos.lat, pos.lon, now);
        this.sent.cot++;
      });
      batches.forEach((b, c) => b.length && this.tcp[c]?.write(b.join('')));
    }
    if (this.mqtt) {
      for (const m of this.mqttTeams) {
        if (t < m.next) continue;
        m.next += m.periodMs;
        if (m.next < t) m.next = t + m.periodMs;
        const p = m.at(secs);
        const lat = round7(p.lat);
        const lon = round7(p.lon);
        const body = {
          id: m.source,
          lat,
          lon,
          alt: Math.round(p.alt * 10) / 10,
          time: now,
          speed: Math.round(p.speed * 100) / 100,
          heading: Math.round(p.heading * 10) / 10,
          accuracy: 8,
          battery: 80,
        };
        this.mqtt.publish(`beacon/positions/${m.source}`, JSON.stringify(body), { qos: 0 });
        this.o.onSend?.(m.source, lat, lon, now);
        this.sent.mqtt++;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.tcp) s?.end();
    this.tcp = [];
    await Promise.all([this.udp, this.cotUdp].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
    this.udp = this.cotUdp = null;
    await this.mqtt?.endAsync();
    this.mqtt = null;
  }
}
