// A real ArduPilot telemetry log (tlog: each MAVLink packet after an 8-byte time), replayed packet by
// packet over UDP into a hall's MAVLink feed (#19 point 4): a healthy link reads healthy.
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Feed, Unit } from '../../common/domain.ts';
import { HallCore } from '../../main/core/hall.ts';
import { tlogPackets } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

describe('an ArduPilot telemetry log over UDP (#19 point 4)', () => {
  const dir = tempDir();
  let core: HallCore;
  beforeAll(async () => {
    core = await HallCore.start({
      dataDir: join(dir, 'hall'),
      seed: false,
      feeds: {
        sweepMs: 200,
        feeds: [
          { kind: 'mavlink-udp', id: 'uav', host: '127.0.0.1', port: 0 },
          { kind: 'mavlink-udp', id: 'copter', host: '127.0.0.1', port: 0 },
        ],
      },
    });
    await until('open', () => core.desks.feeds.port('uav') !== null && core.desks.feeds.port('copter') !== null);
  });
  afterAll(async () => core?.dispose());

  const replay = async (file: string, feed = 'uav') => {
    const packets = tlogPackets(file);
    const s = createSocket('udp4');
    for (let k = 0; k < packets.length; k++) {
      await new Promise<void>((r) => s.send(packets[k]!, core.desks.feeds.port(feed)!, '127.0.0.1', () => r()));
      if (k % 50 === 0) await new Promise((r) => setTimeout(r, 5)); // as a radio paces it
    }
    s.close();
    return packets.length;
  };

  it('every packet is read, none refused: its ardupilotmega messages count as not used, and the feed is online', async () => {
    expect(await replay('mavlink/mavlink_log-tlog_data_0.tlog')).toBe(1426); // as the log's own test counts them
    await until('all counted', () => (core.hub.get('feeds', 'uav') as Feed).health!.messages === 1426);
    const h = (core.hub.get('feeds', 'uav') as Feed).health!;
    expect(h.errors).toEqual({});
    // HEARTBEAT, GLOBAL_POSITION_INT, VFR_HUD, ATTITUDE, SYS_STATUS, BATTERY_STATUS are read; the rest
    // (MEMINFO, AHRS, EKF_STATUS_REPORT, VIBRATION, NAMED_VALUE_FLOAT, PARAM_VALUE, …) passed over
    expect(h.unused).toBe(1426 - (46 + 36 + 36 + 37 + 36 + 36));
    expect((core.hub.get('feeds', 'uav') as Feed).state).toBe('online');
    // the vehicle has no GPS fix in this log: heard (mode, battery), not placed
    expect(core.hub.items('units') as Unit[]).toEqual([]);
  });

  it("an ArduCopter flight (2015): placed where it flew, its modes by Copter's names (LOITER, RTL), the 2015 ground station's messages passed over", async () => {
    const n = await replay('mavlink/dronekit-flight-copter-slice.tlog', 'copter');
    await until('all counted', () => (core.hub.get('feeds', 'copter') as Feed).health!.messages === n);
    const h = (core.hub.get('feeds', 'copter') as Feed).health!;
    expect(h.errors).toEqual({});
    expect(h.unused).toBeGreaterThan(0);
    const drone = core.hub.get('units', 'copter-1') as Unit;
    expect(drone).toMatchObject({ kind: 'drone', drone: { mode: 'STABILIZE' } });
    expect(drone.lat).toBeCloseTo(-35.3622, 3);
    expect(drone.lon).toBeCloseTo(149.1657, 3);
    // every change of flight mode is journaled: the hall's record of the flight
    const modes = (await core.store.api.readJournal(0, 100_000))
      .filter((e) => (e.kind === 'unit.tracked' || e.kind === 'unit.upserted') && e.subject === 'unit:copter-1')
      .map((e) => ((e.payload as { drone?: { mode: string } | null; unit?: { drone?: { mode: string } } }).drone ?? (e.payload as { unit?: { drone?: { mode: string } } }).unit?.drone)?.mode);
    expect(new Set(modes.filter((m) => m !== null))).toEqual(new Set(['STABILIZE', 'LOITER', 'RTL'])); // (null: positions before the slice's first HEARTBEAT)
  });
});
