import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** Emergencies raised by field devices (TAK 911 and the like): every display shows the open ones. */
export const useAlertsStore = defineStore('alerts', () => topicState('alerts'));
