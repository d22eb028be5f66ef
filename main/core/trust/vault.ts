// Credentials written into a URL (`mqtt://user:password@bus`, `https://gw/live.m3u8?token=…`) are
// split out when a feed or video source is configured and kept apart, in DATA/secrets.json (owner
// only, beside the store and never in it): the configuration that is journaled, served and copied for
// after-action review carries the URL without them, and the desk that connects puts them back.
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Query parameters that by their name hold a secret (as journal/redact.ts masks them). */
const SECRET_PARAM = /^(secret|token|access_token|auth|key|apikey|api_key|tk|password|passwd|pass|pwd|sig|signature)$/i;

interface Held {
  /** `user:password` (or `user` alone is not a secret, and stays in the URL). */
  userinfo?: string;
  query?: Record<string, string>;
}

export class Vault {
  private readonly file: string;
  private held: Record<string, Held>;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'secrets.json');
    this.held = {};
    try {
      const raw = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      if (raw && typeof raw === 'object' && !Array.isArray(raw)) this.held = raw as Record<string, Held>;
    } catch {
      /* absent or unreadable: nothing held (a URL without its credentials then fails to log in, and says so) */
    }
  }

  /** The URL without its credentials; what was taken is kept under `key` (replacing what was). */
  split(key: string, url: string): string {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return url;
    }
    const h: Held = {};
    if (u.password) {
      h.userinfo = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      u.password = '';
    }
    for (const name of [...u.searchParams.keys()]) {
      if (!SECRET_PARAM.test(name)) continue;
      (h.query ??= {})[name] = u.searchParams.get(name)!;
      u.searchParams.delete(name);
    }
    if (h.userinfo || h.query) this.held[key] = h;
    else delete this.held[key];
    this.save();
    // unchanged when nothing was taken: what the operator wrote stays as written
    return h.userinfo || h.query ? u.href : url;
  }

  /** The URL with what was split out of it under `key` put back (for the connection only). */
  join(key: string, url: string): string {
    const h = this.held[key];
    if (!h) return url;
    const u = new URL(url);
    if (h.userinfo) {
      const i = h.userinfo.indexOf(':');
      u.username = h.userinfo.slice(0, i);
      u.password = h.userinfo.slice(i + 1);
    }
    for (const [k, v] of Object.entries(h.query ?? {})) u.searchParams.set(k, v);
    return u.href;
  }

  forget(key: string): void {
    if (!(key in this.held)) return;
    delete this.held[key];
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.held, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}
