// Who a task can go to (issue 21): the halls below this one, then this hall's own teams and depots
// (a hall below's units are that hall's to task). Keys are `hall:<code>` and `unit:<id>`.
import { computed } from 'vue';
import { useI18n } from 'vue-i18n';
import { TEAM_KINDS, type Unit } from '../../common/domain.ts';
import { useHallsStore } from '../stores/halls.ts';
import { useUnitsStore } from '../stores/units.ts';

export function useAssignees() {
  const { locale } = useI18n();
  const units = useUnitsStore();
  const halls = useHallsStore();
  const lang = computed(() => (locale.value === 'en' ? 'en' : 'zh'));
  const list = computed(() => {
    void units.version;
    void halls.version;
    const own = [...units.items.values()].filter((u: Unit) => !u.hall && (TEAM_KINDS.includes(u.kind as never) || u.kind === 'depot')).sort((a, b) => a.id.localeCompare(b.id));
    return [
      ...halls
        .list()
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((h) => ({ key: `hall:${h.id}`, label: h.name[lang.value] })),
      ...own.map((u) => ({ key: `unit:${u.id}`, label: u.name[lang.value] })),
    ];
  });
  /** `{ kind, id }` for task.assign from a key. */
  const parse = (key: string) => {
    const [kind, id] = key.split(/:(.*)/s) as ['unit' | 'hall', string];
    return { kind, id };
  };
  return { assignees: list, parse };
}
