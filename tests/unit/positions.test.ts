// Compact moves (common/positions.ts): what a unit's move becomes on the wire and back.
import { describe, expect, it } from 'vitest';
import { diffPatch } from '../../common/ops.ts';
import type { Obj } from '../../common/plain.ts';
import { decodeMoves, encodeMoves, moveOf, moveSet } from '../../common/positions.ts';
import { applyPatch } from '../../common/ops.ts';

const T = 1_780_000_000_000;
const team = (lat: number, lon: number, seen: number, heading = 90, speed = 1.5): Obj => ({
  id: 'cot-tcp-team-1',
  kind: 'rescue',
  name: { zh: '救援一队', en: 'Rescue 1' },
  home: '331000',
  lat,
  lon,
  alt: 12,
  status: 'deployed',
  members: 12,
  stock: null,
  updated: seen,
  demo: false,
  track: { feed: 'cot-tcp', source: 'team-1', heading, speed, ce: 5, callsign: 'R1', group: 'Cyan', seen, staleAt: seen + 60_000, lostAt: seen + 300_000, presence: 'live' },
});

function roundTrip(prev: Obj, next: Obj): { bytes: number; got: Obj } {
  const set = diffPatch(prev, next)!;
  const mv = moveOf(7, set, prev, next);
  expect(mv, 'a move').not.toBeNull();
  const bin = encodeMoves({ t: 'delta', topic: 'units', epoch: 'e', seq: 2, ops: [] }, [mv!]);
  const r = decodeMoves(bin);
  if (!r.ok) throw new Error(r.error);
  expect(r.frame.moves[0]!.ix).toBe(7);
  const patch = moveSet(r.frame.moves[0]!, prev)!;
  return { bytes: bin.length - 5 - (bin[1]! + bin[2]! * 256), got: applyPatch(prev, patch) };
}

describe('compact moves', () => {
  it('carries a CoT team’s move in about 13 bytes, exact in time and within 1.1 m in place', () => {
    const prev = team(28.37654321, 121.41234567, T);
    const next = team(28.37664321, 121.41254567, T + 1000, 92.3, 1.7);
    const { bytes, got } = roundTrip(prev, next);
    expect(bytes).toBeLessThanOrEqual(16);
    expect(Math.abs((got.lat as number) - (next.lat as number))).toBeLessThanOrEqual(0.5e-5);
    expect(Math.abs((got.lon as number) - (next.lon as number))).toBeLessThanOrEqual(0.5e-5);
    expect(got.updated).toBe(T + 1000);
    const tr = got.track as Obj;
    expect(tr.seen).toBe(T + 1000);
    expect(tr.staleAt).toBe(T + 61_000);
    expect(tr.lostAt).toBe(T + 301_000);
    expect(tr.heading).toBeCloseTo(92.3, 5);
    expect(tr.speed).toBeCloseTo(1.7, 5);
    // what did not change is the client's own
    expect(got.name).toBe(prev.name);
    expect(tr.callsign).toBe('R1');
  });

  it('sends stale and lost times whole when they did not move with the fix', () => {
    const prev = team(28.3, 121.4, T);
    const next = { ...team(28.31, 121.4, T + 1000), track: { ...(team(28.31, 121.4, T + 1000).track as Obj), staleAt: T + 9_000 } };
    const { got } = roundTrip(prev, next);
    expect((got.track as Obj).staleAt).toBe(T + 9_000);
    expect((got.track as Obj).lostAt).toBe(T + 301_000);
  });

  it('is not used for a change a move cannot say: status, presence, a null heading', () => {
    const prev = team(28.3, 121.4, T);
    expect(moveOf(1, diffPatch(prev, { ...prev, status: 'standby' })!, prev, { ...prev, status: 'standby' })).toBeNull();
    const stale = { ...prev, track: { ...(prev.track as Obj), presence: 'stale' } };
    expect(moveOf(1, diffPatch(prev, stale)!, prev, stale)).toBeNull();
    const noHeading = { ...team(28.31, 121.4, T + 1000), track: { ...(team(28.31, 121.4, T + 1000).track as Obj), heading: null } };
    expect(moveOf(1, diffPatch(prev, noHeading)!, prev, noHeading)).toBeNull();
  });

  it('refuses a frame that is cut short, has bytes over, or a header that is not JSON', () => {
    const prev = team(28.3, 121.4, T);
    const next = team(28.31, 121.41, T + 1000);
    const bin = encodeMoves({ t: 'delta' }, [moveOf(3, diffPatch(prev, next)!, prev, next)!]);
    expect(decodeMoves(bin.subarray(0, bin.length - 2)).ok).toBe(false);
    const over = new Uint8Array(bin.length + 1);
    over.set(bin);
    expect(decodeMoves(over).ok).toBe(false);
    const bad = bin.slice();
    bad[6] = 0x7b; // the header's second byte: no longer JSON
    bad[7] = 0x7b;
    expect(decodeMoves(bad).ok).toBe(false);
    expect(decodeMoves(new Uint8Array([2, 0, 0, 0, 0])).ok).toBe(false);
  });

  it('orders records by index and encodes the gaps between them', () => {
    const prev = team(28.3, 121.4, T);
    const next = team(28.31, 121.41, T + 1000);
    const set = diffPatch(prev, next)!;
    const bin = encodeMoves({ t: 'delta' }, [moveOf(900, set, prev, next)!, moveOf(2, set, prev, next)!, moveOf(3, set, prev, next)!]);
    const r = decodeMoves(bin);
    if (!r.ok) throw new Error(r.error);
    expect(r.frame.moves.map((m) => m.ix)).toEqual([2, 3, 900]);
  });
});
