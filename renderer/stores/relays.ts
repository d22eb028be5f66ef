import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** Calls' video relayed to wall tiles: each tile's offer and the call panel's answer (issue 22). */
export const useRelaysStore = defineStore('relays', () => topicState('relays'));
