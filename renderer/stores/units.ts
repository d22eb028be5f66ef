import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useUnitsStore = defineStore('units', () => topicState('units'));
