// Fails a test file that leaves sockets, servers, timers, workers or child processes behind (VS Code's
// ensureNoDisposablesAreLeakedInTestSuite). Runs in every test file (vitest.config.ts setupFiles).
//
// Handles come from Node's own resource list, which shows only what keeps the loop alive; an unref'd
// timer is invisible there and yet fires later, inside another test's time. So timers are tracked here
// from where they are made: global setTimeout/setInterval are wrapped once per worker, each live timer
// kept with the stack that made it, so a leak names its line.
import { afterAll, beforeAll, expect } from 'vitest';

const WATCHED = new Set(['TCPSocketWrap', 'TCPServerWrap', 'MessagePort', 'Worker', 'UDPWrap', 'PipeWrap', 'ProcessWrap']);

interface Made {
  seq: number;
  kind: 'setTimeout' | 'setInterval';
  stack: string;
}
const live = new Map<unknown, Made>();
let made = 0;
/** While the check itself waits, its own timers are not counted. */
let paused = false;

function track(): void {
  const g = globalThis as typeof globalThis & { __beaconTimersTracked?: boolean };
  if (g.__beaconTimersTracked) return;
  g.__beaconTimersTracked = true;
  const { setTimeout: st, setInterval: si, clearTimeout: ct, clearInterval: ci } = globalThis;
  const where = () => (new Error().stack ?? '').split('\n').slice(3, 9).join('\n');
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    if (typeof fn !== 'function') return st(fn, ms, ...args);
    const box: { t?: ReturnType<typeof st> } = {};
    const run = (...a: unknown[]) => {
      live.delete(box.t);
      fn(...a);
    };
    const t = (box.t = st(run, ms, ...args));
    if (!paused) live.set(t, { seq: ++made, kind: 'setTimeout', stack: where() });
    return t;
  }) as typeof setTimeout;
  globalThis.setInterval = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const t = si(fn, ms, ...args);
    if (!paused) live.set(t, { seq: ++made, kind: 'setInterval', stack: where() });
    return t;
  }) as typeof setInterval;
  // Node lets either clear either kind, and accepts the timer's number (its primitive) too.
  const clear = (t: unknown) => {
    if (t === undefined || t === null) return;
    if (live.delete(t)) return;
    if (typeof t === 'number' || typeof t === 'string') for (const k of live.keys()) if (Number(k as never) === Number(t)) live.delete(k);
  };
  globalThis.clearTimeout = ((t?: Parameters<typeof ct>[0]) => {
    clear(t);
    ct(t);
  }) as typeof clearTimeout;
  globalThis.clearInterval = ((t?: Parameters<typeof ci>[0]) => {
    clear(t);
    ci(t);
  }) as typeof clearInterval;
}

function handles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (WATCHED.has(r)) out[r] = (out[r] ?? 0) + 1;
  return out;
}

export function ensureNoLeaks(): void {
  track();
  let before: Record<string, number> = {};
  let since = 0;
  beforeAll(() => {
    before = handles();
    since = made;
  });
  afterAll(async () => {
    // Closed sockets and exited workers leave the list within a few turns of the loop.
    paused = true;
    let leaked: string[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        const now = handles();
        leaked = Object.entries(now)
          .filter(([k, n]) => n > (before[k] ?? 0))
          .map(([k, n]) => `${k}: ${before[k] ?? 0} -> ${n}`);
        for (const m of live.values()) if (m.seq > since) leaked.push(`${m.kind} left running (unref'd or not), made at\n${m.stack}`);
        if (leaked.length === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      paused = false;
    }
    expect(leaked, 'resources left open by this test file').toEqual([]);
  });
}
