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

/** What Beacon itself writes into a data directory: the store with its WAL, the access token, the
 *  operators' PIN hashes, the consoles' token hashes, the credentials split out of URLs, and
 *  the tile folder (sources.json with tile keys, the caches). Nothing else there is touched: `--data`
 *  may point at a folder that holds other things too. */
const OURS = /^(beacon\.sqlite(-wal|-shm|-journal)?|access-token|operators\.json|consoles\.json|secrets\.json)$/;

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

/**
 * DNS rebinding: a web page whose name an attacker re-points at 127.0.0.1 reaches the hall from the
 * operator's own browser, as its own origin, with that name in the Host header. So the hall answers
 * only to names it is known by: any IP literal (a page at http://10.0.0.5:8600 is that address's
 * own origin, nothing rebinds to it), localhost, and the names configured (`--allow-host`).
 */
export function hostAllowed(hostHeader: string | undefined, names: readonly string[] = []): boolean {
  if (!hostHeader) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${hostHeader}`).hostname;
  } catch {
    return false;
  }
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(h) !== 0 || h === 'localhost') return true;
  return names.some((n) => n.toLowerCase() === h);
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

/** The Electron fuses the packaged app must have (electron-builder.yml, `electronFuses`). */
export const ELECTRON_FUSES = {
  runAsNode: false,
  enableCookieEncryption: true,
  enableNodeOptionsEnvironmentVariable: false,
  enableNodeCliInspectArguments: false,
  enableEmbeddedAsarIntegrityValidation: true,
  onlyLoadAppFromAsar: true,
  grantFileProtocolExtraPrivileges: false,
} as const;

/** What a Beacon window may ask the browser for. The call panel (\`?role=calls\` on our own origin)
 *  may use the officer's headset and camera ('media': the microphone and speaker for calls and
 *  consultations, the camera for video calls and the multi-picture) and choose the speaker
 *  ('speaker-selection'). Nothing else, and nothing for any other window: the devices are the main
 *  process's (the modem, the feeds), and video elsewhere only plays. */
export function permissionAllowed(permission: string, url: string | undefined): boolean {
  if (permission !== 'media' && permission !== 'speaker-selection') return false;
  try {
    const u = new URL(url ?? '');
    return u.protocol === 'app:' && u.host === 'beacon' && u.searchParams.get('role') === 'calls';
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
