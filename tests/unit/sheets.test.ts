// Risk-prompt sheets (issue 21): the lifecycle at the issuer and at a recipient, every transition and
// every refusal, on real hall cores (real SQLite) with an injected clock. The network between them is
// tests/integration/network.test.ts's; here the recipient's copy is handed over as the downlink would.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipientState } from '../../common/sheets.ts';
import type { Analysis, Sheet } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { parseDown } from '../../main/core/uplink/downlink.ts';
import { portClient, type PortClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const T = Date.UTC(2019, 7, 9, 6);
const HOUR = 3600_000;
let clock = T;
const dir = tempDir();
let prov: HallCore;
let county: HallCore;
let leader: PortClient;
let duty: PortClient;
let wl: PortClient;

beforeAll(async () => {
  prov = await HallCore.start({ dataDir: join(dir, 'p'), hub: { tickMs: 5 }, now: () => clock, network: { hallId: '330000' } });
  county = await HallCore.start({ dataDir: join(dir, 'c'), hub: { tickMs: 5 }, now: () => clock, network: { hallId: '331081' } });
  leader = portClient(prov, 'window:board', '省带班领导');
  duty = portClient(prov, 'window:board', '省值班员');
  wl = portClient(county, 'window:board', '温岭值班员');
});
afterAll(async () => {
  for (const c of [leader, duty, wl]) c.close();
  await prov.dispose();
  await county.dispose();
});

const draft = {
  hazard: 'typhoon',
  title: '关于防御利奇马的风险提示（温岭市）',
  judgement: '受利奇马影响，预计温岭市9日下午起10级大风，24小时内为红色风险。',
  basis: { storm: 'tc-2019-1909', agency: 'CMA', horizon: 'h24' },
  targets: ['331081', '331082'],
  points: [{ lat: 28.37, lon: 121.38, label: '温岭市' }],
  measures: [
    { text: '渔船回港避风', owner: '海洋渔业', deadline: T + 3 * HOUR },
    { text: '关闭滨海景区', owner: '文化和旅游', deadline: T + 3 * HOUR },
    { text: '地质灾害点人员转移', owner: '自然资源', deadline: T + 3 * HOUR },
  ],
  feedbackDue: T + 3 * HOUR,
};
/** The issuer's copy for Wenling, handed to Wenling's hall as its downlink would (the same parse). */
async function deliver(s: Sheet, key: string) {
  const body = { ...s, recipients: { '331081': s.recipients['331081']! } };
  const r = parseDown('beacon/331081/down/sheet', Buffer.from(JSON.stringify({ v: 1, key, kind: 'sheet', from: '浙江省', sentAt: clock, body })), '331081', clock);
  if (!r.ok) throw new Error(r.message);
  await county.port.recordMany(
    r.events,
    'province',
    r.events.map((e) => e.key),
  );
}
/** A recipient's event as the issuer's network desk applies it (origin hall:<code>). */
const upToIssuer = (kind: string, payload: unknown) => prov.port.recordMany([{ kind, subject: 'sheet', payload } as never], 'hall:331081');

describe('a risk-prompt sheet from draft to 销号', () => {
  let id = '';
  const at = (core: HallCore) => core.hub.get('sheets', id) as Sheet;

  it('a draft is edited freely and sent nowhere; targets must be halls below; issuing numbers it', async () => {
    expect((await duty.fail('sheet.draft', { ...draft, targets: ['320100'] })).message).toMatch(/not a hall below 330000: 320100/);
    ({ id } = await duty.cmd<{ id: string }>('sheet.draft', draft));
    expect(at(prov)).toMatchObject({ state: 'draft', number: '', direction: 'out', issuer: { hall: '330000', by: '省值班员' }, recipients: {} });
    await duty.cmd('sheet.draft', { ...draft, id, title: '关于防御第9号台风利奇马的风险提示' });
    expect(at(prov).title).toBe('关于防御第9号台风利奇马的风险提示');
    expect((await duty.fail('sheet.sign', { id })).code).toBe('not_found'); // the issuer does not sign its own
    const issued = await leader.cmd<{ number: string; to: string[] }>('sheet.issue', { id });
    expect(issued).toMatchObject({ number: '浙江省应急指挥中心风险提示〔2019〕1号', to: ['331081', '331082'] });
    expect(at(prov)).toMatchObject({ state: 'issued', issuedAt: T, issuer: { by: '省带班领导' } });
    expect(Object.keys(at(prov).recipients)).toEqual(['331081', '331082']);
    expect((await leader.fail('sheet.issue', { id })).message).toMatch(/already issued/);
    expect((await duty.fail('sheet.draft', { ...draft, id })).message).toMatch(/only a draft can be edited/);
    // one copy per target, journaled for the outbox
    const journal = await prov.store.api.readJournal(0, 1_000_000);
    expect(journal.filter((e) => e.kind === 'sheet.dispatched').map((e) => (e.payload as { to: string }).to)).toEqual(['331081', '331082']);
  });

  it('at Wenling: delivered, signed for once, feedback only after signing; the issuer sees each step as it comes up', async () => {
    await deliver(at(prov), `330000:${id}:issued`);
    expect(at(county)).toMatchObject({ direction: 'in', state: 'issued', recipients: { '331081': { signedAt: null } } });
    expect(Object.keys(at(county).recipients)).toEqual(['331081']); // its own progress only
    expect(recipientState(at(county), '331081', clock)).toBe('undelivered');
    const fb = (measure: string, status: string, extra: object = {}) => wl.cmd('sheet.feedback', { id, measure, status, text: `${measure} ${status}`, ...extra });
    expect((await wl.fail('sheet.feedback', { id, measure: 'm1', status: 'done', text: '' })).message).toMatch(/sign for the sheet first/);
    clock = T + 20 * 60_000;
    await wl.cmd('sheet.sign', { id });
    expect((await wl.fail('sheet.sign', { id })).message).toMatch(/already signed for by 温岭值班员/);
    await upToIssuer('sheet.signed', { id, hall: '331081', by: '温岭值班员', at: clock });
    expect(recipientState(at(prov), '331081', clock)).toBe('signed');
    expect(recipientState(at(prov), '331082', clock)).toBe('undelivered');
    const photo = 'data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==';
    await fb('m1', 'done', { photo, lat: 28.3, lon: 121.5 });
    await fb('m2', 'blocked');
    expect((await wl.fail('sheet.feedback', { id, measure: 'm9', status: 'done', text: '' })).code).toBe('not_found');
    expect((await wl.fail('sheet.feedback', { id, measure: 'm1', status: 'done', text: '', photo: 'data:text/html;base64,PHNjcmlwdD4=' })).code).toBe('invalid_args');
    for (const m of ['m1', 'm2']) await upToIssuer('sheet.feedback', { id, hall: '331081', measure: m, feedback: at(county).recipients['331081']!.feedback[m] });
    expect(at(prov).recipients['331081']!.feedback.m1).toMatchObject({ status: 'done', photo, lat: 28.3, by: '温岭值班员' });
    expect(recipientState(at(prov), '331081', clock)).toBe('progress');
    // Linhai has not signed for it within half an hour (限时签收): overdue, before any feedback is due
    expect(at(prov).signBy).toBe(T + 30 * 60_000);
    clock = T + 31 * 60_000;
    expect(recipientState(at(prov), '331082', clock)).toBe('overdue');
    expect(recipientState(at(prov), '331081', clock)).toBe('progress');
  });

  it('the deadline passes: overdue; a close is refused while measures are open; verified once complete', async () => {
    clock = T + 3 * HOUR + 60_000;
    expect(recipientState(at(prov), '331081', clock)).toBe('overdue');
    expect(recipientState(at(prov), '331082', clock)).toBe('overdue');
    expect((await leader.fail('sheet.close', { id })).message).toMatch(/measures still open at 331081, 331082/);
    expect((await duty.fail('sheet.verify', { id, hall: '331081' })).message).toMatch(/measures not done/);
    // Wenling's blocked measure is resolved and the rest reported
    for (const [m, s] of [
      ['m2', 'done'],
      ['m3', 'na'],
    ] as const) {
      await wl.cmd('sheet.feedback', { id, measure: m, status: s, text: '已落实' });
      await upToIssuer('sheet.feedback', { id, hall: '331081', measure: m, feedback: at(county).recipients['331081']!.feedback[m] });
    }
    expect(recipientState(at(prov), '331081', clock)).toBe('complete');
    await duty.cmd('sheet.verify', { id, hall: '331081' });
    expect(recipientState(at(prov), '331081', clock)).toBe('verified');
  });

  it('cancelled: the recipients are told; nothing more is signed or reported; a cancelled sheet is not closed', async () => {
    const other = await duty.cmd<{ id: string }>('sheet.draft', { ...draft, targets: ['331081'] });
    await leader.cmd('sheet.issue', { id: other.id });
    const sheet = prov.hub.get('sheets', other.id) as Sheet;
    await deliver(sheet, `330000:${other.id}:issued`);
    await leader.cmd('sheet.cancel', { id: other.id, reason: '台风路径北抬，温岭不再受严重影响' });
    await deliver(prov.hub.get('sheets', other.id) as Sheet, `330000:${other.id}:cancelled`);
    expect(county.hub.get('sheets', other.id)).toMatchObject({ state: 'cancelled', cancelled: '台风路径北抬，温岭不再受严重影响' });
    expect((await wl.fail('sheet.sign', { id: other.id })).message).toMatch(/is cancelled/);
    expect((await leader.fail('sheet.close', { id: other.id })).message).toMatch(/is cancelled/);
    expect((await leader.fail('sheet.cancel', { id: other.id, reason: 'again' })).message).toMatch(/is cancelled/);
  });

  it('closed (销号) once every recipient is complete; feedback after close refused; all of it survives a restart', async () => {
    await upToIssuer('sheet.signed', { id, hall: '331082', by: '临海值班员', at: clock });
    for (const m of ['m1', 'm2', 'm3'])
      await prov.port.recordMany(
        [
          {
            kind: 'sheet.feedback',
            subject: 'sheet',
            payload: { id, hall: '331082', measure: m, feedback: { status: 'done', text: '', photo: null, lat: null, lon: null, by: '临海值班员', at: clock } },
          },
        ],
        'hall:331082',
      );
    await leader.cmd('sheet.close', { id });
    expect(at(prov)).toMatchObject({ state: 'closed', closedBy: '省带班领导' });
    await deliver(at(prov), `330000:${id}:closed`);
    expect(at(county).state).toBe('closed');
    expect(at(county).recipients['331081']!.feedback.m3?.status).toBe('na'); // its own progress kept
    expect((await wl.fail('sheet.feedback', { id, measure: 'm1', status: 'done', text: '' })).message).toMatch(/is closed/);
    await prov.dispose();
    prov = await HallCore.start({ dataDir: join(dir, 'p'), hub: { tickMs: 5 }, now: () => clock, network: { hallId: '330000' } });
    leader.close();
    duty.close();
    leader = portClient(prov, 'window:board', '省带班领导');
    duty = portClient(prov, 'window:board', '省值班员');
    expect(at(prov)).toMatchObject({ state: 'closed', recipients: { '331081': { verifiedBy: '省值班员' } } });
  });
});

describe('attachments travel with the sheet', () => {
  it('a 300 KB PDF goes down inside the sheet (its own size limit); anything but the listed types is refused', async () => {
    const pdf = `data:application/pdf;base64,${Buffer.alloc(300 * 1024, 7).toString('base64')}`;
    expect((await duty.fail('sheet.draft', { ...draft, attachments: [{ name: 'x.html', note: '', data: 'data:text/html;base64,PGI+' }] })).code).toBe('invalid_args');
    const { id } = await duty.cmd<{ id: string }>('sheet.draft', { ...draft, targets: ['331081'], attachments: [{ name: '温岭风险点清单.pdf', note: '共37处', data: pdf }] });
    await leader.cmd('sheet.issue', { id });
    const s = prov.hub.get('sheets', id) as Sheet;
    const body = Buffer.from(JSON.stringify({ v: 1, key: `330000:${id}:issued`, kind: 'sheet', from: '浙江省', sentAt: clock, body: s }));
    expect(body.length).toBeGreaterThan(64 * 1024);
    await deliver(s, `330000:${id}:issued`);
    expect((county.hub.get('sheets', id) as Sheet).attachments).toEqual([{ name: '温岭风险点清单.pdf', note: '共37处', data: pdf }]);
    // an instruction that large is still refused
    expect(parseDown('beacon/331081/down/instruction', body, '331081', clock)).toMatchObject({ ok: false, reason: 'too_large' });
  });
});

describe("drafted from the analysis, with the hall's own templates", () => {
  it("Lekima at the fix before landfall: a draft per county at orange or worse within 24 h; Wenling's (red) takes the hall's red template", async () => {
    await leader.cmd('template.put', { hazard: 'typhoon', level: 'red', measures: [{ text: '全域停工停课停业', owner: '各乡镇（街道）', hours: 2 }], feedbackHours: 2 });
    expect((await duty.fail('template.put', { hazard: 'typhoon', level: 'red', measures: [], feedbackHours: 2 })).code).toBe('invalid_args');
    const t = Date.UTC(2019, 7, 9, 15);
    await duty.cmd('replay.set', { storm: 'tc-2019-1909', t, playing: false });
    // the analysis at that time: the first one loads the coastline, which a loaded CI machine took
    // over 5 s to do once (the drafts then read an empty analysis)
    await until('the analysis of Lekima at the fix', () => (prov.hub.items('analysis') as Analysis[]).some((a) => a.id === 'tc-2019-1909' && a.t === t), 30_000);
    const { ids } = await duty.cmd<{ ids: string[] }>('sheet.draftFromAnalysis', {});
    expect(ids.length).toBeGreaterThan(3);
    const drafts = ids.map((i) => prov.hub.get('sheets', i) as Sheet);
    const wenling = drafts.find((s) => s.targets[0] === '331081')!;
    expect(wenling).toMatchObject({ state: 'draft', title: '关于防御利奇马的风险提示（温岭市）', basis: { storm: 'tc-2019-1909', horizon: 'h24' }, feedbackDue: clock + 2 * HOUR });
    expect(wenling.judgement).toMatch(/^受利奇马影响，预计温岭市.*24小时内为红色风险/);
    expect(wenling.measures).toEqual([{ id: 'm1', text: '全域停工停课停业', owner: '各乡镇（街道）', deadline: clock + 2 * HOUR }]);
    expect(wenling.points[0]).toMatchObject({ label: '温岭市' });
    // drafting again updates the same drafts rather than adding more
    const again = await duty.cmd<{ ids: string[] }>('sheet.draftFromAnalysis', {});
    expect(new Set(again.ids)).toEqual(new Set(ids));
  });
});
