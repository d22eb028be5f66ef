// The directory as CSV: import checked row by row (a bureau's spreadsheet has typos), export in
// the same columns. Every problem is named by line; the caller writes nothing when there is one.
import { csvLine, parseCsv } from '../../../common/csv.ts';
import { CONTACT_LEVELS, type Call, type Contact, type ContactLevel } from '../../../common/domain.ts';

export const CONTACT_COLUMNS = [
  'id',
  'level',
  'code',
  'parent',
  'name_zh',
  'name_en',
  'duty_name',
  'duty_mobile',
  'deputy_name',
  'deputy_mobile',
  'video',
  'voip',
  'mobile',
  'satellite',
  'radio',
] as const;

const SIP = /^sips?:[^\s@<>"]+@[^\s<>"]+$/;
const PHONE = /^\+?[0-9][0-9 -]{3,19}$/;

export interface DirectoryContext {
  /** Known admin codes and their kind ('province' | 'city' | 'county'). */
  place(code: string): string | undefined;
  /** Contacts already in the directory. */
  contact(id: string): Contact | undefined;
}

export function parseContactsCsv(text: string, ctx: DirectoryContext, firstLine = 1): { contacts: Contact[]; errors: { line: number; message: string }[]; rows: number } {
  const { rows, errors } = parseCsv(text, firstLine);
  const contacts: Contact[] = [];
  const header = rows.shift();
  if (!header) return { contacts, errors: [...errors, { line: firstLine, message: 'empty file' }], rows: 0 };
  const cols = header.fields.map((f) => f.trim().toLowerCase());
  const missing = CONTACT_COLUMNS.filter((c) => !cols.includes(c));
  const unknown = cols.filter((c) => !(CONTACT_COLUMNS as readonly string[]).includes(c));
  if (missing.length || unknown.length) {
    errors.push({
      line: header.line,
      message: `header: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && unknown.length ? '; ' : ''}${unknown.length ? `unknown ${unknown.join(', ')}` : ''}`,
    });
    return { contacts, errors, rows: rows.length };
  }
  const ids = new Map<string, number>();
  for (const r of rows) {
    if (r.fields.length !== cols.length) {
      errors.push({ line: r.line, message: `${r.fields.length} fields, the header has ${cols.length}` });
      continue;
    }
    const f = Object.fromEntries(cols.map((c, i) => [c, r.fields[i]!.trim()])) as Record<(typeof CONTACT_COLUMNS)[number], string>;
    const problems: string[] = [];
    for (const [k, v] of Object.entries(f)) if (v.length > 200) problems.push(`${k} longer than 200 characters`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(f.id)) problems.push(`id ${JSON.stringify(f.id.slice(0, 40))} is not 1-64 letters, digits, . _ -`);
    else if (ids.has(f.id)) problems.push(`id ${f.id} repeats line ${ids.get(f.id)}`);
    if (!(CONTACT_LEVELS as readonly string[]).includes(f.level)) problems.push(`level ${JSON.stringify(f.level)} is not one of ${CONTACT_LEVELS.join('/')}`);
    if (!/^\d{6}$/.test(f.code)) problems.push(`code ${JSON.stringify(f.code)} is not a 6-digit admin code`);
    else if (!ctx.place(f.code)) problems.push(`code ${f.code} is not a city or county this hall knows`);
    if (f.parent && !ctx.contact(f.parent) && !ids.has(f.parent) && !rows.some((x) => x.fields[cols.indexOf('id')]?.trim() === f.parent))
      problems.push(`parent ${f.parent} is neither in the directory nor in the file`);
    if (f.parent === f.id) problems.push('a contact cannot be its own parent');
    if (!f.name_zh) problems.push('name_zh is empty');
    if (!f.duty_name) problems.push('duty_name is empty');
    for (const k of ['duty_mobile', 'deputy_mobile', 'mobile', 'satellite'] as const) if (f[k] && !PHONE.test(f[k])) problems.push(`${k} ${JSON.stringify(f[k].slice(0, 30))} is not a phone number`);
    for (const k of ['video', 'voip'] as const) if (f[k] && !SIP.test(f[k])) problems.push(`${k} ${JSON.stringify(f[k].slice(0, 60))} is not a sip: URI`);
    if (f.radio && !/^[\w.-]{1,64}$/.test(f.radio)) problems.push(`radio ${JSON.stringify(f.radio.slice(0, 30))} is not a talk-group name`);
    if (!f.video && !f.voip && !f.mobile && !f.satellite && !f.radio) problems.push('no channel to reach this contact');
    if (problems.length) {
      errors.push({ line: r.line, message: problems.join('; ') });
      continue;
    }
    ids.set(f.id, r.line);
    const prior = ctx.contact(f.id);
    contacts.push({
      id: f.id,
      level: f.level as ContactLevel,
      code: f.code,
      parent: f.parent || null,
      name: { zh: f.name_zh, en: f.name_en || f.name_zh },
      duty: { name: f.duty_name, mobile: f.duty_mobile },
      deputy: { name: f.deputy_name || '-', mobile: f.deputy_mobile },
      channels: (['video', 'voip', 'mobile', 'satellite', 'radio'] as const).filter((k) => f[k]).map((k) => ({ kind: k, address: f[k] })),
      lastReached: prior?.lastReached ?? null,
      demo: false,
    });
  }
  errors.sort((a, b) => a.line - b.line);
  return { contacts, errors, rows: rows.length };
}

export function contactsToCsv(contacts: Contact[]): string {
  const lines = [CONTACT_COLUMNS.join(',')];
  for (const c of contacts) {
    const ch = (k: string) => c.channels.find((x) => x.kind === k)?.address ?? '';
    lines.push(
      csvLine([c.id, c.level, c.code, c.parent, c.name.zh, c.name.en, c.duty.name, c.duty.mobile, c.deputy.name, c.deputy.mobile, ch('video'), ch('voip'), ch('mobile'), ch('satellite'), ch('radio')]),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

/** Whether an imported row changes what the hall holds (re-importing the same file changes nothing). */
export function sameContact(a: Contact, b: Contact): boolean {
  const strip = (c: Contact) => JSON.stringify({ ...c, spell: undefined, lastReached: undefined, demo: undefined });
  return strip(a) === strip(b);
}

/** Beijing time as ISO 8601 with its offset: what a bureau's spreadsheet should show. */
function beijing(ms: number | null): string {
  if (ms === null) return '';
  return new Date(ms + 8 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+08:00');
}

export const CALL_COLUMNS = ['id', 'started', 'contact', 'name_zh', 'code', 'by', 'state', 'channel', 'answered', 'ended', 'duration_s', 'ended_by', 'consultation', 'attempts'] as const;

export function callsToCsv(calls: Call[]): string {
  const lines = [CALL_COLUMNS.join(',')];
  for (const c of calls) {
    const attempts = c.attempts.map((a) => `${a.channel}:${a.result}${a.detail ? ` (${a.detail})` : ''}`).join('; ');
    lines.push(
      csvLine([c.id, beijing(c.startedAt), c.contact, c.name.zh, c.code, c.by, c.state, c.channel, beijing(c.answeredAt), beijing(c.endedAt), c.duration, c.endedBy, c.consultation, attempts]),
    );
  }
  return lines.join('\r\n') + '\r\n';
}
