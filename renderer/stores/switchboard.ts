import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useSwitchboardStore = defineStore('switchboard', () => topicState('switchboard'));
