// The globe's imagery: the Natural Earth II that ships inside Cesium's assets always underneath (where
// a source has nothing, the globe is never bare), and one online source from the hall's tile cache
// over it, per display.
import { UrlTemplateImageryProvider, type CesiumWidget, type ImageryLayer } from '@cesium/engine';

export class BaseLayer {
  private readonly viewer: CesiumWidget;
  private overlay: ImageryLayer | null = null;

  constructor(viewer: CesiumWidget) {
    this.viewer = viewer;
  }

  /** A source from the hall's tile cache (null: the bundled imagery alone). */
  set(layer: { id: string; maxZoom: number; minZoom: number } | null, query = ''): void {
    const layers = this.viewer.imageryLayers;
    if (this.overlay) layers.remove(this.overlay, true);
    this.overlay = null;
    if (layer) {
      const provider = new UrlTemplateImageryProvider({ url: `./tiles/${layer.id}/{z}/{x}/{y}${query}`, minimumLevel: layer.minZoom, maximumLevel: layer.maxZoom, credit: layer.id });
      this.overlay = layers.addImageryProvider(provider);
    }
    this.viewer.scene.requestRender();
  }
}
