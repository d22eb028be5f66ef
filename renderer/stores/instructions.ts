import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useInstructionsStore = defineStore('instructions', () => topicState('instructions'));
