import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { advisory } from '../helpers/advisory.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const beacon = (args: string[]) => execFileSync(process.execPath, ['main/cli.ts', ...args], { cwd: ROOT, encoding: 'utf8' });

describe('the beacon command', () => {
  const dir = tempDir();

  it('explains itself', () => {
    const help = beacon(['--help']);
    expect(help).toMatch(/beacon serve/);
    expect(help).toMatch(/beacon token/);
    expect(() => execFileSync(process.execPath, ['main/cli.ts', 'fly'], { cwd: ROOT, stdio: 'pipe' })).toThrow(/unknown command 'fly'/);
    expect(() => execFileSync(process.execPath, ['main/cli.ts', 'serve', '--port', 'abc'], { cwd: ROOT, stdio: 'pipe' })).toThrow(/--port must be/);
    const bad = (args: string[]) => () => execFileSync(process.execPath, ['main/cli.ts', 'serve', '--data', join(dir, 'x'), '--port', '0', ...args], { cwd: ROOT, stdio: 'pipe' });
    expect(bad(['--province', 'mqtt://127.0.0.1:1883'])).toThrow(/needs both --province URL and --hall-id/);
    expect(bad(['--province', 'http://x', '--hall-id', '330000'])).toThrow(/is not mqtt:\/\/host:port/);
    expect(bad(['--province', 'mqtt://127.0.0.1:1883', '--hall-id', 'zj'])).toThrow(/6-digit/);
    expect(bad(['--uplink', 'nowhere'])).toThrow(/is not \[mqtt:\/\/\|sip:\/\/\|tcp:\/\/\]host:port/);
  });

  it('serves on loopback, prints the URL to open with its token, seeds an empty data directory, and stops cleanly on SIGTERM', async () => {
    const s = await serve(['--data', join(dir, 'a'), '--port', '0']);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // as Jupyter does: one line to open, token included; loopback needs it too (DNS rebinding)
    expect(s.output()).toMatch(/open http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32,}/);
    expect(s.token).toBe(readFileSync(join(dir, 'a', 'access-token'), 'utf8').trim());
    expect((await fetch(`${s.url}/api/health`)).status).toBe(401);
    const health = (await (await fetch(`${s.url}/api/health`, { headers: { authorization: `Bearer ${s.token}` } })).json()) as { status: string };
    expect(health.status).toBe('ok');
    expect(existsSync(join(dir, 'a', 'beacon.sqlite'))).toBe(true);
    expect(await s.stop()).toBe(0);
  });

  it('requires the token on a non-loopback bind (no opting out there); `beacon token` shows the same one', async () => {
    const data = join(dir, 'b');
    const refused = spawnSync(process.execPath, ['main/cli.ts', 'serve', '--data', data, '--host', '0.0.0.0', '--port', '0', '--no-token'], { cwd: ROOT, encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/without a token is refused/);
    const s = await serve(['--data', data, '--host', '0.0.0.0', '--port', '0']);
    const port = new URL(s.url).port;
    const token = beacon(['token', '--data', data]).trim();
    expect(token).toBe(readFileSync(join(data, 'access-token'), 'utf8').trim());
    expect(s.token).toBe(token);
    expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(await s.stop()).toBe(0);
  });

  it('issues, lists and revokes console tokens, and keeps the duty roster with hashed PINs', () => {
    const data = join(dir, 'creds');
    const add = spawnSync(process.execPath, ['main/cli.ts', 'token', 'add', '--data', data, '--name', '台州市', '--role', 'observer'], { cwd: ROOT, encoding: 'utf8' });
    expect(add.status).toBe(0);
    const token = add.stdout.trim();
    expect(token).toMatch(/^bcon_[\w-]{43}$/);
    expect(add.stderr).toMatch(/shown once/);
    expect(readFileSync(join(data, 'consoles.json'), 'utf8')).not.toContain(token);
    expect(beacon(['token', 'list', '--data', data])).toMatch(/\t台州市\tobserver\tadded /);
    expect(() => beacon(['token', 'add', '--data', data, '--name', 'x', '--role', 'governor'])).toThrow(/--role must be one of observer, duty, leader, admin/);
    expect(beacon(['token', 'revoke', '台州市', '--data', data])).toMatch(/revoked c[0-9a-f]{8}/);
    expect(beacon(['token', 'list', '--data', data])).toMatch(/revoked /);

    const op = (pin: string) =>
      spawnSync(process.execPath, ['main/cli.ts', 'operator', 'add', '--data', data, '--id', 'zhangwei', '--name', '张伟', '--role', 'duty'], { cwd: ROOT, encoding: 'utf8', input: `${pin}\n` });
    expect(op('123456').stderr).toMatch(/counts up or down is refused/);
    expect(op('1111111').stderr).toMatch(/one repeated character/);
    const ok = op('735291');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/added operator zhangwei "张伟" \(duty\)/);
    const file = readFileSync(join(data, 'operators.json'), 'utf8');
    expect(file).toMatch(/"pin": "scrypt\$32768\$8\$1\$/);
    expect(file).not.toContain('735291');
    expect(statSync(join(data, 'operators.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(data, 'consoles.json')).mode & 0o777).toBe(0o600);
    expect(beacon(['operator', 'list', '--data', data])).toBe('zhangwei\t张伟\tduty\n');
    expect(beacon(['operator', 'remove', 'zhangwei', '--data', data])).toMatch(/removed zhangwei/);
  });

  it('imports a CMA best-track file into a data directory and through a running hall, naming bad lines', async () => {
    const file = join(dir, 'CH2019BST.txt');
    writeFileSync(
      file,
      [
        '66666 1909    4 0011 1909 0 6              Lekima 20200430',
        '2019080318 1 158 1315 1002      13',
        '2019080400 1 163 1308 1002      13',
        '2019080406 1 169 1304 1000      15',
        '2019080412 2 999 1303  998      18',
        '66666 1910    2 0012 1910 0 6               Krosa 20200430',
        '2019080600 1 176 1426  998      15',
        '2019080606 1 17',
      ].join('\n') + '\n',
    );
    const run = (args: string[]) => spawnSync(process.execPath, ['main/cli.ts', 'import', ...args], { cwd: ROOT, encoding: 'utf8' });
    const data = join(dir, 'imp');
    const first = run(['typhoon', file, '--data', data]);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/imported: tc-2019-1909 Lekima \(3 fixes\)/);
    expect(first.stdout).toMatch(/imported: tc-2019-1910 Krosa \(1 fixes\)/);
    expect(first.stderr).toMatch(/CH2019BST.txt:5: latitude 99.9 out of range/);
    expect(first.stderr).toMatch(/CH2019BST.txt:8: truncated record/);
    const second = run(['typhoon', file, '--data', data]);
    expect(second.stdout).toMatch(/unchanged: tc-2019-1909/);
    expect(second.stdout).toMatch(/2 storms, 0 changed/);
    expect(run(['typhoon', join(dir, 'missing.txt'), '--data', data]).stderr).toMatch(/cannot read/);
    expect(run(['radar', file]).status).toBe(2);

    // Through a running hall: the hall takes it and answers with the same report.
    const s = await serve(['--data', join(dir, 'live'), '--port', '0']);
    try {
      const hub = s.url.replace('http', 'ws') + '/hub';
      // the hall's access token alone may only look: an import is the duty officer's work
      const looking = spawnSync(process.execPath, ['main/cli.ts', 'import', 'typhoon', file, '--url', hub, '--token', s.token], { cwd: ROOT, encoding: 'utf8' });
      expect(looking.stderr).toMatch(/forbidden: typhoon.import needs the operate grant/);
      // a console token for the forecaster's desk (beacon token add --role duty), issued while the hall runs
      const desk = beacon(['token', 'add', '--data', join(dir, 'live'), '--name', '预报席', '--role', 'duty']).trim();
      const live = spawnSync(process.execPath, ['main/cli.ts', 'import', 'typhoon', file, '--url', hub, '--token', desk], { cwd: ROOT, encoding: 'utf8' });
      expect(live.stdout).toMatch(/imported: tc-2019-1910 Krosa/);
      const topics = (await (await fetch(`${s.url}/api/topics`, { headers: { authorization: `Bearer ${desk}` } })).json()) as Record<string, number>;
      expect(JSON.stringify(topics)).toMatch(/typhoons/);
      const adv = join(dir, 'adv.json');
      writeFileSync(adv, JSON.stringify([advisory('CMA', new Date(Date.now() - 3600_000).toISOString()), { format: 'nope' }]));
      const a = spawnSync(process.execPath, ['main/cli.ts', 'import', 'advisory', adv, '--url', hub, '--token', desk], { cwd: ROOT, encoding: 'utf8' });
      expect(a.stdout).toMatch(/stored: tc-2026-2614\/CMA\//);
      expect(a.stderr).toMatch(/advisory 2: invalid_args: advisory refused/);
      expect(a.status).toBe(1);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('imports county boundaries into a data directory, GCJ-02 converted, bad features named', () => {
    const file = join(dir, 'taizhou.geojson');
    const sq = (lon: number, lat: number, d: number) => [
      [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
      ],
    ];
    writeFileSync(
      file,
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: { adcode: '331081', name: '温岭市' }, geometry: { type: 'Polygon', coordinates: sq(121.39, 28.38, 0.12) } },
          { type: 'Feature', properties: { adcode: '331099', name: '不存在' }, geometry: { type: 'Polygon', coordinates: sq(121, 28.5, 0.1) } },
        ],
      }),
    );
    const data = join(dir, 'bnd');
    const r = spawnSync(process.execPath, ['main/cli.ts', 'import', 'boundaries', file, '--gcj02', '--data', data], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout).toMatch(/1 boundaries imported, 1 refused/);
    expect(r.stderr).toMatch(/taizhou.geojson feature 2 \(331099\): unknown code 331099/);
    expect(r.status).toBe(0);
  });
});
