// The command desk (issue 21): what the hall decides and checks is done. Its emergency response
// (应急响应): declared, raised, lowered and ended by the leader on duty, journaled, sent down to the
// halls below (network desk) and up on the heartbeat (uplink desk); the level's checklist, each
// item due counted from the declaration, done with who and when; the levels of the halls above as
// they came down; and the level the forecast suggests (never declared by the machine).
// docs/command.md.
import { isDescendant } from '../../../common/halls.ts';
import type { Analysis, Checklist, Place, Plan, Response, ResponseLevel, Typhoon } from '../../../common/domain.ts';
import { HubError } from '../hub/hub.ts';
import { type CommandHandlers, defineDesk, type Desk, type HallPort } from '../kernel/port.ts';
import { hallIdentity, hallName } from '../network/identity.ts';
import { proposeLevel, type Proposal } from './levels.ts';

export interface CommandOptions {
  /** How often the forecast's proposal is worked out again. @default 2000 */
  proposeMs?: number;
}

export class CommandDesk implements Desk {
  readonly commands: CommandHandlers = {
    'response.declare': async ({ hazard, level, reason, basis }, ctx) => {
      const now = this.port.now();
      const was = this.port.get<Response>('responses', 'own');
      if (was?.level === level) throw new HubError('invalid_args', `the response is already at ${level}`);
      const plan = this.port.get<Plan>('plans', `${hazard}:${level}`);
      const checklist: Checklist | null = plan
        ? {
            id: `cl-${now.toString(36)}-${level}`,
            hazard,
            level,
            openedAt: now,
            closedAt: null,
            items: plan.items.map((i) => ({ ...i, due: now + i.dueMinutes * 60_000, doneAt: null, doneBy: null, note: null })),
          }
        : null;
      const response: Response = {
        id: 'own',
        hall: this.hallId,
        hallName: this.hallName(),
        hazard,
        level,
        since: now,
        by: ctx.by,
        reason,
        basis: basis ?? 'manual',
        history: [...(was?.history ?? []), { level, at: now, by: ctx.by, reason }].slice(-50),
      };
      const event = await this.port.record('response.declared', `response:${hazard}`, { response, checklist, closes: this.openChecklist()?.id ?? null }, ctx.origin);
      return { level, checklist: checklist?.id ?? '', event: event ?? 0 };
    },
    'response.end': async ({ hazard, reason }, ctx) => {
      const was = this.port.get<Response>('responses', 'own');
      if (!was || was.level === null) throw new HubError('invalid_args', 'there is no response to end');
      const event = await this.port.record('response.ended', `response:${hazard}`, { hazard, at: this.port.now(), by: ctx.by, reason, closes: this.openChecklist()?.id ?? null }, ctx.origin);
      return { event: event ?? 0 };
    },
    'checklist.check': async ({ checklist, item, note }, ctx) => {
      const event = await this.port.record('checklist.checked', `checklist:${checklist}`, { id: checklist, item, by: ctx.by, at: this.port.now(), note: note ?? null }, ctx.origin);
      return { event: event ?? 0 };
    },
    'plan.put': async ({ level, items, source }, ctx) => {
      if (new Set(items.map((i) => i.id)).size !== items.length) throw new HubError('invalid_args', 'two items share an id');
      const plan: Plan = { id: `typhoon:${level}`, hazard: 'typhoon', level, items, source: source ?? `${this.hallName()} ${ctx.by}`, updatedBy: ctx.by, updatedAt: this.port.now(), demo: false };
      const event = await this.port.record('plan.saved', `plan:${plan.id}`, { plan }, ctx.origin);
      return { id: plan.id, event: event ?? 0 };
    },
  };
  private readonly port: HallPort;
  /** This hall's code (its place in the network), or the province's when it has none. */
  readonly hallId: string;
  private proposal: string | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(port: HallPort, hallId: string, o: CommandOptions) {
    this.port = port;
    this.hallId = hallId;
    this.timer = setInterval(() => this.propose(), o.proposeMs ?? 2000);
    this.timer.unref();
    this.propose();
  }

  /** This hall's level now (the heartbeat tells the hall above). */
  level(): ResponseLevel | null {
    return this.port.get<Response>('responses', 'own')?.level ?? null;
  }

  private hallName(): string {
    return hallName(this.port, this.hallId);
  }

  private openChecklist(): Checklist | undefined {
    return this.port.all<Checklist>('checklists').find((c) => c.closedAt === null);
  }

  /** The level the forecast suggests for this hall's area, on the `responses` topic as `proposal`. */
  private propose(): void {
    const inArea = (code: string) => code === this.hallId || isDescendant(code, this.hallId);
    const p: Proposal | null = proposeLevel(
      this.port.items('analysis') as Analysis[],
      inArea,
      (code) => this.port.get<Place>('places', code)?.name.zh ?? code,
      (id) => this.port.get<Typhoon>('typhoons', id)?.name.zh ?? id,
    );
    const key = p ? `${p.level}|${p.reason}|${p.basis}` : null;
    if (key === this.proposal) return;
    this.proposal = key;
    if (!p) {
      this.port.publish('responses', [{ op: 'del', id: 'proposal' }]);
      return;
    }
    const proposal: Response = {
      id: 'proposal',
      hall: this.hallId,
      hallName: this.hallName(),
      hazard: 'typhoon',
      level: p.level,
      since: this.port.now(),
      by: 'forecast',
      reason: p.reason,
      basis: p.basis,
      history: [],
    };
    this.port.publish('responses', [{ op: 'put', id: 'proposal', value: proposal }]);
  }

  dispose(): void {
    clearInterval(this.timer);
  }
}

export const commandDesk = defineDesk<CommandOptions>()({
  name: 'command',
  topics: ['responses', 'plans', 'checklists'],
  start: (port, ctx) => new CommandDesk(port, hallIdentity(port, ctx).hallId, ctx.options ?? {}),
});
