// The embedded demonstration scenario, generated from the facts in zhejiang-places.ts and the
// shipped Lekima best track. Deterministic: the same `now` gives the same events, byte for byte,
// so a test can pin it and two halls seeded apart show the same picture. Everything is marked demo.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Advisory, Contact, Fix, Grade, Hall, Place, Quadrants, Site, TrackPoint, Typhoon, Unit, UnitKind } from '../../../common/domain.ts';
import { hallLevel, isDescendant, parentHall, unitInArea } from '../../../common/halls.ts';
import { GRADES, TEAM_KINDS } from '../../../common/domain.ts';
import type { EventKind } from '../journal/events.ts';
import { packageRoot } from '../paths.ts';
import { CITIES, cityOf, COUNTIES, PROVINCE, TEAM_COUNTS } from './zhejiang-places.ts';
import { demoPlans } from '../command/levels.ts';
import { demoTemplates } from '../sheets/templates.ts';

export const SCENARIO_ID = 'zhejiang-demo';
// From the package root, so the source tree and the compiled out/node tree find the same file.
const LEKIMA_CSV = () => join(packageRoot(), 'data', 'typhoons', 'lekima-2019.csv');
const LEKIMA_SOURCE = 'CMA best track (CMA Tropical Cyclone Data Center, CH2019BST.txt; Ying et al. 2014; Lu et al. 2021); grade derived from wind by GB/T 19201-2006';

export interface SeedEvent {
  kind: EventKind;
  subject: string;
  payload: unknown;
}

/** mulberry32: tiny, fast, and the same on every platform. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Largest-remainder apportionment of `total` by `weights` (sums exactly to total). */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]! += 1;
  }
  return out;
}

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

const KIND_NAMES: Record<(typeof TEAM_KINDS)[number], { zh: string; en: string }> = {
  'fire-rescue': { zh: '消防救援站', en: 'fire-rescue station' },
  professional: { zh: '专业救援队', en: 'professional rescue team' },
  social: { zh: '社会救援队', en: 'volunteer rescue team' },
  aviation: { zh: '航空救援队', en: 'aviation rescue team' },
};
const TEAM_SIZE: Record<(typeof TEAM_KINDS)[number], [number, number]> = {
  'fire-rescue': [20, 45],
  professional: [15, 60],
  social: [10, 40],
  aviation: [8, 20],
};
const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹熊白孟秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN = [
  '伟',
  '芳',
  '敏',
  '静',
  '强',
  '磊',
  '军',
  '洋',
  '勇',
  '艳',
  '杰',
  '涛',
  '明',
  '超',
  '华',
  '平',
  '刚',
  '建国',
  '海燕',
  '晓东',
  '志强',
  '丽华',
  '建军',
  '文斌',
  '国庆',
  '红梅',
  '立新',
  '永刚',
  '春华',
  '晓峰',
];
export const STOCK_ITEMS = ['tents', 'quilts', 'lifejackets', 'pumps', 'generators', 'sandbags'] as const;

export function parseLekimaCsv(text: string): Fix[] {
  const lines = text.trim().split(/\r?\n/);
  const header = lines.shift();
  if (header?.trim() !== 'time_utc,lat,lon,pressure_hpa,wind_ms,grade') throw new Error('unexpected Lekima CSV header');
  return lines.map((line, i) => {
    const [t, lat, lon, p, w, g] = line.split(',');
    const fix = { t: Date.parse(t!), lat: Number(lat), lon: Number(lon), pressure: Number(p), wind: Number(w), grade: g as Grade };
    if (!Number.isFinite(fix.t) || !GRADES.includes(fix.grade) || [fix.lat, fix.lon, fix.pressure, fix.wind].some((n) => !Number.isFinite(n))) {
      throw new Error(`Lekima CSV line ${i + 2} is malformed`);
    }
    return fix;
  });
}

