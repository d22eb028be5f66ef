// The typhoon layer of the situation globe: the observed track coloured by grade, fix markers, the
// storm's position at the replay time, each agency's forecast in its own style with lead times,
// the cone, wind circles from the four quadrant radii, and China's 24/48-hour warning lines.
// Geometry is built when its data changes (a new track, a new advisory) and only shown or hidden
// as the replay moves; per frame only the centre marker moves.
import {
  Cartesian2,
  Cartesian3,
  Color,
  ColorGeometryInstanceAttribute,
  defined,
  GeometryInstance,
  LabelCollection,
  LabelStyle,
  Material,
  PerInstanceColorAppearance,
  PointPrimitive,
  PointPrimitiveCollection,
  PolygonGeometry,
  PolygonHierarchy,
  Polyline,
  PolylineCollection,
  Primitive,
  PrimitiveCollection,
  SceneTransforms,
  ScreenSpaceEventHandler,
  ScreenSpaceEventType,
  VerticalOrigin,
  type CesiumWidget,
} from '@cesium/engine';
import type { Advisory, Fix, Grade, Typhoon, WindForce } from '../../common/domain.ts';
import { cone, currentAdvisories, fixesAsTrack, pointAt, WARNING_LINE_24H, WARNING_LINE_48H, windCircle } from '../../common/typhoon.ts';

export const GRADE_COLORS: Record<Grade | 'none', string> = {
  TD: '#4ade80',
  TS: '#38bdf8',
  STS: '#facc15',
  TY: '#fb923c',
  STY: '#f472b6',
  SuperTY: '#ef4444',
  none: '#9ca3af',
};
export const AGENCY_COLORS: Record<string, string> = { CMA: '#ff4d4f', JMA: '#52c41a', JTWC: '#40a9ff', KMA: '#b37feb', HKO: '#fadb14', CWA: '#13c2c2' };
export const agencyColor = (a: string) => AGENCY_COLORS[a] ?? '#d9d9d9';
const CIRCLE_COLORS: Record<WindForce, string> = { 7: '#ffd60a', 10: '#ff8c00', 12: '#ff2d55' };
export const WARNING_COLORS = { h24: '#ff6b35', h48: '#5b8cff' } as const;

export interface FixHover {
  x: number;
  y: number;
  fix: Fix;
}

export interface TyphoonLayerState {
  storm: string | null;
  t: number | null;
  centre: { lat: number; lon: number } | null;
  segments: number;
  forecasts: number;
  circles: number;
  cones: number;
  warning: boolean;
  circlesShown: boolean;
}

const fmt = (t: number) => {
  // Beijing time, as the hall reads forecasts: "10日08时".
  const d = new Date(t + 8 * 3600_000);
  return `${d.getUTCDate()}日${String(d.getUTCHours()).padStart(2, '0')}时`;
};

export class TyphoonLayer {
  private readonly widget: CesiumWidget;
  private readonly root = new PrimitiveCollection();
  private readonly track = new PolylineCollection();
  private readonly fixes = new PointPrimitiveCollection();
  private readonly centre = new PointPrimitiveCollection();
  private readonly forecastLines = new PolylineCollection();
  private readonly forecastPoints = new PointPrimitiveCollection();
  private readonly labels = new LabelCollection();
  private readonly warning = new PolylineCollection();
  private readonly warningLabels = new LabelCollection();
  private circles = new PrimitiveCollection();
  private circlesOn = true;
  private circleLines = new PolylineCollection();
  private readonly handler: ScreenSpaceEventHandler;
  private segs: { poly: Polyline; t: number }[] = [];
  private fixPts: { p: PointPrimitive; t: number }[] = [];
  private centrePoint: PointPrimitive;
  private storm: Typhoon | null = null;
  private advisoriesKey = '';
  private shownAdvisories: Advisory[] = [];
  private all: Advisory[] = [];
  private t: number | null = null;
  private pulse: ReturnType<typeof setInterval> | null = null;
  readonly state: TyphoonLayerState = { storm: null, t: null, centre: null, segments: 0, forecasts: 0, circles: 0, cones: 0, warning: true, circlesShown: true };

