// The units desk: the teams, vehicles and drones on the map, moved and dispatched by hand. Feeds
// move units too, on the live path (feeds/manager.ts); both land in the same `units` table.
import type { Unit } from '../../../common/domain.ts';
import { HubError } from '../hub/hub.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';

export function unitCommands(port: HallPort): CommandHandlers {
  const unit = (id: string): Unit => {
    const u = port.get<Unit>('units', id);
    if (!u) throw new HubError('not_found', `no unit ${id}`);
    return u;
  };
  return {
    'unit.move': async ({ id, lat, lon, alt }, ctx) => {
      const u = unit(id);
      const event = await port.record('unit.moved', `unit:${id}`, { id, lat, lon, alt: alt ?? u.alt, at: port.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
    'unit.setStatus': async ({ id, status }, ctx) => {
      unit(id);
      const event = await port.record('unit.status', `unit:${id}`, { id, status, at: port.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
  };
}

export const unitsDesk = defineDesk()({
  name: 'units',
  topics: ['units'],
  start: (port): Desk => ({ commands: unitCommands(port) }),
});
