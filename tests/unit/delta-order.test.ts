// The hub's order for a tick's changes (common/delta-order.ts): by when the topic first held each
// entity, so a display that numbers entities in snapshot order meets them in that order.
import { describe, expect, it } from 'vitest';
import { TopicOrder } from '../../common/delta-order.ts';

const put = (id: string) => ({ op: 'put', id });
const del = (id: string) => ({ op: 'del', id });
const ids = (ops: { id: string }[]) => ops.map((o) => o.id);

describe('TopicOrder', () => {
  it('orders ops by first appearance, whatever order they arrive in', () => {
    const o = new TopicOrder();
    expect(ids(o.order(['a', 'b', 'c', 'd', 'e'].map(put)))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(ids(o.order(['d', 'a', 'e', 'c'].map(put)))).toEqual(['a', 'c', 'd', 'e']);
    expect(o.size).toBe(5);
  });

  it('puts new entities last, in arrival order; a deleted one that returns is new', () => {
    const o = new TopicOrder();
    o.order(['a', 'b', 'c'].map(put));
    expect(ids(o.order([put('z'), put('c'), del('a'), put('y')]))).toEqual(['a', 'c', 'z', 'y']);
    expect(o.size).toBe(4); // b c z y
    expect(ids(o.order([put('y'), put('a'), put('b')]))).toEqual(['b', 'y', 'a']);
    // a delete of something never held goes anywhere (last); it takes no rank
    expect(ids(o.order([del('nobody'), put('b')]))).toEqual(['b', 'nobody']);
    expect(o.size).toBe(5);
  });

  it('keeps every op exactly once over a large shuffled tick', () => {
    const o = new TopicOrder();
    const n = 20_000;
    o.order(Array.from({ length: n }, (_, i) => put(`u${i}`)));
    const shuffled = Array.from({ length: n }, (_, i) => put(`u${(i * 7919) % n}`));
    const out = ids(o.order(shuffled));
    expect(out).toEqual(Array.from({ length: n }, (_, i) => `u${i}`));
  });
});
