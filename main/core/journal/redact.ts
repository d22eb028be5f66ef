// What journal.read serves never carries a credential written into a URL: the password of
// `scheme://user:password@host`, and the values of query parameters that by their name hold a secret
// (`?token=…`, `&tk=…`, `?key=…`). The journal on disk keeps what was recorded (it is owner-only, see
// security.ts keepPrivate); a reader over the hub (a remote console, an audit script) sees `***`.
// Feeds and video sources configured now never journal them (trust/vault.ts splits them out); this
// covers what older halls recorded, and any other text.

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#"]+):[^\s@/?#"]+@/gi;
const SECRET_PARAM = /([?&](?:secret|token|access_token|auth|key|apikey|api_key|tk|password|passwd|pass|pwd|sig|signature)=)[^&#\s"]+/gi;

export function redactText(s: string): string {
  if (!s.includes('://') && !s.includes('=')) return s;
  return s.replace(USERINFO, '$1:***@').replace(SECRET_PARAM, '$1***');
}

/** A copy of a JSON value with every string redacted (the value itself is not changed). */
export function redact<T>(v: T): T {
  if (typeof v === 'string') return redactText(v) as T;
  if (Array.isArray(v)) return v.map(redact) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = redact(x);
    return out as T;
  }
  return v;
}
