// The hall core's clock as seen from this display. The replay's anchor is the core's time, so a
// browser display whose own clock is off (a wall controller without NTP) would otherwise show the
// storm somewhere else than its neighbours. One ping a minute, the offset from the fastest one.
import { onBeforeUnmount, ref } from 'vue';
import { useHub } from '../hub/index.ts';

const offset = ref(0);
let best = Infinity;
let users = 0;
let timer: ReturnType<typeof setInterval> | null = null;

export function useServerClock() {
  const hub = useHub();
  const ping = async () => {
    const t0 = Date.now();
    try {
      const { now } = await hub.command('hall.ping', {});
      const rtt = Date.now() - t0;
      // A faster round trip bounds the error better; older estimates age out slowly.
      if (rtt <= best * 1.5 || best === Infinity) {
        best = Math.min(best, rtt);
        offset.value = now - (t0 + rtt / 2);
      }
    } catch {
      // Not connected: keep the last estimate.
    }
  };
  let off: (() => void) | null = null;
  if (users++ === 0) {
    off = hub.onState((s) => {
      if (s === 'open') void ping();
    });
    timer = setInterval(ping, 60_000);
  }
  onBeforeUnmount(() => {
    off?.();
    if (--users === 0 && timer) clearInterval(timer);
  });
  return { now: () => Date.now() + offset.value, offset };
}
