// npm run bench — figures for the foundation, printed with ratios. Not a test: nothing here fails
// on a number; the figures go into the issue notes and are compared run against run.
//
// 1. Journal throughput: unit.moved events recorded through the hall core (reduce -> worker ->
//    one transaction per batch, FULL sync), events/s.
// 2. Event-loop delay while the journal is written: the store in its worker (as shipped) against
//    the same writes on the main thread (what the worker avoids). p99 and max, and the ratio.
// 3. Hub fan-out: 4 WebSocket clients subscribed to units; moves recorded at a fixed rate; latency
//    from record to each client's receipt, p50/p99, and delivered counts reconciled.
// 6. Typhoon: CMA parsing, the coastline, landfall detection, and the threat analysis the core runs
//    at every replay step (hourly steps over Lekima's life).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Place, Typhoon } from '../../common/domain.ts';
import { currentAdvisories, fixesAsTrack } from '../../common/typhoon.ts';
import { packageRoot } from '../../main/core/paths.ts';
import { demoAdvisories, parseLekimaCsv, zhejiangScenario } from '../../main/core/scenario/seed.ts';
import { formatCma, parseCma } from '../../main/core/typhoon/cma.ts';
import { loadLand } from '../../main/core/typhoon/coastline.ts';
import { analyse, landfalls } from '../../main/core/typhoon/threat.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Unit } from '../../common/domain.ts';
import { createServer } from 'node:net';
import { HallCore } from '../../main/core/hall.ts';
import { LinkMonitor } from '../../main/core/link/monitor.ts';
import mqtt from 'mqtt';
import { existsSync } from 'node:fs';
import { Broker, freePort, MOSQUITTO } from '../helpers/mosquitto.ts';
import { reduce } from '../../main/core/journal/events.ts';
import { startServer } from '../../main/server/server.ts';
import { accessToken } from '../../main/core/security.ts';
import { type CommitEntry, Store } from '../../native/store/store.ts';
import { HubClient } from '../../renderer/hub/client.ts';
import { WebSocketTransport } from '../../renderer/hub/transport.ts';

const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-'));
const ms = (ns: number) => (ns / 1e6).toFixed(2);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const line = (k: string, v: string) => console.log(`  ${k.padEnd(44)} ${v}`);

function typhoonBench() {
  const csv = readFileSync(join(packageRoot(), 'data', 'typhoons', 'lekima-2019.csv'), 'utf8');
  const fixes = parseLekimaCsv(csv);
  const storm: Typhoon = { id: 'tc-2019-1909', number: '1909', name: { zh: '利奇马', en: 'Lekima' }, year: 2019, fixes, source: '', demo: true };
  const year = formatCma(Array.from({ length: 30 }, (_, i) => ({ typhoon: { ...storm, number: String(1901 + i) }, serial: i + 1 })));
  let t0 = performance.now();
  const parsed = parseCma(year);
  const parseMs = performance.now() - t0;
  t0 = performance.now();
  const land = loadLand(join(packageRoot(), 'data', 'coastline', 'east-asia-10m.json'));
  const landMs = performance.now() - t0;
  const places = zhejiangScenario(0)
    .filter((e) => e.kind === 'place.upserted')
    .map((e) => (e.payload as { place: Place }).place);
  const advisories = demoAdvisories(storm);
  t0 = performance.now();
  const lf = landfalls(fixesAsTrack(fixes), land, places, 'observed', fixes);
  const landfallMs = performance.now() - t0;
  const times: number[] = [];
  let firstMs = 0;
  for (let t = fixes[0]!.t, i = 0; t <= fixes[fixes.length - 1]!.t; t += 3600_000, i++) {
    const a0 = performance.now();
    analyse(storm, currentAdvisories(advisories, storm.id, t), places, t, land);
    const dt = performance.now() - a0;
    if (i === 0) firstMs = dt;
    else times.push(dt);
  }
  return {
    parseMs,
    linesPerSec: (year.split('\n').length / parseMs) * 1000,
    landMs,
    landfallMs,
    landfalls: lf.length,
    p50: pct(times, 50),
    p95: pct(times, 95),
    firstMs,
    storms: parsed.storms.length,
  };
}

async function journal(total: number, perTurn: number) {
  const core = await HallCore.start({ dataDir: join(dir, 'journal'), hub: { tickMs: 50 } });
  const ids = core.all<Unit>('units').map((u) => u.id);
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  for (let i = 0; i < total; i += perTurn) {
    const batch = [];
    for (let j = 0; j < perTurn; j++) {
      const id = ids[(i + j) % ids.length]!;
      batch.push({ kind: 'unit.moved' as const, subject: `unit:${id}`, payload: { id, lat: 28 + ((i + j) % 300) / 100, lon: 120, alt: null, at: Date.now() } });
    }
    await core.recordMany(batch, 'bench');
  }
  const secs = (performance.now() - t0) / 1000;
  h.disable();
  const stats = core.stats();
  await core.dispose();
  return { rate: total / secs, p99: h.percentile(99), max: h.max, batches: stats.batches };
}

