// What the province sends down, over a real mosquitto: applied once however often it arrives,
// waiting on the bus while the hall is down, and hostile or broken messages refused and counted.
import mqtt from 'mqtt';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Instruction } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { parseDown } from '../../main/core/uplink/downlink.ts';
import { Broker, freePort, MOSQUITTO } from '../helpers/mosquitto.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const msg = (key: string, text: string, extra: object = {}) =>
  JSON.stringify({ v: 1, key, kind: 'instruction', from: '浙江省防指', sentAt: 1_795_000_000_000, body: { text, priority: 'urgent' }, ...extra });

const NOW = Date.UTC(2026, 10, 22);

describe('messages from the province', () => {
  it('are parsed strictly', () => {
    const p = (payload: string | Buffer, topic = 'beacon/331000/down/instruction') => parseDown(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), '331000', NOW);
    expect(p(msg('k1', '立即转移沿海群众'))).toMatchObject({
      ok: true,
      key: 'k1',
      events: [{ kind: 'instruction.received', payload: { instruction: { id: 'k1', text: '立即转移沿海群众', priority: 'urgent', receivedAt: NOW } } }],
    });
    // A typhoon advisory in the hall's form, and risk levels for counties.
    const adv = {
      format: 'beacon.typhoon-advisory/1',
      agency: 'JMA',
      issued: '2019-08-09T12:00:00Z',
      storm: { number: '1909', year: 2019 },
      current: { time: '2019-08-09T12:00:00Z', lat: 27.5, lon: 122, pressure: 940, wind: 48 },
      forecast: [{ time: '2019-08-10T12:00:00Z', lat: 30.5, lon: 120.2 }],
    };
    const down = (kind: string, body: unknown) => JSON.stringify({ v: 1, key: 'd1', kind, from: '浙江省防指', sentAt: 1_565_352_000_000, body });
    expect(p(down('typhoon.advisory', adv), 'beacon/331000/down/typhoon')).toMatchObject({
      ok: true,
      events: [
        { kind: 'typhoon.advisory', payload: { advisory: { id: 'tc-2019-1909/JMA/2019-08-09T12:00:00.000Z', agency: 'JMA' } } },
        // a notice among the instructions from above, for the duty officer to read (its receipt goes up)
        {
          kind: 'instruction.received',
          key: 'd1:notice',
          payload: {
            instruction: { id: 'd1', advisory: 'tc-2019-1909/JMA/2019-08-09T12:00:00.000Z', text: '台风报文：1909号台风 JMA 08/09 20:00 发布，中心 27.5°N 122.0°E，48 m/s，940 hPa，预报 1 个时次' },
          },
        },
      ],
    });
    expect(p(down('typhoon.advisory', { ...adv, forecast: [{ time: '2019-08-09T06:00:00Z', lat: 1, lon: 1 }] }))).toMatchObject({
      ok: false,
      reason: 'bad_message',
      message: expect.stringMatching(/forecast.0.time must be after/),
    });
    const levels = { now: 'blue', h3: 'yellow', h6: 'orange', h24: 'red', h48: 'red' };
    expect(
      p(
        down('risk.levels', {
          basis: 'province typhoon analysis',
          items: [
            { code: '331081', levels },
            { code: '331082', levels },
          ],
        }),
      ),
    ).toMatchObject({
      ok: true,
      events: [
        { kind: 'risk.set', key: 'd1:331081', payload: { risk: { id: '331081', levels, by: '浙江省防指' } } },
        { kind: 'risk.set', key: 'd1:331082' },
      ],
    });
    expect(p(down('risk.levels', { basis: 'x', items: [{ code: '331081', levels: { ...levels, now: 'purple' } }] }))).toMatchObject({ ok: false, reason: 'bad_message' });
    expect(p(msg('k1', 'x'), 'beacon/330300/down/instruction')).toMatchObject({ ok: false, reason: 'wrong_hall' });
    expect(p('{not json')).toMatchObject({ ok: false, reason: 'not_json' });
    expect(p(JSON.stringify({ v: 1, key: 5, kind: 'instruction', from: 'x', sentAt: 1, body: {} }))).toMatchObject({ ok: false, reason: 'bad_message' });
    expect(p(msg('k2', 'x', { kind: 'launch' }))).toMatchObject({ ok: false, reason: 'unknown_kind' });
    expect(p(msg('k3', ''))).toMatchObject({ ok: false, reason: 'bad_message' });
    expect(p(Buffer.alloc(70 * 1024, 0x20))).toMatchObject({ ok: false, reason: 'too_large' });
  });
});

