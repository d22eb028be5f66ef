// `npm run bench:globe`: the globe's update path under load, against the same load drawn with one
// Cesium Entity per unit. Loaded only on ?probe=1 (dynamic import), never in normal use.
import { Cartesian3, Color, ConstantPositionProperty, CustomDataSource, DataSourceCollection, DataSourceDisplay, JulianDate, PointPrimitiveCollection, type Entity } from '@cesium/engine';
import { type DeltaOp, type WireOp, parseFrame, parseServerFrame, ServerMessage, TOPIC_SCHEMAS } from '../../common/contract.ts';
import type { Unit, UnitKind } from '../../common/domain.ts';
import { TopicOrder } from '../../common/delta-order.ts';
import { applyPatch, diffPatch } from '../../common/ops.ts';
import { isPlain } from '../../common/plain.ts';
import { nextTick, watch } from 'vue';
import { HubClient } from '../hub/client.ts';
import type { Transport, TransportHandlers } from '../hub/transport.ts';
import type { SituationGlobe } from './situation.ts';

export interface BenchResult {
  mode: 'primitives' | 'entities';
  units: number;
  statics: number;
  ticks: number;
  jsMs: { median: number; p95: number };
  /** Rebuilding the trails of the units that moved (primitives only; once a second). */
  trailMs: { median: number; p95: number; drawn: number } | null;
  frameMs: { median: number; p95: number };
}

const KINDS: UnitKind[] = ['fire-rescue', 'professional', 'social', 'aviation', 'drone', 'vehicle'];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const frame = (g: SituationGlobe) =>
  new Promise<number>((resolve) => {
    const t0 = performance.now();
    const off = g.viewer.scene.postRender.addEventListener(() => {
      off();
      resolve(performance.now() - t0);
    });
    g.viewer.scene.requestRender();
  });

/** A few frames, so primitives removed by the last run give back what Cesium releases only on its
 *  next update (buffers, textures): the churn's heap is read after this. */
export async function settle(g: SituationGlobe): Promise<void> {
  for (let i = 0; i < 3; i++) await frame(g);
}

