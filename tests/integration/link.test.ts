// The link monitor against a real TCP endpoint on loopback that goes away and comes back.
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { Link } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { linkTargets, parseTarget } from '../../main/core/link/monitor.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const listen = (port = 0) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));
const wan = (core: HallCore) => (core.hub.items('link') as Link[]).find((l) => l.id === 'wan')!;

describe('link monitor', () => {
  const dir = tempDir();
  let core: HallCore | null = null;
  afterAll(async () => core?.dispose());

  it('parses uplinks as host:port and refuses anything else', () => {
    expect(parseTarget('10.1.2.3:1883')).toEqual({ id: '10.1.2.3:1883', host: '10.1.2.3', port: 1883, protocol: 'tcp' });
    expect(linkTargets(['10.1.2.3:1883'], 'mqtt://bus.zj.gov:1883').map((t) => [t.id, t.protocol])).toEqual([
      ['10.1.2.3:1883', 'tcp'],
      ['province', 'mqtt'],
    ]);
    expect(linkTargets(['mqtt://bus.zj.gov:1883'], 'mqtt://bus.zj.gov:1883')).toHaveLength(1);
    expect(parseTarget('[::1]:5060')).toMatchObject({ host: '::1', port: 5060 });
    for (const bad of ['host', 'host:0', 'host:99999', ':80', 'a:b']) expect(() => parseTarget(bad), bad).toThrow(/is not \[mqtt:\/\/\|sip:\/\/\|tcp:\/\/\]host:port/);
  });

  it('sees the WAN up, notices an endpoint go away at once, and comes back without flapping', async () => {
    const up = await listen();
    const port = (up.address() as { port: number }).port;
    const down = await listen(); // a second endpoint that stays up: losing one of two is "degraded"
    const port2 = (down.address() as { port: number }).port;
    core = await HallCore.start({
      dataDir: dir,
      hub: { tickMs: 10 },
      link: { targets: [parseTarget(`127.0.0.1:${port}`, 'bus'), parseTarget(`127.0.0.1:${port2}`, 'sip')], intervalMs: 100, timeoutMs: 300 },
    });
    const c = core;
    expect(wan(c).state).toBe('unknown');
    const heard: string[] = [];
    const stop = c.port.onLink((l) => l.id === 'wan' && heard.push(l.state));
    await until('online', () => (c.hub.flush(), wan(c).state === 'online'));

    await close(up);
    const tDegraded = await until('degraded', () => (c.hub.flush(), wan(c).state === 'degraded'));
    expect(tDegraded).toBeLessThan(2000); // the bound; the figure itself is in npm run bench
    expect((c.hub.items('link') as Link[]).find((l) => l.id === 'uplink:bus')).toMatchObject({ state: 'offline' });

    await close(down);
    await until('offline', () => (c.hub.flush(), wan(c).state === 'offline'));

    const back = await listen(port);
    const back2 = await listen(port2);
    await until('online again', () => (c.hub.flush(), wan(c).state === 'online'));

    await new Promise((r) => setTimeout(r, 300));
    stop();
    // In-core listeners (calls, tiles) hear the same transitions as the displays, starting from now.
    expect(heard[0]).toBe('unknown');
    // Transitions of the one word (a change of which endpoints are in trouble is reported too, with
    // the same word: collapse those here).
    const runs = (xs: string[]) => xs.filter((x, i) => i === 0 || x !== xs[i - 1]);
    expect(runs(heard).slice(1, 4)).toEqual(['online', 'degraded', 'offline']);
    expect(heard[heard.length - 1]).toBe('online');
    const events = (await c.store.api.readJournal(0, 100_000)).filter((e) => e.kind === 'link.changed' && e.subject === 'link:wan');
    const states = runs(events.map((e) => (e.payload as { state: string }).state));
    expect(states.slice(0, 3)).toEqual(['online', 'degraded', 'offline']);
    // Coming back, one endpoint may answer before the other (offline -> degraded -> online).
    expect(states.slice(3)).toSatisfy((rest: string[]) => ['online', 'degraded,online'].includes(rest.join(',')));
    expect(states.every((st, i) => i === 0 || st !== states[i - 1])).toBe(true);
    expect(events[1]!.origin).toBe('link-monitor');
    await close(back);
    await close(back2);
  });
});
