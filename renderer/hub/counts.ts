// Counts kept where the data changes (STYLE.md habit 14): the legend's units by kind and by status,
// updated per op of each delta instead of rescanning every unit on every delta (20,000 units, 40
// deltas a second at province scale). What each entity was counted as is kept by the hub client's
// number for it, so a move costs two array reads and two compares and changes no count.
import type { DeltaOp } from '../../common/contract.ts';

export class FieldCounts<K extends string> {
  /** The value each entity was counted under, by its number; -1: not counted. */
  private codes = new Int16Array(1024).fill(-1);
  private readonly n: number[];
  private readonly code = new Map<string, number>();
  /** Bumped when any count changed: a view redraws on that, not on every delta. */
  version = 0;

  private readonly values: readonly K[];
  private readonly field: (v: unknown) => string | undefined;

  constructor(values: readonly K[], field: (v: unknown) => string | undefined) {
    this.values = values;
    this.field = field;
    values.forEach((v, i) => this.code.set(v, i));
    this.n = values.map(() => 0);
  }

  /** Count the whole topic afresh (a snapshot renumbered it). */
  reset(entries: Iterable<[number, unknown]>): void {
    this.codes.fill(-1);
    this.n.fill(0);
    for (const [slot, v] of entries) this.set(slot, this.code.get(this.field(v) ?? '') ?? -1);
    this.version++;
  }

  /** Apply one delta: `slots[k]` is the number of ops[k]'s entity (for a del, the one it had). */
  apply(ops: readonly DeltaOp[], slots: Int32Array): void {
    let changed = false;
    for (let k = 0; k < ops.length; k++) {
      const slot = slots[k]!;
      if (slot < 0) continue;
      const op = ops[k]!;
      const next = op.op === 'put' ? (this.code.get(this.field(op.value) ?? '') ?? -1) : -1;
      if (this.set(slot, next)) changed = true;
    }
    if (changed) this.version++;
  }

  get(value: K): number {
    return this.n[this.code.get(value)!] ?? 0;
  }

  /** Each value with its count, in the order given, those at 0 left out. */
  nonZero(): [K, number][] {
    const out: [K, number][] = [];
    this.values.forEach((v, i) => this.n[i]! > 0 && out.push([v, this.n[i]!]));
    return out;
  }

  private set(slot: number, next: number): boolean {
    if (slot >= this.codes.length) {
      const grown = new Int16Array(Math.max(slot + 1, this.codes.length * 2)).fill(-1);
      grown.set(this.codes);
      this.codes = grown;
    }
    const prev = this.codes[slot]!;
    if (prev === next) return false;
    if (prev >= 0) this.n[prev]!--;
    if (next >= 0) this.n[next]!++;
    this.codes[slot] = next;
    return true;
  }
}
