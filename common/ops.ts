// Applying snapshot + deltas to a keyed map: the one rule every end (core, renderer, tests) follows.
import type { DeltaOp } from './contract.ts';

export function applyOps<T>(map: Map<string, T>, ops: readonly DeltaOp[]): void {
  for (const op of ops) {
    if (op.op === 'put') map.set(op.id, op.value as T);
    else map.delete(op.id);
  }
}
