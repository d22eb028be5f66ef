// The XML that Cursor-on-Target uses, read by saxes (a conforming XML 1.0 parser, maintained and tested
// against the W3C conformance suite) into the small tree the CoT decoder walks. Until this was decided
// again (docs/architecture.md, "Hand-written or a library"), a hand-written subset parser did this:
// about 1.6 µs an event faster, on the feed worker's thread, which has the time, and one bug (a CR LF in
// an attribute read as two spaces) the tests had not caught.
//
// What XML allows and a CoT feed has no business sending is refused on top: a DOCTYPE (so no DTD, no
// external or internal entities: XXE and billion-laughs cannot start; saxes expands no entity of a DTD
// anyway), and an XML declaration naming an encoding other than UTF-8 (the bytes were read as UTF-8).

import { SaxesParser } from 'saxes';

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

const DECLARATION = /<!(?:DOCTYPE|ENTITY)/i;

/**
 * Parse one document. `keepDepth` limits the tree that is built (deeper elements are checked but not
 * kept): CoT needs three levels (event, detail, detail's children).
 */
export function parseXml(text: string, keepDepth = 3): XmlElement {
  // Refused before anything is read, wherever it stands: a DTD has no business in CoT.
  if (DECLARATION.test(text)) throw new XmlError('doctype', 'DOCTYPE or ENTITY declarations are refused');
  const p = new SaxesParser({ position: false });
  const stack: (XmlElement | null)[] = [];
  let root: XmlElement | null = null;
  let error: XmlError | null = null;
  const fail = (e: XmlError) => {
    error ??= e;
  };
  p.on('error', (e) => fail(new XmlError('not_xml', e.message)));
  p.on('doctype', () => fail(new XmlError('doctype', 'DOCTYPE declarations are refused')));
  p.on('xmldecl', (d) => {
    if (d.encoding !== undefined && !/^utf-8$/i.test(d.encoding)) fail(new XmlError('not_xml', `XML declaration names ${d.encoding.slice(0, 20)}, not UTF-8`));
  });
  p.on('opentag', (t) => {
    const parent = stack.length ? stack[stack.length - 1]! : undefined;
    const keep = stack.length < keepDepth && parent !== null;
    const el: XmlElement | null = keep ? { name: t.name, attrs: t.attributes as Record<string, string>, children: [] } : null;
    if (el) {
      if (parent) parent.children.push(el);
      else root = el;
    }
    if (!t.isSelfClosing) stack.push(el);
  });
  p.on('closetag', (t) => {
    if (!t.isSelfClosing) stack.pop();
  });
  try {
    // Line ends are one LF before anything else is read (XML 1.0 §2.11); saxes leaves a CR LF inside
    // an attribute value as two characters, which normalisation (§3.3.3) would make two spaces.
    p.write(text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text).close();
  } catch (e) {
    // saxes throws from write/close when an error handler did not; ours records the first one.
    fail(new XmlError('not_xml', (e as Error).message));
  }
  if (error) throw error;
  if (!root) throw new XmlError('not_xml', 'no root element');
  return root;
}
