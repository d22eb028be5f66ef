// Terrain from a quantized-mesh source through the hall's cache (or the ellipsoid), and the ground
// height under units that report no altitude: sampled from the terrain tiles the globe has loaded,
// cached per ~500 m cell, and sampled again whenever loading settles (the terrain under them gets
// finer as tiles arrive).
import { Cartographic, CesiumTerrainProvider, EllipsoidTerrainProvider, Resource, type CesiumWidget } from '@cesium/engine';

const SCRATCH_CARTO = new Cartographic();

export class Terrain {
  private readonly viewer: CesiumWidget;
  /** On when a source is chosen. */
  on = false;
  private seq = 0;
  private readonly heights = new Map<number, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Put ground units on the terrain again (the units layer). */
  onReclamp: () => void = () => undefined;

  constructor(viewer: CesiumWidget) {
    this.viewer = viewer;
    // when the terrain tiles in view have all arrived, put ground units on them
    viewer.scene.globe.tileLoadProgressEvent.addEventListener((queued: number) => {
      if (queued === 0) this.schedule();
    });
  }

  /** A quantized-mesh source through the hall's cache (null: the ellipsoid). */
  async set(layer: { id: string } | null, token: string | null = null): Promise<void> {
    const seq = ++this.seq;
    const provider = layer ? await CesiumTerrainProvider.fromUrl(new Resource({ url: `./tiles/${layer.id}/`, queryParameters: token ? { token } : undefined })) : new EllipsoidTerrainProvider();
    if (seq !== this.seq || this.viewer.isDestroyed()) return;
    this.viewer.terrainProvider = provider;
    this.on = layer !== null;
    // units are drawn over the terrain as over the ellipsoid: the globe does not depth-test primitives
    // against terrain (Cesium's default, kept), so a team in a valley is not hidden by the ridge
    this.reclamp();
  }

  /** Terrain height at a place from the tiles loaded now (undefined: none loaded there). */
  heightAt(lon: number, lat: number): number | undefined {
    return this.viewer.scene.globe.getHeight(Cartographic.fromDegrees(lon, lat));
  }

  /** The ground under a point: 0 without terrain or where none is loaded yet (the next reclamp
   *  places it). */
  groundAt(lon: number, lat: number): number {
    if (!this.on) return 0;
    const key = Math.round(lon * 200) * 100_000 + Math.round(lat * 200);
    const h = this.heights.get(key);
    if (h !== undefined) return h;
    const got = this.viewer.scene.globe.getHeight(Cartographic.fromDegrees(lon, lat, 0, SCRATCH_CARTO));
    if (got === undefined) return 0;
    this.heights.set(key, got);
    return got;
  }

  destroy(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private reclamp(): void {
    this.heights.clear();
    this.onReclamp();
    this.viewer.scene.requestRender();
  }

  private schedule(): void {
    if (this.timer || !this.on) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.viewer.isDestroyed()) this.reclamp();
    }, 500);
  }
}
