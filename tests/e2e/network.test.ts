// The network board in the browser (issue 20): a province hall served on a real mosquitto bus; halls
// below it speak on the bus (here an MQTT client publishing their documented heartbeats, standing for
// the city and county halls that tests/integration/network.test.ts runs for real).
import mqtt from 'mqtt';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, offlineContext } from '../helpers/browser.ts';
import { Broker, freePort } from '../helpers/mosquitto.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-e2e-network-');
let broker: Broker;
let server: Served;
let browser: Browser;
let board: Page;
let bus: mqtt.MqttClient;
let beating = new Set(['331000', '331082']);
let timer: NodeJS.Timeout;

beforeAll(async () => {
  broker = new Broker(await freePort(), join(dir, 'bus'));
  await broker.start();
  server = await serve(['--data', join(dir, 'hall'), '--port', '0', '--province', broker.url, '--hall-id', '330000']);
  bus = await mqtt.connectAsync(broker.url, { clientId: 'children' });
  const beat = () => {
    for (const hall of beating)
      void bus.publishAsync(
        `beacon/${hall}/up/heartbeat`,
        JSON.stringify({ v: 1, hall, at: Date.now(), wan: 'online', outbox: { depth: hall === '331082' ? 12 : 0, oldest: hall === '331082' ? Date.now() - 5000 : null }, responseLevel: null }),
      );
  };
  timer = setInterval(beat, 500);
  browser = await launch();
  const ctx = await offlineContext(browser, { width: 1280, height: 900 });
  await server.trust(ctx.context, 'duty');
  board = await ctx.context.newPage();
  await board.goto(`${server.url}/?role=board`);
}, 120_000);

afterAll(async () => {
  clearInterval(timer);
  await bus?.endAsync(true);
  await browser?.close();
  await server?.stop();
  await broker?.stop();
});

