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

interface Trail {
  /** lon, lat, alt triples, oldest first */
  pts: number[];
  /** receipt time of each point (ms) */
  at: number[];
  line: Polyline | null;
  color: Color;
  shown: boolean;
  dirty: boolean;
  /** last time the unit moved (ms): the freshest movers are drawn first when there are too many */
  moved: number;
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
  private windowMs: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly scene: Scene;
  private readonly maxTrails: number;
  private readonly now: () => number;

  constructor(scene: Scene, opts: { minutes?: number; maxTrails?: number; now?: () => number } = {}) {
    this.scene = scene;
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
    else for (const t of this.trails.values()) t.dirty = true;
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

  /** A unit is at lon/lat/alt now. The first call only remembers where it started. `t` is what the
   *  previous call returned for this unit (the caller keeps it: no lookup on the hot path). */
  record(t: Trail | undefined, id: string, lon: number, lat: number, alt: number, color: Color, shown: boolean): Trail | undefined {
    if (this.windowMs === 0) return undefined;
    const now = this.batchAt || this.now();
    if (t?.gen !== this.gen) t = this.trails.get(id);
    if (!t) {
      t = { pts: [lon, lat, alt], at: [now], cart: [], dropped: 0, line: null, color, shown, dirty: false, moved: 0, gen: this.gen };
      this.trails.set(id, t);
      return t;
    }
    const n = t.pts.length;
    // 15 m, near enough: a degree of latitude is 111 km, of longitude ~0.87 of that at 30° N
    if (Math.abs(lat - t.pts[n - 2]!) + 0.87 * Math.abs(lon - t.pts[n - 3]!) < MIN_MOVE_DEG) return t;
    const k = t.at.length;
    if (k >= 2 && now - t.at[k - 2]! < POINT_EVERY_MS) {
      // the head follows the unit; a new point is fixed behind it every POINT_EVERY_MS
      t.pts[n - 3] = lon;
      t.pts[n - 2] = lat;
      t.pts[n - 1] = alt;
      t.at[k - 1] = now;
    } else {
      t.pts.push(lon, lat, alt);
      t.at.push(now);
      if (t.at.length > MAX_POINTS) {
        t.pts.splice(0, 3);
        t.at.shift();
        t.dropped++;
      }
    }
    t.moved = now;
    t.color = color;
    t.dirty = true;
    return t;
  }

  setShown(id: string, shown: boolean): void {
    const t = this.trails.get(id);
    if (!t || t.shown === shown) return;
    t.shown = shown;
    if (t.line) t.line.show = shown;
  }

  remove(id: string): void {
    const t = this.trails.get(id);
    if (t?.line) this.lines.remove(t.line);
    this.trails.delete(id);
  }

  clear(): void {
    this.lines.removeAll();
    this.trails.clear();
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
    let changed = false;
    const fresh: Trail[] = [];
    for (const t of this.trails.values()) {
      // drop points older than the window, keeping the newest one (where the trail starts)
      let k = 0;
      while (k < t.at.length - 1 && t.at[k]! < cutoff) k++;
      if (k > 0) {
        t.pts.splice(0, 3 * k);
        t.at.splice(0, k);
        t.dropped += k;
        t.dirty = true;
      }
      if (!t.dirty) continue;
      t.dirty = false;
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
      fresh.sort((a, b) => b.moved - a.moved);
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
    for (let i = from; i < t.at.length; i++) t.cart[i] = Cartesian3.fromDegrees(t.pts[3 * i]!, t.pts[3 * i + 1]!, t.pts[3 * i + 2]!, undefined, t.cart[i]);
    t.cart.length = t.at.length;
    return t.cart;
  }

  /** One per polyline: a polyline destroys its material with itself. */
  private materialFor(c: Color): Material {
    return Material.fromType('Color', { color: c.withAlpha(0.7) });
  }
}
