// kill -9 of the hall, for real (a `beacon serve` child process), in the middle of ingest and in the
// middle of a backlog drain. Every change the hall acknowledged before the kill must be in the store
// after restart, and reach the province exactly once (by idempotency key), none lost.
import mqtt from 'mqtt';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { UplinkMessage } from '../../main/core/uplink/sender.ts';
import { Broker, freePort, MOSQUITTO } from '../helpers/mosquitto.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

/** A raw hub console, signed in as a duty officer: fires commands without waiting, records which
 *  ones the hall acknowledged. */
async function console_(hall: Served) {
  const ws = new WebSocket(hall.hubUrl);
  ws.on('error', () => undefined); // the hall is killed under it
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ t: 'hello', v: 1, client: 'fault-test', ticket: await hall.ticket('duty') }));
  const acked = new Map<string, number>(); // command id -> journal event id
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as { t: string; id?: string; ok?: boolean; value?: { event: number } };
    if (m.t === 'result' && m.ok && m.id) acked.set(m.id, m.value!.event);
  });
  let n = 0;
  return {
    acked,
    status(unit: string, status: string) {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'cmd', id: `c${n++}`, name: 'unit.setStatus', args: { id: unit, status } }));
    },
    move(unit: string, lat: number) {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'cmd', id: `c${n++}`, name: 'unit.move', args: { id: unit, lat, lon: 120.5 } }));
    },
    close: () => ws.terminate(),
  };
}

async function journal(hall: Served): Promise<{ id: number; kind: string }[]> {
  const ws = new WebSocket(hall.hubUrl);
  await new Promise((r) => ws.once('open', r));
  const out: { id: number; kind: string }[] = [];
  ws.send(JSON.stringify({ t: 'hello', v: 1, client: 'journal-reader' }));
  for (let after = 0; ;) {
    ws.send(JSON.stringify({ t: 'cmd', id: `j${after}`, name: 'journal.read', args: { after, limit: 1000 } }));
    const res = await new Promise<{ value: { events: { id: number; kind: string }[]; last: number } }>((resolve) => {
      const on = (d: Buffer) => {
        const m = JSON.parse(d.toString()) as { t: string; id: string; value: { events: { id: number; kind: string }[]; last: number } };
        if (m.t === 'result' && m.id === `j${after}`) {
          ws.off('message', on);
          resolve(m);
        }
      };
      ws.on('message', on);
    });
    out.push(...res.value.events);
    if (res.value.events.length < 1000) break;
    after = res.value.last;
  }
  ws.close();
  return out;
}

describe.skipIf(!existsSync(MOSQUITTO))('kill -9 of the hall (real process, real broker)', () => {
  const dir = tempDir();
  let broker: Broker;
  let hall: Served | null = null;
  let province: mqtt.MqttClient | null = null;
  afterAll(async () => {
    await hall?.stop('SIGKILL');
    await province?.endAsync(true);
    await broker?.stop();
  });

  it('keeps every acknowledged change and delivers it exactly once, through kills mid-ingest and mid-drain', async () => {
    broker = new Broker(await freePort(), join(dir, 'broker'));
    await broker.start();
    const applied = new Map<string, UplinkMessage>();
    let wire = 0;
    province = await mqtt.connectAsync(broker.url, { clientId: 'province-kill9', clean: false, reconnectPeriod: 200 });
    await province.subscribeAsync('beacon/330000/up/#', { qos: 1 });
    province.on('message', (_t, p) => {
      const m = JSON.parse(p.toString()) as UplinkMessage;
      wire++;
      if (!applied.has(m.key)) applied.set(m.key, m);
    });
    const data = join(dir, 'hall');
    // a console script pouring commands in: past a person's rate (--command-rate raises the limit)
    const args = ['--data', data, '--port', '0', '--province', broker.url, '--hall-id', '330000', '--command-rate', '100000'];
    // the province hall's own unit (the halls below bring their teams: docs/network.md)
    const UNIT = 'depot-330000';
    const acked = new Set<number>();

    // 1. Kill mid-ingest: commands pour in, the hall dies while answering them.
    hall = await serve(args);
    let c = await console_(hall);
    for (let i = 0; i < 3000; i++) c.move(UNIT, 28 + i / 10000);
    await until('some commands acknowledged', () => c.acked.size >= 200);
    await hall.stop('SIGKILL');
    expect(c.acked.size).toBeLessThan(3000); // it really was killed mid-ingest
    for (const e of c.acked.values()) acked.add(e);
    c.close();
    expect(acked.size).toBeGreaterThanOrEqual(200);

    // 2. Kill mid-drain: the bus is away while decisions and positions queue; it returns, and the
    //    hall dies while the backlog is being sent.
    hall = await serve(args);
    await broker.stop();
    c = await console_(hall);
    for (let i = 0; i < 1500; i++) {
      if (i % 10 === 0) c.status(UNIT, i % 20 ? 'en-route' : 'on-site');
      else c.move(UNIT, 29 + i / 10000);
    }
    await until('all queued', () => c.acked.size === 1500);
    for (const e of c.acked.values()) acked.add(e);
    c.close();
    const deliveredBefore = applied.size;
    await broker.start();
    await until('the drain under way', () => applied.size > deliveredBefore + 50);
    await hall.stop('SIGKILL');
    expect(applied.size).toBeLessThan(acked.size); // it really was killed mid-drain

    // 3. Restart: the store holds every acknowledged change, and the rest of the backlog drains.
    hall = await serve(args);
    const events = await journal(hall);
    const ids = new Set(events.map((e) => e.id));
    for (const e of acked) expect(ids.has(e), `acknowledged event ${e} survived the kill`).toBe(true);
    const queued = events.filter((e) => e.kind === 'unit.moved' || e.kind === 'unit.status');
    await until('everything delivered', () => applied.size >= queued.length, 60_000);
    expect(applied.size).toBe(queued.length); // nothing that was never stored, nothing twice
    const delivered = new Set([...applied.values()].map((m) => m.event.id)); // (keys carry the journal's epoch: migration 16)
    for (const e of queued) expect(delivered.has(e.id), `event ${e.id} delivered`).toBe(true);
    console.log(`kill -9: ${acked.size} acknowledged, ${queued.length} stored and delivered once each, ${wire - applied.size} wire duplicates dropped by key, 0 lost`);
    await hall.stop('SIGTERM');
    hall = null;
  }, 180_000);
});
