// The globe's hot-path arithmetic, checked against Cesium's own in Node: degrees to Earth-centred
// metres (ecefFromDegrees against Cartesian3.fromDegrees), the trail layer's bookkeeping (head
// following, a point fixed every 10 s, the window, the cap), and the unit points' bookkeeping on
// Cesium's buffer collection (indexes reused, growth, picking names). The trail layer draws into a
// PolylineCollection that needs WebGL only when a frame is drawn; here no frame is drawn, so its
// Scene is a stand-in that records what the layer asks of it (the drawing is covered in the
// browser by tests/e2e/serve.test.ts).
import { Cartesian3, Color, type Scene } from '@cesium/engine';
import { describe, expect, it } from 'vitest';
import { ecefFromDegrees, ecefStep } from '../../renderer/globe/geo.ts';
import { LAT, LON, UnitRows, WIDTH } from '../../renderer/globe/rows.ts';
import { TrailLayer } from '../../renderer/globe/trails.ts';
import { UnitPoints } from '../../renderer/globe/unit-points.ts';

describe('ecefFromDegrees', () => {
  it('gives the same point as Cesium everywhere on the globe, to a millimetre', () => {
    const out = { x: 0, y: 0, z: 0 };
    let worst = 0;
    const lons = [
      -180, -179.99, -135.01, -135, -134.99, -90, -45.01, -45, -44.99, -0.001, 0, 0.001, 44.99, 45, 45.01, 89.99, 90, 90.01, 118.5, 120.16, 121.47, 122.9, 134.99, 135, 135.01, 179.99, 180,
    ];
    const lats = [-90, -89.99, -45.01, -45, -44.99, -10, 0, 1e-9, 27.1, 29.87, 30.25, 31.4, 44.99, 45, 45.01, 89.99, 90];
    for (const lon of lons)
      for (const lat of lats)
        for (const h of [0, 1234.5, -50, 120_000]) {
          const want = Cartesian3.fromDegrees(lon, lat, h);
          ecefFromDegrees(lon, lat, h, out);
          worst = Math.max(worst, Math.hypot(out.x - want.x, out.y - want.y, out.z - want.z));
        }
    expect(worst).toBeLessThan(1e-3);
    // and a random sweep, longitudes past ±180 included (they wrap as Cesium's do)
    let seed = 7;
    const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let i = 0; i < 20_000; i++) {
      const lon = rnd() * 400 - 200;
      const lat = rnd() * 180 - 90;
      const want = Cartesian3.fromDegrees(lon, lat, 500);
      ecefFromDegrees(lon, lat, 500, out);
      worst = Math.max(worst, Math.hypot(out.x - want.x, out.y - want.y, out.z - want.z));
    }
    expect(worst).toBeLessThan(1e-3);
  });
});

