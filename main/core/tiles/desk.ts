// Map sources and "prepare for offline", as commands any display can give (the settings panel on the
// globe) and a topic every display watches (`prefetch`: each job's progress, live).
//
// Sources are kept in DATA/tiles/sources.json, the same file `beacon tiles add-source` writes, so the
// command line and the panel agree; URLs and keys stay in the core (displays see TileLayer). A job
// runs in the core, rate-limited and pausable (prefetch.ts); its tiles are pinned in the cache, so
// the area stays usable offline whatever the cache's size limit evicts.
import { join } from 'node:path';
import { type Boundary, type Link, type Place, type PrefetchJob, TileSourceConfig } from '../../../common/domain.ts';
import type { BBox } from '../../../common/tiles.ts';
import { HubError } from '../hub/hub.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';
import type { Reach } from '../trust/reach.ts';
import { Prefetch } from './prefetch.ts';
import { readSources, sourcesFile, withSource, writeSources } from './sources-file.ts';
import { TileService } from './service.ts';

/** A place's area: its imported boundary's extent, else its seat with a margin (counties ~30 km,
 *  cities ~80 km, the province ~250 km). */
export function placeArea(p: Place, boundary?: Boundary): BBox {
  if (boundary) {
    let west = 180;
    let south = 90;
    let east = -180;
    let north = -90;
    for (const poly of boundary.polygons) {
      const outer = poly[0]!;
      for (let i = 0; i < outer.length; i += 2) {
        west = Math.min(west, outer[i]!);
        east = Math.max(east, outer[i]!);
        south = Math.min(south, outer[i + 1]!);
        north = Math.max(north, outer[i + 1]!);
      }
    }
    if (west < east && south < north) return { west, south, east, north };
  }
  const d = p.kind === 'county' ? 0.3 : p.kind === 'city' ? 0.8 : 2.5;
  return { west: p.lon - d, south: p.lat - d, east: p.lon + d, north: p.lat + d };
}

export class TilesDesk implements Desk {
  /** Map tiles through the cache (serve mode's /tiles route, Electron's app:// protocol). */
  readonly service: TileService;
  private readonly port: HallPort;
  private readonly dataDir: string;
  private readonly jobs = new Map<string, { job: PrefetchJob; run: Prefetch; done: Promise<unknown> }>();
  private seq = 0;
  private wan: Link['state'] = 'unknown';
  private readonly unsubLink: () => void;

  readonly commands: CommandHandlers = {
    'tiles.source.put': async ({ source }, ctx) => {
      const r = this.putSource(source, true);
      const s = this.service.source(r.id)!.src;
      // journaled without its URL's key (the journal is copied around; the key stays in sources.json)
      await this.port.record('tiles.sourcePut', `tiles:${r.id}`, { id: r.id, name: s.name, host: hostOf(s.url), format: s.format, by: ctx.by, at: this.port.now() }, ctx.origin);
      return r;
    },
    'tiles.source.remove': async ({ id }, ctx) => {
      await this.removeSource(id);
      await this.port.record('tiles.sourceRemoved', `tiles:${id}`, { id, by: ctx.by, at: this.port.now() }, ctx.origin);
      return { id };
    },
    'tiles.prefetch': async (a, ctx) => {
      const r = this.prefetch(a, ctx.by);
      await this.port.record('tiles.prefetchStarted', `prefetch:${r.id}`, { job: this.jobs.get(r.id)!.job }, ctx.origin);
      return r;
    },
    'tiles.prefetch.control': async ({ id, action }) => ({ id, state: this.control(id, action) }),
  };

  private readonly reach: Reach | null;

  constructor(port: HallPort, dataDir: string, reach: Reach | null = null) {
    this.port = port;
    this.dataDir = dataDir;
    this.reach = reach;
    this.unsubLink = port.onLink((l) => {
      if (l.id === 'wan') this.wan = l.state;
    });
    // Offline-first: while the WAN is known to be down, tiles come from the cache without waiting
    // on fetches that cannot succeed.
    this.service = new TileService({ dir: join(dataDir, 'tiles'), online: () => this.wan !== 'offline', now: () => port.now() });
    this.loadSources();
    this.publishLayers();
  }

  stats() {
    return this.service.counters;
  }