  constructor(widget: CesiumWidget, onHover: (h: FixHover | null) => void) {
    this.widget = widget;
    this.root.add(this.warning);
    this.root.add(this.warningLabels);
    this.root.add(this.circles);
    this.root.add(this.track);
    this.root.add(this.forecastLines);
    this.root.add(this.forecastPoints);
    this.root.add(this.fixes);
    this.root.add(this.labels);
    this.root.add(this.centre);
    widget.scene.primitives.add(this.root);
    this.centrePoint = this.centre.add({ pixelSize: 18, color: Color.fromCssColorString('#ff2d55'), outlineColor: Color.WHITE, outlineWidth: 3, show: false });
    this.buildWarningLines();
    // Hover over a fix: time, pressure, wind. Picking renders a frame, so at most 10 a second.
    this.handler = new ScreenSpaceEventHandler(widget.scene.canvas);
    let last = 0;
    this.handler.setInputAction((e: { endPosition: Cartesian2 }) => {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      const picked = widget.scene.pick(e.endPosition) as { id?: unknown } | undefined;
      if (defined(picked) && typeof picked.id === 'string' && picked.id.startsWith('fix:') && this.storm) {
        const fix = this.storm.fixes[Number(picked.id.slice(4))];
        if (fix) return onHover({ x: e.endPosition.x, y: e.endPosition.y, fix });
      }
      onHover(null);
    }, ScreenSpaceEventType.MOUSE_MOVE);
    // The current position pulses, twice a second (a render each: cheap even on software WebGL).
    this.pulse = setInterval(() => {
      if (!this.centrePoint.show) return;
      this.centrePoint.pixelSize = this.centrePoint.pixelSize === 18 ? 24 : 18;
      widget.scene.requestRender();
    }, 500);
  }

  setWarningLines(on: boolean): void {
    this.warning.show = on;
    this.warningLabels.show = on;
    this.state.warning = on;
    this.widget.scene.requestRender();
  }

  /** Wind circles and cones on or off (the track and forecasts stay). */
  setCirclesVisible(on: boolean): void {
    this.circlesOn = on;
    this.circles.show = on;
    this.state.circlesShown = on;
    this.widget.scene.requestRender();
  }

  /** A new or changed storm track: rebuild the track (only then). */
  setStorm(storm: Typhoon | null): void {
    if (storm === this.storm) return;
    this.storm = storm;
    this.track.removeAll();
    this.fixes.removeAll();
    this.segs = [];
    this.fixPts = [];
    this.state.storm = storm?.id ?? null;
    if (storm) {
      const f = storm.fixes;
      for (let i = 0; i < f.length - 1; i++) {
        const a = f[i]!;
        const b = f[i + 1]!;
        const poly = this.track.add({
          positions: Cartesian3.fromDegreesArray([a.lon, a.lat, b.lon, b.lat]),
          width: 4,
          material: Material.fromType('Color', { color: Color.fromCssColorString(GRADE_COLORS[a.grade ?? 'none']) }),
        });
        this.segs.push({ poly, t: b.t });
      }
      f.forEach((x, i) => {
        // 3 km up: in front of the track line through it, so hovering picks the fix, not the line.
        const p = this.fixes.add({
          id: `fix:${i}`,
          position: Cartesian3.fromDegrees(x.lon, x.lat, 3000),
          pixelSize: 7,
          color: Color.fromCssColorString(GRADE_COLORS[x.grade ?? 'none']),
          outlineColor: Color.BLACK,
          outlineWidth: 1,
        });
        this.fixPts.push({ p, t: x.t });
      });
    }
    this.advisoriesKey = '';
    this.update(this.t);
  }

  setAdvisories(all: Advisory[]): void {
    this.all = all;
    this.advisoriesKey = '';
    this.update(this.t);
  }

  /** Move to storm time t: show the track so far, move the centre, and switch to the advisories
   *  current at t (their geometry is built only when that set changes). */
  update(t: number | null): void {
    this.t = t;
    this.state.t = t;
    const storm = this.storm;
    if (!storm || t === null) {
      this.centrePoint.show = false;
      this.state.centre = null;
      this.buildAdvisories([]);
      this.widget.scene.requestRender();
      return;
    }
    let visible = 0;
    for (const s of this.segs) {
      s.poly.show = s.t <= t;
      if (s.poly.show) visible++;
    }
    for (const f of this.fixPts) f.p.show = f.t <= t;
    this.state.segments = visible;
    const current = currentAdvisories(this.all, storm.id, t);
    const p = pointAt(fixesAsTrack(storm.fixes), t) ?? current.map((a) => pointAt([a.current, ...a.forecast], t)).find((x) => x) ?? null;
    if (p) {
      this.centrePoint.position = Cartesian3.fromDegrees(p.lon, p.lat);
      this.centrePoint.show = true;
      this.state.centre = { lat: Math.round(p.lat * 100) / 100, lon: Math.round(p.lon * 100) / 100 };
    } else {
      this.centrePoint.show = false;
      this.state.centre = null;
    }
    const key = current.map((a) => a.id).join('|');
    if (key !== this.advisoriesKey) {
      this.advisoriesKey = key;
      this.buildAdvisories(current);
    }
    this.widget.scene.requestRender();
  }

  destroy(): void {
    if (this.pulse) clearInterval(this.pulse);
    this.handler.destroy();
    if (!this.widget.isDestroyed()) this.widget.scene.primitives.remove(this.root);
  }

