import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useContactsStore = defineStore('contacts', () => topicState('contacts'));
