// Live feeds over real sockets: drones over MAVLink UDP and teams over CoT TCP/UDP from `beacon
// simulate`, JSON positions and DJI drones through a real mosquitto (restarted under the feed),
// silence turning units stale then lost, and hostile input sent over the wire.
import mqtt from 'mqtt';
import { createSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { connect } from 'node:net';
import { join } from 'node:path';
import { common, MavLinkProtocolV2 } from 'node-mavlink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Feed, Unit } from '../../common/domain.ts';
import { CotTcpAdapter } from '../../main/core/feeds/cot.ts';
import { signingKey } from '../../main/core/feeds/mavlink.ts';
import { cotEvent, Simulator } from '../../main/core/feeds/simulate.ts';
import { HallCore } from '../../main/core/hall.ts';
import { reduce } from '../../main/core/journal/events.ts';
import { Broker, freePort, MOSQUITTO } from '../helpers/mosquitto.ts';
import { portClient } from '../helpers/port-client.ts';
import { fixture } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const units = (core: HallCore) => core.hub.items('units') as Unit[];
const unit = (core: HallCore, id: string) => core.hub.get('units', id) as Unit | undefined;
const feed = (core: HallCore, id: string) => core.hub.get('feeds', id) as Feed | undefined;
const udpSend = (port: number, data: Buffer | string) =>
  new Promise<void>((resolve, reject) => {
    const s = createSocket('udp4');
    s.send(data, port, '127.0.0.1', (err) => {
      s.close();
      if (err) reject(err);
      else resolve();
    });
  });
const tcpSend = (port: number, data: string) =>
  new Promise<{ closedByHall: boolean }>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.resume(); // the hall's TAK Protocol offer
    let ended = false;
    s.on('error', () => undefined); // a reset from the hall shows as an error, then close
    s.on('close', () => resolve({ closedByHall: !ended }));
    s.once('connect', () => {
      s.write(data, () =>
        setTimeout(() => {
          ended = true;
          s.end();
        }, 300),
      );
    });
  });

