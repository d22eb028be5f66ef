// The numbers the globe's hot path reads and writes for each unit, in one typed array: a row of
// sixteen doubles (128 bytes, two adjacent cache lines) per unit. A delta for 20,000 units then
// touches one row each rather than a dozen small objects and their boxed numbers scattered over the
// heap; measured in Chromium that is most of what a tick costs once the arithmetic is cheap
// (docs/architecture.md, "Globe").
// A unit's row is its index on the globe (the index of its point, see situation.ts); the array
// doubles when an index beyond it is taken (callers read `data` afresh).

/** Column offsets in a row. */
/** where the unit is (degrees); also what the sines and cosines below are of (geo.ts, ecefStep) */
export const LON = 0;
export const LAT = 1;
/** the trail's head: where the unit was when it last moved 15 m or more */
export const HEAD_LON = 2;
export const HEAD_LAT = 3;
export const HEAD_ALT = 4;
/** when the head last moved (ms); the trail's time at its head */
export const MOVED = 5;
/** time of the newest fixed trail point behind the head (-Infinity: none yet) */
export const FIXED = 6;
/** the trail layer's generation this row's trail belongs to (-1: the unit has no trail) */
export const TRAIL_GEN = 7;
/** sines and cosines of LAT and LON, kept so a small move needs no trigonometry (geo.ts) */
export const SIN_LAT = 8;
export const COS_LAT = 9;
export const SIN_LON = 10;
export const COS_LON = 11;
/** a trail point fixed since the trail was last refreshed (PEND_AT NaN: none): the old head, where
 *  the unit was at PEND_AT. The trail's own arrays take it at the next refresh (trails.ts). */
export const PEND_LON = 12;
export const PEND_LAT = 13;
export const PEND_ALT = 14;
export const PEND_AT = 15;
export const WIDTH = 16;

export class UnitRows {
  data: Float64Array;
  /** per row: 1 when its trail moved since the last rebuild */
  dirty: Uint8Array;

  constructor(capacity = 1024) {
    this.data = new Float64Array(capacity * WIDTH);
    this.dirty = new Uint8Array(capacity);
  }

  /** Row i is taken by a unit: cleared of any trail, the arrays grown to hold it. */
  take(i: number): void {
    if ((i + 1) * WIDTH > this.data.length) {
      const rows = Math.max(this.dirty.length * 2, i + 1);
      const data = new Float64Array(rows * WIDTH);
      data.set(this.data);
      this.data = data;
      const dirty = new Uint8Array(rows);
      dirty.set(this.dirty);
      this.dirty = dirty;
    }
    this.release(i);
  }

  /** Row i is no longer a unit's. */
  release(i: number): void {
    this.data[i * WIDTH + TRAIL_GEN] = -1;
    this.data[i * WIDTH + PEND_AT] = Number.NaN;
    // no position: the next ecefStep computes from scratch
    this.data[i * WIDTH + LAT] = Number.NaN;
    this.dirty[i] = 0;
  }
}
