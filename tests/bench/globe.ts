// npm run bench:globe — the globe under 20,000 moving units and 5,000 static markers in Chromium
// (software WebGL here), against the same load drawn with one Cesium Entity per unit, in the same
// run. Prints JavaScript time per update tick and frame time (median, p95) and the ratio; the
// display's whole path (the hall's delta as text through the hub client to the globe, and the same
// through the app: its stores, the legend, Vue's flush); then churns
// for a while and prints the JS heap before and after, and the tick again on the aged heap.
// Not a test: nothing fails on a figure.
//   BENCH_CHURN_MINUTES (default 10), BENCH_CHURN_TRAILS (trail minutes during the churn, default 10),
//   BENCH_TICKS (default 60: the median of 20 scattered by ±1 ms between runs on this 2-core machine),
//   BENCH_WIRE_TICKS (seconds of moves through the display's whole path, hub client to globe; default 20)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM } from '../helpers/browser.ts';
import { serve } from '../helpers/serve.ts';

const UNITS = 20_000;
const STATICS = 5_000;
const TICKS = Number(process.env.BENCH_TICKS ?? 60);
const CHURN_MIN = Number(process.env.BENCH_CHURN_MINUTES ?? 10);
/** Seconds of moves sent through the display's whole path (hub client to globe). */
const WIRE_TICKS = Number(process.env.BENCH_WIRE_TICKS ?? 20);
/** Trail minutes during the churn (default 10, as shipped). */
const CHURN_TRAILS = Number(process.env.BENCH_CHURN_TRAILS ?? 10);
const data = mkdtempSync(join(tmpdir(), 'beacon-bench-globe-'));
const server = await serve(['--data', data, '--port', '0']);
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
    '--enable-precise-memory-info',
    '--js-flags=--expose-gc',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ],
});
type Wire = {
  frameMB: number;
  receiveMs: { median: number; p95: number };
  schemaMs: { median: number; p95: number };
  globeMs: { median: number; p95: number };
  totalMs: { median: number; p95: number };
};
type App = {
  totalMs: { median: number; p95: number };
  vueMs: { median: number; p95: number };
  globeMs: { median: number; p95: number };
  rescanMs: { median: number; p95: number };
  legendChanges: number;
};
type Bench = { jsMs: { median: number; p95: number }; trailMs: { median: number; p95: number; drawn: number } | null; frameMs: { median: number; p95: number } };
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  await page.goto(`${server.url}/?token=${server.token}&role=globe&msaa=1&probe=1`);
  await page.locator('[data-test="globe"][data-tiles-loaded="true"]').waitFor({ timeout: 120_000 });
  // Each measured run starts from a collected heap: the last run's garbage (20,000 points or
  // entities) is not collected inside this one's ticks.
  const clean = () =>
    page.evaluate(async () => {
      const w = window as unknown as { gc?: () => void; beaconProbe: { settle(): Promise<void> } };
      await w.beaconProbe.settle();
      w.gc?.();
    });
  const run = (mode: 'primitives' | 'entities', ticks = TICKS, trailMinutes = 10, order: 'hub' | 'arrival' = 'hub') =>
    page.evaluate(
      ([m, n, s, t, tm, o]) =>
        (window as unknown as { beaconProbe: { bench(o: unknown): Promise<Bench> } }).beaconProbe.bench({ mode: m, units: n, statics: s, ticks: t, trailMinutes: tm, order: o }).catch((e: Error) => {
          throw new Error(`${e.name}: ${e.message}\n${e.stack ?? ''}`);
        }),
      [mode, UNITS, STATICS, ticks, trailMinutes, order] as const,
    );
  console.log(
    `beacon globe bench — Chromium ${browser.version()} (software WebGL), 800x600, MSAA 1, ${UNITS.toLocaleString()} moving units + ${STATICS.toLocaleString()} static markers, ${TICKS} ticks`,
  );
  await clean();
  const p = await run('primitives');
  await clean();
  const bare = await run('primitives', TICKS, 0);
  await clean();
  const arrival = await run('primitives', TICKS, 10, 'arrival');
  await clean();
  const e = await run('entities');
  const line = (k: string, v: string) => console.log(`  ${k.padEnd(46)} ${v}`);
  line('units as shipped (buffer points): JS per tick', `median ${p.jsMs.median.toFixed(1)} ms, p95 ${p.jsMs.p95.toFixed(1)} ms`);
  if (p.trailMs) line(`  trails rebuilt (once a second, ${p.trailMs.drawn} drawn)`, `median ${p.trailMs.median.toFixed(1)} ms, p95 ${p.trailMs.p95.toFixed(1)} ms`);
  line('  frame after the tick', `median ${p.frameMs.median.toFixed(0)} ms, p95 ${p.frameMs.p95.toFixed(0)} ms`);
  line(
    'units as shipped, trails off: JS per tick',
    `median ${bare.jsMs.median.toFixed(1)} ms, p95 ${bare.jsMs.p95.toFixed(1)} ms   (trails cost ${(p.jsMs.median - bare.jsMs.median).toFixed(1)} ms a tick)`,
  );
  line('  frame after the tick', `median ${bare.frameMs.median.toFixed(0)} ms, p95 ${bare.frameMs.p95.toFixed(0)} ms`);
  line(
    'units as shipped, moves in arrival order: JS per tick',
    `median ${arrival.jsMs.median.toFixed(1)} ms, p95 ${arrival.jsMs.p95.toFixed(1)} ms   (as the hub sent them before it ordered its deltas)`,
  );
  line('one Entity per unit: JS per tick (incl. display update)', `median ${e.jsMs.median.toFixed(1)} ms, p95 ${e.jsMs.p95.toFixed(1)} ms`);
  line('  frame after the tick', `median ${e.frameMs.median.toFixed(0)} ms, p95 ${e.frameMs.p95.toFixed(0)} ms`);
  line('Entity / as shipped, JS per tick (median)', `${(e.jsMs.median / p.jsMs.median).toFixed(1)}x`);
  // The display's whole path: the hall's delta as JSON text (patches) through the real hub client
  // to the globe. What a display's main thread pays per second of moves, not only the globe's part.
  await clean();
  const w = await page.evaluate(([n, t]) => (window as unknown as { beaconProbe: { wire(o: unknown): Promise<Wire> } }).beaconProbe.wire({ units: n, ticks: t }), [UNITS, WIRE_TICKS] as const);
  const ms = (x: { median: number; p95: number }) => `median ${x.median.toFixed(1)} ms, p95 ${x.p95.toFixed(1)} ms`;
  line(`wire to globe: ${UNITS.toLocaleString()} moves as patches (${w.frameMB.toFixed(1)} MB), ${WIRE_TICKS} s`, ms(w.totalMs));
  line('  hub client: parse, check, patch, store', ms(w.receiveMs));
  line('    same frames checked by schema throughout', `${ms(w.schemaMs)}   (${(w.schemaMs.median / w.receiveMs.median).toFixed(1)}x the client's)`);
  line('  globe update', ms(w.globeMs));
  // The same moves through the app itself: the page's hub client, the stores, the legend, the globe
  // and Vue's render flush; beside it, what the legend's rescan of every unit cost on each delta.
  await clean();
  const a = await page.evaluate(([n, t]) => (window as unknown as { beaconProbe: { app(o: unknown): Promise<App> } }).beaconProbe.app({ units: n, ticks: t }), [UNITS, WIRE_TICKS] as const);
  line(`the app's whole path: ${UNITS.toLocaleString()} moves, frame to Vue's flush`, ms(a.totalMs));
  line('  of which the globe', ms(a.globeMs));
  line('  of which Vue (render flush after the listeners)', ms(a.vueMs));
  line(`  legend redraws in ${WIRE_TICKS} s of moves`, `${a.legendChanges}   (the legend as it was, a rescan of every unit per delta: ${ms(a.rescanMs)})`);
  if (CHURN_MIN > 0) {
    // Read after Cesium has drawn a few frames (it frees removed primitives' resources on its next
    // update) and after two full collections: what is still held, not what is waiting to go.
    const heap = () =>
      page.evaluate(async () => {
        const w = window as unknown as { gc?: () => void; beaconProbe: { settle(): Promise<void> } };
        await w.beaconProbe.settle();
        w.gc?.();
        await new Promise((r) => setTimeout(r, 100));
        w.gc?.();
        return (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize;
      });
    // Start from a warm, collected heap: one churn tick first, so the Entity run's garbage and
    // first-use allocations are not counted as "before".
    await run('primitives', 1, CHURN_TRAILS);
    const before = await heap();
    const start = Date.now();
    const end = start + CHURN_MIN * 60_000;
    // the heap once a minute (after a full collection): a leak is a slope, one number is not
    const samples: { min: number; mb: number }[] = [{ min: 0, mb: before / 1048576 }];
    let nextSample = start + 60_000;
    let ticks = 0;
    while (Date.now() < end) {
      // 1 Hz: one tick of 20,000 moves, then wait out the second.
      const t0 = Date.now();
      await run('primitives', 1, CHURN_TRAILS);
      ticks++;
      if (Date.now() >= nextSample) {
        samples.push({ min: (Date.now() - start) / 60_000, mb: (await heap()) / 1048576 });
        nextSample += 60_000;
      }
      const left = 1000 - (Date.now() - t0);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
    }
    const after = await heap();
    samples.push({ min: (Date.now() - start) / 60_000, mb: after / 1048576 });
    line(
      `heap after ${CHURN_MIN} min of churn (${ticks} rebuilds+ticks)`,
      `${(before / 1048576).toFixed(1)} MB -> ${(after / 1048576).toFixed(1)} MB (${(((after - before) / before) * 100).toFixed(1)}%)`,
    );
    // least-squares slope over the samples after the first minute (warm-up: caches filling)
    const warm = samples.filter((x) => x.min >= 1);
    if (warm.length >= 3) {
      const mx = warm.reduce((a, x) => a + x.min, 0) / warm.length;
      const my = warm.reduce((a, x) => a + x.mb, 0) / warm.length;
      const slope = warm.reduce((a, x) => a + (x.min - mx) * (x.mb - my), 0) / warm.reduce((a, x) => a + (x.min - mx) ** 2, 0);
      line('  heap each minute (MB)', samples.map((x) => x.mb.toFixed(1)).join(' '));
      line('  trend after the first minute', `${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB/min (${(((slope * 60) / my) * 100).toFixed(1)}% an hour)`);
    }
    // The same tick on the aged heap: a hall runs for hours, and the figure above is a fresh page's.
    await clean();
    const aged = await run('primitives');
    line(`units as shipped, after the churn: JS per tick`, `median ${aged.jsMs.median.toFixed(1)} ms, p95 ${aged.jsMs.p95.toFixed(1)} ms   (fresh page: ${p.jsMs.median.toFixed(1)} ms)`);
  }
} finally {
  await browser.close();
  await server.stop();
  rmSync(data, { recursive: true, force: true });
}
