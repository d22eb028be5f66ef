// A satellite terminal emulator on a pseudo-terminal pair made by socat: the hall's driver opens one
// end with serialport exactly as it opens /dev/ttyUSB0; this side speaks the AT dialect of a
// Tiantong/Iridium-style voice terminal, with knobs for garbage lines, a stuck terminal and drops.
// (No satellite network can run here: the emulator is the far side, and the tests say so.)
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { until } from './until.ts';

export type NumberBehaviour = 'answer' | 'busy' | 'noanswer' | 'drop';

export class ModemEmulator {
  /** The end the hall opens. */
  readonly device: string;
  private readonly peer: string;
  private socat: ChildProcess | null = null;
  private port: SerialPort | null = null;
  private buf = '';
  private echo = true;
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  /** How each dialled number behaves; others answer. */
  readonly numbers = new Map<string, NumberBehaviour>();
  csq = 18;
  creg = 1;
  /** Stop answering anything (a wedged terminal). */
  stuck = false;
  /** Ms from dial to alerting and from alerting to answer. */
  alertMs = 200;
  answerMs = 600;
  dropAfterMs = 800;
  private call: { number: string; stat: 0 | 2 | 3; timers: NodeJS.Timeout[] } | null = null;
  log = '';

  constructor(dir: string) {
    this.device = join(dir, 'ttySAT0');
    this.peer = join(dir, 'ttySAT0-emulator');
  }

  async start(): Promise<void> {
    this.socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.device}`, `pty,raw,echo=0,link=${this.peer}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.socat.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await until('socat pty pair', () => existsSync(this.device) && existsSync(this.peer) && /starting data transfer loop/.test(this.log), 10_000);
    await this.openPeer();
  }

  private async openPeer(): Promise<void> {
    this.port = new SerialPort({ path: this.peer, baudRate: 115200, autoOpen: false });
    await new Promise<void>((r, j) => this.port!.open((e) => (e ? j(e) : r())));
    this.port.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
    this.port.on('error', () => undefined);
  }

  send(line: string): void {
    this.port?.write(`\r\n${line}\r\n`);
  }

  /** Lines no terminal should send: binary noise, half lines, a made-up result. */
  garbage(): void {
    this.port?.write('\r\n\x00\x7f\xfe@@@\r\n+WHAT: 1,2\r\nOKAY\r\n\r\n%%%%\r\n');
  }

  private onData(s: string): void {
    this.buf += s;
    let i: number;
    while ((i = this.buf.indexOf('\r')) >= 0) {
      const line = this.buf.slice(0, i).replace(/\n/g, '').trim();
      this.buf = this.buf.slice(i + 1);
      if (line) this.onCommand(line);
    }
  }

  private onCommand(cmd: string): void {
    this.commands.push(cmd);
    if (this.stuck) return;
    if (this.echo) this.port?.write(cmd + '\r\n');
    const up = cmd.toUpperCase();
    if (up === 'ATE0') {
      this.echo = false;
      return this.send('OK');
    }
    if (up === 'AT' || up === 'ATV1' || up.startsWith('AT+CMEE')) return this.send('OK');
    if (up === 'AT+CSQ') return this.send(`+CSQ: ${this.csq},0\r\n\r\nOK`);
    if (up === 'AT+CREG?') return this.send(`+CREG: 0,${this.creg}\r\n\r\nOK`);
    if (up === 'AT+CLCC') {
      const c = this.call;
      return this.send(c ? `+CLCC: 1,0,${c.stat},0,0,"${c.number}",129\r\n\r\nOK` : 'OK');
    }
    if (up === 'ATH' || up === 'AT+CHUP') {
      this.endCall();
      return this.send('OK');
    }
    const d = /^ATD(\+?\d+);$/.exec(up);
    if (d) {
      if (this.call) return this.send('BUSY');
      const number = d[1]!;
      const how = this.numbers.get(number) ?? 'answer';
      if (how === 'busy') return this.send('BUSY');
      this.send('OK');
      const call = { number, stat: 2 as 0 | 2 | 3, timers: [] as NodeJS.Timeout[] };
      this.call = call;
      call.timers.push(setTimeout(() => (call.stat = 3), this.alertMs));
      if (how === 'answer' || how === 'drop') {
        call.timers.push(setTimeout(() => (call.stat = 0), this.alertMs + this.answerMs));
      }
      if (how === 'drop') {
        call.timers.push(
          setTimeout(
            () => {
              this.endCall();
              this.send('NO CARRIER');
            },
            this.alertMs + this.answerMs + this.dropAfterMs,
          ),
        );
      }
      return;
    }
    this.send('ERROR');
  }

  /** The far end hangs up (or the satellite link drops): NO CARRIER. */
  remoteHangup(): void {
    this.endCall();
    this.send('NO CARRIER');
  }

  get inCall(): boolean {
    return this.call !== null;
  }

  get callStat(): number | null {
    return this.call?.stat ?? null;
  }

  private endCall(): void {
    if (!this.call) return;
    for (const t of this.call.timers) clearTimeout(t);
    this.call = null;
  }

  async stop(): Promise<void> {
    this.endCall();
    if (this.port?.isOpen) await new Promise<void>((r) => this.port!.close(() => r()));
    this.port = null;
    const s = this.socat;
    if (s && s.exitCode === null) {
      const exited = new Promise((r) => s.once('exit', r));
      s.kill('SIGTERM');
      await exited;
    }
    this.socat = null;
  }
}
