import { statSync } from 'node:fs';
// The kernel and its desks: a desk's logic against the in-memory port, and the composition root's
// promises (every contract command answered by exactly one desk, desks disposed in reverse, the
// hall's clock on every stamp).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES } from '../../common/contract.ts';
import type { Alert, Incident, Link, Place, Unit } from '../../common/domain.ts';
import { DESKS } from '../../main/core/desks.ts';
import { HallCore } from '../../main/core/hall.ts';
import { localContext, type CommandContext } from '../../main/core/hub/hub.ts';
import { AlertsDesk } from '../../main/core/alerts/desk.ts';
import { dutyCommands } from '../../main/core/duty/desk.ts';
import { incidentCommands } from '../../main/core/incidents/desk.ts';
import { redactText } from '../../main/core/journal/redact.ts';
import { defineDesk, type Desk, type DeskDef } from '../../main/core/kernel/port.ts';
import { LinkDesk } from '../../main/core/link/desk.ts';
import { unitCommands } from '../../main/core/units/desk.ts';
import { memoryPort } from '../helpers/memory-port.ts';
import { tempDir } from '../helpers/tmp.ts';

const ctx: CommandContext = { ...localContext('王芳'), origin: 'window:board' };
const county: Place = { id: '330327', code: '330327', kind: 'county', name: { zh: '苍南县', en: 'Cangnan' }, lat: 27.52, lon: 120.43, parent: '330300', coastal: true, demo: false };
const team: Unit = {
  id: 'team-1',
  kind: 'fire-rescue',
  name: { zh: '救援一队', en: 'Team 1' },
  home: '330300',
  lat: 30,
  lon: 120,
  alt: 12,
  status: 'standby',
  members: 12,
  stock: null,
  updated: 0,
  demo: false,
};

