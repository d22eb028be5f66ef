// Emergency response levels (issue 21): the forecast's proposal, and the declared level's lifecycle
// with its checklist, on a real hall core (real SQLite) with an injected clock.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checklistCounts, itemState } from '../../common/command.ts';
import type { Analysis, Checklist, Plan, Response } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { proposeLevel } from '../../main/core/command/levels.ts';
import { portClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';

const T = Date.UTC(2019, 7, 9, 0);
const place = (code: string, level: 0 | 7 | 10 | 12, forceNow: 0 | 7 | 10 | 12 = 0) => ({
  code,
  kind: 'county' as const,
  city: `${code.slice(0, 4)}00`,
  km: 300,
  bearing: 120,
  forceNow,
  closest: [],
  force7: null,
  force10: null,
  force12: null,
  level,
  rank: 1,
  proposal: { now: 'none', h3: 'none', h6: 'none', h24: 'none', h48: 'none' } as const,
});
const analysis = (over: Partial<Analysis>): Analysis => ({
  id: 'tc-2019-1909',
  t: T,
  centre: { lat: 25, lon: 126, wind: 52, pressure: 930, grade: 'SuperTY' },
  agencies: ['CMA'],
  landfalls: [],
  places: [],
  ...over,
});
const landfall = (place: string | null, grade: 'TS' | 'STS' | 'TY' | 'STY' | 'SuperTY', track = 'CMA', t = T + 20 * 3600_000) => ({
  track,
  t,
  lat: 28.4,
  lon: 121.4,
  place,
  placeKm: 10,
  wind: 50,
  pressure: 930,
  grade,
  nearestFix: null,
});
const inZhejiang = (code: string) => code.startsWith('33');
const names = (code: string) => ({ '331081': '温岭市', '331082': '临海市', '330212': '鄞州区' })[code] ?? code;
const propose = (a: Analysis[], inArea = inZhejiang) => proposeLevel(a, inArea, names, () => '利奇马');

describe("the forecast's proposal follows the plan's grading (浙政办发〔2020〕29号 5.1)", () => {
  it('a forecast landfall in the area: the grade at the crossing (TS IV, STS III, TY II, STY and stronger I)', () => {
    expect(propose([analysis({ landfalls: [landfall('331081', 'SuperTY')] })])).toEqual({ level: 'I', reason: '利奇马预计以超强台风级在温岭市附近登陆（CMA预报）', basis: 'typhoon:tc-2019-1909' });
    expect(propose([analysis({ landfalls: [landfall('331081', 'TS')] })])?.level).toBe('IV');
    expect(propose([analysis({ landfalls: [landfall('331081', 'STS')] })])?.level).toBe('III');
    expect(propose([analysis({ landfalls: [landfall('331081', 'TY')] })])?.level).toBe('II');
    // the strongest of the agencies' crossings
    expect(propose([analysis({ landfalls: [landfall('331081', 'TS', 'JMA'), landfall('331082', 'TY')] })])?.level).toBe('II');
  });

  it('an observed landfall, one before the analysis or outside the area proposes nothing by itself', () => {
    expect(propose([analysis({ centre: null, landfalls: [landfall('331081', 'STY', 'observed')] })])).toBeNull();
    expect(propose([analysis({ centre: null, landfalls: [landfall('331081', 'STY', 'CMA', T - 3600_000)] })])).toBeNull();
    // Linhai's hall: a landfall at Wenling is not in its area, and the storm is far at sea
    expect(propose([analysis({ centre: { lat: 18, lon: 135, wind: 52, pressure: 930, grade: 'SuperTY' }, landfalls: [landfall('331081', 'STY')] })], (c) => c === '331082')).toBeNull();
  });

  it('force-10 winds forecast in the area within 48 h (severe effect): the storm grade now; force 7 or the East China Sea: the marine stage', () => {
    expect(propose([analysis({ places: [place('330212', 10), place('331082', 7)] })])).toMatchObject({ level: 'I', reason: expect.stringMatching(/鄞州区等1地出现10级以上大风/) });
    expect(propose([analysis({ centre: { lat: 18, lon: 135, wind: 20, pressure: 990, grade: 'TS' }, places: [place('331082', 7)] })])).toMatchObject({
      level: 'marine',
      reason: expect.stringMatching(/临海市等1地出现7级以上大风/),
    });
    expect(propose([analysis({ centre: { lat: 26, lon: 125, wind: 20, pressure: 990, grade: 'TS' } })])).toMatchObject({ level: 'marine', reason: '利奇马中心位于东海海域' });
    expect(propose([analysis({ centre: { lat: 15, lon: 140, wind: 20, pressure: 990, grade: 'TS' } })])).toBeNull();
  });
});

describe('a hall declares, raises, lowers and ends its response; the level opens its checklist', () => {
  const dir = tempDir();
  let clock = T;
  const start = () => HallCore.start({ dataDir: join(dir, 'hall'), hub: { tickMs: 5 }, now: () => clock });

  it('the whole lifecycle, every refusal, and what a restart keeps', async () => {
    let core = await start();
    const leader = portClient(core, 'window:board', '带班领导');
    const own = () => core.hub.get('responses', 'own') as Response | undefined;
    const list = (id: string) => core.hub.get('checklists', id) as Checklist;

    const iv = await leader.cmd<{ level: string; checklist: string }>('response.declare', { hazard: 'typhoon', level: 'IV', reason: '利奇马预计登陆', basis: 'typhoon:tc-2019-1909' });
    expect(own()).toMatchObject({ level: 'IV', since: T, by: '带班领导', basis: 'typhoon:tc-2019-1909', hall: '330000', history: [{ level: 'IV', at: T }] });
    const plan = core.hub.get('plans', 'typhoon:IV') as Plan;
    expect(list(iv.checklist).items).toHaveLength(plan.items.length);
    const first = list(iv.checklist).items[0]!;
    expect(first.due).toBe(T + first.dueMinutes * 60_000);
    expect((await leader.fail('response.declare', { hazard: 'typhoon', level: 'IV', reason: 'again' })).code).toBe('invalid_args');

    // an item done, with who and when; not twice; late items are those past their deadline undone
    clock = T + 45 * 60_000;
    await leader.cmd('checklist.check', { checklist: iv.checklist, item: 'm1', note: '已在岗' });
    expect(list(iv.checklist).items.find((i) => i.id === 'm1')).toMatchObject({ doneAt: clock, doneBy: '带班领导', note: '已在岗' });
    expect((await leader.fail('checklist.check', { checklist: iv.checklist, item: 'm1' })).message).toMatch(/already done by 带班领导/);
    expect((await leader.fail('checklist.check', { checklist: iv.checklist, item: 'zz' })).code).toBe('not_found');
    const counts = checklistCounts(list(iv.checklist), clock);
    expect(counts.done).toBe(1);
    expect(counts.late).toBe(list(iv.checklist).items.filter((i) => i.doneAt === null && i.due < clock).length);
    expect(
      itemState(
        list(iv.checklist).items.find((i) => i.id === 'm2')!,
        clock,
      ),
    ).toBe('due'); // 60 min, 45 gone

    // raised to II: the IV checklist closes (what was done stays), II's opens
    clock = T + 3600_000;
    const ii = await leader.cmd<{ checklist: string }>('response.declare', { hazard: 'typhoon', level: 'II', reason: '升级为强台风' });
    expect(list(iv.checklist).closedAt).toBe(clock);
    expect(list(ii.checklist)).toMatchObject({ level: 'II', closedAt: null });
    expect((await leader.fail('checklist.check', { checklist: iv.checklist, item: 'm2' })).message).toMatch(/closed/);
    expect(own()?.history.map((h) => h.level)).toEqual(['IV', 'II']);

    // the hall's own plan: edited, and the next declaration of that level uses it
    expect(
      (
        await leader.fail('plan.put', {
          level: 'III',
          items: [
            { id: 'a', text: 'x', owner: 'y', dueMinutes: 1 },
            { id: 'a', text: 'z', owner: 'y', dueMinutes: 1 },
          ],
        })
      ).code,
    ).toBe('invalid_args');
    await leader.cmd('plan.put', { level: 'III', items: [{ id: 'x1', text: '启动城区排涝泵站', owner: '住建', dueMinutes: 90 }] });
    const iii = await leader.cmd<{ checklist: string }>('response.declare', { hazard: 'typhoon', level: 'III', reason: '台风减弱' });
    expect(list(iii.checklist).items).toMatchObject([{ id: 'x1', text: '启动城区排涝泵站', due: clock + 90 * 60_000 }]);

    // ended: the level lifted, the checklist closed; nothing left to end
    clock = T + 2 * 3600_000;
    await leader.cmd('response.end', { hazard: 'typhoon', reason: '台风影响结束' });
    expect(own()).toMatchObject({ level: null, since: clock, reason: '台风影响结束' });
    expect(list(iii.checklist).closedAt).toBe(clock);
    expect((await leader.fail('response.end', { hazard: 'typhoon', reason: 'again' })).code).toBe('invalid_args');
    leader.close();

    const journal = (await core.store.api.readJournal(0, 1_000_000)).filter((e) => e.kind.startsWith('response.') || e.kind === 'checklist.checked' || e.kind === 'plan.saved');
    expect(journal.map((e) => e.kind)).toEqual(expect.arrayContaining(['response.declared', 'checklist.checked', 'response.ended', 'plan.saved']));
    expect(journal.filter((e) => e.kind === 'response.declared')).toHaveLength(3);
    expect(journal.filter((e) => e.kind === 'response.declared').every((e) => e.origin.startsWith('window:board'))).toBe(true);

    // a restart keeps all of it
    await core.dispose();
    core = await start();
    expect(own()).toMatchObject({ level: null, history: [{ level: 'IV' }, { level: 'II' }, { level: 'III' }, { level: null }] });
    expect((core.hub.get('checklists', iv.checklist) as Checklist).items.find((i) => i.id === 'm1')?.doneBy).toBe('带班领导');
    await core.dispose();
  });
});
