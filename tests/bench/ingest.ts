// npm run bench:ingest — position messages from the wire through the hall to WebSocket clients.
// Not a test: it prints figures (and the goal beside each), it fails on nothing.
//
// The hall runs as `beacon serve` in its own process with a MAVLink UDP feed and a CoT TCP feed.
// This process plays `beacon simulate`'s scenario at load (drones over MAVLink at 10 Hz, teams over
// CoT TCP at 1 Hz) and remembers every position it puts on the wire (unit, position → send time).
// 4 WebSocket clients subscribed to `units` run in a third process (ingest-clients.ts), so the
// sender's bursts never delay a receipt's timestamp; they record every position received, and the
// two records are joined at the end (same machine, same clock).
//
// Reconciled at the end:
//   sent      positions the simulator put on the wire
//   accepted  positions the hall's feeds decoded (+ refused, which should be 0)
//   stored    journal rows the storage policy kept; thinned = accepted - stored (docs/feeds.md)
//   delivered positions each client received; coalesced = an older position of a unit replaced by
//             a newer one within the same hub tick (25 ms) (the client got the newer); lost = the rest
//
// BENCH_SECONDS (default 60), BENCH_TEAMS (18000), BENCH_DRONES (200), BENCH_DRONE_HZ (10).
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Simulator } from '../../main/core/feeds/simulate.ts';
import { packageRoot } from '../../main/core/paths.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { startHallProcess } from './hall-process.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const TEAMS = Number(process.env.BENCH_TEAMS ?? 18000);
const DRONES = Number(process.env.BENCH_DRONES ?? 200);
const DRONE_HZ = Number(process.env.BENCH_DRONE_HZ ?? 10);
const CLIENTS = 4;
const line = (k: string, v: string) => console.log(`  ${k.padEnd(50)} ${v}`);
/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** Per unit: the positions sent, in order, with their send times. */
class Sends {
  readonly byUnit = new Map<string, { lats: number[]; lons: number[]; at: number[] }>();
  add(unit: string, lat: number, lon: number, at: number): void {
    let u = this.byUnit.get(unit);
    if (!u) this.byUnit.set(unit, (u = { lats: [], lons: [], at: [] }));
    u.lats.push(lat);
    u.lons.push(lon);
    u.at.push(at);
  }
}

interface ClientRecord {
  n: number;
  gaps: number;
  catchUps: number;
  ops: number;
  unit: Int32Array;
  lat: Float64Array;
  lon: Float64Array;
  t: Float64Array;
}

