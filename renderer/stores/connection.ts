import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { ConnectionState } from '../hub/client.ts';
import { useHub } from '../hub/index.ts';

/** The display's own link to the hall core (not the WAN: that is the link topic). */
export const useConnectionStore = defineStore('connection', () => {
  const state = ref<ConnectionState>('connecting');
  useHub().onState((s) => (state.value = s));
  return { state };
});
