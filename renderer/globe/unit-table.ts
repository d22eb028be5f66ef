// What the globe keeps per unit, by the unit's index: one table of columns, grown in one place. The
// index is the unit's point in the point collection (unit-points.ts), its row in `rows` (longitude,
// latitude, their sines and cosines, its trail's head: rows.ts) and its place in every column below.
// Indexed state, not an object per unit, is what lets a delta's moves be applied in the order the
// globe holds them (docs/architecture.md, "From a feed to a pixel").
import type { Color } from '@cesium/engine';
import type { Unit, UnitKind, UnitStatus } from '../../common/domain.ts';
import { UnitRows } from './rows.ts';

/** flags: drawn now (its kind and status layers both on) */
export const SHOWN = 1;
/** flags: stands on the ground (reports no altitude): clamped to the terrain when there is one */
export const GROUND = 2;
const NO_NAME: Unit['name'] = { zh: '', en: '' };

export class UnitTable {
  /** id → index: one lookup per delta op at most (see units.ts for when it is skipped) */
  readonly byId = new Map<string, number>();
  readonly rows = new UnitRows(4096);
  flags = new Uint8Array(4096);
  readonly kinds: UnitKind[] = [];
  /** what was last drawn: status (the ring), presence (the fill), callsign (the label) */
  readonly statuses: UnitStatus[] = [];
  readonly presences: (string | undefined)[] = [];
  readonly callsigns: (string | null)[] = [];
  readonly names: Unit['name'][] = [];
  readonly ids: string[] = [];
  /** the hall below that reported it (issue 20), or null for this hall's own */
  readonly halls: (string | null)[] = [];
  /** the trail colour, or null for a unit that draws no trail (a depot) */
  readonly trailColors: (Color | null)[] = [];

  get size(): number {
    return this.byId.size;
  }

  /** Index i is taken by a unit: its row cleared, every column grown to hold it. The columns stay
   *  dense: an index is either reused or the next one (unit-points.ts). */
  take(i: number, u: Unit, flags: number, trailColor: Color | null): void {
    this.rows.take(i);
    if (i >= this.flags.length) {
      const grown = new Uint8Array(Math.max(this.flags.length * 2, i + 1));
      grown.set(this.flags);
      this.flags = grown;
    }
    this.flags[i] = flags;
    this.kinds[i] = u.kind;
    this.statuses[i] = u.status;
    this.presences[i] = u.track?.presence;
    this.callsigns[i] = u.track?.callsign ?? null;
    this.names[i] = u.name;
    this.ids[i] = u.id;
    this.halls[i] = u.hall ?? null;
    this.trailColors[i] = trailColor;
    this.byId.set(u.id, i);
  }

  /** The unit at index i is gone; the index may be taken again. */
  release(i: number): void {
    this.byId.delete(this.ids[i]!);
    this.rows.release(i);
    this.flags[i] = 0;
    this.names[i] = NO_NAME;
    this.ids[i] = '';
  }

  /** Every unit gone (a snapshot): indices are handed out again from 0. */
  clear(): void {
    this.byId.clear();
    for (const a of [this.kinds, this.statuses, this.presences, this.callsigns, this.names, this.ids, this.halls, this.trailColors]) a.length = 0;
  }
}
