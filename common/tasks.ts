// A task's lifecycle (issue 21): which step may follow which, and whether it is overdue. Shared by
// the core (every step checked) and the board. docs/command.md.
import type { Task, TaskState } from './domain.ts';

/** The steps the assignee's side may take from each state. */
export const NEXT: Readonly<Record<TaskState, readonly TaskState[]>> = {
  assigned: ['accepted', 'rejected'],
  accepted: ['underway', 'done'],
  underway: ['done'],
  rejected: [],
  done: [],
  verified: [],
  cancelled: [],
};

/** Still to be finished (not done, verified, rejected or cancelled). */
export const isOpen = (t: Task) => t.state === 'assigned' || t.state === 'accepted' || t.state === 'underway';

/** Past its deadline and not done. */
export const isOverdue = (t: Task, now: number) => isOpen(t) && now > t.deadline;
