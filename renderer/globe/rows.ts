// The numbers the globe's hot path writes for each unit, in one typed array: a row of eight doubles
// (64 bytes, one cache line) per unit. A delta for 20,000 units then touches one row each rather
// than a dozen small objects and their boxed numbers scattered over the heap; measured in Chromium
// that is most of what a tick costs once the arithmetic is cheap (docs/architecture.md, "Globe").
// Rows are handed out and taken back; the array doubles when full (callers read `data` afresh).

/** Column offsets in a row. */
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
export const WIDTH = 8;

export class UnitRows {
  data: Float64Array;
  /** per row: 1 when its trail moved since the last rebuild */
  dirty: Uint8Array;
  private readonly free: number[] = [];
  private next = 0;

  constructor(capacity = 1024) {
    this.data = new Float64Array(capacity * WIDTH);
    this.dirty = new Uint8Array(capacity);
  }

  alloc(): number {
    const row = this.free.pop() ?? this.next++;
    if (row * WIDTH >= this.data.length) {
      const data = new Float64Array(this.data.length * 2);
      data.set(this.data);
      this.data = data;
      const dirty = new Uint8Array(this.dirty.length * 2);
      dirty.set(this.dirty);
      this.dirty = dirty;
    }
    this.data[row * WIDTH + TRAIL_GEN] = -1;
    this.dirty[row] = 0;
    return row;
  }

  release(row: number): void {
    this.data[row * WIDTH + TRAIL_GEN] = -1;
    this.dirty[row] = 0;
    this.free.push(row);
  }

  /** Every row free again (all units replaced). */
  reset(): void {
    this.free.length = 0;
    this.next = 0;
  }

  /** Rows in use (for tests). */
  get used(): number {
    return this.next - this.free.length;
  }
}
