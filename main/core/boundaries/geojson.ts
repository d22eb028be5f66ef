// County boundaries from the bureau's GeoJSON: checked feature by feature, converted from GCJ-02 when
// the operator says the file is in it, simplified to about 50 m (a hall's wall does not need the
// surveyor's metre, and every display receives these), and matched to the hall's places by code.
import { describeIssues } from '../../../common/contract.ts';
import { Boundary } from '../../../common/domain.ts';
import { gcj02ToWgs84 } from '../../../common/gcj02.ts';
import { pointInRing } from '../../../common/geo.ts';

export interface BoundaryProblem {
  feature: number | null;
  code?: string;
  message: string;
}
export interface BoundaryParse {
  boundaries: Boundary[];
  errors: BoundaryProblem[];
  warnings: BoundaryProblem[];
}

const CODE_FIELDS = ['code', 'adcode', 'CODE', 'ADCODE', 'gb', 'GB', 'PAC', 'pac'];
/** WGS-84 and CGCS2000 (China's datum: the same to well under a metre at map scale). */
const GEOGRAPHIC = /CRS84|EPSG:{1,2}(?:\d+(?:\.\d+)?:)?(?:4326|4490)\b/i;
const TOLERANCE = 0.0005; // degrees, ~50 m

type Pos = [number, number];

function ringArea(r: Pos[]): number {
  let a = 0;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) a += (r[j]![0] - r[i]![0]) * (r[j]![1] + r[i]![1]);
  return a / 2;
}

/** Douglas-Peucker. A closed ring is split at its point farthest from the start, so the two halves
 *  have distinct ends. */
export function simplify(r: Pos[], tol = TOLERANCE): Pos[] {
  if (r.length <= 4) return r;
  const [fx, fy] = r[0]!;
  const [lx, ly] = r[r.length - 1]!;
  if (fx === lx && fy === ly) {
    let m = 1;
    let best = -1;
    for (let i = 1; i < r.length - 1; i++) {
      const d = (r[i]![0] - fx) ** 2 + (r[i]![1] - fy) ** 2;
      if (d > best) {
        best = d;
        m = i;
      }
    }
    const out = [...simplifyOpen(r.slice(0, m + 1), tol), ...simplifyOpen(r.slice(m), tol).slice(1)];
    return out.length >= 4 ? out : r;
  }
  const out = simplifyOpen(r, tol);
  return out.length >= 4 ? out : r;
}

function simplifyOpen(r: Pos[], tol: number): Pos[] {
  if (r.length <= 2) return r;
  const keep = new Uint8Array(r.length);
  keep[0] = keep[r.length - 1] = 1;
  const stack: [number, number][] = [[0, r.length - 1]];
  while (stack.length) {
    const [a, b] = stack.pop()!;
    const [ax, ay] = r[a]!;
    const [bx, by] = r[b]!;
    const dx = bx - ax;
    const dy = by - ay;
    const len = Math.hypot(dx, dy) || 1e-12;
    let far = -1;
    let dmax = tol;
    for (let i = a + 1; i < b; i++) {
      const d = Math.abs(dy * r[i]![0] - dx * r[i]![1] + bx * ay - by * ax) / len;
      if (d > dmax) {
        dmax = d;
        far = i;
      }
    }
    if (far >= 0) {
      keep[far] = 1;
      stack.push([a, far], [far, b]);
    }
  }
  return r.filter((_, i) => keep[i]);
}

