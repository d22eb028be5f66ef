// The journal desk: the hall's clock and its journal, read back by id (replay tools, the province's
// audit, a display catching up on what happened while it was away).
import { defineDesk, type CommandHandlers, type Desk } from '../kernel/port.ts';
import { redact } from './redact.ts';

export const journalDesk = defineDesk()({
  name: 'journal',
  start(port, ctx): Desk {
    const commands: CommandHandlers = {
      // The hall's time: displays compute the replay clock from the offset to it.
      'hall.ping': async () => ({ now: port.now() }),
      'journal.read': async ({ after, limit }) => {
        const rows = await ctx.store.readJournal(after, limit);
        // Idempotency keys are the uplink's business, not a reader's; credentials in URLs nobody's.
        const events = rows.map(({ key: _key, payload, ...r }) => ({ ...r, payload: redact(payload) }));
        return { events, last: events.length ? events[events.length - 1]!.id : after };
      },
    };
    return { commands };
  },
});
