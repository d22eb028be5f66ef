// The units on the globe: points in one BufferPointCollection (never one Entity per unit; see
// unit-points.ts), updated from the hub client's deltas in place, styled by kind (fill), status
// (ring) and presence (stale, lost), switchable by kind, by status and by hall, with trails and names. The
// hot path of the display: 20,000 moves a second at province scale (docs/architecture.md).
import { Cartesian3, Cartographic, Color, type CesiumWidget } from '@cesium/engine';
import type { DeltaOp } from '../../common/contract.ts';
import type { Unit, UnitKind, UnitStatus } from '../../common/domain.ts';
import { inHallScope } from '../../common/halls.ts';
import { ecefFromDegrees, ecefStep } from './geo.ts';
import { LAT, LON, WIDTH } from './rows.ts';
import type { Terrain } from './terrain.ts';
import { TrailLayer } from './trails.ts';
import { UnitLabels } from './unit-labels.ts';
import { type PointStyle, UnitPoints } from './unit-points.ts';
import { GROUND, SHOWN, UnitTable } from './unit-table.ts';

export const KIND_COLORS: Record<UnitKind, string> = {
  'fire-rescue': '#ff4d3d',
  professional: '#ff9f1c',
  social: '#2ec4b6',
  aviation: '#4cc9f0',
  depot: '#b388ff',
  drone: '#f8f32b',
  vehicle: '#e0e0e0',
  // MIL-STD-2525's standard identity fills: pale, and apart from the forces' saturated colours
  'marker-hostile': '#ff8080',
  'marker-unknown': '#ffff80',
  'marker-neutral': '#aaffaa',
};
export const STATUS_OUTLINE: Record<UnitStatus, string> = { standby: '#0b1220', 'en-route': '#ffffff', 'on-site': '#ffe600', offline: '#666666' };

const SCRATCH = new Cartesian3();
const FILL = Object.fromEntries(Object.entries(KIND_COLORS).map(([k, c]) => [k, Color.fromCssColorString(c)])) as Record<UnitKind, Color>;
/** A stale unit is drawn faded, a lost one grey, both where they were last heard: a position the hall
 *  no longer receives must never look live, and must never vanish either. */
const FILL_STALE = Object.fromEntries(Object.entries(KIND_COLORS).map(([k, c]) => [k, Color.fromCssColorString(c).withAlpha(0.35)])) as Record<UnitKind, Color>;
const LOST = Color.fromCssColorString('#8a8f98').withAlpha(0.8);
const fillOf = (kind: UnitKind, presence: string | undefined) => (presence === 'lost' ? LOST : presence === 'stale' ? FILL_STALE[kind] : FILL[kind]);
const OUTLINE = Object.fromEntries(Object.entries(STATUS_OUTLINE).map(([k, c]) => [k, Color.fromCssColorString(c)])) as Record<UnitStatus, Color>;
/** A unit's point: fill by kind and presence, ring by status (one scratch object, no allocation). */
const STYLE: PointStyle = { color: Color.WHITE, outlineColor: Color.WHITE, outlineWidth: 2, size: 7 };
function styleOf(kind: UnitKind, presence: string | undefined, status: UnitStatus): PointStyle {
  STYLE.color = fillOf(kind, presence);
  STYLE.outlineColor = OUTLINE[status];
  STYLE.size = kind === 'depot' ? 9 : 7;
  return STYLE;
}

export class UnitsLayer {
  private readonly viewer: CesiumWidget;
  private readonly terrain: Terrain;
  readonly table = new UnitTable();
  private readonly points: UnitPoints;
  /** Unit names (addLabels: their collection goes above the layers added after the points). */
  labels!: UnitLabels;
  /** Trails behind moving units (addTrails: created after the layers drawn beneath them). */
  trails!: TrailLayer;
  /** the hub client's number for each unit (renderer/hub/client.ts) → its index here; -1: not yet
   *  known (found by id once, then kept) */
  private indexOf = new Int32Array(4096).fill(-1);
  /** batches of deltas applied (see applyOps, place) */
  private tickNo = 0;
  private readonly visibleKinds = new Set<UnitKind>(Object.keys(KIND_COLORS) as UnitKind[]);
  private readonly visibleStatuses = new Set<UnitStatus>(Object.keys(STATUS_OUTLINE) as UnitStatus[]);
  /** whose units are drawn (common/halls.ts, inHallScope) */
  private hallScope = 'all';
  private shown = 0;

