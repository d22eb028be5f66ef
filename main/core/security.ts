// Security policy shared by the Electron shell and the serve-mode server: decided here, in plain
// Node, so tests reach every rule; the shell and the server only apply it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** Content Security Policy for every page Beacon serves. No inline script, no eval; WebAssembly
 *  compilation (Cesium's decoders) and blob workers are the only exceptions, both needed by the globe. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The origin the Electron shell serves the renderer from (a custom, privileged scheme). */
export const APP_ORIGIN = 'app://beacon';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The access token remote consoles present. Generated on first use, kept in the data directory
 *  readable by its owner only; not in the SQLite file, which is copied around for after-action review. */
export function accessToken(dataDir: string): string {
  const file = join(dataDir, 'access-token');
  if (existsSync(file)) {
    const t = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{32,}$/.test(t)) return t;
  }
  const t = randomBytes(24).toString('base64url');
  writeFileSync(file, t + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return t;
}

/** What Beacon itself writes into a data directory: the store with its WAL, the access token, and
 *  the tile folder (sources.json with tile keys, the caches). Nothing else there is touched: `--data`
 *  may point at a folder that holds other things too. */
const OURS = /^(beacon\.sqlite(-wal|-shm|-journal)?|access-token)$/;

/**
 * The data directory holds the directory with its phone numbers, the call log, tile keys and the
 * access token: owner only. The folder 0700, Beacon's files in it 0600 (and the tile folder and all
 * in it), corrected wherever a looser mode is found (a folder copied in with 0755, a file an older
 * Beacon or another tool wrote). Symbolic links are left alone. Returns how many modes it tightened.
 */
export function keepPrivate(dir: string): number {
  let fixed = 0;
  const tighten = (path: string, want: number) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink() || (st.mode & 0o777) === want) return;
    chmodSync(path, want);
    fixed++;
  };
  tighten(dir, 0o700);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isFile() && OURS.test(e.name)) tighten(p, 0o600);
    else if (e.isDirectory() && e.name === 'tiles') {
      tighten(p, 0o700);
      for (const t of readdirSync(p, { withFileTypes: true })) if (t.isFile()) tighten(join(p, t.name), 0o600);
    }
  }
  return fixed;
}

/** Browsers send Origin on WebSocket upgrades: accept our own pages only (same host:port, or the
 *  Electron app origin), so a web page in the operator's browser cannot drive the hall. Non-browser
 *  clients (scripts, the province) send no Origin and are judged by the token alone. */
export function originAllowed(origin: string | undefined, host: string | undefined, extra: readonly string[] = []): boolean {
  if (!origin) return true;
  if (origin === APP_ORIGIN || extra.includes(origin)) return true;
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === host;
  } catch {
    return false;
  }
}

/** Navigation inside a Beacon window: only our own pages, nothing else, ever. */
export function navigationAllowed(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'app:' && u.host === 'beacon';
  } catch {
    return false;
  }
}

/** An IPC message is trusted only from the main frame of one of our own pages. */
export function ipcSenderTrusted(frameUrl: string | undefined, isMainFrame: boolean): boolean {
  return isMainFrame && typeof frameUrl === 'string' && navigationAllowed(frameUrl);
}
