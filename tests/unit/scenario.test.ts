import { describe, expect, it } from 'vitest';
import { TOPIC_SCHEMAS } from '../../common/contract.ts';
import type { Contact, Place, Site, Typhoon, Unit } from '../../common/domain.ts';
import { distanceKm } from '../../common/geo.ts';
import { gradeOf } from '../../common/typhoon.ts';
import { apportion, scenarioForHall, zhejiangScenario } from '../../main/core/scenario/seed.ts';
import { COUNTIES } from '../../main/core/scenario/zhejiang-places.ts';

const NOW = Date.UTC(2026, 0, 1);
const events = zhejiangScenario(NOW);
const of = <T>(kind: string, key: string) => events.filter((e) => e.kind === kind).map((e) => (e.payload as Record<string, T>)[key]!);
const places = of<Place>('place.upserted', 'place');
const units = of<Unit>('unit.upserted', 'unit');
const contacts = of<Contact>('contact.upserted', 'contact');
const [lekima] = of<Typhoon>('typhoon.upserted', 'typhoon');

function km(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const r = Math.PI / 180;
  const h = Math.sin(((b.lat - a.lat) * r) / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(((b.lon - a.lon) * r) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

describe('the embedded Zhejiang scenario', () => {
  it('is deterministic', () => {
    expect(JSON.stringify(zhejiangScenario(NOW))).toBe(JSON.stringify(events));
  });

  it('holds the province hall, 11 cities and 90 county-level divisions with valid, unique GB/T 2260 codes', () => {
    expect(places.filter((p) => p.kind === 'province')).toHaveLength(1);
    expect(places.filter((p) => p.kind === 'city').map((p) => p.name.zh)).toEqual(['杭州市', '宁波市', '温州市', '嘉兴市', '湖州市', '绍兴市', '金华市', '衢州市', '舟山市', '台州市', '丽水市']);
    const counties = places.filter((p) => p.kind === 'county');
    expect(counties).toHaveLength(90);
    expect(new Set(places.map((p) => p.code)).size).toBe(places.length);
    for (const c of counties) {
      expect(c.code, c.name.zh).toMatch(/^33(0[1-9]|1[01])\d{2}$/);
      expect(c.parent).toBe(c.code.slice(0, 4) + '00');
      // Inside Zhejiang's bounding box.
      expect(c.lat).toBeGreaterThan(27.0);
      expect(c.lat).toBeLessThan(31.2);
      expect(c.lon).toBeGreaterThan(118.0);
      expect(c.lon).toBeLessThan(123.0);
    }
    expect(counties.find((c) => c.code === '331081')).toMatchObject({ name: { zh: '温岭市', en: 'Wenling' }, coastal: true });
  });

  it("has the province's published team counts, each team near its home city", () => {
    const count = (k: string) => units.filter((u) => u.kind === k).length;
    expect([count('fire-rescue'), count('professional'), count('social'), count('aviation')]).toEqual([132, 188, 248, 13]);
    const cityCounties = (home: string) => COUNTIES.filter((c) => c.code.slice(0, 4) + '00' === home);
    for (const u of units.filter((x) => x.kind !== 'depot')) {
      const city = places.find((p) => p.code === u.home)!;
      const nearest = Math.min(km(u, city), ...cityCounties(u.home).map((c) => km(u, c)));
      expect(nearest, u.id).toBeLessThan(8);
    }
  });

  it('has depots with stock and a five-level contact directory with channels', () => {
    expect(units.filter((u) => u.kind === 'depot').every((d) => d.stock && Object.values(d.stock).every((n) => n > 0))).toBe(true);
    const levels = new Map<string, number>();
    for (const c of contacts) levels.set(c.level, (levels.get(c.level) ?? 0) + 1);
    expect(Object.fromEntries(levels)).toMatchObject({ province: 1, city: 11, county: 90, township: 180, village: 180, team: 581 });
    expect(new Set(contacts.map((c) => c.id)).size).toBe(contacts.length);
    const county = contacts.find((c) => c.id === 'c-331081')!;
    expect(county.channels.map((c) => c.kind)).toEqual(['video', 'voip', 'mobile', 'satellite', 'radio']);
  });

  it('has key targets and shelters, each in a county of the province and near it', () => {
    const sites = of<Site>('site.upserted', 'site');
    const kinds = new Map<string, number>();
    for (const x of sites) kinds.set(x.kind, (kinds.get(x.kind) ?? 0) + 1);
    expect(kinds.get('hazchem')).toBeGreaterThanOrEqual(8);
    expect(kinds.get('reservoir')).toBeGreaterThanOrEqual(7);
    expect(kinds.get('shelter')).toBe(COUNTIES.filter((c) => c.coastal).length);
    for (const x of sites) {
      const county = places.find((p) => p.code === x.county);
      expect(county?.kind, x.id).toBe('county');
      // a site lies within 50 km of its county's seat (Linhai's port is 45 km from its seat): catches
      // a transposed coordinate or a wrong code
      expect(distanceKm(x, county!), x.id).toBeLessThan(50);
      expect(TOPIC_SCHEMAS.sites.parse(x).demo).toBe(true);
    }
    for (const x of sites.filter((s) => s.kind === 'shelter')) expect(x.capacity! > 0 && x.occupancy === 0).toBe(true);
  });

  it("carries Lekima's 62 CMA fixes with the citation, super typhoon at landfall", () => {
    expect(lekima!.fixes).toHaveLength(62);
    expect(lekima!.source).toMatch(/CMA/);
    const landfall = lekima!.fixes.find((f) => f.t === Date.UTC(2019, 7, 9, 18));
    expect(landfall).toMatchObject({ grade: 'SuperTY', wind: 52, pressure: 930 });
    for (const f of lekima!.fixes) expect(gradeOf(f.wind)).toBe(f.grade);
  });

  it("validates against the contract's schemas and is marked demo", () => {
    for (const p of places) expect(TOPIC_SCHEMAS.places.parse(p).demo).toBe(true);
    for (const u of units) expect(TOPIC_SCHEMAS.units.parse(u).demo).toBe(true);
    for (const c of contacts) expect(TOPIC_SCHEMAS.contacts.parse(c).demo).toBe(true);
    expect(TOPIC_SCHEMAS.typhoons.parse(lekima).demo).toBe(true);
  });

  it('apportions exactly', () => {
    expect(apportion(13, [11.94, 9.4, 9.57, 5.4, 3.37, 5.27, 7.05, 2.28, 1.16, 6.62, 2.51]).reduce((a, b) => a + b)).toBe(13);
    expect(apportion(10, [1, 1, 1])).toEqual([4, 3, 3]);
  });
});

describe('the demonstration as one hall of the network seeds it (issue 20)', () => {
  const unitsOf = (hall: string | undefined) =>
    scenarioForHall(zhejiangScenario(NOW), hall)
      .filter((e) => e.kind === 'unit.upserted')
      .map((e) => (e.payload as { unit: Unit }).unit.id);
  it("a city and its counties hold each of the city's units exactly once; the province holds its own reserve and the whole directory", () => {
    const counties = zhejiangScenario(NOW)
      .filter((e) => e.kind === 'place.upserted' && (e.payload as { place: Place }).place.parent === '331000')
      .map((e) => (e.payload as { place: Place }).place.code);
    const held = [...unitsOf('331000'), ...counties.flatMap((c) => unitsOf(c))];
    const all = zhejiangScenario(NOW)
      .filter((e) => e.kind === 'unit.upserted' && (e.payload as { unit: Unit }).unit.home === '331000')
      .map((e) => (e.payload as { unit: Unit }).unit.id);
    expect(held.sort()).toEqual(all.sort());
    expect(new Set(held).size).toBe(held.length);
    expect(unitsOf('331082')).toContain('depot-331082');
    // the province's own force is its reserve; the teams reach it from the cities' halls
    expect(unitsOf('330000')).toEqual(['depot-330000']);
    const province = scenarioForHall(zhejiangScenario(NOW), '330000');
    expect(province.filter((e) => e.kind === 'contact.upserted')).toHaveLength(zhejiangScenario(NOW).filter((e) => e.kind === 'contact.upserted').length);
    expect(province.find((e) => e.kind === 'hall.configured')!.payload).toMatchObject({ hall: { name: { zh: '浙江省应急指挥中心' } } });
    expect(unitsOf(undefined)).toHaveLength(623); // without a hall id: the whole province, as before
    const linhai = scenarioForHall(zhejiangScenario(NOW), '331082');
    expect(linhai.find((e) => e.kind === 'hall.configured')!.payload).toMatchObject({ hall: { name: { zh: '临海市应急指挥中心' } } });
    const contacts = linhai.filter((e) => e.kind === 'contact.upserted').map((e) => (e.payload as { contact: Contact }).contact);
    expect(contacts.some((c) => c.code === '331000')).toBe(true); // the hall above, one key away
    expect(contacts.some((c) => c.code === '330100')).toBe(false); // not Hangzhou's
  });
});
