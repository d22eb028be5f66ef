// The situation globe: the widget, the camera and picking, and the layers drawn on it (units, places,
// incidents, sites, the five-colour map, typhoons, the base imagery and terrain), each in its own
// module. Works with no network: Cesium ion is off and the base layer is the Natural Earth II imagery
// that ships inside Cesium's assets. The scene renders on demand (requestRenderMode) because software
// WebGL on a wall controller may take hundreds of milliseconds a frame.
// CesiumWidget from @cesium/engine, not Viewer from 'cesium': Viewer's widgets bring knockout,
// whose start-up runs eval(), which the strict CSP (rightly) forbids. The hall needs none of them.
import '@cesium/engine/Source/Widget/CesiumWidget.css';
import {
  buildModuleUrl,
  Cartesian2,
  Cartesian3,
  Cartographic,
  CesiumWidget,
  Color,
  PointPrimitiveCollection,
  type PointPrimitive,
  PolylineCollection,
  Material,
  defined,
  ImageryLayer,
  Ion,
  Rectangle,
  SceneTransforms,
  ScreenSpaceEventHandler,
  ScreenSpaceEventType,
  TileMapServiceImageryProvider,
} from '@cesium/engine';
import { BaseLayer } from './base-layer.ts';
import { IncidentsLayer } from './incidents.ts';
import { SheetsLayer } from './sheets.ts';
import { PlacesLayer } from './places.ts';
import { RiskLayer } from './risk.ts';
import { SitesLayer } from './sites.ts';
import { Terrain } from './terrain.ts';
import { TyphoonLayer, type FixHover } from './typhoon.ts';
import { UnitsLayer } from './units.ts';

export { KIND_COLORS, STATUS_OUTLINE } from './units.ts';
export { SITE_COLORS } from './sites.ts';

// Cesium reads its base URL lazily, at the first asset it resolves: the copied assets sit beside the
// bundle (see vite.config.ts), relative to the page so app:// and http:// both work.
(globalThis as { CESIUM_BASE_URL?: string }).CESIUM_BASE_URL = './cesium/';
Ion.defaultAccessToken = '';

/** Zhejiang with a margin: where the hall looks first. */
const HOME = Rectangle.fromDegrees(117.6, 26.6, 123.4, 31.6);

export interface GlobeOptions {
  /** MSAA samples; 1 on software WebGL. @default 4 */
  msaa?: number;
  onPick?: (kind: 'unit' | 'place' | 'incident' | 'risk' | 'site', id: string) => void;
  /** Minutes of trail behind moving units (0: none). @default 10 */
  trailMinutes?: number;
  /** Called after each rendered frame (tests wait on it). */
  onRendered?: (stats: { tilesLoaded: boolean }) => void;
  /** Initial camera (longitude, latitude, height in metres) instead of Zhejiang. */
  view?: { lon: number; lat: number; height: number } | null;
  /** Hovering a typhoon fix (null: nothing under the pointer). */
  onFixHover?: (h: FixHover | null) => void;
}

export class SituationGlobe {
  readonly viewer: CesiumWidget;
  readonly units: UnitsLayer;
  readonly places: PlacesLayer;
  readonly incidents: IncidentsLayer;
  readonly sheets: SheetsLayer;
  readonly sites: SitesLayer;
  readonly risk: RiskLayer;
  readonly typhoon: TyphoonLayer;
  readonly base: BaseLayer;
  readonly terrain: Terrain;
  private readonly handler: ScreenSpaceEventHandler;

