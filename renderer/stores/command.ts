import { defineStore } from 'pinia';
import { topicState } from './topic.ts';

/** This hall's emergency response (`own`), those of the halls above, the forecast's proposal (issue 21). */
export const useResponsesStore = defineStore('responses', () => topicState('responses'));
/** The checklists declared levels opened. */
export const useChecklistsStore = defineStore('checklists', () => topicState('checklists'));
/** Risk-prompt sheets issued here and received from above. */
export const useSheetsStore = defineStore('sheets', () => topicState('sheets'));
/** Tasks (派单) assigned here and from above. */
export const useTasksStore = defineStore('tasks', () => topicState('tasks'));
/** The plan's checklist per response level, and the measure templates per hazard and level. */
export const usePlansStore = defineStore('plans', () => topicState('plans'));
export const useTemplatesStore = defineStore('templates', () => topicState('templates'));
