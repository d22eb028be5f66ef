// Drones over MAVLink 2 (and 1) on UDP, decoded with node-mavlink (packet header, CRC with the
// message's CRC_EXTRA, payload classes from the minimal, standard, common and ardupilotmega
// dialects). One drone per system id.
//
// Each datagram is decoded on its own: a UDP datagram carries whole packets, so a truncated or
// corrupt one never poisons the next (a stream splitter would carry its junk over), and a flood of
// garbage costs one scan, never a growing buffer.
import type { Socket } from 'node:dgram';
import {
  ardupilotmega,
  common,
  MavLinkPacketSignature,
  minimal,
  standard,
  MavLinkProtocolV1,
  MavLinkProtocolV2,
  MSG_ID_MAGIC_NUMBER,
  x25crc,
  type MavLinkData,
  type MavLinkDataConstructor,
  type MavLinkProtocol,
} from 'node-mavlink';
import type { DroneState } from '../../../common/domain.ts';
import { type FeedAdapter, type FeedSink, listenUdp, peerFilter } from './adapter.ts';
import type { PositionReport } from './report.ts';

/** Every message a real autopilot link carries: minimal, standard (AUTOPILOT_VERSION), common, and
 *  ArduPilot's own dialect (EKF_STATUS_REPORT, MEMINFO, AHRS2, …). A message we know but do not use
 *  is decoded, checked and passed over: it is traffic, not a refusal. */
const REGISTRY: Record<number, MavLinkDataConstructor<MavLinkData>> = { ...ardupilotmega.REGISTRY, ...common.REGISTRY, ...standard.REGISTRY, ...minimal.REGISTRY };
const V1 = new MavLinkProtocolV1();
const V2 = new MavLinkProtocolV2();
const SIGNATURE_LENGTH = 13;
const MAV_MODE_FLAG_SAFETY_ARMED = 128;
const MAV_MODE_FLAG_CUSTOM_MODE_ENABLED = 1;
const AUTOPILOT_ARDUPILOT = 3;
const AUTOPILOT_PX4 = 12;
const ID = { HEARTBEAT: 0, SYS_STATUS: 1, ATTITUDE: 30, GLOBAL_POSITION_INT: 33, VFR_HUD: 74, BATTERY_STATUS: 147 } as const;

/**
 * ArduPilot's custom_mode numbers differ by firmware: 19 is AVOID_ADSB on a Copter, QLOITER on a
 * Plane, unused on a Sub. The names come from ArduPilot's own ardupilotmega.xml (COPTER_MODE,
 * PLANE_MODE, ROVER_MODE, SUB_MODE, TRACKER_MODE, through node-mavlink's generated dialect), chosen
 * by the vehicle type the HEARTBEAT carries (MAV_TYPE), as Mission Planner and QGroundControl do.
 */
const ARDUPILOT_MODES: Record<'copter' | 'plane' | 'rover' | 'sub' | 'tracker', Record<number, string>> = {
  copter: ardupilotmega.CopterMode as unknown as Record<number, string>,
  plane: ardupilotmega.PlaneMode as unknown as Record<number, string>,
  rover: ardupilotmega.RoverMode as unknown as Record<number, string>,
  sub: ardupilotmega.SubMode as unknown as Record<number, string>,
  tracker: ardupilotmega.TrackerMode as unknown as Record<number, string>,
};

/** Which ArduPilot firmware a MAV_TYPE runs (minimal.xml's MAV_TYPE numbers). */
function ardupilotFirmware(mavType: number): keyof typeof ARDUPILOT_MODES {
  if (mavType === 1 || (mavType >= 19 && mavType <= 25)) return 'plane'; // fixed wing; VTOL tailsitters, tilt-rotors, QuadPlanes
  if (mavType === 10 || mavType === 11) return 'rover'; // ground rover, surface boat
  if (mavType === 12) return 'sub';
  if (mavType === 5) return 'tracker'; // antenna tracker
  return 'copter'; // multirotors, helicopters, coaxial
}

/** PX4 packs main mode in bits 16-23 and the AUTO sub-mode in bits 24-31. */
/** PX4's px4_custom_mode.h: PX4_CUSTOM_MAIN_MODE_* and PX4_CUSTOM_SUB_MODE_AUTO_*. */
const PX4_MAIN: Record<number, string> = { 1: 'MANUAL', 2: 'ALTCTL', 3: 'POSCTL', 5: 'ACRO', 6: 'OFFBOARD', 7: 'STABILIZED', 8: 'RATTITUDE', 9: 'SIMPLE', 10: 'TERMINATION' };
const PX4_AUTO: Record<number, string> = {
  1: 'AUTO.READY',
  2: 'AUTO.TAKEOFF',
  3: 'AUTO.LOITER',
  4: 'AUTO.MISSION',
  5: 'AUTO.RTL',
  6: 'AUTO.LAND',
  7: 'AUTO.RTGS',
  8: 'AUTO.FOLLOW',
  9: 'AUTO.PRECLAND',
  10: 'AUTO.VTOL_TAKEOFF',
};