  constructor(container: HTMLElement, opts: GlobeOptions = {}) {
    this.viewer = new CesiumWidget(container, {
      baseLayer: ImageryLayer.fromProviderAsync(TileMapServiceImageryProvider.fromUrl(buildModuleUrl('Assets/Textures/NaturalEarthII'))),
      requestRenderMode: true,
      maximumRenderTimeChange: Infinity,
      msaaSamples: opts.msaa ?? 4,
    });
    this.viewer.camera.setView({ destination: opts.view ? Cartesian3.fromDegrees(opts.view.lon, opts.view.lat, opts.view.height) : HOME });
    const scene = this.viewer.scene;
    this.base = new BaseLayer(this.viewer);
    this.terrain = new Terrain(this.viewer);
    // Draw order is add order: place points, unit points, place names, incidents, sites, unit names.
    this.places = new PlacesLayer(scene);
    this.units = new UnitsLayer(this.viewer, this.terrain);
    this.places.addLabels();
    this.incidents = new IncidentsLayer(scene);
    this.sheets = new SheetsLayer(scene);
    this.sites = new SitesLayer(scene);
    this.units.addLabels();
    // The risk discs lie under everything else (added first among the layers drawn on the globe).
    this.risk = new RiskLayer(this.viewer);
    this.units.addTrails(opts.trailMinutes ?? 10);
    this.typhoon = new TyphoonLayer(this.viewer, (h) => opts.onFixHover?.(h));
    this.handler = new ScreenSpaceEventHandler(scene.canvas);
    this.handler.setInputAction((e: { position: Cartesian2 }) => {
      // placing a presenter's mark: the click marks the ground, it picks nothing
      if (this.groundClick) {
        const hit = this.viewer.camera.pickEllipsoid(e.position, scene.globe.ellipsoid);
        if (hit) {
          const c = Cartographic.fromCartesian(hit);
          this.groundClick({ lon: (c.longitude * 180) / Math.PI, lat: (c.latitude * 180) / Math.PI });
        }
        return;
      }
      const picked = scene.pick(e.position) as { id?: unknown } | undefined;
      if (defined(picked) && typeof picked.id === 'string') {
        const [kind, id] = picked.id.split(':', 2) as ['unit' | 'place' | 'incident' | 'site', string];
        opts.onPick?.(kind, id);
      }
    }, ScreenSpaceEventType.LEFT_CLICK);
    if (opts.onRendered) {
      const cb = opts.onRendered;
      scene.postRender.addEventListener(() => cb({ tilesLoaded: scene.globe.tilesLoaded }));
    }
  }

  /** Unit and place names follow the display's language. */
  setLanguage(lang: 'zh' | 'en'): void {
    this.units.labels.lang = lang;
    this.units.labels.schedule(0);
  }

  /** Where a point on the ground is on screen (CSS pixels), or null when behind the globe. For tests. */
  toScreen(lon: number, lat: number): { x: number; y: number } | null {
    const c = SceneTransforms.worldToWindowCoordinates(this.viewer.scene, Cartesian3.fromDegrees(lon, lat, 0));
    return c ? { x: c.x, y: c.y } : null;
  }

  /** What this display shows, in degrees (null when the camera sees no ground). */
  currentView(): { west: number; south: number; east: number; north: number } | null {
    const r = this.viewer.camera.computeViewRectangle();
    if (!r) return null;
    const d = 180 / Math.PI;
    return { west: r.west * d, south: r.south * d, east: r.east * d, north: r.north * d };
  }

  flyTo(lon: number, lat: number, height = 60_000): void {
    this.viewer.camera.flyTo({ destination: Cartesian3.fromDegrees(lon, lat, height), duration: 1.2 });
  }

  // ---- a consultation's presenter (issue 22) ------------------------------------------------------

  /** Where the camera is and where it looks. */
  cameraView(): { lon: number; lat: number; height: number; heading: number; pitch: number; roll: number } {
    const c = this.viewer.camera;
    const p = c.positionCartographic;
    const d = 180 / Math.PI;
    return { lon: p.longitude * d, lat: p.latitude * d, height: p.height, heading: c.heading, pitch: c.pitch, roll: c.roll };
  }

  /** Turn to a view (a presenter's): at once, no flight, so a follower is never behind by an animation. */
  setCameraView(v: { lon: number; lat: number; height: number; heading: number; pitch: number; roll: number }): void {
    this.viewer.camera.setView({ destination: Cartesian3.fromDegrees(v.lon, v.lat, v.height), orientation: { heading: v.heading, pitch: v.pitch, roll: v.roll } });
    this.viewer.scene.requestRender();
  }

