import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** Globe displays that can follow or present in a consultation, and which the panel chose (issue 22). */
export const useConsolesStore = defineStore('consoles', () => topicState('consoles'));
