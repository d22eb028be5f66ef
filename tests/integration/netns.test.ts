// The WAN, for real: the provincial broker runs on its own host (a network namespace made by this
// test) behind a veth pair. The link is cut for a minute while the hall keeps producing, restored,
// then squeezed with tc tbf. The province's subscriber (inside the namespace, on its loopback, so
// never cut) must receive every message once, in order; decisions must overtake queued positions,
// live positions must not wait behind the backlog, and the squeezed link must read as degraded by
// the bandwidth the hall's own traffic measured.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Link } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { parseTarget } from '../../main/core/link/monitor.ts';
import type { UplinkMessage } from '../../main/core/uplink/sender.ts';
import { MOSQUITTO } from '../helpers/mosquitto.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const tag = String(process.pid % 100000);
const NS = `beacon-bus-${tag}`;
const HOST_IF = `bh${tag}`;
const NS_IF = `bb${tag}`;
// The project's own test hosts, inside the namespace this test makes (and removes).
const HALL_IP = '10.213.7.1';
const BUS_IP = '10.213.7.2';
/** System tools live in sbin, which a minimal PATH (cron, CI) may not include. */
const sbin = (name: string) => ['/usr/sbin/', '/sbin/', '/usr/bin/', '/bin/'].map((d) => d + name).find((p) => existsSync(p)) ?? null;
const IP = sbin('ip');
const TC = sbin('tc');
const ip = (...a: string[]) => execFileSync(IP!, a, { stdio: 'pipe' });
const inNs = (...a: string[]) => ip('netns', 'exec', NS, ...a);

function setupNetwork(): string | null {
  try {
    // Safety first: traffic for the test hosts must never take the default route out of this
    // machine, whatever state the veth is in. The /30 below is more specific and wins while up.
    ip('route', 'add', 'blackhole', '10.213.7.0/24');
    ip('netns', 'add', NS);
    ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
    ip('link', 'set', NS_IF, 'netns', NS);
    ip('addr', 'add', `${HALL_IP}/30`, 'dev', HOST_IF);
    ip('link', 'set', HOST_IF, 'up');
    inNs('ip', 'addr', 'add', `${BUS_IP}/30`, 'dev', NS_IF);
    inNs('ip', 'link', 'set', NS_IF, 'up');
    inNs('ip', 'link', 'set', 'lo', 'up');
    return null;
  } catch (e) {
    teardownNetwork();
    return (e as Error).message.split('\n')[0]!;
  }
}
function teardownNetwork(): void {
  try {
    ip('netns', 'del', NS);
  } catch {
    /* not there */
  }
  try {
    ip('route', 'del', 'blackhole', '10.213.7.0/24');
  } catch {
    /* not there */
  }
  try {
    ip('link', 'del', HOST_IF);
  } catch {
    /* went with the namespace */
  }
}

const why = !existsSync(MOSQUITTO) || !sbin('mosquitto_sub') ? 'no mosquitto / mosquitto_sub' : !IP || !TC ? 'no ip/tc (iproute2)' : setupNetwork();
if (why) console.log(`netns test: skipped: ${why} (a TCP fault proxy would stand in; see the issue note)`);

