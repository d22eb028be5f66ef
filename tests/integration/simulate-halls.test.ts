// `beacon simulate --halls`: a newcomer's command network on one machine (issue 20). Three real
// `beacon serve` processes on three real, bridged mosquittos; the province's read-only API shows its
// city and county halls online from their heartbeats.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { HallNode } from '../../common/domain.ts';
import { freePort, MOSQUITTO } from '../helpers/mosquitto.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe.skipIf(!existsSync(MOSQUITTO))('beacon simulate --halls', () => {
  it('starts three halls on bridged buses; the province sees Taizhou and Linhai online; Ctrl-C stops them all', async () => {
    const base = ((await freePort()) % 30000) + 20000;
    const p = spawn(process.execPath, [join(ROOT, 'main', 'cli.ts'), 'simulate', '--halls', '--data', tempDir(), '--port', String(base)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await until('three URLs', () => /331082 临海市: http/.test(out), 60_000);
      const province = /330000 浙江省: (http:\/\/\S+)/.exec(out)![1]!;
      const u = new URL(province);
      const token = u.searchParams.get('token')!;
      const halls = async () => ((await (await fetch(`${u.origin}/api/topics/halls`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: HallNode[] }).items;
      await until(
        'Taizhou and Linhai online at the province',
        async () => {
          const h = await halls();
          return ['331000', '331082'].every((c) => h.find((x) => x.id === c)?.state === 'online');
        },
        30_000,
      );
      expect((await halls()).find((x) => x.id === '330100')?.state).toBe('unknown');
    } finally {
      p.kill('SIGINT');
      const code = await new Promise<number | null>((r) => p.once('exit', r));
      expect(code).toBe(0);
    }
  }, 120_000);
});
