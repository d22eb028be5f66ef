// Trails behind moving units: where a team or drone has been over the last N minutes (the display's
// choice, 0 = off). One PolylineCollection for all of them; positions are gathered as deltas arrive
// and the polylines are rebuilt at most once a second, only for the units that moved, so a delta
// costs a few array writes and never a geometry rebuild.
//
// Bounded: the trail's head follows the unit (moves under 15 m are ignored) and a point is fixed
// behind it every 10 s (at most 720 per unit: two hours), and at most `maxTrails` trails are drawn.
// New trails take free places freshest mover first; a trail whose unit stood still for the whole
// window shrinks to one point and goes, which frees its place. A wall showing 20,000 trackers draws
// 5,000 trails, not a hairball of all of them.
import { Cartesian3, Color, Material, type Polyline, PolylineCollection, type Scene } from '@cesium/engine';
import { ecefFromDegrees } from './geo.ts';
import { FIXED, HEAD_ALT, HEAD_LAT, HEAD_LON, MOVED, PEND_ALT, PEND_AT, PEND_LAT, PEND_LON, TRAIL_GEN, type UnitRows, WIDTH } from './rows.ts';

interface Trail {
  /** lon, lat, alt triples, oldest first; the last is the head, brought up to date from the unit's
   *  row (where the hot path writes it) by refresh() */
  pts: number[];
  /** receipt time of each point (ms) */
  at: number[];
  line: Polyline | null;
  color: Color;
  shown: boolean;
  /** rebuild at the next refresh even if the unit did not move (the window changed) */
  stale: boolean;
  /** the unit's row in the shared UnitRows (head, times, moved flag), -1 while detached: its units
   *  were replaced by a snapshot and it waits for the unit's next report to take its new row */
  row: number;
  /** the layer's generation when made: a trail from before a clear() is not used again */
  gen: number;
  /** pts as Cartesian3, kept between rebuilds: only the head and new points are converted, so a
   *  rebuild of 5,000 trails makes a few thousand objects of garbage rather than 300,000 */
  cart: Cartesian3[];
  /** points dropped from the front since cart was last brought up to date */
  dropped: number;
}

const MIN_MOVE_DEG = 15 / 111_320;
const POINT_EVERY_MS = 10_000;
const MAX_POINTS = 720;

export type { Trail };

export class TrailLayer {
  private readonly lines = new PolylineCollection();
  private readonly trails = new Map<string, Trail>();
  /** the trail each row holds (read only when a point is fixed, or the unit goes) */
  private byRow: (Trail | undefined)[] = [];
  private windowMs: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly scene: Scene;
  private readonly rows: UnitRows;
  private readonly maxTrails: number;
  private readonly now: () => number;

  constructor(scene: Scene, rows: UnitRows, opts: { minutes?: number; maxTrails?: number; now?: () => number } = {}) {
    this.scene = scene;
    this.rows = rows;
    this.windowMs = (opts.minutes ?? 10) * 60_000;
    this.maxTrails = opts.maxTrails ?? 5_000;
    this.now = opts.now ?? Date.now;
    scene.primitives.add(this.lines);
    this.timer = setInterval(() => this.refresh(), 1000);
  }

  /** Minutes of trail to draw; 0 turns trails off (and forgets them). */
  setMinutes(minutes: number): void {
    this.windowMs = Math.max(0, minutes) * 60_000;
    if (this.windowMs === 0) this.clear();
    else for (const t of this.trails.values()) t.stale = true;
    this.refresh();
  }

  get minutes(): number {
    return this.windowMs / 60_000;
  }

  /** The time of the batch of deltas being applied (one clock read per batch, not per unit). */
  stamp(): void {
    this.batchAt = this.now();
  }
  private batchAt = 0;
  private gen = 0;

