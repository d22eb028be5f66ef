import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** Who holds the hall's watch now (one item, `duty`). */
export const useDutyStore = defineStore('duty', () => topicState('duty'));
