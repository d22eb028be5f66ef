// Serve mode: the built renderer over HTTP, the hub over WebSocket (/hub) on the same port, and a
// read-only JSON API for scripts. Binds loopback unless told otherwise. Every request but the pages
// themselves needs a token (the hall's access token for its displays, a console's own for a remote
// console) on every bind, and names this hall in its Host header (DNS rebinding). docs/security.md.
import { Readable } from 'node:stream';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { resolve } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_EVIDENCE_FRAME_BYTES, PROTOCOL_VERSION, TopicName } from '../../common/contract.ts';
import type { HallCore } from '../core/hall.ts';
import { tileRoute } from '../core/tiles/route.ts';
import { DISPLAY, type Credential } from '../core/hub/hub.ts';
import { hostAllowed, isLoopbackHost, originAllowed } from '../core/security.ts';
import { resolveStatic, sendFile } from './static.ts';

/** The hub serialises a delta once for every display; encode it to UTF-8 once too (ws would encode
 *  the same text again for each socket: at 20,000 positions a second that was four copies a tick). */
let lastText = '';
let lastBuf = Buffer.alloc(0);
function utf8Once(text: string): Buffer {
  if (text !== lastText) {
    lastText = text;
    lastBuf = Buffer.from(text, 'utf8');
  }
  return lastBuf;
}
import { VERSIONS } from './versions.ts';

export interface ServeOptions {
  core: HallCore;
  host?: string;
  port?: number;
  /** The built renderer (out/renderer). Without it only the API and the hub are served. */
  staticDir?: string | null;
  /** No token asked at all: the operator's explicit choice (`--no-token`), loopback binds only.
   *  Every connection is then one of the hall's displays. @default false */
  open?: boolean;
  /** Host names (besides IP literals and localhost) this hall answers to: the names remote
   *  consoles use for it. Any other Host header is refused (a rebinding page's name). */
  allowedHosts?: string[];
  /** WebSocket connections one address may hold. @default 32 */
  maxConnectionsPerAddress?: number;
  /** Extra browser origins allowed to open the hub (a video-wall controller's own page). */
  allowedOrigins?: string[];
  /** Ping interval to find dead displays. @default 15000 */
  heartbeatMs?: number;
}

