// Patches between entity versions: what the hall sends (diffPatch) and how a client rebuilds the
// entity (applyPatch; the renderer's hub client applies deltas with it, renderer/hub/client.ts).
import { isPlain, type Obj } from './plain.ts';

/**
 * What changed from `prev` to `next`, as patch paths (`key`, or `key.sub` one level into a plain
 * object), or null when a patch cannot say it (a key removed, a key with a dot). Values are compared
 * by identity: an unchanged nested object that was copied by reference costs nothing, a new one is
 * sent whole. A moving unit is then lat, lon, updated and a few track fields: a sixth of the entity.
 */
export function diffPatch(prev: unknown, next: unknown): Obj | null {
  if (!isPlain(prev) || !isPlain(next)) return null;
  // for…in and counts rather than Object.keys and closures: this runs for every moving unit in
  // every tick (20,000 a second), and allocation is what the hall's main thread pays most for.
  const set: Obj = {};
  let nPrev = 0;
  for (const k in prev) if (Object.hasOwn(prev, k)) nPrev++;
  let shared = 0;
  for (const k in next) {
    if (!Object.hasOwn(next, k)) continue;
    if (k.includes('.')) return null;
    const b = next[k];
    if (!Object.hasOwn(prev, k)) {
      set[k] = b;
      continue;
    }
    shared++;
    const a = prev[k];
    if (a === b) continue;
    if (isPlain(a) && isPlain(b) && patchable(a, b)) {
      for (const kk in b) if (Object.hasOwn(b, kk) && a[kk] !== b[kk]) set[pathOf(k, kk)] = b[kk];
    } else set[k] = b;
  }
  // a key of prev that next no longer has cannot be said by a patch
  return shared === nPrev ? set : null;
}

/** Can `a` → `b` go as `k.kk` paths: every key of a still in b, and no key of b holding a dot. */
function patchable(a: Obj, b: Obj): boolean {
  let na = 0;
  for (const k in a) if (Object.hasOwn(a, k)) na++;
  let shared = 0;
  for (const k in b) {
    if (!Object.hasOwn(b, k)) continue;
    if (k.includes('.')) return false;
    if (Object.hasOwn(a, k)) shared++;
  }
  return na === shared;
}

const paths = new Map<string, Map<string, string>>();
/** `k.kk`, interned: the same few dozen paths are made 100,000 times a second. */
function pathOf(k: string, kk: string): string {
  let m = paths.get(k);
  if (!m) {
    if (paths.size >= 1_000) return `${k}.${kk}`;
    paths.set(k, (m = new Map()));
  }
  let p = m.get(kk);
  if (p === undefined) {
    p = `${k}.${kk}`;
    if (m.size < 1_000) m.set(kk, p);
  }
  return p;
}

const splits = new Map<string, readonly [string, string]>();
/** `k.kk` → [k, kk], remembered: the same few dozen paths arrive 20,000 times a second. */
function splitPath(path: string, dot: number): readonly [string, string] {
  let s = splits.get(path);
  if (!s) {
    s = [path.slice(0, dot), path.slice(dot + 1)] as const;
    if (splits.size < 1_000) splits.set(path, s);
  }
  return s;
}

/** `prev` with a patch applied (copy on write: `prev` is not touched). */
export function applyPatch(prev: Obj, set: Obj): Obj {
  const out: Obj = { ...prev };
  for (const path in set) {
    if (!Object.hasOwn(set, path)) continue;
    const v = set[path];
    const dot = path.indexOf('.');
    if (dot < 0) {
      out[path] = v;
      continue;
    }
    const [k, sub] = splitPath(path, dot);
    const cur = out[k];
    // the first path into `k` copies it (still the object `prev` holds); later ones write the copy
    if (cur === prev[k]) out[k] = isPlain(cur) ? { ...cur } : {};
    (out[k] as Obj)[sub] = v;
  }
  return out;
}
