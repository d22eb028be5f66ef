import { describe, expect, it } from 'vitest';
import type { Role } from '../../common/contract.ts';
import { diffWindows, type DisplayInfo, displayKey, mergeLayout, planWindows, roleFromUrl } from '../../main/core/layout/plan.ts';

const display = (id: number, x: number, primary = false, width = 1920, height = 1080): DisplayInfo => ({ id, primary, bounds: { x, y: 0, width, height } });
const wall = (n: number) => Array.from({ length: n }, (_, i) => display(i + 1, i * 1920, i === 0));
const roles = (ds: DisplayInfo[], saved: Record<string, Role> = {}) => planWindows(ds, saved).map((p) => p.role);

describe('window plan', () => {
  it('one display: the globe, windowed', () => {
    const [p] = planWindows(wall(1), {});
    expect(p).toMatchObject({ role: 'globe', fullscreen: false });
  });

  it('two displays: the desk takes the call panel, the wall the globe', () => {
    expect(roles(wall(2))).toEqual(['calls', 'globe']);
  });

  it('four displays: every role once, wall screens full screen', () => {
    const plan = planWindows(wall(4), {});
    expect(plan.map((p) => p.role)).toEqual(['calls', 'globe', 'wall', 'board']);
    expect(plan.map((p) => p.fullscreen)).toEqual([false, true, true, true]);
  });

  it('six displays: extra screens become more video wall', () => {
    expect(roles(wall(6))).toEqual(['calls', 'globe', 'wall', 'board', 'wall', 'wall']);
  });

  it('orders the wall left to right whatever order the OS lists it in', () => {
    const ds = wall(4).reverse();
    expect(planWindows(ds, {}).map((p) => p.displayId)).toEqual([1, 2, 3, 4]);
  });

  it('keeps the saved layout when the same displays are there', () => {
    const ds = wall(4);
    const saved = { [displayKey(ds[0]!)]: 'calls', [displayKey(ds[1]!)]: 'board', [displayKey(ds[2]!)]: 'globe', [displayKey(ds[3]!)]: 'wall' } as Record<string, Role>;
    expect(roles(ds, saved)).toEqual(['calls', 'board', 'globe', 'wall']);
  });

  it('a display unplugged: the globe it carried moves to the screen the hall misses least', () => {
    const ds = wall(4);
    const saved = mergeLayout({}, planWindows(ds, {})); // calls, globe, wall, board
    const remaining = ds.filter((d) => d.id !== 2);
    const plan = planWindows(remaining, saved);
    expect(plan.map((p) => p.role).sort()).toEqual(['calls', 'globe', 'wall']);
    expect(plan.find((p) => p.displayId === 4)!.role).toBe('globe'); // the board gave way
    expect(plan.find((p) => p.displayId === 3)!.role).toBe('wall');
  });

  it('down to one display: the globe, even if that display was saved as the call panel', () => {
    const ds = wall(2);
    const saved = mergeLayout({}, planWindows(ds, {}));
    expect(roles([ds[0]!], saved)).toEqual(['globe']);
  });

  it('a display added: it takes the next missing role, and the others keep theirs', () => {
    const ds = wall(2);
    const saved = mergeLayout({}, planWindows(ds, {}));
    const plan = planWindows([...ds, display(3, 3840)], saved);
    expect(plan.map((p) => p.role)).toEqual(['calls', 'globe', 'wall']);
    const diff = diffWindows(
      planWindows(ds, saved).map((p) => ({ key: p.key, role: p.role })),
      plan,
    );
    expect(diff.open.map((p) => p.displayId)).toEqual([3]);
    expect(diff.close).toEqual([]);
    expect(diff.update).toHaveLength(2);
  });

  it('a returning display gets its saved role back', () => {
    const ds = wall(3);
    let saved = mergeLayout({}, planWindows(ds, {}));
    saved = mergeLayout(saved, planWindows(ds.slice(0, 2), saved));
    expect(roles(ds, saved)).toEqual(['calls', 'globe', 'wall']);
  });

  it('reads the role of a window from its URL, refusing anything else', () => {
    expect(roleFromUrl('app://beacon/index.html?role=board')).toBe('board');
    expect(roleFromUrl('app://beacon/index.html?role=admin')).toBeNull();
    expect(roleFromUrl('app://beacon/index.html')).toBeNull();
    expect(roleFromUrl('::')).toBeNull();
  });

  it('no displays: no windows', () => {
    expect(planWindows([], {})).toEqual([]);
  });
});
