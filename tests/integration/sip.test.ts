// The hall's SIP user agent against a real platform: Kamailio (registrar + proxy, digest auth; UDP,
// TCP, TLS and WSS) and baresip endpoints that answer, reject or never answer, all on loopback.
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSip, serialize, header, type SipRequest } from '../../main/core/calls/sip/message.ts';
import { SipUA, type SipAccount } from '../../main/core/calls/sip/ua.ts';
import type { SipTransportKind } from '../../main/core/calls/sip/transport.ts';
import { Endpoint, SipPlatform } from '../helpers/sip.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const dir = tempDir('beacon-sip-');
const platform = new SipPlatform(dir);
const answer = new Endpoint(platform, 'county-answer', 'answer', dir);
const busy = new Endpoint(platform, 'county-busy', 'reject', dir);
const silent = new Endpoint(platform, 'county-silent', 'ignore', dir);
const uas: SipUA[] = [];

function hall(transport: SipTransportKind = 'udp', over: Partial<SipAccount> = {}): SipUA {
  const port = transport === 'tls' ? platform.tlsPort : transport === 'wss' ? platform.wssPort : platform.port;
  const ua = new SipUA({ aor: 'sip:hall@127.0.0.1', password: 'pw-hall', server: { host: '127.0.0.1', port, transport, ca: platform.ca }, expires: 60, ...over }, { log: () => undefined });
  uas.push(ua);
  return ua;
}

beforeAll(async () => {
  await platform.start();
  await Promise.all([answer.start(), busy.start(), silent.start()]);
}, 60_000);
afterAll(async () => {
  await Promise.all(uas.map((u) => u.dispose()));
  await Promise.all([answer.stop(), busy.stop(), silent.stop()]);
  await platform.stop();
});

describe.each(['udp', 'tcp', 'tls', 'wss'] as const)('SIP over %s with Kamailio and baresip', (transport) => {
  it('registers with digest auth and refreshes the binding before it runs out', async () => {
    const ua = hall(transport, { expires: 3 });
    const r = await ua.start();
    expect(r.state).toBe('registered');
    expect(r.expiresAt! - Date.now()).toBeLessThanOrEqual(3000);
    // Granted 3 s: refreshed at 1.5 s, so at least three registrations within 4 s, never lapsing.
    await until('re-registrations', () => ua.counters.registrations >= 3, 6000);
    expect(ua.registration.state).toBe('registered');
    await ua.dispose();
  });

  it('places a call that connects, carries RTP, and ends with our BYE', async () => {
    const ua = hall(transport);
    await ua.start();
    const phases: string[] = [];
    const call = ua.call('sip:county-answer@127.0.0.1', { onUpdate: (c) => phases.push(c.phase) });
    await until('connected', () => call.phase === 'connected' || call.phase === 'ended');
    expect(call.phase).toBe('connected');
    expect(call.status?.code).toBe(200);
    await until('RTP from the endpoint', () => call.rtpPackets > 10, 5000);
    const closedBefore = answer.count('CALL_CLOSED');
    const end = await call.hangup();
    expect(end.by).toBe('local');
    await until('endpoint saw the BYE', () => answer.count('CALL_CLOSED') > closedBefore, 5000);
    expect(phases[0]).toBe('trying');
    await ua.dispose();
  });

  it('reports busy (486) when the endpoint rejects', async () => {
    const ua = hall(transport);
    await ua.start();
    const end = await ua.call('sip:county-busy@127.0.0.1').done;
    expect(end).toMatchObject({ by: 'rejected', code: 486 });
    await ua.dispose();
  });

  it('rings an endpoint that never answers until cancelled (CANCEL, 487)', async () => {
    const ua = hall(transport);
    await ua.start();
    const closedBefore = silent.count('CALL_CLOSED');
    const call = ua.call('sip:county-silent@127.0.0.1');
    await until('ringing', () => call.phase === 'ringing');
    call.cancel();
    const end = await call.done;
    expect(end).toMatchObject({ by: 'cancelled', code: 487 });
    await until('endpoint stopped ringing', () => silent.count('CALL_CLOSED') > closedBefore, 5000);
    await ua.dispose();
  });

  it('ends the call when the far end hangs up (their BYE)', async () => {
    const ua = hall(transport);
    await ua.start();
    const call = ua.call('sip:county-answer@127.0.0.1');
    await until('connected', () => call.phase === 'connected');
    expect((await answer.hangup()).ok).toBe(true);
    const end = await call.done;
    expect(end.by).toBe('remote');
    await ua.dispose();
  });

  it("gets 404 for a user nobody registered, and the platform's 503", async () => {
    const ua = hall(transport);
    await ua.start();
    expect(await ua.call('sip:nobody@127.0.0.1').done).toMatchObject({ by: 'rejected', code: 404 });
    expect(await ua.call('sip:gateway-down@127.0.0.1').done).toMatchObject({ by: 'rejected', code: 503, reason: 'Service Unavailable' });
    await ua.dispose();
  });
});

