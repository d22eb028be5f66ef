// The CMA best-track text format (CH<year>BST.txt). One header line per storm:
//   66666 BBBB CCC DDDD EEEE F G NAME DATE
//   (international number, data lines, serial incl. TDs, China number, end flag, hours between
//    fixes, English name, dataset date)
// then data lines `YYYYMMDDHH I LAT LON PRES WND [OWD]`, latitude and longitude in tenths of a
// degree, pressure hPa, 2-minute wind m/s, I the intensity code (0 below TD or unknown, 1 TD …
// 6 SuperTY, 9 extratropical). Every line is checked on its own: a bad line is reported by number
// and skipped, never aborting the storms around it.
import type { Fix, Typhoon } from '../../../common/domain.ts';
import { CMA_CATEGORY, gradeOf } from '../../../common/typhoon.ts';

export interface CmaLineError {
  line: number;
  message: string;
}
export interface CmaStorm {
  typhoon: Typhoon;
  /** Header line number, for the report. */
  line: number;
  declared: number;
}
export interface CmaParse {
  storms: CmaStorm[];
  errors: CmaLineError[];
  lines: number;
}

const CMA_SOURCE = 'CMA Tropical Cyclone Data Center best track (CH<year>BST.txt)';

function parseTime(s: string): number | string {
  if (!/^\d{10}$/.test(s)) return `time '${s}' is not YYYYMMDDHH`;
  const [y, mo, d, h] = [+s.slice(0, 4), +s.slice(4, 6), +s.slice(6, 8), +s.slice(8, 10)];
  const t = Date.UTC(y, mo - 1, d, h);
  const back = new Date(t);
  if (y < 1949 || y > 2200 || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23) return `time '${s}' is not a real date`;
  return t;
}