  /** Called when the camera has moved (at most as often as Cesium notices 1 % of change) and once it rests. */
  onCameraChange(cb: () => void): () => void {
    const c = this.viewer.camera;
    c.percentageChanged = 0.01;
    const a = c.changed.addEventListener(cb);
    const b = c.moveEnd.addEventListener(cb);
    return () => {
      a();
      b();
    };
  }

  /** Where the mouse points on the ground (null: off the globe), as it moves. */
  onPointer(cb: (p: { lon: number; lat: number } | null) => void): void {
    this.handler.setInputAction((e: { endPosition: Cartesian2 }) => {
      const hit = this.viewer.camera.pickEllipsoid(e.endPosition, this.viewer.scene.globe.ellipsoid);
      if (!hit) return cb(null);
      const c = Cartographic.fromCartesian(hit);
      cb({ lon: (c.longitude * 180) / Math.PI, lat: (c.latitude * 180) / Math.PI });
    }, ScreenSpaceEventType.MOUSE_MOVE);
  }

  private pointerPoints: PointPrimitiveCollection | null = null;
  private pointerPoint: PointPrimitive | null = null;
  /** The presenter's pointer on this display's globe (null: none). */
  showPointer(p: { lon: number; lat: number } | null): void {
    if (!this.pointerPoints) {
      this.pointerPoints = this.viewer.scene.primitives.add(new PointPrimitiveCollection()) as PointPrimitiveCollection;
      this.pointerPoint = this.pointerPoints.add({ position: Cartesian3.ZERO, pixelSize: 14, color: Color.fromCssColorString('#ff1744'), outlineColor: Color.WHITE, outlineWidth: 2, show: false });
    }
    const pt = this.pointerPoint!;
    pt.show = !!p;
    if (p) pt.position = Cartesian3.fromDegrees(p.lon, p.lat, 0);
    this.viewer.scene.requestRender();
  }

  private groundClick: ((p: { lon: number; lat: number }) => void) | null = null;
  /** While set, a click on the ground calls `cb` with where (placing marks) instead of picking. */
  setGroundClick(cb: ((p: { lon: number; lat: number }) => void) | null): void {
    this.groundClick = cb;
  }

  private markPoints: PointPrimitiveCollection | null = null;
  private markLines: PolylineCollection | null = null;
  private marksCount = 0;
  /** The presenter's marks: numbered in order, joined by a line (a route, the places spoken of). */
  showMarks(marks: readonly { lon: number; lat: number }[]): void {
    const scene = this.viewer.scene;
    this.markPoints ??= scene.primitives.add(new PointPrimitiveCollection()) as PointPrimitiveCollection;
    this.markLines ??= scene.primitives.add(new PolylineCollection()) as PolylineCollection;
    this.markPoints.removeAll();
    this.markLines.removeAll();
    const colour = Color.fromCssColorString('#ffab00');
    const at = marks.map((m) => Cartesian3.fromDegrees(m.lon, m.lat, 0));
    for (const p of at) this.markPoints.add({ position: p, pixelSize: 12, color: colour, outlineColor: Color.BLACK, outlineWidth: 2 });
    if (at.length > 1) this.markLines.add({ positions: at, width: 3, material: Material.fromType('Color', { color: colour }) });
    this.marksCount = marks.length;
    scene.requestRender();
  }

  /** How many marks are drawn, for tests. */
  marksShown(): number {
    return this.marksCount;
  }

  /** The pointer shown, for tests. */
  pointerShown(): { lon: number; lat: number } | null {
    const pt = this.pointerPoint;
    if (!pt?.show) return null;
    const c = Cartographic.fromCartesian(pt.position);
    return { lon: (c.longitude * 180) / Math.PI, lat: (c.latitude * 180) / Math.PI };
  }

  destroy(): void {
    this.typhoon.destroy();
    this.risk.destroy();
    this.units.destroy();
    this.terrain.destroy();
    this.handler.destroy();
    this.viewer.destroy();
  }
}
