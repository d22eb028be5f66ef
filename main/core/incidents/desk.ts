// The incidents desk: what happened where (a landslide, a chemical leak, a stranded boat), reported
// from any display or from the province, closed when handled. A small whole desk: its commands and
// its topic, nothing running between them (docs/architecture.md, "Adding a desk").
import type { Incident } from '../../../common/domain.ts';
import { HubError } from '../hub/hub.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';

export function incidentCommands(port: HallPort): CommandHandlers {
  return {
    'incident.report': async ({ kind, title, severity, lat, lon, county }, ctx) => {
      const by = ctx.by;
      if (county && !port.get('places', county)) throw new HubError('not_found', `no county ${county}`);
      const now = port.now();
      const id = `inc-${now.toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
      const incident: Incident = { id, kind, title, severity, lat, lon, county: county ?? null, status: 'open', reportedBy: by, reportedAt: now, closedAt: null, closedBy: null, demo: false };
      const event = await port.record('incident.reported', `incident:${id}`, { incident }, ctx.origin);
      return { id, event: event ?? 0 };
    },
    'incident.close': async ({ id }, ctx) => {
      const by = ctx.by;
      const event = await port.record('incident.closed', `incident:${id}`, { id, by, at: port.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
  };
}

export const incidentsDesk = defineDesk()({
  name: 'incidents',
  topics: ['incidents'],
  start: (port): Desk => ({ commands: incidentCommands(port) }),
});
