// The tasks desk (派单, issue 21): one order to a team or depot of this hall, or to a hall below,
// followed to its end (common/tasks.ts). For a team the duty officer records what it answered (by
// phone or radio); a hall below answers on its own board, its steps come up the network, and the
// issuer's own steps (verified, reassigned, cancelled) go down to it. docs/command.md.
import type { Place, Task, TaskState, Unit } from '../../../common/domain.ts';
import { HubError } from '../hub/hub.ts';
import { type CommandHandlers, defineDesk, type Desk, type HallPort, type JournalEvent } from '../kernel/port.ts';
import { hallIdentity, hallName, type NetworkView } from '../network/identity.ts';

export class TasksDesk implements Desk {
  readonly commands: CommandHandlers;
  private readonly port: HallPort;
  private readonly net: NetworkView | null;
  readonly hallId: string;

  constructor(port: HallPort, net: NetworkView | null, hallId: string) {
    this.port = port;
    this.net = net;
    this.hallId = hallId;
    this.commands = {
      'task.assign': async (a, ctx) => {
        const now = port.now();
        const assignee = this.assignee(a.assignee);
        const task: Task = {
          id: `${hallId}-t${now.toString(36)}${Math.random().toString(36).slice(2, 4)}`,
          direction: 'out',
          issuer: { hall: hallId, name: this.hallName(), by: ctx.by },
          assignee,
          title: a.title,
          detail: a.detail ?? '',
          location: a.location ?? null,
          deadline: a.deadline,
          state: 'assigned',
          history: [{ state: 'assigned', at: now, by: ctx.by, note: '', assignee }],
          sheet: a.sheet ?? null,
          ...(a.checklist ? { checklist: a.checklist } : {}),
          createdAt: now,
          demo: false,
        };
        const ids = await port.recordMany([{ kind: 'task.assigned', subject: `task:${task.id}`, payload: { task } }, ...this.dispatch(task, [])], ctx.origin);
        return { id: task.id, event: ids[0] ?? 0 };
      },
      'task.update': async ({ id, state, note, photo, lat, lon }, ctx) => {
        const t = this.task(id);
        // a task for this hall's own team is stepped here; one from above is answered (it goes up)
        if (t.direction === 'out' && t.assignee.kind === 'hall') throw new HubError('invalid_args', `${t.assignee.name} answers this task itself`);
        if (t.direction === 'in' && !t.mine) throw new HubError('invalid_args', `task ${t.title} was reassigned to ${t.assignee.name}`);
        if (state === 'rejected' && !note?.trim()) throw new HubError('invalid_args', 'a rejection needs a reason');
        const step = { state, at: port.now(), by: ctx.by, note: note ?? '', photo: photo ?? null, lat: lat ?? null, lon: lon ?? null };
        const event = await port.record(t.direction === 'in' ? 'task.answered' : 'task.stepped', `task:${id}`, { id, step }, ctx.origin);
        return { event: event ?? 0 };
      },
      'task.verify': async ({ id, note }, ctx) => this.issuerStep(id, 'verified', ctx.by, note ?? '', ctx.origin),
      'task.cancel': async ({ id, reason }, ctx) => this.issuerStep(id, 'cancelled', ctx.by, reason, ctx.origin),
      'task.reassign': async ({ id, assignee, note }, ctx) => this.issuerStep(id, 'assigned', ctx.by, note ?? '', ctx.origin, this.assignee(assignee)),
    };
  }

  private task(id: string): Task {
    const t = this.port.get<Task>('tasks', id);
    if (!t) throw new HubError('not_found', `no task ${id}`);
    return t;
  }

  /** A step only the issuer takes; a hall it concerns is told (the one it was with, and a new one). */
  private async issuerStep(id: string, state: TaskState, by: string, note: string, origin: string, assignee?: Task['assignee']): Promise<{ event: number }> {
    const t = this.task(id);
    if (t.direction !== 'out') throw new HubError('invalid_args', `task ${t.title} was assigned by ${t.issuer.name}`);
    const step = { state, at: this.port.now(), by, note, ...(assignee ? { assignee } : {}) };
    const was = t.assignee.kind === 'hall' ? [t.assignee.id] : [];
    const ids = await this.port.recordMany([{ kind: 'task.stepped', subject: `task:${id}`, payload: { id, step } }], origin);
    const after = this.task(id);
    const tell = this.dispatch(after, was);
    if (tell.length) await this.port.recordMany(tell, origin);
    return { event: ids[0] ?? 0 };
  }

  /** The task's copy for the hall it is with, and for `also` (the hall it was with before). */
  private dispatch(t: Task, also: string[]): JournalEvent[] {
    const to = new Set([...(t.assignee.kind === 'hall' ? [t.assignee.id] : []), ...also]);
    const now = this.port.now();
    return [...to].map((hall) => ({
      kind: 'task.dispatched' as const,
      subject: `task:${t.id}`,
      payload: { to: hall, key: `${this.hallId}:${t.id}:${t.history.length}`, from: `${this.hallName()} ${t.issuer.by}`.slice(0, 200), sentAt: now, body: t },
    }));
  }

  /** A team or depot of this hall (not a feed's tracker, not a hall below's unit), or a hall below. */
  private assignee(a: { kind: 'unit' | 'hall'; id: string }): Task['assignee'] {
    if (a.kind === 'hall') {
      if (!(this.net?.descendants() ?? []).includes(a.id)) throw new HubError('invalid_args', `${a.id} is not a hall below ${this.hallId}`);
      return { kind: 'hall', id: a.id, name: this.port.get<Place>('places', a.id)?.name.zh ?? a.id };
    }
    const u = this.port.get<Unit>('units', a.id);
    if (!u || u.hall || u.kind.startsWith('marker-')) throw new HubError('not_found', `no team or depot ${a.id} of this hall`);
    return { kind: 'unit', id: u.id, name: u.name.zh };
  }

  private hallName(): string {
    return hallName(this.port, this.hallId);
  }
}

export const tasksDesk = defineDesk()({
  name: 'tasks',
  topics: ['tasks'],
  start: (port, ctx) => {
    const { net, hallId } = hallIdentity(port, ctx);
    return new TasksDesk(port, net, hallId);
  },
});