describe.skipIf(why !== null)('the WAN to the provincial bus, cut and squeezed (network namespace, veth, tc)', () => {
  const dir = tempDir();
  const procs: ChildProcess[] = [];
  let core: HallCore | null = null;
  afterAll(async () => {
    await core?.dispose();
    for (const p of procs) p.kill('SIGKILL');
    teardownNetwork();
  });

  it('loses nothing through a one-minute cut, delivers once and in order, and puts decisions first', async () => {
    const bdir = join(dir, 'broker');
    mkdirSync(bdir);
    writeFileSync(join(bdir, 'm.conf'), ['listener 1883 0.0.0.0', 'allow_anonymous true', 'user root', 'max_queued_messages 100000', ''].join('\n'));
    const broker = spawn(IP!, ['netns', 'exec', NS, MOSQUITTO, '-c', join(bdir, 'm.conf')], { stdio: 'ignore' });
    procs.push(broker);
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((r) => {
        const c = connect(1883, BUS_IP);
        c.once('connect', () => (c.destroy(), r(true)));
        c.once('error', () => r(false));
      });
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // The province: on the broker's own host, so the cut never touches it.
    const sub = spawn(IP!, ['netns', 'exec', NS, 'mosquitto_sub', '-h', '127.0.0.1', '-p', '1883', '-q', '1', '-i', 'province', '-t', 'beacon/330000/up/#'], { stdio: ['ignore', 'pipe', 'ignore'] });
    procs.push(sub);
    const arrivals: UplinkMessage[] = [];
    const arrivedAt = new Map<number, number>();
    let buf = '';
    sub.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const lineText = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!lineText.trim()) continue;
        const m = JSON.parse(lineText) as UplinkMessage;
        if (!('key' in m)) continue; // the hall's heartbeat (beacon/330000/up/heartbeat), not an uplink item
        arrivals.push(m);
        if (!arrivedAt.has(m.event.id)) arrivedAt.set(m.event.id, Date.now());
      }
    });
    await new Promise((r) => setTimeout(r, 500));

    core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      hub: { tickMs: 20 },
      // Probed in MQTT over the same veth (a PINGREQ per probe on one connection).
      link: { targets: [parseTarget(`mqtt://${BUS_IP}:1883`, 'province-bus')] },
      uplink: { url: `mqtt://${BUS_IP}:1883`, hallId: '330000', reconnectMs: 500 },
    });
    const c = core;
    const wan = () => (c.hub.flush(), (c.hub.items('link') as Link[]).find((l) => l.id === 'wan')!.state);
    await until('WAN online', () => wan() === 'online', 10_000);
    const teams = c
      .all<{ id: string; kind: string }>('units')
      .filter((u) => u.kind !== 'depot')
      .map((u) => u.id);
    let n = 0;
    const produce = () => {
      const id = teams[n % teams.length]!;
      n++;
      if (n % 10 === 0) return c.record('unit.status', `unit:${id}`, { id, status: n % 20 ? 'en-route' : 'on-site', at: Date.now() }, 'test');
      return c.record('unit.moved', `unit:${id}`, { id, lat: 28 + (n % 300) / 100, lon: 120.5, alt: null, at: Date.now() }, 'test');
    };

    // Live for a few seconds, then cut the cable for a minute while the hall keeps producing.
    const producer = setInterval(() => void produce(), 100);
    await new Promise((r) => setTimeout(r, 3000));
    const cutAt = Date.now();
    // The cable is pulled at the far end: no reset, no error, packets simply vanish.
    inNs('ip', 'link', 'set', NS_IF, 'down');
    const detectMs = await until('WAN offline', () => wan() === 'offline', 10_000);
    await new Promise((r) => setTimeout(r, 60_000 - (Date.now() - cutAt)));
    const depthAtRestore = (await c.store.api.outboxStats()).depth;
    inNs('ip', 'link', 'set', NS_IF, 'up');
    const restoredAt = Date.now();
    await until('WAN online again', () => wan() === 'online', 10_000);
    clearInterval(producer);
    const produced = n;
    await until('every message delivered', () => new Set(arrivals.map((m) => m.key)).size >= produced, 60_000);
    const drainMs = Date.now() - restoredAt;

    const applied = new Map<string, UplinkMessage>();
    for (const m of arrivals) if (!applied.has(m.key)) applied.set(m.key, m);
    expect(applied.size).toBe(produced); // none lost
    // In order: decisions strictly; positions within each stream (the backlog, and the live
    // positions that the drain lets through ahead of it).
    for (const [cat, live] of [
      ['decisions', false],
      ['positions', false],
      ['positions', true],
    ] as const) {
      const seqs = [...applied.values()].filter((m) => m.category === cat && !!m.live === live).map((m) => m.seq);
      expect(seqs, `${cat}${live ? ' (live)' : ''} in order`).toEqual([...seqs].sort((a, b) => a - b));
    }
    expect([...applied.values()].filter((m) => m.category === 'decisions' && m.live)).toEqual([]);
    expect(depthAtRestore).toBeGreaterThan(300);

    // Squeeze the link (hall -> bus) and queue positions, then decisions: the decisions overtake
    // every position still waiting in the outbox (only the in-flight window is ahead of them).
    inNs('ip', 'link', 'set', NS_IF, 'down');
    await until('WAN offline for the squeeze setup', () => wan() === 'offline', 10_000);
    const positionsFirst: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      const id = teams[i % teams.length]!;
      positionsFirst.push(c.record('unit.moved', `unit:${id}`, { id, lat: 27 + i / 1000, lon: 121, alt: null, at: Date.now() }, 'test'));
    }
    await Promise.all(positionsFirst);
    const decisionIds: number[] = [];
    for (let i = 0; i < 5; i++) decisionIds.push((await c.record('unit.status', `unit:${teams[i]}`, { id: teams[i]!, status: 'on-site', at: Date.now() }, 'test'))!);
    execFileSync(TC!, ['qdisc', 'add', 'dev', HOST_IF, 'root', 'tbf', 'rate', '256kbit', 'burst', '4kb', 'latency', '2s']);
    inNs('ip', 'link', 'set', NS_IF, 'up');
    const before = arrivals.length;
    const squeezedAt = Date.now();
    // While the squeezed backlog drains, teams keep moving: 5 live positions a second.
    const liveSent = new Map<number, number>();
    let live = 0;
    const liveProducer = setInterval(() => {
      const id = teams[teams.length - 1 - (live++ % 20)]!;
      const sent = Date.now();
      void c.record('unit.moved', `unit:${id}`, { id, lat: 29 + live / 1000, lon: 122, alt: null, at: sent }, 'test').then((ev) => ev && liveSent.set(ev, sent));
    }, 200);
    const wanSeen = new Set<string>();
    const watch = setInterval(() => wanSeen.add(wan()), 100);
    await until('squeezed backlog delivered', () => new Set(arrivals.map((m) => m.key)).size >= produced + 405, 90_000);
    const squeezeDrainMs = Date.now() - squeezedAt;
    clearInterval(liveProducer);
    await until('the last live positions', () => [...liveSent.keys()].every((ev) => arrivedAt.has(ev)), 30_000);
    clearInterval(watch);
    const kbps = c.stats().uplink!.kbpsUnderLoad;
    execFileSync(TC!, ['qdisc', 'del', 'dev', HOST_IF, 'root']);
    const order = arrivals.slice(before).filter((m, i, all) => all.findIndex((x) => x.key === m.key) === i);
    const lastDecision = Math.max(...decisionIds.map((id) => order.findIndex((m) => m.event.id === id)));
    const positionsAfter = order.slice(lastDecision + 1).filter((m) => m.category === 'positions').length;
    expect(positionsAfter).toBeGreaterThan(400 - 64 - 1 - 50); // all but the in-flight window (and slack for the restart race)
    // Live positions did not queue behind the backlog: sent during the drain, they arrived in a
    // fraction of it.
    const latencies = [...liveSent].map(([ev, sent]) => arrivedAt.get(ev)! - sent).sort((a, b) => a - b);
    const liveMedian = latencies[Math.floor(latencies.length / 2)]!;
    expect(latencies.length).toBeGreaterThan(5);
    expect(liveMedian).toBeLessThan(squeezeDrainMs / 2);
    // The bandwidth the hall measured from its own traffic is the shaper's 256 kbit/s (payload and
    // MQTT headers; TCP/IP overhead is what is missing), and the WAN read as degraded.
    expect(kbps).not.toBeNull();
    expect(kbps!).toBeGreaterThan(120);
    expect(kbps!).toBeLessThan(300);
    expect(wanSeen.has('degraded'), `WAN states seen while squeezed: ${[...wanSeen].join(', ')}`).toBe(true);

    const dups = arrivals.length - new Set(arrivals.map((m) => m.key)).size;
    console.log(
      `netns: WAN cut detected in ${detectMs} ms; ${depthAtRestore} queued after 60 s cut; ${produced} produced, all delivered once (${dups} wire duplicates dropped by key), ` +
        `backlog drained ${drainMs} ms after restore; under tbf 256 kbit the 5 decisions overtook ${positionsAfter} of 400 queued positions, ` +
        `the squeezed drain took ${squeezeDrainMs} ms while live positions arrived in ${liveMedian} ms (median, ${latencies.length} sent), ` +
        `measured ${Math.round(kbps!)} kbit/s under load, WAN seen ${[...wanSeen].join('/')}`,
    );
    expect(detectMs).toBeLessThan(2000);
  }, 240_000);
});
