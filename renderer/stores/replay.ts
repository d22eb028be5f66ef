import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useReplayStore = defineStore('replay', () => topicState('replay'));
