// Tasks (派单, issue 21): the lifecycle for a team of this hall (its answers recorded by the duty
// officer) and for a hall below (its answers its own), every transition and refusal, on real hall
// cores with an injected clock. The bus between the halls is tests/integration/network.test.ts's.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../common/domain.ts';
import { isOverdue } from '../../common/tasks.ts';
import { HallCore } from '../../main/core/hall.ts';
import type { NetworkDesk } from '../../main/core/network/desk.ts';
import { parseDown } from '../../main/core/uplink/downlink.ts';
import { portClient, type PortClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';

const T = Date.UTC(2019, 7, 9, 6);
const HOUR = 3600_000;
let clock = T;
const dir = tempDir();
let city: HallCore;
let county: HallCore;
let duty: PortClient;
let lh: PortClient;

beforeAll(async () => {
  city = await HallCore.start({ dataDir: join(dir, 'city'), hub: { tickMs: 5 }, now: () => clock, network: { hallId: '331000' } });
  county = await HallCore.start({ dataDir: join(dir, 'county'), hub: { tickMs: 5 }, now: () => clock, network: { hallId: '331082' } });
  duty = portClient(city, 'window:board', '台州值班员');
  lh = portClient(county, 'window:board', '临海值班员');
});
afterAll(async () => {
  duty.close();
  lh.close();
  await city.dispose();
  await county.dispose();
});
const task = (core: HallCore, id: string) => core.hub.get('tasks', id) as Task;
const states = (t: Task) => t.history.map((h) => h.state);

describe('a task to a team of this hall: the duty officer records what the team answered', () => {
  it('assigned → accepted → under way → done (with a photo and position) → verified; every wrong step refused', async () => {
    expect((await duty.fail('task.assign', { assignee: { kind: 'unit', id: 'nope' }, title: 'x', deadline: T + HOUR })).code).toBe('not_found');
    expect((await duty.fail('task.assign', { assignee: { kind: 'hall', id: '330100' }, title: 'x', deadline: T + HOUR })).message).toMatch(/not a hall below 331000/);
    const { id } = await duty.cmd<{ id: string }>('task.assign', {
      assignee: { kind: 'unit', id: 'aviation-331000-01' },
      title: '吊运被困群众',
      detail: '括苍镇山体滑坡点，约12人被困',
      location: { lat: 28.8, lon: 120.95, label: '括苍镇' },
      deadline: T + 2 * HOUR,
    });
    expect(task(city, id)).toMatchObject({ state: 'assigned', assignee: { kind: 'unit', name: '台州市航空救援队1' }, issuer: { hall: '331000', by: '台州值班员' } });
    expect((await duty.fail('task.update', { id, state: 'done' })).message).toMatch(/assigned cannot become done/);
    expect((await duty.fail('task.verify', { id })).message).toMatch(/assigned cannot become verified/);
    expect((await duty.fail('task.update', { id, state: 'rejected' })).message).toMatch(/needs a reason/);
    await duty.cmd('task.update', { id, state: 'accepted', note: '机组已接令' });
    clock = T + 20 * 60_000;
    await duty.cmd('task.update', { id, state: 'underway' });
    expect(isOverdue(task(city, id), clock)).toBe(false);
    clock = T + 2 * HOUR + 60_000;
    expect(isOverdue(task(city, id), clock)).toBe(true); // past its deadline, not done
    await duty.cmd('task.update', { id, state: 'done', note: '12人全部吊运至安置点', photo: 'data:image/jpeg;base64,/9j/4AAQ', lat: 28.81, lon: 120.96 });
    expect(isOverdue(task(city, id), clock)).toBe(false);
    expect((await duty.fail('task.update', { id, state: 'underway' })).message).toMatch(/done cannot become underway/);
    await duty.cmd('task.verify', { id, note: '已核实' });
    expect(states(task(city, id))).toEqual(['assigned', 'accepted', 'underway', 'done', 'verified']);
    expect(task(city, id).history[3]).toMatchObject({ by: '台州值班员', photo: 'data:image/jpeg;base64,/9j/4AAQ', lat: 28.81 });
    expect((await duty.fail('task.cancel', { id, reason: 'x' })).message).toMatch(/verified cannot become cancelled/);
  });

  it('rejected with a reason, reassigned to another team, cancelled; the history keeps every step', async () => {
    const { id } = await duty.cmd<{ id: string }>('task.assign', { assignee: { kind: 'unit', id: 'depot-331000' }, title: '调拨冲锋舟20艘', deadline: clock + HOUR });
    await duty.cmd('task.update', { id, state: 'rejected', note: '库存冲锋舟不足' });
    expect((await duty.fail('task.update', { id, state: 'accepted' })).message).toMatch(/rejected cannot become accepted/);
    // Linhai's depot is Linhai's hall's to dispatch, not Taizhou's own: refused; Taizhou's aviation team instead
    expect((await duty.fail('task.reassign', { id, assignee: { kind: 'unit', id: 'depot-331082' } })).code).toBe('not_found');
    expect(task(city, id).state).toBe('rejected');
    await duty.cmd('task.reassign', { id, assignee: { kind: 'unit', id: 'aviation-331000-01' } });
    expect(task(city, id)).toMatchObject({ state: 'assigned', assignee: { id: 'aviation-331000-01' } });
    await duty.cmd('task.cancel', { id, reason: '险情解除' });
    expect(states(task(city, id))).toEqual(['assigned', 'rejected', 'assigned', 'cancelled']);
  });
});

describe('a task to a hall below: it answers on its own board', () => {
  it("Linhai accepts, goes, reports done; Taizhou verifies; each side's copy holds every step", async () => {
    const { id } = await duty.cmd<{ id: string }>('task.assign', { assignee: { kind: 'hall', id: '331082' }, title: '组织括苍镇群众转移', deadline: clock + 3 * HOUR });
    expect((await duty.fail('task.update', { id, state: 'accepted' })).message).toMatch(/answers this task itself/);
    // the copy for Linhai, as the outbox sends it and Linhai's downlink takes it
    const journal = await city.store.api.readJournal(0, 1_000_000);
    const down = journal.filter((e) => e.kind === 'task.dispatched').at(-1)!.payload as { key: string; body: Task };
    const deliver = async (body: Task, key: string) => {
      const r = parseDown('beacon/331082/down/task', Buffer.from(JSON.stringify({ v: 1, key, kind: 'task', from: '台州', sentAt: clock, body })), '331082', clock);
      if (!r.ok) throw new Error(r.message);
      await county.port.recordMany(
        r.events,
        'province',
        r.events.map((e) => e.key),
      );
    };
    await deliver(down.body, down.key);
    expect(task(county, id)).toMatchObject({ direction: 'in', state: 'assigned' });
    for (const [state, note] of [
      ['accepted', ''],
      ['underway', ''],
      ['done', '转移群众326人'],
    ] as const) {
      await lh.cmd('task.update', { id, state, note });
      // up the network: the same step at the issuer
      await city.port.recordMany([{ kind: 'task.answered', subject: `task:${id}`, payload: { id, step: task(county, id).history.at(-1)! } }], 'hall:331082');
    }
    expect(task(city, id)).toMatchObject({ state: 'done', history: [{}, {}, {}, { note: '转移群众326人', by: '临海值班员' }] });
    expect((await lh.fail('task.verify', { id })).message).toMatch(/was assigned by/);
    // what comes up from Linhai may only be the assignee's steps: a forged verification is refused (153)
    const forged = (state: string) =>
      Buffer.from(
        JSON.stringify({
          v: 1,
          hall: '331082',
          key: `331082:f-${state}`,
          seq: 1,
          category: 'tasks',
          event: { id: 1, ts: clock, kind: 'task.answered', subject: `task:${id}`, payload: { id, step: { state, at: clock, by: 'x', note: '' } }, origin: 'x' },
        }),
      );
    expect(await (city.desks.network as NetworkDesk).up('beacon/331082/up/tasks', forged('verified'))).toBe(153);
    expect(await (city.desks.network as NetworkDesk).up('beacon/331082/up/tasks', forged('cancelled'))).toBe(153);
    expect(task(city, id).state).toBe('done');
    await duty.cmd('task.verify', { id });
    const again = (await city.store.api.readJournal(0, 1_000_000)).filter((e) => e.kind === 'task.dispatched').at(-1)!.payload as { key: string; body: Task };
    await deliver(again.body, again.key);
    expect(task(county, id)).toMatchObject({ state: 'verified' });
    expect(states(task(county, id))).toEqual(['assigned', 'accepted', 'underway', 'done', 'verified']);
  });

  it('reassigned away from Linhai: Linhai is told and can no longer answer it', async () => {
    const { id } = await duty.cmd<{ id: string }>('task.assign', { assignee: { kind: 'hall', id: '331082' }, title: '抢通乡道', deadline: clock + HOUR });
    const last = async () => (await city.store.api.readJournal(0, 1_000_000)).filter((e) => e.kind === 'task.dispatched').at(-1)!.payload as { key: string; body: Task };
    const hand = async () => {
      const d = await last();
      const r = parseDown('beacon/331082/down/task', Buffer.from(JSON.stringify({ v: 1, key: d.key, kind: 'task', from: '台州', sentAt: clock, body: d.body })), '331082', clock);
      if (!r.ok) throw new Error(r.message);
      await county.port.recordMany(
        r.events,
        'province',
        r.events.map((e) => e.key),
      );
    };
    await hand();
    expect(task(county, id).mine).toBe(true);
    await duty.cmd('task.reassign', { id, assignee: { kind: 'unit', id: 'aviation-331000-01' } });
    await hand(); // the hall it was with is told
    expect(task(county, id)).toMatchObject({ mine: false, assignee: { kind: 'unit' } });
    expect((await lh.fail('task.update', { id, state: 'accepted' })).message).toMatch(/was reassigned to 台州市航空救援队1/);
  });
});