/** `input`: GeoJSON text, or a document already read (a shapefile through shapefileToGeoJson). */
export function parseBoundaries(
  input: string | object,
  opts: { gcj02?: boolean; codeField?: string; source: string; places: ReadonlyMap<string, { kind: string; lat: number; lon: number; name: { zh: string } }>; now?: number },
): BoundaryParse {
  const errors: BoundaryProblem[] = [];
  const warnings: BoundaryProblem[] = [];
  const boundaries: Boundary[] = [];
  let doc: unknown = input;
  try {
    if (typeof input === 'string') doc = JSON.parse(input);
  } catch (e) {
    return { boundaries, warnings, errors: [{ feature: null, message: `not JSON: ${(e as Error).message.slice(0, 200)}` }] };
  }
  const d = doc as { type?: unknown; features?: unknown; crs?: { properties?: { name?: unknown } } };
  const features = d?.type === 'FeatureCollection' && Array.isArray(d.features) ? d.features : d?.type === 'Feature' ? [d] : null;
  if (!features) return { boundaries, warnings, errors: [{ feature: null, message: 'not a GeoJSON FeatureCollection (or Feature)' }] };
  const crs = d.crs?.properties?.name;
  if (crs !== undefined && (typeof crs !== 'string' || !GEOGRAPHIC.test(crs))) {
    return { boundaries, warnings, errors: [{ feature: null, message: `wrong CRS ${String(crs).slice(0, 80)}: export the file in WGS-84 or CGCS2000 longitude/latitude (EPSG:4326 or 4490)` }] };
  }
  const seen = new Set<string>();
  features.forEach((f: unknown, i: number) => {
    const n = i + 1;
    const feat = f as { type?: unknown; properties?: Record<string, unknown> | null; geometry?: { type?: unknown; coordinates?: unknown } | null };
    if (feat?.type !== 'Feature') return errors.push({ feature: n, message: 'not a Feature' });
    const props = feat.properties ?? {};
    const field = opts.codeField ?? CODE_FIELDS.find((k) => props[k] !== undefined && props[k] !== null);
    const raw = field ? props[field] : undefined;
    const code = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
    if (!/^\d{6}$/.test(code))
      return errors.push({
        feature: n,
        message: field ? `property ${field} is not a 6-digit GB/T 2260 code: ${String(raw).slice(0, 20)}` : `no code property (looked for ${opts.codeField ?? CODE_FIELDS.join(', ')})`,
      });
    const place = opts.places.get(code);
    if (!place || (place.kind !== 'county' && place.kind !== 'city')) return errors.push({ feature: n, code, message: `unknown code ${code}: not a city or county of this hall` });
    if (seen.has(code)) return errors.push({ feature: n, code, message: `code ${code} appears twice; the first one is kept` });
    const g = feat.geometry;
    const polys = g?.type === 'Polygon' ? [g.coordinates] : g?.type === 'MultiPolygon' ? (g.coordinates as unknown[]) : null;
    if (!polys || !Array.isArray(polys)) return errors.push({ feature: n, code, message: `geometry must be a Polygon or MultiPolygon, not ${String(g?.type ?? 'nothing')}` });
    const out: number[][][] = [];
    for (const poly of polys) {
      if (!Array.isArray(poly) || poly.length === 0) return errors.push({ feature: n, code, message: 'a polygon without rings' });
      const rings: number[][] = [];
      for (const ring of poly as unknown[]) {
        if (!Array.isArray(ring) || ring.length < 4) return errors.push({ feature: n, code, message: 'a ring with fewer than 4 positions' });
        const pts: Pos[] = [];
        for (const p of ring as unknown[]) {
          const [x, y] = Array.isArray(p) ? (p as unknown[]) : [];
          if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y)) return errors.push({ feature: n, code, message: 'a position that is not two numbers' });
          if (Math.abs(x) > 180 || Math.abs(y) > 90)
            return errors.push({ feature: n, code, message: `position ${x}, ${y} is not longitude/latitude (a projected file, in metres?): export in WGS-84` });
          pts.push(opts.gcj02 ? gcj02ToWgs84(x, y) : [x, y]);
        }
        const [fx, fy] = pts[0]!;
        const [lx, ly] = pts[pts.length - 1]!;
        if (fx !== lx || fy !== ly) {
          warnings.push({ feature: n, code, message: 'a ring was not closed; closed it' });
          pts.push([fx, fy]);
        }
        if (Math.abs(ringArea(pts)) < 1e-10) return errors.push({ feature: n, code, message: 'a ring with no area' });
        rings.push(simplify(pts).flatMap(([x, y]) => [Math.round(x * 1e5) / 1e5, Math.round(y * 1e5) / 1e5]));
      }
      out.push(rings);
    }
    // The seat should lie inside: a seat outside by a few hundred metres is the GCJ-02 offset.
    const inside = out.some((rings) => {
      const outer = rings[0]!;
      const ring: Pos[] = [];
      for (let k = 0; k < outer.length; k += 2) ring.push([outer[k]!, outer[k + 1]!]);
      return pointInRing(place.lon, place.lat, ring);
    });
    if (!inside) warnings.push({ feature: n, code, message: `the seat of ${place.name.zh} is outside this boundary${opts.gcj02 ? '' : ' (a GCJ-02 file not flagged as such?)'}` });
    const b = Boundary.safeParse({ id: code, polygons: out, source: opts.source.slice(0, 200), importedAt: opts.now ?? Date.now() });
    if (!b.success) return errors.push({ feature: n, code, message: describeIssues(b.error) });
    seen.add(code);
    boundaries.push(b.data);
  });
  return { boundaries, errors, warnings };
}
