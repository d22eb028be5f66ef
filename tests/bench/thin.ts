// npm run bench:thin — a remote console behind a thin link (issue 23). Not a test: it prints figures
// and the goal beside each; it fails on nothing. Needs root (a network namespace, tc).
//
// The hall runs as `beacon serve` on the host's end of a veth pair; `beacon simulate`'s teams report
// over CoT TCP at 1 Hz on loopback (unshaped). A console (thin-console.ts: the renderer's hub client
// over a WebSocket) runs inside the namespace, behind `tc tbf` at the link's rate in both directions.
// Every few seconds a duty officer's console on the host (unshaped) reports an incident: a decision,
// timed from the report to the thin console's picture.
//
// Each case runs twice in the same run: "today" is the hall of BENCH_BASELINE (the commit before
// issue 23; checked out beside this one) with a display as it was then; "new" is this checkout with a
// display that acknowledges and reads binary moves. Figures, per case:
//   delivered age   how old each position was when it reached the console (receipt − send)
//   picture lag     sampled once a second per unit: how long the console has been missing a newer
//                   position of that unit (0 when it shows the latest)
//   moves received  positions the console received / positions sent in the window
//   disconnects     the console's reconnects
//   bytes per move  bytes on the link (tc's count, with TCP/IP) / positions received
//   hall memory     the hall's heap with the console connected, less before; changes held for it
//   decisions       an incident's report → the console's picture
//
// BENCH_SECONDS (60), BENCH_WARMUP (15: the console's snapshot arrives), BENCH_UNITS ("2000,20000"),
// BENCH_RATES ("1mbit,256kbit"), BENCH_BASELINE (711d822), BENCH_ONLY ("new" or "today").
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Simulator } from '../../main/core/feeds/simulate.ts';
import { Hub } from '../../main/core/hub/hub.ts';
import { packageRoot } from '../../main/core/paths.ts';
import { openThinLink, thinLinkUnavailable, type ThinLink } from '../helpers/thin-link.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { startHallProcess } from './hall-process.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 15);
const UNITS = (process.env.BENCH_UNITS ?? '2000,20000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const RATES = (process.env.BENCH_RATES ?? '1mbit,256kbit').split(',');
const BASELINE = process.env.BENCH_BASELINE ?? '711d822';
const VERSIONS = (process.env.BENCH_ONLY ?? 'today,new').split(',') as ('today' | 'new')[];
const DECISION_EVERY_MS = 3000;

type Version = 'today' | 'new';
interface Result {
  delivered: number[];
  lag: number[];
  received: number;
  sentInWindow: number;
  disconnects: number;
  bytesPerMove: number;
  bytesPerSecond: number;
  joinS: number;
  heapDeltaMB: number;
  rssMB: number;
  waiting: number | null;
  decisions: number[];
  decisionsSent: number;
  shownLag: number[];
}

const q = (a: number[], p: number) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function baselineCheckout(): string {
  const root = packageRoot();
  const dir = join(tmpdir(), `beacon-baseline-${BASELINE}`);
  if (!existsSync(join(dir, 'main', 'cli.ts'))) {
    rmSync(dir, { recursive: true, force: true });
    execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', '--force', dir, BASELINE], { stdio: 'pipe' });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  }
  return dir;
}

/** Per unit: positions sent (lat, lon, time), in order. */
class Sends {
  readonly byUnit = new Map<string, { lat: number[]; lon: number[]; at: number[] }>();
  add(unit: string, lat: number, lon: number, at: number): void {
    let u = this.byUnit.get(unit);
    if (!u) this.byUnit.set(unit, (u = { lat: [], lon: [], at: [] }));
    u.lat.push(lat);
    u.lon.push(lon);
    u.at.push(at);
  }
}

interface ConsoleRecord {
  names: string[];
  n: number;
  sn: number;
  incidents: { title: string; t: number }[];
  lags: number[];
  states: string[];
  counters: Record<string, number>;
  rec: { unit: Int32Array; lat: Float64Array; lon: Float64Array; t: Float64Array };
  samp: { unit: Int32Array; lat: Float64Array; lon: Float64Array; t: Float64Array };
}
function readConsole(file: string): ConsoleRecord {
  const buf = readFileSync(file);
  const nl = buf.indexOf(10);
  const head = JSON.parse(buf.subarray(0, nl).toString()) as Omit<ConsoleRecord, 'rec' | 'samp'>;
  let off = nl + 1;
  const take = <T>(C: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, n: number): T => {
    const b = new Uint8Array(buf.subarray(off, off + n * C.BYTES_PER_ELEMENT)).buffer;
    off += n * C.BYTES_PER_ELEMENT;
    return new C(b);
  };
  const rec = { unit: take(Int32Array, head.n), lat: take(Float64Array, head.n), lon: take(Float64Array, head.n), t: take(Float64Array, head.n) };
  const samp = { unit: take(Int32Array, head.sn), lat: take(Float64Array, head.sn), lon: take(Float64Array, head.sn), t: take(Float64Array, head.sn) };
  return { ...head, rec, samp };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1.1e-5;

async function runCase(link: ThinLink, units: number, rate: string, version: Version, root: string): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-thin-'));
  const data = join(dir, 'hall');
  const cli = join(root, 'main', 'cli.ts');
  // the token alone on stdout (what it is, on stderr)
  const duty = execFileSync(process.execPath, [cli, 'token', 'add', '--data', data, '--name', 'bench-duty', '--role', 'duty'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const cot = await freePort();
  const { hall, url, token } = await startHallProcess(['--data', data, '--port', '0', '--host', link.hostIp, '--feed', `cot-tcp:host=127.0.0.1,port=${cot}`], [], root);
  const health1 = async () =>
    (await (await fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      memory: { rssMB: number; heapMB: number };
      hub: { waiting?: number };
    };
  // the heap's least over five seconds: what is live, not the garbage 20,000 positions a second leave
  const health = async () => {
    let best = await health1();
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const h = await health1();
      if (h.memory.heapMB < best.memory.heapMB) best = { ...h, hub: best.hub };
    }
    return best;
  };
  const sends = new Sends();
  const sim = new Simulator({ drones: 0, teams: units, teamHz: 1, cotPort: cot, cotConnections: 16, onSend: (source, la, lo, at) => sends.add(`cot-tcp-${source}`, la, lo, at) });
  await sim.start();
  // every team reported once (the hall holds them all) before the console joins
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const t = (await (await fetch(`${url}/api/topics`, { headers: { authorization: `Bearer ${token}` } })).json()) as { topics: { name: string; items: number }[] };
    if ((t.topics.find((x) => x.name === 'units')?.items ?? 0) >= units) break;
  }
  const before = await health();
  link.shape(rate);
  const out = join(dir, 'console.bin');
  const [cmd, args] = link.inNs(process.execPath, join(packageRoot(), 'tests', 'bench', 'thin-console.ts'), `${url.replace('http', 'ws')}/hub?token=${token}`, out, version);
  const consoleProc = spawn(cmd, args, { stdio: ['pipe', 'inherit', 'inherit'] });
  const started = Date.now();

  // the duty officer's console on the host: an incident every few seconds
  const reportedAt = new Map<string, number>();
  const duty_ws = new WebSocket(`${url.replace('http', 'ws')}/hub?token=${duty}`, { origin: url });
  await new Promise((r) => duty_ws.once('open', r));
  duty_ws.send(JSON.stringify({ t: 'hello', v: 1, client: 'bench-duty' }));
  let refused = 0;
  duty_ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as { t: string; ok?: boolean; error?: { message: string } };
    if (m.t === 'result' && !m.ok && refused++ === 0) console.log(`  an incident report was refused: ${m.error?.message}`);
  });
  let k = 0;
  const reporter = setInterval(() => {
    if (Date.now() - started < WARMUP * 1000) return;
    const title = `thin-${++k}`;
    reportedAt.set(title, Date.now());
    duty_ws.send(JSON.stringify({ t: 'cmd', id: String(k), name: 'incident.report', args: { kind: 'flood', title, severity: 'II', lat: 28.6, lon: 121.4 } }));
  }, DECISION_EVERY_MS);

  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const t0 = Date.now();
  const bytes0 = link.bytesDown();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const t1 = Date.now();
  const bytes1 = link.bytesDown();
  const during = await health();
  clearInterval(reporter);
  consoleProc.stdin.write('stop\n');
  await new Promise((r) => consoleProc.once('exit', r));
  duty_ws.close();
  await sim.stop();
  hall.kill('SIGTERM');
  await new Promise((r) => hall.once('exit', r));

  const c = readConsole(out);
  rmSync(dir, { recursive: true, force: true });
  // delivered age: each receipt in the window matched to the send it shows
  const ptr = new Map<number, number>();
  const delivered: number[] = [];
  let received = 0;
  let firstRecord = Infinity;
  for (let i = 0; i < c.n; i++) {
    const t = c.rec.t[i]!;
    firstRecord = Math.min(firstRecord, t);
    const u = sends.byUnit.get(c.names[c.rec.unit[i]!]!);
    if (!u) continue;
    const from = ptr.get(c.rec.unit[i]!) ?? 0;
    for (let k2 = from; k2 < u.at.length && u.at[k2]! <= t; k2++) {
      if (!close(u.lat[k2]!, c.rec.lat[i]!) || !close(u.lon[k2]!, c.rec.lon[i]!)) continue;
      ptr.set(c.rec.unit[i]!, k2 + 1);
      if (t >= t0 && t <= t1) delivered.push(t - u.at[k2]!);
      if (u.at[k2]! >= t0 && u.at[k2]! <= t1) received++;
      break;
    }
  }
  let sentInWindow = 0;
  for (const u of sends.byUnit.values()) for (const a of u.at) if (a >= t0 && a <= t1) sentInWindow++;
  // picture lag: per sample, how long a newer position than the one shown has existed
  const lag: number[] = [];
  for (let i = 0; i < c.sn; i++) {
    const T = c.samp.t[i]!;
    if (T < t0 || T > t1) continue;
    const u = sends.byUnit.get(c.names[c.samp.unit[i]!]!);
    if (!u) continue;
    let k2 = u.at.length - 1;
    while (k2 >= 0 && u.at[k2]! > T) k2--;
    const newest = k2;
    while (k2 >= 0 && !(close(u.lat[k2]!, c.samp.lat[i]!) && close(u.lon[k2]!, c.samp.lon[i]!))) k2--;
    if (k2 < 0) continue;
    lag.push(k2 === newest ? 0 : T - u.at[k2 + 1]!);
  }
  const decisions: number[] = [];
  for (const inc of c.incidents) {
    const at = reportedAt.get(inc.title);
    if (at !== undefined) decisions.push(inc.t - at);
  }
  return {
    delivered,
    lag,
    received,
    sentInWindow,
    disconnects: c.states.filter((s) => s.endsWith('closed')).length,
    bytesPerMove: (bytes1 - bytes0) / Math.max(1, received),
    bytesPerSecond: (bytes1 - bytes0) / ((t1 - t0) / 1000),
    joinS: (firstRecord - started) / 1000,
    heapDeltaMB: during.memory.heapMB - before.memory.heapMB,
    rssMB: during.memory.rssMB,
    waiting: during.hub.waiting ?? null,
    decisions,
    decisionsSent: reportedAt.size,
    shownLag: c.lags.slice(Math.round(WARMUP)),
  };
}

/**
 * What a client that stopped keeping up costs the hall, measured in this process after a full GC
 * (node --expose-gc): a hub with `units` moving units, `clients` sessions that joined and then read
 * nothing (their transport reports 5 MB queued) while every unit moves `rounds` times, against the
 * same hub and moves with none. Each such client holds one note per unit, with the version of the
 * unit it still shows (the worst case: every unit changed since it fell behind).
 */
function memoryPerSlowClient(units: number, clients: number, rounds: number): { perClientMB: number; waiting: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return { perClientMB: NaN, waiting: 0 };
  const run = (n: number) => {
    const hub = new Hub({ tickMs: 3_600_000 });
    const unit = (i: number, r: number) => ({
      id: `cot-tcp-team-${i}`,
      kind: 'rescue',
      name: { zh: `救援${i}队`, en: `Rescue ${i}` },
      home: '331000',
      lat: 28 + i / 1e4 + r / 1e4,
      lon: 121 + r / 1e4,
      alt: null,
      status: 'deployed',
      members: 12,
      stock: null,
      updated: 1_780_000_000_000 + r * 1000,
      demo: false,
      track: { feed: 'cot-tcp', source: `team-${i}`, heading: 90, speed: 2, ce: 5, callsign: null, group: null, seen: 1_780_000_000_000 + r * 1000, staleAt: 0, lostAt: 0, presence: 'live' },
    });
    hub.replace(
      'units',
      Array.from({ length: units }, (_, i) => unit(i, 0)),
    );
    hub.flush();
    for (let c = 0; c < n; c++) {
      const s = hub.connect({ origin: 'bench', send: () => undefined, sendBinary: () => undefined, close: () => undefined, buffered: () => 5 * 1024 * 1024 }, { kind: 'local', name: 'bench' });
      s.receive(JSON.stringify({ t: 'hello', v: 1, client: 'slow', pos: 1 }));
      s.receive(JSON.stringify({ t: 'sub', topic: 'units' }));
    }
    for (let r = 1; r <= rounds; r++) {
      hub.publish(
        'units',
        Array.from({ length: units }, (_, i) => ({ op: 'put' as const, id: `cot-tcp-team-${i}`, value: unit(i, r) })),
      );
      hub.flush();
    }
    gc();
    gc();
    const heap = process.memoryUsage().heapUsed;
    const waiting = hub.stats().waiting;
    hub.dispose();
    return { heap, waiting };
  };
  const none = run(0);
  const some = run(clients);
  return { perClientMB: (some.heap - none.heap) / clients / 1048576, waiting: some.waiting / clients };
}

async function main() {
  for (const rounds of [10, 60]) {
    const m = memoryPerSlowClient(20_000, 4, rounds);
    console.log(`\nhall memory per client that stopped keeping up (20,000 units, each moved ${rounds} times since): ${m.perClientMB.toFixed(1)} MB, ${m.waiting} notes`);
  }
  if (!UNITS.length) return;
  const why = thinLinkUnavailable();
  if (why) {
    console.log(`bench:thin: cannot run here: ${why}`);
    return;
  }
  const baseline = VERSIONS.includes('today') ? baselineCheckout() : '';
  const link = openThinLink(String(process.pid % 10000), 24);
  const cell = (r: Result | undefined, f: (r: Result) => string) => (r ? f(r) : '—');
  try {
    console.log(`\nthin: a console behind tc tbf (both directions), teams over CoT at 1 Hz; ${WARMUP} s to join, then ${SECONDS} s measured`);
    console.log(`  today = the hall of ${BASELINE} with a display as it was; new = this checkout (acknowledgements, binary moves)\n`);
    for (const units of UNITS)
      for (const rate of RATES) {
        const res: Partial<Record<Version, Result>> = {};
        for (const v of VERSIONS) {
          process.stdout.write(`  running ${units} units at ${rate}, ${v}…\n`);
          res[v] = await runCase(link, units, rate, v, v === 'today' ? baseline : packageRoot());
        }
        const rows: [string, (r: Result) => string, string][] = [
          [
            'delivered age p50 / p95 / max (s)',
            (r) => `${(q(r.delivered, 50) / 1000).toFixed(1)} / ${(q(r.delivered, 95) / 1000).toFixed(1)} / ${(q(r.delivered, 100) / 1000).toFixed(1)}`,
            rate === '1mbit' && units >= 20000 ? 'p95 < 2 s' : '',
          ],
          ['picture lag p50 / p95 / max (s)', (r) => `${(q(r.lag, 50) / 1000).toFixed(1)} / ${(q(r.lag, 95) / 1000).toFixed(1)} / ${(q(r.lag, 100) / 1000).toFixed(1)}`, ''],
          ['lag the display shows p50 / max (s)', (r) => `${(q(r.shownLag, 50) / 1000).toFixed(1)} / ${(q(r.shownLag, 100) / 1000).toFixed(1)}`, 'today: none'],
          ['moves received', (r) => `${r.received} of ${r.sentInWindow} (${((100 * r.received) / Math.max(1, r.sentInWindow)).toFixed(0)} %)`, ''],
          ['disconnects', (r) => String(r.disconnects), '0'],
          ['bytes on the link per move received', (r) => r.bytesPerMove.toFixed(1), ''],
          ['link use (kbit/s)', (r) => ((r.bytesPerSecond * 8) / 1000).toFixed(0), ''],
          ['console joined after (s)', (r) => r.joinS.toFixed(1), ''],
          [
            'decisions: report → console p50 / max (s)',
            (r) => `${(q(r.decisions, 50) / 1000).toFixed(2)} / ${(q(r.decisions, 100) / 1000).toFixed(2)} (${r.decisions.length} of ${r.decisionsSent})`,
            rate === '256kbit' ? '< 1 s' : '',
          ],
          ['hall heap, console on − before (MB)', (r) => `${r.heapDeltaMB}`, ''],
          ['changes held for the console (≤ units)', (r) => (r.waiting === null ? '—' : String(r.waiting)), ''],
          ['hall rss (MB)', (r) => String(r.rssMB), ''],
        ];
        console.log(`\n  ${units} units at ${rate}`.padEnd(48) + 'today'.padEnd(30) + 'new'.padEnd(30) + 'goal');
        for (const [name, f, goal] of rows) console.log(`    ${name.padEnd(44)}${cell(res.today, f).padEnd(30)}${cell(res.new, f).padEnd(30)}${goal}`);
        console.log('');
      }
  } finally {
    link.close();
  }
}

await main();
