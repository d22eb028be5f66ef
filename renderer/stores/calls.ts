import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useCallsStore = defineStore('calls', () => topicState('calls'));
