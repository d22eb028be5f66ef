// What TAK devices send, over real sockets into a real hall, from the fixture corpus of real
// producers (tests/fixtures/README.md): ATAK's emergency alerts and their cancel, chat and routes,
// markers of other affiliations.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { SaxesParser } from 'saxes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, Feed, Incident, Unit } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { fixture, fixturePath, retime, retimeTak } from '../helpers/fixtures.ts';
import { portClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';
import { freePort } from '../helpers/mosquitto.ts';

const tcpSend = (port: number, data: string) =>
  new Promise<void>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(data));
    s.resume(); // the hall's TAK Protocol offer
    s.on('error', reject);
    s.on('close', () => resolve());
  });

describe('ATAK emergencies in the hall (#19 point 2)', () => {
  const dir = join(tempDir(), 'hall');
  let core: HallCore;
  const start = async () => {
    core = await HallCore.start({ dataDir: dir, feeds: { feeds: [{ kind: 'cot-tcp', id: 'tak', host: '127.0.0.1', port: 0, teamKind: 'fire-rescue' }], sweepMs: 200 } });
    await until('feed open', () => core.desks.feeds.port('tak') !== null);
  };
  const send = (file: string) => tcpSend(core.desks.feeds.port('tak')!, retime(fixture(`cot/${file}`), Date.now()));
  const alerts = () => core.hub.items('alerts') as Alert[];
  const health = () => (core.hub.get('feeds', 'tak') as Feed).health!;
  beforeAll(start);
  afterAll(async () => core?.dispose());

  it("ATAK's 911 raises an alert on the alerts topic and an incident at the sender's position; repeats add nothing", async () => {
    await send('ftstest-911-alert-b-a-o-tbl.xml');
    await until('alert', () => alerts().length === 1);
    const a = alerts()[0]!;
    expect(a).toMatchObject({ feed: 'tak', source: '19027480992-9-1-1', sender: 'ANDROID-351811095448994', callsign: 'corvo', label: '911 Alert', status: 'active', lat: 43.84456191618114 });
    expect(core.hub.get('incidents', a.incident!)).toMatchObject({
      kind: 'rescue',
      status: 'open',
      lat: 43.84456191618114,
      lon: -66.11718428195833,
      title: '911 Alert · corvo',
    } satisfies Partial<Incident>);
    // ATAK repeats an open alert, and turns it into Ring The Bell under the same id: still one alert
    await send('ftstest-911-alert-b-a-o-tbl.xml');
    await send('ftstest-ring-the-bell-b-a-o-pan.xml');
    await until('relabelled', () => alerts()[0]?.label === 'Ring The Bell');
    expect(alerts()).toHaveLength(1);
    expect((core.hub.items('incidents') as Incident[]).filter((i) => i.status === 'open' && i.kind === 'rescue')).toHaveLength(1);
    await until('counted on the feed board', () => health().alerts === 3);
    expect(health().units).toBe(0);
  });

  it('an operator acknowledges it (journaled with who); it survives a restart', async () => {
    const c = portClient(core, 'window:board', '张伟');
    const id = alerts()[0]!.id;
    await c.cmd('alert.ack', { id });
    expect(core.hub.get('alerts', id)).toMatchObject({ status: 'acknowledged', ackBy: '张伟' });
    expect((await c.fail('alert.ack', { id })).code).toBe('invalid_args');
    const mine: { kind: string; subject: string; payload: { by?: string } }[] = [];
    for (let after = 0; ;) {
      const page = await c.cmd<{ events: (typeof mine)[number][]; last: number }>('journal.read', { after, limit: 1000 });
      mine.push(...page.events.filter((e) => e.subject === `alert:${id}`));
      if (page.events.length < 1000) break;
      after = page.last;
    }
    expect(mine.map((e) => e.kind)).toEqual(['alert.raised', 'alert.raised', 'alert.acknowledged']);
    expect(mine[2]!.payload.by).toBe('张伟');
    c.close();
    await core.dispose();
    await start();
    expect(core.hub.get('alerts', id)).toMatchObject({ status: 'acknowledged', label: 'Ring The Bell' });
  });

  it("ATAK's cancel (its own file, the event twice) clears the alert and closes the incident", async () => {
    const a = alerts()[0]!;
    await send('ftstest-cancel-b-a-o-can.xml');
    await until('cancelled', () => (core.hub.get('alerts', a.id) as Alert).status === 'cancelled');
    expect(core.hub.get('incidents', a.incident!)).toMatchObject({ status: 'closed', closedBy: 'corvo (b-a-o-can)' });
    await until('both cancels counted', () => health().alerts === 2); // (counted since the restart)
    expect(core.desks.alerts.counters.unmatchedCancels).toBe(1); // the second cancel finds nothing open
  });

  it('chat and routes count as understood, not refused; an unknown pin is a marker, not a force', async () => {
    await send('ftstest-chat.xml');
    await send('ftstest-route.xml');
    await send('fts-marker-a-u-G.xml');
    await until('counted', () => health().unused === 2 && health().markers === 1);
    expect(health()).toMatchObject({ units: 0, errors: {} });
    expect(core.hub.get('units', 'tak-a0c524c6-0422-4382-9981-e39d1dc71730')).toMatchObject({ kind: 'marker-unknown' } satisfies Partial<Unit>);
  });
});

