// Command handlers: one per contract command. Args arrive already validated against the contract.
import type { CommandArgs, CommandName, CommandResult } from '../../common/contract.ts';
import type { Contact, Incident, Unit } from '../../common/domain.ts';
import { parseContactsCsv, sameContact } from './calls/directory.ts';
import type { HallCore } from './hall.ts';
import { HubError, type CommandContext, type CommandHandler } from './hub/hub.ts';

type Handlers = { [C in CommandName]: (args: CommandArgs<C>, ctx: CommandContext) => Promise<CommandResult<C>> };

export function makeCommandHandler(core: HallCore): CommandHandler {
  const unit = (id: string): Unit => {
    const u = core.get<Unit>('units', id);
    if (!u) throw new HubError('not_found', `no unit ${id}`);
    return u;
  };
  const handlers: Handlers = {
    'hall.ping': async () => ({ now: Date.now() }),
    'unit.move': async ({ id, lat, lon, alt }, ctx) => {
      const u = unit(id);
      const event = await core.record('unit.moved', `unit:${id}`, { id, lat, lon, alt: alt ?? u.alt, at: Date.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
    'unit.setStatus': async ({ id, status }, ctx) => {
      unit(id);
      const event = await core.record('unit.status', `unit:${id}`, { id, status, at: Date.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
    'layout.save': async ({ assignments }, ctx) => {
      const event = await core.record('layout.saved', 'layout:default', { id: 'default', assignments }, ctx.origin);
      return { event: event ?? 0 };
    },
    'typhoon.import': (args, ctx) => core.typhoons.importCma(args, ctx.origin),
    'typhoon.advisory': ({ advisory }, ctx) => core.typhoons.submitAdvisory(advisory, ctx.origin),
    'replay.set': async (args) => core.typhoons.setReplay(args),
    'risk.set': async (args, ctx) => ({ events: await core.typhoons.setRisk(args, ctx.origin) }),
    'incident.report': async ({ kind, title, severity, lat, lon, county, by }, ctx) => {
      if (county && !core.get('places', county)) throw new HubError('not_found', `no county ${county}`);
      const now = Date.now();
      const id = `inc-${now.toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
      const incident: Incident = { id, kind, title, severity, lat, lon, county: county ?? null, status: 'open', reportedBy: by, reportedAt: now, closedAt: null, closedBy: null, demo: false };
      const event = await core.record('incident.reported', `incident:${id}`, { incident }, ctx.origin);
      return { id, event: event ?? 0 };
    },
    'incident.close': async ({ id, by }, ctx) => {
      const event = await core.record('incident.closed', `incident:${id}`, { id, by, at: Date.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
    'tiles.source.put': async ({ source }) => core.tilesDesk.putSource(source),
    'tiles.source.remove': async ({ id }) => {
      core.tilesDesk.removeSource(id);
      return { id };
    },
    'tiles.prefetch': async ({ by, ...a }) => core.tilesDesk.prefetch(a, by),
    'tiles.prefetch.control': async ({ id, action }) => ({ id, state: core.tilesDesk.control(id, action) }),
    'boundary.put': async ({ boundary }, ctx) => {
      const p = core.get<{ kind: string }>('places', boundary.id);
      if (!p || (p.kind !== 'county' && p.kind !== 'city')) throw new HubError('not_found', `no city or county ${boundary.id}`);
      const event = await core.record('boundary.imported', `boundary:${boundary.id}`, { boundary }, ctx.origin);
      return { id: boundary.id, event: event ?? 0 };
    },
    'call.dial': async ({ contact, by }) => ({ id: await core.calls.dial(contact, by) }),
    'call.end': async ({ id }) => {
      await core.calls.end(id);
      return { id };
    },
    'feed.add': async ({ config, replace }, ctx) => ({ id: await core.feeds.add(config, ctx.origin, replace ?? false) }),
    'feed.remove': async ({ id }, ctx) => {
      await core.feeds.remove(id, ctx.origin);
      return { id };
    },
    'video.put': async ({ config }, ctx) => ({ id: await core.video.put(config, ctx.origin) }),
    'video.remove': async ({ id }, ctx) => {
      await core.video.remove(id, ctx.origin);
      return { id };
    },
    'wall.save': async ({ display, grid, tiles }, ctx) => {
      const event = await core.record('wall.saved', `wall:${display}`, { layout: { id: display, grid, tiles: tiles.slice(0, grid), at: Date.now() } }, ctx.origin);
      return { event: event ?? 0 };
    },
    'consult.start': async ({ contacts, title, by }) => ({ id: await core.calls.consult(contacts, title, by) }),
    'consult.redial': async ({ id, contact, by }) => ({ call: await core.calls.redial(id, contact, by) }),
    'consult.end': async ({ id }) => {
      await core.calls.endConsult(id);
      return { id };
    },
    'calls.search': async (q) => ({ calls: core.calls.search(q) }),
    'contacts.import': async ({ csv, firstLine, dryRun }, ctx) => {
      const r = parseContactsCsv(csv, { place: (code) => core.get<{ kind: string }>('places', code)?.kind, contact: (id) => core.get<Contact>('contacts', id) }, firstLine ?? 1);
      const fresh = r.contacts.filter((c) => !core.get<Contact>('contacts', c.id));
      const changed = r.contacts.filter((c) => {
        const prior = core.get<Contact>('contacts', c.id);
        return prior && !sameContact(prior, c);
      });
      const out = { rows: r.rows, added: fresh.length, updated: changed.length, unchanged: r.contacts.length - fresh.length - changed.length, errors: r.errors.slice(0, 200) };
      // All or nothing: one bad row and the directory stays exactly as it was.
      if (r.errors.length || dryRun) return { ...out, added: r.errors.length ? 0 : out.added, updated: r.errors.length ? 0 : out.updated };
      const write = [...fresh, ...changed];
      if (write.length) await core.recordMany(write.map((contact) => ({ kind: 'contact.upserted' as const, subject: `contact:${contact.id}`, payload: { contact } })), ctx.origin);
      return out;
    },
    'journal.read': async ({ after, limit }) => {
      const rows = await core.store.api.readJournal(after, limit);
      const events = rows.map(({ key: _key, ...r }) => r);
      return { events, last: events.length ? events[events.length - 1]!.id : after };
    },
  };
  return (name, args, ctx) => {
    const h = handlers[name as CommandName] as ((a: unknown, c: CommandContext) => Promise<unknown>) | undefined;
    if (!h) return Promise.reject(new HubError('unknown_command', `unknown command ${name}`));
    return h(args, ctx);
  };
}