  /** A unit (its row in the shared UnitRows) is at lon/lat/alt now. The first call only remembers
   *  where it started. The hot path (the unit moved, no new point due) reads and writes the unit's
   *  row and nothing else; `color` and `shown` are read only when its trail is made. */
  record(row: number, id: string, lon: number, lat: number, alt: number, color: Color, shown: boolean): void {
    if (this.windowMs === 0) return;
    const d = this.rows.data;
    const b = row * WIDTH;
    const now = this.batchAt || this.now();
    if (d[b + TRAIL_GEN] !== this.gen) {
      d[b + TRAIL_GEN] = this.gen;
      d[b + PEND_AT] = Number.NaN;
      const kept = this.trails.get(id);
      if (kept && kept.gen === this.gen) {
        // the unit came back in a snapshot: its trail takes the new row, head as last refreshed
        kept.row = row;
        this.byRow[row] = kept;
        const n = kept.pts.length;
        const k = kept.at.length;
        d[b + HEAD_LON] = kept.pts[n - 3]!;
        d[b + HEAD_LAT] = kept.pts[n - 2]!;
        d[b + HEAD_ALT] = kept.pts[n - 1]!;
        d[b + MOVED] = kept.at[k - 1]!;
        d[b + FIXED] = k >= 2 ? kept.at[k - 2]! : Number.NEGATIVE_INFINITY;
      } else {
        const t: Trail = { pts: [lon, lat, alt], at: [now], cart: [], dropped: 0, line: null, color, shown, stale: false, row, gen: this.gen };
        this.trails.set(id, t);
        this.byRow[row] = t;
        d[b + HEAD_LON] = lon;
        d[b + HEAD_LAT] = lat;
        d[b + HEAD_ALT] = alt;
        d[b + MOVED] = now;
        d[b + FIXED] = Number.NEGATIVE_INFINITY;
        return;
      }
    }
    // 15 m, near enough: a degree of latitude is 111 km, of longitude ~0.87 of that at 30° N
    if (Math.abs(lat - d[b + HEAD_LAT]!) + 0.87 * Math.abs(lon - d[b + HEAD_LON]!) < MIN_MOVE_DEG) return;
    if (now - d[b + FIXED]! >= POINT_EVERY_MS) {
      // The head stays where it was, at the time it last moved, and a new head starts here. Noted in
      // the row; the trail's arrays take it at the next refresh, which touches every trail anyway.
      // Units that appeared together fix their points in the same tick: done here, in each trail's
      // arrays, that tick cost ten times the others (bench:globe).
      if (d[b + PEND_AT] === d[b + PEND_AT]) this.takeFixed(this.byRow[row]!, d, b); // no refresh since the last one
      d[b + PEND_LON] = d[b + HEAD_LON]!;
      d[b + PEND_LAT] = d[b + HEAD_LAT]!;
      d[b + PEND_ALT] = d[b + HEAD_ALT]!;
      d[b + PEND_AT] = d[b + MOVED]!;
      d[b + FIXED] = d[b + MOVED]!;
    }
    // the head follows the unit; a new point is fixed behind it every POINT_EVERY_MS
    d[b + HEAD_LON] = lon;
    d[b + HEAD_LAT] = lat;
    d[b + HEAD_ALT] = alt;
    d[b + MOVED] = now;
    this.rows.dirty[row] = 1;
  }

  /** Before the caller's rows are all handed out anew (a snapshot replaces every unit): trails keep
   *  their points and wait, detached, for their unit's next report. */
  detachAll(): void {
    const d = this.rows.data;
    for (const t of this.trails.values()) {
      if (t.row < 0) continue;
      this.syncHead(t, d, t.row * WIDTH);
      t.row = -1;
    }
    this.byRow = [];
  }

  /** A point fixed in the row since the last refresh: the head becomes it, and a new head follows
   *  (brought up to date by syncHead). */
  private takeFixed(t: Trail, d: Float64Array, b: number): void {
    const n = t.pts.length;
    t.pts[n - 3] = d[b + PEND_LON]!;
    t.pts[n - 2] = d[b + PEND_LAT]!;
    t.pts[n - 1] = d[b + PEND_ALT]!;
    t.at[t.at.length - 1] = d[b + PEND_AT]!;
    d[b + PEND_AT] = Number.NaN;
    t.pts.push(d[b + HEAD_LON]!, d[b + HEAD_LAT]!, d[b + HEAD_ALT]!);
    t.at.push(d[b + MOVED]!);
    if (t.at.length > MAX_POINTS) {
      t.pts.splice(0, 3);
      t.at.shift();
      t.dropped++;
    }
  }

