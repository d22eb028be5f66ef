// HTTP digest authentication as SIP uses it (RFC 3261 §22, RFC 2617, RFC 8760 for SHA-256).
import { createHash, randomBytes } from 'node:crypto';
import { splitList } from './message.ts';

export interface Challenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: 'MD5' | 'SHA-256';
  qop?: 'auth';
  stale: boolean;
}

/** Parse a WWW-Authenticate / Proxy-Authenticate value. Null for anything but a usable Digest. */
export function parseChallenge(value: string): Challenge | null {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return null;
  const p: Record<string, string> = {};
  for (const part of splitList(m[1]!)) {
    const kv = /^([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))$/.exec(part.trim());
    if (kv) p[kv[1]!.toLowerCase()] = kv[2] ?? kv[3]!;
  }
  if (!p.realm || !p.nonce) return null;
  const alg = (p.algorithm ?? 'MD5').toUpperCase();
  if (alg !== 'MD5' && alg !== 'SHA-256') return null;
  const qops = p.qop?.split(',').map((s) => s.trim().toLowerCase());
  if (qops && !qops.includes('auth')) return null; // auth-int only: we do not sign bodies
  return { realm: p.realm, nonce: p.nonce, opaque: p.opaque, algorithm: alg, qop: qops ? 'auth' : undefined, stale: p.stale?.toLowerCase() === 'true' };
}

/** The Authorization / Proxy-Authorization value answering `ch` for one request. */
export function authorize(ch: Challenge, o: { user: string; password: string; method: string; uri: string; nc: number; cnonce?: string }): string {
  const h = (s: string) =>
    createHash(ch.algorithm === 'MD5' ? 'md5' : 'sha256')
      .update(s)
      .digest('hex');
  const ha1 = h(`${o.user}:${ch.realm}:${o.password}`);
  const ha2 = h(`${o.method}:${o.uri}`);
  const nc = o.nc.toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? randomBytes(8).toString('hex');
  const response = ch.qop ? h(`${ha1}:${ch.nonce}:${nc}:${cnonce}:auth:${ha2}`) : h(`${ha1}:${ch.nonce}:${ha2}`);
  const parts = [`username="${o.user}"`, `realm="${ch.realm}"`, `nonce="${ch.nonce}"`, `uri="${o.uri}"`, `response="${response}"`, `algorithm=${ch.algorithm}`];
  if (ch.qop) parts.push(`qop=auth`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (ch.opaque !== undefined) parts.push(`opaque="${ch.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}
