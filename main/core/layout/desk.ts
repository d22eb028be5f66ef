// The layout desk: which role each display of the hall shows, kept so the room comes back as it was.
import { defineDesk, type Desk } from '../kernel/port.ts';

export const layoutDesk = defineDesk()({
  name: 'layout',
  start: (port): Desk => ({
    commands: {
      'layout.save': async ({ assignments }, ctx) => {
        const event = await port.record('layout.saved', 'layout:default', { id: 'default', assignments }, ctx.origin);
        return { event: event ?? 0 };
      },
    },
  }),
});
