// `beacon import typhoon|advisory FILE`: through a running hall's hub (--url), or straight into a
// data directory when no hall runs on it. Either way the same command handlers do the work, so
// the checks and the report are the ones the UI shows.
import { existsSync, readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, type CommandResult } from '../common/contract.ts';
import { HallCore } from './core/hall.ts';
import { callsToCsv, contactsToCsv } from './core/calls/directory.ts';
import type { Call as LoggedCall, Contact } from '../common/domain.ts';
import { chunkCma } from './core/typhoon/cma.ts';
import { parseBoundaries } from './core/boundaries/geojson.ts';
import { type GeoJsonFeatureCollection, shapefileToGeoJson } from './core/boundaries/shapefile.ts';
import type { Place } from '../common/domain.ts';

type Call = (name: string, args: unknown) => Promise<unknown>;

export interface ImportReport {
  storms: CommandResult<'typhoon.import'>['storms'];
  errors: CommandResult<'typhoon.import'>['errors'];
  lines: number;
}

/** Import a CMA file in chunks of whole storms (the hub's frame limit), with progress. */
export async function importCmaFile(call: Call, text: string, file: string, progress?: (done: number, total: number) => void): Promise<ImportReport> {
  const chunks = chunkCma(text);
  const report: ImportReport = { storms: [], errors: [], lines: 0 };
  for (const [i, ch] of chunks.entries()) {
    const r = (await call('typhoon.import', { text: ch.text, firstLine: ch.firstLine, file })) as CommandResult<'typhoon.import'>;
    report.storms.push(...r.storms);
    report.errors.push(...r.errors);
    report.lines += r.lines;
    progress?.(i + 1, chunks.length);
  }
  return report;
}

async function hubCaller(url: string, token: string | undefined): Promise<{ call: Call; close: () => void; places: () => Promise<Place[]> }> {
  const u = new URL(url);
  if (token) u.searchParams.set('token', token);
  const ws = new WebSocket(u);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', (e) => reject(new Error(`cannot reach the hall at ${url}: ${e.message}`)));
  });
  ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, client: 'beacon-cli import' }));
  const waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { t: string; id?: string; ok?: boolean; value?: unknown; error?: { code: string; message: string } };
    if (m.t === 'result' && m.id) {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.ok) w?.resolve(m.value);
      else w?.reject(new Error(`${m.error?.code}: ${m.error?.message}`));
    } else if (m.t === 'error') {
      for (const w of waiting.values()) w.reject(new Error(`${m.error?.code}: ${m.error?.message}`));
    }
  });
  ws.on('close', () => {
    for (const w of waiting.values()) w.reject(new Error('the hall closed the connection'));
  });
  let n = 0;
  return {
    call: (name, args) =>
      new Promise((resolve, reject) => {
        const id = `i${++n}`;
        waiting.set(id, { resolve, reject });
        ws.send(JSON.stringify({ t: 'cmd', id, name, args }));
      }),
    close: () => ws.close(),
    // The read-only API gives the places (same host, same token).
    places: async () => {
      const api = new URL('/api/topics/places', u.toString().replace(/^ws/, 'http'));
      const res = await fetch(api, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      if (!res.ok) throw new Error(`cannot read the hall's places: HTTP ${res.status}`);
      return ((await res.json()) as { items: Place[] }).items;
    },
  };
}

async function directCaller(dataDir: string): Promise<{ call: Call; close: () => Promise<void>; places: () => Promise<Place[]> }> {
  const core = await HallCore.start({ dataDir, seed: true });
  return {
    // The same path as a display's command, checked against the contract, without the socket.
    call: (name, args) => core.command(name, args, 'cli'),
    places: async () => core.all<Place>('places'),
    close: () => core.dispose(),
  };
}