/** 0 … n-1 in an order shuffled the same way every run. */
function shuffled(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(((Math.sin(i * 7.77) + 1) / 2) * (i + 1)) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function synth(n: number, seed: number): Unit[] {
  const out: Unit[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.sin(i * 12.9898 + seed) * 43758.5453;
    const b = Math.sin(i * 78.233 + seed) * 12345.6789;
    out.push({
      id: `b${i}`,
      kind: KINDS[i % KINDS.length]!,
      name: { zh: `单位${i}`, en: `unit ${i}` },
      home: '330100',
      lat: 27 + (a - Math.floor(a)) * 4,
      lon: 118.5 + (b - Math.floor(b)) * 4,
      alt: null,
      status: 'en-route',
      members: null,
      stock: null,
      updated: 0,
      demo: true,
    });
  }
  return out;
}

/**
 * The order of a delta's moves. 'hub': as the hub sends them (common/delta-order.ts), ordered by
 * the topic's snapshot, after arriving in an order shuffled once (reports reach the hall in no order
 * the display keeps). 'arrival': as they arrived, which is what the hub sent before it ordered its
 * deltas, and what a display meets for units whose numbers no longer follow the hall's order.
 */
export type BenchOrder = 'hub' | 'arrival';

export async function benchGlobe(
  g: SituationGlobe,
  opts: { mode: 'primitives' | 'entities'; units: number; statics: number; ticks: number; trailMinutes?: number; order?: BenchOrder },
): Promise<BenchResult> {
  const units = synth(opts.units, 1);
  const statics = synth(opts.statics, 2);
  const js: number[] = [];
  const frames: number[] = [];
  const trailMs: number[] = [];
  let trailsDrawn = 0;
  if (opts.mode === 'primitives') {
    const staticPoints = g.viewer.scene.primitives.add(new PointPrimitiveCollection()) as PointPrimitiveCollection;
    for (const s of statics) staticPoints.add({ position: Cartesian3.fromDegrees(s.lon, s.lat), pixelSize: 6, color: Color.GOLD });
    const keep = g.units.trails.minutes;
    g.units.trails.setMinutes(opts.trailMinutes ?? keep);
    g.units.reset(units);
    await frame(g);
    // The hub client's numbers for the units, as it gives them after a snapshot of these units:
    // 0, 1, 2, … in the snapshot's order (renderer/hub/client.ts). Every unit moves each tick; the
    // moves arrive at the hall in an order shuffled once, and the hub sends them in its order.
    const hub = new TopicOrder();
    hub.order(units.map((u) => ({ op: 'put', id: u.id })));
    const arrival = shuffled(units.length).map((k) => ({ op: 'put', id: units[k]!.id, k }));
    const order = (opts.order === 'arrival' ? arrival : hub.order(arrival.slice())).map((a) => a.k);
    const slots = Int32Array.from(order);
    for (let t = 1; t <= opts.ticks; t++) {
      // What a hub delta carries for 20,000 moves: a put per unit.
      const ops: DeltaOp[] = order.map((k) => {
        const u = units[k]!;
        return { op: 'put', id: u.id, value: { ...u, lat: u.lat + 0.001 * Math.sin(t + u.lon), lon: u.lon + 0.001 * Math.cos(t + u.lat), updated: t } };
      });
      const t0 = performance.now();
      g.units.applyOps(ops, slots);
      js.push(performance.now() - t0);
      // Trails are rebuilt on their own once-a-second clock; at 1 Hz that is once per tick.
      const t1 = performance.now();
      g.units.trails.refresh();
      if (g.units.trails.minutes > 0) trailMs.push(performance.now() - t1);
      frames.push(await frame(g));
    }
    trailsDrawn = g.units.trails.count();
    g.units.reset([]);
    g.units.trails.clear();
    g.units.trails.setMinutes(keep);
    g.viewer.scene.primitives.remove(staticPoints);
  } else {
    const collection = new DataSourceCollection();
    const display = new DataSourceDisplay({ scene: g.viewer.scene, dataSourceCollection: collection });
    const ds = new CustomDataSource('bench');
    await collection.add(ds);
    for (const s of statics) ds.entities.add({ position: Cartesian3.fromDegrees(s.lon, s.lat), point: { pixelSize: 6, color: Color.GOLD } });
    const entities: Entity[] = units.map((u) => ds.entities.add({ id: u.id, position: new ConstantPositionProperty(Cartesian3.fromDegrees(u.lon, u.lat)), point: { pixelSize: 7, color: Color.RED } }));
    display.update(JulianDate.now());
    await frame(g);
    for (let t = 1; t <= opts.ticks; t++) {
      const t0 = performance.now();
      ds.entities.suspendEvents();
      units.forEach((u, i) => {
        (entities[i]!.position as ConstantPositionProperty).setValue(Cartesian3.fromDegrees(u.lon + 0.001 * Math.cos(t + u.lat), u.lat + 0.001 * Math.sin(t + u.lon)));
      });
      ds.entities.resumeEvents();
      // The Entity path does its real work in the display's update, once a frame: count it too.
      display.update(JulianDate.now());
      js.push(performance.now() - t0);
      frames.push(await frame(g));
    }
    display.destroy();
  }
  return {
    mode: opts.mode,
    units: opts.units,
    statics: opts.statics,
    ticks: opts.ticks,
    jsMs: { median: pct(js, 50), p95: pct(js, 95) },
    trailMs: trailMs.length ? { median: pct(trailMs, 50), p95: pct(trailMs, 95), drawn: trailsDrawn } : null,
    frameMs: { median: pct(frames, 50), p95: pct(frames, 95) },
  };
}

export interface WireResult {
  units: number;
  ticks: number;
  frameMB: number;
  /** Parse, check, patch and store in the display's hub client (everything before the globe). */
  receiveMs: { median: number; p95: number };
  /** The same frames read the way the client did before: every message and entity by schema. */
  schemaMs: { median: number; p95: number };
  globeMs: { median: number; p95: number };
  totalMs: { median: number; p95: number };
}

/** Second t of the run: every team a little further on, its track's heading and times new. */
function step(units: Unit[], t: number, T0: number): Unit[] {
  const at = T0 + t * 1000;
  return units.map((u) => ({
    ...u,
    lat: u.lat + 0.001 * Math.sin(t + u.lon),
    lon: u.lon + 0.001 * Math.cos(t + u.lat),
    updated: at,
    track: { ...u.track!, heading: (t * 7) % 360, seen: at, staleAt: at + 60_000, lostAt: at + 300_000 },
  }));
}

/** Teams live-tracked over CoT: each move also changes their track's heading and times. */
function tracked(n: number, seed: number, prefix: string, T0: number): Unit[] {
  return synth(n, seed).map((u, i) => ({
    ...u,
    id: `${prefix}${i}`,
    track: {
      feed: 'cot-tcp',
      source: `ANDROID-${i}`,
      heading: 0,
      speed: 3.5,
      ce: 5,
      callsign: `T${i}`,
      group: 'Cyan',
      battery: 80,
      seen: T0,
      staleAt: T0 + 60_000,
      lostAt: T0 + 300_000,
      presence: 'live' as const,
    },
  }));
}

/**
 * The display's whole path for a second of moves at province scale: the hall's delta as it travels
 * (JSON text, each move a patch of the fields that changed), through the hub client a display
 * really uses, to the globe. Teams are live-tracked (CoT), so each move also changes their track's
 * heading and times, and reach the hall in a shuffled order that the hub puts in the topic's order
 * (common/delta-order.ts). The hall sends these 20,000 patches as 40 deltas of 500 (25 ms hub ticks);
 * one frame of 20,000 costs the same work and is measured whole here.
 */
export async function benchWire(g: SituationGlobe, opts: { units: number; ticks: number }): Promise<WireResult> {
  const T0 = 1_700_000_000_000;
  let units: Unit[] = tracked(opts.units, 3, 'w', T0);
  let h!: TransportHandlers;
  const transport: Transport = { binary: false, connect: (x) => ((h = x), x.open()), send: () => undefined, close: () => undefined };
  const client = new HubClient(transport, { client: 'bench' });
  let globe = 0;
  const off = client.subscribe('units', (e) => {
    const t0 = performance.now();
    if (e.kind === 'delta') g.units.applyOps(e.ops, e.slots);
    else g.units.reset(client.topic('units').values() as Iterable<Unit>);
    globe += performance.now() - t0;
  });
  h.message({ t: 'snapshot', topic: 'units', epoch: 'bench', seq: 0, items: units }, 0);
  // reports reach the hall in an order shuffled once; the hub sends them in the topic's order
  const hub = new TopicOrder();
  hub.order(units.map((u) => ({ op: 'put', id: u.id })));
  const arrival = shuffled(units.length);
  await frame(g);
  const receive: number[] = [];
  const schema: number[] = [];
  const globeMs: number[] = [];
  const total: number[] = [];
  let bytes = 0;
  for (let t = 1; t <= opts.ticks; t++) {
    const next = step(units, t, T0);
    const ops = hub.order(arrival.map((i) => ({ op: 'patch' as const, id: next[i]!.id, set: diffPatch(units[i], next[i])! })));
    const text = JSON.stringify({ t: 'delta', topic: 'units', epoch: 'bench', seq: t, ops });
    bytes = text.length;
    units = next;
    // before: the frame by schema, each patched entity parsed whole (the client's map is not touched)
    const s0 = performance.now();
    const old = parseFrame(ServerMessage, text, 64 << 20);
    if (!old.ok || old.msg.t !== 'delta') throw new Error('bench frame refused by the schema');
    const resolved = resolveWireOps(client.topic('units'), old.msg.ops);
    if (!resolved?.every((op) => op.op === 'del' || TOPIC_SCHEMAS.units.safeParse(op.value).success)) throw new Error('bench entity refused by the schema');
    schema.push(performance.now() - s0);
    // now: what the display does
    globe = 0;
    const t0 = performance.now();
    const r = parseServerFrame(text, 64 << 20);
    if (!r.ok) throw new Error(`bench frame refused: ${r.error.message}`);
    h.message(r.msg, 0);
    const dt = performance.now() - t0;
    if (client.counters.invalid || client.counters.gaps) throw new Error('bench frame not applied');
    total.push(dt);
    globeMs.push(globe);
    receive.push(dt - globe);
    await frame(g);
  }
  off();
  client.dispose();
  g.units.reset([]);
  g.units.trails.clear();
  const q = (xs: number[]) => ({ median: pct(xs, 50), p95: pct(xs, 95) });
  return { units: opts.units, ticks: opts.ticks, frameMB: bytes / 1e6, receiveMs: q(receive), schemaMs: q(schema), globeMs: q(globeMs), totalMs: q(total) };
}

/** The display's former path, for the comparison in benchWire only: wire ops as puts and dels against
 *  what the client holds, each entity then parsed whole by its schema. */
/** Wire ops as puts and dels against what the client holds. Null when a patch names an entity the
 *  client does not have: its state has diverged, and it must ask for a snapshot. */
function resolveWireOps(map: ReadonlyMap<string, unknown>, ops: readonly WireOp[]): DeltaOp[] | null {
  const out: DeltaOp[] = [];
  // A tick holds one op per id, so patches never build on each other within one delta.
  for (const op of ops) {
    if (op.op !== 'patch') {
      out.push(op);
      continue;
    }
    const prev = map.get(op.id);
    if (!isPlain(prev)) return null;
    out.push({ op: 'put', id: op.id, value: applyPatch(prev, op.set) });
  }
  return out;
}

export interface AppResult {
  units: number;
  ticks: number;
  /** From the frame's text to the screen's next state: the page's own hub client, every store and
   *  view that listens (the units store, the legend's counts, the globe), and Vue's render flush. */
  totalMs: { median: number; p95: number };
  /** Of that, Vue's flush after the listeners ran (what components re-render). */
  vueMs: { median: number; p95: number };
  /** Of that, the globe's units layer (the same work as the wire path's globe update). */
  globeMs: { median: number; p95: number };
  /** What the legend cost before it was kept per op: a rescan of every unit by kind and status. */
  rescanMs: { median: number; p95: number };
  /** Legend redraws during the run (a count changed): moves alone cause none. */
  legendChanges: number;
}

/**
 * The display's whole path as it runs in the app: frames of moves fed to the page's real hub client
 * (as its WebSocket would hand them over), so the Pinia stores, the legend's counts and the globe
 * all take them, then Vue flushes. The hall's own units are replaced for the run (a bench epoch) and
 * come back with the next snapshot the client asks for.
 */
export async function benchApp(g: SituationGlobe, hub: HubClient, legend: { kinds: unknown; statuses: unknown }, opts: { units: number; ticks: number }): Promise<AppResult> {
  let legendChanges = 0;
  const stop = watch([() => legend.kinds, () => legend.statuses], () => void legendChanges++);
  const T0 = 1_700_000_000_000;
  // the same teams and moves as benchWire, so the two paths compare
  let units: Unit[] = tracked(opts.units, 3, 'a', T0);
  // The client's transport entry point: private to the app, fed directly by the bench only.
  const receive = (m: ServerMessage) => (hub as unknown as { receive(m: ServerMessage): void }).receive(m);
  receive({ t: 'snapshot', topic: 'units', epoch: 'bench-app', seq: 0, items: units });
  await nextTick();
  await frame(g);
  const gaps = hub.counters.gaps;
  const legendBefore = legendChanges;
  const total: number[] = [];
  const vue: number[] = [];
  const rescan: number[] = [];
  // the globe's share, timed where the app calls it
  const layer = g.units;
  const applyOps = layer.applyOps;
  let globe = 0;
  layer.applyOps = (ops, slots) => {
    const g0 = performance.now();
    applyOps.call(layer, ops, slots);
    globe += performance.now() - g0;
  };
  const globeMs: number[] = [];
  for (let t = 1; t <= opts.ticks; t++) {
    const next = step(units, t, T0);
    const ops = units.map((u, i) => ({ op: 'patch' as const, id: u.id, set: diffPatch(u, next[i])! }));
    units = next;
    const text = JSON.stringify({ t: 'delta', topic: 'units', epoch: 'bench-app', seq: t, ops });
    globe = 0;
    const t0 = performance.now();
    const r = parseServerFrame(text, 64 << 20);
    if (!r.ok) throw new Error(`bench frame refused: ${r.error.message}`);
    receive(r.msg);
    globeMs.push(globe);
    const t1 = performance.now();
    await nextTick();
    const t2 = performance.now();
    total.push(t2 - t0);
    vue.push(t2 - t1);
    // the legend as it was: every unit counted by kind and by status on every delta
    const r0 = performance.now();
    const kinds: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    for (const u of hub.topic('units').values() as Iterable<Unit>) {
      kinds[u.kind] = (kinds[u.kind] ?? 0) + 1;
      statuses[u.status] = (statuses[u.status] ?? 0) + 1;
    }
    rescan.push(performance.now() - r0);
    await frame(g);
  }
  stop();
  layer.applyOps = applyOps;
  if (hub.counters.gaps !== gaps) throw new Error('bench frames were not applied in order');
  const q = (xs: number[]) => ({ median: pct(xs, 50), p95: pct(xs, 95) });
  return { units: opts.units, ticks: opts.ticks, totalMs: q(total), vueMs: q(vue), globeMs: q(globeMs), rescanMs: q(rescan), legendChanges: legendChanges - legendBefore };
}
