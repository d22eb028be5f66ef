// Live advisories in the hall's documented form: checked the way a forecaster would, journaled,
// the newest per agency current and the older ones kept.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Advisory, Typhoon } from '../../common/domain.ts';
import { currentAdvisories } from '../../common/typhoon.ts';
import { HallCore } from '../../main/core/hall.ts';
import { parseAdvisory } from '../../main/core/typhoon/advisory.ts';
import { advisory, q } from '../helpers/advisory.ts';
import { portClient } from '../helpers/port-client.ts';
import { tempDir } from '../helpers/tmp.ts';

const NOW = Date.UTC(2026, 8, 14, 3);
describe('typhoon advisories', () => {
  const dir = tempDir();

  it('are checked: zone-less times, forecasts out of order, radii that are not nested, unknown fields', () => {
    const ok = parseAdvisory(advisory('CMA', '2026-09-14T00:00:00Z'), NOW);
    expect(ok).toMatchObject({ ok: true, advisory: { id: 'tc-2026-2614/CMA/2026-09-14T00:00:00.000Z', storm: 'tc-2026-2614', agency: 'CMA', issued: Date.UTC(2026, 8, 14) } });
    const bad = (over: Record<string, unknown>) => {
      const r = parseAdvisory(advisory('CMA', '2026-09-14T00:00:00Z', over), NOW);
      return r.ok ? 'accepted' : r.error;
    };
    expect(bad({ issued: '2026-09-14 00:00' })).toMatch(/issued: an ISO 8601 time with a zone/);
    expect(bad({ issued: '2026-09-15T00:00:00Z' })).toMatch(/more than an hour ahead/);
    expect(bad({ agency: 'cma' })).toMatch(/upper-case agency code/);
    expect(bad({ forecast: [{ time: '2026-09-13T00:00:00Z', lat: 25, lon: 125 }] })).toMatch(/forecast.0.time must be after/);
    expect(bad({ forecast: [{ time: '2026-09-30T00:00:00Z', lat: 25, lon: 125 }] })).toMatch(/more than 240 h ahead/);
    expect(bad({ current: { time: '2026-09-14T00:00:00Z', lat: 24, lon: 126, radii: { r7: q(100, 100, 100, 100), r10: q(150, 90, 90, 90) } } })).toMatch(
      /force-10 radius NE 150 km exceeds the force-7 radius 100/,
    );
    expect(bad({ current: { time: '2026-09-14T00:00:00Z', lat: 124, lon: 126 } })).toMatch(/current.lat/);
    expect(bad({ extra: 1 })).toMatch(/Unrecognized key/);
    expect(bad({ forecast: Array.from({ length: 65 }, () => ({})) })).toMatch(/forecast/);
    expect(parseAdvisory('a string', NOW)).toMatchObject({ ok: false });
  });

  it('are journaled; the newest per agency is current, the history stays; an unknown storm is created', async () => {
    const core = await HallCore.start({ dataDir: join(dir, 'a'), seed: false, hub: { tickMs: 5 }, now: () => NOW });
    const c = portClient(core);
    try {
      const r1 = await c.cmd<{ id: string; event: number }>('typhoon.advisory', { advisory: advisory('CMA', '2026-09-14T00:00:00Z') });
      expect(r1.event).toBeGreaterThan(0);
      await c.cmd('typhoon.advisory', { advisory: advisory('JMA', '2026-09-14T00:00:00Z', { current: { time: '2026-09-14T00:00:00Z', lat: 24.6, lon: 126.1, pressure: 945, wind: 46 } }) });
      const storm = core.get<Typhoon>('typhoons', 'tc-2026-2614')!;
      expect(storm).toMatchObject({ name: { zh: '演示', en: 'Demo' }, number: '2614', year: 2026, demo: false });
      // CMA's analysed positions make the observed track; JMA's do not.
      expect(storm.fixes).toEqual([{ t: Date.UTC(2026, 8, 14), lat: 24.5, lon: 126, pressure: 950, wind: 45, grade: 'STY' }]);

      const later = advisory('CMA', '2026-09-14T03:00:00Z', { current: { time: '2026-09-14T03:00:00Z', lat: 25.0, lon: 125.5, pressure: 948, wind: 46 } });
      await c.cmd('typhoon.advisory', { advisory: later });
      const again = await c.cmd<{ event: number }>('typhoon.advisory', { advisory: later });
      expect(again.event).toBe(0); // the same advisory twice: nothing new
      const all = core.all<Advisory>('advisories');
      expect(all).toHaveLength(3);
      const current = currentAdvisories(all, 'tc-2026-2614');
      expect(current.map((a) => [a.agency, new Date(a.issued).toISOString()])).toEqual([
        ['CMA', '2026-09-14T03:00:00.000Z'],
        ['JMA', '2026-09-14T00:00:00.000Z'],
      ]);
      // At an earlier moment, the older CMA advisory was the current one.
      expect(currentAdvisories(all, 'tc-2026-2614', Date.UTC(2026, 8, 14, 1)).find((a) => a.agency === 'CMA')!.issued).toBe(Date.UTC(2026, 8, 14));
      expect(core.get<Typhoon>('typhoons', 'tc-2026-2614')!.fixes).toHaveLength(2);

      const err = await c.fail('typhoon.advisory', { advisory: { format: 'something else' } });
      expect(err).toMatchObject({ code: 'invalid_args', message: expect.stringMatching(/^advisory refused: /) });
      expect(core.all('advisories')).toHaveLength(3);
      expect(core.desks.typhoons.counters.advisoriesRejected).toBe(1);

      // A live storm is analysed at the hall's clock without anyone replaying it.
      core.desks.typhoons.analyseNow();
      core.hub.flush();
      const a = core.hub.items('analysis') as { id: string; agencies: string[] }[];
      expect(a.find((x) => x.id === 'tc-2026-2614')?.agencies).toEqual(['CMA', 'JMA']);
    } finally {
      c.close();
      await core.dispose();
    }
  });
});
