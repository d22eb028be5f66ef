// A picture's honesty on a tile (issue 22): live while the decoder counts new frames, 信号中断 after
// 5 s without one, never a frozen picture shown as live. Shared by the tiles fed over WebRTC.
import { onBeforeUnmount, ref, type Ref } from 'vue';

export type PictureState = 'connecting' | 'live' | 'lost' | 'failed';

export function usePictureState(el: Ref<HTMLVideoElement | null>): { state: Ref<PictureState>; detail: Ref<string>; fail: (why: string) => void; reset: () => void } {
  const state = ref<PictureState>('connecting');
  const detail = ref('');
  let frames = 0;
  let lastFrame = Date.now();
  const timer = setInterval(() => {
    const v = el.value;
    if (!v || state.value === 'failed') return;
    const n = v.getVideoPlaybackQuality().totalVideoFrames;
    if (n > frames) {
      frames = n;
      lastFrame = Date.now();
      state.value = 'live';
    } else if (state.value === 'live' && Date.now() - lastFrame > 5000) state.value = 'lost';
  }, 1000);
  onBeforeUnmount(() => clearInterval(timer));
  return {
    state,
    detail,
    fail(why: string) {
      state.value = 'failed';
      detail.value = why;
    },
    reset() {
      frames = 0;
      lastFrame = Date.now();
      state.value = 'connecting';
      detail.value = '';
    },
  };
}
