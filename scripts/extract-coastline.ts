// Builds data/coastline/east-asia-10m.json from Natural Earth's 1:10m land polygons (public
// domain; redistributed as TopoJSON by the ISC-licensed world-atlas package). Run once when the
// dataset is updated: `node scripts/extract-coastline.ts`; the output is committed so that the hall
// and its tests never need the package or the network at run time.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { feature } from 'topojson-client';
import type { Topology, GeometryObject } from 'topojson-specification';
import type { MultiPolygon, Polygon, Feature, FeatureCollection } from 'geojson';

const BBOX = { west: 100, south: 0, east: 150, north: 45 } as const;
const require = createRequire(import.meta.url);
const src = require.resolve('world-atlas/land-10m.json');
const topo = JSON.parse(readFileSync(src, 'utf8')) as Topology;
const land = feature(topo, topo.objects.land as GeometryObject) as unknown as FeatureCollection<Polygon | MultiPolygon> | Feature<Polygon | MultiPolygon>;
const feats = 'features' in land ? land.features : [land];
const rings: number[][] = [];
let points = 0;
for (const f of feats) {
  const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
  for (const poly of polys) {
    const outer = poly[0]!; // Holes (lakes) do not matter for landfall.
    const xs = outer.map((p) => p[0]!);
    const ys = outer.map((p) => p[1]!);
    if (Math.max(...xs) < BBOX.west || Math.min(...xs) > BBOX.east || Math.max(...ys) < BBOX.south || Math.min(...ys) > BBOX.north) continue;
    const flat: number[] = [];
    let px = NaN;
    let py = NaN;
    for (const [x, y] of outer as [number, number][]) {
      const rx = Math.round(x * 1000) / 1000;
      const ry = Math.round(y * 1000) / 1000;
      if (rx === px && ry === py) continue;
      flat.push(rx, ry);
      px = rx;
      py = ry;
    }
    if (flat.length >= 8) {
      rings.push(flat);
      points += flat.length / 2;
    }
  }
}
const out = {
  source: 'Natural Earth 1:10m land v4.1.0 (public domain), via world-atlas 2.0.2 (ISC); outer rings clipped to lon 100-150 E, lat 0-45 N, rounded to 0.001 degree',
  bbox: BBOX,
  rings,
};
const dest = join(import.meta.dirname, '..', 'data', 'coastline', 'east-asia-10m.json');
writeFileSync(dest, JSON.stringify(out));
process.stdout.write(`${rings.length} rings, ${points} points -> ${dest}\n`);
