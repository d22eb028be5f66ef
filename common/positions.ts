// Compact moves (issue 23): a unit that only moved costs ~13 bytes on the wire instead of ~215.
//
// A client that says `pos: 1` in hello may receive a delta of `units` as one binary WebSocket frame:
//
//   u8 1 · u32 LE header length · header (UTF-8 JSON: the delta's fields, its other ops, `b`, `o`)
//   · records, ascending by index, each:
//       varint gap (index − previous index − 1; the first from −1) · u8 flags · fields by flag
//
// An entity's index is the hall's number for its id within the epoch, told with every put of it
// (`ix` in snapshots and deltas). A record is a move: only these paths changed, to numbers:
//
//   flag   1  lat, lon      zigzag varints, 1e-5° (1.1 m) from the header's origin `o`
//   flag   2  alt           zigzag varint, decimetres
//   flag   4  updated       varint, ms before the header's time `b`
//   flag   8  track.seen    varint, ms before `b`
//   flag  16  track.seen  = updated (no bytes)
//   flag  32  track.staleAt and lostAt moved by as much as track.seen (no bytes)
//   flag  64  track.staleAt, track.lostAt  zigzag varints, ms before `b`
//   flag 128  track.heading, track.speed   varints, 0.1° and 0.1 m/s
//
// Anything else a unit changes (status, presence, a drone's state) goes as JSON ops in the header.
// Positions are rounded to 1.1 m, headings to 0.1°, speeds to 0.1 m/s, heights to 0.1 m: a tenth of a
// GPS fix's error; times are exact. docs/protocol.md.
import { isPlain, type Obj } from './plain.ts';

/** Topics whose entities may travel as moves. */
export const POSITION_TOPICS: ReadonlySet<string> = new Set(['units']);

const F_LATLON = 1;
const F_ALT = 2;
const F_UPDATED = 4;
const F_SEEN = 8;
const F_SEEN_IS_UPDATED = 16;
const F_STALE_SHIFT = 32;
const F_STALE = 64;
const F_MOTION = 128;

const MOVE_PATHS: ReadonlySet<string> = new Set(['lat', 'lon', 'alt', 'updated', 'track.seen', 'track.staleAt', 'track.lostAt', 'track.heading', 'track.speed']);

