// The hall network (issue 20), first slice: a province, a city and a county hall, each on its own
// real mosquitto, the county's broker bridged to the city's and the city's to the province's as a
// deployment would bridge them. What a county reports reaches its city and the province, with its
// origin; heartbeats give every parent its children's state, and silence shows within seconds.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HallNode, Incident, Instruction, Order, Response, Sheet, Task, Unit } from '../../common/domain.ts';
import { recipientState } from '../../common/sheets.ts';
import { HallCore } from '../../main/core/hall.ts';
import mqtt from 'mqtt';
import { mosquittoAcl } from '../../main/core/network/acl.ts';
import { Broker, freePort } from '../helpers/mosquitto.ts';
import { portClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';
import { advisory } from '../helpers/advisory.ts';

describe('three halls on bridged buses: province 330000, Taizhou 331000, Linhai 331082', () => {
  const dir = tempDir();
  const brokers: Record<string, Broker> = {};
  const halls: Record<string, HallCore> = {};
  const startHall = async (code: string) => {
    halls[code] = await HallCore.start({
      dataDir: join(dir, code),
      uplink: { url: brokers[code]!.url, hallId: code, reconnectMs: 200, keepaliveSeconds: 2 },
      network: { hallId: code },
    });
  };
  beforeAll(async () => {
    for (const code of ['330000', '331000', '331082']) brokers[code] = new Broker(await freePort(), join(dir, `bus-${code}`));
    // the county's bus carries its own uplink up and its down messages down; the city's all of its tree's
    brokers['331082']!.configure({ anonymous: true, bridge: { name: 'bridge-331082', port: brokers['331000']!.port, topics: ['beacon/331082/up/# out 1', 'beacon/331082/down/# in 1'] } });
    brokers['331000']!.configure({ anonymous: true, bridge: { name: 'bridge-331000', port: brokers['330000']!.port, topics: ['beacon/+/up/# out 1', 'beacon/+/down/# in 1'] } });
    for (const b of Object.values(brokers)) await b.start();
    for (const code of ['330000', '331000', '331082']) await startHall(code);
  }, 60_000);
  afterAll(async () => {
    for (const h of Object.values(halls)) await h.dispose();
    for (const b of Object.values(brokers)) await b.stop();
  });
  const node = (at: string, code: string) => halls[at]!.hub.get('halls', code) as HallNode | undefined;

  it('each parent sees the halls below it online from their heartbeats; a county sees none', async () => {
    // (heard: a heartbeat, which says the hall's WAN; any message also says it is alive)
    const beating = (at: string, code: string) => node(at, code)?.state === 'online' && node(at, code)?.wan != null;
    await until('Taizhou and Linhai online at the province', () => beating('330000', '331000') && beating('330000', '331082'));
    await until('Linhai online at Taizhou', () => beating('331000', '331082'));
    expect(node('330000', '331082')).toMatchObject({ level: 'county', parent: '331000', wan: expect.any(String), outbox: { depth: expect.any(Number) } });
    // the city hall follows its own counties only; another city is not its
    expect(node('331000', '330100')).toBeUndefined();
    expect(node('330000', '330100')).toMatchObject({ state: 'unknown' }); // Hangzhou: no hall on this bus
    expect(halls['331082']!.hub.items('halls')).toEqual([]);
  });

  it("each hall's units reach the halls above it, marked with the hall: Linhai's teams at Taizhou and the province", async () => {
    await until("Linhai's roster at Taizhou and the province", () =>
      ['331000', '330000'].every((at) => (halls[at]!.hub.items('units') as Unit[]).some((u) => u.hall === '331082' && u.id === '331082/depot-331082')),
    );
    const atCity = (halls['331000']!.hub.items('units') as Unit[]).filter((u) => u.hall === '331082');
    expect(atCity.length).toBeGreaterThan(1);
    expect(atCity.every((u) => u.id.startsWith('331082/') && u.home === '331000')).toBe(true);
    // each hall seeds its own (docs/network.md): Taizhou's own and Linhai's are disjoint, and
    // Linhai holds none of its neighbours'
    const cityOwn = new Set((halls['331000']!.hub.items('units') as Unit[]).filter((u) => !u.hall).map((u) => u.id));
    expect(atCity.filter((u) => cityOwn.has(u.id.slice('331082/'.length)))).toEqual([]);
    expect((halls['331082']!.hub.items('units') as Unit[]).every((u) => u.home === '331000')).toBe(true);
    expect(halls['331082']!.hub.get('hall', 'hall')).toMatchObject({ name: { zh: '临海市应急指挥中心' } });
    // Taizhou's own units reach the province as Taizhou's; the province sends no roster (no hall above)
    await until("Taizhou's at the province", () => (halls['330000']!.hub.items('units') as Unit[]).some((u) => u.hall === '331000'));
    expect((halls['331000']!.hub.items('units') as Unit[]).some((u) => u.hall === '330000')).toBe(false);
    // a dispatch in Linhai moves its team at the province too
    const team = atCity.find((u) => u.kind !== 'depot')!;
    const own = team.id.slice('331082/'.length);
    const c = portClient(halls['331082']!, 'window:board', '临海值班员');
    await c.cmd('unit.setStatus', { id: own, status: 'en-route' });
    await c.cmd('unit.move', { id: own, lat: 28.9, lon: 121.2 });
    c.close();
    await until('dispatched and moved at the province', () => {
      const u = halls['330000']!.hub.get('units', team.id) as Unit | undefined;
      return u?.status === 'en-route' && u.lat === 28.9;
    });
  });

  it('an incident reported in Linhai appears at Taizhou and at the province, from Linhai', async () => {
    const c = portClient(halls['331082']!, 'window:board', '临海值班员');
    const { id } = await c.cmd<{ id: string }>('incident.report', { kind: 'landslide', title: '括苍镇山体滑坡', severity: 'III', lat: 28.85, lon: 121.12 });
    c.close();
    for (const at of ['331000', '330000']) {
      await until(`the incident at ${at}`, () => halls[at]!.hub.get('incidents', `331082/${id}`) !== undefined);
      expect(halls[at]!.hub.get('incidents', `331082/${id}`)).toMatchObject({ hall: '331082', title: '括苍镇山体滑坡', status: 'open', reportedBy: '临海值班员' } satisfies Partial<Incident>);
      const journal = await halls[at]!.store.api.readJournal(0, 100_000);
      expect(journal.filter((e) => e.subject === `incident:331082/${id}`).map((e) => e.origin)).toEqual(['hall:331082']);
    }
    // the city does not send its county's incident up again: the province holds it once
    const prov = await halls['330000']!.store.api.readJournal(0, 100_000);
    expect(prov.filter((e) => e.kind === 'incident.reported' && (e.payload as { incident: Incident }).incident.title === '括苍镇山体滑坡')).toHaveLength(1);
  });

  it('the province instructs Linhai; it arrives once, and its receipts come back: delivered, then read by whom', async () => {
    const prov = portClient(halls['330000']!, 'window:board', '省值班长');
    const { id, to } = await prov.cmd<{ id: string; to: string[] }>('order.send', { text: '立即转移括苍镇地质灾害点群众', priority: 'urgent', to: { hall: '331082' } });
    expect(to).toEqual(['331082']);
    const key = `330000:${id}`;
    await until('at Linhai', () => halls['331082']!.hub.get('instructions', key) !== undefined);
    expect(halls['331082']!.hub.get('instructions', key)).toMatchObject({
      text: '立即转移括苍镇地质灾害点群众',
      priority: 'urgent',
      from: expect.stringMatching(/省值班长$/),
    } satisfies Partial<Instruction>);
    await until('delivered receipt', () => (halls['330000']!.hub.get('orders', id) as Order).receipts['331082']!.delivered !== null);
    const county = portClient(halls['331082']!, 'window:board', '临海值班员');
    await county.cmd('instruction.read', { id: key });
    expect((await county.fail('instruction.read', { id: key })).code).toBe('invalid_args'); // read once
    county.close();
    await until('read receipt', () => (halls['330000']!.hub.get('orders', id) as Order).receipts['331082']!.read !== null);
    expect((halls['330000']!.hub.get('orders', id) as Order).receipts['331082']).toMatchObject({ readBy: '临海值班员' });
    // Taizhou, a city, does not take its county's receipt for an order that is not its own
    expect(halls['331000']!.hub.items('orders')).toEqual([]);
    // to all of a city's counties: each its own copy; those with no hall on the bus wait in the outbox
    const city = portClient(halls['331000']!, 'window:board', '台州值班长');
    const all = await city.cmd<{ id: string; to: string[] }>('order.send', { text: '各县区启动防台风IV级应急响应', priority: 'normal', to: { all: true } });
    expect(all.to).toContain('331082');
    expect(all.to.length).toBeGreaterThan(5);
    await until('at Linhai from Taizhou', () => halls['331082']!.hub.get('instructions', `331000:${all.id}`) !== undefined);
    await until('delivered there', () => (halls['331000']!.hub.get('orders', all.id) as Order).receipts['331082']!.delivered !== null);
    expect(
      Object.entries((halls['331000']!.hub.get('orders', all.id) as Order).receipts)
        .filter(([, r]) => r.delivered !== null)
        .map(([c]) => c),
    ).toEqual(['331082']);
    expect((await city.fail('order.send', { text: 'x', priority: 'normal', to: { hall: '330100' } })).code).toBe('not_found'); // Hangzhou is not Taizhou's
    city.close();
    prov.close();
  });

  it('the province passes a typhoon advisory to Taizhou and its counties: the storm appears there, the duty officer reads the notice, the receipts come back', async () => {
    const prov = portClient(halls['330000']!, 'window:board', '省值班长');
    const issued = new Date(Date.now() - 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const { id: advisoryId } = await prov.cmd<{ id: string }>('typhoon.advisory', { advisory: advisory('CMA', issued) });
    const { id, to } = await prov.cmd<{ id: string; to: string[] }>('advisory.forward', { id: advisoryId, to: { city: '331000' } });
    expect(to).toContain('331000');
    expect(to).toContain('331082');
    const order = halls['330000']!.hub.get('orders', id) as Order;
    expect(order).toMatchObject({
      kind: 'advisory',
      advisory: advisoryId,
      text: expect.stringMatching(/^台风报文：演示（2614） CMA .* 发布，中心 24\.5°N 126\.0°E，45 m\/s，950 hPa，预报 2 个时次$/),
    });
    const key = `330000:${id}`;
    for (const at of ['331000', '331082']) {
      await until(`the advisory at ${at}`, () => halls[at]!.hub.get('advisories', advisoryId) !== undefined);
      // the whole advisory, and the storm it belongs to, which this hall had never heard of
      expect(halls[at]!.hub.get('advisories', advisoryId)).toMatchObject({
        agency: 'CMA',
        current: { lat: 24.5, lon: 126, wind: 45, radii: { r12: { ne: 60 } } },
        forecast: [{ error: 70 }, { error: 120 }],
      });
      expect(halls[at]!.hub.get('typhoons', 'tc-2026-2614')).toMatchObject({ name: { zh: '演示' } });
      expect(halls[at]!.hub.get('instructions', key)).toMatchObject({ text: order.text, advisory: advisoryId, from: expect.stringMatching(/省值班长$/) });
    }
    await until('delivered at both', () => ['331000', '331082'].every((c) => (halls['330000']!.hub.get('orders', id) as Order).receipts[c]!.delivered !== null));
    const county = portClient(halls['331082']!, 'window:board', '临海值班员');
    await county.cmd('instruction.read', { id: key });
    county.close();
    await until('read at Linhai', () => (halls['330000']!.hub.get('orders', id) as Order).receipts['331082']!.read !== null);
    expect((halls['330000']!.hub.get('orders', id) as Order).receipts['331000']!.read).toBeNull(); // Taizhou has not read it yet
    expect((await prov.fail('advisory.forward', { id: 'tc-1900-0000/CMA/x', to: { all: true } })).code).toBe('not_found');
    prov.close();
  });

  it('emergency responses down and up: the province declares II, Taizhou and Linhai show it; each declares its own, and the province sees it on the network board, journaled', async () => {
    const leader = (code: string, name: string) => portClient(halls[code]!, 'window:board', name);
    const prov = leader('330000', '省防指带班领导');
    await prov.cmd('response.declare', { hazard: 'typhoon', level: 'II', reason: '利奇马预计以强台风级登陆台州', basis: 'typhoon:tc-2019-1909' });
    const above = (at: string, code: string) => halls[at]!.hub.get('responses', code) as Response | undefined;
    for (const at of ['331000', '331082']) await until(`the province's II at ${at}`, () => above(at, '330000')?.level === 'II');
    expect(above('331082', '330000')).toMatchObject({ hall: '330000', by: '省防指带班领导', reason: '利奇马预计以强台风级登陆台州', basis: 'typhoon:tc-2019-1909' });
    // each declares its own; the hall above sees it at once, and on every heartbeat after
    const city = leader('331000', '台州带班领导');
    await city.cmd('response.declare', { hazard: 'typhoon', level: 'III', reason: '按省防指部署' });
    await until("Taizhou's III at Linhai", () => above('331082', '331000')?.level === 'III');
    const county = leader('331082', '临海带班领导');
    await county.cmd('response.declare', { hazard: 'typhoon', level: 'IV', reason: '按市防指部署' });
    await until('Taizhou III and Linhai IV on the province network board', () => node('330000', '331000')?.responseLevel === 'III' && node('330000', '331082')?.responseLevel === 'IV');
    await until("Linhai's IV at Taizhou", () => node('331000', '331082')?.responseLevel === 'IV');
    const reported = (await halls['330000']!.store.api.readJournal(0, 1_000_000)).filter((e) => e.kind === 'response.reported');
    expect(reported.map((e) => [e.origin, (e.payload as { level: string }).level])).toEqual(
      expect.arrayContaining([
        ['hall:331000', 'III'],
        ['hall:331082', 'IV'],
      ]),
    );
    // Linhai's own level never goes back down, and the province's is not taken for Linhai's
    expect(above('331082', '331082')).toBeUndefined();
    expect((halls['331082']!.hub.get('responses', 'own') as Response).level).toBe('IV');
    // ended at the province: lifted below too
    await prov.cmd('response.end', { hazard: 'typhoon', reason: '台风影响结束' });
    for (const at of ['331000', '331082']) await until(`the end at ${at}`, () => above(at, '330000')?.level === null);
    for (const c of [prov, city, county]) c.close();
  });

  it('a county hall reinstalled (its journal gone) is told again the responses in force above it', async () => {
    await halls['331082']!.dispose();
    rmSync(join(dir, '331082'), { recursive: true, force: true });
    await startHall('331082');
    // its heartbeat names a new start: Taizhou sends it its own level again
    await until("Taizhou's III at the new Linhai", () => (halls['331082']!.hub.get('responses', '331000') as Response | undefined)?.level === 'III', 15_000);
  });

  it("levels the province sets for Linhai go down the chain: to Taizhou, which passes them to Linhai; none come back up as Linhai's", async () => {
    const prov = portClient(halls['330000']!, 'window:board', '省值班长');
    const levels = { now: 'orange', h3: 'orange', h6: 'red', h24: 'red', h48: 'yellow' };
    await prov.cmd('risk.set', { basis: 'typhoon:tc-2019-1909', items: [{ code: '331082', levels }] });
    prov.close();
    for (const at of ['331000', '331082']) {
      await until(`levels at ${at}`, () => (halls[at]!.hub.get('risks', '331082') as { levels?: { h6: string } } | undefined)?.levels?.h6 === 'red');
      expect(halls[at]!.hub.get('risks', '331082')).toMatchObject({ levels, basis: 'typhoon:tc-2019-1909' });
    }
    // at the province they stay the province's own (nothing echoed back as a child's)
    await new Promise((r) => setTimeout(r, 500));
    expect((halls['330000']!.hub.get('risks', '331082') as { hall?: string }).hall).toBeUndefined();
    const countyJournal = (await halls['331082']!.store.api.readJournal(0, 1_000_000)).filter((e) => e.kind === 'risk.set' && e.subject === 'risk:331082');
    expect(countyJournal).toHaveLength(1); // once, from Taizhou
  });

  it('a risk-prompt sheet over the network: issued to Taizhou and Linhai while Linhai is cut off; it arrives when the link returns; signed for, answered, verified and closed, nothing twice', async () => {
    const hour = 3600_000;
    const prov = portClient(halls['330000']!, 'window:board', '省带班领导');
    await brokers['331082']!.stop(); // Linhai cut off before it could sign for anything
    await until('Linhai silent at the province', () => node('330000', '331082')?.state === 'silent', 10_000);
    const { id } = await prov.cmd<{ id: string }>('sheet.draft', {
      hazard: 'typhoon',
      title: '关于防御利奇马的风险提示',
      judgement: '受利奇马影响，台州沿海24小时内为红色风险。',
      targets: ['331000', '331082'],
      measures: [
        { text: '渔船回港避风', owner: '海洋渔业', deadline: Date.now() + 3 * hour },
        { text: '关闭滨海景区', owner: '文化和旅游', deadline: Date.now() + 3 * hour },
      ],
      feedbackDue: Date.now() + 3 * hour,
    });
    const { number } = await prov.cmd<{ number: string }>('sheet.issue', { id });
    const atProv = () => halls['330000']!.hub.get('sheets', id) as Sheet;
    await until("at Taizhou, and Taizhou's receipt at the province", () => atProv().recipients['331000']!.delivered !== null);
    expect(halls['331000']!.hub.get('sheets', id)).toMatchObject({ number, direction: 'in', state: 'issued' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(halls['331082']!.hub.get('sheets', id)).toBeUndefined();
    expect(recipientState(atProv(), '331082', Date.now())).toBe('undelivered'); // the board adds "link down": Linhai is silent
    await brokers['331082']!.start();
    await until('at Linhai after the link returned', () => halls['331082']!.hub.get('sheets', id) !== undefined, 20_000);
    await until("Linhai's receipt at the province", () => atProv().recipients['331082']!.delivered !== null, 20_000);
    await until("Linhai's heartbeat at the province again", () => node('330000', '331082')!.detail.startsWith('WAN'), 10_000);
    // each signs for it and answers; Taizhou, Linhai's city, hears Linhai's answers but they are not its
    // sheet's. Linhai is cut off again first: it holds the sheet and works it, its answers wait in its outbox
    await brokers['331082']!.stop();
    for (const [code, who] of [
      ['331000', '台州值班员'],
      ['331082', '临海值班员'],
    ] as const) {
      const c = portClient(halls[code]!, 'window:board', who);
      await c.cmd('sheet.sign', { id });
      await c.cmd('sheet.feedback', { id, measure: 'm1', status: 'done', text: '渔船全部回港', lat: 28.85, lon: 121.6, photo: 'data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==' });
      await c.cmd('sheet.feedback', { id, measure: 'm2', status: 'done', text: '景区已关闭' });
      c.close();
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect((await halls['331082']!.store.api.outboxStats()).depth).toBeGreaterThanOrEqual(3); // signed, two answers
    expect(recipientState(atProv(), '331082', Date.now())).toBe('unread');
    await brokers['331082']!.start();
    await until('both complete at the province', () => ['331000', '331082'].every((c) => recipientState(atProv(), c, Date.now()) === 'complete'), 20_000);
    expect(atProv().recipients['331082']).toMatchObject({ signedBy: '临海值班员', feedback: { m1: { text: '渔船全部回港', lat: 28.85, photo: expect.stringMatching(/^data:image\/jpeg/) } } });
    for (const c of ['331000', '331082']) await prov.cmd('sheet.verify', { id, hall: c });
    await prov.cmd('sheet.close', { id });
    for (const at of ['331000', '331082']) await until(`closed at ${at}`, () => (halls[at]!.hub.get('sheets', id) as Sheet).state === 'closed');
    const journal = await halls['330000']!.store.api.readJournal(0, 1_000_000);
    const from = (kind: string, origin: string) => journal.filter((e) => e.kind === kind && e.subject === `sheet:${id}` && e.origin === origin).length;
    expect([from('sheet.delivered', 'hall:331082'), from('sheet.signed', 'hall:331082'), from('sheet.feedback', 'hall:331082')]).toEqual([1, 1, 2]);
    const taizhou = await halls['331000']!.store.api.readJournal(0, 1_000_000);
    expect(taizhou.filter((e) => e.origin === 'hall:331082' && e.kind.startsWith('sheet.'))).toEqual([]);
    prov.close();
  }, 60_000);

  it('a task from Taizhou to Linhai over the buses: Linhai accepts, goes and reports done with a photo; Taizhou verifies; the province, above both, ignores it', async () => {
    const city = portClient(halls['331000']!, 'window:board', '台州值班员');
    const { id } = await city.cmd<{ id: string }>('task.assign', { assignee: { kind: 'hall', id: '331082' }, title: '组织括苍镇群众转移', deadline: Date.now() + 3 * 3600_000 });
    const at = (code: string) => halls[code]!.hub.get('tasks', id) as Task | undefined;
    await until('the task at Linhai', () => at('331082')?.state === 'assigned');
    const county = portClient(halls['331082']!, 'window:board', '临海值班员');
    for (const state of ['accepted', 'underway', 'done'] as const) {
      await county.cmd('task.update', { id, state, note: state === 'done' ? '转移群众326人' : '', ...(state === 'done' ? { photo: 'data:image/jpeg;base64,/9j/4AAQ', lat: 28.8, lon: 120.95 } : {}) });
      await until(`${state} at Taizhou`, () => at('331000')?.state === state);
    }
    expect(at('331000')!.history.at(-1)).toMatchObject({ by: '临海值班员', note: '转移群众326人', lat: 28.8 });
    await city.cmd('task.verify', { id });
    await until('verified at Linhai', () => at('331082')?.state === 'verified');
    expect(at('330000')).toBeUndefined();
    const prov = await halls['330000']!.store.api.readJournal(0, 1_000_000);
    expect(prov.filter((e) => e.subject === `task:${id}`)).toEqual([]);
    city.close();
    county.close();
  });

  it("Linhai's bus cut: the province shows it silent within 5 s, keeping what it last said; what Linhai reported meanwhile arrives once after", async () => {
    await brokers['331082']!.stop();
    const cutAt = Date.now();
    await until('silent at the province', () => node('330000', '331082')?.state === 'silent', 10_000);
    expect(Date.now() - cutAt).toBeLessThan(5000);
    expect(node('330000', '331082')).toMatchObject({ wan: expect.any(String), detail: expect.stringMatching(/nothing heard for \d+ s; last: WAN/) });
    expect(node('330000', '331000')?.state).toBe('online'); // Taizhou itself is fine
    // Linhai keeps working: the report waits in its outbox
    const c = portClient(halls['331082']!, 'window:board', '临海值班员');
    const { id } = await c.cmd<{ id: string }>('incident.report', { kind: 'flood', title: '临海城区内涝', severity: 'IV', lat: 28.86, lon: 121.14 });
    c.close();
    // and the province instructs Linhai while it is cut off
    const officer = portClient(halls['330000']!, 'window:board', '省值班长');
    const order = await officer.cmd<{ id: string }>('order.send', { text: '恢复联络后立即报告灾情', priority: 'urgent', to: { hall: '331082' } });
    officer.close();
    await new Promise((r) => setTimeout(r, 1000));
    expect(halls['330000']!.hub.get('incidents', `331082/${id}`)).toBeUndefined();
    expect(halls['331082']!.hub.get('instructions', `330000:${order.id}`)).toBeUndefined();
    await brokers['331082']!.start();
    await until('the instruction at Linhai after the cut', () => halls['331082']!.hub.get('instructions', `330000:${order.id}`) !== undefined, 20_000);
    await until('its receipt at the province', () => (halls['330000']!.hub.get('orders', order.id) as Order).receipts['331082']!.delivered !== null, 20_000);
    await until('the queued report at the province', () => halls['330000']!.hub.get('incidents', `331082/${id}`) !== undefined, 20_000);
    await until('online again', () => node('330000', '331082')?.state === 'online', 10_000);
    const prov = await halls['330000']!.store.api.readJournal(0, 100_000);
    expect(prov.filter((e) => e.subject === `incident:331082/${id}`)).toHaveLength(1);
  }, 60_000);
});

describe("a bus with each hall's own account and ACL (mosquitto acl_file from mosquittoAcl)", () => {
  const dir = tempDir();
  let broker: Broker;
  const halls: HallCore[] = [];
  beforeAll(async () => {
    broker = new Broker(await freePort(), join(dir, 'bus'));
    // Taizhou's bus: Taizhou, and its counties connecting directly (no broker of their own)
    broker.configure({
      anonymous: false,
      users: { 'hall-331000': 'tz-secret', 'hall-331082': 'lh-secret', 'hall-331081': 'wl-secret', auditor: 'audit' },
      acl: mosquittoAcl('331000', ['331000', '331082', '331081']) + '\nuser auditor\ntopic read beacon/#\n',
    });
    await broker.start();
    for (const [code, password] of [
      ['331000', 'tz-secret'],
      ['331082', 'lh-secret'],
    ] as const)
      halls.push(await HallCore.start({ dataDir: join(dir, code), uplink: { url: broker.url, hallId: code, password, reconnectMs: 200 }, network: { hallId: code } }));
  }, 60_000);
  afterAll(async () => {
    for (const h of halls) await h.dispose();
    await broker.stop();
  });

  it('each hall reaches what its ACL allows; a hall cannot publish as another, up or down', async () => {
    const [taizhou, linhai] = halls as [HallCore, HallCore];
    const c = portClient(linhai, 'window:board', '临海值班员');
    const { id } = await c.cmd<{ id: string }>('incident.report', { kind: 'fire', title: '临海化工园区火情', severity: 'II', lat: 28.85, lon: 121.14 });
    c.close();
    await until('at Taizhou', () => taizhou.hub.get('incidents', `331082/${id}`) !== undefined);
    // Linhai's account tries to speak for Wenling (331081) and to give Taizhou's own hall an order
    const auditor = await mqtt.connectAsync(broker.url, { username: 'auditor', password: 'audit', protocolVersion: 5 });
    const heard: string[] = [];
    auditor.on('message', (t) => heard.push(t));
    await auditor.subscribeAsync('beacon/#', { qos: 1 });
    const rogue = await mqtt.connectAsync(broker.url, { clientId: 'rogue', username: 'hall-331082', password: 'lh-secret', protocolVersion: 5 });
    const forged = {
      v: 1,
      hall: '331081',
      key: '331081:1',
      seq: 1,
      category: 'incidents',
      event: { id: 1, ts: Date.now(), kind: 'incident.reported', subject: 'incident:x', payload: {}, origin: 'x' },
    };
    const codes: (number | undefined)[] = [];
    for (const topic of ['beacon/331081/up/incidents', 'beacon/331000/down/instruction']) {
      codes.push(
        await rogue.publishAsync(topic, JSON.stringify(forged), { qos: 1 }).then(
          () => 0,
          (e: Error & { code?: number }) => e.code,
        ),
      );
    }
    await rogue.publishAsync('beacon/331082/up/heartbeat', JSON.stringify({ v: 1, hall: '331082', at: Date.now(), wan: 'online', outbox: { depth: 0, oldest: null }, responseLevel: null }), {
      qos: 1,
    });
    await until('its own topic is heard', () => heard.includes('beacon/331082/up/heartbeat'));
    expect(heard.filter((t) => t === 'beacon/331081/up/incidents' || t === 'beacon/331000/down/instruction')).toEqual([]);
    expect(codes).toEqual([135, 135]); // MQTT 5: not authorized
    expect((taizhou.hub.items('incidents') as Incident[]).filter((i) => i.hall === '331081')).toEqual([]);
    await rogue.endAsync();
    await auditor.endAsync();
  });
});