export function flightMode(autopilot: number, baseMode: number, customMode: number, mavType = 2): string | null {
  if (!(baseMode & MAV_MODE_FLAG_CUSTOM_MODE_ENABLED)) return null;
  if (autopilot === AUTOPILOT_ARDUPILOT) return ARDUPILOT_MODES[ardupilotFirmware(mavType)][customMode] ?? `MODE ${customMode}`;
  if (autopilot === AUTOPILOT_PX4) {
    const main = (customMode >>> 16) & 0xff;
    const sub = (customMode >>> 24) & 0xff;
    return main === 4 ? (PX4_AUTO[sub] ?? 'AUTO') : (PX4_MAIN[main] ?? `MODE ${main}`);
  }
  return `MODE ${customMode}`;
}

export interface MavPacket {
  sysid: number;
  compid: number;
  msgid: number;
  data: MavLinkData;
}

export interface DatagramResult {
  packets: MavPacket[];
  /** Intact packets of a definition we do not share (a message whose fields changed between MAVLink
   *  versions: its CRC matches another CRC_EXTRA): passed over, not refused. */
  foreign: number;
  /** Problems found, by reason (bad_crc, truncated, unknown_message, junk). */
  errors: { reason: string; message: string }[];
}

/** MAVLink 2 signing (https://mavlink.io/en/guide/message_signing.html): the 32-byte key, and the
 *  newest timestamp seen per link (system, component, link id) so a replayed packet is refused. */
export interface Signing {
  key: Buffer;
  newest: Map<number, number>;
}

/** The key from what the operator set: 64 hex digits are the key itself; anything else is a
 *  passphrase, hashed with SHA-256 as Mission Planner and QGroundControl do. */
export function signingKey(secret: string): Buffer {
  return /^[0-9a-fA-F]{64}$/.test(secret) ? Buffer.from(secret, 'hex') : MavLinkPacketSignature.key(secret);
}

/** Every packet in one datagram: header, length, CRC (with the message's CRC_EXTRA) checked; with
 *  `signing`, its signature and that its link's timestamp rose. */