/** A move ready to encode: its index and the fields it writes. */
export interface MoveRecord {
  ix: number;
  flags: number;
  lat: number;
  lon: number;
  alt: number;
  updated: number;
  seen: number;
  staleAt: number;
  lostAt: number;
  heading: number;
  speed: number;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * `set` (diffPatch(prev, next)) as a move, or null when it says more than a move can: a field outside
 * the move's paths, a null, a track that appeared. `prev` is what the client holds, `next` the value.
 */
export function moveOf(ix: number, set: Obj, prev: Obj, next: Obj): MoveRecord | null {
  let n = 0;
  for (const k in set) {
    if (!MOVE_PATHS.has(k) || !num(set[k])) return null;
    n++;
  }
  if (n === 0 || !num(next.lat) || !num(next.lon)) return null;
  const track = next.track;
  const ptrack = prev.track;
  const r: MoveRecord = { ix, flags: 0, lat: next.lat, lon: next.lon, alt: 0, updated: 0, seen: 0, staleAt: 0, lostAt: 0, heading: 0, speed: 0 };
  if ('lat' in set || 'lon' in set) r.flags |= F_LATLON;
  if ('alt' in set) {
    r.flags |= F_ALT;
    r.alt = set.alt as number;
  }
  if ('updated' in set) {
    r.flags |= F_UPDATED;
    r.updated = set.updated as number;
  }
  const upd = next.updated;
  if ('track.seen' in set || 'track.staleAt' in set || 'track.lostAt' in set || 'track.heading' in set || 'track.speed' in set) {
    if (!isPlain(track) || !isPlain(ptrack)) return null;
    if ('track.seen' in set) {
      r.seen = track.seen as number;
      r.flags |= 'updated' in set && r.seen === upd ? F_SEEN_IS_UPDATED : F_SEEN;
    }
    if ('track.staleAt' in set || 'track.lostAt' in set) {
      if (!num(track.staleAt) || !num(track.lostAt) || !num(ptrack.staleAt) || !num(ptrack.lostAt) || !num(ptrack.seen) || !num(track.seen)) return null;
      const shift = track.seen - ptrack.seen;
      if (track.staleAt - ptrack.staleAt === shift && track.lostAt - ptrack.lostAt === shift && 'track.seen' in set) r.flags |= F_STALE_SHIFT;
      else r.flags |= F_STALE;
      r.staleAt = track.staleAt;
      r.lostAt = track.lostAt;
    }
    if ('track.heading' in set || 'track.speed' in set) {
      if (!num(track.heading) || !num(track.speed)) return null;
      r.flags |= F_MOTION;
      r.heading = track.heading;
      r.speed = track.speed;
    }
  }
  return r;
}

// ---- bytes -------------------------------------------------------------------------------------

class Writer {
  buf = new Uint8Array(1024);
  n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let len = this.buf.length * 2;
    while (len < this.n + k) len *= 2;
    const b = new Uint8Array(len);
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.n++] = v;
  }
  /** Unsigned LEB128, by arithmetic (values beyond 2^31: times of long-silent units). */
  varint(v: number): void {
    this.room(8);
    let x = Math.max(0, Math.round(v));
    while (x >= 128) {
      this.buf[this.n++] = (x % 128) | 128;
      x = Math.floor(x / 128);
    }
    this.buf[this.n++] = x;
  }
  zigzag(v: number): void {
    const x = Math.round(v);
    this.varint(x >= 0 ? x * 2 : -x * 2 - 1);
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** One binary frame: `header` (the delta without its moves, plus `b` and `o`) and the moves. */
export function encodeMoves(header: Obj, moves: MoveRecord[]): Uint8Array {
  moves.sort((a, b) => a.ix - b.ix);
  const b = Date.now();
  const o = moves.length ? [Math.round(moves[0]!.lat * 1e5), Math.round(moves[0]!.lon * 1e5)] : [0, 0];
  const head = enc.encode(JSON.stringify({ ...header, b, o, n: moves.length }));
  const w = new Writer();
  w.u8(1);
  w.u8(head.length & 255);
  w.u8((head.length >>> 8) & 255);
  w.u8((head.length >>> 16) & 255);
  w.u8((head.length >>> 24) & 255);
  w.bytes(head);
  let prev = -1;
  for (const r of moves) {
    w.varint(r.ix - prev - 1);
    prev = r.ix;
    w.u8(r.flags);
    if (r.flags & F_LATLON) {
      w.zigzag(Math.round(r.lat * 1e5) - o[0]!);
      w.zigzag(Math.round(r.lon * 1e5) - o[1]!);
    }
    if (r.flags & F_ALT) w.zigzag(r.alt * 10);
    if (r.flags & F_UPDATED) w.zigzag(b - r.updated);
    if (r.flags & F_SEEN) w.zigzag(b - r.seen);
    if (r.flags & F_STALE) {
      w.zigzag(b - r.staleAt);
      w.zigzag(b - r.lostAt);
    }
    if (r.flags & F_MOTION) {
      w.varint(r.heading * 10);
      w.varint(r.speed * 10);
    }
  }
  return w.buf.slice(0, w.n);
}

/** A decoded move: its index and its patch, built against what the client holds. */
export interface DecodedMoves {
  header: Obj;
  moves: { ix: number; flags: number; v: number[] }[];
}

/** Read a binary frame; a short or malformed one is an error, never a partial result. */
export function decodeMoves(buf: ArrayBuffer | Uint8Array, maxMoves = 1_000_000): { ok: true; frame: DecodedMoves } | { ok: false; error: string } {
  const a = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  if (a.length < 5 || a[0] !== 1) return { ok: false, error: 'not a moves frame' };
  const hl = a[1]! + a[2]! * 256 + a[3]! * 65536 + a[4]! * 16777216;
  if (5 + hl > a.length) return { ok: false, error: 'header runs past the frame' };
  let header: unknown;
  try {
    header = JSON.parse(dec.decode(a.subarray(5, 5 + hl)));
  } catch {
    return { ok: false, error: 'header is not JSON' };
  }
  if (!isPlain(header) || !num(header.b) || !Array.isArray(header.o) || !num(header.o[0]) || !num(header.o[1]) || !num(header.n) || header.n < 0 || header.n > maxMoves)
    return { ok: false, error: 'header lacks b, o or n' };
  let p = 5 + hl;
  let bad = false;
  const varint = (): number => {
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= a.length) {
        bad = true;
        return 0;
      }
      const byte = a[p++]!;
      x += (byte & 127) * mul;
      if (byte < 128) return x;
      mul *= 128;
    }
    bad = true;
    return 0;
  };
  const zigzag = (): number => {
    const x = varint();
    return x % 2 === 0 ? x / 2 : -(x + 1) / 2;
  };
  const b = header.b;
  const [o0, o1] = header.o as [number, number];
  const moves: DecodedMoves['moves'] = [];
  let ix = -1;
  for (let k = 0; k < header.n; k++) {
    ix += varint() + 1;
    if (p >= a.length) return { ok: false, error: 'frame ends inside a record' };
    const flags = a[p++]!;
    // lat, lon, alt, updated, seen, staleAt, lostAt, heading, speed (NaN: not sent)
    const v = [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN];
    if (flags & F_LATLON) {
      v[0] = (zigzag() + o0) / 1e5;
      v[1] = (zigzag() + o1) / 1e5;
    }
    if (flags & F_ALT) v[2] = zigzag() / 10;
    if (flags & F_UPDATED) v[3] = b - zigzag();
    if (flags & F_SEEN) v[4] = b - zigzag();
    if (flags & F_SEEN_IS_UPDATED) v[4] = v[3]!;
    if (flags & F_STALE) {
      v[5] = b - zigzag();
      v[6] = b - zigzag();
    }
    if (flags & F_MOTION) {
      v[7] = varint() / 10;
      v[8] = varint() / 10;
    }
    if (bad) return { ok: false, error: 'frame ends inside a record' };
    moves.push({ ix, flags, v });
  }
  if (p !== a.length) return { ok: false, error: 'bytes after the last record' };
  return { ok: true, frame: { header, moves } };
}

