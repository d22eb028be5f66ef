// Issue 21's proof, end to end: Lekima over three real halls and three real brokers, bridged as a
// deployment bridges them (Wenling's bus → Taizhou's → the province's). At the fix before landfall
// the province drafts sheets for the threatened counties and issues Wenling's; Wenling signs for it
// and reports two measures done (one with a photo) and one blocked; the feedback deadline passes and
// the province's board shows it overdue, and 督办 places a call to Wenling's duty officer, logged
// against the sheet; Wenling's feedback completes; the province verifies and closes. Journaled with
// operators and times at both ends, on the displays of both halls in Chromium. Then the same with
// Wenling's bus cut before it could sign: "link down", and the sheet arrives once when it returns.
// The 督办 call goes through the province's one-key connect over a real SIP platform (Kamailio) to
// Wenling's duty officer's phone (a baresip agent that answers).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Call, Sheet } from '../../common/domain.ts';
import { launch, offlineContext } from '../helpers/browser.ts';
import { Broker, freePort } from '../helpers/mosquitto.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { Endpoint, SipPlatform } from '../helpers/sip.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-e2e-lekima-');
const buses: Record<string, Broker> = {};
const halls: Record<string, Served> = {};
let browser: Browser;
const platform = new SipPlatform(join(dir, 'sip'));
const phone = new Endpoint(platform, 'wenling-duty', 'answer', dir);
let prov: Page;
let wl: Page;

beforeAll(async () => {
  for (const code of ['330000', '331000', '331081']) buses[code] = new Broker(await freePort(), join(dir, `bus-${code}`));
  buses['331081']!.configure({ anonymous: true, bridge: { name: 'bridge-331081', port: buses['331000']!.port, topics: ['beacon/331081/up/# out 1', 'beacon/331081/down/# in 1'] } });
  buses['331000']!.configure({ anonymous: true, bridge: { name: 'bridge-331000', port: buses['330000']!.port, topics: ['beacon/+/up/# out 1', 'beacon/+/down/# in 1'] } });
  for (const b of Object.values(buses)) await b.start();
  await platform.start();
  await phone.start();
  for (const code of ['330000', '331000', '331081']) {
    const sip = code === '330000' ? ['--sip', `sip:hall@127.0.0.1:${platform.port};transport=udp`] : [];
    halls[code] = await serve(
      ['--data', join(dir, code), '--port', '0', '--province', buses[code]!.url, '--hall-id', code, ...sip],
      60_000,
      code === '330000' ? { BEACON_SIP_PASSWORD: 'pw-hall' } : {},
    );
  }
  // the province's directory: Wenling's duty office reached at its SIP phone (as the bureau's IT would load it)
  const admin = await halls['330000']!.client('admin');
  const csv = [
    'id,level,code,parent,name_zh,name_en,duty_name,duty_mobile,deputy_name,deputy_mobile,video,voip,mobile,satellite,radio',
    `c-331081,county,331081,c-331000,温岭市应急管理局值班室,Wenling duty office,王明,13800000001,李华,13800000002,,sip:wenling-duty@127.0.0.1,,,`,
  ].join('\r\n');
  expect(await admin.command('contacts.import', { csv })).toMatchObject({ updated: 1, errors: [] });
  admin.dispose();
  browser = await launch();
  const open = async (code: string, role: 'leader' | 'duty') => {
    const c = await offlineContext(browser, { width: 1280, height: 1000 });
    await halls[code]!.trust(c.context, role);
    const p = await c.context.newPage();
    await p.goto(`${halls[code]!.url}/?role=board`);
    return p;
  };
  prov = await open('330000', 'leader');
  wl = await open('331081', 'duty');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  for (const h of Object.values(halls)) await h?.stop();
  for (const b of Object.values(buses)) await b?.stop();
  await phone.stop();
  await platform.stop();
});

/** A hall's whole journal, page by page, as a display reads it. */
const journalOf = async (code: string) => {
  const c = await halls[code]!.client('leader');
  const all: Awaited<ReturnType<typeof c.command<'journal.read'>>>['events'] = [];
  for (let after = 0; ;) {
    const { events, last } = await c.command('journal.read', { after, limit: 1000 });
    all.push(...events);
    if (events.length < 1000) break;
    after = last;
  }
  c.dispose();
  return all;
};