export function decodeDatagram(buf: Buffer, signing: Signing | null = null): DatagramResult {
  const packets: MavPacket[] = [];
  const errors: DatagramResult['errors'] = [];
  let junk = 0;
  let foreign = 0;
  let i = 0;
  while (i < buf.length) {
    const stx = buf[i]!;
    if (stx !== MavLinkProtocolV2.START_BYTE && stx !== MavLinkProtocolV1.START_BYTE) {
      junk++;
      i++;
      continue;
    }
    const v2 = stx === MavLinkProtocolV2.START_BYTE;
    const protocol: MavLinkProtocol = v2 ? V2 : V1;
    const offset = v2 ? MavLinkProtocolV2.PAYLOAD_OFFSET : MavLinkProtocolV1.PAYLOAD_OFFSET;
    if (buf.length - i < offset + 2) {
      errors.push({ reason: 'truncated', message: `${buf.length - i} bytes left, shorter than a packet header` });
      break;
    }
    const signed = v2 && (buf[i + 2]! & MavLinkProtocolV2.IFLAG_SIGNED) !== 0;
    const total = offset + buf[i + 1]! + 2 + (signed ? SIGNATURE_LENGTH : 0);
    if (buf.length - i < total) {
      errors.push({ reason: 'truncated', message: `packet needs ${total} bytes, datagram has ${buf.length - i}` });
      break;
    }
    const pkt = buf.subarray(i, i + total);
    const header = protocol.header(pkt);
    const magic = MSG_ID_MAGIC_NUMBER[header.msgid];
    const Clazz = REGISTRY[header.msgid];
    if (magic === undefined || magic === null || !Clazz) {
      // A dialect we do not decode (or a corrupt id): skip its length, as a router would.
      errors.push({ reason: 'unknown_message', message: `message id ${header.msgid} from system ${header.sysid}` });
      i += total;
      continue;
    }
    const crc = protocol.crc(pkt);
    const expected = x25crc(pkt, 1, signed ? SIGNATURE_LENGTH + 2 : 2, magic);
    if (crc !== expected) {
      // Intact, but written to another definition of the message (a 2015 ground station's message 142
      // is not today's): some other CRC_EXTRA makes it match. Passed over like an unknown dialect's.
      if (anotherDefinition(pkt, signed, crc, magic)) {
        foreign++;
        i += total;
        continue;
      }
      // The length byte itself may be the corrupt part: resynchronise on the next start byte.
      errors.push({ reason: 'bad_crc', message: `CRC ${crc.toString(16)} != ${expected.toString(16)} (message ${header.msgid}, system ${header.sysid})` });
      i += 1;
      continue;
    }
    if (signing) {
      // an unsigned packet (or MAVLink 1, which cannot be signed) from a feed that requires signing
      // is refused: a sender without the key cannot move a drone on the map
      if (!signed) {
        errors.push({ reason: 'unsigned', message: `message ${header.msgid} from system ${header.sysid} is not signed` });
        i += total;
        continue;
      }
      const sig = new MavLinkPacketSignature(pkt);
      if (!sig.matches(signing.key)) {
        errors.push({ reason: 'bad_signature', message: `message ${header.msgid} from system ${header.sysid}: signature does not match the key` });
        i += total;
        continue;
      }
      const link = (header.sysid << 16) | (header.compid << 8) | sig.linkId;
      const last = signing.newest.get(link) ?? -1;
      if (sig.timestamp <= last) {
        errors.push({ reason: 'replayed', message: `message ${header.msgid} from system ${header.sysid}: timestamp ${sig.timestamp} not after ${last}` });
        i += total;
        continue;
      }
      signing.newest.set(link, sig.timestamp);
    }
    packets.push({ sysid: header.sysid, compid: header.compid, msgid: header.msgid, data: protocol.data(protocol.payload(pkt), Clazz) });
    i += total;
  }
  if (junk > 0) errors.push({ reason: 'junk', message: `${junk} bytes that are not MAVLink` });
  // One bad datagram is one refusal: a corrupt packet's resync also finds junk (and sometimes a
  // truncated tail), and counting each would make a healthy link with one bad frame look sick.
  if (errors.length > 1) return { packets, foreign, errors: [{ reason: errors[0]!.reason, message: `${errors[0]!.message} (and ${errors.length - 1} more in the same datagram)` }] };
  return { packets, foreign, errors };
}

/** Whether a packet's CRC matches with a CRC_EXTRA other than ours (1 in 256 for a corrupt one). */
function anotherDefinition(pkt: Buffer, signed: boolean, crc: number, ours: number): boolean {
  for (let extra = 0; extra < 256; extra++) if (extra !== ours && x25crc(pkt, 1, signed ? SIGNATURE_LENGTH + 2 : 2, extra) === crc) return true;
  return false;
}

interface Vehicle {
  drone: DroneState;
  battery: number | null;
  heading: number | null;
  speed: number | null;
  /** Components other than the autopilot (a camera, a gimbal) also send HEARTBEATs; only the
   *  autopilot's (component 1) describes the vehicle. */
  autopilot: number | null;
}

/** Turns packets into drone reports, one drone per system id, keeping what each message adds. */
export class MavlinkDecoder {
  private readonly vehicles = new Map<number, Vehicle>();

  vehicle(sysid: number): Vehicle {
    let v = this.vehicles.get(sysid);
    if (!v) {
      v = { drone: { mode: null, armed: null, relAlt: null, climb: null }, battery: null, heading: null, speed: null, autopilot: null };
      this.vehicles.set(sysid, v);
    }
    return v;
  }