describe('ecefStep', () => {
  // A unit's row as the globe keeps it; NaN: no position yet.
  const row = () => {
    const d = new Float64Array(WIDTH);
    d[LAT] = Number.NaN;
    return d;
  };
  const gap = (a: { x: number; y: number; z: number }, b: Cartesian3) => Math.hypot(a.x - b.x, a.y - b.y, a.z - b.z);

  it('follows a unit that moves a little at a time to a millimetre of Cesium, over a day of 1 Hz reports', () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const out = { x: 0, y: 0, z: 0 };
    for (const resync of [64, Number.POSITIVE_INFINITY]) {
      const d = row();
      let lon = 120.16;
      let lat = 30.25;
      let worst = 0;
      let turned = 0;
      for (let k = 0; k < 86_400; k++) {
        // up to ~30 m a second, now and then a jump of a few km (a fix after a tunnel)
        const jump = k % 5000 === 4999 ? 0.05 : 0.0003;
        lon += (rnd() - 0.5) * jump;
        lat += (rnd() - 0.5) * jump;
        const exact = k % resync === 0;
        if (!exact && !Number.isNaN(d[LAT]!)) turned++;
        ecefStep(d, 0, lon, lat, 12.5, exact, out);
        if (k % 97 === 0 || k === 86_399) worst = Math.max(worst, gap(out, Cartesian3.fromDegrees(lon, lat, 12.5)));
      }
      // the row holds where the unit is now
      expect([d[LON], d[LAT]]).toEqual([lon, lat]);
      expect(turned).toBeGreaterThan(80_000);
      // even never computed afresh, rounding stays far below a millimetre over a day
      expect(worst).toBeLessThan(1e-3);
    }
  });

  it('computes afresh for a first position, a large step, the antimeridian and the poles', () => {
    const out = { x: 0, y: 0, z: 0 };
    const d = row();
    const path: [number, number][] = [
      [121.47, 31.23],
      [121.48, 31.24],
      [-74.0, 40.7],
      [179.99, 10],
      [-179.99, 10],
      [180.0, 89.999],
      [0, 90],
      [0.05, 89.95],
      [-0.05, -90],
      [45, -89.99],
    ];
    for (const [lon, lat] of path) {
      ecefStep(d, 0, lon, lat, 0, false, out);
      expect(gap(out, Cartesian3.fromDegrees(lon, lat, 0))).toBeLessThan(1e-3);
    }
    // a different row in the same array is its own: offsets are honoured
    const two = new Float64Array(WIDTH * 2);
    two[LAT] = two[WIDTH + LAT] = Number.NaN;
    ecefStep(two, WIDTH, 100, 20, 0, false, out);
    expect(Number.isNaN(two[LAT]!)).toBe(true);
    expect(two[WIDTH + LON]).toBe(100);
  });
});

// Cesium's Material tells a colour from an image with instanceof checks against browser classes:
// Node has none of them, and no value here is one.
for (const name of ['HTMLCanvasElement', 'HTMLImageElement', 'ImageBitmap', 'OffscreenCanvas']) (globalThis as Record<string, unknown>)[name] ??= class {};

