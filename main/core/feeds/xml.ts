// A strict parser for the XML that Cursor-on-Target uses: a subset of XML 1.0, checked as strictly as
// a conforming parser would, and fast enough for 20,000 events a second on one core (saxes, a full
// conforming parser, spent a quarter of the hall's CPU at that rate).
//
// Accepted: an XML declaration (version 1.0/1.1, UTF-8), comments, elements with ASCII names,
// attributes in single or double quotes, character data, CDATA sections, the five predefined entities
// and character references. Refused: DOCTYPE and every other `<!` declaration (so no DTD, no external
// or internal entities: XXE and billion-laughs cannot start), processing instructions, undefined
// entities, unbalanced or mismatched tags, duplicate attributes, `<` in an attribute value, `]]>` in
// text, characters XML forbids, anything after the root element but whitespace and comments.
// Anything valid that falls outside the subset is refused too: refusing a rare valid event costs
// one position, accepting an invalid one could cost the hall. tests/unit/feeds-xml.test.ts checks
// every verdict against saxes on mutated input.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

export class XmlError extends Error {
  readonly reason: 'not_xml' | 'doctype';
  constructor(reason: 'not_xml' | 'doctype', message: string) {
    super(message);
    this.reason = reason;
  }
}

const FORBIDDEN = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const DECL = /^<\?xml[ \t\r\n]+version=(["'])1\.[01]\1([ \t\r\n]+encoding=(["'])utf-8\3)?([ \t\r\n]+standalone=(["'])(yes|no)\5)?[ \t\r\n]*\?>$/i;
const NEEDS_NORMALISING = /[\t\r\n]/;
const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));|&/g;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
const isNameStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 58;
const isNameChar = (c: number) => isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46;

function fail(message: string, reason: 'not_xml' | 'doctype' = 'not_xml'): never {
  throw new XmlError(reason, message);
}

function validChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Resolve entity and character references; a bare `&` or an unknown entity is an error. */
function unescape(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(ENTITY, (m, named: string | undefined, dec: string | undefined, hex: string | undefined) => {
    if (named) return PREDEFINED[named]!;
    if (dec || hex) {
      const cp = dec ? parseInt(dec, 10) : parseInt(hex!, 16);
      if (!validChar(cp)) fail(`character reference ${m} is not an XML character`);
      return String.fromCodePoint(cp);
    }
    return fail('a bare & or an entity that is not one of the five predefined (&amp; &lt; &gt; &quot; &apos;)');
  });
}

/**
 * Parse one document. `keepDepth` limits the tree that is built (deeper elements are checked but not
 * kept): CoT needs three levels (event, detail, detail's children).
 */
