import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useFeedsStore = defineStore('feeds', () => topicState('feeds'));