describe('TrailLayer', () => {
  // What the layer asks of the scene: add its collection once, render after a rebuild.
  function layer(opts: { minutes?: number; maxTrails?: number } = {}) {
    let clock = 1_000_000;
    const renders = { n: 0 };
    const scene = { primitives: { add: (x: unknown) => x, remove: () => true }, requestRender: () => void renders.n++ } as unknown as Scene;
    const rows = new UnitRows(4);
    const trails = new TrailLayer(scene, rows, { ...opts, now: () => clock });
    // a unit's row is its index on the globe: handed out in order, from 0 again after a snapshot
    let next = 0;
    const unit = (): number => {
      rows.take(next);
      return next++;
    };
    const reset = () => void (next = 0);
    const advance = (ms: number) => {
      clock += ms;
      trails.stamp();
    };
    return { trails, advance, renders, reset, unit, lines: () => (trails as unknown as { lines: { length: number; get(i: number): { positions: Cartesian3[] } } }).lines };
  }
  const deg = 1 / 111_320; // about a metre of latitude
  const red = Color.RED;

  it('a unit that moves draws a trail whose head follows it, with a point fixed every 10 s', () => {
    const { trails, advance, lines, unit } = layer();
    try {
      advance(0);
      const a = unit();
      trails.record(a, 'a', 120, 30, 0, red, true);
      // 1 Hz moves of ~100 m north for 25 s
      for (let s = 1; s <= 25; s++) {
        advance(1000);
        trails.record(a, 'a', 120, 30 + s * 100 * deg, 0, red, true);
      }
      trails.refresh();
      expect(trails.count()).toBe(1);
      const pos = lines().get(0).positions;
      // start, the points fixed after 10 s and 20 s, and the head where the unit is now
      expect(pos.length).toBe(4);
      const head = pos[pos.length - 1]!;
      const now = Cartesian3.fromDegrees(120, 30 + 25 * 100 * deg, 0);
      expect(Cartesian3.distance(head, now)).toBeLessThan(0.01);
      const start = Cartesian3.fromDegrees(120, 30, 0);
      expect(Cartesian3.distance(pos[0]!, start)).toBeLessThan(0.01);
      // the fixed points are ~10 s (~1 km) apart: the head is fixed where it was when 10 s had passed
      expect(Cartesian3.distance(pos[1]!, pos[0]!)).toBeGreaterThan(850);
      expect(Cartesian3.distance(pos[1]!, pos[0]!)).toBeLessThan(1100);
    } finally {
      trails.destroy();
    }
  });

  it('draws the same trail whether rebuilt every second or once after many fixed points', () => {
    // A point fixed in a tick is noted in the unit's row and taken into the trail at the next
    // rebuild; a unit can fix several between two rebuilds (a display that stopped rebuilding).
    const drawn = (refreshEvery: number) => {
      const { trails, advance, lines, unit } = layer();
      try {
        advance(0);
        const a = unit();
        trails.record(a, 'a', 120, 30, 0, red, true);
        for (let s = 1; s <= 47; s++) {
          advance(1000);
          trails.record(a, 'a', 120 + ((s * s) % 7) * 30 * deg, 30 + s * 100 * deg, s, red, true);
          if (s % refreshEvery === 0) trails.refresh();
        }
        trails.refresh();
        return lines()
          .get(0)
          .positions.map((p) => [p.x, p.y, p.z]);
      } finally {
        trails.destroy();
      }
    };
    const everySecond = drawn(1);
    expect(everySecond.length).toBe(7); // the start, the head as it was at 9, 18, 27, 36 and 45 s, the head
    expect(drawn(47)).toEqual(everySecond);
    expect(drawn(23)).toEqual(everySecond);
  });

  it('moves under 15 m are not drawn; a unit that stands still for the whole window loses its trail', () => {
    const { trails, advance, lines, unit } = layer({ minutes: 1 });
    try {
      advance(0);
      const a = unit();
      trails.record(a, 'a', 120, 30, 0, red, true);
      for (let s = 1; s <= 5; s++) {
        advance(1000);
        trails.record(a, 'a', 120, 30 + s * 2 * deg, 0, red, true); // 2 m a second: jitter
      }
      trails.refresh();
      expect(trails.count()).toBe(0);
      advance(1000);
      trails.record(a, 'a', 120.01, 30, 0, red, true); // ~1 km east
      trails.refresh();
      expect(trails.count()).toBe(1);
      expect(lines().get(0).positions.length).toBe(2);
      // still for 61 s: past the window, the trail shrinks to its last point and goes
      advance(61_000);
      trails.refresh();
      expect(trails.count()).toBe(0);
    } finally {
      trails.destroy();
    }
  });

  it('a trail outlives a snapshot that replaces every unit, and goes on from the new row', () => {
    const { trails, advance, reset, unit, lines } = layer();
    try {
      advance(0);
      const a = unit();
      trails.record(a, 'a', 120, 30, 0, red, true);
      advance(1000);
      trails.record(a, 'a', 120, 30.01, 0, red, true);
      // a snapshot: rows handed out anew, a different unit takes the old row first
      trails.detachAll();
      reset();
      const other = unit();
      trails.record(other, 'b', 100, 10, 0, red, true);
      const again = unit();
      advance(1000);
      trails.record(again, 'a', 120, 30.02, 0, red, true);
      trails.refresh();
      const pos = lines().get(0).positions;
      expect(pos.length).toBe(2);
      expect(Cartesian3.distance(pos[1]!, Cartesian3.fromDegrees(120, 30.02, 0))).toBeLessThan(0.01);
      expect(Cartesian3.distance(pos[0]!, Cartesian3.fromDegrees(120, 30, 0))).toBeLessThan(0.01);
    } finally {
      trails.destroy();
    }
  });

  it('draws at most maxTrails, freshest movers first', () => {
    const { trails, advance, unit, lines } = layer({ maxTrails: 3 });
    try {
      advance(0);
      const units = Array.from({ length: 6 }, () => unit());
      units.forEach((o, i) => trails.record(o, `u${i}`, 120 + i * 0.1, 30, 0, red, true));
      units.forEach((o, i) => {
        advance(1000);
        trails.record(o, `u${i}`, 120 + i * 0.1, 30.01, 0, red, true);
      });
      trails.refresh();
      expect(trails.count()).toBe(3);
      // the three that moved last: u3, u4, u5 (their trails start east of 120.25°)
      const drawn = [0, 1, 2].map((i) => lines().get(i).positions[0]!);
      for (const p of drawn) expect(Math.atan2(p.y, p.x) * (180 / Math.PI)).toBeGreaterThan(120.25);
      trails.setMinutes(0);
      expect(trails.count()).toBe(0);
      const x = unit();
      trails.record(x, 'x', 120, 30, 0, red, true);
      expect((trails as unknown as { trails: Map<string, unknown> }).trails.size).toBe(0);
    } finally {
      trails.destroy();
    }
  });
});

