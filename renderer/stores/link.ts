import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useLinkStore = defineStore('link', () => topicState('link'));
