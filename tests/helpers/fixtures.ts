// The fixture corpus of real producers' files (tests/fixtures/README.md: source and licence of each).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const fixturePath = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));
export const fixture = (path: string): string => readFileSync(fixturePath(path), 'utf8');

/** A recorded CoT event (or several) moved to `now`: time, start and stale shifted by the same amount,
 *  the rest as the device wrote it (the hall refuses a report more than a day old). */
export function retime(xml: string, now: number): string {
  const first = /\btime=["']([^"']+)["']/.exec(xml)?.[1];
  if (!first) throw new Error('no time attribute to shift');
  const shift = now - Date.parse(first);
  return xml.replace(/\b(time|start|stale)=(["'])([^"']+)\2/g, (_, k: string, q: string, v: string) => `${k}=${q}${new Date(Date.parse(v) + shift).toISOString()}${q}`);
}

/** A recorded TAK Protocol message (mesh or stream bytes) moved to `now`, in place: its CotEvent's
 *  sendTime, startTime and staleTime (fields 6, 7, 8: varints of milliseconds) shifted by the same
 *  amount, every other byte as the producer wrote it. Milliseconds from 2001 to 2039 take 6 varint
 *  bytes, so the length never changes. */
export function retimeTak(buf: Buffer, now: number): Buffer {
  const out = Buffer.from(buf);
  const read = (at: number) => {
    let v = 0;
    for (let k = 0; k < 6; k++) v += (out[at + k]! & 0x7f) * 128 ** k;
    return (out[at + 5]! & 0x80) === 0 && (out[at + 4]! & 0x80) !== 0 ? v : NaN;
  };
  let shift: number | null = null;
  for (const tag of [0x30, 0x38, 0x40]) {
    const at = out.findIndex((b, i) => b === tag && read(i + 1) > 1e12 && read(i + 1) < 2.2e12);
    if (at < 0) throw new Error(`no time field ${tag >> 3} to shift`);
    const v = read(at + 1);
    shift ??= now - v;
    let n = v + shift;
    for (let k = 0; k < 6; k++) {
      out[at + 1 + k] = (n % 128) | (k < 5 ? 0x80 : 0);
      n = Math.floor(n / 128);
    }
  }
  return out;
}

/** The packets of a tlog, as the autopilot sent them. */
export function tlogPackets(file: string): Buffer[] {
  const b = readFileSync(fixturePath(file));
  const out: Buffer[] = [];
  for (let i = 0; i + 10 < b.length;) {
    const stx = b[i + 8]!;
    const len = b[i + 9]!;
    const total = stx === 0xfd ? 12 + len + (b[i + 10]! & 1 ? 13 : 0) : 8 + len;
    out.push(b.subarray(i + 8, i + 8 + total));
    i += 8 + total;
  }
  return out;
}
