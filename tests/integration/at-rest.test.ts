// The data directory at rest: the contact directory with its phone numbers, the call log, tile keys
// and the access token are the owner's alone. #18, point 7: the directory was 0755 and beacon.sqlite*
// and tiles/sources.json 0644.
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HallCore } from '../../main/core/hall.ts';
import { serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

/** Every file and folder under dir that anyone but its owner may read, write or enter. */
function open(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (statSync(d).mode & 0o077) out.push(`${d} ${(statSync(d).mode & 0o777).toString(8)}`);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (statSync(p).mode & 0o077) out.push(`${p} ${(statSync(p).mode & 0o777).toString(8)}`);
    }
  };
  walk(dir);
  return out;
}

describe('the data directory at rest', () => {
  const root = tempDir();

  it('beacon serve writes a fresh data directory owner-only, the database, its WAL, tile caches and the token included', async () => {
    const data = join(root, 'fresh');
    const tiles = join(data, 'tiles');
    mkdirSync(tiles, { recursive: true, mode: 0o700 });
    // a keyed tile source, so its cache file is made at start too
    writeFileSync(join(tiles, 'sources.json'), JSON.stringify([{ id: 'tdt', name: '天地图', url: 'http://127.0.0.1:9/{z}/{x}/{y}?tk={k}', key: 'secret', format: 'png', minZoom: 0, maxZoom: 18 }]), {
      mode: 0o600,
    });
    const s = await serve(['--data', data, '--port', '0', '--host', '0.0.0.0']);
    try {
      // the token is made at the first start; the WAL exists while the hall runs
      expect(readdirSync(data)).toEqual(expect.arrayContaining(['beacon.sqlite', 'beacon.sqlite-wal', 'access-token', 'tiles']));
      expect(readdirSync(tiles)).toContain('tdt.mbtiles');
      expect(open(data)).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it('a hall started on a directory others can read makes it owner-only, and says so', async () => {
    const data = join(root, 'loose');
    await (await HallCore.start({ dataDir: data, seed: false })).dispose();
    chmodSync(data, 0o755);
    chmodSync(join(data, 'beacon.sqlite'), 0o644);
    mkdirSync(join(data, 'tiles'), { recursive: true });
    chmodSync(join(data, 'tiles'), 0o755);
    writeFileSync(join(data, 'tiles', 'sources.json'), '[]', { mode: 0o644 });
    // not Beacon's: --data may name a folder that holds other things too, and those are left alone
    writeFileSync(join(data, 'README.txt'), 'duty notes', { mode: 0o644 });
    expect(open(data).length).toBeGreaterThanOrEqual(5);
    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => void warned.push(m);
    try {
      await (await HallCore.start({ dataDir: data, seed: false })).dispose();
    } finally {
      console.warn = warn;
    }
    expect(open(data)).toEqual([`${join(data, 'README.txt')} 644`]);
    expect(warned.join('\n')).toMatch(/were readable by others; now owner only/);
  });
});
