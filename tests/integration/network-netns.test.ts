// The hall network's proof (issue 20) on real links: province 330000, Taizhou 331000 and Linhai
// 331082, each hall's bus (mosquitto) on a host of its own (a network namespace this test makes), the
// county's bus bridged to the city's and the city's to the province's over veth pairs, as a real
// deployment bridges them. Each hall reaches its own bus over a link of its own (never cut). The
// Linhai–Taizhou link is cut for 60 s (the veth taken down: no reset, as a cable pulled) while both
// halls keep working: the province must show Linhai silent within 5 s with its last-known state, and
// everything queued on both sides must arrive once, in order, after the link returns.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HallNode, Incident, Instruction, Order } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { MOSQUITTO } from '../helpers/mosquitto.ts';
import { portClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const tag = String(process.pid % 10000);
const sbin = (name: string) => ['/usr/sbin/', '/sbin/', '/usr/bin/', '/bin/'].map((d) => d + name).find((p) => existsSync(p)) ?? null;
const IP = sbin('ip');
const ip = (...a: string[]) => execFileSync(IP!, a, { stdio: 'pipe' });
const NET = '10.214.0.0/16';
/** The three hosts, each with its link to this machine (where the halls run) and its bus's address there. */
const HOSTS = [
  { code: '330000', ns: `bn-p-${tag}`, hallIp: '10.214.1.1', busIp: '10.214.1.2' },
  { code: '331000', ns: `bn-c-${tag}`, hallIp: '10.214.2.1', busIp: '10.214.2.2' },
  { code: '331082', ns: `bn-x-${tag}`, hallIp: '10.214.3.1', busIp: '10.214.3.2' },
] as const;
/** The bus-to-bus links: county–city (the one cut) and city–province. */
const LINKS = [
  { a: 2, b: 1, aIp: '10.214.9.2', bIp: '10.214.9.1', aIf: `bxc${tag}`, bIf: `bcx${tag}` },
  { a: 1, b: 0, aIp: '10.214.9.6', bIp: '10.214.9.5', aIf: `bcp${tag}`, bIf: `bpc${tag}` },
] as const;
const inNs = (i: number, ...a: string[]) => ip('netns', 'exec', HOSTS[i]!.ns, ...a);

function setup(): string | null {
  try {
    // traffic for the test hosts never takes the default route out of this machine
    ip('route', 'add', 'blackhole', NET);
    HOSTS.forEach((h, i) => {
      ip('netns', 'add', h.ns);
      inNs(i, 'ip', 'link', 'set', 'lo', 'up');
      ip('link', 'add', `bh${i}${tag}`, 'type', 'veth', 'peer', 'name', `bb${i}${tag}`);
      ip('link', 'set', `bb${i}${tag}`, 'netns', h.ns);
      ip('addr', 'add', `${h.hallIp}/30`, 'dev', `bh${i}${tag}`);
      ip('link', 'set', `bh${i}${tag}`, 'up');
      inNs(i, 'ip', 'addr', 'add', `${h.busIp}/30`, 'dev', `bb${i}${tag}`);
      inNs(i, 'ip', 'link', 'set', `bb${i}${tag}`, 'up');
    });
    for (const l of LINKS) {
      ip('link', 'add', l.aIf, 'type', 'veth', 'peer', 'name', l.bIf);
      ip('link', 'set', l.aIf, 'netns', HOSTS[l.a].ns);
      ip('link', 'set', l.bIf, 'netns', HOSTS[l.b].ns);
      inNs(l.a, 'ip', 'addr', 'add', `${l.aIp}/30`, 'dev', l.aIf);
      inNs(l.b, 'ip', 'addr', 'add', `${l.bIp}/30`, 'dev', l.bIf);
      inNs(l.a, 'ip', 'link', 'set', l.aIf, 'up');
      inNs(l.b, 'ip', 'link', 'set', l.bIf, 'up');
    }
    return null;
  } catch (e) {
    teardown();
    return (e as Error).message.split('\n')[0]!;
  }
}
function teardown(): void {
  for (const h of HOSTS) {
    try {
      ip('netns', 'del', h.ns);
    } catch {
      /* not there */
    }
  }
  HOSTS.forEach((_, i) => {
    try {
      ip('link', 'del', `bh${i}${tag}`);
    } catch {
      /* went with its namespace */
    }
  });
  try {
    ip('route', 'del', 'blackhole', NET);
  } catch {
    /* not there */
  }
}

const why = !existsSync(MOSQUITTO) ? 'no mosquitto' : !IP ? 'no ip (iproute2)' : setup();
if (why) console.log(`network netns test: skipped: ${why}`);

describe.skipIf(why !== null)('three halls, three hosts, bridged buses; the Linhai–Taizhou link cut for 60 s', () => {
  const dir = tempDir();
  const procs: ChildProcess[] = [];
  const halls: Record<string, HallCore> = {};
  afterAll(async () => {
    for (const h of Object.values(halls)) await h.dispose();
    for (const p of procs) p.kill('SIGKILL');
    teardown();
  });

  it('Linhai is silent at the province within 5 s of the cut, with what it last said; after 60 s everything queued on both sides arrives once, in order', async () => {
    // the buses: each listens on its host; the county's bridges to the city's, the city's to the province's
    const bridge = (i: number) => {
      if (i === 2) return ['connection bridge-331082', `address ${LINKS[0].bIp}:1883`, 'topic beacon/331082/up/# out 1', 'topic beacon/331082/down/# in 1'];
      if (i === 1) return ['connection bridge-331000', `address ${LINKS[1].bIp}:1883`, 'topic beacon/+/up/# out 1', 'topic beacon/+/down/# in 1'];
      return [];
    };
    for (let i = 0; i < 3; i++) {
      const d = join(dir, `bus-${HOSTS[i]!.code}`);
      mkdirSync(d, { recursive: true });
      const extra = bridge(i);
      writeFileSync(
        join(d, 'm.conf'),
        [
          'listener 1883 0.0.0.0',
          'allow_anonymous true',
          'user root',
          'max_queued_messages 100000',
          ...(extra.length ? [...extra, `remote_clientid ${extra[0]!.split(' ')[1]}`, 'cleansession false', 'keepalive_interval 2', 'restart_timeout 1 2'] : []),
          '',
        ].join('\n'),
      );
      procs.push(spawn(IP!, ['netns', 'exec', HOSTS[i]!.ns, MOSQUITTO, '-c', join(d, 'm.conf')], { stdio: 'ignore' }));
    }
    for (const h of HOSTS) {
      await until(
        `bus ${h.code}`,
        () =>
          new Promise<boolean>((r) => {
            const c = connect(1883, h.busIp);
            c.once('connect', () => (c.destroy(), r(true)));
            c.once('error', () => r(false));
          }),
        10_000,
      );
    }
    for (const h of HOSTS)
      halls[h.code] = await HallCore.start({
        dataDir: join(dir, h.code),
        uplink: { url: `mqtt://${h.busIp}:1883`, hallId: h.code, reconnectMs: 200, keepaliveSeconds: 2 },
        network: { hallId: h.code },
      });
    const node = (at: string, code: string) => halls[at]!.hub.get('halls', code) as HallNode | undefined;
    await until('Linhai heard at the province', () => node('330000', '331082')?.state === 'online' && node('330000', '331082')?.wan != null, 20_000);

    // cut the Linhai–Taizhou cable; both halls keep working
    inNs(2, 'ip', 'link', 'set', LINKS[0].aIf, 'down');
    const cutAt = Date.now();
    await until('Linhai silent at the province', () => node('330000', '331082')?.state === 'silent', 10_000);
    const silentMs = Date.now() - cutAt;
    expect(silentMs).toBeLessThan(5000);
    expect(node('330000', '331082')).toMatchObject({ wan: expect.any(String), detail: expect.stringMatching(/nothing heard for \d+ s; last: WAN/) });
    expect(node('330000', '331000')?.state).toBe('online');
    const linhai = portClient(halls['331082']!, 'window:board', '临海值班员');
    const taizhou = portClient(halls['331000']!, 'window:board', '台州值班长');
    const reported: string[] = [];
    const orders: string[] = [];
    for (let k = 1; k <= 3; k++) {
      reported.push((await linhai.cmd<{ id: string }>('incident.report', { kind: 'flood', title: `断链期间灾情 ${k}`, severity: 'IV', lat: 28.85, lon: 121.1 })).id);
      orders.push((await taizhou.cmd<{ id: string }>('order.send', { text: `断链期间指令 ${k}`, priority: 'normal', to: { hall: '331082' } })).id);
      await new Promise((r) => setTimeout(r, 2000));
    }
    await new Promise((r) => setTimeout(r, 60_000 - (Date.now() - cutAt)));
    expect(halls['330000']!.hub.get('incidents', `331082/${reported[0]}`)).toBeUndefined();
    expect(halls['331082']!.hub.get('instructions', `331000:${orders[0]}`)).toBeUndefined();
    inNs(2, 'ip', 'link', 'set', LINKS[0].aIf, 'up');
    const restoredAt = Date.now();

    // both ways, once and in order
    await until('the incidents at the province', () => reported.every((id) => halls['330000']!.hub.get('incidents', `331082/${id}`) !== undefined), 30_000);
    await until('the instructions at Linhai', () => orders.every((id) => halls['331082']!.hub.get('instructions', `331000:${id}`) !== undefined), 30_000);
    await until('receipts at Taizhou', () => orders.every((id) => (halls['331000']!.hub.get('orders', id) as Order).receipts['331082']!.delivered !== null), 30_000);
    await until('Linhai online again', () => node('330000', '331082')?.state === 'online', 10_000);
    const drained = Date.now() - restoredAt;
    const provJournal = (await halls['330000']!.store.api.readJournal(0, 1_000_000)).filter((e) => e.kind === 'incident.reported' && e.origin === 'hall:331082');
    const arrived = provJournal.map((e) => (e.payload as { incident: Incident }).incident.title).filter((t) => t.startsWith('断链期间'));
    expect(arrived).toEqual(['断链期间灾情 1', '断链期间灾情 2', '断链期间灾情 3']);
    const countyJournal = (await halls['331082']!.store.api.readJournal(0, 1_000_000)).filter((e) => e.kind === 'instruction.received');
    expect(countyJournal.map((e) => (e.payload as { instruction: Instruction }).instruction.text)).toEqual(['断链期间指令 1', '断链期间指令 2', '断链期间指令 3']);
    linhai.close();
    taizhou.close();
    console.log(
      `network netns: Linhai silent at the province ${silentMs} ms after the cut; after 60 s, 3 incidents up and 3 instructions down arrived once, in order, ${drained} ms after the link returned`,
    );
  }, 150_000);
});
