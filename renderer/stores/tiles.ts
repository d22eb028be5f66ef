import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useTilesStore = defineStore('tiles', () => topicState('tiles'));