export async function runImport(
  what: string | undefined,
  file: string | undefined,
  opts: { url?: string; token?: string; dataDir: string; gcj02?: boolean; codeField?: string },
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  if ((what !== 'typhoon' && what !== 'advisory' && what !== 'boundaries' && what !== 'contacts') || !file) {
    err.write('beacon: usage: beacon import typhoon|advisory|boundaries|contacts FILE [--url ws://HOST:PORT/hub [--token T] | --data DIR]\n');
    return 2;
  }
  let text: string;
  // A shapefile is read with its .dbf, .prj and .cpg beside it and becomes GeoJSON here.
  let shapes: GeoJsonFeatureCollection | null = null;
  try {
    if (what === 'boundaries' && /\.shp$/i.test(file)) {
      const base = file.slice(0, -4);
      const sibling = (ext: string) => [ext, ext.toUpperCase()].map((e) => `${base}.${e}`).find((p) => existsSync(p));
      const dbf = sibling('dbf');
      if (!dbf) throw new Error(`${base}.dbf is missing: a shapefile's codes are in its .dbf`);
      const prj = sibling('prj');
      const cpg = sibling('cpg');
      shapes = shapefileToGeoJson({ shp: readFileSync(file), dbf: readFileSync(dbf), prj: prj ? readFileSync(prj, 'utf8') : undefined, cpg: cpg ? readFileSync(cpg, 'utf8') : undefined });
      text = '';
    } else text = readFileSync(file, 'utf8');
  } catch (e) {
    err.write(`beacon: cannot read ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  const conn = opts.url ? await hubCaller(opts.url, opts.token) : await directCaller(opts.dataDir);
  try {
    if (what === 'contacts') {
      const name = file.split(/[\\/]/).pop()!;
      const chunks = chunkCsvLines(text);
      // Checked whole first: with one bad row anywhere, nothing at all is written.
      const errors: { line: number; message: string }[] = [];
      let rows = 0;
      for (const ch of chunks) {
        const r = (await conn.call('contacts.import', { csv: ch.text, firstLine: ch.firstLine, dryRun: true })) as CommandResult<'contacts.import'>;
        errors.push(...r.errors);
        rows += r.rows;
      }
      if (errors.length) {
        for (const e of errors) err.write(`${name}:${e.line}: ${e.message}\n`);
        out.write(`${rows} rows, ${errors.length} problems: nothing imported\n`);
        return 1;
      }
      const sum = { added: 0, updated: 0, unchanged: 0 };
      for (const [i, ch] of chunks.entries()) {
        const r = (await conn.call('contacts.import', { csv: ch.text, firstLine: ch.firstLine })) as CommandResult<'contacts.import'>;
        sum.added += r.added;
        sum.updated += r.updated;
        sum.unchanged += r.unchanged;
        if (chunks.length > 1) err.write(`\rimporting ${i + 1}/${chunks.length}`);
      }
      out.write(`${rows} rows: ${sum.added} added, ${sum.updated} updated, ${sum.unchanged} unchanged\n`);
      return 0;
    }
    if (what === 'boundaries') {
      const places = new Map((await conn.places()).map((p) => [p.code, p]));
      const r = parseBoundaries(shapes ?? text, { gcj02: opts.gcj02, codeField: opts.codeField, source: file.split(/[\\/]/).pop()!, places });
      const name = file.split(/[\\/]/).pop()!;
      for (const e of r.errors) err.write(`${name}${e.feature ? ` feature ${e.feature}` : ''}${e.code ? ` (${e.code})` : ''}: ${e.message}\n`);
      for (const w of r.warnings) err.write(`${name} feature ${w.feature} (${w.code}): warning: ${w.message}\n`);
      let stored = 0;
      for (const b of r.boundaries) {
        try {
          await conn.call('boundary.put', { boundary: b });
          stored++;
        } catch (e) {
          err.write(`${name} (${b.id}): ${(e as Error).message}\n`);
        }
      }
      out.write(`${stored} boundaries imported, ${r.errors.length} refused, ${r.warnings.length} warnings\n`);
      return stored === 0 ? 1 : 0;
    }
    if (what === 'advisory') {
      let input: unknown;
      try {
        input = JSON.parse(text);
      } catch {
        err.write(`beacon: ${file} is not JSON\n`);
        return 1;
      }
      const list = Array.isArray(input) ? input : [input];
      let failed = 0;
      for (const [i, a] of list.entries()) {
        try {
          const r = (await conn.call('typhoon.advisory', { advisory: a })) as { id: string; event: number };
          out.write(`${r.event ? 'stored' : 'already held'}: ${r.id}\n`);
        } catch (e) {
          failed++;
          err.write(`advisory ${i + 1}: ${(e as Error).message}\n`);
        }
      }
      return failed ? 1 : 0;
    }
    const name = file.split(/[\\/]/).pop()!;
    const r = await importCmaFile(conn.call, text, name, (d, t) => t > 1 && err.write(`\rimporting ${d}/${t}`));
    for (const s of r.storms) out.write(`${s.changed ? 'imported' : 'unchanged'}: ${s.id} ${s.name.en} (${s.fixes} fixes)\n`);
    for (const e of r.errors) err.write(`${name}:${e.line}: ${e.message}\n`);
    out.write(`${r.storms.length} storms, ${r.storms.filter((s) => s.changed).length} changed, ${r.errors.length} problems, ${r.lines} lines\n`);
    return r.storms.length === 0 && r.errors.length ? 1 : 0;
  } finally {
    await conn.close();
  }
}

/** CSV text in chunks under the hub's frame limit, cut between rows (never inside a quoted field),
 *  each with the header line and the file line number of its header. */
export function chunkCsvLines(text: string, max = 50_000): { text: string; firstLine: number }[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0] ?? '';
  const chunks: { text: string; firstLine: number }[] = [];
  let cur: string[] = [];
  let size = 0;
  let start = 1;
  let quotes = 0;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (size + l.length > max && quotes % 2 === 0 && cur.length) {
      chunks.push({ text: [header, ...cur].join('\n'), firstLine: start });
      cur = [];
      size = 0;
      start = i;
    }
    cur.push(l);
    size += l.length + 1;
    quotes += (l.match(/"/g) ?? []).length;
  }
  if (cur.some((l) => l.trim())) chunks.push({ text: [header, ...cur].join('\n'), firstLine: start });
  if (!chunks.length) chunks.push({ text: header, firstLine: 1 });
  return chunks;
}

/** `beacon export contacts|calls`: CSV on stdout. */
export async function runExport(what: string | undefined, opts: { url?: string; token?: string; dataDir: string }, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (what !== 'contacts' && what !== 'calls') {
    err.write('beacon: usage: beacon export contacts|calls [--url ws://HOST:PORT/hub [--token T] | --data DIR]\n');
    return 2;
  }
  if (what === 'contacts') {
    let contacts: Contact[];
    if (opts.url) {
      const api = new URL('/api/topics/contacts', opts.url.replace(/^ws/, 'http'));
      const res = await fetch(api, { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} });
      if (!res.ok) throw new Error(`cannot read the hall's contacts: HTTP ${res.status}`);
      contacts = ((await res.json()) as { items: Contact[] }).items;
    } else {
      const core = await HallCore.start({ dataDir: opts.dataDir, seed: true });
      contacts = core.all<Contact>('contacts');
      await core.dispose();
    }
    contacts.sort((a, b) => a.code.localeCompare(b.code) || a.id.localeCompare(b.id));
    out.write('\uFEFF' + contactsToCsv(contacts));
    return 0;
  }
  const conn = opts.url ? await hubCaller(opts.url, opts.token) : await directCaller(opts.dataDir);
  try {
    const all: LoggedCall[] = [];
    let before: string | undefined;
    for (;;) {
      const r = (await conn.call('calls.search', { limit: 1000, ...(before ? { before } : {}) })) as CommandResult<'calls.search'>;
      all.push(...r.calls);
      if (r.calls.length < 1000) break;
      before = r.calls[r.calls.length - 1]!.id;
    }
    out.write('\uFEFF' + callsToCsv(all));
    return 0;
  } finally {
    await conn.close();
  }
}
