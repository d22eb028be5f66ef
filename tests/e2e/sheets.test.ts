// A risk-prompt sheet from the province to Wenling in Chromium (issue 21), two real halls on one real
// bus (each reads the other's topics as a bridged bus would carry them): the province drafts sheets
// from Lekima's analysis, a leader issues Wenling's; Wenling's duty officer signs for it and answers
// each measure, one with a photo, one blocked and then done; the province sees every step, verifies
// and closes it (销号), and Wenling sees it closed. While Wenling is unreachable its target says why.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, offlineContext } from '../helpers/browser.ts';
import { Broker, freePort } from '../helpers/mosquitto.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-e2e-sheets-');
let broker: Broker;
let province: Served;
let wenling: Served;
let browser: Browser;
let leader: Page;
let county: Page;

beforeAll(async () => {
  broker = new Broker(await freePort(), join(dir, 'bus'));
  await broker.start();
  province = await serve(['--data', join(dir, 'province'), '--port', '0', '--province', broker.url, '--hall-id', '330000']);
  wenling = await serve(['--data', join(dir, 'wenling'), '--port', '0', '--province', broker.url, '--hall-id', '331081']);
  browser = await launch();
  const a = await offlineContext(browser, { width: 1280, height: 1000 });
  await province.trust(a.context, 'leader');
  leader = await a.context.newPage();
  await leader.goto(`${province.url}/?role=board`);
  const b = await offlineContext(browser, { width: 1280, height: 1000 });
  await wenling.trust(b.context, 'duty');
  county = await b.context.newPage();
  await county.goto(`${wenling.url}/?role=board`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await province?.stop();
  await wenling?.stop();
  await broker?.stop();
});

describe('风险提示单: province → Wenling → province', () => {
  const outSheet = () => leader.locator('[data-test="sheet-out"]').filter({ hasText: '温岭' }).first();
  const target = () => outSheet().locator('[data-test="sheet-target"][data-hall="331081"]');

  it("drafts from Lekima's analysis, one per threatened county; nothing is sent until a leader issues Wenling's", async () => {
    await expect.poll(() => leader.locator('[data-test="network-board"] tr[data-hall="331081"]').getAttribute('data-state'), { timeout: 20_000 }).toBe('online');
    const c = await province.client('duty');
    await c.command('replay.set', { storm: 'tc-2019-1909', t: Date.UTC(2019, 7, 9, 0), playing: false });
    c.dispose();
    await expect.poll(async () => leader.locator('[data-test="response-proposal"]').count(), { timeout: 30_000 }).toBe(1); // the analysis is there
    await leader.locator('[data-test="sheet-draft-analysis"]').click();
    await expect.poll(() => leader.locator('[data-test="sheet-out"][data-state="draft"]').count(), { timeout: 10_000 }).toBeGreaterThan(1);
    expect(await outSheet().textContent()).toMatch(/关于防御利奇马的风险提示（温岭市）/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await county.locator('[data-test="sheet-in"]').count()).toBe(0);
    // the officer edits the draft before it goes: a measure reworded, one added, feedback within 2 h
    const before = Number((await outSheet().textContent())!.match(/(\d+) 项措施/)![1]);
    await outSheet().locator('[data-test="sheet-edit"]').click();
    const ed = outSheet().locator('[data-test="sheet-editor"]');
    await ed.locator('[data-test="edit-measure-text"]').first().fill('渔船回港、渔排人员全部上岸，逐船逐排点验');
    await ed.locator('[data-test="edit-add-measure"]').click();
    await ed.locator('[data-test="edit-measure-text"]').last().fill('石塘、松门沿海低洼区人员转移');
    await ed.locator('[data-test="edit-measure-owner"]').last().fill('石塘镇、松门镇');
    await ed.locator('[data-test="edit-feedback-hours"]').fill('2');
    // the list of risk points, attached
    writeFileSync(join(dir, '温岭风险点清单.pdf'), Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n'));
    await ed.locator('[data-test="edit-attach"]').setInputFiles(join(dir, '温岭风险点清单.pdf'));
    await expect.poll(() => ed.locator('[data-test="edit-attachment"]').textContent()).toMatch(/温岭风险点清单\.pdf/);
    await ed.locator('[data-test="edit-save"]').click();
    await expect.poll(() => ed.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => outSheet().textContent(), { timeout: 10_000 }).toMatch(new RegExp(`${before + 1} 项措施`));
    await outSheet().locator('[data-test="sheet-issue"]').click();
    await expect.poll(() => outSheet().getAttribute('data-state'), { timeout: 10_000 }).toBe('issued');
    expect(await outSheet().textContent()).toMatch(/浙江省应急指挥中心风险提示〔\d{4}〕1号/);
  });

  it('at Wenling: delivered; signed for; each measure answered, one with a photo, one blocked then done', async () => {
    const sheet = county.locator('[data-test="sheet-in"]').first();
    await expect.poll(() => sheet.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => target().getAttribute('data-state'), { timeout: 15_000 }).toBe('unread'); // delivered, not signed for
    expect(await sheet.locator('[data-test="sheet-in-state"]').textContent()).toBe('未签收');
    // its attachment came with it, to download
    const file = sheet.locator('[data-test="sheet-attachment"]');
    expect(await file.getAttribute('download')).toBe('温岭风险点清单.pdf');
    expect(Buffer.from((await file.getAttribute('href'))!.split(',')[1]!, 'base64').toString()).toMatch(/^%PDF-1\.4/);
    await sheet.locator('[data-test="sheet-sign"]').click();
    await expect.poll(() => sheet.locator('[data-test="sheet-signed"]').textContent(), { timeout: 10_000 }).toMatch(/值班员甲 .* 签收/);
    await expect.poll(() => target().getAttribute('data-state'), { timeout: 15_000 }).toBe('signed');
    // a photo of a real size (about 100 KB: noise does not compress), well over a plain command's 64 KiB
    const png = new PNG({ width: 160, height: 160 });
    randomBytes(png.data.length).copy(png.data);
    const photo = join(dir, 'boats.png');
    writeFileSync(photo, PNG.sync.write(png));
    expect(PNG.sync.write(png).length).toBeGreaterThan(64 * 1024);
    const measures = sheet.locator('[data-test="sheet-measure"]');
    const n = await measures.count();
    expect(n).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < n; i++) {
      const m = measures.nth(i);
      await m.locator('[data-test="sheet-note"]').fill(`措施${i + 1}已落实`);
      if (i === 0) await m.locator('[data-test="sheet-photo"]').setInputFiles(photo);
      if (i === 1) {
        await m.locator('[data-test="sheet-answer-blocked"]').click();
        await expect.poll(() => m.locator('[data-test="sheet-feedback"]').textContent(), { timeout: 10_000 }).toMatch(/受阻/);
      }
      await m.locator('[data-test="sheet-answer-done"]').click();
      await expect.poll(() => m.locator('[data-test="sheet-feedback"]').textContent(), { timeout: 10_000 }).toMatch(/已落实 · 值班员甲/);
    }
    expect(await measures.first().locator('[data-test="sheet-feedback"]').textContent()).toMatch(/📷/);
  });

  it('at the province: answered; verified; closed (销号); Wenling sees it closed', async () => {
    await expect.poll(() => target().getAttribute('data-state'), { timeout: 20_000 }).toBe('complete');
    await target().locator('[data-test="sheet-verify-331081"]').click();
    await expect.poll(() => target().getAttribute('data-state'), { timeout: 10_000 }).toBe('verified');
    await outSheet().locator('[data-test="sheet-close"]').click();
    await expect.poll(() => outSheet().getAttribute('data-state'), { timeout: 10_000 }).toBe('closed');
    await expect.poll(() => county.locator('[data-test="sheet-in"]').first().getAttribute('data-state'), { timeout: 15_000 }).toBe('closed');
    expect(await county.locator('[data-test="sheet-answer-done"]').count()).toBe(0);
  });

  it('printed in the official layout: masthead, number, recipients, measures, seal; on paper the sheet alone, one A4 page', async () => {
    await outSheet().locator('[data-test="sheet-print-open"]').click();
    const paper = leader.locator('[data-test="sheet-print"]');
    await expect.poll(() => paper.count()).toBe(1);
    expect(await paper.locator('.masthead').textContent()).toBe('浙江省应急指挥中心');
    expect(await paper.locator('[data-test="print-number"]').textContent()).toMatch(/风险提示〔\d{4}〕1号/);
    expect(await paper.locator('[data-test="print-to"]').textContent()).toBe('温岭市');
    expect(await paper.locator('.measures tbody tr').count()).toBeGreaterThanOrEqual(4);
    expect(await paper.locator('[data-test="print-seal"]').textContent()).toMatch(/浙江省应急指挥中心.*（盖章）/);
    await leader.emulateMedia({ media: 'print' });
    expect(await leader.locator('[data-test="response-card"]').evaluate((e) => getComputedStyle(e).visibility)).toBe('hidden');
    expect(await paper.evaluate((e) => getComputedStyle(e).visibility)).toBe('visible');
    const pdf = await leader.pdf({ format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length).toBe(1);
    await leader.emulateMedia({ media: 'screen' });
    await paper.locator('[data-test="print-close"]').click();
  });

  it("the province's globe: each county it sent a sheet to, coloured by where it stands", async () => {
    const g = await leader.context().newPage();
    await g.goto(`${province.url}/?role=globe`);
    await expect.poll(() => g.locator('[data-test="globe"]').getAttribute('data-sheets'), { timeout: 60_000 }).toBe('331081:closed');
    expect(await g.locator('[data-test="sheet-layer"]').textContent()).toMatch(/风险提示单\s*1/);
    await g.close();
  });

  it('a sheet to a county that is unreachable says so, with one key to call it (督办)', async () => {
    await wenling.stop();
    await expect.poll(() => leader.locator('[data-test="network-board"] tr[data-hall="331081"]').getAttribute('data-state'), { timeout: 15_000 }).toBe('silent');
    const c = await province.client('leader');
    const { id } = await c.command('sheet.draft', {
      hazard: 'typhoon',
      title: '关于防御利奇马的风险提示（温岭市，续）',
      judgement: '温岭沿海仍有暴雨',
      targets: ['331081'],
      measures: [{ text: '山洪危险区人员转移', owner: '乡镇', deadline: Date.now() + 3600_000 }],
      feedbackDue: Date.now() + 3600_000,
    });
    await c.command('sheet.issue', { id });
    c.dispose();
    const t = leader.locator(`[data-test="sheet-out"][data-sheet="${id}"] [data-test="sheet-target"]`);
    await expect.poll(() => t.getAttribute('data-state'), { timeout: 10_000 }).toBe('linkDown');
    expect(await t.textContent()).toMatch(/温岭市: 未送达 · 链路中断（\d+\/\d+ \d\d:\d\d 起）/); // since when
    expect(await t.locator('[data-test="sheet-call-331081"]').count()).toBe(1);
    // 督办: the call goes out logged against the sheet, and the sheet counts it
    await t.locator('[data-test="sheet-call-331081"]').click();
    await expect.poll(() => t.locator('[data-test="sheet-call-331081"]').textContent(), { timeout: 10_000 }).toBe('督办 · 1');
    // on the globe Wenling now shows the most urgent of its two sheets: the one it has not received
    const g = await leader.context().newPage();
    await g.goto(`${province.url}/?role=globe`);
    await expect.poll(() => g.locator('[data-test="globe"]').getAttribute('data-sheets'), { timeout: 60_000 }).toBe('331081:undelivered');
    await g.close();
  });
});
