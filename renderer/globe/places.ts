// The hall's places on the globe: the province hall, city command centres and county seats, each a
// point and a name that declutters by distance (cities stay, counties appear as the operator zooms in).
import { Cartesian2, Cartesian3, Color, DistanceDisplayCondition, LabelCollection, LabelStyle, NearFarScalar, PointPrimitiveCollection, VerticalOrigin, type Scene } from '@cesium/engine';
import type { Place } from '../../common/domain.ts';

export class PlacesLayer {
  private readonly scene: Scene;
  private readonly points = new PointPrimitiveCollection();
  private readonly labels = new LabelCollection();

  constructor(scene: Scene) {
    this.scene = scene;
    scene.primitives.add(this.points);
  }

  /** The names go above the unit points: added when the units layer is in place. */
  addLabels(): void {
    this.scene.primitives.add(this.labels);
  }

  set(places: Iterable<Place>, lang: 'zh' | 'en'): void {
    this.points.removeAll();
    this.labels.removeAll();
    for (const p of places) {
      const pos = Cartesian3.fromDegrees(p.lon, p.lat);
      const big = p.kind !== 'county';
      this.points.add({
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
    this.scene.requestRender();
  }
}
