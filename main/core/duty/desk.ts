// The duty desk: who holds the hall's watch (值班) now, the duty officer and the leader on duty
// (带班领导), shown on every display's status bar; a handover (交接班) replaces them, stamped by the
// hall's clock, and the journal keeps every one. The first domain added as a desk of its own after
// the kernel split (docs/architecture.md, "Adding a desk"): an event, a table, a topic, a command.
import type { DutyShift } from '../../../common/domain.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';

export function dutyCommands(port: HallPort): CommandHandlers {
  return {
    'duty.handover': async ({ officer, leader, note }, ctx) => {
      const by = ctx.by;
      const shift: DutyShift = {
        id: 'duty',
        officer: { name: officer.name, phone: officer.phone ?? null },
        leader: { name: leader.name, phone: leader.phone ?? null },
        since: port.now(),
        by,
        note: note ?? '',
      };
      const event = await port.record('duty.handedOver', 'duty:watch', { shift }, ctx.origin);
      return { event: event ?? 0 };
    },
  };
}

export const dutyDesk = defineDesk()({
  name: 'duty',
  topics: ['duty'],
  start: (port): Desk => ({ commands: dutyCommands(port) }),
});
