// npm run bench:network — the province hall under the whole network's traffic (issue 20).
// Not a test: it prints figures (and the goal beside each), it fails on nothing.
//
// The province hall runs as `beacon serve --province <bus> --hall-id 330000` in its own process,
// with its own 20,000 positions/s of local feeds (`beacon simulate`'s drones and teams, as
// bench:ingest). This process plays the 101 city and county halls with a load generator that speaks
// the documented uplink protocol (docs/protocol.md): one MQTT connection per hall, each with:
//
// - a heartbeat every second;
// - its roster at start (20 teams);
// - an incident about every minute and a call log about every 30 s;
// - a risk set about every 2 minutes;
// - team positions, thinned as a hall's uplink sends them: each team every 10 s.
//
// A display (a hub client, as the board and the globe are) records when each incident, call and
// position appears. Reported: a child's publish → the province's display, p50/p99/max, for decisions
// and for the children's team positions; what was lost; the hall's CPU, memory and event loop; and
// the local feeds' positions → the display, first for BASELINE_S seconds with the local feeds alone
// (the hall as it is today), then under the network's traffic too, so their ratio says whether any
// display update became slower (one in 50 local units is timed, every child position).
//
// BENCH_SECONDS (default 60), BENCH_LOCAL (1: the 20,000/s local feeds; 0: network traffic alone).
import mqtt from 'mqtt';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Incident } from '../../common/domain.ts';
import { CITIES, COUNTIES } from '../../main/core/scenario/zhejiang-places.ts';
import { Simulator } from '../../main/core/feeds/simulate.ts';
import { HubClient } from '../../renderer/hub/client.ts';
import { WebSocketTransport } from '../../renderer/hub/transport.ts';
import { Broker, freePort } from '../helpers/mosquitto.ts';
import { startHallProcess } from './hall-process.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const LOCAL = process.env.BENCH_LOCAL !== '0';
const TEAMS_PER_HALL = 20;
const WARMUP_S = 10;
const BASELINE_S = Number(process.env.BENCH_BASELINE ?? 20);
const line = (k: string, v: string) => console.log(`  ${k.padEnd(50)} ${v}`);
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]! : NaN);
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-network-'));
  const broker = new Broker(await freePort(), join(dir, 'bus'));
  await broker.start();
  const mav = await freePort();
  const cot = await freePort();
  const { hall, url, token } = await startHallProcess([
    '--data',
    join(dir, 'hall'),
    '--port',
    '0',
    '--province',
    broker.url,
    '--hall-id',
    '330000',
    '--feed',
    `mavlink-udp:host=127.0.0.1,port=${mav}`,
    '--feed',
    `cot-tcp:host=127.0.0.1,port=${cot}`,
  ]);
  const health = async () =>
    (await (await fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      memory: { rssMB: number; heapMB: number };
      eventLoop: { p99Ms: number; maxMs: number };
      network?: { heartbeats: number; applied: number; positions: number; duplicates: number; refused: Record<string, number>; notYet: number };
      feeds: { positions: number };
    };

  // The display: incidents and calls as the board sees them
  const display = new HubClient(new WebSocketTransport(`${url.replace('http', 'ws')}/hub?token=${token}`), { client: 'bench-display' });
  const seen = new Map<string, number>();
  for (const topic of ['incidents', 'calls'] as const)
    display.subscribe(topic, (e) => {
      if (e.kind !== 'delta') return;
      const now = Date.now();
      for (const op of e.ops) if (op.op === 'put' && op.id.includes('/') && !seen.has(op.id)) seen.set(op.id, now);
    });
  // Positions timed: where each timed unit was sent to, and when; matched by value on the display
  // (a position superseded within a tick is not lost: the next one matched covers it)
  const timed = new Map<string, { lat: number; lon: number; at: number }[]>();
  const sentTo = (id: string, lat: number, lon: number, at: number) => {
    let l = timed.get(id);
    if (!l) timed.set(id, (l = []));
    l.push({ lat, lon, at });
    if (l.length > 64) l.splice(0, l.length - 64);
  };
  const positions = { local: { base: [] as number[], net: [] as number[] }, child: [] as number[] };
  let phase: 'warmup' | 'base' | 'net' = 'warmup';
  display.subscribe('units', (e) => {
    if (e.kind !== 'delta') return;
    const now = Date.now();
    for (const op of e.ops) {
      if (op.op !== 'put') continue;
      const l = timed.get(op.id);
      if (!l) continue;
      const u = op.value as { lat: number; lon: number };
      const k = l.findIndex((x) => x.lat === u.lat && x.lon === u.lon);
      if (k < 0) continue;
      const ms = now - l[k]!.at;
      if (op.id.includes('/')) positions.child.push(ms);
      else if (phase !== 'warmup') positions.local[phase].push(ms);
      l.splice(0, k + 1);
    }
  });
  while (display.state !== 'open') await new Promise((r) => setTimeout(r, 20));

  // the local feeds: one unit in 50 timed (its source's hash)
  const unitOf = (source: string) => (/^\d+$/.test(source) ? `mavlink-udp-${source}` : `cot-tcp-${source}`);
  const probe = (source: string) => {
    let h = 0;
    for (let i = 0; i < source.length; i++) h = (h * 31 + source.charCodeAt(i)) | 0;
    return (h >>> 0) % 50 === 0;
  };
  const sim = LOCAL
    ? new Simulator({
        drones: 200,
        droneHz: 10,
        mavlinkPort: mav,
        teams: 18000,
        teamHz: 1,
        cotPort: cot,
        cotConnections: 16,
        onSend: (source, la, lo, at) => {
          if (probe(source)) sentTo(unitOf(source), la, lo, at);
        },
      })
    : null;
  await sim?.start();
  if (sim) {
    console.log(`\nthe local feeds alone: ${WARMUP_S} s warm-up, then ${BASELINE_S} s timed (the baseline)`);
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    phase = 'base';
    await new Promise((r) => setTimeout(r, BASELINE_S * 1000));
  }
  phase = 'net';

  // The 101 halls below
  const codes = [...CITIES.map((c) => c.code), ...COUNTIES.map((c) => c.code)];
  const sent = new Map<string, number>();
  let published = 0;
  let childPositions = 0;
  const halls = await Promise.all(
    codes.map(async (code, i) => {
      const c = await mqtt.connectAsync(broker.url, { clientId: `bench-hall-${code}`, protocolVersion: 5, reconnectPeriod: 500 });
      let seq = 0;
      let id = 1000;
      const up = (category: string, kind: string, payload: unknown) => {
        seq += 1;
        published += 1;
        return c.publishAsync(
          `beacon/${code}/up/${category}`,
          JSON.stringify({ v: 1, hall: code, key: `${code}:${++id}`, seq, category, event: { id, ts: Date.now(), kind, subject: kind, payload, origin: 'bench' } }),
          { qos: 1 },
        );
      };
      const teams = Array.from({ length: TEAMS_PER_HALL }, (_, n) => ({
        id: `team-${code}-${n}`,
        kind: 'professional',
        name: { zh: `${code}队${n}`, en: `${code} team ${n}` },
        home: `${code.slice(0, 4)}00`,
        lat: 28 + (i % 20) * 0.1,
        lon: 120 + n * 0.01,
        alt: null,
        status: 'standby',
        members: 12,
        stock: null,
        updated: Date.now(),
        demo: false,
      }));
      await up('units', 'unit.roster', { units: teams });
      return { code, i, c, up, teams };
    }),
  );
  const t0 = Date.now();
  const end = t0 + SECONDS * 1000;
  const cpu0 = cpuSeconds(hall.pid!);
  let tick = 0;
  let n = 0;
  const timer = setInterval(() => {
    tick += 1; // every 100 ms
    for (const h of halls) {
      const phase = (tick + h.i * 6) % 600; // the halls' minutes spread over the minute
      if ((tick + h.i) % 10 === 0) {
        published += 1;
        void h.c.publishAsync(`beacon/${h.code}/up/heartbeat`, JSON.stringify({ v: 1, hall: h.code, at: Date.now(), wan: 'online', outbox: { depth: 0, oldest: null }, responseLevel: null }), {
          qos: 0,
        });
      }
      if (phase === 0) {
        const inc: Incident = {
          id: `inc-${++n}`,
          kind: 'flood',
          title: `内涝 ${n}`,
          severity: 'IV',
          lat: 28.8,
          lon: 121.1,
          county: null,
          status: 'open',
          reportedBy: h.code,
          reportedAt: Date.now(),
          closedAt: null,
          closedBy: null,
          demo: false,
        };
        sent.set(`${h.code}/${inc.id}`, Date.now());
        void h.up('incidents', 'incident.reported', { incident: inc });
      }
      if (phase === 300 || phase === 0) {
        const call = {
          id: `call-${++n}`,
          contact: `county-${h.code}`,
          name: { zh: h.code, en: h.code },
          code: h.code,
          consultation: null,
          by: '值班员',
          state: 'ended',
          channel: 'voip',
          attempts: [],
          startedAt: Date.now(),
          answeredAt: Date.now(),
          endedAt: Date.now(),
          duration: 30,
          endedBy: 'local',
        };
        sent.set(`${h.code}/${call.id}`, Date.now());
        void h.up('calls', 'call.logged', { call });
      }
      // each team every 10 s: 2 positions a second per hall
      if (tick % 5 === h.i % 5) {
        const t = h.teams[((tick / 5 + h.i) % TEAMS_PER_HALL) | 0]!;
        const lat = t.lat + Math.random() * 0.01;
        sentTo(`${h.code}/${t.id}`, lat, t.lon, Date.now());
        childPositions += 1;
        void h.up('positions', 'unit.moved', { id: t.id, lat, lon: t.lon, alt: null, at: Date.now() });
      }
    }
    if (Date.now() >= end) clearInterval(timer);
  }, 100);
  while (Date.now() < end + 3000) await new Promise((r) => setTimeout(r, 500));
  const cpu = (cpuSeconds(hall.pid!) - cpu0) / ((Date.now() - t0) / 1000);
  const h = await health();
  const lat: number[] = [];
  let lost = 0;
  for (const [id, at] of sent) {
    const got = seen.get(id);
    if (got === undefined) lost += 1;
    else lat.push(got - at);
  }
  console.log(`\nbench:network — the province hall, 101 halls below on its bus${LOCAL ? ', beside 20,000 local positions/s' : ''}; ${SECONDS} s`);
  line('messages from the halls below (all kinds)', `${published} (${Math.round(published / SECONDS)}/s)`);
  line('decisions sent (incidents, calls) / shown / lost', `${sent.size} / ${sent.size - lost} / ${lost}   goal 0 lost`);
  line("decisions: a child's publish → the display, p50", `${pct(lat, 50)} ms`);
  line('decisions, p99', `${pct(lat, 99)} ms   goal < 1000 ms`);
  line('decisions, max', `${Math.max(...lat)} ms`);
  // the first seconds carry every hall's roster at once (101 × 20 units): a province restart's burst
  const steady = [...sent].filter(([, at]) => at - t0 >= 5000).map(([id, at]) => (seen.get(id) ?? Infinity) - at);
  line('decisions after the first 5 s (the rosters), p99', `${pct(steady, 99)} ms   goal < 1000 ms`);
  const worst = [...sent]
    .map(([id, at]) => ({ at: at - t0, ms: (seen.get(id) ?? NaN) - at }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 5);
  line('the slowest (s into the run: ms)', worst.map((w) => `${(w.at / 1000).toFixed(1)}: ${w.ms}`).join(', '));
  line("children's positions sent / shown", `${childPositions} / ${positions.child.length}`);
  line("children's positions: publish → display p50/p99/max", `${pct(positions.child, 50)} / ${pct(positions.child, 99)} / ${Math.max(...positions.child)} ms   goal < 1000 ms`);
  if (LOCAL) {
    const [b, n] = [pct(positions.local.base, 99), pct(positions.local.net, 99)];
    line('local positions → display p50/p99: feeds alone', `${pct(positions.local.base, 50)} / ${b} ms   (${positions.local.base.length} timed)`);
    line('  with the network too', `${pct(positions.local.net, 50)} / ${n} ms   (${positions.local.net.length} timed)`);
    line('  p99 with the network ÷ alone', `${(n / b).toFixed(2)}   goal: no slower (≈ 1; this machine varies up to 2×)`);
  }
  line(
    'network desk: heartbeats / applied / positions / duplicates',
    `${h.network?.heartbeats} / ${h.network?.applied} / ${h.network?.positions} / ${h.network?.duplicates}   refused ${JSON.stringify(h.network?.refused ?? {})}`,
  );
  if (LOCAL) line('local feed positions accepted (whole run)', `${h.feeds.positions}`);
  line('hall CPU (cores busy) / rss / heap', `${cpu.toFixed(2)} / ${h.memory.rssMB} MB / ${h.memory.heapMB} MB`);
  line('hall event-loop delay p99 / max', `${h.eventLoop.p99Ms} / ${h.eventLoop.maxMs} ms`);
  await sim?.stop();
  display.dispose();
  for (const x of halls) await x.c.endAsync(true);
  hall.kill('SIGTERM');
  await new Promise((r) => hall.once('exit', r));
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