describe('SIP failures', () => {
  it('refuses a TLS platform whose certificate it does not trust', async () => {
    const ua = new SipUA({ aor: 'sip:hall@127.0.0.1', password: 'pw-hall', server: { host: '127.0.0.1', port: platform.tlsPort, transport: 'tls' } }, { log: () => undefined });
    uas.push(ua);
    const r = await ua.start();
    expect(r.state).toBe('failed');
    expect(r.detail).toMatch(/self-signed|certificate/);
    await ua.dispose();
  });

  it('a wrong password fails registration clearly and is retried with backoff', async () => {
    const ua = hall('udp', { password: 'wrong' });
    const r = await ua.start();
    expect(r.state).toBe('failed');
    expect(r.detail).toMatch(/^(401|403)/);
    expect(ua.counters.authFailures).toBe(1);
    await ua.dispose();
  });

  it('a platform that is not there fails registration (TCP refused) without throwing', async () => {
    const ua = new SipUA({ aor: 'sip:hall@127.0.0.1', password: 'x', server: { host: '127.0.0.1', port: 9, transport: 'tcp' } }, { log: () => undefined });
    uas.push(ua);
    const r = await ua.start();
    expect(r.state).toBe('failed');
    expect(r.detail).toMatch(/unreachable/);
    const end = await ua.call('sip:county-answer@127.0.0.1').done;
    expect(end.by).toBe('error');
    await ua.dispose();
  });

  // Kamailio never sends malformed SIP, so a UDP socket of the test's plays a broken platform here.
  it('malformed and stray responses are counted and dropped; the valid answer still registers', async () => {
    const fake = createSocket('udp4');
    await new Promise<void>((r) => fake.bind(0, '127.0.0.1', () => r()));
    fake.on('message', (buf, rinfo) => {
      const p = parseSip(buf.toString());
      if (!p.ok || p.msg.kind !== 'request') return;
      const req = p.msg as SipRequest;
      const send = (s: string | Buffer) => fake.send(s, rinfo.port, rinfo.address);
      send('this is not SIP at all\r\n\r\n');
      send(Buffer.from([0, 255, 13, 10, 13, 10]));
      send('SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: y\r\n\r\n'); // missing CSeq/From/To
      send(`SIP/2.0 200 OK\r\nVia: ${header(req, 'via')}\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: banana\r\n\r\n`);
      send(`SIP/2.0 999 What\r\nVia: ${header(req, 'via')}\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\r\n`);
      send(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnotours\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n`);
      send(`SIP/2.0 200 OK\r\nVia: ${header(req, 'via')}\r\nContent-Length: 99999\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\r\n`);
      const ok = serialize({ kind: 'response', status: 200, reason: 'OK', headers: req.headers.filter(([k]) => ['via', 'from', 'to', 'call-id', 'cseq', 'contact'].includes(k)), body: '' });
      setTimeout(() => send(ok), 50);
    });
    const lines: string[] = [];
    const ua = new SipUA({ aor: 'sip:hall@127.0.0.1', password: 'x', server: { host: '127.0.0.1', port: fake.address().port, transport: 'udp' } }, { log: (l) => lines.push(l) });
    uas.push(ua);
    const r = await ua.start();
    expect(r.state).toBe('registered');
    expect(ua.counters.malformed).toBe(6);
    expect(ua.counters.stray).toBe(1);
    // One log line for the burst, not one per frame.
    expect(lines.filter((l) => l.includes('malformed'))).toHaveLength(1);
    await ua.dispose();
    fake.close();
  });
});
