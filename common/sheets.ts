// Where a risk-prompt sheet stands for each recipient at a moment (issue 21): shared by the core (a
// close is refused while a recipient is not complete) and the displays (the board's countdowns, the
// globe's overlay colours each target by it). docs/command.md.
import type { Sheet } from './domain.ts';

export const RECIPIENT_STATES = ['undelivered', 'unread', 'signed', 'progress', 'complete', 'overdue', 'verified', 'closed', 'cancelled'] as const;
export type RecipientState = (typeof RECIPIENT_STATES)[number];

/** Every measure reported done or not applicable (a blocked one still needs the issuer's help). */
export function complete(sheet: Sheet, hall: string): boolean {
  const r = sheet.recipients[hall];
  return !!r && sheet.measures.every((m) => r.feedback[m.id] && r.feedback[m.id]!.status !== 'blocked');
}

/**
 * One recipient's state: the sheet's own end first (closed, cancelled), then verified; overdue once
 * the feedback deadline passed and it is not complete, or the sign-for deadline and it has not
 * signed; else how far it got.
 */
export function recipientState(sheet: Sheet, hall: string, now: number): RecipientState {
  if (sheet.state === 'cancelled') return 'cancelled';
  if (sheet.state === 'closed') return 'closed';
  const r = sheet.recipients[hall];
  if (!r) return 'undelivered';
  if (r.verifiedAt !== null) return 'verified';
  const done = complete(sheet, hall);
  if (done) return 'complete';
  if (sheet.state === 'issued' && now > sheet.feedbackDue) return 'overdue';
  // not signed for in time (限时签收): overdue too, before any feedback is due
  if (sheet.state === 'issued' && r.signedAt === null && sheet.signBy !== null && now > sheet.signBy) return 'overdue';
  if (Object.keys(r.feedback).length) return 'progress';
  if (r.signedAt !== null) return 'signed';
  return r.delivered !== null ? 'unread' : 'undelivered';
}
