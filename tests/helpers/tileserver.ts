// A tile server the tests make and serve themselves (no network): /{z}/{x}/{y}.png answers a
// 256 x 256 PNG whose colour says which tile it is, so a test can tell from the pixels what it got.
// Quadrants of each tile have different colours, so a child cut from its parent is checkable.
import { createServer, type RequestListener, type Server } from 'node:http';
import { PNG } from 'pngjs';

/** The colour of quadrant q (0 NW, 1 NE, 2 SW, 3 SE) of tile z/x/y. */
export function tileColour(z: number, x: number, y: number, q: number): [number, number, number] {
  return [(z * 40 + q * 50) % 256, (x * 37 + q * 60) % 256, (y * 53 + q * 70) % 256];
}

export function makeTile(z: number, x: number, y: number, noise = false): Buffer {
  const png = new PNG({ width: 256, height: 256 });
  for (let py = 0; py < 256; py++)
    for (let px = 0; px < 256; px++) {
      const q = (py < 128 ? 0 : 2) + (px < 128 ? 0 : 1);
      const [r, g, b] = tileColour(z, x, y, q);
      const i = (py * 256 + px) * 4;
      const n = noise ? Math.floor(Math.random() * 255) : 0;
      png.data[i] = noise ? n : r;
      png.data[i + 1] = noise ? (n * 7) % 256 : g;
      png.data[i + 2] = noise ? (n * 13) % 256 : b;
      png.data[i + 3] = 255;
    }
  return PNG.sync.write(png);
}

export function solidTile([r, g, b]: [number, number, number]): Buffer {
  const png = new PNG({ width: 256, height: 256 });
  for (let i = 0; i < png.data.length; i += 4) {
    png.data[i] = r;
    png.data[i + 1] = g;
    png.data[i + 2] = b;
    png.data[i + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** An HTTP server of a test's own on loopback (a free port unless one is asked for). */
export class LoopbackServer {
  protected server: Server | null = null;
  port = 0;

  protected async listen(handler: RequestListener, port = 0): Promise<void> {
    this.server = createServer(handler);
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

export class TileServer extends LoopbackServer {
  requests = 0;
  wmtsRequests = 0;
  /** Serve an HTML error page with status 200 (as a captive portal or a broken proxy does). */
  junk = false;
  noise = false;
  /** Every tile one colour (a browser test can count it on screen). */
  solid: [number, number, number] | null = null;

  async start(port = 0): Promise<void> {
    await this.listen((req, res) => {
      this.requests++;
      // XYZ paths, and WMTS GetTile in key-value form (TILEMATRIX = z, TILECOL = x, TILEROW = y)
      const u = new URL(req.url ?? '/', 'http://x');
      const q = (k: string) => u.searchParams.get(k) ?? '';
      const m = u.pathname === '/wmts' && q('REQUEST') === 'GetTile' ? [u.pathname, q('TILEMATRIX'), q('TILECOL'), q('TILEROW')] : /^\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(u.pathname);
      if (m && u.pathname === '/wmts') this.wmtsRequests++;
      if (this.junk) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html><body>Please log in to the hotel Wi-Fi</body></html>');
      }
      if (!m) {
        res.writeHead(404);
        return res.end();
      }
      const body = this.solid ? solidTile(this.solid) : makeTile(Number(m[1]), Number(m[2]), Number(m[3]), this.noise);
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
      res.end(body);
    }, port);
  }

  /** The same tiles as WMTS GetTile (KVP), as Tianditu's w matrix set serves them. */
  get wmtsTemplate(): string {
    return `http://127.0.0.1:${this.port}/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=img&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={TileMatrix}&TILEROW={TileRow}&TILECOL={TileCol}&tk={k}`;
  }

  get template(): string {
    return `http://127.0.0.1:${this.port}/{z}/{x}/{y}.png`;
  }
}