describe('TAK Protocol version 1 on the same feeds', () => {
  const dir = join(tempDir(), 'hall');
  let core: HallCore;
  beforeAll(async () => {
    core = await HallCore.start({
      dataDir: dir,
      feeds: {
        feeds: [
          { kind: 'cot-tcp', id: 'tak', host: '127.0.0.1', port: 0 },
          { kind: 'cot-udp', id: 'mesh', host: '127.0.0.1', port: 0 },
        ],
        sweepMs: 200,
      },
    });
    await until('feeds open', () => core.desks.feeds.port('tak') !== null && core.desks.feeds.port('mesh') !== null);
  });
  afterAll(async () => core?.dispose());
  const unit = (id: string) => core.hub.get('units', id) as Unit | undefined;
  const health = (id: string) => (core.hub.get('feeds', id) as Feed).health!;

  it('a TAK client is offered version 1, asks for it, is accepted, then streams protobuf: its unit appears as from XML', async () => {
    const sock = connect(core.desks.feeds.port('tak')!, '127.0.0.1');
    let heard = '';
    sock.on('data', (b: Buffer) => (heard += b.toString('latin1')));
    await until('offer', () => heard.includes('t-x-takp-v'));
    const uid = /uid="([^"]+)"/.exec(heard)![1]!;
    expect(heard).toMatch(/<TakProtocolSupport version="1"\/>/);
    // what ATAK sends next (protocol.txt, step 5), then nothing but TAK Protocol once accepted
    const now = new Date().toISOString();
    sock.write(
      `<?xml version="1.0" encoding="UTF-8"?>\n<event version="2.0" uid="${uid}" type="t-x-takp-q" time="${now}" start="${now}" stale="${now}" how="m-g"><point lat="0.0" lon="0.0" hae="0.0" ce="999999" le="999999"/><detail><TakControl><TakRequest version="1"/></TakControl></detail></event>`,
    );
    await until('accepted', () => /t-x-takp-r[^]*<TakResponse status="true"\/>/.test(heard));
    sock.write(retimeTak(readFileSync(fixturePath('takproto/takproto-wintak-stream.bin')), Date.now()));
    await until('unit', () => unit('tak-aa0b0312-b5cd-4c2c-bbbc-9c4c70216261') !== undefined);
    expect(unit('tak-aa0b0312-b5cd-4c2c-bbbc-9c4c70216261')).toMatchObject({
      kind: 'vehicle',
      lat: 43.97957317,
      lon: -66.07737696,
      alt: 26.767999,
      track: { callsign: 'Eliopoli HQ', group: 'Yellow', battery: 100 },
    });
    // a corrupt message on the same stream is refused and counted; the stream goes on
    sock.write(Buffer.from([0xbf, 0x05, 0x12, 0xff, 0xff, 0xff, 0xff]));
    await until('refused', () => health('tak').errors.bad_protobuf === 1);
    sock.destroy();
  });

  it('a mesh datagram (0xbf 1 0xbf) on the UDP feed, beside XML datagrams; another version is refused', async () => {
    const send = (b: Buffer) =>
      new Promise<void>((resolve, reject) => {
        const s = createSocket('udp4');
        s.send(b, core.desks.feeds.port('mesh')!, '127.0.0.1', (err) => {
          s.close();
          if (err) reject(err);
          else resolve();
        });
      });
    await send(retimeTak(readFileSync(fixturePath('takproto/takproto-wintak-mesh.bin')), Date.now()));
    await send(Buffer.from(retime(fixture('cot/fts-marker-a-u-G.xml'), Date.now())));
    await until('both', () => unit('mesh-aa0b0312-b5cd-4c2c-bbbc-9c4c70216261') !== undefined && unit('mesh-a0c524c6-0422-4382-9981-e39d1dc71730') !== undefined);
    const v2 = Buffer.from(readFileSync(fixturePath('takproto/takproto-wintak-mesh.bin')));
    v2[1] = 2;
    await send(v2);
    await until('refused', () => health('mesh').errors.bad_frame === 1);
  });
});

