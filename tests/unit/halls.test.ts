import { describe, expect, it } from 'vitest';
import type { HallNode, Incident, Place } from '../../common/domain.ts';
import { hallLevel, isDescendant, parentHall } from '../../common/halls.ts';
import { NetworkDesk } from '../../main/core/network/desk.ts';
import { memoryPort } from '../helpers/memory-port.ts';

describe('the command network tree from GB/T 2260 codes', () => {
  it('knows each hall level and parent: Linhai 331082 under Taizhou 331000 under Zhejiang 330000', () => {
    expect([hallLevel('330000'), hallLevel('331000'), hallLevel('331082'), hallLevel('33100'), hallLevel('000000')]).toEqual(['province', 'city', 'county', null, null]);
    expect([parentHall('331082'), parentHall('331000'), parentHall('330000')]).toEqual(['331000', '330000', null]);
    expect(isDescendant('331082', '330000')).toBe(true);
    expect(isDescendant('331082', '331000')).toBe(true);
    expect(isDescendant('330106', '331000')).toBe(false); // a Hangzhou district is not Taizhou's
    expect(isDescendant('331000', '331000')).toBe(false);
    expect(isDescendant('331082', '331082')).toBe(false);
    expect(isDescendant('320100', '330000')).toBe(false); // Jiangsu
  });
});

describe('the network desk against the in-memory port', () => {
  const place = (code: string, kind: Place['kind']): Place => ({ id: code, code, kind, name: { zh: code, en: code }, lat: 28.8, lon: 121.1, parent: null, coastal: false, demo: false });
  const port = () => memoryPort({ tables: { places: [place('331000', 'city'), place('331082', 'county'), place('331081', 'county'), place('330100', 'city')] }, now: 1_800_000_000_000 });
  const msg = (hall: string, kind: string, payload: unknown, key = `${hall}:1`) =>
    Buffer.from(JSON.stringify({ v: 1, hall, key, seq: 1, category: 'incidents', event: { id: 1, ts: 1, kind, subject: 's', payload, origin: 'x' } }));
  const incident: Incident = {
    id: 'inc-1',
    kind: 'flood',
    title: '内涝',
    severity: 'IV',
    lat: 28.8,
    lon: 121.1,
    county: null,
    status: 'open',
    reportedBy: '临海',
    reportedAt: 1,
    closedAt: null,
    closedBy: null,
    demo: false,
  };

  it('applies a child incident under its key and origin, refuses what is not from below or names another hall, and reads silence', async () => {
    const p = port();
    const d = new NetworkDesk(p, { hallId: '331000' });
    try {
      expect(d.descendants().sort()).toEqual(['331081', '331082']);
      expect(await d.up('beacon/331082/up/incidents', msg('331082', 'incident.reported', { incident }))).toBe(0);
      expect(p.all<Incident>('incidents')).toEqual([{ ...incident, id: '331082/inc-1', hall: '331082' }]);
      expect(p.journal.map((e) => [e.kind, e.origin, e.key])).toEqual([['incident.reported', 'hall:331082', '331082:1']]);
      expect(await d.up('beacon/330100/up/incidents', msg('330100', 'incident.reported', { incident }))).toBe(153); // Hangzhou is not below Taizhou
      expect(await d.up('beacon/331082/up/incidents', msg('331081', 'incident.reported', { incident }))).toBe(153); // names another hall
      expect(await d.up('beacon/331082/up/incidents', Buffer.from('{'))).toBe(153);
      expect(
        await d.up(
          'beacon/331082/up/risk',
          msg('331082', 'risk.set', { risk: { id: '331081', levels: { now: 'red', h3: 'red', h6: 'red', h24: 'red', h48: 'red' }, basis: 'manual', by: 'x', at: 1 } }, '331082:2'),
        ),
      ).toBe(153); // a neighbour's county
      expect(d.counters.refused).toEqual({ not_descendant: 1, bad_message: 1, not_json: 1, bad_payload: 1 });
      // a heartbeat, then silence
      const hb = { v: 1, hall: '331081', at: p.clock, wan: 'online', outbox: { depth: 3, oldest: p.clock - 1000 }, responseLevel: null };
      expect(await d.up('beacon/331081/up/heartbeat', Buffer.from(JSON.stringify(hb)))).toBe(0);
      expect(p.topics.get('halls')?.get('331081')).toMatchObject({ state: 'online', wan: 'online', outbox: { depth: 3, oldest: p.clock - 1000 } } satisfies Partial<HallNode>);
      expect(await d.up('beacon/331081/up/heartbeat', Buffer.from(JSON.stringify({ ...hb, outbox: { depth: 900, oldest: p.clock - 120_000 } })))).toBe(0);
      expect((p.topics.get('halls')?.get('331081') as HallNode).state).toBe('degraded'); // its outbox holds two minutes
    } finally {
      d.dispose();
    }
  });
});