describe('Lekima, province → Taizhou → Wenling', () => {
  const mine = () => prov.locator('[data-test="sheet-out"]').filter({ hasText: '温岭' }).first();
  const target = () => mine().locator('[data-test="sheet-target"][data-hall="331081"]');
  const inbox = () => wl.locator('[data-test="sheet-in"]').first();
  let id = '';

  it('at the fix before landfall the province drafts sheets for the threatened counties and issues Wenling’s, due in 40 s', async () => {
    await expect.poll(() => prov.locator('[data-test="network-board"] tr[data-hall="331081"]').getAttribute('data-state'), { timeout: 30_000 }).toBe('online');
    const c = await halls['330000']!.client('leader');
    await c.command('replay.set', { storm: 'tc-2019-1909', t: Date.UTC(2019, 7, 9, 15), playing: false });
    await expect.poll(() => prov.locator('[data-test="response-proposal"]').count(), { timeout: 30_000 }).toBe(1);
    await prov.locator('[data-test="sheet-draft-analysis"]').click();
    await expect.poll(() => mine().count(), { timeout: 15_000 }).toBe(1);
    id = (await mine().getAttribute('data-sheet'))!;
    // the officer's deadline for this test: 40 s (the board's editor counts in hours)
    const draft = (await journalOf('330000')).filter((e) => e.kind === 'sheet.drafted' && e.subject === `sheet:${id}`).at(-1)!.payload as { sheet: Sheet };
    const due = Date.now() + 40_000;
    const s = draft.sheet;
    await c.command('sheet.draft', {
      id,
      hazard: s.hazard,
      title: s.title,
      judgement: s.judgement,
      basis: s.basis,
      targets: s.targets,
      points: s.points,
      measures: s.measures.slice(0, 3).map((m) => ({ text: m.text, owner: m.owner, deadline: due })),
      feedbackDue: due,
    });
    c.dispose();
    await mine().locator('[data-test="sheet-issue"]').click();
    await expect.poll(() => mine().getAttribute('data-state'), { timeout: 10_000 }).toBe('issued');
  });

  it('Wenling, two buses away, signs for it and reports two measures done (one with a photo) and one blocked', async () => {
    await expect.poll(() => inbox().count(), { timeout: 20_000 }).toBe(1);
    await inbox().locator('[data-test="sheet-sign"]').click();
    await expect.poll(() => target().getAttribute('data-state'), { timeout: 20_000 }).toBe('signed');
    const png = new PNG({ width: 4, height: 4 });
    png.data.fill(90);
    writeFileSync(join(dir, 'port.png'), PNG.sync.write(png));
    const m = inbox().locator('[data-test="sheet-measure"]');
    await m.nth(0).locator('[data-test="sheet-photo"]').setInputFiles(join(dir, 'port.png'));
    await m.nth(0).locator('[data-test="sheet-note"]').fill('渔船1326艘全部回港');
    await m.nth(0).locator('[data-test="sheet-answer-done"]').click();
    await m.nth(1).locator('[data-test="sheet-answer-done"]').click();
    await m.nth(2).locator('[data-test="sheet-note"]').fill('石塘镇道路塌方，转移车辆受阻');
    await m.nth(2).locator('[data-test="sheet-answer-blocked"]').click();
    await expect.poll(() => target().getAttribute('data-state'), { timeout: 20_000 }).toBe('progress');
  });

  it('the deadline passes: overdue on the province board; 督办 calls Wenling’s duty officer, logged against the sheet', async () => {
    await expect.poll(() => target().getAttribute('data-state'), { timeout: 60_000 }).toBe('overdue');
    await target().locator('[data-test="sheet-call-331081"]').click();
    await expect.poll(() => target().locator('[data-test="sheet-call-331081"]').textContent(), { timeout: 10_000 }).toBe('督办 · 1');
    // the call reaches Wenling's duty officer's phone, which answers; then the province hangs up
    const calls = async () => (await journalOf('330000')).filter((e) => e.kind === 'call.updated' || e.kind === 'call.logged').map((e) => (e.payload as { call: Call }).call);
    await expect.poll(async () => (await calls()).find((x) => x.about === `sheet:${id}` && x.state === 'connected')?.channel, { timeout: 30_000 }).toBe('voip');
    const call = (await calls()).find((x) => x.about === `sheet:${id}`)!;
    expect(call).toMatchObject({ code: '331081', by: '带班领导乙' });
    const c = await halls['330000']!.client('leader');
    await c.command('call.end', { id: call.id });
    c.dispose();
    await expect.poll(async () => (await calls()).some((x) => x.id === call.id && x.state === 'ended'), { timeout: 15_000 }).toBe(true);
  });

  it('Wenling completes its feedback; the province verifies and closes; Wenling sees it closed; both journals say who and when', async () => {
    const m = inbox().locator('[data-test="sheet-measure"]').nth(2);
    await m.locator('[data-test="sheet-note"]').fill('绕行转移完毕');
    await m.locator('[data-test="sheet-answer-done"]').click();
    await expect.poll(() => target().getAttribute('data-state'), { timeout: 20_000 }).toBe('complete');
    await target().locator('[data-test="sheet-verify-331081"]').click();
    await mine().locator('[data-test="sheet-close"]').click();
    await expect.poll(() => mine().getAttribute('data-state'), { timeout: 10_000 }).toBe('closed');
    await expect.poll(() => inbox().getAttribute('data-state'), { timeout: 20_000 }).toBe('closed');
    const p = (await journalOf('330000')).filter((e) => e.subject === `sheet:${id}`);
    const w = (await journalOf('331081')).filter((e) => e.subject === `sheet:${id}`);
    const kinds = (es: typeof p) => es.map((e) => e.kind);
    expect(kinds(p)).toEqual(expect.arrayContaining(['sheet.drafted', 'sheet.issued', 'sheet.delivered', 'sheet.signed', 'sheet.feedback', 'sheet.verified', 'sheet.closed']));
    expect(kinds(w)).toEqual(expect.arrayContaining(['sheet.received', 'sheet.delivered', 'sheet.signed', 'sheet.feedback']));
    expect(p.filter((e) => e.kind === 'sheet.signed').map((e) => [e.origin, (e.payload as { by: string }).by])).toEqual([['hall:331081', '值班员甲']]);
    expect(p.filter((e) => e.kind === 'sheet.feedback')).toHaveLength(4); // three answers and the blocked one resolved
    expect((p.find((e) => e.kind === 'sheet.closed')!.payload as { by: string }).by).toBe('带班领导乙');
  });

  it("Wenling's bus cut before it could sign: the province shows “link down”; when it returns the sheet arrives once and the loop completes", async () => {
    await buses['331081']!.stop();
    await expect.poll(() => prov.locator('[data-test="network-board"] tr[data-hall="331081"]').getAttribute('data-state'), { timeout: 15_000 }).toBe('silent');
    const c = await halls['330000']!.client('leader');
    const { id: second } = await c.command('sheet.draft', {
      hazard: 'typhoon',
      title: '关于防御利奇马的风险提示（温岭市，续）',
      judgement: '温岭沿海仍有暴雨，山洪风险',
      targets: ['331081'],
      measures: [{ text: '山洪危险区人员转移', owner: '乡镇', deadline: Date.now() + 3600_000 }],
      feedbackDue: Date.now() + 3600_000,
    });
    await c.command('sheet.issue', { id: second });
    c.dispose();
    const t2 = prov.locator(`[data-test="sheet-out"][data-sheet="${second}"] [data-test="sheet-target"]`);
    await expect.poll(() => t2.getAttribute('data-state'), { timeout: 10_000 }).toBe('linkDown');
    await buses['331081']!.start();
    const got = wl.locator(`[data-test="sheet-in"][data-sheet="${second}"]`);
    await expect.poll(() => got.count(), { timeout: 30_000 }).toBe(1);
    await got.locator('[data-test="sheet-sign"]').click();
    await got.locator('[data-test="sheet-measure"]').first().locator('[data-test="sheet-answer-done"]').click();
    await expect.poll(() => t2.getAttribute('data-state'), { timeout: 30_000 }).toBe('complete');
    const p = (await journalOf('330000')).filter((e) => e.subject === `sheet:${second}`);
    expect(p.filter((e) => e.kind === 'sheet.delivered')).toHaveLength(1);
    expect(p.filter((e) => e.kind === 'sheet.signed')).toHaveLength(1);
    const w = (await journalOf('331081')).filter((e) => e.subject === `sheet:${second}`);
    expect(w.filter((e) => e.kind === 'sheet.received')).toHaveLength(1);
  });
});
