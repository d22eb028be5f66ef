// What a subscription narrowed to an area lets through (issue 23): boxes, and admin codes — a county
// by its boundary where the hall holds it (the boundaries topic), else by the hall a unit belongs to
// (`hall`, or its home city), so a city's console can ask for its counties by code.
import type { Area } from '../../../common/contract.ts';
import { pointInRing } from '../../../common/geo.ts';
import { isDescendant } from '../../../common/halls.ts';

export type Filter = (entity: unknown) => boolean;
/** A code's boundary as rings of [lon, lat, lon, lat, …], or null where the hall has none. */
export type PolygonsOf = (code: string) => readonly (readonly number[])[] | null;

interface Ring {
  w: number;
  s: number;
  e: number;
  n: number;
  pts: [number, number][];
}

function rings(flat: readonly (readonly number[])[]): Ring[] {
  return flat.map((r) => {
    const pts: [number, number][] = [];
    let w = Infinity;
    let s = Infinity;
    let e = -Infinity;
    let n = -Infinity;
    for (let i = 0; i + 1 < r.length; i += 2) {
      const lon = r[i]!;
      const lat = r[i + 1]!;
      pts.push([lon, lat]);
      w = Math.min(w, lon);
      e = Math.max(e, lon);
      s = Math.min(s, lat);
      n = Math.max(n, lat);
    }
    return { w, s, e, n, pts };
  });
}

export function areaFilter(area: Area, polygonsOf: PolygonsOf): Filter {
  const boxes = area.bbox ?? [];
  const shapes: Ring[] = [];
  const byHall: string[] = [];
  for (const code of area.codes ?? []) {
    const p = polygonsOf(code);
    if (p && p.length) shapes.push(...rings(p));
    else byHall.push(code);
  }
  return (v) => {
    const u = v as { lat?: unknown; lon?: unknown; hall?: unknown; home?: unknown };
    const lat = u.lat;
    const lon = u.lon;
    if (typeof lat === 'number' && typeof lon === 'number') {
      for (const [w, s, e, n] of boxes) if (lat >= s && lat <= n && (w <= e ? lon >= w && lon <= e : lon >= w || lon <= e)) return true;
      for (const r of shapes) if (lat >= r.s && lat <= r.n && lon >= r.w && lon <= r.e && pointInRing(lon, lat, r.pts)) return true;
    }
    if (byHall.length) {
      const code = typeof u.hall === 'string' ? u.hall : typeof u.home === 'string' ? u.home : null;
      if (code) for (const c of byHall) if (code === c || isDescendant(code, c)) return true;
    }
    return false;
  };
}
