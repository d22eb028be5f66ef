// The five-colour risk map (五色图) on the globe. Without imported county boundaries each county is
// a disc at its seat (about 9 km across, so it scales with the view like an area would). All discs
// are one Primitive built once; switching the horizon or a new level only rewrites per-instance
// colours, never the geometry.
import { Cartesian3, Color, ColorGeometryInstanceAttribute, EllipseGeometry, GeometryInstance, PerInstanceColorAppearance, Primitive, type CesiumWidget } from '@cesium/engine';
import type { Place, Risk, RiskHorizon, RiskLevel } from '../../common/domain.ts';

export const RISK_COLORS: Record<Exclude<RiskLevel, 'none'>, string> = { red: '#e53935', orange: '#fb8c00', yellow: '#fdd835', blue: '#1e88e5' };
const DISC_M = 9000;

export class RiskLayer {
  private readonly widget: CesiumWidget;
  private primitive: Primitive | null = null;
  private codes: string[] = [];
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

  /** Build the discs for these counties (once, or when the places change). */
  setCounties(places: Iterable<Place>): void {
    const counties = [...places].filter((p) => p.kind === 'county');
    const key = counties.map((c) => c.code).join(',');
    if (key === this.codes.join(',')) return;
    if (this.primitive) this.widget.scene.primitives.remove(this.primitive);
    this.codes = counties.map((c) => c.code);
    this.primitive = this.widget.scene.primitives.add(
      new Primitive({
        geometryInstances: counties.map(
          (c) =>
            new GeometryInstance({
              id: `risk:${c.code}`,
              geometry: new EllipseGeometry({ center: Cartesian3.fromDegrees(c.lon, c.lat), semiMajorAxis: DISC_M, semiMinorAxis: DISC_M, height: 0 }),
              attributes: { color: ColorGeometryInstanceAttribute.fromColor(Color.TRANSPARENT) },
            }),
        ),
        appearance: new PerInstanceColorAppearance({ translucent: true, flat: true, closed: false }),
        asynchronous: false,
      }),
    ) as Primitive;
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
      const attrs = this.primitive.getGeometryInstanceAttributes(`risk:${code}`) as { color: Uint8Array } | undefined;
      if (!attrs) continue;
      const l = level.get(code) ?? 'none';
      const c = l === 'none' ? Color.TRANSPARENT : Color.fromCssColorString(RISK_COLORS[l]).withAlpha(0.75);
      attrs.color = ColorGeometryInstanceAttribute.toValue(c, attrs.color);
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