export function zhejiangScenario(now: number): SeedEvent[] {
  const rand = rng(0x330000);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const person = () => pick([...SURNAMES]) + pick(GIVEN);
  const mobile = () => '1990' + String(Math.floor(rand() * 1e7)).padStart(7, '0');
  const events: SeedEvent[] = [];
  const ev = (kind: EventKind, subject: string, payload: unknown) => events.push({ kind, subject, payload });

  ev('hall.configured', 'hall', {
    hall: { id: 'hall', name: { zh: PROVINCE.hallZh, en: PROVINCE.hallEn }, scenario: SCENARIO_ID, demo: true, seededAt: now },
  });

  // Places: the province hall, the 11 city command centres, the 90 county seats.
  const places: Place[] = [
    { id: PROVINCE.code, kind: 'province', code: PROVINCE.code, parent: null, name: { zh: PROVINCE.hallZh, en: PROVINCE.hallEn }, lat: PROVINCE.lat, lon: PROVINCE.lon, coastal: true, demo: true },
    ...CITIES.map((ct): Place => ({ id: ct.code, kind: 'city', code: ct.code, parent: PROVINCE.code, name: { zh: ct.zh, en: ct.en }, lat: ct.lat, lon: ct.lon, coastal: ct.coastal, demo: true })),
    ...COUNTIES.map((co): Place => ({
      id: co.code,
      kind: 'county',
      code: co.code,
      parent: cityOf(co.code),
      name: { zh: co.zh, en: co.en },
      lat: co.lat,
      lon: co.lon,
      coastal: co.coastal,
      demo: true,
    })),
  ];
  for (const p of places) ev('place.upserted', `place:${p.id}`, { place: p });

  // Teams: the province's counts per kind, shared between cities by population, each placed near
  // a county seat of its city (within about 5 km) so it lands on land and plausibly at a station.
  const units: Unit[] = [];
  const countiesOf = new Map(CITIES.map((ct) => [ct.code, COUNTIES.filter((co) => cityOf(co.code) === ct.code)]));
  for (const kind of TEAM_KINDS) {
    const perCity = apportion(
      TEAM_COUNTS[kind],
      CITIES.map((ct) => ct.pop),
    );
    CITIES.forEach((city, ci) => {
      for (let n = 1; n <= perCity[ci]!; n++) {
        // Aviation bases sit at the city itself (its airport or helipad), the rest spread over counties.
        const at = kind === 'aviation' ? city : pick(countiesOf.get(city.code)!);
        const [lo, hi] = TEAM_SIZE[kind];
        units.push({
          id: `${kind}-${city.code}-${String(n).padStart(2, '0')}`,
          kind: kind as UnitKind,
          name: { zh: `${city.zh}${KIND_NAMES[kind].zh}${n}`, en: `${city.en} ${KIND_NAMES[kind].en} ${n}` },
          home: city.code,
          lat: round(at.lat + (rand() - 0.5) * 0.09),
          lon: round(at.lon + (rand() - 0.5) * 0.09),
          alt: null,
          status: 'standby',
          members: lo + Math.floor(rand() * (hi - lo + 1)),
          stock: null,
          updated: now,
          demo: true,
        });
      }
    });
  }
  // Supply depots: the provincial reserve, one per city, one per coastal county (typhoon stock).
  const stock = (scale: number) => Object.fromEntries(STOCK_ITEMS.map((it) => [it, Math.round((200 + rand() * 800) * scale)]));
  const depot = (id: string, zh: string, en: string, home: string, lat: number, lon: number, scale: number): Unit => ({
    id,
    kind: 'depot',
    name: { zh, en },
    home,
    lat: round(lat + 0.01),
    lon: round(lon + 0.01),
    alt: null,
    status: 'standby',
    members: null,
    stock: stock(scale),
    updated: now,
    demo: true,
  });
  units.push(depot('depot-330000', '浙江省应急物资储备库', 'Zhejiang provincial emergency reserve', PROVINCE.code, PROVINCE.lat + 0.05, PROVINCE.lon - 0.1, 20));
  for (const ct of CITIES) units.push(depot(`depot-${ct.code}`, `${ct.zh}应急物资储备库`, `${ct.en} emergency depot`, ct.code, ct.lat, ct.lon, 5));
  for (const co of COUNTIES.filter((x) => x.coastal)) units.push(depot(`depot-${co.code}`, `${co.zh}防台物资仓库`, `${co.en} typhoon depot`, cityOf(co.code), co.lat, co.lon, 1));

  // Key targets and shelters (demonstration data: real sites at approximate positions, with
  // illustrative facts; a hall loads the bureau's own registry instead).
  const sites: Site[] = [];
  const site = (id: string, kind: Site['kind'], zh: string, en: string, county: string, lat: number, lon: number, facts: Site['facts'], capacity: number | null = null): Site => ({
    id,
    kind,
    name: { zh, en },
    county,
    lat,
    lon,
    capacity,
    occupancy: capacity === null ? null : 0,
    facts,
    demo: true,
  });
  for (const [id, zh, en, county, lat, lon, hazards] of [
    ['zhenhai', '宁波石化经济技术开发区', 'Ningbo Petrochemical Economic Zone', '330211', 29.985, 121.655, 'flammable,toxic'],
    ['daxie', '宁波大榭开发区', 'Ningbo Daxie Development Zone', '330206', 29.93, 121.95, 'flammable'],
    ['shangyu', '杭州湾上虞经济技术开发区', 'Hangzhou Bay Shangyu Economic Zone', '330604', 30.15, 120.87, 'toxic,corrosive'],
    ['jiaxing-port', '嘉兴港区化工新材料园区', 'Jiaxing Port chemical park', '330482', 30.62, 121.02, 'flammable,toxic'],
    ['quzhou', '衢州高新技术产业开发区', 'Quzhou High-tech Zone (chemicals)', '330803', 28.985, 118.87, 'toxic,corrosive'],
    ['yushan', '舟山绿色石化基地', 'Zhoushan green petrochemical base', '330921', 30.27, 122.21, 'flammable,explosive'],
    ['toumen', '台州湾经济技术开发区（头门港）', 'Taizhou Bay Economic Zone (Toumen port)', '331082', 28.84, 121.6, 'toxic'],
    ['longwan', '温州经济技术开发区化工园', 'Wenzhou Economic Zone chemical park', '330303', 27.93, 120.83, 'flammable,corrosive'],
  ] as const)
    sites.push(site(`hazchem-${id}`, 'hazchem', zh, en, county, lat, lon, { hazards }));
  for (const [id, zh, en, county, lat, lon, storage, limit] of [
    ['xinanjiang', '新安江水库（千岛湖）', "Xin'anjiang reservoir (Qiandao Lake)", '330127', 29.61, 119.05, 2162000, 106.5],
    ['fuchunjiang', '富春江水库', 'Fuchunjiang reservoir', '330122', 29.71, 119.63, 92000, 23.0],
    ['shanxi', '珊溪水库', 'Shanxi reservoir', '330328', 27.68, 120.03, 182400, 142.0],
    ['changtan', '长潭水库', 'Changtan reservoir', '331003', 28.58, 121.2, 69100, 35.0],
    ['hengjin', '横锦水库', 'Hengjin reservoir', '330783', 29.13, 120.42, 27400, 160.0],
    ['tankeng', '滩坑水库', 'Tankeng reservoir', '331127', 28.05, 119.62, 415000, 160.0],
    ['tingxia', '亭下水库', 'Tingxia reservoir', '330213', 29.6, 121.3, 15300, 80.0],
  ] as const)
    sites.push(site(`reservoir-${id}`, 'reservoir', zh, en, county, lat, lon, { storage, floodLimit: limit }));
  // one shelter per coastal county, beside its seat (who is moved where in a typhoon)
  for (const co of COUNTIES.filter((x) => x.coastal)) {
    sites.push(
      site(`shelter-${co.code}`, 'shelter', `${co.zh}中心避灾安置场所`, `${co.en} central shelter`, co.code, round(co.lat - 0.012), round(co.lon + 0.015), null, 500 + (Number(co.code) % 46) * 100),
    );
  }
  for (const u of units) ev('unit.upserted', `unit:${u.id}`, { unit: u });
  for (const x of sites) ev('site.upserted', `site:${x.id}`, { site: x });

  // Contacts in five levels plus teams and experts, each with the channels one-key connect tries.
  const contacts: Contact[] = [];
  const chans = (code: string, withVideo: boolean, withSat: boolean) => [
    ...(withVideo ? [{ kind: 'video' as const, address: `sip:${code}-video@hall.beacon.demo` }] : []),
    { kind: 'voip' as const, address: `sip:${code}@hall.beacon.demo` },
    { kind: 'mobile' as const, address: mobile() },
    ...(withSat ? [{ kind: 'satellite' as const, address: '1740' + String(Math.floor(rand() * 1e7)).padStart(7, '0') }] : []),
    { kind: 'radio' as const, address: `TG-${code}` },
  ];
  const contact = (id: string, level: Contact['level'], code: string, parent: string | null, zh: string, en: string, video: boolean, sat: boolean): Contact => ({
    id,
    level,
    code,
    parent,
    name: { zh, en },
    duty: { name: person(), mobile: mobile() },
    deputy: { name: person(), mobile: mobile() },
    channels: chans(id.replace(/[^0-9a-z-]/gi, ''), video, sat),
    lastReached: null,
    demo: true,
  });
  contacts.push(contact('c-330000', 'province', '330000', null, '浙江省应急管理厅值班室', 'Zhejiang Emergency Management Dept. duty office', true, true));
  for (const ct of CITIES) contacts.push(contact(`c-${ct.code}`, 'city', ct.code, 'c-330000', `${ct.zh}应急管理局值班室`, `${ct.en} Emergency Management Bureau duty office`, true, true));
  for (const co of COUNTIES) {
    contacts.push(contact(`c-${co.code}`, 'county', co.code, `c-${cityOf(co.code)}`, `${co.zh}应急管理局值班室`, `${co.en} Emergency Management Bureau duty office`, true, true));
    for (let t = 1; t <= 2; t++) {
      const tid = `c-${co.code}-t${t}`;
      contacts.push(contact(tid, 'township', co.code, `c-${co.code}`, `${co.zh}演示镇${t}`, `${co.en} demo township ${t}`, false, co.coastal));
      contacts.push(contact(`${tid}-v1`, 'village', co.code, tid, `${co.zh}演示镇${t}演示村`, `${co.en} demo township ${t} demo village`, false, false));
    }
  }
  for (const u of units) {
    if (u.kind === 'depot') continue;
    contacts.push(contact(`c-${u.id}`, 'team', u.home, `c-${u.home}`, u.name.zh, u.name.en, false, u.kind !== 'social'));
  }
  const experts: [string, string, string][] = [
    ['meteorology', '气象专家', 'meteorologist'],
    ['hydrology', '水文专家', 'hydrologist'],
    ['hazchem', '危化品专家', 'hazardous-chemicals expert'],
    ['geology', '地质灾害专家', 'geohazard expert'],
    ['structures', '建筑结构专家', 'structural engineer'],
  ];
  for (const [id, zh, en] of experts) contacts.push(contact(`c-expert-${id}`, 'expert', '330000', null, zh, en, true, false));
  for (const ct of contacts) ev('contact.upserted', `contact:${ct.id}`, { contact: ct });

  const fixes = parseLekimaCsv(readFileSync(LEKIMA_CSV(), 'utf8'));
  const lekima: Typhoon = { id: 'tc-2019-1909', number: '1909', name: { zh: '利奇马', en: 'Lekima' }, year: 2019, fixes, source: LEKIMA_SOURCE, demo: true };
  ev('typhoon.upserted', `typhoon:${lekima.id}`, { typhoon: lekima });
  for (const a of demoAdvisories(lekima)) ev('typhoon.advisory', `advisory:${a.id}`, { advisory: a, name: lekima.name, year: 2019, number: '1909' });

  // the plan's checklists per response level (demonstration data; each hall edits its own)
  for (const plan of demoPlans(now)) ev('plan.saved', `plan:${plan.id}`, { plan });
  // and the measures a risk-prompt sheet proposes per level (issue 21)
  for (const template of demoTemplates(now)) ev('template.saved', `template:${template.id}`, { template });

  const count = (k: string) => units.filter((u) => u.kind === k).length;
  ev('scenario.seeded', `scenario:${SCENARIO_ID}`, {
    scenario: SCENARIO_ID,
    counts: {
      places: places.length,
      units: units.length,
      ...Object.fromEntries(TEAM_KINDS.map((k) => [k, count(k)])),
      depots: count('depot'),
      contacts: contacts.length,
      typhoons: 1,
      advisories: demoAdvisories(lekima).length,
    },
  });
  return events;
}