/** A decoded move as the patch it stands for, given the entity the client holds (null: it cannot
 *  apply, e.g. a stale shift without a track: the client resynchronises). */
export function moveSet(m: DecodedMoves['moves'][number], held: Obj): Obj | null {
  const set: Obj = {};
  const v = m.v;
  if (m.flags & F_LATLON) {
    set.lat = v[0];
    set.lon = v[1];
  }
  if (m.flags & F_ALT) set.alt = v[2];
  if (m.flags & F_UPDATED) set.updated = v[3];
  const track = held.track;
  if (m.flags & (F_SEEN | F_SEEN_IS_UPDATED | F_STALE_SHIFT | F_STALE | F_MOTION)) {
    if (!isPlain(track)) return null;
    if (m.flags & (F_SEEN | F_SEEN_IS_UPDATED)) set['track.seen'] = v[4];
    if (m.flags & F_STALE_SHIFT) {
      if (!num(track.seen) || !num(track.staleAt) || !num(track.lostAt) || !num(v[4])) return null;
      const shift = v[4] - track.seen;
      set['track.staleAt'] = track.staleAt + shift;
      set['track.lostAt'] = track.lostAt + shift;
    }
    if (m.flags & F_STALE) {
      set['track.staleAt'] = v[5];
      set['track.lostAt'] = v[6];
    }
    if (m.flags & F_MOTION) {
      set['track.heading'] = v[7];
      set['track.speed'] = v[8];
    }
  }
  return set;
}
