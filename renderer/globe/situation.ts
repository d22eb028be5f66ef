// The situation globe. The only module that imports Cesium. Works with no network: Cesium ion is
// off and the base layer is the Natural Earth II imagery that ships inside Cesium's assets.
// Units are points in one BufferPointCollection (never one Entity per unit; see unit-points.ts) and
// are updated from hub deltas in place; the scene renders on demand (requestRenderMode) because software WebGL on a
// wall controller may take hundreds of milliseconds a frame.
// CesiumWidget from @cesium/engine, not Viewer from 'cesium': Viewer's widgets bring knockout,
// whose start-up runs eval(), which the strict CSP (rightly) forbids. The hall needs none of them.
import '@cesium/engine/Source/Widget/CesiumWidget.css';
import {
  BillboardCollection,
  buildModuleUrl,
  Cartographic,
  CesiumTerrainProvider,
  EllipsoidTerrainProvider,
  Resource,
  Cartesian2,
  Cartesian3,
  CesiumWidget,
  Color,
  defined,
  DistanceDisplayCondition,
  ImageryLayer,
  Ion,
  LabelCollection,
  LabelStyle,
  NearFarScalar,
  PointPrimitiveCollection,
  Rectangle,
  ScreenSpaceEventHandler,
  SceneTransforms,
  ScreenSpaceEventType,
  TileMapServiceImageryProvider,
  UrlTemplateImageryProvider,
  VerticalOrigin,
} from '@cesium/engine';
import { ecefFromDegrees, ecefStep } from './geo.ts';
import type { DeltaOp } from '../../common/contract.ts';
import type { Incident, Place, Site, SiteKind, Unit, UnitKind, UnitStatus } from '../../common/domain.ts';
import { TyphoonLayer, type FixHover } from './typhoon.ts';
import { RiskLayer } from './risk.ts';
import { TrailLayer } from './trails.ts';
import { LAT, LON, UnitRows, WIDTH } from './rows.ts';
import { type PointStyle, UnitPoints } from './unit-points.ts';

// Cesium reads its base URL lazily, at the first asset it resolves: the copied assets sit beside the
// bundle (see vite.config.ts), relative to the page so app:// and http:// both work.
(globalThis as { CESIUM_BASE_URL?: string }).CESIUM_BASE_URL = './cesium/';
Ion.defaultAccessToken = '';

export const KIND_COLORS: Record<UnitKind, string> = {
  'fire-rescue': '#ff4d3d',
  professional: '#ff9f1c',
  social: '#2ec4b6',
  aviation: '#4cc9f0',
  depot: '#b388ff',
  drone: '#f8f32b',
  vehicle: '#e0e0e0',
};
export const STATUS_OUTLINE: Record<UnitStatus, string> = { standby: '#0b1220', 'en-route': '#ffffff', 'on-site': '#ffe600', offline: '#666666' };

const SCRATCH = new Cartesian3();
const SCRATCH_CARTO = new Cartographic();
const FILL = Object.fromEntries(Object.entries(KIND_COLORS).map(([k, c]) => [k, Color.fromCssColorString(c)])) as Record<UnitKind, Color>;
/** A stale unit is drawn faded, a lost one grey, both where they were last heard: a position the hall
 *  no longer receives must never look live, and must never vanish either. */
const FILL_STALE = Object.fromEntries(Object.entries(KIND_COLORS).map(([k, c]) => [k, Color.fromCssColorString(c).withAlpha(0.35)])) as Record<UnitKind, Color>;
const LOST = Color.fromCssColorString('#8a8f98').withAlpha(0.8);
const fillOf = (kind: UnitKind, presence: string | undefined) => (presence === 'lost' ? LOST : presence === 'stale' ? FILL_STALE[kind] : FILL[kind]);
/** A unit's point: fill by kind and presence, ring by status (one scratch object, no allocation). */
const STYLE: PointStyle = { color: Color.WHITE, outlineColor: Color.WHITE, outlineWidth: 2, size: 7 };
function styleOf(kind: UnitKind, presence: string | undefined, status: UnitStatus): PointStyle {
  STYLE.color = fillOf(kind, presence);
  STYLE.outlineColor = OUTLINE[status];
  STYLE.size = kind === 'depot' ? 9 : 7;
  return STYLE;
}

