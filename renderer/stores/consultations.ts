import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useConsultationsStore = defineStore('consultations', () => topicState('consultations'));
