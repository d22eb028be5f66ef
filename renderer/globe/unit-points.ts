// The units' points: Cesium's BufferPointCollection, where every point's position, style and flags
// live in typed arrays. A move writes three doubles into the position array and marks the point
// dirty; nothing else is touched. With PointPrimitiveCollection a move wrote two Cartesian3 objects
// per point (their numbers boxed on V8's compressed heap), about nine small objects per unit
// scattered over a heap that has run for hours: the tick was bound by cache misses, not arithmetic
// (docs/architecture.md, "Globe").
//
// The collection is experimental in Cesium 1.145 (pinned here) and is fixed-size and add-only, so
// this wrapper gives the globe what it needs on top:
// - removal: the point is hidden and its index reused by the next unit that appears;
// - growth: when full, the points are copied into a collection twice the size;
// - picking: each index carries a pick object whose `id` names the unit, rewritten when reused;
// - bounds: one fixed sphere around the Earth (units are at most a few tens of km above it), so
//   Cesium does not recompute the bounds of 20,000 points after every move.
import { BoundingSphere, BufferPoint, BufferPointCollection, BufferPointMaterial, Cartesian3, type Color, type Scene } from '@cesium/engine';
import type { XYZ } from './geo.ts';

export interface PointStyle {
  color: Color;
  outlineColor: Color;
  outlineWidth: number;
  size: number;
}

const EARTH = new BoundingSphere(Cartesian3.ZERO, 6_378_137 + 100_000);

export class UnitPoints {
  private coll: BufferPointCollection;
  private readonly scene: Scene;
  private readonly free: number[] = [];
  private readonly picks: { id: string }[] = [];
  private readonly bp = new BufferPoint();
  private readonly mat = new BufferPointMaterial();
  private readonly pos = new Cartesian3();
  private live = 0;

  constructor(scene: Scene, capacity = 4096) {
    this.scene = scene;
    this.coll = this.make(capacity);
    scene.primitives.add(this.coll);
  }

  private make(capacity: number): BufferPointCollection {
    return new BufferPointCollection({ primitiveCountMax: capacity, allowPicking: true, boundingVolume: EARTH });
  }

  /** A new point; returns its index (stable until remove()). */
  add(id: string, at: XYZ, style: PointStyle, show: boolean): number {
    this.live++;
    const m = this.styled(style);
    const reused = this.free.pop();
    if (reused !== undefined) {
      this.picks[reused]!.id = id;
      const p = this.at(reused);
      p.setMaterial(m);
      p.setPosition(this.copy(at));
      p.show = show;
      return reused;
    }
    if (this.coll.primitiveCount >= this.coll.primitiveCountMax) this.grow();
    const pick = { id };
    const i = this.coll.primitiveCount;
    this.coll.add({ position: this.copy(at), material: m, show, pickObject: pick }, this.bp);
    this.picks.push(pick);
    return i;
  }

  setPosition(i: number, at: XYZ): void {
    this.at(i).setPosition(at as Cartesian3);
  }

  position(i: number, out: Cartesian3): Cartesian3 {
    return this.at(i).getPosition(out);
  }

  setShow(i: number, show: boolean): void {
    const p = this.at(i);
    if (p.show !== show) p.show = show;
  }

  isShown(i: number): boolean {
    return this.at(i).show;
  }

  setStyle(i: number, style: PointStyle): void {
    this.at(i).setMaterial(this.styled(style));
  }

  /** The point's colours now (for tests). */
  styleOf(i: number): BufferPointMaterial {
    return this.at(i).getMaterial(new BufferPointMaterial()) as BufferPointMaterial;
  }

  remove(i: number): void {
    const p = this.at(i);
    p.show = false;
    this.picks[i]!.id = '';
    this.free.push(i);
    this.live--;
  }

  /** Every point gone (a snapshot replaces all units): all hidden and free, reused from index 0. */
  clear(): void {
    this.free.length = 0;
    for (let i = this.coll.primitiveCount - 1; i >= 0; i--) {
      const p = this.at(i);
      if (p.show) p.show = false;
      this.picks[i]!.id = '';
      this.free.push(i);
    }
    this.live = 0;
  }

  /** Points the collection holds before it must grow: every index given out is below it. */
  get capacity(): number {
    return this.coll.primitiveCountMax;
  }

  get length(): number {
    return this.live;
  }

  destroy(): void {
    if (!this.coll.isDestroyed()) this.scene.primitives.remove(this.coll);
  }

  /** The reusable view bound to point i (the collection's get() is typed for any primitive). */
  private at(i: number): BufferPoint {
    this.coll.get(i, this.bp);
    return this.bp;
  }

  /** A collection twice the size, in the old one's place in the draw order (units under labels). */
  private grow(): void {
    const bigger = this.make(this.coll.primitiveCountMax * 2);
    BufferPointCollection.clone(this.coll, bigger);
    const prims = this.scene.primitives;
    let place = 0;
    while (place < prims.length && prims.get(place) !== this.coll) place++;
    prims.remove(this.coll); // destroys it
    this.coll = bigger;
    prims.add(this.coll, place);
  }

  private styled(s: PointStyle): BufferPointMaterial {
    const m = this.mat;
    s.color.clone(m.color);
    s.outlineColor.clone(m.outlineColor);
    m.outlineWidth = s.outlineWidth;
    m.size = s.size;
    return m;
  }

  private copy(at: XYZ): Cartesian3 {
    this.pos.x = at.x;
    this.pos.y = at.y;
    this.pos.z = at.z;
    return this.pos;
  }
}
