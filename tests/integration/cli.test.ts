import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
    expect(bad(['--uplink', 'nowhere'])).toThrow(/not host:port/);
  });

  it('serves on loopback, prints where, seeds an empty data directory, and stops cleanly on SIGTERM', async () => {
    const s = await serve(['--data', join(dir, 'a'), '--port', '0']);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = (await (await fetch(`${s.url}/api/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    expect(existsSync(join(dir, 'a', 'beacon.sqlite'))).toBe(true);
    expect(existsSync(join(dir, 'a', 'access-token'))).toBe(false); // loopback needs none
    expect(await s.stop()).toBe(0);
  });

  it('requires the token on a non-loopback bind, and `beacon token` shows the same one', async () => {
    const data = join(dir, 'b');
    const s = await serve(['--data', data, '--host', '0.0.0.0', '--port', '0']);
    const port = new URL(s.url).port;
    const token = beacon(['token', '--data', data]).trim();
    expect(token).toBe(readFileSync(join(data, 'access-token'), 'utf8').trim());
    expect(s.output()).toMatch(/access token/);
    expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(await s.stop()).toBe(0);
  });
});