describe.skipIf(!existsSync(MOSQUITTO))('downlink over a real broker', () => {
  const dir = tempDir();
  let broker: Broker;
  let hall: HallCore | null = null;
  let province: mqtt.MqttClient | null = null;
  afterAll(async () => {
    await province?.endAsync(true);
    await hall?.dispose();
    await broker?.stop();
  });

  it('applies each instruction once, keeps those sent while the hall was down, refuses junk', async () => {
    broker = new Broker(await freePort(), join(dir, 'broker'));
    await broker.start();
    const opts = { dataDir: join(dir, 'hall'), hub: { tickMs: 10 }, uplink: { url: broker.url, hallId: '331000', reconnectMs: 200 } };
    hall = await HallCore.start(opts);
    await until('hall connected', () => hall!.stats().uplink?.state === 'online');
    await new Promise((r) => setTimeout(r, 200)); // its subscription is in place
    province = await mqtt.connectAsync(broker.url, { clientId: 'province-down', protocolVersion: 5 });
    const send = (payload: string | Buffer, topic = 'beacon/331000/down/instruction') => province!.publishAsync(topic, payload, { qos: 1 });

    await send(msg('zj-2019-0809-001', '立即转移沿海低洼地区群众'));
    await send(msg('zj-2019-0809-001', '立即转移沿海低洼地区群众')); // the province's own retry
    await send('{not json');
    await send(msg('x', 'x', { kind: 'launch' }));
    await send(JSON.stringify({ v: 1, key: 'y', kind: 'instruction', from: 'x', sentAt: 'yesterday', body: { text: 'x' } }));
    await send(Buffer.alloc(100 * 1024, 0x41));
    await until('applied once, junk refused', () => {
      const c = hall!.desks.uplink.counters;
      return c.downApplied === 1 && Object.values(c.downRejected).reduce((a, b) => a + b, 0) === 4;
    });
    expect(hall.desks.uplink.counters.downDuplicates).toBe(1);
    expect(hall.desks.uplink.counters.downRejected).toEqual({ not_json: 1, unknown_kind: 1, bad_message: 1, too_large: 1 });
    hall.hub.flush();
    expect(hall.hub.items('instructions') as Instruction[]).toEqual([expect.objectContaining({ id: 'zj-2019-0809-001', from: '浙江省防指', priority: 'urgent' })]);

    // The hall goes down; the province sends; the hall comes back and gets it, once.
    await hall.dispose();
    hall = null;
    await send(msg('zj-2019-0809-002', '各县做好防台准备'));
    hall = await HallCore.start(opts);
    const h = hall;
    await until('the queued instruction', () => (h.hub.flush(), h.hub.items('instructions').length === 2));
    const journal = (await h.store.api.readJournal(0, 100_000)).filter((e) => e.kind === 'instruction.received');
    expect(journal.map((e) => [e.origin, e.key])).toEqual([
      ['province', 'zj-2019-0809-001'],
      ['province', 'zj-2019-0809-002'],
    ]);

    // Typhoon advisories and risk levels come down the same way, journaled once.
    const adv = {
      format: 'beacon.typhoon-advisory/1',
      agency: 'JMA',
      issued: '2019-08-09T12:00:00Z',
      storm: { number: '1909', year: 2019 },
      current: { time: '2019-08-09T12:00:00Z', lat: 27.5, lon: 122, pressure: 940, wind: 48, radii: { r7: { ne: 300, se: 280, sw: 250, nw: 260 } } },
      forecast: [{ time: '2019-08-10T12:00:00Z', lat: 30.5, lon: 120.2, wind: 25 }],
    };
    const down = (key: string, kind: string, body: unknown) => JSON.stringify({ v: 1, key, kind, from: '浙江省防指', sentAt: 1_565_352_000_000, body });
    const levels = { now: 'orange', h3: 'red', h6: 'red', h24: 'red', h48: 'red' };
    await send(down('zj-adv-1', 'typhoon.advisory', adv), 'beacon/331000/down/typhoon');
    await send(down('zj-adv-1', 'typhoon.advisory', adv), 'beacon/331000/down/typhoon');
    await send(down('zj-risk-1', 'risk.levels', { basis: 'province typhoon analysis', items: [{ code: '331081', levels }] }), 'beacon/331000/down/risk');
    await send(down('zj-risk-2', 'risk.levels', { basis: 'x', items: [{ code: '990000', levels }] }), 'beacon/331000/down/risk');
    await until('advisory and risk applied', () => (h.hub.flush(), h.hub.items('advisories').some((a) => (a as { agency: string }).agency === 'JMA') && h.hub.items('risks').length === 1));
    await until('unknown place refused', () => h.desks.uplink.counters.downRejected.unknown_place === 1);
    expect(h.hub.items('risks')).toEqual([expect.objectContaining({ id: '331081', levels, by: '浙江省防指', basis: 'province typhoon analysis' })]);
    const kinds = (await h.store.api.readJournal(0, 100_000)).filter((e) => e.origin === 'province').map((e) => e.kind);
    expect(kinds.filter((k) => k === 'typhoon.advisory')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'risk.set')).toHaveLength(1);
  });
});
