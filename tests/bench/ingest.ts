// npm run bench:ingest — position messages from the wire through the hall to WebSocket clients.
// Not a test: it prints figures (and the goal beside each), it fails on nothing.
//
// The hall runs as `beacon serve` in its own process with a MAVLink UDP feed and a CoT TCP feed.
// This process plays `beacon simulate`'s scenario at load (drones over MAVLink at 10 Hz, teams over
// CoT TCP at 1 Hz) and holds 4 WebSocket clients subscribed to `units`. Every position put on the
// wire is remembered (unit, latitude → send time), so each client can say, for each delta, how long
// the position took from the socket send to its receipt.
//
// Reconciled at the end:
//   sent      positions the simulator put on the wire
//   accepted  positions the hall's feeds decoded (+ refused, which should be 0)
//   stored    journal rows the storage policy kept; thinned = accepted - stored (docs/feeds.md)
//   delivered positions each client received; coalesced = an older position of a unit replaced by
//             a newer one within the same 50 ms tick (the client got the newer); lost = the rest
//
// BENCH_SECONDS (default 60), BENCH_TEAMS (18000), BENCH_DRONES (200), BENCH_DRONE_HZ (10).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Simulator } from '../../main/core/feeds/simulate.ts';
import { packageRoot } from '../../main/core/paths.ts';
import { freePort } from '../helpers/mosquitto.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const TEAMS = Number(process.env.BENCH_TEAMS ?? 18000);
const DRONES = Number(process.env.BENCH_DRONES ?? 200);
const DRONE_HZ = Number(process.env.BENCH_DRONE_HZ ?? 10);
const CLIENTS = 4;
const line = (k: string, v: string) => console.log(`  ${k.padEnd(50)} ${v}`);
const pct = (xs: Float64Array | number[], n: number, p: number) => {
  const s = Array.from(xs.slice(0, n)).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** Per unit: the positions sent, in order, with their send times. */
class Sends {
  readonly byUnit = new Map<string, { lats: number[]; lons: number[]; at: number[]; delivered: Int32Array[]; seen: Float64Array[] }>();
  add(unit: string, lat: number, lon: number, at: number): void {
    let u = this.byUnit.get(unit);
    if (!u) this.byUnit.set(unit, (u = { lats: [], lons: [], at: [], delivered: Array.from({ length: CLIENTS }, () => new Int32Array(1).fill(-1)), seen: Array.from({ length: CLIENTS }, () => new Float64Array(2).fill(NaN)) }));
    u.lats.push(lat);
    u.lons.push(lon);
    u.at.push(at);
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-ingest-'));
  const mav = await freePort();
  const cot = await freePort();
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  const hall = spawn(process.execPath, [...prof, join(packageRoot(), 'main', 'cli.ts'), 'serve', '--data', dir, '--port', '0', '--feed', `mavlink-udp:host=127.0.0.1,port=${mav}`, '--feed', `cot-tcp:host=127.0.0.1,port=${cot}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  hall.stdout.on('data', (d: Buffer) => (out += d.toString()));
  hall.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearInterval(timer);
      resolve(m[1]!);
    }, 50);
    hall.once('exit', (c) => reject(new Error(`hall exited ${c}: ${out}`)));
  });
  const health = async () => (await (await fetch(`${url}/api/health`)).json()) as { feeds: { positions: number; stored: number; thinned: number; rejected: number; feeds: Record<string, { errors: Record<string, number> }> }; hub: { superseded: number }; memory: { rssMB: number; heapMB: number }; journal: { events: number; queued: number }; eventLoop: { p50Ms: number; p99Ms: number; maxMs: number } };

  const sends = new Sends();
  const unitOf = (source: string) => (/^\d+$/.test(source) ? `mavlink-udp-${source}` : `cot-tcp-${source}`);
  let measuring = false;
  const lat = Array.from({ length: CLIENTS }, () => new Float64Array(4_000_000));
  const nLat = new Array(CLIENTS).fill(0);
  const delivered = new Array(CLIENTS).fill(0);
  const coalesced = new Array(CLIENTS).fill(0);
  const gaps = new Array(CLIENTS).fill(0);

  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, (_, c) => {
      const ws = new WebSocket(url.replace('http', 'ws') + '/hub', { origin: url, perMessageDeflate: false });
      let seq = -1;
      ws.on('message', (data: Buffer) => {
        const now = Date.now();
        const m = JSON.parse(data.toString()) as { t: string; seq?: number; ops?: { op: string; id: string; value?: { lat: number; lon: number }; set?: { lat?: number; lon?: number } }[] };
        if (m.t === 'snapshot') seq = m.seq!;
        if (m.t !== 'delta') return;
        if (m.seq !== seq + 1) gaps[c]++;
        seq = m.seq!;
        for (const op of m.ops!) {
          // A put (a unit's first appearance) or a patch of what changed (docs/protocol.md).
          // A patch carries only what changed: a unit moving due east keeps its latitude.
          const u = sends.byUnit.get(op.id);
          if (!u) continue;
          const seen = u.seen[c]!;
          const la = op.value?.lat ?? op.set?.lat;
          const lo = op.value?.lon ?? op.set?.lon;
          if (la === undefined && lo === undefined) continue;
          if (la !== undefined) seen[0] = la;
          if (lo !== undefined) seen[1] = lo;
          const d = u.delivered[c]!;
          // Find this latitude among the sends after the last one delivered (positions go forward).
          for (let k = d[0]! + 1; k < u.lats.length; k++) {
            if (u.lats[k] !== seen[0] || u.lons[k] !== seen[1]) continue;
            coalesced[c] += k - d[0]! - 1;
            d[0] = k;
            delivered[c]++;
            if (measuring && nLat[c] < lat[c]!.length) lat[c]![nLat[c]++] = now - u.at[k]!;
            break;
          }
        }
      });
      return new Promise<WebSocket>((resolve) =>
        ws.once('open', () => {
          ws.send(JSON.stringify({ t: 'hello', v: 1, client: `bench-${c}` }));
          ws.send(JSON.stringify({ t: 'sub', topic: 'units' }));
          resolve(ws);
        }),
      );
    }),
  );

  const sim = new Simulator({ drones: DRONES, droneHz: DRONE_HZ, mavlinkPort: mav, teams: TEAMS, teamHz: 1, cotPort: cot, cotConnections: 16, onSend: (source, la, lo, at) => sends.add(unitOf(source), la, lo, at) });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  console.log(`\ningest: ${DRONES} drones × ${DRONE_HZ} Hz over MAVLink UDP + ${TEAMS} teams × 1 Hz over CoT TCP (16 connections) → hall (own process) → ${CLIENTS} WebSocket clients`);
  console.log(`  offered load ${DRONES * DRONE_HZ + TEAMS} positions/s; ${WARMUP} s warm-up (every unit appears once), then ${SECONDS} s measured\n`);
  await sim.start();
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const h0 = await health();
  const sent0 = sim.sent.mavlink + sim.sent.cot;
  measuring = true;
  const t0 = Date.now();
  let peakRss = h0.memory.rssMB;
  for (let s = 0; s < SECONDS; s += 10) {
    await new Promise((r) => setTimeout(r, Math.min(10, SECONDS - s) * 1000));
    const h = await health();
    peakRss = Math.max(peakRss, h.memory.rssMB);
    console.log(`  t=${String(s + Math.min(10, SECONDS - s)).padStart(3)} s  accepted ${h.feeds.positions - h0.feeds.positions}  sent ${sim.sent.mavlink + sim.sent.cot - sent0}  journal queue ${h.journal.queued}  hall rss ${h.memory.rssMB} MB  hall loop delay p99 ${h.eventLoop.p99Ms} max ${h.eventLoop.maxMs} ms`);
  }
  const elapsed = (Date.now() - t0) / 1000;
  const sentWindow = sim.sent.mavlink + sim.sent.cot - sent0;
  const hWindow = await health();
  await sim.stop();
  measuring = false;
  await new Promise((r) => setTimeout(r, 2000)); // the last ticks reach the clients
  const h = await health();
  loop.disable();

  const sent = sim.sent.mavlink + sim.sent.cot;
  const accepted = h.feeds.positions;
  let lostTail = 0;
  const lostPerClient = new Array(CLIENTS).fill(0);
  const examples: string[] = [];
  for (const [id, u] of sends.byUnit) {
    for (let c = 0; c < CLIENTS; c++) lostPerClient[c] += u.lats.length - 1 - u.delivered[c]![0]!;
    const gap = u.lats.length - 1 - u.delivered[0]![0]!;
    if (gap > 0 && examples.length < 5) examples.push(`${id}: ${gap} of ${u.lats.length} not delivered (last sent at +${u.at[u.at.length - 1]! - t0} ms)`);
  }
  if (examples.length) console.log(`  not delivered, e.g.: ${examples.join('; ')}`);
  lostTail = Math.max(...lostPerClient);
  const all = lat.flatMap((a, c) => Array.from(a.slice(0, nLat[c])));
  console.log('');
  line('sustained accepted rate (measured window)', `${Math.round((hWindow.feeds.positions - h0.feeds.positions) / elapsed)} positions/s   goal 20,000/s for 60 s`);
  line('offered by the simulator (same window)', `${Math.round(sentWindow / elapsed)} positions/s`);
  line('latency send → client, p50', `${pct(all, all.length, 50).toFixed(1)} ms`);
  line('latency send → client, p99', `${pct(all, all.length, 99).toFixed(1)} ms   goal < 100 ms`);
  line('latency send → client, max', `${pct(all, all.length, 100).toFixed(1)} ms`);
  line('sent (whole run)', String(sent));
  line('accepted by the hall / refused', `${accepted} / ${h.feeds.rejected}   (send errors ${sim.errors.mavlink + sim.errors.cot})`);
  line('stored in the journal / thinned', `${h.feeds.stored} / ${h.feeds.thinned}   (stored + thinned = ${h.feeds.stored + h.feeds.thinned})`);
  for (let c = 0; c < CLIENTS; c++) line(`client ${c + 1}: delivered / coalesced / lost / seq gaps`, `${delivered[c]} / ${coalesced[c]} / ${lostPerClient[c]} / ${gaps[c]}`);
  line('reconciled: sent = accepted + refused', sent === accepted + h.feeds.rejected ? 'yes' : `NO (${sent - accepted - h.feeds.rejected} missing at the hall)`);
  line('reconciled: accepted = delivered + coalesced (each client)', delivered.every((d, c) => d + coalesced[c] + lostPerClient[c] === accepted) && lostTail === 0 ? 'yes, zero lost' : `lost up to ${lostTail}`);
  line('hall superseded changes (all topics)', String(h.hub.superseded));
  line('hall memory: rss peak / heap at end', `${peakRss} MB / ${h.memory.heapMB} MB`);
  line('bench process event-loop delay p99 (sender + clients)', `${(loop.percentile(99) / 1e6).toFixed(1)} ms`);
  for (const ws of clients) ws.close();
  hall.kill('SIGTERM');
  await new Promise((r) => hall.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}

await main();
