// The display's fast checks for what arrives 20,000 times a second (delta frames by hand, patched
// entities by the fields they change) against the schemas they stand in for: on valid input and
// on every kind of broken input, they must agree with zod, or (patches) say they cannot decide.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseServerFrame, ServerMessage, TOPIC_SCHEMAS } from '../../common/contract.ts';
import { applyPatch } from '../../common/ops.ts';
import { patchChecker } from '../../common/patch-check.ts';

const MAX = 64 * 1024 * 1024;
const zodOk = (frame: unknown) => ServerMessage.safeParse(frame).success;
const fastOk = (frame: unknown) => parseServerFrame(JSON.stringify(frame), MAX).ok;

const unit = {
  id: 'u-1',
  kind: 'fire-rescue',
  name: { zh: '温岭中队', en: 'Wenling' },
  home: '331000',
  lat: 28.37,
  lon: 121.38,
  alt: null,
  status: 'en-route',
  members: 12,
  stock: null,
  updated: 1_700_000_000_000,
  demo: false,
  track: {
    feed: 'cot-tcp',
    source: 'ANDROID-1',
    heading: 90,
    speed: 3.5,
    ce: 5,
    callsign: 'T1',
    group: 'Cyan',
    battery: 80,
    seen: 1_700_000_000_000,
    staleAt: 1_700_000_060_000,
    lostAt: 1_700_000_300_000,
    presence: 'live',
  },
};

describe('delta frames checked by hand', () => {
  const good = {
    t: 'delta',
    topic: 'units',
    epoch: 'E1',
    seq: 7,
    ops: [
      { op: 'put', id: 'u-1', value: unit },
      { op: 'del', id: 'u-2' },
      { op: 'patch', id: 'u-3', set: { lat: 28.4, 'track.heading': 91 } },
    ],
  };
  const broken: [string, unknown][] = [
    ['unknown topic', { ...good, topic: 'weather' }],
    ['topic missing', { ...good, topic: undefined }],
    ['epoch empty', { ...good, epoch: '' }],
    ['epoch too long', { ...good, epoch: 'e'.repeat(65) }],
    ['epoch a number', { ...good, epoch: 5 }],
    ['seq negative', { ...good, seq: -1 }],
    ['seq fractional', { ...good, seq: 1.5 }],
    ['seq beyond safe integers', { ...good, seq: 2 ** 60 }],
    ['seq a string', { ...good, seq: '7' }],
    ['ops an object', { ...good, ops: { 0: good.ops[0] } }],
    ['ops missing', { ...good, ops: undefined }],
    ['op null', { ...good, ops: [null] }],
    ['op an array', { ...good, ops: [['put', 'u-1']] }],
    ['op unknown', { ...good, ops: [{ op: 'upsert', id: 'u-1', value: unit }] }],
    ['put without a value', { ...good, ops: [{ op: 'put', id: 'u-1' }] }],
    ['id missing', { ...good, ops: [{ op: 'del' }] }],
    ['id empty', { ...good, ops: [{ op: 'del', id: '' }] }],
    ['id too long', { ...good, ops: [{ op: 'put', id: 'x'.repeat(65), value: 1 }] }],
    ['id a number', { ...good, ops: [{ op: 'patch', id: 7, set: {} }] }],
    ['patch without set', { ...good, ops: [{ op: 'patch', id: 'u-1' }] }],
    ['patch set an array', { ...good, ops: [{ op: 'patch', id: 'u-1', set: [1] }] }],
    ['patch set null', { ...good, ops: [{ op: 'patch', id: 'u-1', set: null }] }],
    ['patch path too long', { ...good, ops: [{ op: 'patch', id: 'u-1', set: { ['p'.repeat(130)]: 1 } }] }],
  ];

  it('accepts what the schema accepts, as the same message', () => {
    expect(zodOk(good)).toBe(true);
    const r = parseServerFrame(JSON.stringify(good), MAX);
    expect(r.ok && r.msg).toEqual(good);
    // an empty delta, a put of null, a path of exactly 129 characters, extra keys
    for (const f of [
      { ...good, ops: [] },
      { ...good, ops: [{ op: 'put', id: 'u-1', value: null }] },
      { ...good, ops: [{ op: 'patch', id: 'u-1', set: { ['p'.repeat(129)]: 1 } }] },
      { ...good, extra: true },
    ]) {
      expect([zodOk(f), fastOk(f)]).toEqual([true, true]);
    }
  });

  it.each(broken)('refuses a delta with %s, as the schema does, saying where', (_what, frame) => {
    expect(zodOk(frame)).toBe(false);
    const r = parseServerFrame(JSON.stringify(frame), MAX);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('bad_message');
      expect(r.error.message).toMatch(/^(topic|epoch|seq|ops)/);
    }
  });

  it("refuses a patch path through __proto__, which the schema would let replace a copy's prototype", () => {
    for (const k of ['__proto__', '__proto__.polluted', 'track.__proto__']) {
      const r = parseServerFrame(JSON.stringify({ ...good, ops: [{ op: 'patch', id: 'u-1', set: { [k]: { lat: 'x' } } }] }), MAX);
      expect(r).toMatchObject({ ok: false, error: { code: 'bad_message', message: `ops.0.set: the path "${k}" is refused` } });
    }
  });

  it('reads every other message by its schema, and refuses frames that are not JSON objects or too large', () => {
    expect(fastOk({ t: 'snapshot', topic: 'units', epoch: 'E', seq: 1, items: [unit] })).toBe(true);
    expect(fastOk({ t: 'snapshot', topic: 'units', epoch: 'E', seq: -1, items: [] })).toBe(false);
    expect(fastOk({ t: 'hello' })).toBe(false);
    expect(parseServerFrame('{"t":"delta",', MAX)).toMatchObject({ ok: false, error: { code: 'bad_frame' } });
    expect(parseServerFrame('[1]', MAX)).toMatchObject({ ok: false, error: { code: 'bad_frame' } });
    expect(parseServerFrame(JSON.stringify(good), 100)).toMatchObject({ ok: false, error: { code: 'too_large' } });
  });
});

