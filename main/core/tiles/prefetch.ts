// "Prepare for offline": fetch every tile of an area and zoom range into a source's cache, pinned
// so eviction never takes them. Rate-limited (a provincial GIS server must not be hammered), four
// requests in flight, pausable, with progress; tiles already cached are pinned and counted, not
// fetched again.
import { planTiles, tilesOf, type BBox, type TileXYZ } from '../../../common/tiles.ts';
import type { TileService } from './service.ts';

export interface PrefetchProgress {
  source: string;
  state: 'running' | 'paused' | 'done' | 'cancelled';
  total: number;
  done: number;
  fetched: number;
  cached: number;
  failed: number;
}

export class Prefetch {
  readonly progress: PrefetchProgress;
  private readonly service: TileService;
  private readonly tiles: Generator<TileXYZ>;
  private readonly rate: number;
  private readonly onProgress: (p: PrefetchProgress) => void;
  private waiters: (() => void)[] = [];
  private started = 0;
  private issued = 0;

  /** `rate`: tiles per second at most. */
  constructor(service: TileService, source: string, bbox: BBox, minZoom: number, maxZoom: number, opts: { rate?: number; onProgress?: (p: PrefetchProgress) => void } = {}) {
    const s = service.source(source);
    if (!s) throw new Error(`no tile source ${source}`);
    const lo = Math.max(minZoom, s.src.minZoom);
    const hi = Math.min(maxZoom, s.src.maxZoom);
    const plan = planTiles(bbox, lo, Math.max(lo, hi), s.src.format === 'quantized-mesh' ? 'geographic' : 'mercator');
    if (plan.total > 2_000_000) throw new Error(`${plan.total} tiles is too many for one preparation (at most 2,000,000): choose a smaller area or fewer zoom levels`);
    this.service = service;
    this.tiles = tilesOf(plan);
    this.rate = opts.rate ?? 20;
    this.onProgress = opts.onProgress ?? (() => undefined);
    this.progress = { source, state: 'running', total: plan.total, done: 0, fetched: 0, cached: 0, failed: 0 };
  }

  pause(): void {
    if (this.progress.state === 'running') this.set('paused');
  }

  resume(): void {
    if (this.progress.state !== 'paused') return;
    this.set('running');
    // The rate clock restarts: a pause does not bank a burst.
    this.started = performance.now();
    this.issued = 0;
    this.wake();
  }

  cancel(): void {
    if (this.progress.state === 'done') return;
    this.set('cancelled');
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async run(): Promise<PrefetchProgress> {
    this.started = performance.now();
    const s = this.service.source(this.progress.source)!;
    const worker = async () => {
      for (;;) {
        while (this.progress.state === 'paused') await new Promise<void>((r) => this.waiters.push(r));
        if (this.progress.state === 'cancelled') return;
        const next = this.tiles.next();
        if (next.done) return;
        const t = next.value;
        // Pace: tile n may start no earlier than n / rate seconds after the start.
        const due = this.started + (this.issued++ * 1000) / this.rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (s.cache.pin(t.z, t.x, t.y)) this.progress.cached++;
        else {
          const data = await this.service.fetchTile(s.src, t);
          if (data) {
            s.cache.put(t.z, t.x, t.y, data, { pinned: true });
            this.progress.fetched++;
          } else this.progress.failed++;
        }
        this.progress.done++;
        if (this.progress.done % 10 === 0 || this.progress.done === this.progress.total) this.onProgress({ ...this.progress });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    if (this.progress.state !== 'cancelled') this.set('done');
    return { ...this.progress };
  }

  private set(state: PrefetchProgress['state']): void {
    this.progress.state = state;
    this.onProgress({ ...this.progress });
  }
}