describe('drones over MAVLink UDP and teams over CoT', () => {
  const dir = tempDir();
  let core: HallCore;
  let sim: Simulator | null = null;
  beforeAll(async () => {
    core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      feeds: {
        feeds: [
          { kind: 'mavlink-udp', id: 'drones', host: '127.0.0.1', port: 0, staleAfterS: 1, lostAfterS: 2 },
          { kind: 'cot-tcp', id: 'teams', host: '127.0.0.1', port: 0, teamKind: 'fire-rescue' },
          { kind: 'cot-udp', id: 'teams-udp', host: '127.0.0.1', port: 0, silentAfterS: 1 },
        ],
        sweepMs: 200,
      },
    });
    await until('feeds open', () => core.desks.feeds.port('drones') !== null && core.desks.feeds.port('teams') !== null && core.desks.feeds.port('teams-udp') !== null);
  });
  afterAll(async () => {
    await sim?.stop();
    await core?.dispose();
  });

  it('a simulated drone and team appear in the hub within a second, with the fields the wire carried', async () => {
    sim = new Simulator({ drones: 3, droneHz: 5, mavlinkPort: core.desks.feeds.port('drones')!, teams: 4, teamHz: 2, cotPort: core.desks.feeds.port('teams')!, seed: 3 });
    const t0 = Date.now();
    await sim.start();
    await until('3 drones and 4 teams', () => units(core).filter((u) => u.track?.feed === 'drones').length === 3 && units(core).filter((u) => u.track?.feed === 'teams').length === 4, 5000);
    expect(Date.now() - t0).toBeLessThan(1500);
    await until('drone mode and battery', () => unit(core, 'drones-2')?.drone?.mode === 'AUTO' && unit(core, 'drones-2')?.track?.battery != null);
    const d = unit(core, 'drones-2')!;
    expect(d).toMatchObject({ kind: 'drone', status: 'en-route', drone: { mode: 'AUTO', armed: true }, track: { feed: 'drones', source: '2', presence: 'live' } });
    expect(d.lat).toBeGreaterThan(27);
    expect(d.lat).toBeLessThan(31.5);
    expect(d.alt).toBeGreaterThan(50);
    expect(d.track!.speed).toBeGreaterThan(7);
    expect(d.track!.heading).not.toBeNull();
    expect(d.drone!.relAlt).toBeGreaterThan(40);
    const t = unit(core, 'teams-BEACON-SIM-T00001')!;
    expect(t).toMatchObject({ kind: 'fire-rescue', name: { zh: '救援1' }, track: { callsign: '救援1', group: 'Cyan', ce: 5, battery: 90, presence: 'live' } });
    expect(t.home).toMatch(/^33\d{2}00$/); // the nearest city's code
    expect(feed(core, 'drones')).toMatchObject({ state: 'online' });
    // The feed board's figures are refreshed once a sweep (200 ms here), not per message.
    await until('feed figures refreshed', () => (feed(core, 'teams')?.health?.rate ?? 0) > 0 && feed(core, 'teams')?.health?.units === 4);
    expect(feed(core, 'teams')!.health).toMatchObject({ units: 4, reconnects: 0 });
  });

  it('a drone that goes silent turns stale, then lost, where it was last seen; it is journaled', async () => {
    const before = unit(core, 'drones-1')!;
    await sim!.stop();
    sim = null;
    const stale = await until('stale', () => unit(core, 'drones-1')?.track?.presence === 'stale', 5000);
    await until('lost', () => unit(core, 'drones-1')?.track?.presence === 'lost', 5000);
    expect(stale).toBeLessThan(2500);
    const lost = unit(core, 'drones-1')!;
    expect(Math.abs(lost.lat - before.lat)).toBeLessThan(0.01); // still drawn, at its last position
    // Teams follow their CoT stale time (60 s from the simulator): still live.
    expect(unit(core, 'teams-BEACON-SIM-T00001')!.track!.presence).toBe('live');
    await until('journaled', async () => {
      const events = await core.store.api.readJournal(0, 100_000);
      return events.some((e) => e.kind === 'unit.tracked' && e.subject === 'unit:drones-1' && (e.payload as { track: { presence: string } }).track.presence === 'lost');
    });
    // The live path journals positions without re-checking them (reduce's trusted kinds): every
    // row it wrote must still pass the checked reducer, as a replay of the journal would run it.
    const events = await core.store.api.readJournal(0, 100_000);
    const replayed = new Map<string, Map<string, unknown>>();
    const tracked = events.filter((e) => e.kind === 'unit.tracked' || e.kind === 'unit.upserted');
    expect(tracked.length).toBeGreaterThan(10);
    for (const e of tracked) {
      for (const op of reduce(e.kind, e.payload, (t, id) => replayed.get(t)?.get(id) as Record<string, unknown> | undefined)) {
        if (!replayed.has(op.table)) replayed.set(op.table, new Map());
        if (op.op === 'put') replayed.get(op.table)!.set(op.id, op.value);
      }
    }
    // A feed with nothing arriving reads degraded, and says why.
    await until('silent feed degraded', () => feed(core, 'teams-udp')?.state === 'degraded', 5000);
    expect(feed(core, 'teams-udp')!.detail).toMatch(/no data/);
  });

  it('CoT over UDP: one event per datagram', async () => {
    await udpSend(core.desks.feeds.port('teams-udp')!, cotEvent('UDP-TEAM-1', '湖州救援', { lat: 30.8925, lon: 120.0875, alt: 10, heading: 0, speed: 0 }, Date.now()));
    await until('udp team', () => unit(core, 'teams-udp-UDP-TEAM-1') !== undefined);
    expect(unit(core, 'teams-udp-UDP-TEAM-1')).toMatchObject({ lat: 30.8925, lon: 120.0875, status: 'on-site', kind: 'professional' });
    await until('feed online again', () => feed(core, 'teams-udp')?.state === 'online');
  });

  it('hostile and broken input over the wire is refused and counted per feed; nothing stored is touched', async () => {
    const keep = await core.store.api.loadTables();
    const storedTeam = (keep.units as Unit[]).find((u) => u.id === 'teams-BEACON-SIM-T00002')!;
    expect(storedTeam).toBeDefined();
    const cot = core.desks.feeds.port('teams')!;
    const mav = core.desks.feeds.port('drones')!;
    const now = Date.now();
    const good = (uid: string, lat = 30.5) => cotEvent(uid, uid, { lat, lon: 120.5, alt: 5, heading: 0, speed: 0 }, now);
    // CoT: not XML, XXE, billion laughs, impossible coordinates and times, all on one connection,
    // each framed as an event; the good event after them still counts.
    const hostile = [
      'this is not xml</event>',
      `<?xml version="1.0"?><!DOCTYPE event [<!ENTITY x SYSTEM "file:///etc/passwd">]><event uid="x" type="a-f-G" time="${new Date(now).toISOString()}" start="${new Date(now).toISOString()}" stale="${new Date(now + 60000).toISOString()}"><point lat="1" lon="1" hae="0" ce="1" le="1"/><detail>&x;</detail></event>`,
      `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><event>&lol2;</event>`,
      good('BAD-LAT', 123.4),
      good('BAD-TIME').replace(/time="[^"]+"/, 'time="2099-01-01T00:00:00Z"'),
      good('GOOD-AFTER'),
    ].join('\n');
    await tcpSend(cot, hostile);
    await until('good event after the hostile ones', () => unit(core, 'teams-GOOD-AFTER') !== undefined);
    const errors = () => feed(core, 'teams')!.health!.errors;
    await until('counted', () => (errors().doctype ?? 0) >= 2);
    expect(errors()).toMatchObject({ not_xml: 1, doctype: 2, bad_coordinates: 1, bad_time: 1 });
    expect(unit(core, 'teams-BAD-LAT')).toBeUndefined();
    // 10 MB without an end: the hall hangs up on the sender rather than buffer it.
    const big = await tcpSend(cot, `<event uid="big">${'A'.repeat(10 * 1024 * 1024)}`);
    expect(big.closedByHall).toBe(true);
    await until('too_large counted', () => (errors().too_large ?? 0) >= 1);
    // MAVLink: junk, a bad CRC, a truncated packet.
    const p = new MavLinkProtocolV2(42, 1);
    const g = new common.GlobalPositionInt();
    g.lat = 300_000_000;
    g.lon = 1_200_000_000;
    const pkt = p.serialize(g, 1);
    const corrupt = Buffer.from(pkt);
    corrupt[15] = corrupt[15]! ^ 0x55;
    await udpSend(mav, Buffer.from('not mavlink at all'));
    await udpSend(mav, corrupt);
    await udpSend(mav, pkt.subarray(0, 12));
    await until('mavlink errors counted', () => {
      const e = feed(core, 'drones')!.health!.errors;
      return (e.junk ?? 0) >= 1 && (e.bad_crc ?? 0) >= 1 && (e.truncated ?? 0) >= 1;
    });
    expect(unit(core, 'drones-42')).toBeUndefined();
    // Then a good packet from the same sender is a drone.
    await udpSend(mav, pkt);
    await until('good drone after bad packets', () => unit(core, 'drones-42') !== undefined);
    // The hall is up, and what was stored before is as it was (the team kept its thinned row).
    const after = await core.store.api.loadTables();
    const again = (after.units as Unit[]).find((u) => u.id === 'teams-BEACON-SIM-T00002')!;
    expect(again.lat).toBe(storedTeam.lat);
    expect((await portClient(core).cmd<{ now: number }>('hall.ping', {})).now).toBeGreaterThan(0);
  }, 60_000);
});

