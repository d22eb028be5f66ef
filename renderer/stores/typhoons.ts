import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useTyphoonsStore = defineStore('typhoons', () => topicState('typhoons'));