/** Unit flags (one byte per unit): drawn now (its kind and status layers are both on); standing on
 *  the ground (no altitude of its own). */
const SHOWN = 1;
const GROUND = 2;
const NO_NAME: Unit['name'] = { zh: '', en: '' };
const OUTLINE = Object.fromEntries(Object.entries(STATUS_OUTLINE).map(([k, c]) => [k, Color.fromCssColorString(c)])) as Record<UnitStatus, Color>;

export const SITE_COLORS: Record<SiteKind, string> = { hazchem: '#ff6d00', reservoir: '#2979ff', shelter: '#00c853' };

/** A site's symbol, drawn once per kind: a hazard triangle, a reservoir's square with a wave, a
 *  shelter's house. Shapes as well as colours: a wall seen from across the hall, and colour-blind
 *  officers, tell them apart. */
function siteIcon(kind: SiteKind): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = c.height = 22;
  const g = c.getContext('2d')!;
  g.fillStyle = SITE_COLORS[kind];
  g.strokeStyle = '#0b1220';
  g.lineWidth = 2;
  g.beginPath();
  if (kind === 'hazchem') {
    g.moveTo(11, 2);
    g.lineTo(20, 19);
    g.lineTo(2, 19);
  } else if (kind === 'reservoir') g.rect(3, 3, 16, 16);
  else {
    g.moveTo(11, 2);
    g.lineTo(20, 10);
    g.lineTo(17, 10);
    g.lineTo(17, 20);
    g.lineTo(5, 20);
    g.lineTo(5, 10);
    g.lineTo(2, 10);
  }
  g.closePath();
  g.fill();
  g.stroke();
  g.fillStyle = '#ffffff';
  g.strokeStyle = '#ffffff';
  if (kind === 'hazchem') {
    g.fillRect(10, 8, 2, 6);
    g.fillRect(10, 15, 2, 2);
  } else if (kind === 'reservoir') {
    g.lineWidth = 1.5;
    g.beginPath();
    g.moveTo(6, 12);
    g.quadraticCurveTo(8.5, 9, 11, 12);
    g.quadraticCurveTo(13.5, 15, 16, 12);
    g.stroke();
  }
  return c;
}

