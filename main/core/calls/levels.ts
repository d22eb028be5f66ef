// Who speaks on a consultation's SIP legs, and how loud (issue 22). The bridge reports voice activity
// for WebRTC members only (Janus 1.1 reads RFC 6464 levels from them, not from plain-RTP members), so
// it forwards each SIP participant's voice, alone, to the hall as G.711 (an AudioBridge forwarding
// group per participant; the call's own media still goes far end <-> bridge, and a hall that stops
// listening costs the call nothing). This meter reads those packets: the loudest 20 ms of the last
// 300 ms, in dB below full scale, and speaking while it stays over -40 dBov (cleared after 800 ms
// below). The level changes at most four times a second. A packet that is not RTP G.711, or from no
// forwarder, counts as `bad`.
import { createSocket, type Socket } from 'node:dgram';

/** Speaking threshold, dBov: speech sits around -20 to -30, a quiet line under -50. */
const TALKING_DBOV = -40;
const HOLD_MS = 800;
const WINDOW_MS = 300;

export interface LevelEvents {
  /** A leg's level (0..1, from -60 dBov to 0, in tenths) or speaking changed. */
  level(leg: string, change: { level: number; talking: boolean }): void;
}

interface Meter {
  leg: string;
  peaks: { at: number; db: number }[];
  loudAt: number;
  level: number;
  talking: boolean;
  seen: number;
  told: number;
}

/** μ-law (G.711, RFC 3551 PCMU) byte to a linear 16-bit sample. */
function ulaw(b: number): number {
  const u = ~b & 0xff;
  const s = (((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7);
  return u & 0x80 ? 0x84 - s : s - 0x84;
}

/** A-law (PCMA) byte to a linear 16-bit sample. */
function alaw(b: number): number {
  const a = b ^ 0x55;
  const e = (a >> 4) & 7;
  const m = a & 0x0f;
  const s = e === 0 ? (m << 4) + 8 : ((m << 4) + 0x108) << (e - 1);
  return a & 0x80 ? s : -s;
}

const ULAW = Int16Array.from({ length: 256 }, (_, i) => ulaw(i));
const ALAW = Int16Array.from({ length: 256 }, (_, i) => alaw(i));

/** The RMS of a G.711 payload in dBov, or null when the packet is not RTP G.711. */
export function packetDbov(p: Buffer): { ssrc: number; db: number } | null {
  if (p.length < 13 || p[0]! >> 6 !== 2) return null;
  const pt = p[1]! & 0x7f;
  if (pt !== 0 && pt !== 8) return null;
  let off = 12;
  let end = p.length;
  // The bridge's forwarders send one 20 ms frame after a bare 12-byte header (172 bytes). Janus 1.1
  // lays its group forwarders' G.711 packets out 160 bytes apart though each takes 172, so a group's
  // header sits on the previous group's payload and only its version bits are set: the padding,
  // extension and CSRC-count bits there are stray audio, and are not read.
  if (p.length !== 172) {
    off += (p[0]! & 0x0f) * 4;
    if (p[0]! & 0x10) {
      if (p.length < off + 4) return null;
      off += 4 + p.readUInt16BE(off + 2) * 4;
    }
    if (p[0]! & 0x20) end -= p[p.length - 1]!;
  }
  if (end <= off) return null;
  const table = pt === 0 ? ULAW : ALAW;
  let sum = 0;
  for (let i = off; i < end; i++) sum += table[p[i]!]! ** 2;
  const rms = Math.sqrt(sum / (end - off));
  return { ssrc: p.readUInt32BE(8), db: rms > 0 ? 20 * Math.log10(rms / 32768) : -127 };
}

export class LevelMeter {
  private sock: Socket | null = null;
  private readonly meters = new Map<number, Meter>();
  private tick: NodeJS.Timeout | null = null;
  readonly counters = { packets: 0, bad: 0 };
  private readonly on: LevelEvents;

  constructor(on: LevelEvents) {
    this.on = on;
  }

  /** Listen on `host` (the hall's address towards the bridge); resolves with the port. */
  listen(host: string): Promise<number> {
    this.close();
    const sock = createSocket('udp4');
    this.sock = sock;
    sock.on('message', (m) => this.packet(m));
    sock.on('error', () => undefined);
    this.tick = setInterval(() => this.evaluate(Date.now()), 100);
    this.tick.unref();
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, host, () => resolve(sock.address().port));
    });
  }

  /** Meter a leg: the forwarder sends with this SSRC. */
  add(ssrc: number, leg: string): void {
    this.meters.set(ssrc, { leg, peaks: [], loudAt: 0, level: -1, talking: false, seen: 0, told: 0 });
  }

  /** Stop metering every leg (the bridge went: its forwarders with it). */
  clear(): void {
    this.meters.clear();
  }

  remove(leg: string): void {
    for (const [s, m] of this.meters) if (m.leg === leg) this.meters.delete(s);
  }

  private packet(p: Buffer): void {
    const r = packetDbov(p);
    const m = r ? this.meters.get(r.ssrc) : undefined;
    if (!r || !m) {
      this.counters.bad++;
      return;
    }
    this.counters.packets++;
    const now = Date.now();
    m.peaks.push({ at: now, db: r.db });
    m.seen = now;
  }

  /** Every 100 ms: each leg's loudest packet over the window, speaking with hold. */
  private evaluate(now: number): void {
    for (const m of this.meters.values()) {
      while (m.peaks.length && now - m.peaks[0]!.at > WINDOW_MS) m.peaks.shift();
      const db = m.peaks.reduce((a, p) => Math.max(a, p.db), -127);
      if (db > TALKING_DBOV) m.loudAt = now;
      const talking = now - m.loudAt < HOLD_MS;
      const level = Math.round(Math.max(0, Math.min(1, (db + 60) / 60)) * 10) / 10;
      // speaking changes at once; the level at most four times a second (it goes to every display)
      if (m.level < 0 || talking !== m.talking || (level !== m.level && now - m.told >= 250)) {
        m.talking = talking;
        m.level = level;
        m.told = now;
        this.on.level(m.leg, { level, talking });
      }
    }
  }

  close(): void {
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.sock?.close();
    this.sock = null;
  }
}