/** Demonstration advisories for Lekima, every 6 hours of its life. NOT forecasts that were issued:
 *  the "forecast" is the best track's own future (a perfect forecast), and the wind radii are an
 *  estimate from the wind speed (CMA's best track has none), so the demo can show wind circles,
 *  a forecast track, a cone and the threat analysis. Marked demo, agency CMA. */
export function demoAdvisories(ty: Typhoon): Advisory[] {
  const HOUR = 3600_000;
  const LEADS = [12, 24, 36, 48, 72];
  const ERROR_KM: Record<number, number> = { 12: 45, 24: 70, 36: 95, 48: 120, 72: 180 };
  const byTime = new Map(ty.fixes.map((f) => [f.t, f]));
  const radii = (wind: number): TrackPoint['radii'] => {
    if (wind < 13.9) return null;
    // Larger on the north-east side, as for most north-west-moving storms in the East China Sea.
    const r7 = 120 + 4 * (wind - 13.9);
    const q = (r: number): Quadrants => ({ ne: Math.round(r * 1.15), se: Math.round(r * 1.05), sw: Math.round(r * 0.9), nw: Math.round(r * 0.95) });
    return { r7: q(r7), ...(wind >= 24.5 ? { r10: q(r7 * 0.4) } : {}), ...(wind >= 32.7 ? { r12: q(r7 * 0.22) } : {}) };
  };
  const point = (f: Fix, error: number | null): TrackPoint => ({ t: f.t, lat: f.lat, lon: f.lon, pressure: f.pressure, wind: f.wind, radii: radii(f.wind), error });
  return ty.fixes
    .filter((f) => new Date(f.t).getUTCHours() % 6 === 0)
    .map((f) => {
      const forecast = LEADS.map((h) => byTime.get(f.t + h * HOUR))
        .filter((x): x is Fix => !!x)
        .map((x) => point(x, ERROR_KM[(x.t - f.t) / HOUR]!));
      const issued = f.t + 2 * HOUR; // CMA issues about two hours after the analysis time
      return { id: `${ty.id}/CMA/${new Date(issued).toISOString()}`, storm: ty.id, agency: 'CMA', issued, current: point(f, null), forecast, received: issued, demo: true };
    });
}