  private buildAdvisories(list: Advisory[]): void {
    this.shownAdvisories = list;
    this.forecastLines.removeAll();
    this.forecastPoints.removeAll();
    this.labels.removeAll();
    this.root.remove(this.circles);
    this.circles = new PrimitiveCollection();
    this.circles.show = this.circlesOn;
    this.root.add(this.circles);
    // The old collection (polygons and outlines) was destroyed with its parent just above.
    this.circleLines = new PolylineCollection();
    this.circles.add(this.circleLines);
    let circles = 0;
    let cones = 0;
    const polygon = (ring: [number, number][], color: string, alpha: number) =>
      new Primitive({
        geometryInstances: new GeometryInstance({
          geometry: new PolygonGeometry({ polygonHierarchy: new PolygonHierarchy(Cartesian3.fromDegreesArray(ring.slice(0, -1).flat())), height: 0 }),
          attributes: { color: ColorGeometryInstanceAttribute.fromColor(Color.fromCssColorString(color).withAlpha(alpha)) },
        }),
        appearance: new PerInstanceColorAppearance({ translucent: true, closed: false, flat: true }),
        asynchronous: false,
      });
    const primary = list.find((a) => a.agency === 'CMA' && a.current.radii) ?? list.find((a) => a.current.radii);
    for (const a of list) {
      const color = agencyColor(a.agency);
      const pts = [a.current, ...a.forecast];
      if (a.forecast.length) {
        this.forecastLines.add({
          positions: Cartesian3.fromDegreesArray(pts.flatMap((p) => [p.lon, p.lat])),
          width: 3,
          material: Material.fromType('PolylineDash', { color: Color.fromCssColorString(color), dashLength: a.agency === 'CMA' ? 16 : 10 }),
        });
        for (const p of a.forecast) {
          this.forecastPoints.add({ position: Cartesian3.fromDegrees(p.lon, p.lat), pixelSize: 6, color: Color.fromCssColorString(color), outlineColor: Color.BLACK, outlineWidth: 1 });
          this.labels.add({
            position: Cartesian3.fromDegrees(p.lon, p.lat),
            text: `${a.agency} ${fmt(p.t)}${p.wind !== null ? ` ${Math.round(p.wind)}m/s` : ''}`,
            font: '12px sans-serif',
            fillColor: Color.fromCssColorString(color),
            outlineColor: Color.BLACK,
            outlineWidth: 3,
            style: LabelStyle.FILL_AND_OUTLINE,
            verticalOrigin: VerticalOrigin.BOTTOM,
            pixelOffset: new Cartesian2(8, -6),
          });
        }
      }
      const ring = cone([a.current, ...a.forecast]);
      if (ring.length) {
        this.circles.add(polygon(ring, color, 0.12));
        cones++;
      }
      // Wind circles at the advisory's analysed position, built once per advisory: filled for the
      // primary agency (CMA when it has radii), outlined for the others.
      const r = a.current.radii;
      if (!r) continue;
      for (const force of [7, 10, 12] as const) {
        const q = r[`r${force}`];
        if (!q) continue;
        const circle = windCircle(a.current, q, 5);
        if (!circle.length) continue;
        if (a === primary) this.circles.add(polygon(circle, CIRCLE_COLORS[force], force === 7 ? 0.16 : 0.22));
        this.circleLines.add({
          positions: Cartesian3.fromDegreesArray(circle.flat()),
          width: a === primary ? 2 : 1.5,
          material: Material.fromType('Color', { color: Color.fromCssColorString(a === primary ? CIRCLE_COLORS[force] : color) }),
        });
        circles++;
      }
    }
    this.state.forecasts = list.filter((a) => a.forecast.length).length;
    this.state.circles = circles;
    this.state.cones = cones;
  }

  /** Where fix i is on screen (CSS pixels), or null when not visible. For tests (?probe=1). */
  fixOnScreen(i: number): { x: number; y: number } | null {
    const f = this.fixPts[i];
    if (!f || !f.p.show) return null;
    const c = SceneTransforms.worldToWindowCoordinates(this.widget.scene, f.p.position);
    return c ? { x: c.x, y: c.y } : null;
  }

  advisories(): readonly Advisory[] {
    return this.shownAdvisories;
  }

  private buildWarningLines(): void {
    const add = (line: readonly [number, number][], color: string, dash: boolean, text: string) => {
      this.warning.add({
        positions: Cartesian3.fromDegreesArray(line.flat()),
        width: 2.5,
        material: dash ? Material.fromType('PolylineDash', { color: Color.fromCssColorString(color), dashLength: 20 }) : Material.fromType('Color', { color: Color.fromCssColorString(color) }),
      });
      const [lon, lat] = line[1]!;
      this.warningLabels.add({
        position: Cartesian3.fromDegrees(lon, lat),
        text,
        font: '13px sans-serif',
        fillColor: Color.fromCssColorString(color),
        outlineColor: Color.BLACK,
        outlineWidth: 3,
        style: LabelStyle.FILL_AND_OUTLINE,
        pixelOffset: new Cartesian2(6, 0),
      });
    };
    add(WARNING_LINE_24H, WARNING_COLORS.h24, false, '24h');
    add(WARNING_LINE_48H, WARNING_COLORS.h48, true, '48h');
  }
}