export function parseXml(text: string, keepDepth = 3): XmlElement {
  if (FORBIDDEN.test(text) || !text.isWellFormed()) fail('contains a character XML forbids');
  // One flat scanner over char codes (closures that move a shared index are slow in V8).
  const n = text.length;
  let i = 0;
  const space = (at: number): number => {
    while (at < n && isSpace(text.charCodeAt(at))) at++;
    return at;
  };
  const nameEnd = (at: number): number => {
    if (at >= n || !isNameStart(text.charCodeAt(at))) fail(`expected a name at ${at}`);
    at++;
    while (at < n && isNameChar(text.charCodeAt(at))) at++;
    return at;
  };
  const commentEnd = (at: number): number => {
    const end = text.indexOf('-->', at + 4);
    if (end < 0) fail('unterminated comment');
    const dd = text.indexOf('--', at + 4);
    if (dd < end || text.charCodeAt(end - 1) === 45) fail('"--" inside a comment');
    return end + 3;
  };
  /** Whitespace and comments (before and after the root). */
  const misc = (at: number): number => {
    for (;;) {
      at = space(at);
      if (text.startsWith('<!--', at)) at = commentEnd(at);
      else return at;
    }
  };

  if (text.startsWith('<?xml', 0)) {
    const end = text.indexOf('?>');
    if (end < 0) fail('unterminated XML declaration');
    if (!DECL.test(text.slice(0, end + 2))) fail('XML declaration is not version 1.0/1.1 in UTF-8');
    i = end + 2;
  }
  i = misc(i);
  if (text.startsWith('<!', i)) {
    if (/^<!DOCTYPE/i.test(text.slice(i, i + 9))) fail('DOCTYPE declarations are refused', 'doctype');
    fail('declaration refused');
  }
  if (text.charCodeAt(i) !== 60 || text[i + 1] === '?' || text[i + 1] === '/') fail(i >= n ? 'empty document' : `expected the root element at ${i}`);

  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (i < n) {
    if (stack.length === 0 && root) {
      i = misc(i);
      if (i < n) fail(`content after the root element at ${i}`);
      break;
    }
    if (text.charCodeAt(i) !== 60) {
      if (stack.length === 0) fail(`text outside the root element at ${i}`);
      let end = text.indexOf('<', i);
      if (end < 0) end = n;
      const chunk = text.slice(i, end);
      if (chunk.includes(']]>')) fail('"]]>" in character data');
      unescape(chunk);
      i = end;
      continue;
    }
    const c1 = text.charCodeAt(i + 1);
    if (c1 === 47 /* / */) {
      const start = i + 2;
      const e = nameEnd(start);
      const nm = text.slice(start, e);
      i = space(e);
      if (text.charCodeAt(i) !== 62) fail(`malformed end tag </${nm}`);
      i++;
      const open = stack.pop();
      if (!open || open.name !== nm) fail(`</${nm}> does not close <${open?.name ?? '(nothing)'}>`);
      continue;
    }
    if (c1 === 33 /* ! */) {
      if (text.startsWith('<!--', i)) {
        i = commentEnd(i);
        continue;
      }
      if (text.startsWith('<![CDATA[', i) && stack.length > 0) {
        const end = text.indexOf(']]>', i + 9);
        if (end < 0) fail('unterminated CDATA section');
        i = end + 3;
        continue;
      }
      if (/^<!DOCTYPE/i.test(text.slice(i, i + 9)) || text.startsWith('<!ENTITY', i)) fail('DOCTYPE or ENTITY declarations are refused', 'doctype');
      fail(`declaration refused at ${i}`);
    }
    if (c1 === 63 /* ? */) fail('processing instructions are refused');
    // A start tag.
    let e = nameEnd(i + 1);
    const el: XmlElement = { name: text.slice(i + 1, e), attrs: {}, children: [] };
    i = e;
    for (;;) {
      const before = i;
      i = space(i);
      const ch = text.charCodeAt(i);
      if (ch === 62 /* > */ || ch === 47 /* / */) break;
      if (i === before) fail(`expected whitespace before an attribute of <${el.name}> at ${i}`);
      e = nameEnd(i);
      const an = text.slice(i, e);
      i = space(e);
      if (text.charCodeAt(i) !== 61 /* = */) fail(`attribute ${an} of <${el.name}> has no value`);
      i = space(i + 1);
      const q = text.charCodeAt(i);
      if (q !== 34 && q !== 39) fail(`attribute ${an} of <${el.name}> is not quoted`);
      const close = text.indexOf(q === 34 ? '"' : "'", i + 1);
      if (close < 0) fail(`attribute ${an} of <${el.name}> is unterminated`);
      let v = text.slice(i + 1, close);
      if (v.includes('<')) fail(`attribute ${an} of <${el.name}> contains <`);
      i = close + 1;
      if (Object.hasOwn(el.attrs, an)) fail(`duplicate attribute ${an} on <${el.name}>`);
      // Attribute-value normalisation (XML 1.0 §3.3.3): literal tab and line ends read as spaces,
      // a CR LF pair as one (line ends are one LF before anything else is read, §2.11).
      if (NEEDS_NORMALISING.test(v)) v = v.replace(/\r\n?|[\t\n]/g, ' ');
      el.attrs[an] = unescape(v);
    }
    if (text.charCodeAt(i) === 47) {
      if (text.charCodeAt(i + 1) !== 62) fail(`malformed empty-element tag <${el.name}`);
      i += 2;
      if (stack.length === 0) root = el;
      else if (stack.length < keepDepth) stack[stack.length - 1]!.children.push(el);
      continue;
    }
    i++;
    if (stack.length === 0) root = el;
    else if (stack.length < keepDepth) stack[stack.length - 1]!.children.push(el);
    stack.push(el);
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) fail('no root element');
  return root;
}
