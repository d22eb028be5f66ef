import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const usePlacesStore = defineStore('places', () => topicState('places'));