/** What a TAK server or client reads of the hall's XML: each event's attributes and its point and
 *  detail children, read by saxes (a conforming XML parser), not by the hall's own CoT decoder. */
function readEvents(text: string): { event: Record<string, string>; point: Record<string, string>; detail: Record<string, Record<string, string>>; remarks: string }[] {
  const out: ReturnType<typeof readEvents> = [];
  for (const chunk of text.split('</event>').slice(0, -1)) {
    const p = new SaxesParser();
    const ev = { event: {}, point: {}, detail: {}, remarks: '' } as ReturnType<typeof readEvents>[number];
    let inRemarks = false;
    p.on('opentag', (t) => {
      const a = t.attributes as Record<string, string>;
      if (t.name === 'event') ev.event = a;
      else if (t.name === 'point') ev.point = a;
      else if (t.name !== 'detail') ev.detail[t.name] = a;
      inRemarks = t.name === 'remarks';
    });
    p.on('text', (x) => {
      if (inRemarks) ev.remarks += x;
    });
    p.write(chunk.slice(chunk.indexOf('<event')) + '</event>').close();
    out.push(ev);
  }
  return out;
}

describe("the hall's picture for TAK users (send back)", () => {
  const dir = tempDir();
  let core: HallCore;
  let server: ReturnType<typeof createServer>;
  let peer: Socket | null = null;
  let heard = '';
  beforeAll(async () => {
    // a TAK server's part: accept the hall's connection, keep what it sends, relay to it
    server = createServer((s) => {
      peer = s;
      s.on('data', (b: Buffer) => (heard += b.toString('utf8')));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      feeds: { hallId: '331000', sweepMs: 200, feeds: [{ kind: 'tak-server', id: 'tak', host: '127.0.0.1', port: (server.address() as { port: number }).port, intervalS: 1 }] },
    });
  });
  afterAll(async () => {
    await core?.dispose();
    peer?.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const units = () => core.hub.items('units') as Unit[];

  it("a TAK server receives the hall's teams and depots as friendly units, and its incidents; a closed incident is deleted", async () => {
    const team = units().find((u) => u.kind === 'fire-rescue')!;
    const depot = units().find((u) => u.kind === 'depot')!;
    await until('a round', () => heard.includes(`uid="beacon.331000.${team.id}"`) && heard.includes(`uid="beacon.331000.${depot.id}"`));
    const round = readEvents(heard);
    const mine = round.find((e) => e.event.uid === `beacon.331000.${team.id}`)!;
    expect(mine.event).toMatchObject({ type: 'a-f-G-U-C', how: 'm-g' });
    expect(Number(mine.point.lat)).toBe(team.lat);
    expect(Number(mine.point.lon)).toBe(team.lon);
    expect(mine.detail.contact!.callsign).toBe(team.name.zh);
    expect(mine.remarks).toMatch(/^消防救援 · /);
    expect(Date.parse(mine.event.stale!) - Date.parse(mine.event.time!)).toBe(3000); // three rounds
    expect(round.find((e) => e.event.uid === `beacon.331000.${depot.id}`)?.event.type).toBe('a-f-G-U-S');
    // an incident reported in the hall reaches the field; closed, it is deleted there
    const c = portClient(core, 'window:board', '张伟');
    const { id } = await c.cmd<{ id: string }>('incident.report', { kind: 'landslide', title: '临海括苍镇山体滑坡', severity: 'II', lat: 28.85, lon: 121.12 });
    heard = '';
    await until('the incident', () => heard.includes(`beacon.331000.${id}`));
    const inc = readEvents(heard).find((e) => e.event.uid === `beacon.331000.${id}`)!;
    expect(inc.event.type).toBe('b-m-p-s-m');
    expect(inc.detail.contact!.callsign).toBe('临海括苍镇山体滑坡');
    expect(inc.detail.color!.argb).toBe(String(-32768)); // II: orange
    await c.cmd('incident.close', { id });
    heard = '';
    await until('the deletion', () => heard.includes('t-x-d-d'));
    const del = readEvents(heard).find((e) => e.event.type === 't-x-d-d')!;
    expect(del.detail.link).toMatchObject({ uid: `beacon.331000.${id}`, type: 'b-m-p-s-m', relation: 'none' });
    expect(del.detail).toHaveProperty('__forcedelete');
    // by command, the hall reaches only where the operator allowed, and never names files on its disk
    expect(await c.fail('feed.add', { config: { kind: 'tak-server', id: 'far', host: '10.9.9.9' } })).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/allow-outbound/) });
    expect((await c.fail('feed.add', { config: { kind: 'tak-server', id: 'tls', host: '127.0.0.1', certFile: '/etc/shadow', keyFile: '/etc/shadow', caFile: '/etc/shadow' } })).code).toBe('forbidden');
    c.close();
    const f = core.hub.get('feeds', 'tak') as Feed;
    expect(f.state).toBe('online');
    expect(f.health!.sent).toBeGreaterThan(0);
  });

  it("what the server relays is heard (an ATAK 911 raises an alert); the hall's own events coming back are not", async () => {
    peer!.write(retime(fixture('cot/ftstest-911-alert-b-a-o-tbl.xml'), Date.now()));
    const echo = heard.slice(0, heard.indexOf('</event>') + 8);
    peer!.write(echo);
    await until('the alert', () => (core.hub.items('alerts') as Alert[]).some((a) => a.feed === 'tak' && a.callsign === 'corvo'));
    await new Promise((r) => setTimeout(r, 300));
    expect(units().filter((u) => u.id.startsWith('tak-beacon.'))).toEqual([]);
  });
});

