// The ingest benchmark's displays, in a process of their own so the load generator's bursts never
// delay a receipt's timestamp: N WebSocket clients subscribed to `units`, each recording every
// position it receives (unit, lat, lon, receipt time). On 'stop' (IPC) each client's record is written
// to OUTDIR/client-<n>.bin for the benchmark to join with its send log.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';

const [url, nArg, outDir] = process.argv.slice(2) as [string, string, string];
const N = Number(nArg);
const CAP = 8_000_000;
const ids = new Map<string, number>();
const names: string[] = [];
const idOf = (id: string) => {
  let i = ids.get(id);
  if (i === undefined) {
    i = names.length;
    ids.set(id, i);
    names.push(id);
  }
  return i;
};

interface Rec {
  unit: Int32Array;
  lat: Float64Array;
  lon: Float64Array;
  t: Float64Array;
  n: number;
  gaps: number;
  catchUps: number;
  ops: number;
  last: Map<number, [number, number]>;
}
const recs: Rec[] = [];
const sockets: WebSocket[] = [];
let ready = 0;
for (let c = 0; c < N; c++) {
  const r: Rec = { unit: new Int32Array(CAP), lat: new Float64Array(CAP), lon: new Float64Array(CAP), t: new Float64Array(CAP), n: 0, gaps: 0, catchUps: 0, ops: 0, last: new Map() };
  recs.push(r);
  const ws = new WebSocket(url, { origin: new URL(url.replace(/^ws/, 'http')).origin, perMessageDeflate: false });
  sockets.push(ws);
  let seq = -1;
  ws.on('message', (data: Buffer) => {
    const now = performance.timeOrigin + performance.now();
    const m = JSON.parse(data.toString()) as { t: string; seq?: number; from?: number; ops?: { op: string; id: string; value?: { lat: number; lon: number }; set?: { lat?: number; lon?: number } }[] };
    if (m.t === 'snapshot') {
      seq = m.seq!;
      if (++ready === N) process.send?.('ready');
      return;
    }
    if (m.t !== 'delta') return;
    // a delta made for this client alone (it fell behind for a moment: issue 23) follows `from`
    if (m.from !== undefined) {
      if (m.from !== seq) r.gaps++;
      else r.catchUps++;
    } else if (m.seq !== seq + 1) r.gaps++;
    seq = m.seq!;
    for (const op of m.ops!) {
      r.ops++;
      // A put (first appearance) carries the position; a patch carries what changed (a unit moving
      // due east keeps its latitude), so the last known lat/lon complete it.
      const la = op.value?.lat ?? op.set?.lat;
      const lo = op.value?.lon ?? op.set?.lon;
      if (la === undefined && lo === undefined) continue;
      const u = idOf(op.id);
      const prev = r.last.get(u) ?? [NaN, NaN];
      const pos: [number, number] = [la ?? prev[0], lo ?? prev[1]];
      r.last.set(u, pos);
      if (r.n >= CAP) continue;
      r.unit[r.n] = u;
      r.lat[r.n] = pos[0];
      r.lon[r.n] = pos[1];
      r.t[r.n] = now;
      r.n++;
    }
  });
  ws.once('open', () => {
    ws.send(JSON.stringify({ t: 'hello', v: 1, client: `bench-${c}` }));
    ws.send(JSON.stringify({ t: 'sub', topic: 'units' }));
  });
}

process.on('message', (m) => {
  if (m !== 'stop') return;
  for (const ws of sockets) ws.close();
  recs.forEach((r, c) => {
    const head = Buffer.from(JSON.stringify({ n: r.n, gaps: r.gaps, catchUps: r.catchUps, ops: r.ops }) + '\n');
    writeFileSync(
      join(outDir, `client-${c}.bin`),
      Buffer.concat([head, Buffer.from(r.unit.buffer, 0, r.n * 4), Buffer.from(r.lat.buffer, 0, r.n * 8), Buffer.from(r.lon.buffer, 0, r.n * 8), Buffer.from(r.t.buffer, 0, r.n * 8)]),
    );
  });
  writeFileSync(join(outDir, 'units.json'), JSON.stringify(names));
  process.send?.('done', () => process.exit(0));
});
