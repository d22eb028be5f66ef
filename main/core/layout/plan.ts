// Which role goes on which display: a pure function of the display list and the saved layout.
// The Electron shell only applies the plan (opens, moves, closes windows) and saves it.
import { type Role, ROLES } from '../../../common/contract.ts';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface DisplayInfo {
  id: number;
  bounds: Rect;
  primary: boolean;
}
export interface WindowPlan {
  /** Stable display key; the saved layout is keyed by it. */
  key: string;
  displayId: number;
  role: Role;
  bounds: Rect;
  /** Wall displays go full screen; the operator's desk (primary) keeps a normal window. */
  fullscreen: boolean;
}

/** Display ids are stable across restarts on the platforms Electron supports; the size is part of
 *  the key so a different monitor on the same port is treated as new. */
export function displayKey(d: DisplayInfo): string {
  return `${d.id}:${d.bounds.width}x${d.bounds.height}`;
}

/** Roles a hall must always have on some display, most important first. */
const ESSENTIAL: readonly Role[] = ['globe', 'calls'];
/** How much a role is missed when taken away (low first): extra walls and boards give way. */
const EXPENDABLE: readonly Role[] = ['board', 'wall', 'calls', 'globe'];

export function planWindows(displays: readonly DisplayInfo[], saved: Readonly<Record<string, Role>>): WindowPlan[] {
  if (displays.length === 0) return [];
  // Primary first (the duty officer's desk), then left to right, top to bottom across the wall.
  const ordered = [...displays].sort((a, b) => Number(b.primary) - Number(a.primary) || a.bounds.x - b.bounds.x || a.bounds.y - b.bounds.y || a.id - b.id);
  const roles = new Map<string, Role>();
  for (const d of ordered) {
    const r = saved[displayKey(d)];
    if (r) roles.set(displayKey(d), r);
  }
  const used = () => new Set(roles.values());
  // Displays without a saved role take the next role the hall lacks: one display is all globe;
  // with more, the desk takes the call panel and the wall gets globe, video, board, then more video.
  const defaults: Role[] = ordered.length === 1 ? ['globe'] : ['calls', 'globe', 'wall', 'board'];
  for (const d of ordered) {
    const k = displayKey(d);
    if (roles.has(k)) continue;
    const missing = defaults.find((r) => !used().has(r));
    roles.set(k, missing ?? 'wall');
  }
  // A display that was unplugged may have carried an essential role: take it back from the role
  // the hall misses least (a duplicated one first), never from another essential one.
  // With fewer displays than essential roles, only the first ones are guaranteed (one display: globe).
  const ensured = ESSENTIAL.slice(0, Math.min(ESSENTIAL.length, ordered.length));
  for (const need of ensured) {
    if (used().has(need)) continue;
    const counts = new Map<Role, number>();
    for (const r of roles.values()) counts.set(r, (counts.get(r) ?? 0) + 1);
    const candidates = ordered
      .map((d) => ({ d, role: roles.get(displayKey(d))! }))
      .filter(({ role }) => !ensured.includes(role) || (counts.get(role) ?? 0) > 1)
      .sort((a, b) => Number((counts.get(b.role) ?? 0) > 1) - Number((counts.get(a.role) ?? 0) > 1) || EXPENDABLE.indexOf(a.role) - EXPENDABLE.indexOf(b.role) || area(b.d.bounds) - area(a.d.bounds));
    const victim = need === 'calls' ? (candidates.find((c) => c.d.primary) ?? candidates[0]) : (candidates.find((c) => !c.d.primary) ?? candidates[0]);
    if (victim) roles.set(displayKey(victim.d), need);
  }
  return ordered.map((d) => ({ key: displayKey(d), displayId: d.id, role: roles.get(displayKey(d))!, bounds: d.bounds, fullscreen: !d.primary }));
}

const area = (r: Rect) => r.width * r.height;

/** Saved layout after applying a plan: the plan's assignments win, those of unplugged displays are
 *  kept so the role returns when the display does. */
export function mergeLayout(saved: Readonly<Record<string, Role>>, plan: readonly WindowPlan[]): Record<string, Role> {
  const out: Record<string, Role> = { ...saved };
  for (const w of plan) out[w.key] = w.role;
  return out;
}

export interface OpenWindow {
  key: string;
  role: Role;
}
export interface WindowChanges {
  open: WindowPlan[];
  /** Same display, new role or bounds. */
  update: WindowPlan[];
  close: string[];
}

export function diffWindows(current: readonly OpenWindow[], plan: readonly WindowPlan[]): WindowChanges {
  const planned = new Map(plan.map((p) => [p.key, p]));
  const open = plan.filter((p) => !current.some((c) => c.key === p.key));
  const update = plan.filter((p) => current.some((c) => c.key === p.key));
  const close = current.filter((c) => !planned.has(c.key)).map((c) => c.key);
  return { open, update, close };
}

/** The role a window shows, from its URL (the status bar's role switcher navigates to ?role=…). */
export function roleFromUrl(url: string): Role | null {
  try {
    const r = new URL(url).searchParams.get('role');
    return (ROLES as readonly string[]).includes(r ?? '') ? (r as Role) : null;
  } catch {
    return null;
  }
}