  /** Bring the head point (the last of pts, at) up to date from the unit's row, with any point
   *  fixed since the last refresh. */
  private syncHead(t: Trail, d: Float64Array, b: number): void {
    if (d[b + PEND_AT] === d[b + PEND_AT]) this.takeFixed(t, d, b);
    const n = t.pts.length;
    t.pts[n - 3] = d[b + HEAD_LON]!;
    t.pts[n - 2] = d[b + HEAD_LAT]!;
    t.pts[n - 1] = d[b + HEAD_ALT]!;
    t.at[t.at.length - 1] = d[b + MOVED]!;
  }

  setShown(id: string, shown: boolean): void {
    const t = this.trails.get(id);
    if (!t || t.shown === shown) return;
    t.shown = shown;
    if (t.line) t.line.show = shown;
  }

  remove(id: string): void {
    const t = this.trails.get(id);
    if (t && t.row >= 0) this.byRow[t.row] = undefined;
    if (t?.line) this.lines.remove(t.line);
    this.trails.delete(id);
  }

  clear(): void {
    this.lines.removeAll();
    this.trails.clear();
    this.byRow = [];
    this.gen++; // what callers hold from before is forgotten
  }

  /** Polylines drawn (for tests and the legend). */
  count(): number {
    return this.lines.length;
  }

  /** Trim to the window and rebuild what moved. New trails are drawn freshest mover first while
   *  there is room under the cap; a trail whose unit stopped for the whole window shrinks to its last
   *  point and is removed, which makes room. */
  refresh(): void {
    if (this.windowMs === 0) return;
    const now = this.now();
    const cutoff = now - this.windowMs;
    const d = this.rows.data;
    const moved = this.rows.dirty;
    let changed = false;
    const fresh: Trail[] = [];
    for (const t of this.trails.values()) {
      const row = t.row;
      let dirty = t.stale;
      t.stale = false;
      if (row >= 0) {
        this.syncHead(t, d, row * WIDTH);
        if (moved[row] === 1) dirty = true;
        moved[row] = 0;
      }
      // drop points older than the window, keeping the newest one (where the trail starts)
      let k = 0;
      while (k < t.at.length - 1 && t.at[k]! < cutoff) k++;
      if (k > 0) {
        t.pts.splice(0, 3 * k);
        t.at.splice(0, k);
        t.dropped += k;
        dirty = true;
        if (row >= 0) d[row * WIDTH + FIXED] = t.at.length >= 2 ? t.at[t.at.length - 2]! : Number.NEGATIVE_INFINITY;
      }
      if (!dirty) continue;
      if (t.at.length < 2) {
        if (t.line) {
          this.lines.remove(t.line);
          t.line = null;
          changed = true;
        }
        continue;
      }
      if (t.line) {
        t.line.positions = this.positionsOf(t);
        changed = true;
      } else fresh.push(t);
    }
    if (fresh.length > 0) {
      // the freshest movers first (the head's time is the last)
      fresh.sort((a, b) => b.at[b.at.length - 1]! - a.at[a.at.length - 1]!);
      for (const t of fresh) {
        if (this.lines.length >= this.maxTrails) break;
        t.line = this.lines.add({ positions: this.positionsOf(t), width: 2, material: this.materialFor(t.color), show: t.shown });
        changed = true;
      }
    }
    if (changed) this.scene.requestRender();
  }

  destroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.lines.isDestroyed()) this.scene.primitives.remove(this.lines);
  }

  private positionsOf(t: Trail): Cartesian3[] {
    if (t.dropped) {
      t.cart.splice(0, Math.min(t.dropped, t.cart.length));
      t.dropped = 0;
    }
    // every point but the old head is as it was; the head moves, new points follow it
    const from = Math.max(0, t.cart.length - 1);
    for (let i = from; i < t.at.length; i++) t.cart[i] = ecefFromDegrees(t.pts[3 * i]!, t.pts[3 * i + 1]!, t.pts[3 * i + 2]!, t.cart[i] ?? new Cartesian3());
    t.cart.length = t.at.length;
    return t.cart;
  }

  /** One per polyline: a polyline destroys its material with itself. */
  private materialFor(c: Color): Material {
    return Material.fromType('Color', { color: c.withAlpha(0.7) });
  }
}