describe.skipIf(!existsSync(MOSQUITTO))('positions over MQTT (real mosquitto): JSON, DJI, bad payloads, broker restart', () => {
  const dir = tempDir();
  let broker: Broker;
  let core: HallCore;
  let pub: mqtt.MqttClient;
  beforeAll(async () => {
    broker = new Broker(await freePort(), join(dir, 'broker'));
    await broker.start();
    core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      feeds: {
        feeds: [
          { kind: 'mqtt-json', id: 'beidou', url: broker.url, teamKind: 'social' },
          { kind: 'dji-mqtt', id: 'dji', url: broker.url },
          // DJI's documented option: follow one gateway (the dock of DJI's own examples) and its aircraft
          { kind: 'dji-mqtt', id: 'dock', url: broker.url, gateway: 'dock_sn' },
        ],
        sweepMs: 200,
        backoffBaseMs: 200,
        backoffCapMs: 2000,
      },
    });
    await until('mqtt feeds online', () => feed(core, 'beidou')?.state !== 'connecting' && feed(core, 'dji')?.state !== 'connecting');
    pub = await mqtt.connectAsync(broker.url, { clientId: 'gateway', reconnectPeriod: 200 });
  });
  afterAll(async () => {
    await pub?.endAsync(true);
    await core?.dispose();
    await broker?.stop();
  });

  it('a Beidou report and a DJI aircraft become units; bad payloads are counted, not fatal', async () => {
    const now = Date.now();
    await pub.publishAsync('beacon/positions/bd-100001', JSON.stringify({ lat: 29.0, lon: 120.5, time: now, speed: 1.1, battery: 44, name: '丽水北斗1' }));
    await pub.publishAsync('sys/product/DOCK-7/status', JSON.stringify({ tid: 't', bid: 'b', timestamp: now, method: 'update_topo', data: { sub_devices: [{ sn: '1581F5BKD22', domain: '0' }] } }));
    await pub.publishAsync(
      'thing/product/1581F5BKD22/osd',
      JSON.stringify({
        timestamp: now,
        data: { latitude: 28.1, longitude: 121.1, height: 120, elevation: 80, attitude_head: 45, horizontal_speed: 9, mode_code: 9, battery: { capacity_percent: 37 } },
      }),
    );
    await until('units', () => unit(core, 'beidou-bd-100001') !== undefined && unit(core, 'dji-1581F5BKD22') !== undefined);
    expect(unit(core, 'beidou-bd-100001')).toMatchObject({ kind: 'social', name: { zh: '丽水北斗1' }, track: { speed: 1.1, battery: 44 } });
    expect(unit(core, 'dji-1581F5BKD22')).toMatchObject({ kind: 'drone', drone: { mode: 'returning home', armed: true }, track: { heading: 45, battery: 37 } });
    await pub.publishAsync('beacon/positions/bd-2', 'not json {');
    await pub.publishAsync('beacon/positions/bd-2', JSON.stringify({ lat: 'thirty', lon: 120, time: now }));
    await pub.publishAsync('beacon/positions/bd-2', JSON.stringify({ lat: 30, lon: 120, time: now + 86400_000 }));
    await pub.publishAsync('thing/product/1581F5BKD22/osd', JSON.stringify({ data: {} }));
    await until('counted', () => {
      const e = feed(core, 'beidou')?.health?.errors ?? {};
      return e.not_json === 1 && e.bad_payload === 1 && e.bad_time === 1 && feed(core, 'dji')?.health?.errors.bad_payload === 1;
    });
    expect(unit(core, 'beidou-bd-2')).toBeUndefined();
    expect(feed(core, 'beidou')!.state).toBe('online');
  });

  // DJI's documented examples (tests/fixtures/README.md), on the hall's clock; the aircraft's given a fix
  const AIRCRAFT = '1581F5BKD225D00BP891';
  const dji = (file: string, change: (j: { gateway?: string; data: Record<string, unknown> }) => void = () => undefined) => {
    const j = JSON.parse(fixture(`dji/${file}`)) as { timestamp: number; gateway?: string; data: Record<string, unknown> };
    j.timestamp = Date.now();
    change(j);
    return JSON.stringify(j);
  };
  const fly = (lat: number, gateway = 'dock_sn') => dji('dock1-osd-aircraft.json', (j) => Object.assign(j, { gateway, data: { ...j.data, latitude: lat, longitude: 113.7035 } }));

  it("gateway=SN shows the dock's aircraft (learnt from the dock's OSD, on the aircraft's own topic); another gateway's is not its (#19 point 5)", async () => {
    await pub.publishAsync('thing/product/dock_sn/osd', dji('dock1-osd-dock.json'));
    // the feed subscribes to the aircraft once the dock names it: publish until it is heard
    await until('the aircraft on the dock feed', async () => {
      await pub.publishAsync(`thing/product/${AIRCRAFT}/osd`, fly(22.9079));
      return unit(core, `dock-${AIRCRAFT}`) !== undefined;
    });
    expect(unit(core, `dock-${AIRCRAFT}`)).toMatchObject({ kind: 'drone', lat: 22.9079, track: { heading: 41.7, battery: 90 }, drone: { mode: 'standby' } });
    expect(unit(core, 'dock-dock_sn')).toBeUndefined(); // the dock itself is not an aircraft
    await pub.publishAsync('thing/product/OTHER0001/osd', fly(23.1, 'other_dock'));
    await until('the open feed hears the other', () => unit(core, 'dji-OTHER0001') !== undefined);
    expect(unit(core, 'dock-OTHER0001')).toBeUndefined();
  });

  it('reconnects with backoff when the broker restarts, one attempt at a time', async () => {
    await broker.stop();
    await until('offline', () => feed(core, 'beidou')?.state === 'offline', 10_000);
    const offlineAt = Date.now();
    // Attempts keep failing while the broker is down; the delays grow.
    await until('a few attempts', () => (core.desks.feeds.stats().feeds.beidou?.reconnects ?? 0) >= 3, 15_000);
    await until('the next attempt is announced', () => feed(core, 'beidou')?.state === 'offline' && feed(core, 'beidou')?.nextAttemptAt != null, 5000);
    await broker.start();
    await until('back online', () => feed(core, 'beidou')?.state === 'online' || feed(core, 'beidou')?.state === 'degraded', 15_000);
    const s = core.desks.feeds.stats().feeds.beidou!;
    expect(s.maxInFlight).toBe(1);
    expect(s.reconnects).toBeGreaterThanOrEqual(3);
    // Exponential from 200 ms: three failed attempts take at least 100 + 200 + 400 ms.
    expect(Date.now() - offlineAt).toBeGreaterThan(700);
    await pub.publishAsync('beacon/positions/bd-100001', JSON.stringify({ lat: 29.1, lon: 120.6, time: Date.now() }));
    await until('positions flow again', () => unit(core, 'beidou-bd-100001')?.lat === 29.1, 10_000);
    // the dock feed still follows its aircraft: what it learnt outlived the connection
    await until(
      'the aircraft again',
      async () => {
        await pub.publishAsync(`thing/product/${AIRCRAFT}/osd`, fly(22.95));
        return unit(core, `dock-${AIRCRAFT}`)?.lat === 22.95;
      },
      10_000,
    );
    // Every state change was journaled, and the feed board can show the history.
    const changes = (await core.store.api.readJournal(0, 100_000)).filter((e) => e.kind === 'feed.changed' && e.subject === 'feed:beidou').map((e) => (e.payload as { state: string }).state);
    expect(changes).toEqual(expect.arrayContaining(['online', 'offline', 'connecting']));
  }, 60_000);
});