  /** Sources from DATA/tiles/sources.json (written by `beacon tiles add-source`). A bad entry is
   *  reported and skipped; the others still load. */
  private loadSources(): void {
    let list: unknown[];
    try {
      list = readSources(this.dataDir);
    } catch (e) {
      console.warn(`beacon: ${(e as Error).message}; no online tile sources`);
      return;
    }
    for (const [i, src] of list.entries()) {
      try {
        this.service.addSource(src);
      } catch (e) {
        console.warn(`beacon: tile source ${i + 1} in ${sourcesFile(this.dataDir)} refused: ${(e as Error).message.slice(0, 300)}`);
      }
    }
  }

  /** The sources as displays see them (names and zoom range; URLs and keys stay here). */
  publishLayers(): void {
    this.port.replace(
      'tiles',
      this.service.list().map((t) => ({ id: t.id, name: t.name, format: t.format, minZoom: t.minZoom, maxZoom: t.maxZoom })),
    );
  }

  /** Add or replace a source (checked against the same schema as the command line's). */
  /** `byCommand`: from a display or console, so its server must be on the outbound allowlist. */
  putSource(input: unknown, byCommand = false): { id: string; replaced: boolean } {
    const parsed = TileSourceConfig.safeParse(input);
    if (!parsed.success) throw new HubError('invalid_args', `tile source refused: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'source'}: ${i.message}`).join('; ')}`);
    const src = parsed.data;
    if (src.minZoom > src.maxZoom) throw new HubError('invalid_args', 'tile source refused: minZoom is above maxZoom');
    if (byCommand && this.reach)
      for (const url of expandHosts(src.url, src.subdomains)) {
        const problem = this.reach.outboundProblem(url);
        if (problem) throw new HubError('forbidden', `tile source ${src.id}: ${problem}`);
      }
    const list = this.stored();
    const replaced = this.service.source(src.id) !== undefined;
    // each source holds a cache file open: a bound keeps a script from exhausting descriptors
    if (!replaced && this.service.sourceCount >= MAX_TILE_SOURCES) throw new HubError('too_large', `a hall keeps at most ${MAX_TILE_SOURCES} tile sources; remove one first`);
    this.service.addSource(src);
    writeSources(this.dataDir, withSource(list, src));
    this.publishLayers();
    return { id: src.id, replaced };
  }

  async removeSource(id: string): Promise<void> {
    if (!this.service.source(id)) throw new HubError('not_found', `no tile source ${id}`);
    const list = this.stored();
    // Its jobs stop, and let go of its cache, before the cache is closed.
    const stopping = [...this.jobs.values()].filter((j) => j.job.source === id);
    for (const j of stopping) j.run.cancel();
    await Promise.all(stopping.map((j) => j.done));
    this.service.removeSource(id);
    writeSources(
      this.dataDir,
      list.filter((s) => (s as { id?: unknown }).id !== id),
    );
    this.publishLayers();
  }

  /** What the file holds now; a damaged file refuses the change rather than being overwritten. */
  private stored(): unknown[] {
    try {
      return readSources(this.dataDir);
    } catch (e) {
      throw new HubError('unavailable', `${(e as Error).message}: fix or remove it first`);
    }
  }

  /** Start preparing an area; returns at once with the job's id and tile count. */
  prefetch(a: { source: string; place?: string; bbox?: BBox; minZoom: number; maxZoom: number; rate?: number }, by: string): { id: string; total: number } {
    const s = this.service.source(a.source);
    if (!s) throw new HubError('not_found', `no tile source ${a.source}`);
    let bbox: BBox;
    let area: string;
    if (a.place) {
      const p = this.port.get<Place>('places', a.place);
      if (!p) throw new HubError('not_found', `no place ${a.place}`);
      bbox = placeArea(p, this.port.get<Boundary>('boundaries', a.place));
      area = `${p.name.zh} ${p.code}`;
    } else if (a.bbox) {
      bbox = a.bbox;
      area = [bbox.west, bbox.south, bbox.east, bbox.north].map((v) => v.toFixed(3)).join(', ');
    } else throw new HubError('invalid_args', 'prefetch needs a place or a bbox');
    if (!(bbox.west < bbox.east && bbox.south < bbox.north)) throw new HubError('invalid_args', 'the area must have west < east and south < north');
    if (a.minZoom > a.maxZoom) throw new HubError('invalid_args', 'minZoom is above maxZoom');
    const running = [...this.jobs.values()].filter((j) => j.job.state === 'running' || j.job.state === 'paused').length;
    if (running >= MAX_PREFETCH_JOBS) throw new HubError('too_large', `${running} prefetch jobs are under way; at most ${MAX_PREFETCH_JOBS} at once (pause or cancel one)`);
    let run: Prefetch;
    try {
      run = new Prefetch(this.service, a.source, bbox, a.minZoom, a.maxZoom, { rate: a.rate, onProgress: (p) => this.progress(id, p) });
    } catch (e) {
      throw new HubError('invalid_args', (e as Error).message);
    }
    const id = `pf-${this.port.now().toString(36)}-${++this.seq}`;
    const job: PrefetchJob = {
      id,
      source: a.source,
      area: area.slice(0, 200),
      bbox,
      minZoom: Math.max(a.minZoom, s.src.minZoom),
      maxZoom: Math.min(a.maxZoom, s.src.maxZoom),
      rate: a.rate ?? 20,
      state: 'running',
      total: run.progress.total,
      done: 0,
      fetched: 0,
      cached: 0,
      failed: 0,
      startedAt: this.port.now(),
      endedAt: null,
      by,
    };
    const done = run.run().catch((e: Error) => {
      console.warn(`beacon: prefetch ${id} failed: ${e.message}`);
      const j = this.jobs.get(id);
      if (j) this.update(id, { ...j.job, state: 'failed', endedAt: this.port.now() });
    });
    this.jobs.set(id, { job, run, done });
    this.port.publish('prefetch', [{ op: 'put', id, value: job }]);
    return { id, total: job.total };
  }

  control(id: string, action: 'pause' | 'resume' | 'cancel'): PrefetchJob['state'] {
    const j = this.jobs.get(id);
    if (!j) throw new HubError('not_found', `no prefetch job ${id}`);
    if (action === 'pause') j.run.pause();
    else if (action === 'resume') j.run.resume();
    else j.run.cancel();
    return j.run.progress.state;
  }

  /** Stop every job (the hall is shutting down); tiles fetched so far stay cached and pinned. The
   *  cache closes once the jobs have let go of it: a fetch in flight must not write to a closed file. */
  async dispose(): Promise<void> {
    this.unsubLink();
    for (const j of this.jobs.values()) j.run.cancel();
    await Promise.all([...this.jobs.values()].map((j) => j.done));
    this.service.close();
  }

  private progress(id: string, p: Prefetch['progress']): void {
    const j = this.jobs.get(id);
    if (!j) return;
    const ended = p.state === 'done' || p.state === 'cancelled';
    this.update(id, { ...j.job, state: p.state, total: p.total, done: p.done, fetched: p.fetched, cached: p.cached, failed: p.failed, endedAt: ended ? (j.job.endedAt ?? this.port.now()) : null });
  }

  private update(id: string, job: PrefetchJob): void {
    const j = this.jobs.get(id);
    if (!j) return;
    j.job = job;
    this.port.publish('prefetch', [{ op: 'put', id, value: job }]);
  }
}

export const tilesDesk = defineDesk()({
  name: 'tiles',
  start: (port, ctx) => new TilesDesk(port, ctx.dataDir, ctx.reach),
});

/** Tile sources a hall keeps (each holds its cache file open). */
const MAX_TILE_SOURCES = 32;
/** Prefetch jobs running or paused at once: each fetches at up to its rate from one server. */
const MAX_PREFETCH_JOBS = 4;

/** The servers a template reaches: one URL per subdomain, the placeholders filled. */
function expandHosts(template: string, subdomains: readonly string[] | undefined): string[] {
  const fill = (t: string) => t.replace(/\{-?[A-Za-z]+\}/g, '0');
  if (!template.includes('{s}')) return [fill(template)];
  return (subdomains?.length ? subdomains : ['a']).map((s) => fill(template.replaceAll('{s}', s)));
}

function hostOf(template: string): string {
  try {
    return new URL(expandHosts(template, undefined)[0]!).host.slice(0, 255);
  } catch {
    return '?';
  }
}
