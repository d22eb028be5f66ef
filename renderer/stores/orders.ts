import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** Instructions this hall sent down, with each target's receipts (issue 20). */
export const useOrdersStore = defineStore('orders', () => topicState('orders'));