describe('feeds added and removed at run time', () => {
  const dir = tempDir();
  it('feed.add opens a listener, survives a restart, feed.remove closes it', async () => {
    let core = await HallCore.start({ dataDir: join(dir, 'hall'), feeds: { sweepMs: 200 }, reach: { allowOutbound: ['127.0.0.1:1883'] } });
    const c = portClient(core);
    const port = await freePort();
    await c.cmd('feed.add', { config: { kind: 'cot-udp', id: 'field', host: '127.0.0.1', port, name: { zh: '野外组', en: 'Field' } } });
    expect((await c.fail('feed.add', { config: { kind: 'cot-tcp', id: 'field', port: 9 } })).message).toMatch(/exists/);
    expect((await c.fail('feed.add', { config: { kind: 'cot-udp', id: 'other', port } })).message).toMatch(/already listens/);
    expect((await c.fail('feed.add', { config: { kind: 'mqtt-json', id: 'x', url: 'http://nope' } })).code).toBe('invalid_args');
    // #18 point 5: a feed added by command listens where the hub does, not on every interface
    expect(await c.fail('feed.add', { config: { kind: 'cot-tcp', id: 'open', host: '0.0.0.0', port: 0 } })).toMatchObject({
      code: 'forbidden',
      message: expect.stringMatching(/listens where the hub does/),
    });
    // #18 points 1 and 3: a broker not on the outbound allowlist, a password variable not allowed
    expect((await c.fail('feed.add', { config: { kind: 'mqtt-json', id: 'probe', url: 'mqtt://10.0.0.7:6379' } })).code).toBe('forbidden');
    expect((await c.fail('feed.add', { config: { kind: 'mqtt-json', id: 'leak', url: 'mqtt://127.0.0.1:1883', passwordEnv: 'BEACON_SIP_PASSWORD' } })).message).toMatch(
      /BEACON_SIP_PASSWORD is not one/,
    );
    expect(feed(core, 'probe')).toBeUndefined();
    await until('listening', () => core.desks.feeds.port('field') === port);
    await udpSend(port, cotEvent('FIELD-1', 'F1', { lat: 29.5, lon: 121, alt: 0, heading: 0, speed: 0 }, Date.now()));
    await until('unit', () => unit(core, 'field-FIELD-1') !== undefined);
    c.close();
    await core.dispose();

    core = await HallCore.start({ dataDir: join(dir, 'hall'), feeds: { sweepMs: 200 } });
    await until('the feed comes back', () => core.desks.feeds.port('field') === port);
    expect(feed(core, 'field')!.name.zh).toBe('野外组');
    expect(unit(core, 'field-FIELD-1')).toMatchObject({ lat: 29.5, track: { feed: 'field' } }); // kept across the restart
    const c2 = portClient(core);
    await c2.cmd('feed.remove', { id: 'field' });
    expect(feed(core, 'field')).toBeUndefined();
    // The port is free again.
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(port, '127.0.0.1', () => r()));
    await new Promise<void>((r) => s.close(() => r()));
    c2.close();
    await core.dispose();
  });
});

