// Risk-prompt sheets on the globe (issue 21): each county this hall sent a sheet to, at its seat, a
// ring coloured by where its sheets stand (the most urgent of them): overdue red, not delivered or
// unread grey, signed for blue, in progress amber, answered or verified green, closed dark. The
// duty officer sees at a glance which counties have not acted.
import { Cartesian3, Color, LabelCollection, LabelStyle, PointPrimitiveCollection, type Scene, VerticalOrigin, Cartesian2 } from '@cesium/engine';
import type { Place, Sheet } from '../../common/domain.ts';
import { recipientState, type RecipientState } from '../../common/sheets.ts';

/** Most urgent first: a county shows the first of these any of its sheets is in. */
const URGENCY: RecipientState[] = ['overdue', 'undelivered', 'unread', 'signed', 'progress', 'complete', 'verified', 'closed'];
export const SHEET_COLORS: Record<string, string> = {
  overdue: '#e53935',
  undelivered: '#9e9e9e',
  unread: '#9e9e9e',
  signed: '#1e88e5',
  progress: '#fb8c00',
  complete: '#43a047',
  verified: '#43a047',
  closed: '#2e5d32',
};

export class SheetsLayer {
  private readonly scene: Scene;
  private readonly points = new PointPrimitiveCollection();
  private readonly labels = new LabelCollection();
  /** county → the state drawn (for the legend and the tests) */
  readonly drawn = new Map<string, RecipientState>();

  constructor(scene: Scene) {
    this.scene = scene;
    scene.primitives.add(this.points);
    scene.primitives.add(this.labels);
  }

  /** Issued and closed sheets sent from here (drafts and cancelled ones are not drawn). */
  set(sheets: Iterable<Sheet>, places: ReadonlyMap<string, Place>, now: number, label: (state: RecipientState) => string): number {
    this.points.removeAll();
    this.labels.removeAll();
    this.drawn.clear();
    for (const s of sheets) {
      if (s.direction !== 'out' || (s.state !== 'issued' && s.state !== 'closed')) continue;
      for (const code of s.targets) {
        const st = recipientState(s, code, now);
        const was = this.drawn.get(code);
        if (was === undefined || URGENCY.indexOf(st) < URGENCY.indexOf(was)) this.drawn.set(code, st);
      }
    }
    for (const [code, st] of this.drawn) {
      const p = places.get(code);
      if (!p) continue;
      const position = Cartesian3.fromDegrees(p.lon, p.lat, 2500);
      this.points.add({ id: `sheet:${code}`, position, pixelSize: 22, color: Color.TRANSPARENT, outlineColor: Color.fromCssColorString(SHEET_COLORS[st] ?? '#9e9e9e'), outlineWidth: 5 });
      this.labels.add({
        position,
        text: `${p.name.zh} ${label(st)}`,
        font: '600 13px sans-serif',
        fillColor: Color.fromCssColorString(SHEET_COLORS[st] ?? '#9e9e9e'),
        outlineColor: Color.BLACK,
        outlineWidth: 3,
        style: LabelStyle.FILL_AND_OUTLINE,
        verticalOrigin: VerticalOrigin.BOTTOM,
        pixelOffset: new Cartesian2(0, -16),
      });
    }
    this.scene.requestRender();
    return this.drawn.size;
  }

  setVisible(visible: boolean): void {
    this.points.show = visible;
    this.labels.show = visible;
    this.scene.requestRender();
  }
}
