// /video/<id>/… through the hall over real HTTP: the WHEP offer reaches the gateway and its answer
// and session come back rewritten to the hall's paths; bad requests are refused with reasons; a
// gateway that is down is a 502, not a hang; HLS never leaves the source's gateway; a bind beyond
// loopback needs the token here too.
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HallCore } from '../../main/core/hall.ts';
import { type BeaconServer, startServer } from '../../main/server/server.ts';
import { freePort } from '../helpers/mosquitto.ts';
import { portClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';

const OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n';

describe('video playback through the hall', () => {
  const dir = tempDir();
  let core: HallCore;
  let server: BeaconServer;
  let gateway: Server;
  const seen: { method: string; path: string; auth?: string; body: string }[] = [];
  beforeAll(async () => {
    gateway = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      seen.push({ method: req.method!, path: req.url!, auth: req.headers.authorization, body: Buffer.concat(chunks).toString() });
      if (req.method === 'POST' && req.url === '/cam/whep') return void res.writeHead(201, { 'content-type': 'application/sdp', location: '/cam/whep/abc' }).end('v=0\r\nanswer\r\n');
      if (req.method === 'DELETE' && req.url === '/cam/whep/abc') return void res.writeHead(200).end();
      if (req.url === '/live/cam/index.m3u8') return void res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end('#EXTM3U\n#EXTINF:1,\nseg1.ts\n');
      if (req.url === '/live/cam/login.ts') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<script>parent.postMessage(document.cookie, "*")</script>');
      if (req.url === '/live/cam/seg1.ts') return void res.writeHead(200, { 'content-type': 'video/mp2t' }).end(Buffer.alloc(188, 0x47));
      res.writeHead(404).end('nothing here');
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
    const g = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
    process.env.BEACON_TEST_GATEWAY_TOKEN = 'gw-secret';
    downPort = await freePort();
    // the operator lists the gateway (and the one that is down); the token's variable is allowed
    core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      reach: { allowOutbound: [new URL(g).host, `127.0.0.1:${downPort}`], secretEnv: ['BEACON_TEST_GATEWAY_TOKEN'] },
    });
    // read once and gone from the environment: nothing started later finds it
    expect(process.env.BEACON_TEST_GATEWAY_TOKEN).toBeUndefined();
    const c = portClient(core);
    await c.cmd('video.put', {
      config: {
        id: 'cam',
        kind: 'camera',
        name: { zh: '摄像头', en: 'Camera' },
        whep: `${g}/cam/whep`,
        hls: `${g}/live/cam/index.m3u8`,
        tokenEnv: 'BEACON_TEST_GATEWAY_TOKEN',
        unit: 'aviation-330100-01',
      },
    });
    await c.cmd('video.put', { config: { id: 'down', kind: 'drone', name: { zh: '无人机', en: 'Drone' }, whep: `http://127.0.0.1:${downPort}/whep` } });
    // #18 point 3: another service on this machine (or the LAN) is not a media gateway
    const internal = await c.fail('video.put', { config: { id: 'ssrf', kind: 'camera', name: { zh: 's', en: 's' }, flv: `http://127.0.0.1:${await freePort()}/admin` } });
    expect(internal).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/not on this hall's outbound allowlist/) });
    expect((await c.fail('video.put', { config: { id: 'ssrf2', kind: 'camera', name: { zh: 's', en: 's' }, hls: 'http://169.254.169.254/latest/meta-data' } })).code).toBe('forbidden');
    // #18 point 1: the SIP password (or any secret not listed) is never sent to a gateway
    const secret = await c.fail('video.put', { config: { id: 'leak', kind: 'camera', name: { zh: 's', en: 's' }, whep: `${g}/cam/whep`, tokenEnv: 'BEACON_SIP_PASSWORD' } });
    expect(secret).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/BEACON_SIP_PASSWORD is not one this hall lets commands use/) });
    expect(core.hub.get('videos', 'leak')).toBeUndefined();
    expect((await c.fail('video.put', { config: { id: 'x', kind: 'camera', name: { zh: 'x', en: 'x' } } })).message).toMatch(/at least one/);
    expect((await c.fail('video.put', { config: { id: 'y', kind: 'camera', name: { zh: 'y', en: 'y' }, whep: 'file:///etc/passwd' } })).code).toBe('invalid_args');
    expect((await c.fail('video.put', { config: { id: 'z', kind: 'camera', name: { zh: 'z', en: 'z' }, hls: `${g}/x.m3u8`, unit: 'no-such-unit' } })).code).toBe('not_found');
    c.close();
    server = await startServer({ core, host: '127.0.0.1', port: 0, staticDir: undefined, open: true });
  });
  let downPort = 0;
  afterAll(async () => {
    await server?.close();
    await core?.dispose();
    await new Promise((r) => gateway?.close(r));
    delete process.env.BEACON_TEST_GATEWAY_TOKEN;
  });

  it('displays see the source without its endpoints or token', () => {
    expect(core.hub.get('videos', 'cam')).toEqual({ id: 'cam', kind: 'camera', name: { zh: '摄像头', en: 'Camera' }, unit: 'aviation-330100-01', protocols: ['whep', 'hls'] });
  });

  it('relays a WHEP offer with the gateway token, returns the answer and a session under /video', async () => {
    const r = await fetch(`${server.url}/video/cam/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: OFFER });
    expect(r.status).toBe(201);
    expect(await r.text()).toBe('v=0\r\nanswer\r\n');
    const loc = r.headers.get('location')!;
    expect(loc).toMatch(/^\/video\/cam\/whep\/[0-9a-f]{24}$/);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', path: '/cam/whep', auth: 'Bearer gw-secret', body: OFFER });
    expect((await fetch(`${server.url}${loc}`, { method: 'DELETE' })).status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', path: '/cam/whep/abc' });
    expect((await fetch(`${server.url}${loc}`, { method: 'DELETE' })).status).toBe(404); // once only
  });

  it('refuses what is not a WHEP offer, and says why', async () => {
    const post = (path: string, body: string | Uint8Array<ArrayBuffer>, type = 'application/sdp') => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post('/video/cam/whep', '{"sdp":1}')).status).toBe(400);
    expect((await post('/video/cam/whep', OFFER, 'text/plain')).status).toBe(415);
    expect((await post('/video/cam/whep', new Uint8Array(100_000).fill(65))).status).toBe(413);
    expect((await post('/video/nope/whep', OFFER)).status).toBe(404);
    expect((await fetch(`${server.url}/video/cam/whep`)).status).toBe(405);
    expect((await fetch(`${server.url}/video/cam/flv`)).status).toBe(404); // no FLV endpoint for this source
  });

  it('a gateway that does not answer is a 502 with the reason', async () => {
    const r = await post502();
    expect(r.status).toBe(502);
    expect(await r.text()).toMatch(/media gateway/);
    async function post502() {
      return fetch(`${server.url}/video/down/whep`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: OFFER });
    }
  });

  it('serves HLS from the source gateway only', async () => {
    const pl = await fetch(`${server.url}/video/cam/hls/playlist`);
    expect(pl.status).toBe(200);
    expect(await pl.text()).toMatch(/seg1\.ts/);
    const seg = await fetch(`${server.url}/video/cam/hls/seg1.ts`);
    expect(seg.status).toBe(200);
    expect((await seg.arrayBuffer()).byteLength).toBe(188);
    expect((await fetch(`${server.url}/video/cam/hls/..%2F..%2Fetc%2Fpasswd`)).status).toBe(400);
    // A protocol-relative path would leave the gateway: refused. An encoded name stays on it (404 there).
    expect((await fetch(`${server.url}/video/cam/hls///evil.example/x.ts`)).status).toBe(400);
    expect((await fetch(`${server.url}/video/cam/hls/http%3A%2F%2Fevil.example%2Fx.ts`)).status).toBe(404);
    // a gateway's page is never served as a page from the hall's origin: opaque bytes, sandboxed
    const page = await fetch(`${server.url}/video/cam/hls/login.ts`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('application/octet-stream');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; sandbox/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(seg.headers.get('content-type')).toBe('video/mp2t');
    const health = (await (await fetch(`${server.url}/api/health`)).json()) as { video: { hlsRequests: number; refused: number } };
    expect(health.video.hlsRequests).toBe(6);
    expect(health.video.refused).toBeGreaterThanOrEqual(5);
  });
});
