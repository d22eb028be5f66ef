import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useWallsStore = defineStore('walls', () => topicState('walls'));
