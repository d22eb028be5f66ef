// The tile service: every map tile a display needs comes through here (an HTTP route in serve mode,
// the app:// protocol in Electron). Cache first; the source when the WAN is up; and when a tile is
// in neither, the nearest cached ancestor, cut to the tile's quarter and scaled up, marked as such
// and never cached by the display, so the real tile replaces it once the network returns.
import { mkdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { TileSourceConfig } from '../../../common/domain.ts';
import { tileUrl, type TileXYZ } from '../../../common/tiles.ts';
import { MbTiles } from '../../../native/tiles/mbtiles.ts';

export type TileAnswer = { kind: 'hit' | 'fetched'; data: Buffer; type: string } | { kind: 'coarser'; data: Buffer; type: 'image/png'; from: number } | { kind: 'missing'; reason: string };

export interface TileServiceOptions {
  dir: string;
  /** Is the WAN usable? When not, nothing waits on a fetch that cannot succeed. */
  online?: () => boolean;
  /** Upstream timeout per tile. @default 5000 */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

const TYPE = { png: 'image/png', jpg: 'image/jpeg', 'quantized-mesh': 'application/vnd.quantized-mesh' } as const;

export class TileService {
  private readonly sources = new Map<string, { src: TileSourceConfig; cache: MbTiles }>();
  private readonly opts: Required<Omit<TileServiceOptions, 'online'>> & { online: () => boolean };
  readonly counters = { hits: 0, fetched: 0, coarser: 0, missing: 0, upstreamErrors: 0, evicted: 0 };
  private sinceEvict = 0;

  constructor(opts: TileServiceOptions) {
    this.opts = { timeoutMs: 5000, fetch: globalThis.fetch, now: Date.now, online: () => true, ...opts };
    mkdirSync(opts.dir, { recursive: true });
  }

  addSource(input: unknown): TileSourceConfig {
    const src = TileSourceConfig.parse(input);
    this.sources.get(src.id)?.cache.close();
    this.sources.set(src.id, { src, cache: new MbTiles(join(this.opts.dir, `${src.id}.mbtiles`), { name: src.name, format: src.format }) });
    return src;
  }

  source(id: string): { src: TileSourceConfig; cache: MbTiles } | undefined {
    return this.sources.get(id);
  }

  get sourceCount(): number {
    return this.sources.size;
  }

  list(): TileSourceConfig[] {
    return [...this.sources.values()].map((s) => s.src);
  }

  async tile(id: string, t: TileXYZ): Promise<TileAnswer> {
    const s = this.sources.get(id);
    if (!s) return { kind: 'missing', reason: `no tile source ${id}` };
    const n = 2 ** t.z;
    // terrain's geographic tiling has twice as many columns as rows
    const cols = s.src.format === 'quantized-mesh' ? 2 * n : n;
    if (!(t.z >= 0 && t.z <= 22 && t.x >= 0 && t.x < cols && t.y >= 0 && t.y < n)) return { kind: 'missing', reason: 'no such tile' };
    const cached = s.cache.get(t.z, t.x, t.y, this.opts.now());
    if (cached) {
      this.counters.hits++;
      return { kind: 'hit', data: cached.data, type: TYPE[s.src.format] };
    }
    if (t.z >= s.src.minZoom && t.z <= s.src.maxZoom && this.opts.online()) {
      const got = await this.fetchTile(s.src, t);
      if (got) {
        s.cache.put(t.z, t.x, t.y, got, { now: this.opts.now() });
        this.counters.fetched++;
        if (++this.sinceEvict >= 200) {
          this.sinceEvict = 0;
          this.counters.evicted += s.cache.evict(s.src.maxCacheMB * 1024 * 1024);
        }
        return { kind: 'fetched', data: got, type: TYPE[s.src.format] };
      }
    }
    // Terrain has no stand-in here: Cesium refines a missing terrain tile from its parent by itself.
    const up = s.src.format === 'quantized-mesh' ? null : s.cache.ancestor(t.z, t.x, t.y);
    if (up) {
      try {
        this.counters.coarser++;
        return {
          kind: 'coarser',
          data: cutFromAncestor(up.data, s.src.format as 'png' | 'jpg', t.z - up.z, t.x - (up.x << (t.z - up.z)), t.y - (up.y << (t.z - up.z))),
          type: 'image/png',
          from: up.z,
        };
      } catch {
        // a corrupt cached tile: fall through to missing
      }
    }
    this.counters.missing++;
    return { kind: 'missing', reason: 'not cached and the source cannot be reached' };
  }

  /** Fetch one tile from its source: only a 200 with an image body counts. */
  async fetchTile(src: TileSourceConfig, t: TileXYZ): Promise<Buffer | null> {
    try {
      const terrain = src.format === 'quantized-mesh';
      const res = await this.opts.fetch(tileUrl(src.url, t, { subdomains: src.subdomains, key: src.key }), {
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        // no extensions asked for: the hall's layer.json offers none (see layerJson)
        ...(terrain ? { headers: { accept: 'application/vnd.quantized-mesh,application/octet-stream;q=0.9' } } : {}),
      });
      if (res.status !== 200) {
        this.counters.upstreamErrors++;
        return null;
      }
      let body = Buffer.from(await res.arrayBuffer());
      // terrain servers often keep tiles gzipped on disk and serve them without Content-Encoding
      if (terrain && body.length > 2 && body[0] === 0x1f && body[1] === 0x8b) body = gunzipSync(body, { maxOutputLength: 4 * 1024 * 1024 });
      if (body.length > 4 * 1024 * 1024 || !(terrain ? looksLikeTerrain(body) : looksLikeImage(body))) {
        this.counters.upstreamErrors++;
        return null;
      }
      return body;
    } catch {
      this.counters.upstreamErrors++;
      return null;
    }
  }

  /**
   * A terrain source's layer.json, as the hall serves it: the upstream's (fetched when online, kept in
   * the cache's metadata for offline starts) with its tile template pointed at the hall's route and
   * its extensions removed (the hall caches plain meshes). Null when neither is there.
   */
  async layerJson(id: string): Promise<string | null> {
    const s = this.sources.get(id);
    if (!s || s.src.format !== 'quantized-mesh') return null;
    if (this.opts.online()) {
      try {
        // the layer description sits where the tile path starts: …/{z}/{x}/{y}.terrain → …/layer.json
        const at = s.src.url.indexOf('{z}');
        const template = at < 0 ? s.src.url : s.src.url.slice(0, at) + 'layer.json' + (s.src.url.includes('?') ? s.src.url.slice(s.src.url.indexOf('?')) : '');
        const res = await this.opts.fetch(tileUrl(template, { z: 0, x: 0, y: 0 }, { subdomains: s.src.subdomains, key: s.src.key }), { signal: AbortSignal.timeout(this.opts.timeoutMs) });
        const text = res.status === 200 ? await res.text() : '';
        if (text.length > 0 && text.length <= 8 * 1024 * 1024) {
          const doc = JSON.parse(text) as Record<string, unknown>;
          if (typeof doc === 'object' && doc && !Array.isArray(doc) && String(doc.format ?? '').startsWith('quantized-mesh')) {
            const { extensions: _x, metadataAvailability: _m, ...rest } = doc;
            const mine = JSON.stringify({ ...rest, tiles: ['{z}/{x}/{y}.terrain'], scheme: 'tms' });
            s.cache.setMeta('layer.json', mine);
            return mine;
          }
        }
        this.counters.upstreamErrors++;
      } catch {
        this.counters.upstreamErrors++;
      }
    }
    return s.cache.meta('layer.json');
  }

  /** Stop serving a source. Its cache file stays on disk: adding the source again finds its tiles. */
  removeSource(id: string): boolean {
    const s = this.sources.get(id);
    if (!s) return false;
    s.cache.close();
    this.sources.delete(id);
    return true;
  }

  close(): void {
    for (const s of this.sources.values()) s.cache.close();
    this.sources.clear();
  }
}

/** A quantized-mesh tile by its shape: the 88-byte header, a vertex count, and room for the vertices. */
export function looksLikeTerrain(b: Buffer): boolean {
  if (b.length < 92) return false;
  const n = b.readUInt32LE(88);
  const minH = b.readFloatLE(24);
  const maxH = b.readFloatLE(28);
  return n >= 3 && n < 1 << 24 && b.length >= 92 + 6 * n && Number.isFinite(minH) && Number.isFinite(maxH) && minH <= maxH;
}

/** PNG or JPEG by signature: an error page served with status 200 must never enter the cache. */
export function looksLikeImage(b: Buffer): boolean {
  return (b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) || (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff);
}

/** The part of an ancestor tile that covers a descendant `levels` zooms finer at offset (dx, dy)
 *  in descendant-tile units, scaled up (bilinear) to the ancestor's size, as PNG. */
export function cutFromAncestor(data: Buffer, format: 'png' | 'jpg', levels: number, dx: number, dy: number): Buffer {
  const img =
    format === 'png' || data[0] === 0x89
      ? PNG.sync.read(data)
      : (() => {
          const j = jpeg.decode(data, { useTArray: true, maxMemoryUsageInMB: 64 });
          return { width: j.width, height: j.height, data: Buffer.from(j.data) };
        })();
  const size = img.width;
  const span = size / 2 ** levels; // source pixels per output tile
  const out = new PNG({ width: size, height: size });
  for (let oy = 0; oy < size; oy++) {
    // Sample inside the quarter only: its edge pixels must not bleed in from the neighbours.
    const sy = Math.min(dy * span + span - 1, Math.max(dy * span, dy * span + ((oy + 0.5) * span) / size - 0.5));
    const y0 = Math.max(0, Math.floor(sy));
    const y1 = Math.min(img.height - 1, Math.ceil(sy));
    const fy = Math.max(0, sy - y0);
    for (let ox = 0; ox < size; ox++) {
      const sx = Math.min(dx * span + span - 1, Math.max(dx * span, dx * span + ((ox + 0.5) * span) / size - 0.5));
      const x0 = Math.max(0, Math.floor(sx));
      const x1 = Math.min(img.width - 1, Math.ceil(sx));
      const fx = Math.max(0, sx - x0);
      const o = (oy * size + ox) * 4;
      for (let c = 0; c < 4; c++) {
        const p = (yy: number, xx: number) => img.data[(yy * img.width + xx) * 4 + c]!;
        const top = p(y0, x0) * (1 - fx) + p(y0, x1) * fx;
        const bot = p(y1, x0) * (1 - fx) + p(y1, x1) * fx;
        out.data[o + c] = Math.round(top * (1 - fy) + bot * fy);
      }
    }
  }
  return PNG.sync.write(out);
}
