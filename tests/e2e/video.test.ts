// The video wall in serve mode: a WHEP endpoint served by this test, whose streams come from a second
// Chromium page publishing a canvas (the test relays each SDP offer to it and its answer back), and
// a live HLS stream that ffmpeg writes as the test serves it. The wall must show a tile live, then
// "signal lost" with the time since when the publisher stops (never the frozen last frame), then live
// again on its own when the publisher returns; its layout is kept for the display.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { launch, offlineContext, WEBRTC_ARGS } from '../helpers/browser.ts';
import { type Served, serve } from '../helpers/serve.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('beacon-e2e-video-');
const FFMPEG = spawnSync('sh', ['-c', 'command -v ffmpeg']).stdout.toString().trim();
let server: Served;
let browser: Browser;
let publisher: Page;
let wall: Page;
let gateway: Server;
let gatewayUrl: string;
let ffmpeg: ChildProcess | null = null;
let publishing = true;
let offers = 0;
let problems: string[];

/** A command to the hall over its WebSocket, as any console would send it. */
/** As the hall's administrator (video sources are configuration). */
async function command(name: string, args: unknown): Promise<unknown> {
  const ws = new WebSocket(server.hubUrl, { origin: server.url });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ t: 'hello', v: 1, client: 'test', ticket: await server.ticket('admin') }));
  ws.send(JSON.stringify({ t: 'cmd', id: '1', name, args }));
  const r = await new Promise<{ ok: boolean; value?: unknown; error?: { message: string } }>((resolve) =>
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { t: string; ok: boolean };
      if (m.t === 'result') resolve(m as never);
    }),
  );
  ws.close();
  if (!r.ok) throw new Error(r.error!.message);
  return r.value;
}

const tile = (i: number) => wall.locator('[data-test="wall-tile"]').nth(i);
const frames = (i: number) =>
  tile(i)
    .locator('video')
    .evaluate((v: HTMLVideoElement) => v.getVideoPlaybackQuality().totalVideoFrames);