describe('下级指挥中心: the halls below, as their heartbeats show them', () => {
  const row = (code: string) => board.locator(`[data-test="network-board"] tr[data-hall="${code}"]`);
  it("lists the province's cities and counties; those that beat are online, with their outbox; the rest not connected", async () => {
    await expect.poll(() => row('331082').getAttribute('data-state'), { timeout: 15_000 }).toBe('online');
    expect(await row('331000').getAttribute('data-state')).toBe('online');
    expect(await row('331082').textContent()).toMatch(/临海.*331082.*在线.*正常.*12/);
    expect(await row('330100').getAttribute('data-state')).toBe('unknown');
    expect(await board.locator('[data-test="network-summary"]').textContent()).toMatch(/^2 在线 · 0 降级 · 0 静默 · 0 离线 · \d+ 未接入$/);
  });

  it('a hall that stops beating reads silent within seconds, first in the list, with one key to call it', async () => {
    beating = new Set(['331000']);
    await expect.poll(() => row('331082').getAttribute('data-state'), { timeout: 10_000 }).toBe('silent');
    expect(await row('331082').locator('[data-test="hall-state"]').textContent()).toBe('静默');
    expect(await board.locator('[data-test="network-board"] tbody tr').first().getAttribute('data-hall')).toBe('331082');
    expect(await row('331082').locator('[data-test="call-hall-331082"]').count()).toBe(1);
  });

  it('a leader sends an instruction to Linhai from the board; its receipts come back up: delivered, then read by whom', async () => {
    const leader = await offlineContext(browser, { width: 1280, height: 900 });
    await server.trust(leader.context, 'leader');
    const page = await leader.context.newPage();
    await page.goto(`${server.url}/?role=board`);
    // Linhai's part, as its hall would do it: take the message from its down topic, answer with receipts
    const got: { key: string; kind: string; body: { text: string } }[] = [];
    await bus.subscribeAsync('beacon/331082/down/#', { qos: 1 });
    bus.on('message', (topic, p) => {
      if (topic.startsWith('beacon/331082/down/')) got.push(JSON.parse(p.toString()) as { key: string; kind: string; body: { text: string } });
    });
    beating = new Set(['331000', '331082']);
    await page.locator('[data-test="order-text"]').fill('立即转移括苍镇地质灾害点群众');
    await page.locator('[data-test="order-target"]').selectOption('331082');
    await page.locator('[data-test="order-urgent"]').check();
    await page.locator('[data-test="order-send"]').click();
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(1);
    expect(got[0]!.body.text).toBe('立即转移括苍镇地质灾害点群众');
    const receipt = page.locator('[data-test="order-receipt"][data-hall="331082"]');
    expect(await receipt.textContent()).toMatch(/未送达/);
    const up = (seq: number, kind: string, payload: unknown) =>
      bus.publishAsync(
        'beacon/331082/up/receipts',
        JSON.stringify({
          v: 1,
          hall: '331082',
          key: `331082:${seq}`,
          seq,
          category: 'receipts',
          event: { id: seq, ts: Date.now(), kind, subject: `instruction:${got[0]!.key}`, payload, origin: 'uplink' },
        }),
        { qos: 1 },
      );
    await up(901, 'instruction.delivered', { id: got[0]!.key, at: Date.now() });
    await expect.poll(() => receipt.textContent(), { timeout: 10_000 }).toMatch(/已送达/);
    await up(902, 'instruction.read', { id: got[0]!.key, by: '临海值班员', at: Date.now() });
    await expect.poll(() => receipt.textContent(), { timeout: 10_000 }).toMatch(/临海值班员 已阅/);
    // a typhoon advisory the province holds (Lekima's, from the demonstration), passed to Linhai
    await page.locator('[data-test="order-what"]').selectOption('advisory');
    const choice = page.locator('[data-test="order-advisory"]');
    expect(await choice.locator('option').first().textContent()).toMatch(/^利奇马 · CMA · /); // the newest first
    await choice.selectOption({ index: 0 });
    await page.locator('[data-test="order-send"]').click();
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(2);
    expect(got[1]).toMatchObject({ kind: 'typhoon.advisory', body: { format: 'beacon.typhoon-advisory/1', agency: 'CMA', storm: { number: '1909', name: { zh: '利奇马' } } } });
    const sent = page.locator('.sent').first();
    await expect.poll(() => sent.locator('[data-test="order-kind"]').textContent()).toBe('台风报文');
    expect(await sent.textContent()).toMatch(/台风报文：利奇马（1909） CMA/);
    expect(leader.problems).toEqual([]);
    await leader.context.close();
  });

  it("a county's roster joins the board's forces under a scope: this hall, with the halls below, or that county", async () => {
    const unit = (n: number) => ({
      id: `fire-rescue-331000-9${n}`,
      kind: 'fire-rescue',
      name: { zh: `临海消防${n}`, en: `Linhai fire ${n}` },
      home: '331000',
      lat: 28.85,
      lon: 121.14,
      alt: null,
      status: n === 1 ? 'en-route' : 'standby',
      members: 20,
      stock: null,
      updated: Date.now(),
      demo: false,
    });
    await bus.publishAsync(
      'beacon/331082/up/units',
      JSON.stringify({
        v: 1,
        hall: '331082',
        key: '331082:950',
        seq: 950,
        category: 'units',
        event: { id: 950, ts: Date.now(), kind: 'unit.roster', subject: 'hall:331082', payload: { units: [unit(1), unit(2)] }, origin: 'network' },
      }),
      { qos: 1 },
    );
    const scope = board.locator('[data-test="board-scope"]');
    await expect.poll(() => scope.count(), { timeout: 10_000 }).toBe(1);
    const fire = () => board.locator('[data-test="board-teams"] tbody tr').first().textContent();
    // by default the network's picture: the province's own (its reserve) and the halls' below
    await expect.poll(fire, { timeout: 10_000 }).toMatch(/消防救援\s*2\s*1\s*1/); // 2 in all: 1 standing by, 1 en route
    await scope.selectOption('own');
    await expect.poll(fire).toBe('消防救援00000'); // none: the province's teams are the cities'
    await scope.selectOption('331082');
    await expect.poll(fire).toMatch(/消防救援\s*2\s*1\s*1/);
    await scope.selectOption('331000'); // Taizhou with its counties: Linhai's roll up through it
    await expect.poll(fire).toMatch(/消防救援\s*2\s*1\s*1/);
  });

  it('the globe filters by hall: the network, this hall, or a hall below with those below it; units and incidents alike', async () => {
    const publish = (hall: string, seq: number, category: string, kind: string, payload: unknown) =>
      bus.publishAsync(
        `beacon/${hall}/up/${category}`,
        JSON.stringify({ v: 1, hall, key: `${hall}:${seq}`, seq, category, event: { id: seq, ts: Date.now(), kind, subject: kind, payload, origin: 'network' } }),
        { qos: 1 },
      );
    const taizhouTeam = {
      id: 'aviation-331000-01',
      kind: 'aviation',
      name: { zh: '台州航空救援队1', en: 'Taizhou aviation 1' },
      home: '331000',
      lat: 28.66,
      lon: 121.42,
      alt: null,
      status: 'standby',
      members: 12,
      stock: null,
      updated: Date.now(),
      demo: false,
    };
    await publish('331000', 960, 'units', 'unit.roster', { units: [taizhouTeam] });
    const incident = {
      id: 'inc-lh-1',
      kind: 'landslide',
      title: '括苍镇山体滑坡',
      severity: 'III',
      lat: 28.8,
      lon: 120.95,
      county: '331082',
      status: 'open',
      reportedBy: '临海值班员',
      reportedAt: Date.now(),
      closedAt: null,
      closedBy: null,
      demo: false,
    };
    await publish('331082', 961, 'incidents', 'incident.reported', { incident });
    const page = await board.context().newPage();
    await page.goto(`${server.url}/?role=globe`);
    const globe = page.locator('[data-test="globe"]');
    // the province's reserve, Linhai's two teams, Taizhou's aviation team; Linhai's incident
    await expect.poll(() => globe.getAttribute('data-units'), { timeout: 60_000 }).toBe('4');
    await expect.poll(() => globe.getAttribute('data-incidents'), { timeout: 15_000 }).toBe('1');
    expect(await globe.getAttribute('data-units-shown')).toBe('4');
    const scope = page.locator('[data-test="globe-hall-scope"]');
    const shown = async (choice: string) => {
      await scope.selectOption(choice);
      await expect.poll(() => globe.getAttribute('data-hall-scope')).toBe(choice);
      return [await globe.getAttribute('data-units-shown'), await globe.getAttribute('data-incidents')];
    };
    expect(await shown('own')).toEqual(['1', '0']);
    expect(await shown('331082')).toEqual(['2', '1']);
    expect(await shown('331000')).toEqual(['3', '1']); // Taizhou's own and its county's
    expect(await shown('all')).toEqual(['4', '1']);
    await page.close();
  });
});
