import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** The consultation's presenter view (issue 22). */
export const useViewsStore = defineStore('views', () => topicState('views'));
