// A full disk under the store, for real: the data directory is a small tmpfs (mounted by the test,
// as root) filled to the last byte. The hall must refuse changes clearly, stay up, keep serving what
// it holds, leave nothing half-written, and carry on once space is freed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Unit } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { tempDir } from '../helpers/tmp.ts';

function tryMount(dir: string): string | null {
  try {
    execFileSync(['/usr/bin/mount', '/bin/mount'].find((m) => existsSync(m)) ?? 'mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return (e as Error).message.split('\n')[0]!;
  }
}

const base = tempDir();
const mnt = join(base, 'small-disk');
mkdirSync(mnt);
const why = tryMount(mnt);
if (why) console.log(`full-disk test: skipped: cannot mount a tmpfs here (${why})`);

describe.skipIf(why !== null)('a full disk under the store (real tmpfs)', () => {
  afterAll(() => {
    try {
      execFileSync(['/usr/bin/umount', '/bin/umount'].find((m) => existsSync(m)) ?? 'umount', [mnt]);
    } catch {
      /* already gone */
    }
  });

  it('refuses with unavailable, stays up, nothing half-written, recovers when space returns', async () => {
    const data = join(mnt, 'hall');
    const core = await HallCore.start({ dataDir: data, hub: { tickMs: 5 } });
    const id = 'fire-rescue-331000-01';
    const stored = (await core.store.api.stats()).journalEvents;
    const before = core.get<Unit>('units', id)!;

    // Fill the disk: chunks until ENOSPC, then single bytes, so not one page is left for SQLite.
    let n = 0;
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) writeFileSync(join(mnt, `fill-${n++}`), chunk);
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
    }
    expect(statfsSync(mnt).bavail).toBe(0);

    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => core.record('unit.moved', `unit:${id}`, { id, lat: 28 + i / 100, lon: 121, alt: null, at: Date.now() }, 'test')));
    const failures = results.filter((r) => r.status === 'rejected');
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) expect((f as PromiseRejectedResult).reason).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/full/i) });
    // Health says the store refuses writes (and why), not ok.
    expect(core.stats().storeRefusing).toMatchObject({ error: expect.stringMatching(/full/i) });
    // Still up, still serving what it holds, and the live state is what is stored.
    expect(core.hub.items('units')).toHaveLength(623);
    const committed = results.filter((r) => r.status === 'fulfilled').length;
    if (committed === 0) expect(core.get<Unit>('units', id)).toEqual(before);

    // Space comes back: the hall carries on.
    for (let i = 0; i < n; i++) rmSync(join(mnt, `fill-${i}`), { force: true });
    await core.record('unit.status', `unit:${id}`, { id, status: 'en-route', at: Date.now() }, 'test');
    expect(core.get<Unit>('units', id)!.status).toBe('en-route');
    expect(core.stats().storeRefusing).toBeNull();
    const after = (await core.store.api.stats()).journalEvents;
    expect(after).toBe(stored + committed + 1);
    await core.dispose();

    // And the file is whole: integrity check, and projections agree with the journal's last word.
    const db = new Database(join(data, 'beacon.sqlite'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(JSON.parse(db.prepare('SELECT data FROM units WHERE id = ?').pluck().get(id) as string)).toMatchObject({ status: 'en-route' });
    db.close();
  });
});
