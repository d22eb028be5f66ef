// The satellite terminal driver over a real pseudo-terminal (socat) with serialport, against an
// emulator of the terminal's AT dialect (no satellite network can run here: the emulator is the
// far side). Garbage lines, a stuck terminal and dropped calls included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SatModem, type ModemStatus } from '../../native/modem/sat-modem.ts';
import { ModemEmulator } from '../helpers/modem.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/until.ts';

const dir = tempDir('beacon-sat-');
const emu = new ModemEmulator(dir);
let modem: SatModem;
const statuses: ModemStatus[] = [];
const logs: string[] = [];

beforeAll(async () => {
  await emu.start();
  emu.numbers.set('17400000002', 'busy');
  emu.numbers.set('17400000003', 'noanswer');
  emu.numbers.set('17400000004', 'drop');
  modem = new SatModem({ path: emu.device, pollMs: 300, callPollMs: 100, commandTimeoutMs: 400, onStatus: (s) => statuses.push({ ...s }), log: (l) => logs.push(l) });
  await modem.start();
});
afterAll(async () => {
  await modem.dispose();
  await emu.stop();
});

describe('satellite terminal over a pseudo-terminal', () => {
  it('opens, turns echo off, and reads signal and registration', async () => {
    expect(modem.status.state).toBe('ready');
    expect(emu.commands[0]).toBe('ATE0');
    await until('signal', () => modem.status.signal === 18);
    expect(modem.status.registration).toBe('home');
    emu.csq = 5;
    emu.creg = 5;
    await until('signal follows the terminal', () => modem.status.signal === 5 && modem.status.registration === 'roaming', 3000);
  });

  it('dials, sees alerting then connected (AT+CLCC), and hangs up with ATH', async () => {
    const phases: string[] = [];
    const call = modem.dial('17400000001', (c) => phases.push(c.phase));
    expect(modem.status.busy).toBe(true);
    await until('connected', () => call.phase === 'connected', 5000);
    expect(phases).toEqual(['alerting', 'connected']);
    expect(emu.commands).toContain('ATD17400000001;');
    const end = await call.hangup();
    expect(end.by).toBe('local');
    expect(emu.commands.at(-1)).toBe('ATH');
    expect(emu.inCall).toBe(false);
    expect(modem.status.busy).toBe(false);
  });

  it('reports BUSY as the dial result', async () => {
    const end = await modem.dial('17400000002').done;
    expect(end).toEqual({ by: 'rejected', reason: 'BUSY' });
  });

  it('gives up on a number that never answers (ATH while alerting)', async () => {
    const call = modem.dial('17400000003');
    await until('alerting', () => call.phase === 'alerting', 5000);
    expect((await call.hangup()).by).toBe('cancelled');
    expect(emu.inCall).toBe(false);
  });

  it('a dropped call (NO CARRIER after connecting) ends as dropped', async () => {
    const call = modem.dial('17400000004');
    await until('connected', () => call.phase === 'connected', 5000);
    const end = await call.done;
    expect(end.by).toBe('dropped');
  });

  it('refuses a second call while one is up, and numbers that are not numbers', async () => {
    const first = modem.dial('17400000001');
    const second = await modem.dial('17400000009').done;
    expect(second).toMatchObject({ by: 'error', reason: /another call/ });
    expect((await modem.dial('ATH;+++').done).by).toBe('error');
    expect(emu.commands.some((c) => c.includes('+++'))).toBe(false);
    await until('connected', () => first.phase === 'connected', 5000);
    emu.remoteHangup();
    expect((await first.done).by).toBe('dropped');
  });

  it('garbage lines are counted and logged once, and the terminal keeps working', async () => {
    const before = modem.status.unknownLines;
    const logged = logs.length;
    emu.garbage();
    emu.garbage();
    await until('garbage counted', () => modem.status.unknownLines >= before + 6, 3000);
    expect(logs.length - logged).toBeLessThanOrEqual(1);
    expect(modem.status.state).toBe('ready');
    const call = modem.dial('17400000001');
    await until('connected after garbage', () => call.phase === 'connected', 5000);
    await call.hangup();
  });

  it('a terminal that stops answering is detected and reopened, and a call on it ends', async () => {
    const reopens = modem.status.reopens;
    const call = modem.dial('17400000001');
    await until('connected', () => call.phase === 'connected', 5000);
    emu.stuck = true;
    await until('unresponsive', () => modem.status.state === 'unresponsive', 5000);
    expect((await call.done).by).toBe('error');
    // The satellite channel must not look usable while the terminal is stuck.
    expect((await modem.dial('17400000001').done).by).toBe('error');
    emu.stuck = false;
    await until('ready again', () => modem.status.state === 'ready', 15_000);
    expect(modem.status.reopens).toBeGreaterThan(reopens);
    const again = modem.dial('17400000001');
    await until('connected after reopen', () => again.phase === 'connected', 5000);
    await again.hangup();
  });

  it('a device that does not exist leaves the driver unresponsive, not crashed', async () => {
    const m = new SatModem({ path: `${dir}/nope`, log: () => undefined });
    const s = await m.start();
    expect(s.state).toBe('unresponsive');
    expect(s.detail).toMatch(/cannot open/);
    await m.dispose();
  });
});