describe('feeds cannot impersonate (#18, point 5)', () => {
  const dir = tempDir();
  it("a sender naming a team's id moves nothing; a tracker bound to the team does; invented senders can be removed and expire", async () => {
    const team = 'fire-rescue-330100-01';
    // `fire`: a feed whose namespace meets a registered id ("fire" + "-rescue-330100-01")
    const core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      feeds: {
        sweepMs: 100,
        expireAfterS: 1,
        expireSweepMs: 100,
        feeds: [
          { kind: 'cot-udp', id: 'field', host: '127.0.0.1', port: 0, staleAfterS: 1, lostAfterS: 1 },
          { kind: 'cot-udp', id: 'fire', host: '127.0.0.1', port: 0 },
        ],
      },
    });
    const c = portClient(core, 'window:board', '值班员');
    try {
      await until('listening', () => !!core.desks.feeds.port('field') && !!core.desks.feeds.port('fire'));
      const field = core.desks.feeds.port('field')!;
      const before = unit(core, team)!;
      const at = { lat: 25.0, lon: 125.0, alt: 0, heading: 0, speed: 0 };
      await udpSend(field, cotEvent(team, 'FAKE', at, Date.now(), 1));
      await until('the sender has a unit of its own', () => unit(core, `field-${team}`) !== undefined);
      expect(unit(core, team)).toMatchObject({ lat: before.lat, lon: before.lon }); // the team did not move
      // the other way in: the feed's namespace id is the team's; refused and counted, the team unmoved
      await udpSend(core.desks.feeds.port('fire')!, cotEvent('rescue-330100-01', 'FAKE', at, Date.now(), 1));
      await until('refused', () => (feed(core, 'fire')?.health?.errors['id_taken'] ?? 0) >= 1);
      expect(unit(core, team)).toMatchObject({ lat: before.lat, lon: before.lon });
      expect(unit(core, team)!.track ?? null).toEqual(before.track ?? null);

      // an administrator binds the team's real tracker; its reports move the team from then on
      const tracker = 'ANDROID-35931008';
      await udpSend(field, cotEvent(tracker, '消防一队', { ...at, lat: 30.3, lon: 120.2 }, Date.now(), 1));
      await until('the tracker as a unit of the feed', () => unit(core, `field-${tracker}`) !== undefined);
      await c.cmd('unit.bind', { id: team, feed: 'field', source: tracker });
      expect(unit(core, `field-${tracker}`)).toBeUndefined(); // its own unit goes: one unit per tracker
      expect(unit(core, team)!.device).toEqual({ feed: 'field', source: tracker });
      await udpSend(field, cotEvent(tracker, '消防一队', { ...at, lat: 30.31, lon: 120.21 }, Date.now(), 1));
      await until('the team moves', () => unit(core, team)!.lat === 30.31);
      expect((await c.fail('unit.bind', { id: `field-${team}`, feed: 'field', source: 'x' })).message).toMatch(/a unit a feed made/);
      expect((await c.fail('unit.bind', { id: 'fire-rescue-330100-02', feed: 'field', source: tracker })).message).toMatch(/is bound to fire-rescue-330100-01/);

      // 300 invented senders: each a unit the operator may remove, and all gone once lost long enough
      for (let i = 0; i < 300; i++) await udpSend(field, cotEvent(`JUNK-${i}`, 'x', { ...at, lat: 26 + i / 1000 }, Date.now(), 1));
      await until('junk units', () => units(core).filter((u) => u.id.startsWith('field-JUNK-')).length === 300);
      await c.cmd('unit.remove', { id: 'field-JUNK-0' });
      expect(unit(core, 'field-JUNK-0')).toBeUndefined();
      expect((await c.fail('unit.remove', { id: team })).message).toMatch(/registered unit/);
      await until('expired', () => units(core).filter((u) => u.id.startsWith('field-')).length === 0, 15_000);
      expect(unit(core, team)).toBeDefined(); // registered units never expire
      expect(core.stats().feeds.expired).toBeGreaterThanOrEqual(300);
    } finally {
      c.close();
      await core.dispose();
    }
  }, 60_000);
});

