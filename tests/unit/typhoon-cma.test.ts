// The CMA best-track format, with real-format lines and broken ones.
import { describe, expect, it } from 'vitest';
import { chunkCma, formatCma, parseCma } from '../../main/core/typhoon/cma.ts';

// Header and data lines in the layout of CH2019BST.txt (fields separated by runs of spaces).
const GOOD = `66666 1909   5 0011 1909 0 6              Lekima 20200430
2019080318 1 158 1315 1002      13
2019080400 1 163 1308 1002      13
2019080800 6 229 1258  920      60
2019080918 6 283 1214  930      52
2019081312 9 376 1205  996      15
66666 0000   2 0012 0000 0 6                    20200430
2019081006 0 180 1150 1006      10
2019081012 1 182 1148 1004      12
`;

describe('CMA best-track parser', () => {
  it('reads storms, numbers, names, fixes, grades and the extratropical stage', () => {
    const r = parseCma(GOOD);
    expect(r.errors).toEqual([]);
    expect(r.storms.map((s) => s.typhoon.id)).toEqual(['tc-2019-1909', 'tc-2019-s0012']);
    const [lekima, td] = r.storms.map((s) => s.typhoon);
    expect(lekima!.name.en).toBe('Lekima');
    expect(lekima!.fixes).toHaveLength(5);
    expect(lekima!.fixes[0]).toEqual({ t: Date.UTC(2019, 7, 3, 18), lat: 15.8, lon: 131.5, pressure: 1002, wind: 13, grade: 'TD' });
    expect(lekima!.fixes[3]!.grade).toBe('SuperTY');
    expect(lekima!.fixes[4]).toMatchObject({ et: true, grade: 'TD' }); // code 9: grade from wind, flagged ET
    expect(td!.number).toBe('');
    expect(td!.name.en).toBe('TD 0012');
    expect(td!.fixes[0]!.grade).toBeNull(); // code 0, 10 m/s: below TD
  });

  it('reports every bad line by number and keeps the good storms around it', () => {
    const lines = GOOD.split('\n');
    lines.splice(2, 0, '2019023012 1 160 1310 1002 13'); // line 3: 30 February
    lines.splice(4, 0, '2019080406 2 950 1305 1000 18'); // line 5: latitude 95°
    lines.splice(5, 0, '2019080412 2 172 1303'); // line 6: truncated
    lines.splice(6, 0, '2019080418 7 175 1301 998 20'); // line 7: no intensity code 7
    lines.splice(7, 0, '2019080400 2 178 1300 998 20'); // line 8: goes back in time
    const text = ['2019010100 1 100 1300 1000 15', ...lines].join('\n'); // line 1: before any header
    const r = parseCma(text);
    expect(r.storms.map((s) => [s.typhoon.id, s.typhoon.fixes.length])).toEqual([
      ['tc-2019-1909', 5],
      ['tc-2019-s0012', 2],
    ]);
    const byLine = Object.fromEntries(r.errors.map((e) => [e.line, e.message]));
    expect(byLine[1]).toMatch(/before any 66666 header/);
    expect(byLine[4]).toMatch(/not a real date/);
    expect(byLine[6]).toMatch(/latitude 95 out of range/);
    expect(byLine[7]).toMatch(/truncated record/);
    expect(byLine[8]).toMatch(/intensity code 7/);
    expect(byLine[9]).toMatch(/does not follow the previous fix/);
    expect(byLine[2]).toMatch(/declares 5 data lines, found 10/);
  });

  it('reports a truncated file and a broken header, and skips only what they hold', () => {
    const cut = GOOD.split('\n').slice(0, 4).join('\n'); // header says 5, only 3 lines follow
    const r = parseCma(cut);
    expect(r.storms[0]!.typhoon.fixes).toHaveLength(3);
    expect(r.errors[0]).toMatchObject({ line: 1, message: expect.stringMatching(/declares 5 data lines, found 3/) });
    const broken = parseCma(GOOD.replace('66666 1909   5 0011 1909', '66666 19x9   5'));
    expect(broken.storms.map((s) => s.typhoon.id)).toEqual(['tc-2019-s0012']);
    expect(broken.errors[0]).toMatchObject({ line: 1, message: expect.stringMatching(/header is not/) });
    expect(parseCma('garbage\n\u0000\u0001\n').errors).toHaveLength(2);
  });

  it('round-trips through the writer and splits into whole storms for the hub', () => {
    const r = parseCma(GOOD);
    const again = parseCma(formatCma(r.storms.map((s, i) => ({ typhoon: s.typhoon, serial: 11 + i }))));
    expect(again.errors).toEqual([]);
    expect(again.storms.map((s) => s.typhoon.fixes)).toEqual(r.storms.map((s) => s.typhoon.fixes));
    const big = Array.from({ length: 40 }, () => GOOD).join('');
    const chunks = chunkCma(big, 2000);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect(c.text.length).toBeLessThanOrEqual(2000);
      expect(c.text.trimStart().startsWith('66666')).toBe(true);
    }
    const lines = chunks.flatMap((c) => parseCma(c.text, { firstLine: c.firstLine }).storms.map((s) => s.line));
    expect(lines).toEqual(parseCma(big).storms.map((s) => s.line));
  });
});
