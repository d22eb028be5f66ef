import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { accessToken, CSP, ELECTRON_FUSES, hostAllowed, ipcSenderTrusted, isLoopbackHost, navigationAllowed, originAllowed, permissionAllowed } from '../../main/core/security.ts';
import { Reach } from '../../main/core/trust/reach.ts';
import { COMMAND_GRANT, COMMAND_NAMES } from '../../common/contract.ts';
import { ROLE_GRANTS } from '../../common/trust.ts';
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

  it('answers only to IP addresses, localhost and the names it is given (DNS rebinding)', () => {
    for (const h of ['127.0.0.1:8600', 'localhost:8600', '[::1]:8600', '10.33.1.5:8600', 'LOCALHOST', 'hall.zj.example:443']) expect(hostAllowed(h, ['hall.zj.example']), h).toBe(true);
    for (const h of [undefined, '', 'rebind.attacker.example:8600', 'localhost.attacker.example', '127.0.0.1.nip.io:8600', 'hall.zj.example.evil:8600', 'a b'])
      expect(hostAllowed(h, ['hall.zj.example']), String(h)).toBe(false);
  });

  it('reaches only what the operator listed, and lets commands name only listed secrets, read once', () => {
    const env: NodeJS.ProcessEnv = { GW_TOKEN: 'gw', BEACON_SIP_PASSWORD: 'sip' };
    const r = new Reach({ allowOutbound: ['video.zj.example', 'tiles.zj.example:8443', '*.tianditu.gov.cn', '10.33.0.0/16', '127.0.0.1:9000'], secretEnv: ['GW_TOKEN'] }, env);
    for (const u of ['https://video.zj.example/live/a.m3u8', 'https://tiles.zj.example:8443/1/2/3.png', 'http://t0.tianditu.gov.cn/x', 'mqtt://10.33.4.5:1883', 'http://127.0.0.1:9000/whep'])
      expect(r.outboundProblem(u), u).toBeNull();
    for (const u of [
      'http://127.0.0.1:6379/',
      'http://169.254.169.254/latest',
      'http://[::1]:8600/api',
      'https://tiles.zj.example/1/2/3.png',
      'http://video.zj.example.evil.com/',
      'http://10.34.0.1/',
      'http://tianditu.gov.cn.evil/',
      'not a url',
    ])
      expect(r.outboundProblem(u), u).toMatch(/allowlist|not a URL/);
    expect(r.secret('GW_TOKEN')).toBe('gw');
    expect(env.GW_TOKEN).toBeUndefined();
    expect(r.secretProblem('GW_TOKEN')).toBeNull();
    expect(r.secretProblem('BEACON_SIP_PASSWORD')).toMatch(/not one this hall lets commands use/);
    expect(r.secret('BEACON_SIP_PASSWORD')).toBeUndefined();
    expect(() => new Reach({ allowOutbound: ['10.0.0.0/99'] })).toThrow(/too long/);
  });

  it('every command has a grant, and the roles separate duties', () => {
    for (const c of COMMAND_NAMES) expect(COMMAND_GRANT[c], c).toMatch(/^(read|operate|decide|configure)$/);
    expect(COMMAND_GRANT['risk.set']).toBe('decide');
    expect(COMMAND_GRANT['feed.add']).toBe('configure');
    expect(ROLE_GRANTS.admin).not.toContain('operate');
    expect(ROLE_GRANTS.admin).not.toContain('decide');
    expect(ROLE_GRANTS.duty).not.toContain('decide');
    expect(ROLE_GRANTS.observer).toEqual(['read']);
  });

  it('packages Electron with the fuses off that would run it as a plain Node, and grants no permission but the call panel’s headset', () => {
    const yml = parse(readFileSync(new URL('../../electron-builder.yml', import.meta.url), 'utf8')) as { electronFuses: Record<string, boolean> };
    expect(yml.electronFuses).toEqual(ELECTRON_FUSES);
    expect(ELECTRON_FUSES).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      onlyLoadAppFromAsar: true,
      enableEmbeddedAsarIntegrityValidation: true,
    });
    for (const p of ['media', 'notifications', 'geolocation', 'hid', 'serial', 'usb', 'clipboard-read', 'openExternal']) expect(permissionAllowed(p, 'app://beacon'), p).toBe(false);
    // the call panel, and only it, uses the headset and camera (issue 22)
    expect(permissionAllowed('media', 'app://beacon/index.html?role=calls')).toBe(true);
    expect(permissionAllowed('speaker-selection', 'app://beacon/index.html?role=calls')).toBe(true);
    for (const url of ['app://beacon/index.html?role=globe', 'app://beacon/index.html?role=wall', 'https://evil.example/?role=calls', 'app://other/index.html?role=calls', undefined, 'not a url'])
      expect(permissionAllowed('media', url), String(url)).toBe(false);
    for (const p of ['notifications', 'geolocation', 'hid', 'serial', 'usb', 'clipboard-read', 'openExternal', 'display-capture'])
      expect(permissionAllowed(p, 'app://beacon/index.html?role=calls'), p).toBe(false);
  });
});
