import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useRisksStore = defineStore('risks', () => topicState('risks'));
