import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useIncidentsStore = defineStore('incidents', () => topicState('incidents'));
