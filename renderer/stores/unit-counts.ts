import { defineStore } from 'pinia';
import { shallowRef } from 'vue';
import { UNIT_KINDS, UNIT_STATUSES, type Unit, type UnitKind, type UnitStatus } from '../../common/domain.ts';
import { FieldCounts } from '../hub/counts.ts';
import { useHub } from '../hub/index.ts';

/** The legend's counts: units by kind and by status, kept per op (renderer/hub/counts.ts). The
 *  lists change, and the legend redraws, only when a count does: a tick of moves changes none. */
export const useUnitCountsStore = defineStore('unitCounts', () => {
  const hub = useHub();
  const byKind = new FieldCounts<UnitKind>(UNIT_KINDS, (u) => (u as Unit).kind);
  // a marker (a pin others dropped) has no status a duty officer counts: forces only
  const byStatus = new FieldCounts<UnitStatus>(UNIT_STATUSES, (u) => ((u as Unit).kind.startsWith('marker-') ? undefined : (u as Unit).status));
  const kinds = shallowRef<[UnitKind, number][]>([]);
  const statuses = shallowRef<[UnitStatus, number][]>([]);
  hub.subscribe('units', (e) => {
    const kv = byKind.version;
    const sv = byStatus.version;
    if (e.kind === 'reset') {
      byKind.reset(hub.numbered('units'));
      byStatus.reset(hub.numbered('units'));
    } else {
      byKind.apply(e.ops, e.slots);
      byStatus.apply(e.ops, e.slots);
    }
    if (byKind.version !== kv) kinds.value = byKind.nonZero();
    if (byStatus.version !== sv) statuses.value = byStatus.nonZero();
  });
  return { kinds, statuses };
});
