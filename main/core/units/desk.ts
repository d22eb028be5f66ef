// The units desk: the teams, vehicles and drones on the map, moved and dispatched by hand. Feeds
// move units too, on the live path (feeds/manager.ts); both land in the same `units` table.
import { feedUnitId, isFeedUnit, type Unit } from '../../../common/domain.ts';
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
    'unit.remove': async ({ id }, ctx) => {
      const u = unit(id);
      if (!isFeedUnit(u)) throw new HubError('invalid_args', `${id} is a registered unit, not one a feed made: only those are removed`);
      const event = await port.record('unit.removed', `unit:${id}`, { id, why: 'operator', at: port.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
    'unit.bind': async ({ id, feed, source }, ctx) => {
      const u = unit(id);
      if (isFeedUnit(u)) throw new HubError('invalid_args', `${id} is a unit a feed made; bind the tracker to a registered unit`);
      if (source !== null) {
        const holder = port.all<Unit>('units').find((x) => x.id !== id && x.device?.feed === feed && x.device.source === source);
        if (holder) throw new HubError('invalid_args', `${feed}/${source} is bound to ${holder.id}; unbind it there first`);
      }
      const event = await port.record('unit.bound', `unit:${id}`, { id, device: source === null ? null : { feed, source }, at: port.now() }, ctx.origin);
      // the unit the sender had in the feed's namespace goes: from now on its reports move this one
      const own = source === null ? undefined : port.get<Unit>('units', feedUnitId(feed, source));
      if (own && isFeedUnit(own)) await port.record('unit.removed', `unit:${own.id}`, { id: own.id, why: 'bound', at: port.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
  };
}

export const unitsDesk = defineDesk()({
  name: 'units',
  topics: ['units'],
  start: (port): Desk => ({ commands: unitCommands(port) }),
});
