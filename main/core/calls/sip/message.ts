// SIP messages (RFC 3261 §7): parse and serialise, never throwing on what arrives from the wire.
// Anything we cannot make sense of comes back as an error string for the caller to count; a
// malformed response from the platform must not take the hall's switchboard down.

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: [string, string][];
  body: string;
}
export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: [string, string][];
  body: string;
}
export type SipMessage = SipRequest | SipResponse;

/** Largest message accepted. SIP over UDP must fit a datagram; 64 KiB bounds stream framing too. */
export const MAX_SIP_BYTES = 65_535;
const MAX_HEADERS = 120;
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  r: 'refer-to',
  o: 'event',
};
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

/** Header lookup: names are case-insensitive and may be compact (RFC 3261 §7.3.3). */
export function canonicalName(name: string): string {
  const n = name.trim().toLowerCase();
  return COMPACT[n] ?? n;
}

export function header(m: SipMessage, name: string): string | undefined {
  const n = canonicalName(name);
  return m.headers.find(([k]) => k === n)?.[1];
}

/** Every value of a header, comma-separated lists split (outside quotes and angle brackets). */
export function headerAll(m: SipMessage, name: string): string[] {
  const n = canonicalName(name);
  return m.headers.filter(([k]) => k === n).flatMap(([, v]) => splitList(v));
}

export function splitList(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === '"' && v[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === '<') depth++;
    else if (!quoted && c === '>') depth--;
    else if (!quoted && depth === 0 && c === ',') {
      out.push(v.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(v.slice(start).trim());
  return out.filter((s) => s.length > 0);
}

export type ParseResult = { ok: true; msg: SipMessage } | { ok: false; error: string };

/** Parse one whole message (a datagram, or a frame cut by {@link StreamFramer}). */
export function parseSip(raw: string): ParseResult {
  if (raw.length > MAX_SIP_BYTES) return { ok: false, error: `message of ${raw.length} bytes exceeds ${MAX_SIP_BYTES}` };
  let end = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  if (end < 0) {
    end = raw.indexOf('\n\n');
    sepLen = 2;
  }
  if (end < 0) return { ok: false, error: 'no end of headers' };
  const lines = raw.slice(0, end).split(/\r?\n/);
  let body = raw.slice(end + sepLen);
  const start = lines.shift()!.trim();
  const headers: [string, string][] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      // Folded continuation of the previous header (§7.3.1).
      if (!headers.length) return { ok: false, error: 'continuation line before any header' };
      headers[headers.length - 1]![1] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, error: `header line without a name: ${JSON.stringify(line.slice(0, 60))}` };
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) return { ok: false, error: `bad header name ${JSON.stringify(name.slice(0, 40))}` };
    headers.push([canonicalName(name), line.slice(colon + 1).trim()]);
    if (headers.length > MAX_HEADERS) return { ok: false, error: `more than ${MAX_HEADERS} headers` };
  }
  const clen = headers.find(([k]) => k === 'content-length')?.[1];
  if (clen !== undefined) {
    if (!/^\d{1,6}$/.test(clen)) return { ok: false, error: `bad Content-Length ${JSON.stringify(clen.slice(0, 20))}` };
    const n = Number(clen);
    if (Buffer.byteLength(body) < n) return { ok: false, error: `body shorter than Content-Length ${n}` };
    body = Buffer.from(body).subarray(0, n).toString();
  }
  for (const need of ['via', 'call-id', 'cseq', 'from', 'to']) {
    if (!headers.some(([k]) => k === need)) return { ok: false, error: `missing ${need} header` };
  }
  const cseq = headers.find(([k]) => k === 'cseq')![1];
  if (!/^\d{1,10}\s+[A-Za-z]+$/.test(cseq)) return { ok: false, error: `bad CSeq ${JSON.stringify(cseq.slice(0, 40))}` };
  const rs = /^SIP\/2\.0\s+(\d{3})(?:\s+(.*))?$/.exec(start);
  if (rs) {
    const status = Number(rs[1]);
    if (status < 100 || status > 699) return { ok: false, error: `status ${status} out of range` };
    return { ok: true, msg: { kind: 'response', status, reason: rs[2] ?? '', headers, body } };
  }
  const rq = /^([A-Za-z]+)\s+(\S+)\s+SIP\/2\.0$/.exec(start);
  if (rq) return { ok: true, msg: { kind: 'request', method: rq[1]!.toUpperCase(), uri: rq[2]!, headers, body } };
  return { ok: false, error: `not a SIP start line: ${JSON.stringify(start.slice(0, 60))}` };
}

/** Serialise, setting Content-Length from the body. */
export function serialize(m: SipMessage): string {
  const start = m.kind === 'request' ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason}`;
  const lines = [start];
  for (const [k, v] of m.headers) if (k !== 'content-length') lines.push(`${displayName(k)}: ${v}`);
  lines.push(`Content-Length: ${Buffer.byteLength(m.body)}`);
  return lines.join('\r\n') + '\r\n\r\n' + m.body;
}

const DISPLAY: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'record-route': 'Record-Route',
  'max-forwards': 'Max-Forwards',
  'user-agent': 'User-Agent',
};
function displayName(k: string): string {
  return DISPLAY[k] ?? k.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
}

/** `CSeq: 12 INVITE` -> {seq, method}. */
export function cseqOf(m: SipMessage): { seq: number; method: string } {
  const [n, method] = header(m, 'cseq')!.split(/\s+/);
  return { seq: Number(n), method: method!.toUpperCase() };
}

/** A parameter of a header value (`;tag=abc`, `;branch=z9hG4bK…`, `;expires=60`), outside the URI. */
export function param(value: string | undefined, name: string): string | undefined {
  if (!value) return undefined;
  const afterUri = value.includes('>') ? value.slice(value.lastIndexOf('>') + 1) : value;
  const m = new RegExp(`;\\s*${name}\\s*=\\s*("[^"]*"|[^;,\\s]+)`, 'i').exec(afterUri);
  return m ? m[1]!.replace(/^"|"$/g, '') : undefined;
}

/** The URI in a name-addr (`"Hall" <sip:hall@x>;tag=1` -> `sip:hall@x`) or an addr-spec. */
export function uriOf(value: string): string {
  const lt = value.indexOf('<');
  if (lt >= 0) return value.slice(lt + 1, value.indexOf('>', lt));
  return value.split(';')[0]!.trim();
}

/** Cuts messages out of a byte stream (TCP/TLS): CRLF keep-alives skipped, Content-Length required
 *  (RFC 3261 §18.3). A frame it cannot delimit makes the stream unusable: the caller closes it. */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): { messages: string[]; error?: string } {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const messages: string[] = [];
    for (;;) {
      let i = 0;
      while (i < this.buf.length && (this.buf[i] === 13 || this.buf[i] === 10)) i++;
      if (i) this.buf = this.buf.subarray(i);
      if (!this.buf.length) break;
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > MAX_SIP_BYTES) return { messages, error: 'no end of headers within 64 KiB' };
        break;
      }
      const head = this.buf.subarray(0, end).toString();
      const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d{1,6})[ \t]*$/im.exec(head);
      if (!m) return { messages, error: 'stream message without Content-Length' };
      const total = end + 4 + Number(m[1]);
      if (total > MAX_SIP_BYTES) return { messages, error: `message of ${total} bytes exceeds ${MAX_SIP_BYTES}` };
      if (this.buf.length < total) break;
      messages.push(this.buf.subarray(0, total).toString());
      this.buf = this.buf.subarray(total);
    }
    return { messages };
  }
}
