import { TEAM_KINDS } from '../../common/domain.ts';
import { fixture, fixturePath, retime, tlogPackets } from '../helpers/fixtures.ts';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
// The live feeds' pure parts: CoT's XML (saxes, with our refusals on top), CoT,
// MAVLink, JSON and DJI decoding, the rules (backoff, presence, storage thinning), --feed, patches.
import { ardupilotmega, common, MavLinkProtocolV2, minimal, standard } from 'node-mavlink';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { applyPatch, diffPatch } from '../../common/ops.ts';
import { parseFeedFlag } from '../../main/core/feeds/config.ts';
import { CotFramer, CotParser, kindOfType, meshPayload } from '../../main/core/feeds/cot.ts';
import { decodeTakMessage, encodeTakMessage } from '../../main/core/feeds/takproto.ts';
import { decodeDatagram, flightMode, MavlinkDecoder } from '../../main/core/feeds/mavlink.ts';
import { decodePositionJson, DjiDecoder } from '../../main/core/feeds/mqtt-feeds.ts';
import { backoffMs, presenceAt, shouldStore } from '../../main/core/feeds/report.ts';
import { cotEvent } from '../../main/core/feeds/simulate.ts';
import { parseXml, XmlError } from '../../main/core/feeds/xml.ts';

const NOW = Date.UTC(2026, 10, 23, 8, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const tak = (o: { uid?: string; type?: string; time?: number; stale?: number; lat?: string; lon?: string; hae?: string; extra?: string } = {}) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><event version="2.0" uid="${o.uid ?? 'ANDROID-359975090666199'}" type="${o.type ?? 'a-f-G-U-C'}" how="m-g" time="${iso(o.time ?? NOW)}" start="${iso(o.time ?? NOW)}" stale="${iso(o.stale ?? NOW + 120_000)}"><point lat="${o.lat ?? '29.8683'}" lon="${o.lon ?? '121.5440'}" hae="${o.hae ?? '12.5'}" ce="9.9" le="9999999.0"/><detail><contact endpoint="*:-1:stcp" callsign="宁波消防-01"/><uid Droid="宁波消防-01"/><__group name="Cyan" role="Team Lead"/><status battery="76"/><track course="271.5" speed="3.2"/><precisionlocation altsrc="GPS" geopointsrc="GPS"/>${o.extra ?? ''}</detail></event>`;

function saxesAccepts(text: string): boolean {
  const p = new SaxesParser();
  let ok = true;
  p.on('error', () => {
    ok = false;
  });
  p.on('doctype', () => {
    ok = false; // refused by policy, whatever its validity
  });
  try {
    p.write(text).close();
  } catch {
    ok = false;
  }
  return ok;
}

function oursAccepts(text: string): boolean {
  try {
    parseXml(text);
    return true;
  } catch (e) {
    if (!(e instanceof XmlError)) throw e;
    return false;
  }
}

describe('CoT XML (saxes and our refusals)', () => {
  it('refuses DOCTYPE, XXE and billion laughs as doctype, before reading them', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE event [<!ENTITY x SYSTEM "file:///etc/passwd">]><event uid="a">&x;</event>`;
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><event>&lol2;</event>`;
    for (const t of [xxe, laughs, `<event><!ENTITY x "y"></event>`]) {
      expect(() => parseXml(t)).toThrowError(XmlError);
      try {
        parseXml(t);
      } catch (e) {
        expect((e as XmlError).reason).toBe('doctype');
      }
    }
    // An entity reference without a declaration is never expanded.
    expect(() => parseXml('<event a="&x;"/>')).toThrow(/undefined entity/);
  });

  it('normalises literal tab, CR and LF in attribute values to spaces, as XML 1.0 says, but not character references', () => {
    // What expat (Python's xml.etree) reads, as XML 1.0 §2.11 and §3.3.3 say: a CR LF pair is one line
    // end, so one space. (saxes 6 reads it as two.)
    expect(parseXml('<event a="x\ty\r\nz" c="p\rq" b="1&#10;2&#9;3&#13;"/>').attrs).toEqual({ a: 'x y z', c: 'p q', b: '1\n2\t3\r' });
  });

  it('reads attributes, predefined entities and character references like a conforming parser', () => {
    const root = parseXml(`<event uid="a&amp;b" q='&quot;x&#x4E2D;&#25991;'><point lat="1"/><detail><contact callsign="A&lt;B"/></detail></event>`);
    expect(root.attrs).toEqual({ uid: 'a&b', q: '"x中文' });
    expect(root.children[1]!.children[0]!.attrs.callsign).toBe('A<B');
  });

  it('refuses what XML refuses: mismatched and unclosed tags, duplicate attributes, bare &, text after the root', () => {
    for (const bad of [
      '<event>',
      '<event></detail>',
      '<event a="1" a="2"/>',
      '<event a="x & y"/>',
      '<event/><event/>',
      '<event a=1/>',
      '<event a="<"/>',
      '<event>]]></event>',
      '<event>\u0001</event>',
      'hello',
      '',
    ]) {
      expect(oursAccepts(bad), bad).toBe(false);
    }
  });

  it('never accepts what saxes refuses, on thousands of mutated events', () => {
    // Mutations with XML's significant characters: the tree builder and its refusals must never let
    // through what the parser under them refused.
    const base = tak();
    const alphabet = ['<', '>', '&', '"', "'", '/', '=', ' ', '!', '?', '-', ']', ';', '#', 'x', '\u0000', '\uD800', '&amp;', '<!--', '-->', '<![CDATA[', ']]>', '<!DOCTYPE a>', '&#0;', '&#x10FFFF;'];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let accepted = 0;
    let subsetOnly = 0;
    for (let k = 0; k < 4000; k++) {
      let t = base;
      const edits = 1 + rand(3);
      for (let e = 0; e < edits; e++) {
        const at = rand(t.length);
        const op = rand(3);
        const s = alphabet[rand(alphabet.length)]!;
        t = op === 0 ? t.slice(0, at) + s + t.slice(at) : op === 1 ? t.slice(0, at) + t.slice(at + 1 + rand(4)) : t.slice(0, at) + s + t.slice(at + s.length);
      }
      const ours = oursAccepts(t);
      const theirs = saxesAccepts(t);
      if (ours) {
        accepted++;
        expect(theirs, `ours accepted what saxes refuses: ${t}`).toBe(true);
      } else if (theirs) subsetOnly++;
    }
    expect(accepted).toBeGreaterThan(100); // the mutations are not all fatal: both paths are exercised
    expect(subsetOnly).toBeLessThan(accepted); // the subset refuses little that is valid
  });
});

describe('a real ArduSub telemetry log (tlog) through the MAVLink decoder (#19 points 3 and 4)', () => {
  it('an ArduSub in MANUAL (custom mode 19) reads MANUAL, not AVOID_ADSB; the ground station beside it is ignored; nothing refused', () => {
    const dec = new MavlinkDecoder();
    let refused = 0;
    const modes = new Set<string | null | undefined>();
    for (const pkt of tlogPackets('mavlink/mavlink_log-tlog_data_0.tlog')) {
      const r = decodeDatagram(pkt);
      refused += r.errors.length;
      const a = dec.apply(r.packets);
      refused += a.errors.length;
      for (const rep of a.reports) modes.add(rep.drone?.mode);
    }
    expect(refused).toBe(0);
    expect([...modes]).toEqual(['MANUAL']); // HEARTBEAT type 12 (submarine), autopilot 3 (ArduPilot), custom mode 19
  });
});

describe("DJI Cloud API: which aircraft are whose (#19 point 5; DJI's own examples)", () => {
  // DJI's documented examples (tests/fixtures/README.md), each moved to the hall's clock
  const at = (file: string, now: number, change: (j: Record<string, unknown> & { data: Record<string, unknown> }) => void = () => undefined) => {
    const j = JSON.parse(fixture(`dji/${file}`)) as Record<string, unknown> & { data: Record<string, unknown> };
    j.timestamp = now;
    change(j);
    return Buffer.from(JSON.stringify(j));
  };
  const AIRCRAFT = '1581F5BKD225D00BP891';
  it("gateway=dock_sn follows the dock's aircraft, named in the dock's OSD, on the aircraft's own topics", () => {
    const d = new DjiDecoder('dock_sn');
    const told: string[] = [];
    d.onAircraft = (sn) => told.push(sn);
    expect(d.topics()).toEqual(['thing/product/dock_sn/osd', 'thing/product/dock_sn/state', 'sys/product/dock_sn/status', 'thing/product/dock_sn/status']);
    // the dock's OSD: the dock itself is not drawn; its aircraft becomes known, and is subscribed to
    expect(d.decode('thing/product/dock_sn/osd', at('dock1-osd-dock.json', NOW), NOW)).toEqual({ ok: true, reports: [] });
    expect(told).toEqual([AIRCRAFT]);
    expect(d.topics()).toContain(`thing/product/${AIRCRAFT}/osd`);
    // the aircraft's OSD as documented has no fix: heard, not placed; with one (the same message, a position given) it is drawn
    const noFix = d.decode(`thing/product/${AIRCRAFT}/osd`, at('dock1-osd-aircraft.json', NOW), NOW);
    expect(noFix.ok && noFix.reports[0]).toMatchObject({ source: AIRCRAFT, kind: 'drone', battery: 90 });
    expect(noFix.ok && 'lat' in noFix.reports[0]!).toBe(false);
    const fixed = d.decode(
      `thing/product/${AIRCRAFT}/osd`,
      at('dock1-osd-aircraft.json', NOW, (j) => Object.assign(j.data, { latitude: 22.9079, longitude: 113.7035 })),
      NOW,
    );
    expect(fixed.ok && fixed.reports[0]).toMatchObject({ source: AIRCRAFT, lat: 22.9079, lon: 113.7035, heading: 41.7, battery: 90, drone: { mode: 'standby', armed: false } });
    // another gateway's aircraft, heard on a shared broker, is not this feed's
    const other = d.decode(
      'thing/product/OTHER123/osd',
      at('dock1-osd-aircraft.json', NOW, (j) => Object.assign(j, { gateway: 'other_dock' })),
      NOW,
    );
    expect(other).toEqual({ ok: true, reports: [], unused: true });
  });
  it("a remote controller (DJI Pilot 2) names its aircraft in update_topo on thing/…/status (DJI's RC Pro example)", () => {
    const d = new DjiDecoder('RC123');
    const told: string[] = [];
    d.onAircraft = (sn) => told.push(sn);
    expect(d.topics()).toContain('thing/product/RC123/status');
    expect(d.decode('thing/product/RC123/status', at('rc-pro-update-topo.json', NOW), NOW)).toEqual({ ok: true, reports: [] });
    expect(told).toEqual(['drone001']);
    expect(d.topics()).toContain('thing/product/drone001/osd');
  });
  it("update_topo (DJI's example) names a gateway's aircraft; the envelope's gateway does too", () => {
    const d = new DjiDecoder();
    expect(d.decode('sys/product/GW98/status', at('update-topo.json', NOW), NOW)).toEqual({ ok: true, reports: [] });
    const envelope = new DjiDecoder();
    envelope.decode(`thing/product/${AIRCRAFT}/osd`, at('dock1-osd-aircraft.json', NOW), NOW);
    expect({ topo: d.topology(), envelope: envelope.topology() }).toEqual({ topo: { drone001: 'GW98' }, envelope: { [AIRCRAFT]: 'dock_sn' } });
  });
});

describe('TAK Protocol version 1 (protobuf), beside XML', () => {
  const p = new CotParser();
  // a WinTAK-CIV 1.10 presence, and the same message as TAK Protocol bytes written by takproto with
  // Google's protobuf encoder (tests/fixtures/README.md); its own clock
  const AT = Date.parse('2020-02-08T18:10:50Z');
  const xml = fixture('takproto/takproto-wintak.xml');
  const mesh = readFileSync(fixturePath('takproto/takproto-wintak-mesh.bin'));
  const stream = readFileSync(fixturePath('takproto/takproto-wintak-stream.bin'));
  const fromXml = p.parse(xml, AT);
  it('a mesh datagram decodes to what its XML does: the same checks, the same report', () => {
    const m = meshPayload(mesh)!;
    expect(m.version).toBe(1);
    const d = p.parse(xml, AT);
    const t = p.parseTak(m.payload, AT);
    expect(d.ok && t.ok).toBe(true);
    expect(t).toEqual(fromXml);
    expect(t.ok && t.reports[0]).toMatchObject({
      source: 'aa0b0312-b5cd-4c2c-bbbc-9c4c70216261',
      kind: 'vehicle',
      callsign: 'Eliopoli HQ',
      group: 'Yellow',
      lat: 43.97957317,
      lon: -66.07737696,
      alt: 26.767999,
      battery: 100,
      ce: null,
    });
    // what takproto itself asserts of these bytes
    expect(decodeTakMessage(m.payload).cotEvent).toMatchObject({ type: 'a-f-G-E-V-C', detail: { xmlDetail: '<uid Droid="Eliopoli HQ" /><another test="1" />', contact: { callsign: 'Eliopoli HQ' } } });
  });
  it('a stream of TAK messages and XML events, cut anywhere, gives each message once', () => {
    const f = new CotFramer();
    const all = Buffer.concat([stream, Buffer.from(xml), stream]);
    const got: (string | Uint8Array)[] = [];
    for (let at = 0; at < all.length; at += 7) got.push(...f.push(all.subarray(at, at + 7)).events);
    expect(got.map((e) => (typeof e === 'string' ? 'xml' : 'tak'))).toEqual(['tak', 'xml', 'tak']);
    for (const e of got) expect(typeof e === 'string' ? p.parse(e, AT) : p.parseTak(e, AT)).toEqual(fromXml);
    expect(f.pending).toBe(0);
  });
  it('refuses what is not a TAK message, with its reason, and the same checks as XML', () => {
    const payload = meshPayload(mesh)!.payload;
    const reason = (d: ReturnType<CotParser['parse']>) => (d.ok ? 'ok' : d.reason);
    expect(reason(p.parseTak(payload.subarray(0, 100), AT))).toBe('bad_protobuf');
    expect(reason(p.parseTak(payload, AT + 2 * 86_400_000))).toBe('bad_time'); // two days old
    const msg = decodeTakMessage(payload);
    const withDetail = (xmlDetail: string) => p.parseTak(encodeTakMessage({ cotEvent: { ...msg.cotEvent, detail: { ...msg.cotEvent!.detail, xmlDetail } } }), AT);
    expect(reason(withDetail('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'))).toBe('doctype');
    expect(reason(withDetail('<unclosed>'))).toBe('not_xml');
    expect(reason(p.parseTak(encodeTakMessage({ cotEvent: { ...msg.cotEvent, lat: 91 } }), AT))).toBe('bad_coordinates');
    // TakControl alone is understood, not used
    expect(p.parseTak(encodeTakMessage({ takControl: { minProtoVersion: 1, maxProtoVersion: 1 } }), AT)).toEqual({ ok: true, reports: [], unused: true });
    // a header announcing more than an event may hold ends the stream
    expect(new CotFramer().push(Buffer.from([0xbf, 0xff, 0xff, 0xff, 0x7f])).overflow).toBe(true);
    expect(meshPayload(Buffer.from([0xbf, 0x02, 0xbf, 0x12]))!.version).toBe(2);
  });
  it('an alert in TAK Protocol (its link and emergency in xmlDetail) raises as the XML one does', () => {
    const xml911 = retime(fixture('cot/ftstest-911-alert-b-a-o-tbl.xml'), NOW);
    const a = p.parse(xml911, NOW);
    const t = Date.parse(/time="([^"]+)"/.exec(xml911)![1]!);
    const tak = encodeTakMessage({
      cotEvent: {
        type: 'b-a-o-tbl',
        uid: '19027480992-9-1-1',
        how: 'h-e',
        sendTime: t,
        startTime: t,
        staleTime: t + 10_000,
        lat: 43.84456191618114,
        lon: -66.11718428195833,
        hae: -21.285268407416115,
        ce: 9999999,
        le: 9999999,
        detail: { xmlDetail: '<emergency type="911 Alert"/><link relation="p-p" type="a-f-G-U-C" uid="ANDROID-351811095448994"/>', contact: { callsign: 'corvo-Alert' } },
      },
    });
    expect(p.parseTak(tak, NOW)).toEqual(a);
  });
});

describe('CoT events', () => {
  const p = new CotParser();
  it("emergencies from ATAK's own files raise and cancel alerts: 911, Ring The Bell, In Contact, a WearOS manual alert (#19 point 2)", () => {
    const at = (f: string) => {
      const d = p.parse(retime(fixture(`cot/${f}`), NOW), NOW);
      if (!d.ok) throw new Error(`${f}: ${d.reason} ${d.message}`);
      expect(d.reports).toEqual([]); // an alert is not a unit
      return d.alert;
    };
    const sender = { source: '19027480992-9-1-1', sender: 'ANDROID-351811095448994', callsign: 'corvo', lat: 43.84456191618114, lon: -66.11718428195833 };
    expect(at('ftstest-911-alert-b-a-o-tbl.xml')).toEqual({ ...sender, cancel: false, type: 'b-a-o-tbl', label: '911 Alert' });
    expect(at('ftstest-ring-the-bell-b-a-o-pan.xml')).toMatchObject({ ...sender, cancel: false, label: 'Ring The Bell' });
    expect(at('ftstest-in-contact-b-a-o-opn.xml')).toMatchObject({ ...sender, cancel: false, label: 'In Contact' });
    expect(at('node-cot-wearos-b-a-o.xml')).toMatchObject({ cancel: false, label: 'Manual Alert: Gunshot', callsign: 'SP-Dev', sender: 'WEAROS_dce34c83708172e9', lat: 41.8838397 });
    expect(at('fts-emergency-b-a-o-tbl.xml')).toMatchObject({ cancel: false, label: '911 Alert', sender: 'ANDROID-589520ccfcd20f01', callsign: 'U.16.135057' });
    // ATAK's cancel: the alert's own uid, no callsign; the file holds it twice, as a TCP stream would
    const framed = new CotFramer().push(retime(fixture('cot/ftstest-cancel-b-a-o-can.xml'), NOW)).events;
    expect(framed).toHaveLength(2);
    for (const ev of framed) {
      const d = p.parse(ev as string, NOW);
      expect(d.ok && d.alert).toMatchObject({ source: '19027480992-9-1-1', cancel: true, type: 'b-a-o-can', sender: null });
    }
  });
  it("chat and routes are understood and not used; ATAK's first presence at (0, 0) is heard, not placed; a broken WinTAK file is refused", () => {
    for (const f of ['ftstest-chat.xml', 'ftstest-route.xml']) {
      const d = p.parse(retime(fixture(`cot/${f}`), NOW), NOW);
      expect(d, f).toEqual({ ok: true, reports: [], unused: true });
    }
    const presence = p.parse(retime(fixture('cot/ftstest-presence-atak-no-fix.xml'), NOW), NOW, 'fire-rescue');
    expect(presence.ok && presence.reports[0]).toMatchObject({ source: 'ANDROID-351811095448994', kind: 'fire-rescue', callsign: 'corvo', group: 'Yellow', heading: expect.closeTo(292.4544485, 6) });
    expect(presence.ok && 'lat' in presence.reports[0]!).toBe(false);
    // its <event version="2.0"> closes before its attributes: no uid, refused with the reason
    const wintak = p.parse(fixture('cot/ftstest-presence-wintak-malformed.xml'), NOW);
    expect(wintak.ok ? 'accepted' : wintak.reason).toBe('bad_uid');
  });
  it("a marker an ATAK user dropped is a marker of its affiliation, never a team (#19 point 1; FreeTakServer's fixture)", () => {
    const real = readFileSync(fileURLToPath(new URL('../fixtures/cot/fts-marker-a-u-G.xml', import.meta.url)), 'utf8');
    // its own time (2020), so the parser's clock is put there
    const at = Date.parse('2020-12-16T20:00:00Z');
    const d = p.parse(real, at, 'fire-rescue');
    expect(d.ok && d.reports[0]).toMatchObject({ source: 'a0c524c6-0422-4382-9981-e39d1dc71730', kind: 'marker-unknown', callsign: 'U.16.135057', lat: 38.856650047254725 });
    // the same message as hostile, suspect and neutral pins: the affiliation letter decides
    const as = (type: string) => {
      const r = p.parse(real.replace('type="a-u-G"', `type="${type}"`), at, 'fire-rescue');
      return r.ok ? r.reports[0]!.kind : null;
    };
    expect(as('a-h-G')).toBe('marker-hostile');
    expect(as('a-s-G-U-C')).toBe('marker-hostile');
    expect(as('a-n-G')).toBe('marker-neutral');
    expect(as('a-p-G')).toBe('marker-unknown');
    expect(as('a-f-G-U-C')).toBe('fire-rescue'); // a friend is the feed's team kind
    expect(as('a-f-A')).toBe('aviation');
    expect(TEAM_KINDS as readonly string[]).not.toContain('marker-hostile'); // the board counts forces only
  });
  it('a device at (0, 0) has no fix yet: heard, not placed; a signed course is normalised (#19 point 8)', () => {
    const noFix = p.parse(tak({ lat: '0.0', lon: '0.0' }), NOW);
    expect(noFix.ok && noFix.reports[0]).toMatchObject({ source: 'ANDROID-359975090666199', alt: null });
    expect(noFix.ok && 'lat' in noFix.reports[0]!).toBe(false);
    const west = p.parse(tak().replace('course="271.5"', 'course="-90"'), NOW);
    expect(west.ok && west.reports[0]!.heading).toBe(270);
    const over = p.parse(tak().replace('course="271.5"', 'course="450"'), NOW);
    expect(over.ok && over.reports[0]!.heading).toBe(90);
  });
  it('reads what ATAK sends: uid, position, callsign, group, course/speed, battery, stale', () => {
    const d = p.parse(tak(), NOW);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.reports).toHaveLength(1);
    expect(d.reports[0]).toMatchObject({
      source: 'ANDROID-359975090666199',
      kind: 'professional',
      lat: 29.8683,
      lon: 121.544,
      alt: 12.5,
      ce: 9.9,
      heading: 271.5,
      speed: 3.2,
      callsign: '宁波消防-01',
      group: 'Cyan',
      battery: 76,
      staleAt: NOW + 120_000,
    });
  });
  it('reads fractions of a second to the millisecond, whatever their number of digits', () => {
    const at = (frac: string) => `2026-11-23T08:00:00${frac}Z`;
    const staleIn = (time: string, stale: string) => {
      const d = p.parse(
        tak()
          .replace(/time="[^"]+"/, `time="${time}"`)
          .replace(/start="[^"]+"/, `start="${time}"`)
          .replace(/stale="[^"]+"/, `stale="${stale}"`),
        NOW,
      );
      return d.ok ? (d.reports[0]!.staleAt ?? 0) - NOW : d.reason;
    };
    expect(staleIn(at('.5'), '2026-11-23T08:02:00Z')).toBe(119_500);
    expect(staleIn(at('.25'), '2026-11-23T08:02:00.125Z')).toBe(119_875);
    expect(staleIn(at(''), '2026-11-23T08:02:00.123456789Z')).toBe(120_123);
    expect(staleIn(at('.1234567891'), '2026-11-23T08:02:00Z')).toBe('bad_time'); // more than nanoseconds
  });
  it('maps CoT types: air tracks are aviation, ground vehicles vehicles, the rest the feed team kind', () => {
    expect(kindOfType('a-f-A-M-H', 'fire-rescue')).toBe('aviation');
    expect(kindOfType('a-f-G-E-V-C', 'fire-rescue')).toBe('vehicle');
    expect(kindOfType('a-f-G-U-C', 'fire-rescue')).toBe('fire-rescue');
  });
  it('keeps a ping (t-x-c-t) as a sign of life with no position', () => {
    const d = p.parse(tak({ type: 't-x-c-t' }), NOW);
    expect(d).toEqual({ ok: true, reports: [], unused: true });
  });
  it('refuses impossible coordinates and times, each with its reason', () => {
    const reason = (t: string) => {
      const d = p.parse(t, NOW);
      return d.ok ? 'ok' : d.reason;
    };
    expect(reason(tak({ lat: '91' }))).toBe('bad_coordinates');
    expect(reason(tak({ lon: 'east' }))).toBe('bad_coordinates');
    expect(reason(tak({ hae: '90000' }))).toBe('bad_coordinates');
    expect(reason(tak({ time: NOW + 3600_000, stale: NOW + 7200_000 }))).toBe('bad_time');
    expect(reason(tak({ time: NOW - 3 * 86400_000, stale: NOW - 3 * 86400_000 + 60_000 }))).toBe('bad_time');
    expect(reason(tak({ stale: NOW - 1000 }))).toBe('bad_time'); // stale before start
    expect(reason(tak().replace(/time="[^"]+"/, 'time="2026-02-30T08:00:00Z"'))).toBe('bad_time');
    // a date that does not exist is refused even where its roll-over would be a fine time: 29 February
    // 2027 would be read as 1 March, the hall's day
    const march = Date.UTC(2027, 2, 1, 8, 0, 0);
    const leapless = tak({ time: march, stale: march + 60_000 }).replace(/(time|start)="2027-03-01T/g, '$1="2027-02-29T');
    expect(p.parse(leapless, march)).toMatchObject({ ok: false, reason: 'bad_time' });
    expect(p.parse(tak({ time: march, stale: march + 60_000 }), march).ok).toBe(true);
    expect(reason(tak().replace(/<point[^>]+\/>/, ''))).toBe('no_point');
    expect(reason('{"lat": 1}')).toBe('not_xml');
    expect(reason('<message/>')).toBe('not_event');
    expect(reason(tak({ extra: `<remarks>${'x'.repeat(300_000)}</remarks>` }))).toBe('too_large');
  });
  it('frames a TCP stream of events with no delimiter, and gives up on one that never ends', () => {
    const f = new CotFramer(4096);
    const a = tak({ uid: 'A' });
    const b = tak({ uid: 'B' });
    const stream = a + '\n' + b;
    const first = f.push(stream.slice(0, 700));
    const second = f.push(stream.slice(700));
    expect([...first.events, ...second.events].map((e) => p.parse(e as string, NOW)).map((d) => d.ok && d.reports[0]!.source)).toEqual(['A', 'B']);
    expect(f.push('<event uid="x">' + 'y'.repeat(5000)).overflow).toBe(true);
    expect(f.pending).toBe(0);
  });
  it('parses what beacon simulate sends', () => {
    const d = p.parse(cotEvent('SIM-1', '救援1', { lat: 30.1234567, lon: 120.7654321, alt: 8, heading: 45, speed: 11.2 }, NOW), NOW);
    expect(d.ok && d.reports[0]).toMatchObject({ lat: 30.1234567, lon: 120.7654321, heading: 45, speed: 11.2, callsign: '救援1' });
  });
});

describe('MAVLink', () => {
  const v2 = new MavLinkProtocolV2(7, 1);
  const heartbeat = (customMode = 3, armed = true) => {
    const hb = new minimal.Heartbeat();
    hb.type = minimal.MavType.QUADROTOR;
    hb.autopilot = minimal.MavAutopilot.ARDUPILOTMEGA;
    hb.baseMode = (armed ? 128 : 0) | 1;
    hb.customMode = customMode;
    hb.systemStatus = minimal.MavState.ACTIVE;
    hb.mavlinkVersion = 3;
    return v2.serialize(hb, 1);
  };
  const position = (lat = 29.8683, lon = 121.544) => {
    const g = new common.GlobalPositionInt();
    g.lat = Math.round(lat * 1e7);
    g.lon = Math.round(lon * 1e7);
    g.alt = 120_500;
    g.relativeAlt = 100_000;
    g.vx = 300;
    g.vy = 400;
    g.vz = -100;
    g.hdg = 9000;
    return v2.serialize(g, 2);
  };
  const status = () => {
    const s = new common.SysStatus();
    s.batteryRemaining = 64;
    return v2.serialize(s, 3);
  };

  it('decodes a datagram of packets, checking each CRC', () => {
    const r = decodeDatagram(Buffer.concat([heartbeat(), status(), position()]));
    expect(r.errors).toEqual([]);
    expect(r.packets.map((p) => [p.sysid, p.msgid])).toEqual([
      [7, 0],
      [7, 1],
      [7, 33],
    ]);
  });
  it('turns heartbeat, status and position into one drone: mode, armed, battery, heading, speed, climb', () => {
    const d = new MavlinkDecoder();
    const { reports } = d.apply(decodeDatagram(Buffer.concat([heartbeat(), status(), position()])).packets);
    expect(reports.at(-1)).toMatchObject({
      source: '7',
      kind: 'drone',
      lat: 29.8683,
      lon: 121.544,
      alt: 120.5,
      heading: 90,
      speed: 5,
      battery: 64,
      drone: { mode: 'AUTO', armed: true, relAlt: 100, climb: 1 },
    });
  });
  it('names PX4 modes from main and sub mode (px4_custom_mode.h)', () => {
    expect(flightMode(12, 1, (4 << 16) | (4 << 24))).toBe('AUTO.MISSION');
    expect(flightMode(12, 1, (4 << 16) | (10 << 24))).toBe('AUTO.VTOL_TAKEOFF');
    expect(flightMode(12, 1, 3 << 16)).toBe('POSCTL');
    expect(flightMode(12, 1, 9 << 16)).toBe('SIMPLE');
    expect(flightMode(3, 0, 5)).toBeNull(); // custom mode not enabled
  });
  it("names ArduPilot modes by the firmware the HEARTBEAT's vehicle type runs (#19 point 3)", () => {
    // The numbers are ArduPilot's own (ArduPlane/mode.h, ArduSub/mode.h, Rover/mode.h,
    // ArduCopter/mode.h; the names their ardupilotmega.xml gives): the same 19 is three modes.
    const AP = 3;
    const CUSTOM = 1;
    expect(flightMode(AP, CUSTOM, 19, 2)).toBe('AVOID_ADSB'); // a quadrotor: ArduCopter
    expect(flightMode(AP, CUSTOM, 19, 20)).toBe('QLOITER'); // MAV_TYPE_VTOL_QUADROTOR: a QuadPlane
    expect(flightMode(AP, CUSTOM, 1, 1)).toBe('CIRCLE'); // a fixed wing: ArduPlane (Copter's 1 is ACRO)
    expect(flightMode(AP, CUSTOM, 19, 12)).toBe('MANUAL'); // ArduSub
    expect(flightMode(AP, CUSTOM, 4, 10)).toBe('HOLD'); // Rover
    expect(flightMode(AP, CUSTOM, 15, 11)).toBe('GUIDED'); // a boat runs Rover
    expect(flightMode(AP, CUSTOM, 6, 4)).toBe('RTL'); // a helicopter runs ArduCopter
    expect(flightMode(AP, CUSTOM, 10, 5)).toBe('AUTO'); // an antenna tracker
    expect(flightMode(AP, CUSTOM, 250, 1)).toBe('MODE 250');
  });
  it('passes over what an ArduPilot link carries and we do not use: its dialect and AUTOPILOT_VERSION are traffic, not refusals (#19 point 4)', () => {
    const ap = new MavLinkProtocolV2(1, 1);
    const version = new standard.AutopilotVersion();
    version.capabilities = 0n as unknown as typeof version.capabilities; // a 64-bit field
    version.uid = 0n;
    const meminfo = new ardupilotmega.REGISTRY[152]!(); // MEMINFO, ArduPilot's dialect
    const ekf = new ardupilotmega.REGISTRY[193]!(); // EKF_STATUS_REPORT
    const r = decodeDatagram(Buffer.concat([ap.serialize(version, 1), ap.serialize(meminfo, 2), ap.serialize(ekf, 3), position()]));
    expect(r.errors).toEqual([]);
    expect(r.packets.map((p) => p.msgid)).toEqual([148, 152, 193, 33]);
    expect(new MavlinkDecoder().apply(r.packets).errors).toEqual([]);
  });
  it('counts a bad CRC, a truncated packet, junk and an unknown message, and still reads the good packet after them', () => {
    const bad = Buffer.from(position());
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    const truncated = position().subarray(0, 20);
    const unknown = Buffer.from(heartbeat());
    unknown[7] = 0xee; // message id 0xee0000-ish: not in any dialect we decode
    const r1 = decodeDatagram(Buffer.concat([Buffer.from('garbage!'), bad, heartbeat()]));
    expect(r1.packets.map((p) => p.msgid)).toEqual([0]);
    // one bad datagram is one refusal (#19 point 4): the first reason, the rest in its message
    expect(r1.errors).toEqual([{ reason: 'bad_crc', message: expect.stringMatching(/and 1 more in the same datagram/) }]);
    expect(decodeDatagram(truncated).errors[0]!.reason).toBe('truncated');
    expect(decodeDatagram(unknown).errors[0]!.reason).toBe('unknown_message');
  });
  it('refuses impossible coordinates and ignores "no fix" (0, 0)', () => {
    const d = new MavlinkDecoder();
    const g = new common.GlobalPositionInt();
    g.lat = 950_000_000;
    g.lon = 10;
    const r = d.apply(decodeDatagram(v2.serialize(g, 1)).packets);
    expect(r.errors[0]!.reason).toBe('bad_coordinates');
    expect(d.apply(decodeDatagram(position(0, 0)).packets).reports).toEqual([]);
  });
});

describe('JSON positions and DJI Cloud API over MQTT', () => {
  const buf = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  it('reads a report, or a batch, with the device id from the topic when absent', () => {
    const d = decodePositionJson('beacon/positions/bd-100001', buf({ lat: 30.1, lon: 120.2, time: NOW - 5000, speed: 1.5, battery: 55, name: '北斗终端1' }), NOW, 'social');
    expect(d.ok && d.reports[0]).toMatchObject({ source: 'bd-100001', kind: 'social', lat: 30.1, lon: 120.2, speed: 1.5, battery: 55 });
    const b = decodePositionJson(
      'x',
      buf([
        { id: 'a', lat: 1, lon: 2, time: iso(NOW) },
        { id: 'b', lat: 3, lon: 4, time: NOW },
      ]),
      NOW,
    );
    expect(b.ok && b.reports.map((r) => r.source)).toEqual(['a', 'b']);
  });
  it('refuses what is not JSON, wrong types, impossible values and times', () => {
    const reason = (p: Buffer) => {
      const d = decodePositionJson('beacon/positions/x', p, NOW);
      return d.ok ? 'ok' : d.reason;
    };
    expect(reason(buf('{lat: 1'))).toBe('not_json');
    expect(reason(buf({ lat: '30', lon: 120, time: NOW }))).toBe('bad_payload');
    expect(reason(buf({ lat: 30, lon: 200, time: NOW }))).toBe('bad_payload');
    expect(reason(buf({ lat: 30, lon: 120, time: NOW + 86400_000 }))).toBe('bad_time');
    expect(reason(Buffer.alloc(70_000, 32))).toBe('too_large');
  });
  it('learns the aircraft from update_topo and reads its OSD; a dock OSD is not a drone', () => {
    const dji = new DjiDecoder();
    const topo = dji.decode(
      'sys/product/DOCK-1/status',
      buf({ tid: 't', bid: 'b', timestamp: NOW, method: 'update_topo', data: { domain: '3', sub_devices: [{ sn: '1581F5BK', domain: '0' }] } }),
      NOW,
    );
    expect(topo).toEqual({ ok: true, reports: [] });
    const dock = dji.decode('thing/product/DOCK-1/osd', buf({ timestamp: NOW, data: { latitude: 30, longitude: 120, mode_code: 0 } }), NOW);
    expect(dock).toEqual({ ok: true, reports: [] });
    const osd = dji.decode(
      'thing/product/1581F5BK/osd',
      buf({
        timestamp: NOW,
        data: { latitude: 30.2, longitude: 120.1, height: 150.2, elevation: 98.5, attitude_head: -90, horizontal_speed: 12, vertical_speed: 0.5, mode_code: 5, battery: { capacity_percent: 81 } },
      }),
      NOW,
    );
    expect(osd.ok && osd.reports[0]).toMatchObject({
      source: '1581F5BK',
      kind: 'drone',
      lat: 30.2,
      lon: 120.1,
      alt: 150.2,
      heading: 270,
      speed: 12,
      battery: 81,
      drone: { mode: 'wayline flight', armed: true, relAlt: 98.5 },
    });
    const bad = dji.decode('thing/product/1581F5BK/osd', buf({ timestamp: NOW, data: { latitude: 'north' } }), NOW);
    expect(!bad.ok && bad.reason).toBe('bad_payload');
  });
});

describe('rules', () => {
  it('backs off exponentially with jitter, never at once, capped', () => {
    const lo = [1, 2, 3, 4, 5, 6, 10].map((n) => backoffMs(n, () => 0));
    const hi = [1, 2, 3, 4, 5, 6, 10].map((n) => backoffMs(n, () => 0.999));
    expect(lo).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000]);
    expect(hi.every((h, i) => h > lo[i]! && h <= Math.min(30_000, 1000 * 2 ** i))).toBe(true);
  });
  it('says live, stale, lost by the clock', () => {
    expect([0, 5, 10, 31].map((s) => presenceAt(NOW + s * 1000, NOW + 5000, NOW + 30_000))).toEqual(['live', 'stale', 'stale', 'lost']);
  });
  it('thins storage: not within 5 s, after 5 s only when moved 25 m, always after 60 s', () => {
    const last = { lat: 30, lon: 120, at: NOW };
    expect(shouldStore(undefined, 30, 120, NOW)).toBe(true);
    expect(shouldStore(last, 30.01, 120, NOW + 2000)).toBe(false);
    expect(shouldStore(last, 30.0001, 120, NOW + 6000)).toBe(false); // 11 m
    expect(shouldStore(last, 30.0003, 120, NOW + 6000)).toBe(true); // 33 m
    expect(shouldStore(last, 30, 120, NOW + 60_000)).toBe(true);
  });
  it('reads --feed, with defaults, and refuses a password on the command line', () => {
    // no host: it listens where the hub does (serve --host), loopback unless told otherwise (#18, point 5)
    expect(parseFeedFlag('mavlink-udp')).toEqual({ kind: 'mavlink-udp', id: 'mavlink-udp', port: 14550 });
    expect(parseFeedFlag('mavlink-udp:host=0.0.0.0,allowFrom=10.33.0.0/16;10.34.1.7,signingKeyEnv=BEACON_MAV_KEY')).toMatchObject({
      host: '0.0.0.0',
      allowFrom: ['10.33.0.0/16', '10.34.1.7'],
      signingKeyEnv: 'BEACON_MAV_KEY',
    });
    expect(() => parseFeedFlag('cot-udp:allowFrom=everyone')).toThrow(/allowFrom.*IP address or CIDR/);
    expect(() => parseFeedFlag('mavlink-udp:signingKeyEnv=secret')).toThrow(/signingKeyEnv/);
    expect(parseFeedFlag('cot-tcp:port=9000,teamKind=fire-rescue,id=teams')).toMatchObject({ kind: 'cot-tcp', id: 'teams', port: 9000, teamKind: 'fire-rescue' });
    expect(parseFeedFlag('mqtt-json:url=mqtt://10.1.1.5:1883,topic=beidou/#')).toMatchObject({ url: 'mqtt://10.1.1.5:1883', topic: 'beidou/#' });
    expect(() => parseFeedFlag('mqtt-json:url=mqtt://h:1883,password=secret')).toThrow(/passwordEnv/);
    expect(() => parseFeedFlag('cot-tcp:port=99999')).toThrow(/port/);
    expect(() => parseFeedFlag('kafka')).toThrow(/start with one of/);
    expect(() => parseFeedFlag('cot-tcp:colour=red')).toThrow();
  });
});

describe('patch ops', () => {
  const unit = { id: 'u', lat: 30, lon: 120, name: { zh: '甲', en: 'A' }, track: { seen: 1, heading: 10, presence: 'live' } };
  it('says only what changed, one level deep, and applies back to the same entity', () => {
    const next = { ...unit, lat: 30.1, track: { ...unit.track, seen: 2 } };
    const set = diffPatch(unit, next)!;
    expect(set).toEqual({ lat: 30.1, 'track.seen': 2 });
    expect(applyPatch(unit, set)).toEqual(next);
    expect(unit.track.seen).toBe(1); // copy on write
  });
  it('never says a key holding a dot as a path: such an entity goes whole, and applying gives it back', () => {
    const roundTrip = (prev: Record<string, unknown>, next: Record<string, unknown>) => {
      const set = diffPatch(prev, next);
      return set === null ? next : applyPatch(prev, set);
    };
    const dotted = { id: 'u', 'a.b': 1, track: { 'x.y': 1, seen: 1 } };
    expect(diffPatch(dotted, { ...dotted, 'a.b': 2 })).toBeNull();
    expect(roundTrip(dotted, { ...dotted, 'a.b': 2 })).toEqual({ ...dotted, 'a.b': 2 });
    // one level down: the nested object is sent whole, not as track.x.y
    const inner = { id: 'u', track: { 'x.y': 1, seen: 1 } };
    const next = { ...inner, track: { 'x.y': 2, seen: 2 } };
    expect(diffPatch(inner, next)).toEqual({ track: next.track });
    expect(roundTrip(inner, next)).toEqual(next);
  });
  it('falls back to a put when a key goes away', () => {
    const { track: _t, ...noTrack } = unit;
    expect(diffPatch(unit, noTrack)).toBeNull();
  });
});