/** Parse a whole file (or a chunk of one; `firstLine` numbers its first line). */
export function parseCma(text: string, opts: { firstLine?: number; source?: string } = {}): CmaParse {
  const first = opts.firstLine ?? 1;
  const source = CMA_SOURCE;
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const storms: CmaStorm[] = [];
  const errors: CmaLineError[] = [];
  let cur: { header: string[]; line: number; fixes: Fix[]; bad: number } | null = null;
  const finish = () => {
    if (!cur) return;
    const [, intl, count, serial, china] = cur.header;
    const declared = Number(count);
    if (cur.fixes.length === 0) {
      errors.push({ line: cur.line, message: `storm ${intl}: no valid data lines, storm skipped` });
    } else {
      const year = new Date(cur.fixes[0]!.t).getUTCFullYear();
      const name = cur.header.length >= 9 ? cur.header.slice(7, -1).join(' ') : cur.header[7] && !/^\d{8}$/.test(cur.header[7]) ? cur.header[7] : '';
      const numbered = china !== '0000';
      const label = name && name.toUpperCase() !== 'NAMELESS' ? name : numbered ? `TC ${china}` : `TD ${serial}`;
      const zh = name && name.toUpperCase() !== 'NAMELESS' ? name : numbered ? `${china}号热带气旋` : `热带低压 ${serial}`;
      const typhoon: Typhoon = {
        id: numbered ? `tc-${year}-${china}` : `tc-${year}-s${serial}`,
        number: numbered ? china! : '',
        name: { zh, en: label },
        year,
        fixes: cur.fixes,
        // the record is its file and header line (a second record under one serial is another storm)
        source: opts.source ? `${source} — ${opts.source}, line ${cur.line}`.slice(0, 500) : source,
        demo: false,
      };
      if (Number.isInteger(declared) && declared !== cur.fixes.length + cur.bad) {
        errors.push({ line: cur.line, message: `storm ${intl}: header declares ${declared} data lines, found ${cur.fixes.length + cur.bad} (file truncated?); ${cur.fixes.length} valid fixes kept` });
      }
      storms.push({ typhoon, line: cur.line, declared });
    }
    cur = null;
  };
  lines.forEach((raw, i) => {
    const n = first + i;
    const line = raw.trim();
    if (line === '') return;
    const f = line.split(/\s+/);
    if (f[0] === '66666') {
      finish();
      if (f.length < 7 || !/^\d{4}$/.test(f[1]!) || !/^\d{1,4}$/.test(f[2]!) || !/^\d{4}$/.test(f[3]!) || !/^\d{4}$/.test(f[4]!)) {
        errors.push({ line: n, message: 'header is not "66666 BBBB CCC DDDD EEEE F G NAME DATE"; its data lines are skipped' });
        cur = { header: [], line: n, fixes: [], bad: 0 };
        cur.header = [];
        return;
      }
      cur = { header: f, line: n, fixes: [], bad: 0 };
      return;
    }
    if (!cur) {
      errors.push({ line: n, message: 'data line before any 66666 header' });
      return;
    }
    if (cur.header.length === 0) return; // under a broken header: already reported
    const bad = (message: string) => {
      errors.push({ line: n, message });
      cur!.bad++;
    };
    if (f.length < 6) return bad(`truncated record: ${f.length} fields, need at least 6 (YYYYMMDDHH I LAT LON PRES WND)`);
    if (f.length > 7) return bad(`${f.length} fields, at most 7 expected`);
    if (!f.slice(1).every((x) => /^-?\d+$/.test(x))) return bad('fields after the time must be whole numbers');
    const t = parseTime(f[0]!);
    if (typeof t === 'string') return bad(t);
    const cat = Number(f[1]);
    const lat = Number(f[2]) / 10;
    const lon = Number(f[3]) / 10;
    const pressure = Number(f[4]);
    const wind = Number(f[5]);
    if (!(cat in CMA_CATEGORY)) return bad(`intensity code ${cat} is not one of 0-6 or 9`);
    if (lat < -90 || lat > 90) return bad(`latitude ${lat} out of range`);
    if (lon < 0 || lon > 180) return bad(`longitude ${lon} out of range (tenths of a degree east)`);
    if (pressure < 850 || pressure > 1100) return bad(`pressure ${pressure} hPa out of range 850-1100`);
    if (wind < 0 || wind > 120) return bad(`wind ${wind} m/s out of range 0-120`);
    const prev = cur.fixes[cur.fixes.length - 1];
    if (prev && t <= prev.t) return bad(`time ${f[0]} does not follow the previous fix`);
    const c = CMA_CATEGORY[cat];
    const fix: Fix = { t, lat, lon, pressure, wind, grade: c === 'ET' ? gradeOf(wind) : (c ?? gradeOf(wind)) };
    if (c === 'ET') fix.et = true;
    cur.fixes.push(fix);
  });
  finish();
  return { storms, errors, lines: lines.length };
}

/** Write storms back in the CMA format (for tests and for exporting the hall's tracks). */
export function formatCma(storms: { typhoon: Typhoon; serial: number }[], datasetDate = '20200101'): string {
  const out: string[] = [];
  for (const { typhoon, serial } of storms) {
    const intl = typhoon.number ? typhoon.number : '0000';
    out.push(`66666 ${intl} ${String(typhoon.fixes.length).padStart(4)} ${String(serial).padStart(4, '0')} ${typhoon.number || '0000'} 0 6 ${typhoon.name.en.padStart(20)} ${datasetDate}`);
    for (const f of typhoon.fixes) {
      const d = new Date(f.t);
      const ts = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}${String(d.getUTCHours()).padStart(2, '0')}`;
      const cat = f.et ? 9 : f.grade ? ['TD', 'TS', 'STS', 'TY', 'STY', 'SuperTY'].indexOf(f.grade) + 1 : 0;
      out.push(`${ts} ${cat} ${String(Math.round(f.lat * 10)).padStart(3)} ${String(Math.round(f.lon * 10)).padStart(4)} ${String(f.pressure).padStart(4)} ${String(f.wind).padStart(6)}`);
    }
  }
  return out.join('\n') + '\n';
}

export { chunkCma } from '../../../common/cma.ts';
