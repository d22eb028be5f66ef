import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** Key targets (hazardous-chemical sites, reservoirs) and shelters (topic `sites`). */
export const useSitesStore = defineStore('sites', () => topicState('sites'));
