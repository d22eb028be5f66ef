// bench:thin's console: runs inside the thin link's namespace and is a display as the renderer is one
// (renderer/hub/client.ts over a WebSocket), subscribed to units and incidents. It records every
// position it receives (unit, lat, lon, time), the whole picture once a second, each incident's
// arrival, and its reconnects; on "stop" (a line on stdin) it writes them to OUT and exits.
//   node thin-console.ts URL OUT MODE   MODE: today (a display as it was: JSON, no acknowledgements)
//                                             new   (acknowledgements, binary moves)
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { ClientMessage } from '../../common/contract.ts';
import { HubClient } from '../../renderer/hub/client.ts';
import { readFrame, type Transport, type TransportHandlers } from '../../renderer/hub/transport.ts';

const [url, out, mode] = process.argv.slice(2) as [string, string, 'today' | 'new'];

/** The renderer's WebSocket transport, with the `ws` package (permessage-deflate offered, as a browser does). */
class NodeWsTransport implements Transport {
  readonly binary = mode === 'new';
  private ws: WebSocket | null = null;
  connect(h: TransportHandlers): void {
    const ws = new WebSocket(url, { origin: new URL(url.replace(/^ws/, 'http')).origin, perMessageDeflate: true });
    this.ws = ws;
    ws.on('open', () => h.open());
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) readFrame(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), h);
      else readFrame(data.toString(), h);
    });
    ws.on('close', (code: number) => {
      if (this.ws === ws) this.ws = null;
      h.close(String(code));
    });
    ws.on('error', () => undefined);
  }
  send(msg: ClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }
  close(): void {
    this.ws?.close();
  }
}

const CAP = 6_000_000;
const rec = { unit: new Int32Array(CAP), lat: new Float64Array(CAP), lon: new Float64Array(CAP), t: new Float64Array(CAP), n: 0 };
const SCAP = 3_000_000;
const samp = { unit: new Int32Array(SCAP), lat: new Float64Array(SCAP), lon: new Float64Array(SCAP), t: new Float64Array(SCAP), n: 0 };
const ids = new Map<string, number>();
const idOf = (id: string) => {
  let i = ids.get(id);
  if (i === undefined) ids.set(id, (i = ids.size));
  return i;
};
const incidents: { title: string; t: number }[] = [];
const lags: number[] = [];
const states: string[] = [];

const client = new HubClient(new NodeWsTransport(), { client: `thin-console-${mode}`, minBackoffMs: 500, maxBackoffMs: 5000 });
client.onState((s) => states.push(`${Date.now()} ${s}`));
const note = (id: string, v: unknown, now: number) => {
  const u = v as { lat?: number; lon?: number };
  if (typeof u.lat !== 'number' || rec.n >= CAP) return;
  rec.unit[rec.n] = idOf(id);
  rec.lat[rec.n] = u.lat;
  rec.lon[rec.n] = u.lon!;
  rec.t[rec.n++] = now;
};
client.subscribe('units', (e) => {
  const now = Date.now();
  if (e.kind === 'reset') for (const [id, v] of client.topic('units')) note(id, v, now);
  else for (const op of e.ops) if (op.op === 'put') note(op.id, op.value, now);
});
const seen = new Set<string>();
client.subscribe('incidents', () => {
  const now = Date.now();
  for (const v of client.topic('incidents').values()) {
    const title = (v as { title: string }).title;
    if (seen.has(title)) continue;
    seen.add(title);
    incidents.push({ title, t: now });
  }
});
const sampler = setInterval(() => {
  const now = Date.now();
  lags.push(client.lag(now).ms);
  for (const [id, v] of client.topic('units')) {
    const u = v as { lat: number; lon: number };
    if (samp.n >= SCAP) break;
    samp.unit[samp.n] = idOf(id);
    samp.lat[samp.n] = u.lat;
    samp.lon[samp.n] = u.lon;
    samp.t[samp.n++] = now;
  }
}, 1000);

process.stdin.on('data', (d) => {
  if (!d.toString().includes('stop')) return;
  clearInterval(sampler);
  const names = [...ids.keys()];
  const head = JSON.stringify({ names, n: rec.n, sn: samp.n, incidents, lags, states, counters: client.counters });
  const buf = (a: Int32Array | Float64Array, n: number) => Buffer.from(a.buffer, 0, n * a.BYTES_PER_ELEMENT);
  writeFileSync(
    out,
    Buffer.concat([
      Buffer.from(head + '\n'),
      buf(rec.unit, rec.n),
      buf(rec.lat, rec.n),
      buf(rec.lon, rec.n),
      buf(rec.t, rec.n),
      buf(samp.unit, samp.n),
      buf(samp.lat, samp.n),
      buf(samp.lon, samp.n),
      buf(samp.t, samp.n),
    ]),
  );
  client.dispose();
  process.exit(0);
});
