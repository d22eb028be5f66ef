import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useAnalysisStore = defineStore('analysis', () => topicState('analysis'));
