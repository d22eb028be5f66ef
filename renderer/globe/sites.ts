// Key targets and shelters on the globe (the `sites` topic): hazardous-chemical sites, reservoirs and
// shelters as shaped billboards, each kind switchable.
import { BillboardCollection, Cartesian3, VerticalOrigin, type Scene } from '@cesium/engine';
import type { Site, SiteKind } from '../../common/domain.ts';

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

export class SitesLayer {
  private readonly scene: Scene;
  private readonly billboards = new BillboardCollection();
  private readonly kinds = new Map<string, SiteKind>();
  private readonly visible = new Set<SiteKind>(['hazchem', 'reservoir', 'shelter']);
  private icons: Partial<Record<SiteKind, HTMLCanvasElement>> = {};

  constructor(scene: Scene) {
    this.scene = scene;
    scene.primitives.add(this.billboards);
  }

  /** Key targets and shelters: rebuilt when the topic changes (a few hundred, rarely). */
  set(list: Iterable<Site>): number {
    this.billboards.removeAll();
    this.kinds.clear();
    let n = 0;
    for (const x of list) {
      const image = (this.icons[x.kind] ??= siteIcon(x.kind));
      this.billboards.add({
        id: `site:${x.id}`,
        position: Cartesian3.fromDegrees(x.lon, x.lat),
        image,
        width: 18,
        height: 18,
        verticalOrigin: VerticalOrigin.CENTER,
        show: this.visible.has(x.kind),
      });
      this.kinds.set(`site:${x.id}`, x.kind);
      n++;
    }
    this.scene.requestRender();
    return n;
  }

  setKindVisible(kind: SiteKind, visible: boolean): void {
    if (visible) this.visible.add(kind);
    else this.visible.delete(kind);
    for (let i = 0; i < this.billboards.length; i++) {
      const b = this.billboards.get(i);
      b.show = this.visible.has(this.kinds.get(b.id as string)!);
    }
    this.scene.requestRender();
  }
}
