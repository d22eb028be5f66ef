// What TAK devices send, over real sockets into a real hall, from the fixture corpus of real
// producers (tests/fixtures/README.md): ATAK's emergency alerts and their cancel, chat and routes,
// markers of other affiliations.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, Feed, Incident, Unit } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { fixture, fixturePath, retime, retimeTak } from '../helpers/fixtures.ts';
import { portClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

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
