// The places desk: the hall itself and the map of its area: the province's cities and counties,
// their boundaries, key targets and shelters (sites).
import { HubError } from '../hub/hub.ts';
import { defineDesk, type Desk } from '../kernel/port.ts';

export const placesDesk = defineDesk()({
  name: 'places',
  topics: ['hall', 'places', 'sites', 'boundaries'],
  start: (port): Desk => ({
    commands: {
      'boundary.put': async ({ boundary }, ctx) => {
        const p = port.get<{ kind: string }>('places', boundary.id);
        if (!p || (p.kind !== 'county' && p.kind !== 'city')) throw new HubError('not_found', `no city or county ${boundary.id}`);
        const event = await port.record('boundary.imported', `boundary:${boundary.id}`, { boundary }, ctx.origin);
        return { id: boundary.id, event: event ?? 0 };
      },
    },
  }),
});
