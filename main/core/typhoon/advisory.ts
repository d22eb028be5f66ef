// The hall's advisory form (documented in docs/typhoon-advisory.md): one agency's analysed
// position and forecast for one storm. It arrives from the province over the bus, from a file
// dropped on a display, or from `beacon import advisory`. Checked field by field; the checks a
// forecaster would make (times in order, radii nested 12 ≤ 10 ≤ 7) are made here, once.
import { z } from 'zod';
import { describeIssues } from '../../../common/contract.ts';
import { Agency, Lat, Lon, Name, Quadrants, type Advisory, type TrackPoint, type WindRadii } from '../../../common/domain.ts';

export const ADVISORY_FORMAT = 'beacon.typhoon-advisory/1';
const Iso = z
  .string()
  .max(40)
  .refine((s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(s) && Number.isFinite(Date.parse(s)), 'an ISO 8601 time with a zone, e.g. 2019-08-09T12:00:00Z');
const Radii = z.object({ r7: Quadrants.optional(), r10: Quadrants.optional(), r12: Quadrants.optional() }).strict();
const Point = z
  .object({
    time: Iso,
    lat: Lat,
    lon: Lon,
    pressure: z.number().min(850).max(1100).optional(),
    wind: z.number().min(0).max(120).optional(),
    radii: Radii.optional(),
    error: z.number().min(0).max(2000).optional(),
  })
  .strict();

export const AdvisoryInput = z
  .object({
    format: z.literal(ADVISORY_FORMAT),
    agency: Agency,
    issued: Iso,
    storm: z
      .object({
        number: z.string().regex(/^\d{4}$/, "China's 4-digit storm number, e.g. 1909"),
        year: z.number().int().min(1949).max(2200),
        name: Name.optional(),
      })
      .strict(),
    current: Point,
    forecast: z.array(Point).max(64),
  })
  .strict();
export type AdvisoryInput = z.infer<typeof AdvisoryInput>;

export type AdvisoryParse = { ok: true; advisory: Advisory; name: { zh: string; en: string } | null; year: number; number: string } | { ok: false; error: string };

function checkRadii(r: WindRadii | undefined, where: string): string | null {
  if (!r) return null;
  for (const q of ['ne', 'se', 'sw', 'nw'] as const) {
    const r7 = r.r7?.[q] ?? Infinity;
    const r10 = r.r10?.[q] ?? 0;
    const r12 = r.r12?.[q] ?? 0;
    if (r10 > r7) return `${where}: force-10 radius ${q.toUpperCase()} ${r10} km exceeds the force-7 radius ${r7} km`;
    if (r12 > (r.r10?.[q] ?? r7)) return `${where}: force-12 radius ${q.toUpperCase()} ${r12} km exceeds the force-10 radius`;
  }
  return null;
}

const point = (p: z.infer<typeof Point>): TrackPoint => ({
  t: Date.parse(p.time),
  lat: p.lat,
  lon: p.lon,
  pressure: p.pressure ?? null,
  wind: p.wind ?? null,
  radii: p.radii && (p.radii.r7 || p.radii.r10 || p.radii.r12) ? p.radii : null,
  error: p.error ?? null,
});

/** Validate an advisory in the hall's form. `received` is the hall's clock; `demo` marks the
 *  demonstration scenario's advisories. Never throws. */
export function parseAdvisory(input: unknown, received: number, demo = false): AdvisoryParse {
  const r = AdvisoryInput.safeParse(input);
  if (!r.success) return { ok: false, error: describeIssues(r.error) };
  const a = r.data;
  const issued = Date.parse(a.issued);
  if (issued > received + 3600_000) return { ok: false, error: `issued ${a.issued} is more than an hour ahead of the hall's clock` };
  const current = point(a.current);
  const forecast = a.forecast.map(point);
  let prev = current.t;
  for (const [i, p] of forecast.entries()) {
    if (p.t <= prev) return { ok: false, error: `forecast.${i}.time must be after the point before it` };
    if (p.t - current.t > 240 * 3600_000) return { ok: false, error: `forecast.${i}.time is more than 240 h ahead` };
    prev = p.t;
  }
  const bad = checkRadii(a.current.radii, 'current') ?? a.forecast.map((p, i) => checkRadii(p.radii, `forecast.${i}`)).find((x) => x);
  if (bad) return { ok: false, error: bad };
  const storm = `tc-${a.storm.year}-${a.storm.number}`;
  const advisory: Advisory = {
    id: `${storm}/${a.agency}/${new Date(issued).toISOString()}`,
    storm,
    agency: a.agency,
    issued,
    current,
    forecast,
    received,
    demo,
  };
  return { ok: true, advisory, name: a.storm.name ?? null, year: a.storm.year, number: a.storm.number };
}

/** An advisory the hall holds, in the advisory form again: what a hall passes down the network
 *  (issue 20), and what `parseAdvisory` takes at the other end. */
export function advisoryMessage(a: Advisory, storm: { number: string; year: number; name: { zh: string; en: string } | null }): AdvisoryInput {
  const pt = (p: TrackPoint) => ({
    time: new Date(p.t).toISOString(),
    lat: p.lat,
    lon: p.lon,
    ...(p.pressure !== null ? { pressure: p.pressure } : {}),
    ...(p.wind !== null ? { wind: p.wind } : {}),
    ...(p.radii ? { radii: p.radii } : {}),
    ...(p.error !== null ? { error: p.error } : {}),
  });
  return {
    format: ADVISORY_FORMAT,
    agency: a.agency,
    issued: new Date(a.issued).toISOString(),
    storm: { number: storm.number, year: storm.year, ...(storm.name ? { name: storm.name } : {}) },
    current: pt(a.current),
    forecast: a.forecast.map(pt),
  };
}

const BEIJING = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });

/** One line a duty officer reads first (Chinese, Beijing time): which storm, whose advisory, where
 *  its centre is and how strong. The order's text at the sender, the notice's at the receiver. */
export function advisorySummary(a: Advisory, storm: { number: string; name: { zh: string; en: string } | null }): string {
  const c = a.current;
  const strength = [c.wind !== null ? `${c.wind} m/s` : '', c.pressure !== null ? `${c.pressure} hPa` : ''].filter(Boolean).join('，');
  const at = (lat: number, lon: number) => `${Math.abs(lat).toFixed(1)}°${lat >= 0 ? 'N' : 'S'} ${Math.abs(lon).toFixed(1)}°${lon >= 0 ? 'E' : 'W'}`;
  return `台风报文：${storm.name ? `${storm.name.zh}（${storm.number}）` : `${storm.number}号台风`} ${a.agency} ${BEIJING.format(a.issued)} 发布，中心 ${at(c.lat, c.lon)}${strength ? `，${strength}` : ''}，预报 ${a.forecast.length} 个时次`;
}