  /** Adds the points; names and trails are added by the globe where they go in the draw order. */
  constructor(viewer: CesiumWidget, terrain: Terrain) {
    this.viewer = viewer;
    this.terrain = terrain;
    this.points = new UnitPoints(viewer.scene, 4096);
    terrain.onReclamp = () => this.reclamp();
  }

  addLabels(): void {
    this.labels = new UnitLabels(this.viewer, this.table, this.points);
    this.labels.overTerrain = () => this.terrain.on;
  }

  addTrails(minutes: number): void {
    this.trails = new TrailLayer(this.viewer.scene, this.table.rows, { minutes });
  }

  /** Replace all units (after a snapshot). */
  reset(units: Iterable<Unit>): void {
    this.points.clear();
    this.trails.detachAll();
    // indices are handed out again from 0 (points.clear): the columns refill from the start
    this.table.clear();
    // a snapshot numbers every unit afresh (renderer/hub/client.ts)
    this.indexOf.fill(-1);
    this.shown = 0;
    this.trails.stamp();
    for (const u of units) this.put(u);
    this.viewer.scene.requestRender();
  }

  /**
   * Apply a batch of hub deltas in place: cost grows with what changed, not with what is shown.
   * `slots` are the hub client's numbers of the ops' units (its delta event): a unit is found by an
   * array read rather than a lookup of its id, checked against the id kept at that index, so a
   * stale number can only cost a lookup, never move the wrong unit.
   *
   * Two passes. The hub lists a delta's units in the order the globe holds them (its snapshot's,
   * common/delta-order.ts), but units that joined since, or took a freed number, fall out of that
   * order, and a delta in arrival order cost twice as much applied as listed (docs/architecture.md):
   * 1. in the delta's order, which is the order its ops sit in memory: find each unit, restyle it
   *    if what is drawn changed, and note where it is now in arrays by its index (small enough to
   *    stay in the processor's cache);
   * 2. in the order of the indices, which is the order of the rows, points and trails in memory:
   *    the positions and trails.
   */
  applyOps(ops: readonly DeltaOp[], slots?: Int32Array): void {
    this.trails.stamp();
    const tick = ++this.tickNo;
    // deletes first (a number a delete frees may be taken by a new unit in the same delta)
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k]!;
      if (op.op === 'put') continue;
      this.remove(op.id);
      const slot = slots ? slots[k]! : -1;
      if (slot >= 0 && slot < this.indexOf.length) this.indexOf[slot] = -1;
    }
    const m = this.moves(this.points.capacity);
    const indexOf = this.indexOf;
    const ids = this.table.ids;
    const byId = this.table.byId;
    let lo = Number.MAX_SAFE_INTEGER;
    let hi = -1;
    let count = 0;
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k]!;
      if (op.op !== 'put') continue;
      const u = op.value as Unit;
      const slot = slots ? slots[k]! : -1;
      let i = slot >= 0 && slot < indexOf.length ? indexOf[slot]! : -1;
      if (i < 0 || ids[i] !== u.id) {
        const known = byId.get(u.id);
        i = known ?? this.add(u); // a new unit is drawn whole, where it is
        if (slot >= 0) this.numbered(slot, i);
        if (known === undefined) continue;
      }
      const alt = this.settle(i, u);
      if (i >= m.tick.length) {
        this.place(i, u.lon, u.lat, alt); // added earlier in this delta, beyond the arrays' size
        continue;
      }
      if (m.tick[i] !== tick) {
        m.tick[i] = tick;
        if (i < lo) lo = i;
        if (i > hi) hi = i;
        m.list[count++] = i;
      }
      m.lon[i] = u.lon;
      m.lat[i] = u.lat;
      m.alt[i] = alt;
    }
    if (count > 0) {
      if (count * 16 < hi - lo) {
        // a few moves among many units: their indices sorted, not every index visited
        const list = m.list.subarray(0, count).sort();
        for (let j = 0; j < count; j++) {
          const i = list[j]!;
          this.place(i, m.lon[i]!, m.lat[i]!, m.alt[i]!);
        }
      } else {
        for (let i = lo; i <= hi; i++) if (m.tick[i] === tick) this.place(i, m.lon[i]!, m.lat[i]!, m.alt[i]!);
      }
    }
    this.labels.schedule();
    this.viewer.scene.requestRender();
  }

  /** Layers: a unit is drawn when its kind and its status are switched on and its hall is in scope. */
  setKindVisible(kind: UnitKind, visible: boolean): void {
    if (visible) this.visibleKinds.add(kind);
    else this.visibleKinds.delete(kind);
    this.applyVisibility();
  }

  setStatusVisible(status: UnitStatus, visible: boolean): void {
    if (visible) this.visibleStatuses.add(status);
    else this.visibleStatuses.delete(status);
    this.applyVisibility();
  }

  /** Whose units: `all`, `own` (this hall's), or a hall below with those below it (issue 20). */
  setHallScope(scope: string): void {
    if (scope === this.hallScope) return;
    this.hallScope = scope;
    this.applyVisibility();
  }

  /** Units drawn now (after the layer switches). */
  get shownCount(): number {
    return this.shown;
  }

  get count(): number {
    return this.table.size;
  }

  /** Where a unit's point is drawn (degrees, metres above the ellipsoid), or undefined. For tests. */
  drawnAt(id: string): { lon: number; lat: number; height: number } | undefined {
    const i = this.table.byId.get(id);
    if (i === undefined) return undefined;
    const c = Cartographic.fromCartesian(this.points.position(i, new Cartesian3()));
    return { lon: (c.longitude * 180) / Math.PI, lat: (c.latitude * 180) / Math.PI, height: c.height };
  }

  destroy(): void {
    this.trails.destroy();
    this.labels.destroy();
  }

  /** Where each unit moved in the delta being applied, by index (see applyOps). */
  private moved = { tick: new Int32Array(0), list: new Int32Array(0), lon: new Float64Array(0), lat: new Float64Array(0), alt: new Float64Array(0) };
  private moves(n: number): UnitsLayer['moved'] {
    if (n > this.moved.tick.length) this.moved = { tick: new Int32Array(n), list: new Int32Array(n), lon: new Float64Array(n), lat: new Float64Array(n), alt: new Float64Array(n) };
    return this.moved;
  }

  /** The hub client's number `slot` is the unit at index i. */
  private numbered(slot: number, i: number): void {
    if (slot > this.table.size + 4096) return; // not a client's dense number: found by id each time
    if (slot >= this.indexOf.length) {
      const grown = new Int32Array(Math.max(this.indexOf.length * 2, slot + 1)).fill(-1);
      grown.set(this.indexOf);
      this.indexOf = grown;
    }
    this.indexOf[slot] = i;
  }

  private remove(id: string): void {
    const i = this.table.byId.get(id);
    this.trails.remove(id);
    if (i === undefined) return;
    if (this.table.flags[i]! & SHOWN) this.shown--;
    this.points.remove(i);
    this.table.release(i);
  }

  private isShown(kind: UnitKind, status: UnitStatus, hall: string | null): boolean {
    return this.visibleKinds.has(kind) && this.visibleStatuses.has(status) && (this.hallScope === 'all' || inHallScope(hall, this.hallScope));
  }

  private applyVisibility(): void {
    const t = this.table;
    let n = 0;
    for (const [id, i] of t.byId) {
      const show = this.isShown(t.kinds[i]!, t.statuses[i]!, t.halls[i] ?? null);
      t.flags[i] = show ? t.flags[i]! | SHOWN : t.flags[i]! & ~SHOWN;
      this.points.setShow(i, show);
      this.trails.setShown(id, show);
      if (show) n++;
    }
    this.shown = n;
    this.viewer.scene.requestRender();
  }

  /** Sample ground units' heights again (terrain loading settled, or the terrain changed). */
  private reclamp(): void {
    const t = this.table;
    const d = t.rows.data;
    for (const i of t.byId.values()) {
      if (!(t.flags[i]! & GROUND)) continue;
      const lon = d[i * WIDTH + LON]!;
      const lat = d[i * WIDTH + LAT]!;
      this.points.setPosition(i, ecefFromDegrees(lon, lat, this.terrain.groundAt(lon, lat), SCRATCH));
    }
  }

  private put(u: Unit): void {
    const i = this.table.byId.get(u.id);
    if (i === undefined) this.add(u);
    else this.place(i, u.lon, u.lat, this.settle(i, u));
  }

  /**
   * A known unit's report, all but its position: whether it stands on the ground, and its style
   * when what is drawn changed (rarely: the ring, the fill, the label). Returns its height.
   * A unit without an altitude (a team on foot or in a vehicle) stands on the ground: on the terrain
   * when there is one. Drones and aircraft keep the altitude they report.
   */
  private settle(i: number, u: Unit): number {
    const t = this.table;
    const f = t.flags[i]!;
    const ground = u.alt === null ? GROUND : 0;
    if ((f & GROUND) !== ground) t.flags[i] = f ^ GROUND;
    // pointer stores only on change: each costs a write barrier while the GC is marking
    const track = u.track;
    if (track == null) {
      if (t.callsigns[i] !== null) t.callsigns[i] = null;
      if (t.statuses[i] !== u.status || t.presences[i] !== undefined || t.kinds[i] !== u.kind) this.restyle(i, u.id, u.kind, u.status, undefined);
    } else {
      if (t.callsigns[i] !== track.callsign) t.callsigns[i] = track.callsign;
      if (t.statuses[i] !== u.status || t.presences[i] !== track.presence || t.kinds[i] !== u.kind) this.restyle(i, u.id, u.kind, u.status, track.presence);
    }
    return u.alt ?? (this.terrain.on ? this.terrain.groundAt(u.lon, u.lat) : 0);
  }

  /**
   * The hot path of a position delta (20,000 per tick at province scale): the point and the trail,
   * from arrays by index. No allocation, no object per unit. One unit in 64 is converted from
   * scratch each tick (see ecefStep).
   */
  private place(i: number, lon: number, lat: number, alt: number): void {
    const t = this.table;
    this.points.setPosition(i, ecefStep(t.rows.data, i * WIDTH, lon, lat, alt, ((i + this.tickNo) & 63) === 0, SCRATCH));
    const color = t.trailColors[i]!;
    if (color !== null) this.trails.record(i, t.ids[i]!, lon, lat, alt, color, (t.flags[i]! & SHOWN) !== 0);
  }

  /** A unit the globe did not have; returns its index. */
  private add(u: Unit): number {
    const alt = u.alt ?? this.terrain.groundAt(u.lon, u.lat);
    const show = this.isShown(u.kind, u.status, u.hall ?? null);
    const i = this.points.add(`unit:${u.id}`, SCRATCH, styleOf(u.kind, u.track?.presence, u.status), show);
    // A trail starts where the unit first appears: only live-tracked units and those on the move
    // carry one from the start (a snapshot of 600 teams at their stations needs none).
    const trailColor = u.kind === 'depot' ? null : FILL[u.kind];
    this.table.take(i, u, (show ? SHOWN : 0) | (u.alt === null ? GROUND : 0), trailColor);
    // one conversion, from scratch, that also fills the row's position and its sines and cosines
    this.points.setPosition(i, ecefStep(this.table.rows.data, i * WIDTH, u.lon, u.lat, alt, true, SCRATCH));
    if (show) this.shown++;
    if (trailColor && (u.track || u.status === 'en-route')) this.trails.record(i, u.id, u.lon, u.lat, alt, trailColor, show);
    this.labels.schedule();
    return i;
  }

  /** A unit's status, presence or kind changed: its ring or fill, and whether its layer is on. */
  private restyle(i: number, id: string, kind: UnitKind, status: UnitStatus, presence: string | undefined): void {
    const t = this.table;
    t.statuses[i] = status;
    t.presences[i] = presence;
    if (t.kinds[i] !== kind) {
      t.kinds[i] = kind;
      t.trailColors[i] = kind === 'depot' ? null : FILL[kind];
    }
    this.points.setStyle(i, styleOf(kind, presence, status));
    const show = this.isShown(kind, status, t.halls[i] ?? null);
    if (show !== ((t.flags[i]! & SHOWN) !== 0)) {
      t.flags[i] = t.flags[i]! ^ SHOWN;
      this.points.setShow(i, show);
      this.shown += show ? 1 : -1;
      this.trails.setShown(id, show);
    }
  }
}