/** Zhejiang with a margin: where the hall looks first. */
export const HOME = Rectangle.fromDegrees(117.6, 26.6, 123.4, 31.6);

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
  private readonly unitPoints: UnitPoints;
  private readonly placePoints = new PointPrimitiveCollection();
  private readonly labels = new LabelCollection();
  private readonly incidentPoints = new PointPrimitiveCollection();
  private readonly siteBillboards = new BillboardCollection();
  private readonly siteKinds = new Map<string, SiteKind>();
  private readonly visibleSiteKinds = new Set<SiteKind>(['hazchem', 'reservoir', 'shelter']);
  private icons: Partial<Record<SiteKind, HTMLCanvasElement>> = {};
  /**
   * What the globe keeps per unit, by the unit's index: the index of its point in unitPoints, of its
   * row in rows (longitude, latitude, its trail's head) and of its place in the arrays below. One
   * lookup per delta op (id → index, or none: see applyUnitOps), then a few array slots by index.
   * Indexed state is what lets the moves be applied in the order the globe holds the units
   * (docs/architecture.md, "Globe"); against an object per unit it measured the same in held order.
   */
  private readonly byId = new Map<string, number>();
  /** batches of deltas applied (see applyUnitOps, place) */
  private tickNo = 0;
  private readonly rows = new UnitRows(4096);
  private flags = new Uint8Array(4096);
  private readonly kinds: UnitKind[] = [];
  /** what was last drawn: status (the ring), presence (the fill), callsign (the label) */
  private readonly statuses: UnitStatus[] = [];
  private readonly presences: (string | undefined)[] = [];
  private readonly callsigns: (string | null)[] = [];
  private readonly names: Unit['name'][] = [];
  private readonly ids: string[] = [];
  /** the hub client's number for each unit (renderer/hub/client.ts) → its index here; -1: not yet
   *  known (found by id once, then kept) */
  private indexOf = new Int32Array(4096).fill(-1);
  /** the trail colour, or null for a unit that draws no trail (a depot) */
  private readonly trailColors: (Color | null)[] = [];
  /** Terrain: on when a source is chosen; ground heights cached per ~500 m cell. */
  private terrainOn = false;
  private terrainSeq = 0;
  private readonly heights = new Map<number, number>();
  private reclampTimer: ReturnType<typeof setTimeout> | null = null;
  /** Unit names, only when zoomed in, decluttered on screen (see refreshUnitLabels). */
  private readonly unitLabels = new LabelCollection();
  private labelTimer: ReturnType<typeof setTimeout> | null = null;
  private labelLang: 'zh' | 'en' = 'zh';
  private readonly handler: ScreenSpaceEventHandler;
  private readonly visibleKinds = new Set<UnitKind>(Object.keys(KIND_COLORS) as UnitKind[]);
  private readonly visibleStatuses = new Set<UnitStatus>(Object.keys(STATUS_OUTLINE) as UnitStatus[]);
  private shownUnits = 0;
  readonly trails: TrailLayer;
  readonly typhoon: TyphoonLayer;
  private overlay: ImageryLayer | null = null;
  readonly risk: RiskLayer;

  constructor(container: HTMLElement, opts: GlobeOptions = {}) {
    this.viewer = new CesiumWidget(container, {
      baseLayer: ImageryLayer.fromProviderAsync(TileMapServiceImageryProvider.fromUrl(buildModuleUrl('Assets/Textures/NaturalEarthII'))),
      requestRenderMode: true,
      maximumRenderTimeChange: Infinity,
      msaaSamples: opts.msaa ?? 4,
    });
    this.viewer.camera.setView({ destination: opts.view ? Cartesian3.fromDegrees(opts.view.lon, opts.view.lat, opts.view.height) : HOME });
    const prims = this.viewer.scene.primitives;
    prims.add(this.placePoints);
    this.unitPoints = new UnitPoints(this.viewer.scene, 4096);
    prims.add(this.labels);
    prims.add(this.incidentPoints);
    prims.add(this.siteBillboards);
    prims.add(this.unitLabels);
    this.viewer.camera.moveEnd.addEventListener(() => this.scheduleLabels(0));
    // when the terrain tiles in view have all arrived, put ground units on them
    this.viewer.scene.globe.tileLoadProgressEvent.addEventListener((queued: number) => {
      if (queued === 0) this.scheduleReclamp();
    });
    // The risk discs lie under everything else (added first among the layers drawn on the globe).
    this.risk = new RiskLayer(this.viewer);
    this.trails = new TrailLayer(this.viewer.scene, this.rows, { minutes: opts.trailMinutes ?? 10 });
    this.typhoon = new TyphoonLayer(this.viewer, (h) => opts.onFixHover?.(h));
    this.handler = new ScreenSpaceEventHandler(this.viewer.scene.canvas);
    this.handler.setInputAction((e: { position: Cartesian2 }) => {
      const picked = this.viewer.scene.pick(e.position) as { id?: unknown } | undefined;
      if (defined(picked) && typeof picked.id === 'string') {
        const [kind, id] = picked.id.split(':', 2) as ['unit' | 'place' | 'incident' | 'site', string];
        opts.onPick?.(kind, id);
      }
    }, ScreenSpaceEventType.LEFT_CLICK);
    if (opts.onRendered) {
      const cb = opts.onRendered;
      this.viewer.scene.postRender.addEventListener(() => cb({ tilesLoaded: this.viewer.scene.globe.tilesLoaded }));
    }
  }

  setPlaces(places: Iterable<Place>, lang: 'zh' | 'en'): void {
    this.placePoints.removeAll();
    this.labels.removeAll();
    for (const p of places) {
      const pos = Cartesian3.fromDegrees(p.lon, p.lat);
      const big = p.kind !== 'county';
      this.placePoints.add({
        id: `place:${p.id}`,
        position: pos,
        pixelSize: p.kind === 'province' ? 16 : big ? 12 : 6,
        color: Color.fromCssColorString(p.kind === 'county' ? '#9fb3c8' : '#ffd166'),
        outlineColor: Color.fromCssColorString('#0b1220'),
        outlineWidth: 2,
      });
      this.labels.add({
        position: pos,
        text: p.name[lang],
        font: big ? 'bold 15px sans-serif' : '12px sans-serif',
        fillColor: Color.WHITE,
        outlineColor: Color.BLACK,
        outlineWidth: 3,
        style: LabelStyle.FILL_AND_OUTLINE,
        verticalOrigin: VerticalOrigin.BOTTOM,
        // The province hall sits in Hangzhou: lift its label clear of the city's.
        pixelOffset: new Cartesian2(0, p.kind === 'province' ? -30 : -10),
        // Labels declutter by distance: cities stay, counties appear as the operator zooms in.
        distanceDisplayCondition: new DistanceDisplayCondition(0, big ? 4.0e6 : 4.5e5),
        scaleByDistance: new NearFarScalar(1.0e5, 1.1, 3.0e6, 0.8),
      });
    }
    this.viewer.scene.requestRender();
  }

  /** Replace all units (after a snapshot). */
  resetUnits(units: Iterable<Unit>): void {
    this.unitPoints.clear();
    this.byId.clear();
    this.trails.detachAll();
    // indices are handed out again from 0 (unitPoints.clear): the arrays refill from the start
    for (const a of [this.kinds, this.statuses, this.presences, this.callsigns, this.names, this.ids, this.trailColors]) a.length = 0;
    // a snapshot numbers every unit afresh (renderer/hub/client.ts)
    this.indexOf.fill(-1);
    this.shownUnits = 0;
    this.trails.stamp();
    for (const u of units) this.putUnit(u);
    this.viewer.scene.requestRender();
  }

  /**
   * Apply a batch of hub deltas in place: cost grows with what changed, not with what is shown.
   * `slots` are the hub client's numbers of the ops' units (its delta event): a unit is found by an
   * array read rather than a lookup of its id, checked against the id kept at that index, so a
   * stale number can only cost a lookup, never move the wrong unit.
   *
   * Two passes. The hub lists a delta's units in the order the globe holds them (its snapshot's,
   * common/delta-order.ts), but units that joined since, or took a freed number, fall out of that
   * order, and a delta in arrival order cost twice as much applied as listed (docs/architecture.md,
   * "Globe"):
   * 1. in the delta's order, which is the order its ops sit in memory: find each unit, restyle it
   *    if what is drawn changed, and note where it is now in arrays by its index (small enough to
   *    stay in the processor's cache);
   * 2. in the order of the indices, which is the order of the rows, points and trails in memory:
   *    the positions and trails.
   */
  applyUnitOps(ops: readonly DeltaOp[], slots?: Int32Array): void {
    this.trails.stamp();
    const tick = ++this.tickNo;
    // deletes first (a number a delete frees may be taken by a new unit in the same delta)
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k]!;
      if (op.op === 'put') continue;
      this.removeUnit(op.id);
      const slot = slots ? slots[k]! : -1;
      if (slot >= 0 && slot < this.indexOf.length) this.indexOf[slot] = -1;
    }
    const m = this.moves(this.unitPoints.capacity);
    const indexOf = this.indexOf;
    let lo = Number.MAX_SAFE_INTEGER;
    let hi = -1;
    let count = 0;
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k]!;
      if (op.op !== 'put') continue;
      const u = op.value as Unit;
      const slot = slots ? slots[k]! : -1;
      let i = slot >= 0 && slot < indexOf.length ? indexOf[slot]! : -1;
      if (i < 0 || this.ids[i] !== u.id) {
        const known = this.byId.get(u.id);
        i = known ?? this.addUnit(u); // a new unit is drawn whole, where it is
        if (slot >= 0) this.numbered(slot, i);
        if (known === undefined) continue;
      }
      const alt = this.settle(i, u);
      if (i >= m.tick.length) {
        this.place(i, u.lon, u.lat, alt); // added earlier in this delta, beyond the arrays' size
        continue;
      }
      if (m.tick[i] !== tick) {
        m.tick[i] = tick;
        if (i < lo) lo = i;
        if (i > hi) hi = i;
        m.list[count++] = i;
      }
      m.lon[i] = u.lon;
      m.lat[i] = u.lat;
      m.alt[i] = alt;
    }
    if (count > 0) {
      if (count * 16 < hi - lo) {
        // a few moves among many units: their indices sorted, not every index visited
        const list = m.list.subarray(0, count).sort();
        for (let j = 0; j < count; j++) {
          const i = list[j]!;
          this.place(i, m.lon[i]!, m.lat[i]!, m.alt[i]!);
        }
      } else {
        for (let i = lo; i <= hi; i++) if (m.tick[i] === tick) this.place(i, m.lon[i]!, m.lat[i]!, m.alt[i]!);
      }
    }
    this.scheduleLabels();
    this.viewer.scene.requestRender();
  }
  /** Where each unit moved in the delta being applied, by index (see applyUnitOps). */
  private moved = { tick: new Int32Array(0), list: new Int32Array(0), lon: new Float64Array(0), lat: new Float64Array(0), alt: new Float64Array(0) };
  private moves(n: number): SituationGlobe['moved'] {
    if (n > this.moved.tick.length) this.moved = { tick: new Int32Array(n), list: new Int32Array(n), lon: new Float64Array(n), lat: new Float64Array(n), alt: new Float64Array(n) };
    return this.moved;
  }

  /** The hub client's number `slot` is the unit at index i. */
  private numbered(slot: number, i: number): void {
    if (slot > this.byId.size + 4096) return; // not a client's dense number: found by id each time
    if (slot >= this.indexOf.length) {
      const grown = new Int32Array(Math.max(this.indexOf.length * 2, slot + 1)).fill(-1);
      grown.set(this.indexOf);
      this.indexOf = grown;
    }
    this.indexOf[slot] = i;
  }

  private removeUnit(id: string): void {
    const i = this.byId.get(id);
    this.trails.remove(id);
    if (i === undefined) return;
    if (this.flags[i]! & SHOWN) this.shownUnits--;
    this.unitPoints.remove(i);
    this.byId.delete(id);
    this.rows.release(i);
    this.flags[i] = 0;
    this.names[i] = NO_NAME;
    this.ids[i] = '';
  }

  /** Layers: a unit is drawn when both its kind and its status are switched on. */
  setKindVisible(kind: UnitKind, visible: boolean): void {
    if (visible) this.visibleKinds.add(kind);
    else this.visibleKinds.delete(kind);
    this.applyVisibility();
  }

  setStatusVisible(status: UnitStatus, visible: boolean): void {
    if (visible) this.visibleStatuses.add(status);
    else this.visibleStatuses.delete(status);
    this.applyVisibility();
  }

  /** Units drawn now (after the layer switches). */
  shownUnitCount(): number {
    return this.shownUnits;
  }

  private isShown(kind: UnitKind, status: UnitStatus): boolean {
    return this.visibleKinds.has(kind) && this.visibleStatuses.has(status);
  }

  private applyVisibility(): void {
    let n = 0;
    for (const [id, i] of this.byId) {
      const show = this.isShown(this.kinds[i]!, this.statuses[i]!);
      this.flags[i] = show ? this.flags[i]! | SHOWN : this.flags[i]! & ~SHOWN;
      this.unitPoints.setShow(i, show);
      this.trails.setShown(id, show);
      if (show) n++;
    }
    this.shownUnits = n;
    this.incidentPoints.show = this.incidentsShown;
    this.viewer.scene.requestRender();
  }

  private incidentsShown = true;
  setIncidentsVisible(visible: boolean): void {
    this.incidentsShown = visible;
    this.applyVisibility();
  }

  /** An online source from the hall's tile cache over the bundled imagery (null: the bundled
   *  imagery alone). Natural Earth stays underneath: where a source has nothing, the globe is
   *  never bare. */
  setBaseLayer(layer: { id: string; maxZoom: number; minZoom: number } | null, query = ''): void {
    const layers = this.viewer.imageryLayers;
    if (this.overlay) layers.remove(this.overlay, true);
    this.overlay = null;
    if (layer) {
      const provider = new UrlTemplateImageryProvider({ url: `./tiles/${layer.id}/{z}/{x}/{y}${query}`, minimumLevel: layer.minZoom, maximumLevel: layer.maxZoom, credit: layer.id });
      this.overlay = layers.addImageryProvider(provider);
    }
    this.viewer.scene.requestRender();
  }

  /** Open incidents as large markers, coloured by severity (I and II red, III orange, IV yellow). */
  setIncidents(list: Iterable<Incident>): number {
    this.incidentPoints.removeAll();
    let n = 0;
    for (const i of list) {
      if (i.status !== 'open') continue;
      this.incidentPoints.add({
        id: `incident:${i.id}`,
        position: Cartesian3.fromDegrees(i.lon, i.lat, 2000),
        pixelSize: 16,
        color: Color.fromCssColorString(i.severity === 'I' || i.severity === 'II' ? '#ff1744' : i.severity === 'III' ? '#ff9100' : '#ffea00'),
        outlineColor: Color.BLACK,
        outlineWidth: 3,
      });
      n++;
    }
    this.viewer.scene.requestRender();
    return n;
  }

  /**
   * Terrain from a quantized-mesh source through the hall's cache (null: the ellipsoid). Units
   * without an altitude are then clamped to it: their height is sampled from the terrain tiles the
   * globe has loaded, cached per ~500 m cell, and sampled again whenever loading settles (the
   * terrain under them gets finer as tiles arrive).
   */
  async setTerrain(layer: { id: string } | null, token: string | null = null): Promise<void> {
    const seq = ++this.terrainSeq;
    const provider = layer ? await CesiumTerrainProvider.fromUrl(new Resource({ url: `./tiles/${layer.id}/`, queryParameters: token ? { token } : undefined })) : new EllipsoidTerrainProvider();
    if (seq !== this.terrainSeq || this.viewer.isDestroyed()) return;
    this.viewer.terrainProvider = provider;
    this.terrainOn = layer !== null;
    // units are drawn over the terrain as over the ellipsoid: the globe does not depth-test primitives
    // against terrain (Cesium's default, kept), so a team in a valley is not hidden by the ridge
    this.reclamp();
  }

  /** Terrain height at a place from the tiles loaded now (undefined: none loaded there). For tests. */
  terrainHeight(lon: number, lat: number): number | undefined {
    return this.viewer.scene.globe.getHeight(Cartographic.fromDegrees(lon, lat));
  }

  /** Where a unit's point is drawn (degrees, metres above the ellipsoid), or undefined. For tests. */
  unitDrawnAt(id: string): { lon: number; lat: number; height: number } | undefined {
    const i = this.byId.get(id);
    if (i === undefined) return undefined;
    const c = Cartographic.fromCartesian(this.unitPoints.position(i, new Cartesian3()));
    return { lon: (c.longitude * 180) / Math.PI, lat: (c.latitude * 180) / Math.PI, height: c.height };
  }

  /** Where a unit's point is drawn: its height above the ellipsoid. For tests. */
  unitHeight(id: string): number | undefined {
    return this.unitDrawnAt(id)?.height;
  }

  private groundAt(lon: number, lat: number): number {
    if (!this.terrainOn) return 0;
    const key = Math.round(lon * 200) * 100_000 + Math.round(lat * 200);
    const h = this.heights.get(key);
    if (h !== undefined) return h;
    const got = this.viewer.scene.globe.getHeight(Cartographic.fromDegrees(lon, lat, 0, SCRATCH_CARTO));
    if (got === undefined) return 0; // no terrain loaded there yet: the next reclamp places it
    this.heights.set(key, got);
    return got;
  }

  /** Sample ground units' heights again (terrain loading settled, or the terrain changed). */
  private reclamp(): void {
    this.heights.clear();
    const d = this.rows.data;
    for (const i of this.byId.values()) {
      if (!(this.flags[i]! & GROUND)) continue;
      const lon = d[i * WIDTH + LON]!;
      const lat = d[i * WIDTH + LAT]!;
      this.unitPoints.setPosition(i, ecefFromDegrees(lon, lat, this.groundAt(lon, lat), SCRATCH));
    }
    this.viewer.scene.requestRender();
  }

  private scheduleReclamp(): void {
    if (this.reclampTimer || !this.terrainOn) return;
    this.reclampTimer = setTimeout(() => {
      this.reclampTimer = null;
      if (!this.viewer.isDestroyed()) this.reclamp();
    }, 500);
  }

  /** Unit labels follow the language of the place labels. */
  setLabelLanguage(lang: 'zh' | 'en'): void {
    this.labelLang = lang;
    this.scheduleLabels(0);
  }

  /** Labels wait for the camera to stop and for deltas to settle: at most one rebuild a second. */
  private scheduleLabels(delay = 1000): void {
    if (this.labelTimer && delay > 0) return;
    if (this.labelTimer) clearTimeout(this.labelTimer);
    this.labelTimer = setTimeout(() => {
      this.labelTimer = null;
      this.refreshUnitLabels();
    }, delay);
  }

  /** Units drawn with their name (or callsign) now. */
  unitLabelCount(): number {
    return this.unitLabels.length;
  }

  /**
   * Names of the units in view, only below 120 km (from higher up a name per unit is noise), at most
   * 300, and never two on top of each other: greedily in order of importance (en route first, then
   * on site, then the rest), a label is placed only where a 110×18 px box around it is free.
   */
  private refreshUnitLabels(): void {
    if (this.viewer.isDestroyed()) return;
    this.unitLabels.removeAll();
    const height = this.viewer.camera.positionCartographic.height;
    const view = height < 120_000 ? this.currentView() : null;
    if (view) {
      const rank: Record<UnitStatus, number> = { 'en-route': 0, 'on-site': 1, standby: 2, offline: 3 };
      const d = this.rows.data;
      const inView = (i: number) => {
        const lon = d[i * WIDTH + LON]!;
        const lat = d[i * WIDTH + LAT]!;
        return lon >= view.west && lon <= view.east && lat >= view.south && lat <= view.north;
      };
      const candidates = [...this.byId.values()].filter((i) => this.flags[i]! & SHOWN && inView(i)).sort((a, b) => rank[this.statuses[a]!] - rank[this.statuses[b]!]);
      const taken = new Set<string>();
      for (const i of candidates) {
        if (this.unitLabels.length >= 300) break;
        const position = this.unitPoints.position(i, new Cartesian3());
        const at = SceneTransforms.worldToWindowCoordinates(this.viewer.scene, position);
        if (!at) continue;
        // 110×18 px cells; a label takes its cell and the one beside it
        const cx = Math.floor(at.x / 110);
        const cy = Math.floor(at.y / 18);
        if (taken.has(`${cx},${cy}`) || taken.has(`${cx + 1},${cy}`)) continue;
        taken.add(`${cx},${cy}`).add(`${cx + 1},${cy}`);
        this.unitLabels.add({
          position,
          text: this.callsigns[i] ?? this.names[i]![this.labelLang],
          font: '12px sans-serif',
          fillColor: Color.WHITE,
          outlineColor: Color.BLACK,
          outlineWidth: 3,
          style: LabelStyle.FILL_AND_OUTLINE,
          pixelOffset: new Cartesian2(8, 0),
          verticalOrigin: VerticalOrigin.CENTER,
          disableDepthTestDistance: this.terrainOn ? Number.POSITIVE_INFINITY : 0,
        });
      }
    }
    this.viewer.scene.requestRender();
  }

  /** Key targets and shelters: rebuilt when the topic changes (a few hundred, rarely). */
  setSites(list: Iterable<Site>): number {
    this.siteBillboards.removeAll();
    this.siteKinds.clear();
    let n = 0;
    for (const x of list) {
      const image = (this.icons[x.kind] ??= siteIcon(x.kind));
      this.siteBillboards.add({
        id: `site:${x.id}`,
        position: Cartesian3.fromDegrees(x.lon, x.lat),
        image,
        width: 18,
        height: 18,
        verticalOrigin: VerticalOrigin.CENTER,
        show: this.visibleSiteKinds.has(x.kind),
      });
      this.siteKinds.set(`site:${x.id}`, x.kind);
      n++;
    }
    this.viewer.scene.requestRender();
    return n;
  }

  setSiteKindVisible(kind: SiteKind, visible: boolean): void {
    if (visible) this.visibleSiteKinds.add(kind);
    else this.visibleSiteKinds.delete(kind);
    for (let i = 0; i < this.siteBillboards.length; i++) {
      const b = this.siteBillboards.get(i);
      b.show = this.visibleSiteKinds.has(this.siteKinds.get(b.id as string)!);
    }
    this.viewer.scene.requestRender();
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

  unitCount(): number {
    return this.byId.size;
  }

  destroy(): void {
    this.typhoon.destroy();
    this.risk.destroy();
    this.trails.destroy();
    if (this.labelTimer) clearTimeout(this.labelTimer);
    if (this.reclampTimer) clearTimeout(this.reclampTimer);
    this.handler.destroy();
    this.viewer.destroy();
  }

  private putUnit(u: Unit): void {
    const i = this.byId.get(u.id);
    if (i === undefined) this.addUnit(u);
    else this.place(i, u.lon, u.lat, this.settle(i, u));
  }

  /**
   * A known unit's report, all but its position: whether it stands on the ground, and its style
   * when what is drawn changed (rarely: the ring, the fill, the label). Returns its height.
   * A unit without an altitude (a team on foot or in a vehicle) stands on the ground: on the terrain
   * when there is one. Drones and aircraft keep the altitude they report.
   */
  private settle(i: number, u: Unit): number {
    const f = this.flags[i]!;
    const ground = u.alt === null ? GROUND : 0;
    if ((f & GROUND) !== ground) this.flags[i] = f ^ GROUND;
    // pointer stores only on change: each costs a write barrier while the GC is marking
    const track = u.track;
    if (track == null) {
      if (this.callsigns[i] !== null) this.callsigns[i] = null;
      if (this.statuses[i] !== u.status || this.presences[i] !== undefined || this.kinds[i] !== u.kind) this.restyle(i, u.id, u.kind, u.status, undefined);
    } else {
      if (this.callsigns[i] !== track.callsign) this.callsigns[i] = track.callsign;
      if (this.statuses[i] !== u.status || this.presences[i] !== track.presence || this.kinds[i] !== u.kind) this.restyle(i, u.id, u.kind, u.status, track.presence);
    }
    return u.alt ?? (this.terrainOn ? this.groundAt(u.lon, u.lat) : 0);
  }

  /**
   * The hot path of a position delta (20,000 per tick at province scale): the point and the trail,
   * from arrays by index. No allocation, no object per unit. One unit in 64 is converted from
   * scratch each tick (see ecefStep).
   */
  private place(i: number, lon: number, lat: number, alt: number): void {
    this.unitPoints.setPosition(i, ecefStep(this.rows.data, i * WIDTH, lon, lat, alt, ((i + this.tickNo) & 63) === 0, SCRATCH));
    const color = this.trailColors[i]!;
    if (color !== null) this.trails.record(i, this.ids[i]!, lon, lat, alt, color, (this.flags[i]! & SHOWN) !== 0);
  }

  /** A unit the globe did not have; returns its index. */
  private addUnit(u: Unit): number {
    const alt = u.alt ?? this.groundAt(u.lon, u.lat);
    const show = this.isShown(u.kind, u.status);
    const i = this.unitPoints.add(`unit:${u.id}`, SCRATCH, styleOf(u.kind, u.track?.presence, u.status), show);
    // one conversion, from scratch, that also fills the row's position and its sines and cosines
    this.rows.take(i);
    this.unitPoints.setPosition(i, ecefStep(this.rows.data, i * WIDTH, u.lon, u.lat, alt, true, SCRATCH));
    if (show) this.shownUnits++;
    // A trail starts where the unit first appears: only live-tracked units and those on the move
    // carry one from the start (a snapshot of 600 teams at their stations needs none).
    const trailColor = u.kind === 'depot' ? null : FILL[u.kind];
    if (i >= this.flags.length) {
      const flags = new Uint8Array(Math.max(this.flags.length * 2, i + 1));
      flags.set(this.flags);
      this.flags = flags;
    }
    this.flags[i] = (show ? SHOWN : 0) | (u.alt === null ? GROUND : 0);
    // the arrays stay dense: an index is either reused or the next one (unitPoints.add)
    this.kinds[i] = u.kind;
    this.statuses[i] = u.status;
    this.presences[i] = u.track?.presence;
    this.callsigns[i] = u.track?.callsign ?? null;
    this.names[i] = u.name;
    this.ids[i] = u.id;
    this.trailColors[i] = trailColor;
    this.byId.set(u.id, i);
    if (trailColor && (u.track || u.status === 'en-route')) this.trails.record(i, u.id, u.lon, u.lat, alt, trailColor, show);
    this.scheduleLabels();
    return i;
  }

  /** A unit's status, presence or kind changed: its ring or fill, and whether its layer is on. */
  private restyle(i: number, id: string, kind: UnitKind, status: UnitStatus, presence: string | undefined): void {
    this.statuses[i] = status;
    this.presences[i] = presence;
    if (this.kinds[i] !== kind) {
      this.kinds[i] = kind;
      this.trailColors[i] = kind === 'depot' ? null : FILL[kind];
    }
    this.unitPoints.setStyle(i, styleOf(kind, presence, status));
    const show = this.isShown(kind, status);
    if (show !== ((this.flags[i]! & SHOWN) !== 0)) {
      this.flags[i] = this.flags[i]! ^ SHOWN;
      this.unitPoints.setShow(i, show);
      this.shownUnits += show ? 1 : -1;
      this.trails.setShown(id, show);
    }
  }
}