describe('a CoT listener holds its ground (#18, point 5)', () => {
  it('caps connections per address and in all, closes idle ones, and bounds unfinished events across senders', async () => {
    // The listener alone, over real sockets; its sink records what the manager would count.
    const refused: string[] = [];
    const sink = { message: () => undefined, rejected: (reason: string) => void refused.push(reason), lost: () => undefined, alert: () => undefined };
    const a = new CotTcpAdapter({ host: '127.0.0.1', port: 0, maxConnections: 40, maxPerAddress: 30, idleMs: 800, maxPendingBytes: 2 * 1024 * 1024 }, sink);
    await a.open();
    const open = (): Promise<import('node:net').Socket> =>
      new Promise((ok) => {
        const s = connect(a.boundPort, '127.0.0.1', () => ok(s));
        s.on('error', () => undefined);
      });
    const socks = await Promise.all(Array.from({ length: 35 }, open));
    await until('the cap holds', () => a.connections === 30);
    expect(refused.filter((r) => r === 'too_many_connections')).toHaveLength(5);
    // unfinished events from many senders: 30 × 100 KB stays under each one's limit, not under all's
    const part = '<event version="2.0" uid="x" type="a-f-G" how="m-g" time="2026-01-01T00:00:00Z"><detail>' + 'x'.repeat(100 * 1024);
    for (const s of socks.slice(0, 30)) s.write(part);
    await until('the one over the line is cut', () => refused.includes('too_large'));
    expect(a.pendingBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    // and the silent rest are let go
    await until('idle connections closed', () => a.connections === 0, 5000);
    expect(refused.filter((r) => r === 'idle').length).toBeGreaterThan(0);
    expect(a.pendingBytes).toBe(0);
    for (const s of socks) s.destroy();
    await a.close();
  });
});

describe('MAVLink signing and peer allowlists (#18, point 5)', () => {
  const dir = tempDir();
  it('a feed with a signing key hears only packets signed with it, in order; a feed with allowFrom hears only those senders', async () => {
    const passphrase = 'zhejiang-uav-2026';
    process.env.TEST_MAV_KEY = passphrase;
    const core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      reach: { secretEnv: ['TEST_MAV_KEY'] },
      feeds: {
        feeds: [
          { kind: 'mavlink-udp', id: 'signed', host: '127.0.0.1', port: 0, signingKeyEnv: 'TEST_MAV_KEY' },
          { kind: 'cot-udp', id: 'field', host: '127.0.0.1', port: 0, allowFrom: ['10.33.0.0/16'] },
          { kind: 'cot-udp', id: 'local', host: '127.0.0.1', port: 0, allowFrom: ['127.0.0.1'] },
        ],
      },
    });
    const c = portClient(core);
    try {
      expect(process.env.TEST_MAV_KEY).toBeUndefined(); // read once
      await until('listening', () => ['signed', 'field', 'local'].every((f) => !!core.desks.feeds.port(f)));
      const mav = core.desks.feeds.port('signed')!;
      // as ArduPilot sends them: the signed flag in the header (under the CRC), then the signature
      const packet = (sysid: number, lat: number, signed = true) => {
        const g = new common.GlobalPositionInt();
        g.lat = Math.round(lat * 1e7);
        g.lon = 1_200_000_000;
        return new MavLinkProtocolV2(sysid, 1, signed ? MavLinkProtocolV2.IFLAG_SIGNED : 0).serialize(g, 1);
      };
      const key = signingKey(passphrase);
      // node-mavlink takes the time in ms since 1970 and writes MAVLink's 10 µs units since 2015
      const t0 = Date.now();
      const sign = (buf: Buffer, ts: number, k = key) => new MavLinkProtocolV2(0, 0).sign(buf, 1, k, t0 + ts);
      const errors = () => feed(core, 'signed')?.health?.errors ?? {};
      await udpSend(mav, packet(7, 30, false)); // unsigned
      await udpSend(mav, sign(packet(7, 30), 1000, signingKey('wrong key'))); // another key
      await until('refused', () => (errors().unsigned ?? 0) >= 1 && (errors().bad_signature ?? 0) >= 1);
      expect(unit(core, 'signed-7')).toBeUndefined();
      // the board says what came and why it was refused, not "no data yet" (#19 point 8)
      await until('said so', () => /2 refused \((unsigned|bad_signature)\), nothing accepted yet/.test(feed(core, 'signed')?.detail ?? ''));
      expect(feed(core, 'signed')!.state).toBe('degraded');
      await udpSend(mav, sign(packet(7, 30.1), 2000));
      await until('a signed drone', () => unit(core, 'signed-7')?.lat === 30.1);
      // a replay of an older packet (a recording of the drone) moves nothing
      await udpSend(mav, sign(packet(7, 29.5), 1500));
      await until('replay refused', () => (errors().replayed ?? 0) >= 1);
      expect(unit(core, 'signed-7')!.lat).toBe(30.1);
      // the journal holds the key's variable name, never the key
      const journal = JSON.stringify(await core.store.api.readJournal(0, 100_000));
      expect(journal).toContain('TEST_MAV_KEY');
      expect(journal).not.toContain(passphrase);
      // a signing feed added by command may name only an allowed secret
      expect((await c.fail('feed.add', { config: { kind: 'mavlink-udp', id: 'sip', port: 0, signingKeyEnv: 'BEACON_SIP_PASSWORD' } })).code).toBe('forbidden');

      // allowFrom: this machine is not on the field network's list
      await udpSend(core.desks.feeds.port('field')!, cotEvent('T-1', 'x', { lat: 29, lon: 121, alt: 0, heading: 0, speed: 0 }, Date.now()));
      await until('peer refused', () => (feed(core, 'field')?.health?.errors['peer_refused'] ?? 0) >= 1);
      expect(unit(core, 'field-T-1')).toBeUndefined();
      await udpSend(core.desks.feeds.port('local')!, cotEvent('T-1', 'x', { lat: 29, lon: 121, alt: 0, heading: 0, speed: 0 }, Date.now()));
      await until('heard', () => unit(core, 'local-T-1') !== undefined);
    } finally {
      c.close();
      await core.dispose();
    }
  });

  it('a feed that asks for signing without its key does not open, and says why', async () => {
    const core = await HallCore.start({ dataDir: join(dir, 'nokey'), feeds: { feeds: [{ kind: 'mavlink-udp', id: 'signed', host: '127.0.0.1', port: 0, signingKeyEnv: 'TEST_MAV_ABSENT' }] } });
    try {
      await until('failed', () => feed(core, 'signed')?.state === 'failed');
      expect(feed(core, 'signed')!.detail).toMatch(/TEST_MAV_ABSENT is not set/);
    } finally {
      await core.dispose();
    }
  });
});