  /** The reports these packets give; positions only from GLOBAL_POSITION_INT (the fused GPS/INS
   *  position), everything else updates what the next report carries. */
  apply(packets: MavPacket[]): { reports: PositionReport[]; errors: { reason: string; message: string }[] } {
    const reports: PositionReport[] = [];
    const errors: { reason: string; message: string }[] = [];
    for (const p of packets) {
      const v = this.vehicle(p.sysid);
      const base = (): PositionReport => ({
        source: String(p.sysid),
        kind: 'drone',
        name: { zh: `无人机 ${p.sysid}`, en: `Drone ${p.sysid}` },
        heading: v.heading,
        speed: v.speed,
        battery: v.battery,
        drone: { ...v.drone },
      });
      switch (p.msgid) {
        case ID.HEARTBEAT: {
          const hb = p.data as minimal.Heartbeat;
          // GCS heartbeats (type 6) and other non-vehicle components say nothing about the drone.
          if (hb.type === 6 || (p.compid !== 1 && v.autopilot !== null)) break;
          v.autopilot = hb.autopilot;
          v.drone.armed = (hb.baseMode & MAV_MODE_FLAG_SAFETY_ARMED) !== 0;
          v.drone.mode = flightMode(hb.autopilot, hb.baseMode, hb.customMode, hb.type);
          reports.push(base());
          break;
        }
        case ID.GLOBAL_POSITION_INT: {
          const g = p.data as common.GlobalPositionInt;
          if (g.lat === 0 && g.lon === 0) break; // no GPS fix yet: "0, 0" is not a position
          const lat = g.lat / 1e7;
          const lon = g.lon / 1e7;
          if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180) || Math.abs(g.alt / 1000) > 20000) {
            errors.push({ reason: 'bad_coordinates', message: `system ${p.sysid}: lat ${lat}, lon ${lon}, alt ${g.alt / 1000} m` });
            break;
          }
          if (g.hdg !== 65535) v.heading = g.hdg / 100;
          v.speed = Math.hypot(g.vx, g.vy) / 100;
          v.drone.relAlt = g.relativeAlt / 1000;
          v.drone.climb = -g.vz / 100;
          reports.push({ ...base(), lat, lon, alt: g.alt / 1000 });
          break;
        }
        case ID.VFR_HUD: {
          const h = p.data as common.VfrHud;
          v.heading = ((h.heading % 360) + 360) % 360;
          v.speed = Math.max(0, h.groundspeed);
          v.drone.climb = h.climb;
          break;
        }
        case ID.ATTITUDE: {
          const a = p.data as common.Attitude;
          if (v.heading === null && Number.isFinite(a.yaw)) v.heading = ((a.yaw * 180) / Math.PI + 360) % 360;
          break;
        }
        case ID.SYS_STATUS: {
          const s = p.data as common.SysStatus;
          if (s.batteryRemaining >= 0 && s.batteryRemaining <= 100) v.battery = s.batteryRemaining;
          break;
        }
        case ID.BATTERY_STATUS: {
          const b = p.data as common.BatteryStatus;
          if (b.id === 0 && b.batteryRemaining >= 0 && b.batteryRemaining <= 100) v.battery = b.batteryRemaining;
          break;
        }
      }
    }
    return { reports, errors };
  }
}

/** The messages the decoder reads; the rest of what an autopilot sends (its dialect's status,
 *  parameters, mission items, AUTOPILOT_VERSION) is understood and not used. */
const USED = new Set<number>([ID.HEARTBEAT, ID.GLOBAL_POSITION_INT, ID.VFR_HUD, ID.ATTITUDE, ID.SYS_STATUS, ID.BATTERY_STATUS]);

/** Listens for MAVLink on a UDP port (14550: where autopilots and telemetry radios send by default). */
export class MavlinkUdpAdapter implements FeedAdapter {
  readonly endpoint: string;
  private socket: Socket | null = null;
  private readonly decoder = new MavlinkDecoder();
  private readonly host: string;
  private readonly port: number;
  private readonly sink: FeedSink;

  private readonly signing: Signing | null;
  private readonly allowFrom: readonly string[] | undefined;

  /** `key`: MAVLink 2 signing required with this key (signingKey()). */
  constructor(o: { host: string; port: number; key?: Buffer | null; allowFrom?: readonly string[] }, sink: FeedSink) {
    this.host = o.host;
    this.port = o.port;
    this.sink = sink;
    this.endpoint = `udp://${o.host}:${o.port}`;
    this.signing = o.key ? { key: o.key, newest: new Map() } : null;
    this.allowFrom = o.allowFrom;
  }

  /** The port actually bound (port 0 in tests). */
  get boundPort(): number {
    return (this.socket?.address() as { port: number } | undefined)?.port ?? this.port;
  }

  async open(): Promise<void> {
    this.socket = await listenUdp(this.host, this.port, this.endpoint, this.sink, (msg) => this.datagram(msg), peerFilter(this.allowFrom));
  }

  datagram(msg: Buffer): void {
    const { packets, errors, foreign } = decodeDatagram(msg, this.signing);
    for (const e of errors) this.sink.rejected(e.reason, e.message);
    if (packets.length === 0) {
      if (foreign > 0) this.sink.message([], foreign, foreign);
      return;
    }
    const r = this.decoder.apply(packets);
    for (const e of r.errors) this.sink.rejected(e.reason, e.message);
    let unused = 0;
    for (const p of packets) if (!USED.has(p.msgid)) unused++;
    this.sink.message(r.reports, packets.length + foreign, unused + foreign);
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
