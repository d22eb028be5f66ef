// One tile cache per source, in the MBTiles layout (the `metadata` and `tiles` tables of the spec,
// TMS rows), so any MBTiles tool can read it and an operator's .mbtiles file can be imported. Beside
// the spec's tables, `beacon_tiles` keeps when each tile was fetched and last used, its size and
// whether "prepare for offline" pinned it: eviction is least-recently-used among unpinned tiles.
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface CachedTile {
  data: Buffer;
  fetched: number;
}

const flip = (z: number, y: number) => 2 ** z - 1 - y;

export class MbTiles {
  readonly db: Database.Database;
  private readonly q: Record<string, Database.Statement>;

  constructor(file: string, meta: { name: string; format: string }) {
    this.db = new Database(file);
    // Owner only, as everything in the data directory; before the WAL exists, which takes this mode.
    chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL'); // a cache: losing the last tiles to a power cut costs a refetch
    this.db.pragma('busy_timeout = 5000'); // `beacon tiles prefetch` may write while the hall reads
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS metadata (name TEXT, value TEXT);
      CREATE UNIQUE INDEX IF NOT EXISTS metadata_name ON metadata (name);
      CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
      CREATE UNIQUE INDEX IF NOT EXISTS tile_index ON tiles (zoom_level, tile_column, tile_row);
      CREATE TABLE IF NOT EXISTS beacon_tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, fetched INTEGER, used INTEGER, bytes INTEGER, pinned INTEGER DEFAULT 0,
        PRIMARY KEY (zoom_level, tile_column, tile_row));
      CREATE INDEX IF NOT EXISTS beacon_tiles_lru ON beacon_tiles (pinned, used);
    `);
    const setMeta = this.db.prepare('INSERT INTO metadata (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');
    setMeta.run('name', meta.name);
    setMeta.run('format', meta.format);
    this.q = {
      get: this.db.prepare(
        'SELECT t.tile_data AS data, b.fetched AS fetched FROM tiles t LEFT JOIN beacon_tiles b USING (zoom_level, tile_column, tile_row) WHERE t.zoom_level = ? AND t.tile_column = ? AND t.tile_row = ?',
      ),
      touch: this.db.prepare('UPDATE beacon_tiles SET used = ? WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?'),
      put: this.db.prepare(
        'INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?) ON CONFLICT (zoom_level, tile_column, tile_row) DO UPDATE SET tile_data = excluded.tile_data',
      ),
      putMeta: this.db.prepare(`INSERT INTO beacon_tiles (zoom_level, tile_column, tile_row, fetched, used, bytes, pinned) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (zoom_level, tile_column, tile_row) DO UPDATE SET fetched = excluded.fetched, used = excluded.used, bytes = excluded.bytes, pinned = max(pinned, excluded.pinned)`),
      has: this.db.prepare('SELECT 1 FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?').pluck(),
      stats: this.db.prepare('SELECT count(*) AS tiles, coalesce(sum(length(tile_data)), 0) AS bytes FROM tiles'),
      pinned: this.db.prepare('SELECT count(*) FROM beacon_tiles WHERE pinned = 1').pluck(),
      unpinnedBytes: this.db.prepare('SELECT coalesce(sum(bytes), 0) FROM beacon_tiles WHERE pinned = 0').pluck(),
      oldest: this.db.prepare('SELECT zoom_level AS z, tile_column AS x, tile_row AS r, bytes FROM beacon_tiles WHERE pinned = 0 ORDER BY used LIMIT ?'),
      pin: this.db.prepare('UPDATE beacon_tiles SET pinned = 1 WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?'),
      delTile: this.db.prepare('DELETE FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?'),
      delMeta: this.db.prepare('DELETE FROM beacon_tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?'),
    };
  }

  /** A metadata value (MBTiles `metadata` table), or null. */
  meta(name: string): string | null {
    return (this.db.prepare('SELECT value FROM metadata WHERE name = ?').pluck().get(name) as string | undefined) ?? null;
  }

  setMeta(name: string, value: string): void {
    this.db.prepare('INSERT INTO metadata (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  /** A cached tile (XYZ coordinates), marking it used. */
  get(z: number, x: number, y: number, now = Date.now()): CachedTile | null {
    const r = this.q.get!.get(z, x, flip(z, y)) as { data: Buffer; fetched: number | null } | undefined;
    if (!r) return null;
    this.q.touch!.run(now, z, x, flip(z, y));
    return { data: r.data, fetched: r.fetched ?? 0 };
  }

  has(z: number, x: number, y: number): boolean {
    return this.q.has!.get(z, x, flip(z, y)) !== undefined;
  }

  put(z: number, x: number, y: number, data: Buffer, opts: { now?: number; pinned?: boolean } = {}): void {
    const now = opts.now ?? Date.now();
    this.db.transaction(() => {
      this.q.put!.run(z, x, flip(z, y), data);
      this.q.putMeta!.run(z, x, flip(z, y), now, now, data.length, opts.pinned ? 1 : 0);
    })();
  }

  /** Keep a cached tile through eviction (prepared for offline). False when it is not cached. */
  pin(z: number, x: number, y: number): boolean {
    return this.q.pin!.run(z, x, flip(z, y)).changes > 0;
  }

  /** The nearest cached ancestor of a tile, up to `levels` zooms coarser. */
  ancestor(z: number, x: number, y: number, levels = 8): { z: number; x: number; y: number; data: Buffer } | null {
    for (let d = 1; d <= Math.min(levels, z); d++) {
      const az = z - d;
      const ax = x >> d;
      const ay = y >> d;
      const t = this.get(az, ax, ay);
      if (t) return { z: az, x: ax, y: ay, data: t.data };
    }
    return null;
  }

  /** Least recently used unpinned tiles go until the unpinned tiles fit in `maxBytes`. */
  evict(maxBytes: number): number {
    let over = (this.q.unpinnedBytes!.get() as number) - maxBytes;
    let n = 0;
    while (over > 0) {
      const batch = this.q.oldest!.all(256) as { z: number; x: number; r: number; bytes: number }[];
      if (!batch.length) break;
      this.db.transaction(() => {
        for (const t of batch) {
          if (over <= 0) break;
          this.q.delTile!.run(t.z, t.x, t.r);
          this.q.delMeta!.run(t.z, t.x, t.r);
          over -= t.bytes;
          n++;
        }
      })();
    }
    return n;
  }

  stats(): { tiles: number; bytes: number; pinned: number } {
    const s = this.q.stats!.get() as { tiles: number; bytes: number };
    return { ...s, pinned: this.q.pinned!.get() as number };
  }

  /** Copy every tile of an MBTiles file in (pinned: the operator brought it for offline use).
   *  Returns the number of tiles copied; a file that is not MBTiles is refused before anything is written. */
  /** Copy an MBTiles file's tiles in, pinned. `expect`: the source's format; a file of another
   *  (a vector file into a raster source) is refused by name before anything is written. */
  importFile(file: string, now = Date.now(), expect: 'png' | 'jpg' | 'quantized-mesh' | null = null): number {
    const src = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const hasTiles = src.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'tiles'").pluck().get() as number;
      if (!hasTiles) throw new Error(`${file} is not an MBTiles file (no tiles table)`);
      if (expect) checkFormat(src, file, expect);
      const rows = src.prepare('SELECT zoom_level AS z, tile_column AS x, tile_row AS r, tile_data AS data FROM tiles').iterate() as Iterable<{ z: number; x: number; r: number; data: Buffer }>;
      let n = 0;
      const insert = this.db.transaction((batch: { z: number; x: number; r: number; data: Buffer }[]) => {
        for (const t of batch) {
          if (!Buffer.isBuffer(t.data) || !Number.isInteger(t.z) || t.z < 0 || t.z > 22) continue;
          this.q.put!.run(t.z, t.x, t.r, t.data);
          this.q.putMeta!.run(t.z, t.x, t.r, now, now, t.data.length, 1);
          n++;
        }
      });
      let batch: { z: number; x: number; r: number; data: Buffer }[] = [];
      for (const t of rows) {
        batch.push(t);
        if (batch.length === 500) {
          insert(batch);
          batch = [];
        }
      }
      insert(batch);
      return n;
    } finally {
      src.close();
    }
  }

  close(): void {
    this.db.close();
  }
}

/** What a tile's bytes are, by their first bytes (MBTiles 1.3: png, jpg, webp, or pbf, which is
 *  stored gzip- or zlib-compressed). */
export function tileKind(b: Uint8Array): 'png' | 'jpg' | 'webp' | 'pbf (gzip)' | 'pbf (zlib)' | 'unknown' {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpg';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'webp';
  if (b[0] === 0x1f && b[1] === 0x8b) return 'pbf (gzip)';
  if (b[0] === 0x78 && (b[1] === 0x01 || b[1] === 0x5e || b[1] === 0x9c || b[1] === 0xda)) return 'pbf (zlib)';
  return 'unknown';
}

/** The file's declared format (metadata.format) and every tile's bytes must be the source's. */
function checkFormat(src: Database.Database, file: string, expect: 'png' | 'jpg' | 'quantized-mesh'): void {
  const hasMeta = src.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'metadata'").pluck().get() as number;
  const declared = hasMeta ? (src.prepare("SELECT value FROM metadata WHERE name = 'format'").pluck().get() as string | undefined) : undefined;
  const raster = expect === 'png' || expect === 'jpg';
  if (declared !== undefined) {
    const d = declared.toLowerCase() === 'jpeg' ? 'jpg' : declared.toLowerCase();
    if (raster && d !== expect) throw new Error(`${file} declares ${declared} tiles (metadata.format); the source is ${expect}: nothing imported`);
  }
  const bodies = src.prepare('SELECT zoom_level AS z, tile_column AS x, tile_row AS r, tile_data AS data FROM tiles').iterate() as Iterable<{ z: number; x: number; r: number; data: Buffer }>;
  for (const t of bodies) {
    if (!Buffer.isBuffer(t.data)) continue;
    const kind = tileKind(t.data);
    const ok = raster ? kind === expect : kind === 'pbf (gzip)' || kind === 'unknown'; // quantized-mesh: gzip or raw, never an image
    if (!ok) throw new Error(`${file}: tile ${t.z}/${t.x}/${t.r} is ${kind}${declared === undefined ? ' (no metadata.format)' : ''}; the source is ${expect}: nothing imported`);
  }
}
