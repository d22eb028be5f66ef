// Applying snapshot + deltas to a keyed map: the one rule every end (core, renderer, tests) follows.
import type { DeltaOp, WireOp } from './contract.ts';

export function applyOps<T>(map: Map<string, T>, ops: readonly DeltaOp[]): void {
  for (const op of ops) {
    if (op.op === 'put') map.set(op.id, op.value as T);
    else map.delete(op.id);
  }
}

type Obj = Record<string, unknown>;
const isPlain = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What changed from `prev` to `next`, as patch paths (`key`, or `key.sub` one level into a plain
 * object), or null when a patch cannot say it (a key removed, a key with a dot). Values are compared
 * by identity: an unchanged nested object that was copied by reference costs nothing, a new one is
 * sent whole. A moving unit is then lat, lon, updated and a few track fields: a sixth of the entity.
 */
export function diffPatch(prev: unknown, next: unknown): Obj | null {
  if (!isPlain(prev) || !isPlain(next)) return null;
  const set: Obj = {};
  for (const k of Object.keys(prev)) if (!(k in next)) return null;
  for (const k of Object.keys(next)) {
    if (k.includes('.')) return null;
    const a = prev[k];
    const b = next[k];
    if (a === b) continue;
    if (isPlain(a) && isPlain(b) && Object.keys(a).every((kk) => kk in b) && Object.keys(b).every((kk) => !kk.includes('.'))) {
      for (const kk of Object.keys(b)) if (a[kk] !== b[kk]) set[`${k}.${kk}`] = b[kk];
    } else set[k] = b;
  }
  return set;
}

/** `prev` with a patch applied (copy on write: `prev` is not touched). */
export function applyPatch(prev: Obj, set: Obj): Obj {
  const out: Obj = { ...prev };
  const copied = new Set<string>();
  for (const [path, v] of Object.entries(set)) {
    const dot = path.indexOf('.');
    if (dot < 0) {
      out[path] = v;
      copied.add(path);
      continue;
    }
    const k = path.slice(0, dot);
    if (!copied.has(k)) {
      out[k] = isPlain(out[k]) ? { ...(out[k] as Obj) } : {};
      copied.add(k);
    }
    (out[k] as Obj)[path.slice(dot + 1)] = v;
  }
  return out;
}

/** Wire ops as puts and dels against what the client holds. Null when a patch names an entity the
 *  client does not have: its state has diverged, and it must ask for a snapshot. */
export function resolveWireOps(map: ReadonlyMap<string, unknown>, ops: readonly WireOp[]): DeltaOp[] | null {
  const out: DeltaOp[] = [];
  // A tick holds one op per id, so patches never build on each other within one delta.
  for (const op of ops) {
    if (op.op !== 'patch') {
      out.push(op);
      continue;
    }
    const prev = map.get(op.id);
    if (!isPlain(prev)) return null;
    out.push({ op: 'put', id: op.id, value: applyPatch(prev, op.set) });
  }
  return out;
}