describe('desks against the in-memory port', () => {
  it('incidents: a report is stamped by the hall clock, an unknown county refused and nothing journaled', async () => {
    const port = memoryPort({ tables: { places: [county] }, now: Date.UTC(2026, 7, 9, 17, 45) });
    const cmd = incidentCommands(port);
    await expect(cmd['incident.report']!({ kind: 'flood', title: '桥头村内涝', severity: 'III', lat: 27.5, lon: 120.4, county: '999999' }, ctx)).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(port.journal).toEqual([]);

    const { id } = await cmd['incident.report']!({ kind: 'flood', title: '桥头村内涝', severity: 'III', lat: 27.5, lon: 120.4, county: '330327' }, ctx);
    const inc = port.get<Incident>('incidents', id)!;
    expect(inc).toMatchObject({ status: 'open', county: '330327', reportedAt: port.clock, reportedBy: '王芳' });
    expect(id.startsWith(`inc-${port.clock.toString(36)}-`)).toBe(true);
    expect(port.topics.get('incidents')?.get(id)).toEqual(inc);
    expect(port.journal.map((e) => [e.kind, e.origin])).toEqual([['incident.reported', 'window:board']]);

    port.clock += 3_600_000;
    await cmd['incident.close']!({ id }, ctx);
    expect(port.get<Incident>('incidents', id)).toMatchObject({ status: 'closed', closedAt: port.clock });
    await expect(cmd['incident.close']!({ id }, ctx)).rejects.toThrow(/already closed/);
  });

  it('units: a move keeps the altitude it was not given and is stamped by the hall clock', async () => {
    const port = memoryPort({ tables: { units: [team] }, now: 1_000_000 });
    const cmd = unitCommands(port);
    await cmd['unit.move']!({ id: 'team-1', lat: 30.1, lon: 120.2 }, ctx);
    expect(port.get<Unit>('units', 'team-1')).toMatchObject({ lat: 30.1, lon: 120.2, alt: 12 });
    expect(port.journal[0]).toMatchObject({ kind: 'unit.moved', payload: { at: 1_000_000 } });
    await expect(cmd['unit.setStatus']!({ id: 'team-9', status: 'en-route' }, ctx)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('alerts: a device raises one alert and one incident however often it repeats; an operator acknowledges; the cancel closes both', async () => {
    const port = memoryPort({ now: Date.UTC(2026, 7, 9, 3, 0) });
    const desk = new AlertsDesk(port);
    const raised = { source: 'ANDROID-1-9-1-1', cancel: false, type: 'b-a-o-tbl', label: '911 Alert', sender: 'ANDROID-1', callsign: 'corvo', lat: 29.87, lon: 121.54 };
    await Promise.all([desk.fromFeed('tak', raised), desk.fromFeed('tak', raised), desk.fromFeed('tak', raised)]); // back to back
    const [alert] = port.all<Alert>('alerts');
    expect(port.all('alerts')).toHaveLength(1);
    expect(alert).toMatchObject({ feed: 'tak', status: 'active', callsign: 'corvo', lat: 29.87, raisedAt: port.clock });
    const inc = port.get<Incident>('incidents', alert!.incident!);
    expect(inc).toMatchObject({ kind: 'rescue', status: 'open', lat: 29.87, lon: 121.54, title: '911 Alert · corvo', reportedBy: 'corvo' });
    expect(port.journal.map((e) => e.kind)).toEqual(['incident.reported', 'alert.raised']);
    // it moved: kept (the incident stays where it was reported; the alert follows the device)
    port.clock += 5000;
    await desk.fromFeed('tak', { ...raised, lat: 29.871 });
    expect(port.get<Alert>('alerts', alert!.id)).toMatchObject({ lat: 29.871, heardAt: port.clock, status: 'active' });
    await desk.commands['alert.ack']!({ id: alert!.id }, ctx);
    expect(port.get<Alert>('alerts', alert!.id)).toMatchObject({ status: 'acknowledged', ackBy: '王芳', ackAt: port.clock });
    await expect(desk.commands['alert.ack']!({ id: alert!.id }, ctx)).rejects.toThrow(/already acknowledged \(by 王芳\)/);
    // a cancel naming another alert clears nothing; the device's own cancel clears its alert and closes the incident
    await desk.fromFeed('tak', { ...raised, source: 'OTHER-9-1-1', sender: null, cancel: true, type: 'b-a-o-can' });
    expect(desk.counters.unmatchedCancels).toBe(1);
    await desk.fromFeed('tak', { ...raised, cancel: true, type: 'b-a-o-can', sender: null, callsign: null });
    expect(port.get<Alert>('alerts', alert!.id)).toMatchObject({ status: 'cancelled', cancelledAt: port.clock });
    expect(port.get<Incident>('incidents', inc!.id)).toMatchObject({ status: 'closed', closedBy: 'corvo (b-a-o-can)' });
    expect(port.journal.map((e) => e.kind)).toEqual(['incident.reported', 'alert.raised', 'alert.raised', 'alert.acknowledged', 'alert.cancelled', 'incident.closed']);
    // raised again after the cancel: a new alert
    await desk.fromFeed('tak', raised);
    expect(port.all<Alert>('alerts').filter((a) => a.status === 'active')).toHaveLength(1);
    expect(port.all('alerts')).toHaveLength(2);
  });
  it('duty: a handover replaces the watch, stamped by the hall clock, each one journaled', async () => {
    const port = memoryPort({ now: Date.UTC(2026, 7, 9, 0, 30) });
    const cmd = dutyCommands(port);
    await cmd['duty.handover']!({ officer: { name: '张伟', phone: '0571-8765 4321' }, leader: { name: '李强' }, note: '苍南桥头村内涝未结' }, ctx);
    expect(port.topics.get('duty')?.get('duty')).toEqual({
      id: 'duty',
      officer: { name: '张伟', phone: '0571-8765 4321' },
      leader: { name: '李强', phone: null },
      since: port.clock,
      by: '王芳',
      note: '苍南桥头村内涝未结',
    });
    port.clock += 8 * 3600_000;
    await cmd['duty.handover']!({ officer: { name: '陈静' }, leader: { name: '李强' } }, ctx);
    expect(port.get('duty', 'duty')).toMatchObject({ officer: { name: '陈静' }, since: port.clock, note: '' });
    expect(port.journal.map((e) => e.kind)).toEqual(['duty.handedOver', 'duty.handedOver']);
  });

  it('link: without endpoints to probe the WAN is "not monitored", and listeners hear it', () => {
    const port = memoryPort();
    const heard: Link[] = [];
    port.onLink((l) => heard.push(l));
    const desk = new LinkDesk(port, undefined);
    expect(desk.monitor).toBeNull();
    expect(heard).toEqual([{ id: 'wan', state: 'unknown', since: null, detail: 'no link monitor configured' }]);
    desk.dispose();
  });
});

describe('the composition root', () => {
  const root = tempDir();
  const dir = (name: string) => join(root, name);

  it('every contract command is answered by exactly one desk of the list', async () => {
    const owners = new Map<string, string[]>();
    const core = await HallCore.start({ dataDir: dir('all'), seed: false });
    try {
      for (const [name, desk] of Object.entries(core.desks as Record<string, Desk>)) for (const c of Object.keys(desk.commands ?? {})) owners.set(c, [...(owners.get(c) ?? []), name]);
    } finally {
      await core.dispose();
    }
    expect([...owners.keys()].sort()).toEqual([...COMMAND_NAMES].sort());
    for (const [c, desks] of owners) expect(desks, c).toHaveLength(1);
  });

  it('refuses to start with a command answered twice, or one nobody answers, and leaves nothing open', async () => {
    const twice = defineDesk()({ name: 'echo', start: () => ({ commands: { 'hall.ping': async () => ({ now: 0 }) } }) });
    await expect(HallCore.start({ dataDir: dir('twice'), seed: false, desks: [...DESKS, twice] })).rejects.toThrow(/hall.ping is answered by both the journal and the echo desk/);
    const without = (DESKS as readonly DeskDef[]).filter((d) => d.name !== 'incidents');
    await expect(HallCore.start({ dataDir: dir('without'), seed: false, desks: without })).rejects.toThrow(/no desk answers incident.report, incident.close/);
  });

  it('a desk added to the list is started after the others, counted in stats, and disposed first', async () => {
    const log: string[] = [];
    const probe = (name: string): DeskDef =>
      defineDesk()({
        name,
        start: (port) => {
          log.push(`start ${name} sees ${port.all('places').length > 0 ? 'places' : 'nothing'}`);
          return { stats: () => ({ name }), dispose: () => void log.push(`dispose ${name}`) };
        },
      });
    const core = await HallCore.start({ dataDir: dir('extra'), desks: [...DESKS, probe('a'), probe('b')] });
    expect((core.stats() as unknown as Record<string, unknown>).b).toEqual({ name: 'b' });
    await core.dispose();
    expect(log).toEqual(['start a sees places', 'start b sees places', 'dispose b', 'dispose a']);
  });

  it('journal.read never serves a credential written into a URL (#18, point 7)', async () => {
    expect(redactText('mqtt://bus:s3cret@10.1.2.3:1883 and https://gw/live.m3u8?token=abc&x=1&tk=k9')).toBe('mqtt://bus:***@10.1.2.3:1883 and https://gw/live.m3u8?token=***&x=1&tk=***');
    expect(redactText('https://tiles/{z}/{x}/{y}?style=1')).toBe('https://tiles/{z}/{x}/{y}?style=1');
    const core = await HallCore.start({ dataDir: dir('redact'), seed: false, reach: { allowOutbound: ['gw.local:8888', '127.0.0.1:9'] } });
    try {
      await core.command('video.put', { config: { id: 'cam-1', kind: 'camera', name: { zh: '桥头', en: 'Bridge' }, hls: 'http://gw.local:8888/cam1/index.m3u8?secret=hunter2' } }, 'test');
      await core.command('feed.add', { config: { kind: 'mqtt-json', id: 'bd', url: 'mqtt://beidou:s3cret@127.0.0.1:9' } }, 'test');
      const { events } = (await core.command('journal.read', { after: 0, limit: 100 }, 'test')) as { events: { kind: string }[] };
      const text = JSON.stringify(events);
      expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['video.configured', 'feed.configured']));
      expect(text).not.toMatch(/hunter2|s3cret/);
      // split out when configured: the journal on disk never had them either, nor the store
      expect(text).toContain('"hls":"http://gw.local:8888/cam1/index.m3u8"');
      expect(text).toContain('mqtt://beidou@127.0.0.1:9');
      const raw = JSON.stringify(await core.store.api.readJournal(0, 1000)) + JSON.stringify(core.all('videos')) + JSON.stringify(core.all('feeds'));
      expect(raw).not.toMatch(/hunter2|s3cret/);
      // kept apart, owner-only, and put back for the connection
      expect(statSync(join(dir('redact'), 'secrets.json')).mode & 0o777).toBe(0o600);
      expect(core.reach.unstash('video:cam-1:hls', 'http://gw.local:8888/cam1/index.m3u8')).toBe('http://gw.local:8888/cam1/index.m3u8?secret=hunter2');
      expect(core.reach.unstash('feed:bd', 'mqtt://beidou@127.0.0.1:9')).toBe('mqtt://beidou:s3cret@127.0.0.1:9');
    } finally {
      await core.dispose();
    }
  });

  it('stamps commands with the injected clock, never the machine clock', async () => {
    const at = Date.UTC(2019, 7, 9, 17, 45);
    const core = await HallCore.start({ dataDir: dir('clock'), now: () => at });
    try {
      const unit = core.all<Unit>('units')[0]!;
      await core.command('unit.move', { id: unit.id, lat: 28, lon: 121 }, 'test');
      await core.command('unit.setStatus', { id: unit.id, status: 'en-route' }, 'test');
      expect(await core.command('hall.ping', {}, 'test')).toEqual({ now: at });
      const stored = (await core.store.api.stats()).journalEvents;
      const { events } = (await core.command('journal.read', { after: stored - 2, limit: 10 }, 'test')) as { events: { ts: number; kind: string; payload: { at?: number } }[] };
      const mine = events.filter((e) => e.kind === 'unit.moved' || e.kind === 'unit.status');
      expect(mine).toHaveLength(2);
      for (const e of mine) expect([e.ts, e.payload.at]).toEqual([at, at]);
    } finally {
      await core.dispose();
    }
  });
});
