// `beacon tiles …`: configure tile sources, prepare an area for offline use, import .mbtiles.
// Works on the data directory directly; the tile caches are SQLite files in WAL mode, so this can
// run while the hall serves from them.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BBox } from '../common/tiles.ts';
import { placeArea } from './core/tiles/desk.ts';
import { Prefetch } from './core/tiles/prefetch.ts';
import { readSources, sourcesFile, withSource, writeSources } from './core/tiles/sources-file.ts';
import { type Boundary, type Place, TileSourceConfig } from '../common/domain.ts';
import { TileService } from './core/tiles/service.ts';

type Out = NodeJS.WritableStream;
export interface TilesArgs {
  dataDir: string;
  id?: string;
  name?: string;
  url?: string;
  format?: string;
  key?: string;
  source?: string;
  bbox?: string;
  place?: string;
  zoom?: string;
  rate?: string;
  'max-cache-mb'?: string;
  'min-zoom'?: string;
  'max-zoom'?: string;
}

function service(dataDir: string, err: Out): TileService {
  const s = new TileService({ dir: join(dataDir, 'tiles') });
  let list: unknown[] = [];
  try {
    list = readSources(dataDir);
  } catch (e) {
    err.write(`beacon: ${(e as Error).message}; no tile sources\n`);
  }
  for (const src of list) {
    try {
      s.addSource(src);
    } catch (e) {
      err.write(`beacon: a tile source in ${sourcesFile(dataDir)} is invalid: ${(e as Error).message.slice(0, 200)}\n`);
    }
  }
  return s;
}

/** A place's area (placeArea: its imported boundary's extent, else its seat with a margin). */
function placeBox(dataDir: string, code: string): BBox {
  const file = join(dataDir, 'beacon.sqlite');
  if (!existsSync(file)) throw new Error(`no hall data in ${dataDir}`);
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare('SELECT data FROM places WHERE id = ?').pluck().get(code) as string | undefined;
    if (!row) throw new Error(`no place ${code}`);
    const boundary = db.prepare('SELECT data FROM boundaries WHERE id = ?').pluck().get(code) as string | undefined;
    return placeArea(JSON.parse(row) as Place, boundary ? (JSON.parse(boundary) as Boundary) : undefined);
  } finally {
    db.close();
  }
}

export async function runTiles(sub: string | undefined, rest: string[], a: TilesArgs, out: Out, err: Out): Promise<number> {
  const fail = (m: string) => (err.write(`beacon: ${m}\n`), 2);
  if (sub === 'add-source') {
    const src = TileSourceConfig.safeParse({
      id: a.id,
      name: a.name ?? a.id,
      url: a.url,
      format: a.format ?? 'png',
      ...(a.key ? { key: a.key } : {}),
      ...(a['min-zoom'] ? { minZoom: Number(a['min-zoom']) } : {}),
      ...(a['max-zoom'] ? { maxZoom: Number(a['max-zoom']) } : {}),
      ...(a['max-cache-mb'] ? { maxCacheMB: Number(a['max-cache-mb']) } : {}),
    });
    if (!src.success) return fail(`tile source refused: ${src.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    try {
      writeSources(a.dataDir, withSource(readSources(a.dataDir), src.data));
    } catch (e) {
      return fail((e as Error).message);
    }
    out.write(`tile source ${src.data.id} saved in ${sourcesFile(a.dataDir)} (a running hall picks it up at restart)\n`);
    return 0;
  }
  if (sub === 'prefetch') {
    if (!a.source) return fail('prefetch needs --source ID');
    const zm = /^(\d{1,2})(?:-(\d{1,2}))?$/.exec(a.zoom ?? '');
    if (!zm) return fail('prefetch needs --zoom MIN-MAX (e.g. 6-12)');
    let bbox: BBox;
    try {
      if (a.bbox) {
        const [west, south, east, north] = a.bbox.split(',').map(Number) as [number, number, number, number];
        bbox = { west, south, east, north };
        if (![west, south, east, north].every(Number.isFinite)) throw new Error('--bbox is W,S,E,N in degrees');
      } else if (a.place) bbox = placeBox(a.dataDir, a.place);
      else return fail('prefetch needs --bbox W,S,E,N or --place CODE');
    } catch (e) {
      return fail((e as Error).message);
    }
    const svc = service(a.dataDir, err);
    try {
      const job = new Prefetch(svc, a.source, bbox, Number(zm[1]), Number(zm[2] ?? zm[1]), {
        rate: a.rate ? Number(a.rate) : 20,
        onProgress: (p) => err.write(`\r${p.done}/${p.total} tiles (${Math.floor((100 * p.done) / Math.max(1, p.total))}%), ${p.failed} failed`),
      });
      const stop = () => job.cancel();
      process.once('SIGINT', stop);
      const r = await job.run();
      process.off('SIGINT', stop);
      err.write('\n');
      out.write(`${r.state}: ${r.total} tiles, ${r.fetched} fetched, ${r.cached} already cached, ${r.failed} failed\n`);
      return r.failed ? 1 : 0;
    } catch (e) {
      return fail((e as Error).message);
    } finally {
      svc.close();
    }
  }
  if (sub === 'import') {
    const file = rest[0];
    if (!file || !a.source) return fail('usage: beacon tiles import FILE.mbtiles --source ID');
    const svc = service(a.dataDir, err);
    try {
      const s = svc.source(a.source);
      if (!s) return fail(`no tile source ${a.source} (add it first: beacon tiles add-source)`);
      const n = s.cache.importFile(file, Date.now(), s.src.format);
      out.write(`imported ${n} tiles into ${a.source}\n`);
      return 0;
    } catch (e) {
      return fail((e as Error).message);
    } finally {
      svc.close();
    }
  }
  if (sub === 'stats') {
    const svc = service(a.dataDir, err);
    for (const src of svc.list()) {
      const st = svc.source(src.id)!.cache.stats();
      out.write(`${src.id}: ${st.tiles} tiles, ${(st.bytes / 1048576).toFixed(1)} MB, ${st.pinned} pinned\n`);
    }
    svc.close();
    return 0;
  }
  return fail('usage: beacon tiles add-source|prefetch|import|stats …');
}