describe('patched entities checked by what changed', () => {
  const check = patchChecker(TOPIC_SCHEMAS.units);
  const whole = (prev: object, set: Record<string, unknown>) => TOPIC_SCHEMAS.units.safeParse(applyPatch(prev as Record<string, unknown>, set)).success;
  const cases: Record<string, unknown>[] = [
    { lat: 28.4, lon: 121.4, updated: 1_700_000_001_000, 'track.heading': 91, 'track.seen': 1_700_000_001_000, 'track.staleAt': 1_700_000_061_000, 'track.lostAt': 1_700_000_301_000 },
    { lat: 90 },
    { lat: -90 },
    { lat: 90.0001 },
    { lat: '28' },
    { lat: null },
    { lon: 180 },
    { lon: -181 },
    { alt: null },
    { alt: 120 },
    { alt: 20001 },
    { alt: 'high' },
    { updated: 1.5 },
    { updated: -1 },
    { updated: 2 ** 60 },
    { status: 'on-site' },
    { status: 'asleep' },
    { kind: 'drone' },
    { kind: 'ufo' },
    { 'track.heading': 360 },
    { 'track.heading': 361 },
    { 'track.heading': null },
    { 'track.presence': 'stale' },
    { 'track.presence': 'gone' },
    { 'track.battery': 101 },
    { 'track.ce': -1 },
    { 'track.callsign': 'T'.repeat(129) },
    { 'track.callsign': 'T2' },
    { 'name.zh': '新名字' },
    { 'name.zh': 5 },
    { members: 3 },
    { members: 2.5 },
    { stock: { water: 5 } },
    { stock: { water: -5 } },
    { id: '' },
    { demo: 'yes' },
    { surprise: 1 },
    { 'track.surprise': 1 },
    { 'stock.water': 4 },
    { track: null },
    { track: { feed: 'x' } },
  ];

  it('agrees with parsing the whole entity whenever it decides, and decides the moves', () => {
    let decided = 0;
    for (const set of cases) {
      const r = check(unit, set);
      if (r === undefined) continue;
      decided++;
      expect([JSON.stringify(set), r]).toEqual([JSON.stringify(set), whole(unit, set)]);
    }
    expect(check(unit, cases[0]!)).toBe(true);
    expect(check(unit, { lat: 91 })).toBe(false);
    expect(check(unit, { 'track.presence': 'gone' })).toBe(false);
    expect(decided).toBeGreaterThan(cases.length * 0.7);
  });

  it('compiles several bounds on one number to the tightest (at the same value, exclusive wins)', () => {
    const rec = z.object({ a: z.number().min(0).gt(0).lte(10).lt(10), b: z.number().gt(0).min(0).max(5).max(3) });
    const c = patchChecker(rec);
    const prev = { a: 5, b: 1 };
    for (const set of [{ a: 0 }, { a: 1e-9 }, { a: 10 }, { a: 9.99 }, { b: 0 }, { b: 3 }, { b: 4 }]) {
      expect([set, c(prev, set)]).toEqual([set, rec.safeParse({ ...prev, ...set }).success]);
    }
  });

  it('leaves to the whole parse what it cannot see: a path into a field that was null, a field the schema does not name', () => {
    const untracked = { ...unit, track: null };
    // track.heading alone would make a track with only a heading: invalid, and only a whole parse knows
    expect(check(untracked, { 'track.heading': 90 })).toBeUndefined();
    expect(whole(untracked, { 'track.heading': 90 })).toBe(false);
    expect(check(unit, { surprise: 1 })).toBeUndefined();
    expect(check(unit, { 'stock.water': 4 })).toBeUndefined();
    expect(check(unit, { constructor: 1 })).toBeUndefined();
    // a schema with a rule across its fields (a video source needs one of whep/hls/flv) is never decided by field
    expect(patchChecker(TOPIC_SCHEMAS.videos)({ id: 'v' }, { whep: null })).toBeUndefined();
  });

  it('never decides by field where a rule spans fields, at the top or one level down', () => {
    // each field alone is a valid number; only the rule across them can refuse the result
    const ordered = z.object({ lo: z.number(), hi: z.number() }).refine((o) => o.lo < o.hi);
    const nested = z.object({ id: z.string(), range: ordered });
    const open = z.object({ id: z.string() }).catchall(z.number());
    expect(patchChecker(ordered)({ lo: 1, hi: 2 }, { lo: 3 })).toBeUndefined();
    expect(ordered.safeParse({ lo: 3, hi: 2 }).success).toBe(false);
    expect(patchChecker(nested)({ id: 'a', range: { lo: 1, hi: 2 } }, { 'range.lo': 3 })).toBeUndefined();
    expect(nested.safeParse({ id: 'a', range: { lo: 3, hi: 2 } }).success).toBe(false);
    // a field the catch-all would check, not a named one
    expect(patchChecker(open)({ id: 'a', x: 1 }, { x: 'one' })).toBeUndefined();
  });
});
