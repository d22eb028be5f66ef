import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useHallStore = defineStore('hall', () => topicState('hall'));
