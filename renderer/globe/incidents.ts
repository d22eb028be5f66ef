// Open incidents on the globe: large markers coloured by severity (I and II red, III orange, IV
// yellow), a layer that can be switched off.
import { Cartesian3, Color, PointPrimitiveCollection, type Scene } from '@cesium/engine';
import type { Incident } from '../../common/domain.ts';

export class IncidentsLayer {
  private readonly scene: Scene;
  private readonly points = new PointPrimitiveCollection();

  constructor(scene: Scene) {
    this.scene = scene;
    scene.primitives.add(this.points);
  }

  /** Returns how many are drawn (the open ones). */
  set(list: Iterable<Incident>): number {
    this.points.removeAll();
    let n = 0;
    for (const i of list) {
      if (i.status !== 'open') continue;
      this.points.add({
        id: `incident:${i.id}`,
        position: Cartesian3.fromDegrees(i.lon, i.lat, 2000),
        pixelSize: 16,
        color: Color.fromCssColorString(i.severity === 'I' || i.severity === 'II' ? '#ff1744' : i.severity === 'III' ? '#ff9100' : '#ffea00'),
        outlineColor: Color.BLACK,
        outlineWidth: 3,
      });
      n++;
    }
    this.scene.requestRender();
    return n;
  }

  setVisible(visible: boolean): void {
    this.points.show = visible;
    this.scene.requestRender();
  }
}
