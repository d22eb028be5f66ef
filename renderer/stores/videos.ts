import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

export const useVideosStore = defineStore('videos', () => topicState('videos'));
