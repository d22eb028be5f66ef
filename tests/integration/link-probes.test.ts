// Protocol-aware probes against real servers: a TCP connect says "something listens", the protocol
// says "the service answers". A wedged broker (SIGSTOP) still completes TCP handshakes, because the
// kernel accepts into the listen backlog; only the MQTT ping shows it is dead. Same for SIP.
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Link } from '../../common/domain.ts';
import { LinkMonitor, parseTarget } from '../../main/core/link/monitor.ts';
import { makeProber } from '../../main/core/link/probes.ts';
import { freeUdpPort, KAMAILIO, Kamailio } from '../helpers/kamailio.ts';
import { Broker, freePort, MOSQUITTO } from '../helpers/mosquitto.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

describe('probe targets', () => {
  it('parse with a protocol, TCP by default', () => {
    expect(parseTarget('10.0.0.1:1883')).toEqual({ id: '10.0.0.1:1883', host: '10.0.0.1', port: 1883, protocol: 'tcp' });
    expect(parseTarget('mqtt://bus.zj:1883')).toMatchObject({ id: 'bus.zj:1883', protocol: 'mqtt' });
    expect(parseTarget('sip:10.1.1.1:5060')).toMatchObject({ host: '10.1.1.1', port: 5060, protocol: 'sip' });
    expect(parseTarget('sip://[::1]:5060')).toMatchObject({ host: '::1', protocol: 'sip' });
    expect(() => parseTarget('http://x:80')).toThrow(/is not \[mqtt/);
  });
});

describe.skipIf(!existsSync(MOSQUITTO))('MQTT probe against a real mosquitto', () => {
  const dir = tempDir();
  let broker: Broker;
  afterAll(async () => {
    broker?.resume();
    await broker?.stop();
  });

  it('answers over one connection; a wedged broker passes TCP but fails MQTT; a plain TCP service fails MQTT', async () => {
    broker = new Broker(await freePort(), join(dir, 'b'));
    await broker.start();
    const mqttP = makeProber('mqtt', '127.0.0.1', broker.port);
    const tcpP = makeProber('tcp', '127.0.0.1', broker.port);
    try {
      for (let i = 0; i < 5; i++) expect(await mqttP.run(1000)).toMatchObject({ ok: true });
      // One probe connection for all five (CONNECT once, then PINGREQ): the broker logged one client.
      expect(broker.log.match(/New client connected .* as beacon-probe-/g) ?? []).toHaveLength(1);
      broker.pause();
      expect((await tcpP.run(1000)).ok, 'the kernel still accepts TCP for a stopped broker').toBe(true);
      expect((await mqttP.run(800)).ok, 'no PINGRESP from a stopped broker').toBe(false);
      expect((await makeProber('mqtt', '127.0.0.1', broker.port).run(800)).ok, 'no CONNACK either').toBe(false);
      broker.resume();
      await until('MQTT answers again', async () => (await mqttP.run(1000)).ok, 10_000);
    } finally {
      mqttP.close();
    }
    // Something that accepts TCP but is not a broker.
    const srv = createServer((s) => s.on('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n')));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    expect((await makeProber('tcp', '127.0.0.1', port).run(500)).ok).toBe(true);
    expect((await makeProber('mqtt', '127.0.0.1', port).run(500)).ok).toBe(false);
    await new Promise<void>((r) => srv.close(() => r()));
  });

  it('the monitor calls a wedged broker offline within 2 s and online again after it resumes', async () => {
    const changes: Link[] = [];
    const m = new LinkMonitor({ targets: [parseTarget(`mqtt://127.0.0.1:${broker.port}`, 'bus')], onChange: (c) => changes.push(...c) });
    m.start();
    try {
      await until('online', () => m.links()[0]!.state === 'online', 10_000);
      expect(m.links()[1]!.detail).toMatch(/^mqtt 127\.0\.0\.1:\d+ online/);
      const t0 = Date.now();
      broker.pause();
      await until('offline', () => m.links()[0]!.state === 'offline', 5000);
      const took = Date.now() - t0;
      expect(took).toBeLessThan(2000);
      broker.resume();
      await until('online again', () => m.links()[0]!.state === 'online', 10_000);
    } finally {
      m.dispose();
      broker.resume();
    }
  });
});

describe.skipIf(!existsSync(KAMAILIO))('SIP OPTIONS probe against a real Kamailio', () => {
  const dir = tempDir();
  let kam: Kamailio;
  afterAll(async () => {
    await kam?.stop();
  });

  it('gets 200 from Kamailio; silence, non-SIP replies and a wedged server are failures', async () => {
    kam = new Kamailio(await freeUdpPort(), join(dir, 'k'));
    await kam.start();
    const p = makeProber('sip', '127.0.0.1', kam.port);
    try {
      const r = await p.run(1000);
      expect(r).toMatchObject({ ok: true, note: '200' });
      expect(r.rttMs).toBeLessThan(500);
      kam.signal('SIGSTOP');
      expect((await p.run(600)).ok).toBe(false);
      kam.signal('SIGCONT');
      await until('answers again', async () => (await p.run(600)).ok, 10_000);
    } finally {
      p.close();
    }
    // A UDP port where nothing listens, and one that answers with something that is not SIP.
    expect((await makeProber('sip', '127.0.0.1', await freeUdpPort()).run(400)).ok).toBe(false);
    const junk = createSocket('udp4');
    await new Promise<void>((r) => junk.bind(0, '127.0.0.1', () => r()));
    junk.on('message', (_m, rinfo) => junk.send('HELLO\r\n', rinfo.port, rinfo.address));
    expect((await makeProber('sip', '127.0.0.1', junk.address().port).run(400)).ok).toBe(false);
    junk.close();
  });
});
