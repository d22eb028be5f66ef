// Unit names on the globe: only below 120 km (from higher up a name per unit is noise), for the units
// in view, at most 300, and never two on top of each other. Rebuilt when the camera stops and at most
// once a second while deltas arrive.
import { Cartesian2, Cartesian3, Color, LabelCollection, LabelStyle, SceneTransforms, VerticalOrigin, type CesiumWidget } from '@cesium/engine';
import type { UnitStatus } from '../../common/domain.ts';
import { LAT, LON, WIDTH } from './rows.ts';
import type { UnitPoints } from './unit-points.ts';
import { SHOWN, type UnitTable } from './unit-table.ts';

const RANK: Record<UnitStatus, number> = { 'en-route': 0, 'on-site': 1, standby: 2, offline: 3 };

export class UnitLabels {
  private readonly viewer: CesiumWidget;
  private readonly table: UnitTable;
  private readonly points: UnitPoints;
  private readonly labels = new LabelCollection();
  private timer: ReturnType<typeof setTimeout> | null = null;
  lang: 'zh' | 'en' = 'zh';
  /** Labels drawn over terrain are not hidden by it (see Terrain). */
  overTerrain = () => false;

  constructor(viewer: CesiumWidget, table: UnitTable, points: UnitPoints) {
    this.viewer = viewer;
    this.table = table;
    this.points = points;
    viewer.scene.primitives.add(this.labels);
    viewer.camera.moveEnd.addEventListener(() => this.schedule(0));
  }

  get count(): number {
    return this.labels.length;
  }

  /** Labels wait for the camera to stop and for deltas to settle: at most one rebuild a second. */
  schedule(delay = 1000): void {
    if (this.timer && delay > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, delay);
  }

  destroy(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Greedily in order of importance (en route first, then on site, then the rest), a label is
   *  placed only where a 110×18 px box around it is free. */
  private refresh(): void {
    if (this.viewer.isDestroyed()) return;
    this.labels.removeAll();
    const height = this.viewer.camera.positionCartographic.height;
    const r = height < 120_000 ? this.viewer.camera.computeViewRectangle() : undefined;
    if (r) {
      const deg = 180 / Math.PI;
      const [west, south, east, north] = [r.west * deg, r.south * deg, r.east * deg, r.north * deg];
      const t = this.table;
      const d = t.rows.data;
      const inView = (i: number) => {
        const lon = d[i * WIDTH + LON]!;
        const lat = d[i * WIDTH + LAT]!;
        return lon >= west && lon <= east && lat >= south && lat <= north;
      };
      const candidates = [...t.byId.values()].filter((i) => t.flags[i]! & SHOWN && inView(i)).sort((a, b) => RANK[t.statuses[a]!] - RANK[t.statuses[b]!]);
      const taken = new Set<string>();
      for (const i of candidates) {
        if (this.labels.length >= 300) break;
        const position = this.points.position(i, new Cartesian3());
        const at = SceneTransforms.worldToWindowCoordinates(this.viewer.scene, position);
        if (!at) continue;
        // 110×18 px cells; a label takes its cell and the one beside it
        const cx = Math.floor(at.x / 110);
        const cy = Math.floor(at.y / 18);
        if (taken.has(`${cx},${cy}`) || taken.has(`${cx + 1},${cy}`)) continue;
        taken.add(`${cx},${cy}`).add(`${cx + 1},${cy}`);
        this.labels.add({
          position,
          text: t.callsigns[i] ?? t.names[i]![this.lang],
          font: '12px sans-serif',
          fillColor: Color.WHITE,
          outlineColor: Color.BLACK,
          outlineWidth: 3,
          style: LabelStyle.FILL_AND_OUTLINE,
          pixelOffset: new Cartesian2(8, 0),
          verticalOrigin: VerticalOrigin.CENTER,
          disableDepthTestDistance: this.overTerrain() ? Number.POSITIVE_INFINITY : 0,
        });
      }
    }
    this.viewer.scene.requestRender();
  }
}