beforeAll(async () => {
  browser = await launch(WEBRTC_ARGS);
  // The publisher: a canvas drawn 25 times a second, one peer connection per viewer.
  const pubCtx = await browser.newContext();
  publisher = await pubCtx.newPage();
  await publisher.setContent('<canvas id="c" width="320" height="180"></canvas>');
  await publisher.evaluate(() => {
    const c = document.getElementById('c') as HTMLCanvasElement;
    const g = c.getContext('2d')!;
    let n = 0;
    setInterval(() => {
      g.fillStyle = `hsl(${(n++ * 7) % 360}, 80%, 45%)`;
      g.fillRect(0, 0, 320, 180);
      g.fillStyle = '#fff';
      g.font = '40px sans-serif';
      g.fillText(String(n), 20, 100);
    }, 40);
    const w = window as unknown as { stream: MediaStream; pcs: RTCPeerConnection[]; answer: (sdp: string) => Promise<string>; stopAll: () => void };
    w.stream = c.captureStream(25);
    w.pcs = [];
    w.answer = async (offer: string) => {
      const pc = new RTCPeerConnection();
      w.pcs.push(pc);
      for (const t of w.stream.getVideoTracks()) pc.addTrack(t, w.stream);
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise<void>((r) => {
        if (pc.iceGatheringState === 'complete') return r();
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
        setTimeout(r, 2000);
      });
      return pc.localDescription!.sdp;
    };
    w.stopAll = () => {
      for (const pc of w.pcs) pc.close();
      w.pcs = [];
    };
  });

  // The media gateway: WHEP for cam-1 (answered by the publisher page), HLS for cam-2 (ffmpeg's files).
  const hlsDir = join(dir, 'hls');
  mkdirSync(hlsDir, { recursive: true });
  gateway = createServer(async (req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (req.method === 'POST' && u.pathname === '/whep/cam-1') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      offers++;
      if (!publishing) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no publisher on this path');
      const answer = await publisher.evaluate((o) => (window as unknown as { answer: (s: string) => Promise<string> }).answer(o), Buffer.concat(chunks).toString());
      res.writeHead(201, { 'content-type': 'application/sdp', location: `/whep/cam-1/session-${offers}` });
      return void res.end(answer);
    }
    if (req.method === 'DELETE' && u.pathname.startsWith('/whep/cam-1/')) return void res.writeHead(200).end();
    if (req.method === 'GET' && u.pathname === '/flv/cam-3' && FFMPEG) {
      // HTTP-FLV as a gateway serves it: one endless FLV stream per viewer.
      const ff = spawn(
        FFMPEG,
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-re',
          '-f',
          'lavfi',
          '-i',
          'testsrc=size=320x180:rate=15',
          '-c:v',
          'libx264',
          '-preset',
          'ultrafast',
          '-tune',
          'zerolatency',
          '-g',
          '15',
          '-pix_fmt',
          'yuv420p',
          '-f',
          'flv',
          'pipe:1',
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      res.writeHead(200, { 'content-type': 'video/x-flv', 'cache-control': 'no-store' });
      ff.stdout.pipe(res);
      res.on('close', () => ff.kill('SIGKILL'));
      return;
    }
    const m = /^\/hls\/cam-2\/([\w.-]+)$/.exec(u.pathname);
    if (req.method === 'GET' && m && existsSync(join(hlsDir, m[1]!))) {
      res.writeHead(200, { 'content-type': m[1]!.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t', 'cache-control': 'no-store' });
      return void createReadStream(join(hlsDir, m[1]!)).pipe(res);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
  if (FFMPEG) {
    ffmpeg = spawn(
      FFMPEG,
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=320x180:rate=15',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-tune',
        'zerolatency',
        '-g',
        '15',
        '-pix_fmt',
        'yuv420p',
        '-f',
        'hls',
        '-hls_time',
        '1',
        '-hls_list_size',
        '5',
        '-hls_flags',
        'delete_segments',
        join(hlsDir, 'index.m3u8'),
      ],
      { stdio: 'ignore' },
    );
  }

  server = await serve(['--data', join(dir, 'hall'), '--port', '0', '--allow-outbound', new URL(gatewayUrl).host]);
  await command('video.put', { config: { id: 'cam-1', kind: 'camera', name: { zh: '航空救援直升机', en: 'Rescue helicopter' }, unit: 'aviation-330100-01', whep: `${gatewayUrl}/whep/cam-1` } });
  await command('video.put', { config: { id: 'cam-2', kind: 'drone', name: { zh: '无人机回传', en: 'Drone downlink' }, hls: `${gatewayUrl}/hls/cam-2/index.m3u8` } });
  await command('video.put', { config: { id: 'cam-3', kind: 'bodycam', name: { zh: '单兵记录仪', en: 'Body camera' }, flv: `${gatewayUrl}/flv/cam-3` } });
  const ctx = await offlineContext(browser, { width: 1280, height: 800 });
  await server.trust(ctx.context, 'duty');
  problems = ctx.problems;
  wall = await ctx.context.newPage();
  await wall.goto(`${server.url}/?role=wall&display=wall-test`);
}, 120_000);

afterAll(async () => {
  ffmpeg?.kill('SIGKILL');
  await browser?.close();
  await server?.stop();
  await new Promise((r) => gateway?.close(r));
});

describe('video wall', () => {
  it('a source dragged onto a tile plays live over WHEP, through the hall', async () => {
    await wall.locator('[data-test="grid-4"]').click();
    await expect.poll(() => wall.locator('[data-test="wall-tile"]').count()).toBe(4);
    await wall.locator('[data-test="source-cam-1"]').dragTo(tile(0));
    await expect.poll(() => tile(0).getAttribute('data-state'), { timeout: 20_000 }).toBe('live');
    expect(await tile(0).locator('[data-test="tile-live"]').textContent()).toMatch(/WHEP/);
    const f1 = await frames(0);
    await wall.waitForTimeout(1000);
    expect(await frames(0)).toBeGreaterThan(f1 + 5); // frames keep coming
    expect(offers).toBeGreaterThanOrEqual(1); // the offer went through the hall to the gateway
  });

  it('when the publisher stops the tile says "signal lost" and since when, and hides the last frame', async () => {
    publishing = false;
    await publisher.evaluate(() => (window as unknown as { stopAll: () => void }).stopAll());
    await expect.poll(() => tile(0).getAttribute('data-state'), { timeout: 15_000 }).toBe('lost');
    expect(await tile(0).locator('[data-test="tile-lost"]').textContent()).toMatch(/信号中断/);
    expect(
      await tile(0)
        .locator('video')
        .evaluate((v) => getComputedStyle(v).visibility),
    ).toBe('hidden');
    const s1 = await tile(0).locator('[data-test="tile-since"]').textContent();
    await expect.poll(() => tile(0).locator('[data-test="tile-since"]').textContent(), { timeout: 5000 }).not.toBe(s1);
    // It keeps trying on its own, and the gateway says there is nothing to play.
    const before = offers;
    await expect.poll(() => offers, { timeout: 15_000 }).toBeGreaterThan(before);
    expect(await tile(0).getAttribute('data-state')).toBe('lost');
  });

  it('live again by itself when the publisher returns', async () => {
    publishing = true;
    await expect.poll(() => tile(0).getAttribute('data-state'), { timeout: 30_000 }).toBe('live');
    const f1 = await frames(0);
    await wall.waitForTimeout(1000);
    expect(await frames(0)).toBeGreaterThan(f1);
  });

  it.skipIf(!FFMPEG)('an HLS-only source plays through hls.js, the same way', async () => {
    await wall.locator('[data-test="source-cam-2"]').dragTo(tile(1));
    await expect.poll(() => tile(1).getAttribute('data-state'), { timeout: 30_000 }).toBe('live');
    expect(await tile(1).locator('[data-test="tile-live"]').textContent()).toMatch(/HLS/);
  });

  it.skipIf(!FFMPEG)('an HTTP-FLV-only source plays through mpegts.js', async () => {
    await wall.locator('[data-test="source-cam-3"]').dragTo(tile(2));
    await expect.poll(() => tile(2).getAttribute('data-state'), { timeout: 30_000 }).toBe('live');
    expect(await tile(2).locator('[data-test="tile-live"]').textContent()).toMatch(/FLV/);
    // Stop watching: the tile is cleared and the hall closes the gateway stream.
    await tile(2).locator('.clear').click();
    await expect.poll(() => tile(2).getAttribute('data-state')).toBe('idle');
  });

  it("a unit's video opens from its marker on the globe", async () => {
    const globe = await wall.context().newPage();
    await globe.goto(`${server.url}/?role=globe&msaa=1`);
    await globe.locator('[data-test="globe-search"]').fill('aviation-330100-01');
    await globe.locator('.results button').first().click();
    await globe.locator('[data-test="unit-video"]').click();
    await expect.poll(() => globe.locator('[data-test="video-pop"] [data-test="wall-tile"]').getAttribute('data-state'), { timeout: 20_000 }).toBe('live');
    await globe.close();
  });

  it('the layout is kept for this display across a reload', async () => {
    await wall.reload();
    await expect.poll(() => wall.locator('[data-test="wall-grid"]').getAttribute('data-grid'), { timeout: 15_000 }).toBe('4');
    // (the layout and the sources are two topics: the tile names its source once both are here)
    await expect.poll(() => tile(0).getAttribute('data-source'), { timeout: 15_000 }).toBe('cam-1');
    await expect.poll(() => tile(0).getAttribute('data-state'), { timeout: 20_000 }).toBe('live');
    // The only console errors are the gateway's 404s while nothing was published (the tile's retries).
    expect(problems.filter((p) => !/status of 404/.test(p))).toEqual([]);
  });
});
