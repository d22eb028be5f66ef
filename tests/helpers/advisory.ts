// An advisory in the hall's documented form, for tests: a storm 2614 of 2026 near Okinawa.
import { ADVISORY_FORMAT } from '../../main/core/typhoon/advisory.ts';

export const q = (ne: number, se: number, sw: number, nw: number) => ({ ne, se, sw, nw });
export function advisory(agency: string, issued: string, over: Record<string, unknown> = {}) {
  return {
    format: ADVISORY_FORMAT,
    agency,
    issued,
    storm: { number: '2614', year: 2026, name: { zh: '演示', en: 'Demo' } },
    current: { time: issued, lat: 24.5, lon: 126.0, pressure: 950, wind: 45, radii: { r7: q(350, 300, 250, 300), r10: q(150, 120, 100, 120), r12: q(60, 50, 40, 50) } },
    forecast: [
      { time: new Date(Date.parse(issued) + 24 * 3600_000).toISOString(), lat: 27.5, lon: 123.0, pressure: 945, wind: 48, radii: { r7: q(380, 320, 260, 320), r10: q(160, 130, 100, 130) }, error: 70 },
      { time: new Date(Date.parse(issued) + 48 * 3600_000).toISOString(), lat: 30.0, lon: 120.5, pressure: 975, wind: 30, error: 120 },
    ],
    ...over,
  };
}