describe('two halls on one TAK mesh (multicast on loopback), one speaking TAK Protocol', () => {
  const dir = tempDir();
  let a: HallCore;
  let b: HallCore;
  beforeAll(async () => {
    const port = await freePort();
    const mesh = { kind: 'tak-mesh' as const, id: 'mesh', group: '239.2.3.1', port, host: '127.0.0.1', intervalS: 1 };
    a = await HallCore.start({ dataDir: join(dir, 'a'), feeds: { hallId: '331000', sweepMs: 200, feeds: [{ ...mesh, protocol: 'tak' }] } });
    b = await HallCore.start({ dataDir: join(dir, 'b'), feeds: { hallId: '331082', sweepMs: 200, feeds: [{ ...mesh, teamKind: 'fire-rescue' }] } });
  });
  afterAll(async () => {
    await a?.dispose();
    await b?.dispose();
  });

  it("each hall sees the other's teams where they are; neither sees itself twice", async () => {
    const team = (a.hub.items('units') as Unit[]).find((u) => u.kind === 'professional')!;
    await until('a team of A in B', () => b.hub.get('units', `mesh-beacon.331000.${team.id}`) !== undefined);
    expect(b.hub.get('units', `mesh-beacon.331000.${team.id}`)).toMatchObject({ lat: team.lat, lon: team.lon, kind: 'fire-rescue', track: { callsign: team.name.zh } });
    await until('a team of B in A', () => (a.hub.items('units') as Unit[]).some((u) => u.id.startsWith('mesh-beacon.331082.')));
    expect((a.hub.items('units') as Unit[]).filter((u) => u.id.startsWith('mesh-beacon.331000.'))).toEqual([]);
    expect((a.hub.get('feeds', 'mesh') as Feed).health!.errors).toEqual({});
  });
});
