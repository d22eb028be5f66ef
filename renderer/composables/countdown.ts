// Deadlines as a duty officer counts them (issue 21): the hall's clock (corrected for this display's
// own, ticking each second) and "due in 1 h 20 min" / "late by 35 min".
import { computed } from 'vue';
import { useI18n } from 'vue-i18n';
import { useClock } from './useClock.ts';
import { useServerClock } from './useServerClock.ts';

export function useCountdown() {
  const { t } = useI18n();
  const { now: tick } = useClock();
  const server = useServerClock();
  // whole milliseconds: times sent in commands are integers
  const now = computed(() => (tick.value, Math.round(server.now())));
  function left(due: number): string {
    const min = Math.round((due - now.value) / 60_000);
    const span = (m: number) => (m >= 60 ? t('response.hm', { h: Math.floor(m / 60), m: m % 60 }) : t('response.m', { m }));
    return min >= 0 ? t('response.dueIn', { t: span(min) }) : t('response.late', { t: span(-min) });
  }
  return { now, left };
}
