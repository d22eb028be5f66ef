import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** "Prepare for offline" jobs and their progress (topic `prefetch`). */
export const usePrefetchStore = defineStore('prefetch', () => topicState('prefetch'));
