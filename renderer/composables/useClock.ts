import { onScopeDispose, ref } from 'vue';

export interface UseClockOptions {
  /** Tick interval in ms. @default 1000 */
  intervalMs?: number;
}

// Month/day and time: the year is not what a duty officer looks up, and the two dates can differ.
const fmt = (tz: string) => new Intl.DateTimeFormat('zh-CN', { timeZone: tz, hour12: false, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const beijingFmt = fmt('Asia/Shanghai');
const utcFmt = fmt('UTC');

/** Beijing time and UTC side by side: the hall works in Beijing time, forecasts come in UTC. */
export function useClock(opts: UseClockOptions = {}) {
  const now = ref(Date.now());
  const timer = setInterval(() => (now.value = Date.now()), opts.intervalMs ?? 1000);
  onScopeDispose(() => clearInterval(timer));
  return { now, beijing: () => beijingFmt.format(now.value), utc: () => utcFmt.format(now.value) };
}