export interface BeaconServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startServer(opts: ServeOptions): Promise<BeaconServer> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.open && !isLoopbackHost(host)) throw new Error(`binding ${host} (not loopback) without a token is refused: every remote display and console needs one`);
  const core = opts.core;
  const trust = core.desks.trust;
  const staticDir = opts.staticDir ? resolve(opts.staticDir) : null;
  const counters = { http: 0, unauthorized: 0, badHost: 0, wsRejected: 0, wsTooLarge: 0, wsPerAddress: 0 };
  const perAddress = new Map<string, number>();
  const maxPerAddress = opts.maxConnectionsPerAddress ?? 32;

  /** Who the request is, by its token (a header, or ?token= for what a page cannot set headers on). */
  const credential = (req: IncomingMessage, url: URL): Credential | null => {
    if (opts.open) return DISPLAY;
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
    return trust.authenticate(given);
  };
  const authorized = (req: IncomingMessage, url: URL): boolean => credential(req, url) !== null;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(text);
  };

  const server = createServer((req, res) => {
    counters.http += 1;
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!hostAllowed(req.headers.host, opts.allowedHosts)) {
      counters.badHost += 1;
      return json(res, 403, { error: `this hall does not answer to the name ${String(req.headers.host).slice(0, 100)}` });
    }
    if (url.pathname.startsWith('/video/')) {
      if (!authorized(req, url)) {
        counters.unauthorized += 1;
        return json(res, 401, { error: 'access token required' });
      }
      return void video(req, url.pathname, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    if (url.pathname.startsWith('/api/')) {
      if (!authorized(req, url)) {
        counters.unauthorized += 1;
        return json(res, 401, { error: 'access token required' });
      }
      return api(url.pathname, res);
    }
    if (url.pathname.startsWith('/tiles/')) {
      if (!authorized(req, url)) {
        counters.unauthorized += 1;
        return json(res, 401, { error: 'access token required' });
      }
      return void tiles(url.pathname, res, req.method === 'HEAD');
    }
    if (!staticDir) return json(res, 404, { error: 'no renderer build is served' });
    // The role is a query parameter, so every page path is the one app; unknown paths get index.html.
    const file = resolveStatic(staticDir, url.pathname) ?? (url.pathname.includes('.') ? null : resolveStatic(staticDir, '/index.html'));
    if (!file) return json(res, 404, { error: 'not found' });
    sendFile(res, file, req.method === 'HEAD');
  });

  /** /video/<id>/whep|hls/…|flv: playback through the core (main/core/video/desk.ts). */
  const video = async (req: IncomingMessage, path: string, res: ServerResponse) => {
    let body: Buffer | null = null;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        // An SDP offer is a few kilobytes; anything near this is not one.
        if (size > 64 * 1024) return json(res, 413, { error: 'too large' });
        chunks.push(c);
      }
      body = Buffer.concat(chunks);
    }
    const a = await core.desks.video.route(req.method ?? 'GET', path, body, req.headers['content-type']);
    res.writeHead(a.status, a.headers);
    if (a.body === null || req.method === 'HEAD') return void res.end();
    if (typeof a.body === 'string' || Buffer.isBuffer(a.body)) return void res.end(a.body);
    const stream = Readable.fromWeb(a.body as import('node:stream/web').ReadableStream<Uint8Array>);
    // A display that goes away stops the gateway fetch too.
    res.on('close', () => stream.destroy());
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };

  /** /tiles/<source>/<z>/<x>/<y>[.png|.jpg]: cache, source, or the nearest cached ancestor. */
  const tiles = async (path: string, res: ServerResponse, head: boolean) => {
    const a = await tileRoute(core.desks.tiles.service, path);
    res.writeHead(a.status, a.headers);
    res.end(head ? undefined : a.body);
  };

  const api = (path: string, res: ServerResponse) => {
    if (path === '/api/health') {
      const s = core.stats();
      // A hall whose store refuses every write still serves what it holds, but it is not ok: a
      // monitor polling this must see it (503), and the reason.
      return json(res, s.storeRefusing ? 503 : 200, {
        status: s.storeRefusing ? 'degraded' : 'ok',
        ...(s.storeRefusing ? { problem: `the store refuses writes since ${new Date(s.storeRefusing.since).toISOString()}: ${s.storeRefusing.error}` } : {}),
        protocol: PROTOCOL_VERSION,
        versions: VERSIONS,
        uptimeSeconds: Math.round((Date.now() - s.startedAt) / 1000),
        sessions: s.hub.sessions,
        journal: { events: s.events, batches: s.batches, commitFailures: s.commitFailures, queued: s.queued },
        hub: {
          framesIn: s.hub.framesIn,
          framesOut: s.hub.framesOut,
          commands: s.hub.commands,
          errors: s.hub.errors,
          closedSlow: s.hub.closedSlow,
          behind: s.hub.behind,
          waiting: s.hub.waiting,
          fellBehind: s.hub.fellBehind,
          caughtUp: s.hub.caughtUp,
          coalesced: s.hub.coalesced,
          stalled: s.hub.stalled,
          bytesOut: s.hub.bytesOut,
          superseded: s.hub.superseded,
          forbidden: s.hub.forbidden,
          rateLimited: s.hub.rateLimited,
        },
        trust: s.trust,
        http: counters,
        tiles: s.tiles,
        calls: s.calls,
        feeds: s.feeds,
        video: s.video,
        network: s.network,
        eventLoop: core.loopDelay(),
        memory: { rssMB: Math.round(process.memoryUsage().rss / 1048576), heapMB: Math.round(process.memoryUsage().heapUsed / 1048576) },
      });
    }
    if (path === '/api/topics') {
      const topics = core.hub.stats().topics;
      return json(res, 200, { topics: Object.entries(topics).map(([name, t]) => ({ name, seq: t.seq, items: t.items })) });
    }
    const m = /^\/api\/topics\/([a-z]+)$/.exec(path);
    if (m) {
      const topic = TopicName.safeParse(m[1]);
      if (!topic.success) return json(res, 404, { error: `unknown topic ${m[1]}` });
      return json(res, 200, { topic: topic.data, epoch: core.hub.epoch, seq: core.hub.seq(topic.data), items: core.hub.items(topic.data) });
    }
    return json(res, 404, { error: 'not found' });
  };

  // permessage-deflate is negotiated (browsers offer it) but used per frame: snapshots and a lagging
  // client's catch-up are compressed; the shared deltas every fast display gets are not (the hall
  // would deflate the same text once per display). No context kept between frames: a slow client
  // costs the hall a frame's zlib state while one is compressed, not 300 kB for as long as it stays.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_EVIDENCE_FRAME_BYTES,
    perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true, zlibDeflateOptions: { level: 6, memLevel: 8 } },
  });
  const alive = new WeakMap<WebSocket, boolean>();

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, text: string) => {
      counters.wsRejected += 1;
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/hub') return refuse(404, 'Not Found');
    if (!hostAllowed(req.headers.host, opts.allowedHosts)) {
      counters.badHost += 1;
      return refuse(403, 'Forbidden');
    }
    if (!originAllowed(req.headers.origin, req.headers.host, opts.allowedOrigins)) return refuse(403, 'Forbidden');
    const cred = credential(req, url);
    if (!cred) {
      counters.unauthorized += 1;
      return refuse(401, 'Unauthorized');
    }
    const address = req.socket.remoteAddress ?? '?';
    if ((perAddress.get(address) ?? 0) >= maxPerAddress) {
      counters.wsPerAddress += 1;
      return refuse(429, 'Too Many Connections');
    }
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => {
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n > 0) perAddress.set(address, n);
      else perAddress.delete(address);
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const origin = `ws:${address}:${req.socket.remotePort ?? 0}`;
      const session = core.hub.connect(
        {
          origin,
          send: (text, compress) => ws.send(utf8Once(text), { binary: false, compress: !!compress }),
          sendBinary: (data, compress) => ws.send(data, { binary: true, compress: !!compress }),
          close: (code, reason) => ws.close(code, reason),
          buffered: () => ws.bufferedAmount,
        },
        cred,
      );
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      ws.on('message', (data, isBinary) => {
        // a client that speaks is alive, even while our ping waits behind a long frame on a thin link
        alive.set(ws, true);
        if (isBinary) {
          session.reject({ code: 'bad_frame', message: 'binary frames are not accepted: the protocol is JSON text' });
          return;
        }
        session.receive(data.toString());
      });
      ws.on('error', (err: Error & { code?: string }) => {
        // ws closes with 1009 itself when a frame exceeds maxPayload; we only count it.
        if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
          counters.wsTooLarge += 1;
          core.hub.countError('too_large');
        }
      });
      ws.on('close', () => session.ended());
    });
  });

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, opts.heartbeatMs ?? 15_000);
  heartbeat.unref();

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    server,
    async close() {
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