describe.skipIf(!existsSync(MOSQUITTO))('credentials in a broker URL are kept apart (#18, point 1)', () => {
  const dir = tempDir();
  it('feed.add with mqtt://user:password@… logs in to a broker that needs it, and the password is in no journal, table or topic', async () => {
    const broker = new Broker(await freePort(), join(dir, 'broker'));
    broker.configure({ anonymous: false, users: { beidou: 'bd-s3cret-2026' } });
    await broker.start();
    const host = `127.0.0.1:${broker.port}`;
    let core = await HallCore.start({ dataDir: join(dir, 'hall'), feeds: { sweepMs: 100 }, reach: { allowOutbound: [host] } });
    const pub = await mqtt.connectAsync(`mqtt://${host}`, { username: 'beidou', password: 'bd-s3cret-2026' });
    try {
      const c = portClient(core, 'window:board', '管理员');
      await c.cmd('feed.add', { config: { kind: 'mqtt-json', id: 'bd', url: `mqtt://beidou:bd-s3cret-2026@${host}`, topic: 'bd/#' } });
      c.close();
      await until('logged in', () => feed(core, 'bd')?.state === 'online' || feed(core, 'bd')?.state === 'degraded', 10_000);
      await pub.publishAsync('bd/dev-1', JSON.stringify({ lat: 29.1, lon: 121.2, time: Date.now() }));
      await until('a unit over the authenticated feed', () => unit(core, 'bd-dev-1') !== undefined, 10_000);
      const everywhere = JSON.stringify([await core.store.api.readJournal(0, 100_000), core.all('feeds'), core.hub.items('feeds')]);
      expect(everywhere).not.toContain('bd-s3cret-2026');
      expect(everywhere).toContain(`mqtt://beidou@${host}`);
      // and after a restart it logs in again from what was kept apart
      await core.dispose();
      core = await HallCore.start({ dataDir: join(dir, 'hall'), feeds: { sweepMs: 100 }, reach: { allowOutbound: [host] } });
      await pub.publishAsync('bd/dev-2', JSON.stringify({ lat: 29.2, lon: 121.2, time: Date.now() }));
      await until(
        'heard after a restart',
        async () => {
          await pub.publishAsync('bd/dev-2', JSON.stringify({ lat: 29.2, lon: 121.2, time: Date.now() }));
          return unit(core, 'bd-dev-2') !== undefined;
        },
        10_000,
      );
    } finally {
      await pub.endAsync(true);
      await core.dispose();
      await broker.stop();
    }
  });
});

