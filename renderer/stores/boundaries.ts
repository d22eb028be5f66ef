import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useBoundariesStore = defineStore('boundaries', () => topicState('boundaries'));
