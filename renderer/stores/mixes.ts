import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** Each consultation's mix in the conference bridge: who is in, speaking, muted (issue 22). */
export const useMixesStore = defineStore('mixes', () => topicState('mixes'));
