import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** The halls below this one in the command network, from their heartbeats (issue 20). */
export const useHallsStore = defineStore('halls', () => topicState('halls'));
