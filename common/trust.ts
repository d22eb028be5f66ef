// Who may do what. Every command needs one grant; an operator's role holds a set of grants. The core
// checks (main/core/hub/hub.ts), the displays hide what would fail (renderer/stores/session.ts):
// both read this one table.
import { z } from 'zod';

/** What a command does, as far as trust goes.
 *  - read: looks, changes nothing (the ping, the journal, the call log)
 *  - operate: the duty officer's daily work: incidents, calls, the walls, units, the replay, handovers
 *  - decide: the hall's decisions, signed by the leader on duty: five-colour risk levels
 *  - configure: what the hall connects to and what it holds as reference: feeds, video and tile
 *    sources, prefetch, the directory, boundaries */
export const GRANTS = ['read', 'operate', 'decide', 'configure'] as const;
export type Grant = (typeof GRANTS)[number];

/** An operator's role (岗位). */
export const OPERATOR_ROLES = ['observer', 'duty', 'leader', 'admin'] as const;
export const OperatorRole = z.enum(OPERATOR_ROLES);
export type OperatorRole = z.infer<typeof OperatorRole>;

/**
 * Separation of duties, as a hall runs: the duty officer (值班员) works the room; the leader on duty
 * (带班领导) may do that too and alone signs decisions; the administrator (系统管理员) wires the hall
 * to its feeds, cameras and maps but neither dials nor sets levels, so the journal's "who decided"
 * never names IT staff; an observer (a visiting city, a wall nobody signs in at) looks.
 */
export const ROLE_GRANTS: Readonly<Record<OperatorRole, readonly Grant[]>> = {
  observer: ['read'],
  duty: ['read', 'operate'],
  leader: ['read', 'operate', 'decide'],
  admin: ['read', 'configure'],
};

/** The grant each command needs. Typed against the contract in contract.ts (a command without a
 *  line here fails the type check there), so a new command cannot slip in unguarded. */
export const COMMAND_GRANTS = {
  'hall.ping': 'read',
  'journal.read': 'read',
  'calls.search': 'read',
  'session.signIn': 'read',
  'session.signOut': 'read',
  'unit.move': 'operate',
  'unit.setStatus': 'operate',
  'unit.remove': 'operate',
  'unit.bind': 'configure',
  'layout.save': 'operate',
  'typhoon.import': 'operate',
  'typhoon.advisory': 'operate',
  'replay.set': 'operate',
  'view.present': 'operate',
  'view.stop': 'operate',
  'incident.report': 'operate',
  'incident.close': 'operate',
  'alert.ack': 'operate',
  'order.send': 'decide',
  'advisory.forward': 'decide',
  'response.declare': 'decide',
  'response.end': 'decide',
  'plan.put': 'decide',
  'checklist.check': 'operate',
  'sheet.draft': 'operate',
  'sheet.draftFromAnalysis': 'operate',
  'sheet.issue': 'decide',
  'template.put': 'decide',
  'sheet.cancel': 'decide',
  'sheet.close': 'decide',
  'sheet.verify': 'operate',
  'sheet.sign': 'operate',
  'sheet.feedback': 'operate',
  'task.assign': 'operate',
  'task.update': 'operate',
  'task.verify': 'operate',
  'task.reassign': 'operate',
  'task.cancel': 'operate',
  'instruction.read': 'operate',
  'duty.handover': 'operate',
  'call.dial': 'operate',
  'call.media': 'operate',
  'call.hold': 'operate',
  'call.end': 'operate',
  'consult.start': 'operate',
  'consult.redial': 'operate',
  'consult.end': 'operate',
  'consult.mute': 'operate',
  'consult.join': 'operate',
  'consult.leave': 'operate',
  'consult.picture': 'operate',
  'consult.unpicture': 'operate',
  // watching a participant's camera is seeing what the wall shows: any display of the hall
  'consult.watch': 'read',
  'consult.watched': 'read',
  'consult.unwatch': 'read',
  // a wall nobody signs in at shows what an operator put on it; the panel with the call serves it
  'relay.offer': 'read',
  'console.here': 'read',
  'view.assign': 'operate',
  'relay.answer': 'operate',
  'relay.close': 'read',
  'wall.save': 'operate',
  'risk.set': 'decide',
  'tiles.source.put': 'configure',
  'tiles.source.remove': 'configure',
  'tiles.prefetch': 'configure',
  'tiles.prefetch.control': 'configure',
  'boundary.put': 'configure',
  'contacts.import': 'configure',
  'feed.add': 'configure',
  'feed.remove': 'configure',
  'video.put': 'configure',
  'video.remove': 'configure',
} as const satisfies Record<string, Grant>;

/** An operator as every display may see them: who may sign in here, with what role. */
export const Operator = z.object({ id: z.string().min(1).max(64), name: z.string().min(1).max(64), role: OperatorRole }).strict();
export type Operator = z.infer<typeof Operator>;

/** Who is on the other end of a session, as the hall decided (never as the client claims). */
export const Who = z.object({
  /** The signed-in operator, or null (a display nobody signed in at: it may look only). */
  operator: Operator.nullable(),
  /** A remote console's name (台州市) when the session came in on a console token. */
  console: z.string().max(64).nullable(),
  /** What the session may do now: the operator's role, within the console's. */
  grants: z.array(z.enum(GRANTS)),
});
export type Who = z.infer<typeof Who>;

export function grantsOf(role: OperatorRole): Grant[] {
  return [...ROLE_GRANTS[role]];
}

/** The grants of an operator signed in on a console: what both allow. */
export function within(a: readonly Grant[], b: readonly Grant[]): Grant[] {
  return a.filter((g) => b.includes(g));
}
