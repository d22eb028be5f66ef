// The five-colour risk map (五色图) on the globe: each county filled within its imported boundary,
// or, without one, a disc at its seat (9 km in radius, so it scales with the view like an area).
// All of it is one Primitive, built when the places or boundaries change; switching the horizon
// or a new level only rewrites per-instance colours, never the geometry.
import {
  Cartesian3,
  Color,
  ColorGeometryInstanceAttribute,
  EllipseGeometry,
  GeometryInstance,
  PerInstanceColorAppearance,
  PolygonGeometry,
  PolygonHierarchy,
  Primitive,
  type CesiumWidget,
} from '@cesium/engine';
import type { Boundary, Place, Risk, RiskHorizon, RiskLevel } from '../../common/domain.ts';

export const RISK_COLORS: Record<Exclude<RiskLevel, 'none'>, string> = { red: '#e53935', orange: '#fb8c00', yellow: '#fdd835', blue: '#1e88e5' };
const DISC_M = 9000;

export class RiskLayer {
  private readonly widget: CesiumWidget;
  private primitive: Primitive | null = null;
  private codes: string[] = [];
  /** Instance ids per county (a county with islands has several polygons). */
  private instances = new Map<string, string[]>();
  private key = '';
  private shown = 0;
  private pending: { risks: Risk[]; horizon: RiskHorizon; done?: (n: number) => void } | null = null;
  /** Told the number of coloured discs whenever it is applied (it may be a frame later). */
  onShown: ((n: number) => void) | null = null;

  constructor(widget: CesiumWidget) {
    this.widget = widget;
    // A Primitive's instances exist only once it has been built in a frame: colours asked for
    // before that are applied after the first frame that built it.
    widget.scene.postRender.addEventListener(() => {
      if (this.pending && this.primitive?.ready) {
        const p = this.pending;
        this.pending = null;
        this.apply(p.risks, p.horizon);
      }
    });
  }

  /** Build the areas for these counties (once, or when the places or boundaries change). */
  setCounties(places: Iterable<Place>, boundaries: ReadonlyMap<string, Boundary> = new Map()): void {
    const counties = [...places].filter((p) => p.kind === 'county');
    const key = counties.map((c) => c.code + (boundaries.get(c.code)?.importedAt ?? '')).join(',');
    if (key === this.key) return;
    this.key = key;
    if (this.primitive) this.widget.scene.primitives.remove(this.primitive);
    this.codes = counties.map((c) => c.code);
    this.instances = new Map();
    const geometryInstances: GeometryInstance[] = [];
    const color = { color: ColorGeometryInstanceAttribute.fromColor(Color.TRANSPARENT) };
    for (const c of counties) {
      const ids: string[] = [];
      const b = boundaries.get(c.code);
      if (b) {
        b.polygons.forEach((rings, k) => {
          const id = `risk:${c.code}:${k}`;
          const [outer, ...holes] = rings.map((r) => Cartesian3.fromDegreesArray(r));
          geometryInstances.push(
            new GeometryInstance({
              id,
              geometry: new PolygonGeometry({
                polygonHierarchy: new PolygonHierarchy(
                  outer,
                  holes.map((h) => new PolygonHierarchy(h)),
                ),
                height: 0,
              }),
              attributes: { ...color },
            }),
          );
          ids.push(id);
        });
      } else {
        const id = `risk:${c.code}:disc`;
        geometryInstances.push(
          new GeometryInstance({
            id,
            geometry: new EllipseGeometry({ center: Cartesian3.fromDegrees(c.lon, c.lat), semiMajorAxis: DISC_M, semiMinorAxis: DISC_M, height: 0 }),
            attributes: { ...color },
          }),
        );
        ids.push(id);
      }
      this.instances.set(c.code, ids);
    }
    this.primitive = this.widget.scene.primitives.add(
      new Primitive({ geometryInstances, appearance: new PerInstanceColorAppearance({ translucent: true, flat: true, closed: false }), asynchronous: false }),
    ) as Primitive;
  }

  /** Counties drawn as their boundary (not a disc). */
  polygons(): number {
    return [...this.instances.values()].filter((ids) => !ids[0]!.endsWith(':disc')).length;
  }

  /** Colour each disc by its level for the horizon (now, or after the frame that builds the discs). */
  show(risks: Iterable<Risk>, horizon: RiskHorizon): void {
    const list = [...risks];
    if (!this.primitive?.ready) {
      this.pending = { risks: list, horizon };
      this.widget.scene.requestRender();
      return;
    }
    this.apply(list, horizon);
  }

  private apply(risks: Risk[], horizon: RiskHorizon): void {
    if (!this.primitive) return;
    const level = new Map<string, RiskLevel>();
    for (const r of risks) level.set(r.id, r.levels[horizon]);
    let n = 0;
    for (const code of this.codes) {
      const l = level.get(code) ?? 'none';
      const c = l === 'none' ? Color.TRANSPARENT : Color.fromCssColorString(RISK_COLORS[l]).withAlpha(0.6);
      for (const id of this.instances.get(code) ?? []) {
        const attrs = this.primitive.getGeometryInstanceAttributes(id) as { color: Uint8Array } | undefined;
        if (attrs) attrs.color = ColorGeometryInstanceAttribute.toValue(c, attrs.color);
      }
      if (l !== 'none') n++;
    }
    this.shown = n;
    this.onShown?.(n);
    this.widget.scene.requestRender();
  }

  count(): number {
    return this.shown;
  }

  destroy(): void {
    if (this.primitive && !this.widget.isDestroyed()) this.widget.scene.primitives.remove(this.primitive);
  }
}
