import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useAdvisoriesStore = defineStore('advisories', () => topicState('advisories'));