function mainThreadWrites(total: number, perTurn: number) {
  const store = new Store(join(dir, 'sync.sqlite'));
  const units = new Map<string, Record<string, unknown>>();
  for (let k = 0; k < 623; k++)
    units.set(`u${k}`, { id: `u${k}`, kind: 'social', name: { zh: 'x', en: 'x' }, home: '330100', lat: 30, lon: 120, alt: null, status: 'standby', members: 10, stock: null, updated: 0, demo: true });
  store.commit(
    [...units.values()].map((u) => ({
      event: { ts: 0, kind: 'unit.upserted', subject: `unit:${u.id}`, payload: { unit: u }, origin: 'bench' },
      ops: [{ table: 'units', op: 'put', id: String(u.id), value: u }],
    })),
  );
  return new Promise<{ rate: number; p99: number; max: number }>((resolve) => {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    let i = 0;
    const t0 = performance.now();
    const step = () => {
      const entries: CommitEntry[] = [];
      for (let j = 0; j < perTurn; j++, i++) {
        const id = `u${i % 623}`;
        const payload = { id, lat: 28 + (i % 300) / 100, lon: 120, alt: null, at: Date.now() };
        const ops = reduce('unit.moved', payload, (_t, x) => units.get(x));
        entries.push({ event: { ts: Date.now(), kind: 'unit.moved', subject: `unit:${id}`, payload, origin: 'bench' }, ops });
      }
      store.commit(entries);
      if (i < total) setImmediate(step);
      else {
        h.disable();
        store.close();
        resolve({ rate: total / ((performance.now() - t0) / 1000), p99: h.percentile(99), max: h.max });
      }
    };
    step();
  });
}