/**
 * The demonstration scenario as one hall of the network seeds it (`--hall-id`; issue 20): the whole
 * map (places, typhoons), but its own name, and only its own units (common/halls.ts, unitInArea),
 * its area's key sites and its directory slice (its own contacts, those below it, the hall above it,
 * the experts). The province holds its province-level resources (the provincial reserve: every team
 * of the demonstration belongs to a city) and the whole directory and every key site; the cities'
 * and counties' forces reach it from their own halls. Without a hall id, the whole province as
 * before.
 */
export function scenarioForHall(events: SeedEvent[], hall: string | undefined): SeedEvent[] {
  const level = hall ? hallLevel(hall) : null;
  if (!hall || level === null) return events;
  const place = (code: string) => (events.find((e) => e.kind === 'place.upserted' && (e.payload as { place: Place }).place.code === code)?.payload as { place: Place } | undefined)?.place;
  const counties = events
    .filter((e) => e.kind === 'place.upserted')
    .map((e) => (e.payload as { place: Place }).place)
    .filter((p) => p.kind === 'county');
  const mine = (code: string) => code === hall || isDescendant(code, hall);
  const own = place(hall);
  const kept = events.filter((e) => {
    if (e.kind === 'unit.upserted') return unitInArea((e.payload as { unit: Unit }).unit, hall, counties);
    if (level === 'province') return true;
    if (e.kind === 'site.upserted') return mine((e.payload as { site: Site }).site.county);
    if (e.kind === 'contact.upserted') {
      const c = (e.payload as { contact: Contact }).contact;
      return c.level === 'expert' || mine(c.code) || c.code === parentHall(hall);
    }
    return true;
  });
  return kept.map((e) => {
    if (e.kind === 'hall.configured' && own && level !== 'province') {
      const h = (e.payload as { hall: Hall }).hall;
      return { ...e, payload: { hall: { ...h, name: { zh: `${own.name.zh}应急指挥中心`, en: `${own.name.en} emergency command centre` } } } };
    }
    if (e.kind === 'scenario.seeded') {
      const p = e.payload as { scenario: string; counts: Record<string, number> };
      const units = kept.filter((x) => x.kind === 'unit.upserted').map((x) => (x.payload as { unit: Unit }).unit);
      const counts: Record<string, number> = {
        ...p.counts,
        units: units.length,
        contacts: kept.filter((x) => x.kind === 'contact.upserted').length,
        depots: units.filter((u) => u.kind === 'depot').length,
      };
      for (const k of TEAM_KINDS) counts[k] = units.filter((u) => u.kind === k).length;
      return { ...e, payload: { ...p, counts } };
    }
    return e;
  });
}
