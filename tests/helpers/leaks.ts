// Fails a suite that leaves sockets, servers, timers or workers behind (VS Code's
// ensureNoDisposablesAreLeakedInTestSuite, by way of Node's own resource list).
import { afterAll, beforeAll, expect } from 'vitest';

const WATCHED = new Set(['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'MessagePort', 'Worker', 'UDPWrap', 'PipeWrap']);

function count(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (WATCHED.has(r)) out[r] = (out[r] ?? 0) + 1;
  return out;
}

export function ensureNoLeaks(): void {
  let before: Record<string, number> = {};
  beforeAll(() => {
    before = count();
  });
  afterAll(async () => {
    // Closed sockets and exited workers leave the list within a few turns of the loop.
    let leaked: string[] = [];
    for (let i = 0; i < 50; i++) {
      const now = count();
      leaked = Object.entries(now)
        .filter(([k, n]) => n > (before[k] ?? 0))
        .map(([k, n]) => `${k}: ${before[k] ?? 0} -> ${n}`);
      if (leaked.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(leaked, 'resources left open by this suite').toEqual([]);
  });
}