async function fanout(ratePerSec: number, seconds: number) {
  const core = await HallCore.start({ dataDir: join(dir, 'fanout'), hub: { tickMs: 50 } });
  const server = await startServer({ core, port: 0, staticDir: null });
  const url = `${server.url.replace('http', 'ws')}/hub?token=${accessToken(join(dir, 'fanout'))}`;
  const latencies: number[] = [];
  const received = [0, 0, 0, 0];
  const clients = received.map((_, i) => {
    const c = new HubClient(new WebSocketTransport(url), { client: `bench-${i}` });
    c.subscribe('units', (e) => {
      if (e.kind !== 'delta') return;
      const now = Date.now();
      for (const op of e.ops) {
        if (op.op !== 'put') continue;
        received[i]! += 1;
        if (i === 0) latencies.push(now - (op.value as Unit).updated);
      }
    });
    return c;
  });
  while (clients.some((c) => c.topic('units').size < 623)) await new Promise((r) => setTimeout(r, 20));
  const ids = core.all<Unit>('units').map((u) => u.id);
  const perTick = Math.round(ratePerSec / 20);
  let sent = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    const batch = [];
    for (let j = 0; j < perTick; j++, sent++) {
      const id = ids[sent % ids.length]!;
      batch.push({ kind: 'unit.moved' as const, subject: `unit:${id}`, payload: { id, lat: 27 + (sent % 400) / 100, lon: 120.5, alt: null, at: Date.now() } });
    }
    void core.recordMany(batch, 'bench');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1500));
  clients.forEach((c) => c.dispose());
  await server.close();
  await core.dispose();
  return { sent, received, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

/** Time from an uplink endpoint going away (connection refused) to the WAN reported offline, and
 *  from its return to online, with the shipping defaults (500 ms interval, 700 ms timeout). */
async function linkDetection(trials: number) {
  const down: number[] = [];
  const up: number[] = [];
  for (let i = 0; i < trials; i++) {
    let server = createServer((c) => c.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const wan = { state: 'unknown' as string, at: 0 };
    const mon = new LinkMonitor({
      targets: [{ id: 'bus', host: '127.0.0.1', port }],
      onChange: (ls) => ls.forEach((l) => l.id === 'wan' && Object.assign(wan, { state: l.state, at: performance.now() })),
    });
    const reached = async (s: string) => {
      while (wan.state !== s) await new Promise((r) => setTimeout(r, 5));
    };
    mon.start();
    await reached('online');
    await new Promise((r) => setTimeout(r, 137 * i)); // a different phase against the probe clock each trial
    const t0 = performance.now();
    await new Promise<void>((r) => server.close(() => r()));
    await reached('offline');
    down.push(wan.at - t0);
    server = createServer((c) => c.destroy());
    const t1 = performance.now();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    await reached('online');
    up.push(wan.at - t1);
    mon.dispose();
    await new Promise<void>((r) => server.close(() => r()));
  }
  return { down, up };
}

/** Backlog drain: N events queued while the bus is away, then the broker returns; messages/s until
 *  the province's subscriber has them all (loopback mosquitto, QoS 1, 64 in flight). */
async function drain(n: number) {
  const broker = new Broker(await freePort(), join(dir, 'broker'));
  await broker.start();
  const seen = new Set<string>();
  const province = await mqtt.connectAsync(broker.url, { clientId: 'bench-province', clean: false, reconnectPeriod: 100 });
  await province.subscribeAsync('beacon/330000/up/#', { qos: 1 });
  province.on('message', (t, p) => {
    if (!t.endsWith('/heartbeat')) seen.add((JSON.parse(p.toString()) as { key: string }).key);
  });
  // Raw drain rate: thinning off (an unlimited budget), so every one of the n messages is sent.
  const core = await HallCore.start({ dataDir: join(dir, 'drain'), uplink: { url: broker.url, hallId: '330000', reconnectMs: 100, positionsBudget: Number.MAX_SAFE_INTEGER } });
  await broker.stop();
  const ids = core.all<Unit>('units').map((u) => u.id);
  for (let i = 0; i < n; i += 1000) {
    await core.recordMany(
      Array.from({ length: 1000 }, (_, j) => {
        const id = ids[(i + j) % ids.length]!;
        return { kind: 'unit.moved' as const, subject: `unit:${id}`, payload: { id, lat: 28 + ((i + j) % 100) / 100, lon: 120, alt: null, at: Date.now() } };
      }),
      'bench',
    );
  }
  const t0 = performance.now();
  await broker.start();
  while (seen.size < n) await new Promise((r) => setTimeout(r, 10));
  const secs = (performance.now() - t0) / 1000;
  await core.dispose();
  await province.endAsync(true);
  await broker.stop();
  return { rate: n / secs, secs, received: seen.size };
}

console.log(`beacon bench — node ${process.versions.node}, ${new Date().toISOString()}`);
const N = 100_000;
console.log(`\n1+2. journal: ${N} unit.moved events, 500 per turn of the loop`);
const w = await journal(N, 500);
const s = await mainThreadWrites(N, 500);
line('through the core, store in a worker', `${Math.round(w.rate).toLocaleString()} events/s in ${w.batches} transactions`);
line('event-loop delay, store in worker (p99/max)', `${ms(w.p99)} / ${ms(w.max)} ms`);
line('same writes on the main thread (p99/max)', `${ms(s.p99)} / ${ms(s.max)} ms  (${Math.round(s.rate).toLocaleString()} events/s)`);
line('loop delay ratio main-thread / worker (p99)', `${(s.p99 / w.p99).toFixed(1)}x`);
console.log('\n3. hub fan-out to 4 WebSocket clients, 2,000 moves/s for 10 s, 50 ms ticks');
const f = await fanout(2000, 10);
const coalesced = f.received.map((r) => r).join(' / ');
line('recorded', f.sent.toLocaleString());
line('put ops delivered per client (coalesced per tick)', coalesced);
line('latency record -> client receipt p50 / p99', `${f.p50} / ${f.p99} ms`);
console.log('\n4. link monitor: uplink refused -> WAN offline, back -> online (5 trials, defaults)');
const l = await linkDetection(5);
line('detection, down: median / max', `${Math.round(pct(l.down, 50))} / ${Math.round(Math.max(...l.down))} ms`);
line('recovery (3 good probes of hysteresis): median / max', `${Math.round(pct(l.up, 50))} / ${Math.round(Math.max(...l.up))} ms`);
if (existsSync(MOSQUITTO)) {
  console.log('\n5. store-and-forward: 20,000 positions queued while the bus is down, then drained');
  const d = await drain(20_000);
  line('backlog drained (incl. broker start)', `${Math.round(d.rate).toLocaleString()} messages/s, ${d.secs.toFixed(1)} s, ${d.received.toLocaleString()} of 20,000 received, 0 lost`);
} else console.log('\n5. store-and-forward: skipped (no mosquitto)');
console.log('\n6. typhoon: Lekima (62 fixes) with the demo CMA-style advisory, 102 cities and counties');
const ty = typhoonBench();
line('CMA parse (a 30-storm year, ~2,000 lines)', `${ty.parseMs.toFixed(1)} ms, ${Math.round(ty.linesPerSec).toLocaleString()} lines/s`);
line('coastline load (518 rings, 110k points)', `${ty.landMs.toFixed(0)} ms once`);
line('landfall detection, observed track', `${ty.landfallMs.toFixed(2)} ms (${ty.landfalls} landfalls)`);
line('threat analysis per replay step: median / p95', `${ty.p50.toFixed(2)} / ${ty.p95.toFixed(2)} ms (first step ${ty.firstMs.toFixed(1)} ms)`);
rmSync(dir, { recursive: true, force: true });