describe('UnitPoints', () => {
  // The collection's buffers are typed arrays: adding, moving and styling need no WebGL. The scene
  // stand-in keeps what is added and destroys what is removed, as Cesium's PrimitiveCollection does.
  function scene() {
    type P = { destroy(): void };
    const held: P[] = [{ destroy() {} }]; // something drawn before the units
    const primitives = {
      get length() {
        return held.length;
      },
      get: (i: number) => held[i],
      add: (x: P, at = held.length) => (held.splice(at, 0, x), x),
      remove: (x: P) => (held.splice(held.indexOf(x), 1), x.destroy(), true),
    };
    return { s: { primitives } as unknown as Scene, held };
  }
  const at = (lon: number, lat: number) => Cartesian3.fromDegrees(lon, lat);
  const style = { color: Color.RED, outlineColor: Color.YELLOW, outlineWidth: 2, size: 7 };
  const picks = (u: UnitPoints) => (u as unknown as { coll: { _customPickObjects: { id: string }[] } }).coll._customPickObjects;

  it('a removed unit frees its point for the next one, which is picked under its own name', () => {
    const { s } = scene();
    const u = new UnitPoints(s, 4);
    const a = u.add('unit:a', at(120, 30), style, true);
    const b = u.add('unit:b', at(121, 30), style, true);
    expect(u.length).toBe(2);
    u.remove(a);
    expect(u.isShown(a)).toBe(false);
    expect(picks(u)[a]!.id).toBe('');
    const c = u.add('unit:c', at(122, 31), { ...style, color: Color.BLUE }, true);
    expect(c).toBe(a);
    expect(picks(u)[c]!.id).toBe('unit:c');
    expect(u.isShown(c)).toBe(true);
    expect(Cartesian3.distance(u.position(c, new Cartesian3()), at(122, 31))).toBeLessThan(1e-6);
    expect(u.styleOf(c).color.blue).toBeGreaterThan(0.99);
    expect(Cartesian3.distance(u.position(b, new Cartesian3()), at(121, 30))).toBeLessThan(1e-6);
    expect(u.length).toBe(2);
  });

  it('grows past its capacity keeping every point, its style, visibility and name', () => {
    const { s, held } = scene();
    const u = new UnitPoints(s, 4);
    held.push({ destroy() {} }); // and something drawn after the units (their labels)
    const ids = Array.from({ length: 11 }, (_, k) => u.add(`unit:${k}`, at(120 + k / 10, 30), { ...style, size: 5 + k }, k % 2 === 0));
    expect(held.length).toBe(3); // the old collections were removed (and destroyed)
    expect(held[1]).toBe((u as unknown as { coll: unknown }).coll); // in their place in the draw order
    ids.forEach((i, k) => {
      expect(Cartesian3.distance(u.position(i, new Cartesian3()), at(120 + k / 10, 30))).toBeLessThan(1e-6);
      expect(u.styleOf(i).size).toBe(5 + k);
      expect(u.isShown(i)).toBe(k % 2 === 0);
      expect(picks(u)[i]!.id).toBe(`unit:${k}`);
    });
    u.setShow(ids[1]!, true);
    expect(u.isShown(ids[1]!)).toBe(true);
    u.clear();
    expect(u.length).toBe(0);
    ids.forEach((i) => expect(u.isShown(i)).toBe(false));
    expect(u.add('unit:x', at(120, 30), style, true)).toBe(0);
    expect(picks(u)[0]!.id).toBe('unit:x');
  });
});
