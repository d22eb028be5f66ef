// The order a hub sends one tick's changes of a topic in: each entity's rank, the order in which the
// topic first held it, which is also the order of the topic's snapshot. Not the order the changes
// arrived in.
//
// Within a tick every id has one op (the hub coalesces), so ops on different ids commute and any
// order is correct. This order is cheap for the hall and saves every display work. A display numbers
// what it holds in snapshot order (renderer/hub/client.ts), and so does the globe (its points, rows
// and trails). A delta in arrival order touches those in a scattered order, and every unit becomes a
// cache miss. At province scale (20,000 moves a second) that costs each display about twice the
// JavaScript of the same delta in rank order (bench:globe prints both). The hall sorts 500 ops each
// 25 ms tick.
//
// Plain code shared by the hub (main/core/hub/hub.ts) and bench:globe, which orders its frames with
// it as the hub does.

/** Ranks stay below 2^31, so rank · 2^21 + place is exact in a double. */
const RENUMBER_AT = 2 ** 31;

interface Op {
  op: string;
  id: string;
}

export class TopicOrder {
  private readonly ranks = new Map<string, number>();
  private next = 0;
  private keys = new Float64Array(0);

  /**
   * Sort one tick's coalesced ops (one per id) by rank, in place, and return them. A put of an id
   * without a rank takes the next one: entities new in the same tick keep their order of arrival, at
   * the end, as the topic's Map will hold them. A delete forgets the rank: an id that comes back is
   * new, at the end (as in the Map, which re-inserts it there).
   */
  order<T extends Op>(ops: T[]): T[] {
    const n = ops.length;
    if (n === 0) return ops;
    if (this.keys.length < n) this.keys = new Float64Array(Math.max(n, this.keys.length * 2));
    const keys = this.keys;
    let sorted = true;
    let prev = -1;
    for (let k = 0; k < n; k++) {
      const op = ops[k]!;
      let r = this.ranks.get(op.id);
      if (r === undefined) {
        if (op.op === 'del')
          r = this.next; // never held: anywhere is right, the end is cheapest
        else this.ranks.set(op.id, (r = this.next++));
      } else if (op.op === 'del') {
        this.ranks.delete(op.id);
      }
      // rank and place in one exact double (rank < 2^32 and n < 2^21 stay below 2^53)
      keys[k] = r * 2_097_152 + k;
      if (r < prev) sorted = false;
      prev = r;
    }
    if (this.next >= RENUMBER_AT) this.renumber();
    if (sorted) return ops;
    if (n >= 2_097_152) return ops; // never in a tick; any order is correct, only slower for displays
    const by = keys.subarray(0, n).sort();
    const copy = ops.slice();
    for (let j = 0; j < n; j++) ops[j] = copy[by[j]! % 2_097_152]!;
    return ops;
  }

  /** After billions of entities came and went: ranks 0 … n-1 again, in the same order. */
  private renumber(): void {
    const held = [...this.ranks].sort((a, b) => a[1] - b[1]);
    this.ranks.clear();
    for (let r = 0; r < held.length; r++) this.ranks.set(held[r]![0], r);
    this.next = held.length;
  }

  /** Ranks held: one per entity the topic holds (for tests). */
  get size(): number {
    return this.ranks.size;
  }
}