function readClient(file: string): ClientRecord {
  const buf = readFileSync(file);
  const nl = buf.indexOf(10);
  const head = JSON.parse(buf.subarray(0, nl).toString()) as { n: number; gaps: number; catchUps: number; ops: number };
  const n = head.n;
  const body = buf.subarray(nl + 1);
  const copy = (off: number, len: number) => new Uint8Array(body.subarray(off, off + len)).buffer;
  return { ...head, unit: new Int32Array(copy(0, n * 4)), lat: new Float64Array(copy(n * 4, n * 8)), lon: new Float64Array(copy(n * 12, n * 8)), t: new Float64Array(copy(n * 20, n * 8)) };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-ingest-'));
  const mav = await freePort();
  const cot = await freePort();
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  const { hall, url, token } = await startHallProcess(
    ['--data', join(dir, 'hall'), '--port', '0', '--feed', `mavlink-udp:host=127.0.0.1,port=${mav}`, '--feed', `cot-tcp:host=127.0.0.1,port=${cot}`],
    prof,
  );
  const health = async () =>
    (await (await fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      feeds: { positions: number; stored: number; thinned: number; rejected: number };
      hub: { superseded: number };
      memory: { rssMB: number; heapMB: number };
      journal: { events: number; queued: number };
      eventLoop: { p50Ms: number; p99Ms: number; maxMs: number };
    };

  // The displays, in their own process (ingest-clients.ts).
  const clients = fork(join(packageRoot(), 'tests', 'bench', 'ingest-clients.ts'), [`${url.replace('http', 'ws')}/hub?token=${token}`, String(CLIENTS), dir], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve) => clients.on('message', (m) => m === 'ready' && resolve()));

  const sends = new Sends();
  const unitOf = (source: string) => (/^\d+$/.test(source) ? `mavlink-udp-${source}` : `cot-tcp-${source}`);
  const sim = new Simulator({
    drones: DRONES,
    droneHz: DRONE_HZ,
    mavlinkPort: mav,
    teams: TEAMS,
    teamHz: 1,
    cotPort: cot,
    cotConnections: 16,
    onSend: (source, la, lo, at) => sends.add(unitOf(source), la, lo, at),
  });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  console.log(`\ningest: ${DRONES} drones × ${DRONE_HZ} Hz over MAVLink UDP + ${TEAMS} teams × 1 Hz over CoT TCP (16 connections) → hall (own process) → ${CLIENTS} WebSocket clients (own process)`);
  console.log(`  offered load ${DRONES * DRONE_HZ + TEAMS} positions/s; ${WARMUP} s warm-up (every unit appears once), then ${SECONDS} s measured\n`);
  await sim.start();
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const h0 = await health();
  const sent0 = sim.sent.mavlink + sim.sent.cot;
  const cpu0 = { hall: cpuSeconds(hall.pid!), clients: cpuSeconds(clients.pid!), sender: process.cpuUsage() };
  const t0 = Date.now();
  let peakRss = h0.memory.rssMB;
  let worstLoop = 0;
  for (let s = 0; s < SECONDS; s += 10) {
    await new Promise((r) => setTimeout(r, Math.min(10, SECONDS - s) * 1000));
    const h = await health();
    peakRss = Math.max(peakRss, h.memory.rssMB);
    worstLoop = Math.max(worstLoop, h.eventLoop.p99Ms);
    console.log(
      `  t=${String(s + Math.min(10, SECONDS - s)).padStart(3)} s  accepted ${h.feeds.positions - h0.feeds.positions}  sent ${sim.sent.mavlink + sim.sent.cot - sent0}  journal queue ${h.journal.queued}  hall rss ${h.memory.rssMB} MB  hall loop delay p99 ${h.eventLoop.p99Ms} max ${h.eventLoop.maxMs} ms`,
    );
  }
  const t1 = Date.now();
  const elapsed = (t1 - t0) / 1000;
  const senderCpu = process.cpuUsage(cpu0.sender);
  const cores = { hall: (cpuSeconds(hall.pid!) - cpu0.hall) / elapsed, clients: (cpuSeconds(clients.pid!) - cpu0.clients) / elapsed, sender: (senderCpu.user + senderCpu.system) / 1e6 / elapsed };
  const sentWindow = sim.sent.mavlink + sim.sent.cot - sent0;
  const hWindow = await health();
  await sim.stop();
  await new Promise((r) => setTimeout(r, 2000)); // the last ticks reach the clients
  const h = await health();
  loop.disable();
  clients.send('stop');
  await new Promise<void>((resolve) => clients.on('message', (m) => m === 'done' && resolve()));

  // Join each client's receipts with the send log: a receipt is the newest send of that unit with that
  // position; sends it skipped were superseded within a tick; sends after the last receipt are lost.
  const names = JSON.parse(readFileSync(join(dir, 'units.json'), 'utf8')) as string[];
  const sent = sim.sent.mavlink + sim.sent.cot;
  const accepted = h.feeds.positions;
  const lat: number[] = [];
  const rows: string[] = [];
  let allReconciled = sent === accepted + h.feeds.rejected;
  for (let c = 0; c < CLIENTS; c++) {
    const r = readClient(join(dir, `client-${c}.bin`));
    const next = new Map<string, number>();
    let delivered = 0;
    let coalesced = 0;
    for (let i = 0; i < r.n; i++) {
      const id = names[r.unit[i]!]!;
      const u = sends.byUnit.get(id);
      if (!u) continue;
      const from = next.get(id) ?? 0;
      for (let k = from; k < u.lats.length; k++) {
        if (u.lats[k] !== r.lat[i] || u.lons[k] !== r.lon[i]) continue;
        coalesced += k - from;
        next.set(id, k + 1);
        delivered++;
        if (c === 0 && u.at[k]! >= t0 && u.at[k]! <= t1) lat.push(r.t[i]! - u.at[k]!);
        break;
      }
    }
    let lost = 0;
    for (const [id, u] of sends.byUnit) lost += u.lats.length - (next.get(id) ?? 0);
    if (lost > 0 || delivered + coalesced !== sent) allReconciled = false;
    rows.push(`client ${c + 1}: delivered / superseded / lost / seq gaps / catch-ups|${delivered} / ${coalesced} / ${lost} / ${r.gaps} / ${r.catchUps ?? 0}`);
  }
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
  console.log('');
  line('sustained accepted rate (measured window)', `${Math.round((hWindow.feeds.positions - h0.feeds.positions) / elapsed)} positions/s   goal 20,000/s for 60 s`);
  line('offered by the simulator (same window)', `${Math.round(sentWindow / elapsed)} positions/s`);
  line('latency send → client, p50', `${q(50).toFixed(1)} ms`);
  line('latency send → client, p99', `${q(99).toFixed(1)} ms   goal < 100 ms`);
  line('latency send → client, max', `${q(100).toFixed(1)} ms   (${lat.length} positions timed)`);
  line('sent (whole run)', String(sent));
  line('accepted by the hall / refused', `${accepted} / ${h.feeds.rejected}   (send errors ${sim.errors.mavlink + sim.errors.cot})`);
  line('stored in the journal / thinned', `${h.feeds.stored} / ${h.feeds.thinned}   (stored + thinned = ${h.feeds.stored + h.feeds.thinned})`);
  for (const row of rows) line(row.split('|')[0]!, row.split('|')[1]!);
  line('reconciled (sent = accepted = delivered + superseded, 0 lost)', allReconciled ? 'yes' : 'NO');
  line('hall superseded changes (all topics)', String(h.hub.superseded));
  line('hall event-loop delay p99 (worst 10 s window)', `${worstLoop} ms`);
  line('hall memory: rss peak / heap at end', `${peakRss} MB / ${h.memory.heapMB} MB`);
  line('CPU, cores busy: hall / 4 clients / sender', `${cores.hall.toFixed(2)} / ${cores.clients.toFixed(2)} / ${cores.sender.toFixed(2)}   (this machine has ${availableParallelism()})`);
  line('sender process event-loop delay p99', `${(loop.percentile(99) / 1e6).toFixed(1)} ms`);
  hall.kill('SIGTERM');
  await new Promise((r) => hall.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}

await main();
