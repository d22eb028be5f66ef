import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accessToken, CSP, ipcSenderTrusted, isLoopbackHost, navigationAllowed, originAllowed } from '../../main/core/security.ts';
import { resolveStatic } from '../../main/server/static.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('security policy', () => {
  const dir = tempDir();

  it('knows loopback from everything else', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.5', '192.168.1.2', '::', 'hall.example', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('creates one access token, private to its owner, and keeps it across restarts', () => {
    const t1 = accessToken(dir);
    expect(t1).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(accessToken(dir)).toBe(t1);
    if (process.platform !== 'win32') expect(statSync(join(dir, 'access-token')).mode & 0o077).toBe(0);
  });

  it('replaces a token file that was emptied or corrupted', () => {
    const d = join(dir, 'bad');
    mkdirSync(d);
    writeFileSync(join(d, 'access-token'), 'short\n');
    expect(accessToken(d)).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('lets only our own pages open the hub from a browser', () => {
    expect(originAllowed(undefined, 'h:1')).toBe(true); // scripts and the province send no Origin
    expect(originAllowed('http://127.0.0.1:8600', '127.0.0.1:8600')).toBe(true);
    expect(originAllowed('app://beacon', '127.0.0.1:8600')).toBe(true);
    expect(originAllowed('http://evil.example', '127.0.0.1:8600')).toBe(false);
    expect(originAllowed('http://127.0.0.1:9999', '127.0.0.1:8600')).toBe(false);
    expect(originAllowed('null', '127.0.0.1:8600')).toBe(false);
    expect(originAllowed('http://wall-controller:8080', 'hall:8600', ['http://wall-controller:8080'])).toBe(true);
  });

  it('blocks navigation away from the app and IPC from anything but our main frames', () => {
    expect(navigationAllowed('app://beacon/index.html?role=globe')).toBe(true);
    for (const u of ['https://example.com', 'file:///etc/passwd', 'app://other/index.html', 'javascript:alert(1)', 'not a url']) expect(navigationAllowed(u), u).toBe(false);
    expect(ipcSenderTrusted('app://beacon/index.html', true)).toBe(true);
    expect(ipcSenderTrusted('app://beacon/index.html', false)).toBe(false);
    expect(ipcSenderTrusted('https://example.com/', true)).toBe(false);
    expect(ipcSenderTrusted(undefined, true)).toBe(false);
  });

  it('has a CSP without inline script or eval', () => {
    const script = CSP.split('; ').find((d) => d.startsWith('script-src'))!;
    expect(script).not.toMatch(/unsafe-inline|'unsafe-eval'/);
    expect(CSP).toMatch(/object-src 'none'/);
    expect(CSP).toMatch(/frame-ancestors 'none'/);
  });

  it('never serves a file outside the renderer folder', () => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'index.html'), 'x');
    writeFileSync(join(dir, 'secret.txt'), 'x');
    expect(resolveStatic(root, '/index.html')).toBe(join(root, 'index.html'));
    expect(resolveStatic(root, '/')).toBe(join(root, 'index.html'));
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%00', '/%E0%A4%A']) expect(resolveStatic(root, p), p).toBeNull();
  });
});