describe('CoT over TLS with client certificates, as TAK servers take it (#18, point 5)', () => {
  const dir = tempDir();
  /** A CA, the hall's certificate, a device's, and a device's from a CA the hall does not trust (openssl). */
  function pki(): Record<string, string> {
    const f = (n: string) => join(dir, n);
    const ossl = (...a: string[]) => execFileSync('openssl', a, { stdio: 'pipe' });
    for (const ca of ['ca', 'rogue-ca'])
      ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '2', '-subj', `/CN=${ca}`);
    const issue = (name: string, ca: string, ext: string) => {
      ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
      writeFileSync(f(`${name}.ext`), ext);
      ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
    };
    issue('hall', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    issue('device', 'ca', 'extendedKeyUsage=clientAuth\n');
    issue('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
    return { ca: f('ca.pem'), cert: f('hall.pem'), key: f('hall.key'), device: f('device.pem'), deviceKey: f('device.key'), rogue: f('rogue.pem'), rogueKey: f('rogue.key') };
  }

  it('hears a device with a certificate from its CA; one without, or from another CA, is refused in the handshake and counted', async () => {
    const p = pki();
    const core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      feeds: { feeds: [{ kind: 'cot-tls', id: 'tak', host: '127.0.0.1', port: 0, certFile: p.cert!, keyFile: p.key!, caFile: p.ca! }] },
    });
    const c = portClient(core, 'window:board', '管理员');
    try {
      await until('listening', () => !!core.desks.feeds.port('tak'));
      expect(feed(core, 'tak')!.endpoint).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
      const send = (cert?: string, key?: string) =>
        new Promise<string>((resolve) => {
          const s = tlsConnect({ host: '127.0.0.1', port: core.desks.feeds.port('tak')!, ca: readFileSync(p.ca!), ...(cert ? { cert: readFileSync(cert), key: readFileSync(key!) } : {}) }, () => {
            s.write(cotEvent(`ANDROID-${cert ? 'ok' : 'none'}`, '消防一队', { lat: 28.6, lon: 121.4, alt: 0, heading: 0, speed: 0 }, Date.now()), () => setTimeout(() => s.end(), 200));
          });
          s.resume(); // the hall's TAK Protocol offer
          s.on('error', (e) => resolve(`error ${e.message}`));
          s.on('close', () => resolve('closed'));
        });
      await send(p.device, p.deviceKey);
      await until('a unit over TLS', () => unit(core, 'tak-ANDROID-ok') !== undefined);
      await send();
      await send(p.rogue, p.rogueKey);
      await until('both refused', () => (feed(core, 'tak')?.health?.errors['tls_refused'] ?? 0) >= 2);
      expect(
        units(core)
          .filter((u) => u.id.startsWith('tak-'))
          .map((u) => u.id),
      ).toEqual(['tak-ANDROID-ok']);
      // a TLS listener names files on the hall's machine: set at start, never by command
      expect((await c.fail('feed.add', { config: { kind: 'cot-tls', id: 'x', port: 0, certFile: '/etc/shadow', keyFile: '/etc/shadow', caFile: '/etc/shadow' } })).code).toBe('forbidden');
    } finally {
      c.close();
      await core.dispose();
    }
  });
});
