import { describe, expect, it } from 'vitest';
import { aggregate, LevelFilter, measure, type Probe } from '../../main/core/link/classify.ts';

const ok = (rttMs = 10): Probe => ({ ok: true, rttMs });
const fail: Probe = { ok: false, rttMs: null };

describe('link classification', () => {
  it('online, degraded by latency, degraded by loss, offline after consecutive failures', () => {
    expect(measure([])).toBeNull();
    expect(measure([ok(), ok(), ok()])?.level).toBe('online');
    expect(measure([ok(400), ok(450), ok(20)])).toMatchObject({ level: 'degraded', medianRttMs: 400 });
    expect(measure([ok(), fail, ok(), fail, ok(), ok(), ok(), ok()])).toMatchObject({ level: 'degraded', loss: 0.25 });
    expect(measure([ok(), ok(), ok(), ok(), ok(), ok(), ok(), fail])?.level).toBe('online'); // one loss in 8 is noise
    expect(measure([ok(), ok(), fail, fail])?.level).toBe('offline');
  });

  it('degraded by bandwidth measured under load, never by an idle link; down beats slow', () => {
    const good = [ok(), ok(), ok()];
    expect(measure(good, {}, null)?.level).toBe('online'); // no traffic, no bandwidth figure
    expect(measure(good, {}, 5000)).toMatchObject({ level: 'online', kbps: 5000 });
    expect(measure(good, {}, 240)).toMatchObject({ level: 'degraded', kbps: 240 });
    expect(measure(good, { degradedKbps: 128 }, 240)?.level).toBe('online');
    expect(measure([ok(), fail, fail], {}, 240)?.level).toBe('offline');
  });

  it('reports going offline at once, and recovery only once it holds', () => {
    const f = new LevelFilter({ hold: 3 });
    expect(f.push('online')).toBe(true);
    expect(f.push('offline')).toBe(true);
    expect(f.level).toBe('offline');
    expect(f.push('online')).toBe(false);
    expect(f.push('online')).toBe(false);
    expect(f.push('online')).toBe(true);
    expect(f.level).toBe('online');
  });

  it('does not flap on a link that alternates', () => {
    const f = new LevelFilter({ hold: 3 });
    f.push('online');
    let changes = 0;
    for (let i = 0; i < 50; i++) if (f.push(i % 2 ? 'degraded' : 'online')) changes++;
    expect(changes).toBe(0);
    expect(f.level).toBe('online');
  });

  it('aggregates targets into one WAN state', () => {
    expect(aggregate([])).toBe('unknown');
    expect(aggregate([null, null])).toBe('unknown');
    expect(aggregate(['online', 'online'])).toBe('online');
    expect(aggregate(['online', 'offline'])).toBe('degraded');
    expect(aggregate(['degraded', 'online'])).toBe('degraded');
    expect(aggregate(['offline', 'offline'])).toBe('offline');
  });
});
