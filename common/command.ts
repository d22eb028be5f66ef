// Shared by the core and the displays (issue 21): where a checklist item stands at a moment.
import type { Checklist } from './domain.ts';

type Item = Checklist['items'][number];

/** done; late (its deadline passed undone: shown red); or due (counting down). */
export function itemState(item: Item, now: number): 'done' | 'late' | 'due' {
  if (item.doneAt !== null) return 'done';
  return now > item.due ? 'late' : 'due';
}

/** A checklist's counts at a moment, for its heading and the board's summary. */
export function checklistCounts(c: Checklist, now: number): { done: number; late: number; due: number } {
  const n = { done: 0, late: 0, due: 0 };
  for (const i of c.items) n[itemState(i, now)] += 1;
  return n;
}
