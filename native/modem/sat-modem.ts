// The hall's satellite phone (Tiantong / Iridium / Thuraya terminals) on a serial port, driven by
// the AT commands they all share (3GPP TS 27.007 voice subset): ATD dial, ATH hang-up, AT+CLCC call
// state, AT+CSQ signal, AT+CREG? registration, and the unsolicited RING / NO CARRIER / BUSY /
// NO ANSWER. When everything else is down this is the hall's last voice link, so the driver is
// suspicious of the terminal: every command has a deadline, a terminal that stops answering is
// closed and reopened with backoff, and lines it does not understand are counted, never obeyed.
import { SerialPort } from 'serialport';

export type ModemState = 'closed' | 'opening' | 'ready' | 'unresponsive';
export type Registration = 'home' | 'roaming' | 'searching' | 'denied' | 'unregistered' | 'unknown';

export interface ModemStatus {
  state: ModemState;
  /** 0-31 as AT+CSQ reports it; null when unknown (99) or not yet asked. */
  signal: number | null;
  registration: Registration;
  detail: string;
  /** Lines from the terminal that were neither an answer nor a known unsolicited result. */
  unknownLines: number;
  /** Commands that got no final result in time. */
  timeouts: number;
  reopens: number;
  /** A call is up or being set up: the terminal carries one call at a time. */
  busy: boolean;
}

export type SatPhase = 'dialing' | 'alerting' | 'connected' | 'ended';
export interface SatEnd {
  by: 'local' | 'remote' | 'cancelled' | 'rejected' | 'dropped' | 'error';
  reason: string;
}

/** What the driver needs from a port: SerialPort's surface, so tests may also hand it a stream. */
export interface PortLike {
  write(data: string): unknown;
  on(ev: 'data', cb: (d: Buffer) => void): unknown;
  on(ev: 'close' | 'error', cb: (e?: Error) => void): unknown;
  close(cb?: (e?: Error | null) => void): unknown;
  readonly isOpen: boolean;
}

export interface SatModemOptions {
  /** Serial device, e.g. /dev/ttyUSB0. */
  path: string;
  /** @default 115200 (the terminals' usual rate; pseudo-terminals ignore it) */
  baudRate?: number;
  /** How often signal and registration are polled when idle. @default 5000 */
  pollMs?: number;
  /** How often AT+CLCC is asked while a call is up. @default 500 */
  callPollMs?: number;
  /** Deadline for a command's final result. ATD gets 3x. @default 3000 */
  commandTimeoutMs?: number;
  /** Consecutive timeouts after which the terminal counts as stuck and is reopened. @default 2 */
  stuckAfter?: number;
  onStatus?: (s: ModemStatus) => void;
  log?: (line: string) => void;
  /** Opens the port (tests may substitute). @default serialport */
  open?: (path: string, baudRate: number) => Promise<PortLike>;
}

const FINAL = /^(OK|ERROR|\+CME ERROR:.*|\+CMS ERROR:.*|NO CARRIER|BUSY|NO ANSWER|NO DIALTONE|CONNECT.*)$/;
const CALL_END = /^(NO CARRIER|BUSY|NO ANSWER|NO DIALTONE)$/;
/** Unsolicited lines every terminal sends, and vendor status lines we recognise but do not need. */
const KNOWN_URC = /^(RING|\+CRING:.*|\+CLIP:.*|\+CREG: \d+(,.*)?|\+CIEV:.*|\^\w+:?.*|\+CSQ: .*|\+CLCC: .*|\*\w+:.*|SBDRING|\+CGREG: .*|\+CEREG: .*)$/;

interface Pending {
  cmd: string;
  lines: string[];
  resolve(r: { final: string; lines: string[] }): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class SatCall {
  phase: SatPhase = 'dialing';
  end: SatEnd | null = null;
  answeredAt: number | null = null;
  readonly number: string;
  readonly done: Promise<SatEnd>;
  private finished!: (e: SatEnd) => void;
  private readonly modem: SatModem;
  private readonly onUpdate: (c: SatCall) => void;
  hangupWanted = false;

  constructor(modem: SatModem, number: string, onUpdate: (c: SatCall) => void) {
    this.modem = modem;
    this.number = number;
    this.onUpdate = onUpdate;
    this.done = new Promise((r) => (this.finished = r));
  }

  set(phase: Exclude<SatPhase, 'ended'>): void {
    if (this.phase === 'ended' || this.phase === phase) return;
    // Calls only move forward: a late "alerting" after "connected" is noise.
    if (phase === 'alerting' && this.phase === 'connected') return;
    this.phase = phase;
    if (phase === 'connected') this.answeredAt = Date.now();
    this.onUpdate(this);
  }

  finish(end: SatEnd): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.end = end;
    this.onUpdate(this);
    this.finished(end);
  }

  /** Hang up or give up: ATH in any phase. */
  hangup(): Promise<SatEnd> {
    return this.modem.hangup(this);
  }
}

export class SatModem {
  status: ModemStatus = { state: 'closed', signal: null, registration: 'unknown', detail: '', unknownLines: 0, timeouts: 0, reopens: 0, busy: false };
  private port: PortLike | null = null;
  private buf = '';
  private pending: Pending | null = null;
  private readonly queue: { cmd: string; timeoutMs: number; resolve: Pending['resolve']; reject: Pending['reject'] }[] = [];
  private call: SatCall | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private reopenTimer: NodeJS.Timeout | null = null;
  private consecutiveTimeouts = 0;
  private reopenFailures = 0;
  private disposed = false;
  private lastUnknownLog = 0;
  private readonly opts: Required<Pick<SatModemOptions, 'baudRate' | 'pollMs' | 'callPollMs' | 'commandTimeoutMs' | 'stuckAfter'>> & SatModemOptions;

  constructor(opts: SatModemOptions) {
    this.opts = { baudRate: 115200, pollMs: 5000, callPollMs: 500, commandTimeoutMs: 3000, stuckAfter: 2, ...opts };
  }

  private log(line: string): void {
    (this.opts.log ?? ((l: string) => console.warn(l)))(`satellite ${this.opts.path}: ${line}`);
  }

  private setStatus(p: Partial<ModemStatus>): void {
    const before = JSON.stringify(this.status);
    this.status = { ...this.status, ...p, busy: this.call !== null };
    if (JSON.stringify(this.status) !== before) this.opts.onStatus?.(this.status);
  }

  /** Open the terminal and start watching it. Resolves once the first attempt is over. */
  async start(): Promise<ModemStatus> {
    await this.openPort();
    return this.status;
  }

  get ready(): boolean {
    return this.status.state === 'ready';
  }

  private async openPort(): Promise<void> {
    if (this.disposed) return;
    this.setStatus({ state: 'opening' });
    try {
      const open = this.opts.open ?? openSerial;
      const port = await open(this.opts.path, this.opts.baudRate);
      this.port = port;
      this.buf = '';
      port.on('data', (d) => this.onData(d));
      port.on('error', () => undefined);
      port.on('close', () => {
        if (this.port !== port || this.disposed) return;
        this.port = null;
        this.failAll(new Error('port closed'));
        this.setStatus({ state: 'unresponsive', detail: 'port closed' });
        this.scheduleReopen();
      });
      // Echo off, verbose results, then the first look at signal and registration.
      await this.command('ATE0');
      await this.command('ATV1').catch(() => undefined);
      await this.command('AT+CMEE=1').catch(() => undefined);
      // A call left up from before (the hall restarted, or the terminal was reopened while stuck)
      // is one nobody tracks any more: it would hold the only satellite line, so it is cleared.
      await this.command('ATH').catch(() => undefined);
      this.reopenFailures = 0;
      this.setStatus({ state: 'ready', detail: 'terminal answering' });
      await this.poll();
      this.schedulePoll();
    } catch (e) {
      this.reopenFailures++;
      this.setStatus({ state: 'unresponsive', detail: `cannot open: ${(e as Error).message}` });
      this.closePort();
      this.scheduleReopen();
    }
  }

  private scheduleReopen(): void {
    if (this.disposed || this.reopenTimer) return;
    // Backoff with jitter, capped at 30 s: a terminal being power-cycled comes back within that.
    const base = Math.min(30_000, 500 * 2 ** Math.min(this.reopenFailures, 6));
    this.reopenTimer = setTimeout(
      () => {
        this.reopenTimer = null;
        this.status.reopens++;
        void this.openPort();
      },
      base / 2 + (Math.random() * base) / 2,
    );
  }

  private schedulePoll(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.disposed) return;
    // While a call is up, watch it closely; otherwise the signal at the poll interval.
    const ms = this.call ? this.opts.callPollMs : this.opts.pollMs;
    this.pollTimer = setTimeout(() => void (this.call ? this.watchCall(this.call).catch(() => undefined) : this.poll()).finally(() => this.schedulePoll()), ms);
  }

  private async poll(): Promise<void> {
    if (!this.port || this.status.state !== 'ready') return;
    try {
      const csq = await this.command('AT+CSQ');
      const m = csq.lines.map((l) => /^\+CSQ:\s*(\d+)\s*,\s*(\d+)/.exec(l)).find(Boolean);
      if (m) this.setStatus({ signal: Number(m[1]) === 99 ? null : Math.min(31, Number(m[1])) });
      const creg = await this.command('AT+CREG?');
      const r = creg.lines.map((l) => /^\+CREG:\s*\d+\s*,\s*(\d+)/.exec(l)).find(Boolean);
      if (r) this.setStatus({ registration: (['unregistered', 'home', 'searching', 'denied', 'unknown', 'roaming'] as const)[Number(r[1])] ?? 'unknown' });
    } catch {
      // A timeout is already counted; a stuck terminal is being reopened.
    }
  }

  /** AT+CLCC: the state of our call as the terminal sees it (stat 0 active, 2 dialling, 3 alerting). */
  private async watchCall(call: SatCall): Promise<void> {
    const r = await this.command('AT+CLCC');
    const entries = r.lines.map((l) => /^\+CLCC:\s*\d+\s*,\s*0\s*,\s*(\d)/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
    if (call.phase === 'ended') return;
    if (!entries.length) {
      if (call.phase === 'connected') return this.endCall(call, { by: 'remote', reason: 'call no longer listed by the terminal' });
      return;
    }
    const stat = Number(entries[0]![1]);
    if (stat === 0) call.set('connected');
    else if (stat === 3) call.set('alerting');
  }

  private onData(d: Buffer): void {
    this.buf += d.toString('latin1');
    if (this.buf.length > 16_384) {
      // A terminal spewing without line ends: drop it rather than grow.
      this.noteUnknown(this.buf.slice(0, 40));
      this.buf = '';
    }
    let i: number;
    while ((i = this.buf.search(/[\r\n]/)) >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    const p = this.pending;
    if (p && line === p.cmd) return; // echo (before ATE0 took effect)
    if (p) {
      // A call ending while some other command is pending is the call's news, not that command's answer.
      if (CALL_END.test(line) && !p.cmd.startsWith('ATD')) {
        this.unsolicited(line);
        return;
      }
      if (FINAL.test(line)) {
        clearTimeout(p.timer);
        this.pending = null;
        this.consecutiveTimeouts = 0;
        p.resolve({ final: line, lines: p.lines });
        this.next();
        return;
      }
      if (line.startsWith('+') || line.startsWith('^') || line.startsWith('*')) {
        p.lines.push(line);
        if (!/^\+(CSQ|CREG|CLCC|CME)/.test(line)) this.unsolicited(line);
        return;
      }
    }
    this.unsolicited(line);
  }

  private unsolicited(line: string): void {
    if (CALL_END.test(line)) {
      const call = this.call;
      if (!call) return;
      if (line === 'NO CARRIER')
        this.endCall(call, call.phase === 'connected' ? { by: 'dropped', reason: 'NO CARRIER: the link dropped or the far end hung up' } : { by: 'rejected', reason: 'NO CARRIER' });
      else this.endCall(call, { by: 'rejected', reason: line });
      return;
    }
    if (line === 'RING' || line.startsWith('+CRING')) return; // incoming: the terminal's own handset rings
    const creg = /^\+CREG:\s*(\d+)$/.exec(line);
    if (creg) {
      this.setStatus({ registration: (['unregistered', 'home', 'searching', 'denied', 'unknown', 'roaming'] as const)[Number(creg[1])] ?? 'unknown' });
      return;
    }
    if (KNOWN_URC.test(line)) return;
    this.noteUnknown(line);
  }

  private noteUnknown(line: string): void {
    this.status.unknownLines++;
    const now = Date.now();
    if (now - this.lastUnknownLog > 10_000) {
      this.lastUnknownLog = now;
      this.log(`ignored a line it does not understand: ${JSON.stringify(line.slice(0, 60))} (${this.status.unknownLines} so far)`);
    }
    this.opts.onStatus?.(this.status);
  }

  /** Send one command and wait for its final result. Commands go one at a time. */
  command(cmd: string, timeoutMs = this.opts.commandTimeoutMs): Promise<{ final: string; lines: string[] }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, timeoutMs, resolve, reject });
      if (!this.pending) this.next();
    });
  }

  private next(): void {
    const item = this.queue.shift();
    if (!item) return;
    if (!this.port) {
      item.reject(new Error('terminal not open'));
      return this.next();
    }
    const timer = setTimeout(() => this.onTimeout(), item.timeoutMs);
    this.pending = { cmd: item.cmd, lines: [], resolve: item.resolve, reject: item.reject, timer };
    this.port.write(item.cmd + '\r');
  }

  private onTimeout(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.status.timeouts++;
    this.consecutiveTimeouts++;
    p.reject(new Error(`${p.cmd}: no answer within the deadline`));
    if (this.consecutiveTimeouts >= this.opts.stuckAfter) {
      this.log(`terminal stopped answering (${this.consecutiveTimeouts} commands timed out); reopening`);
      this.consecutiveTimeouts = 0;
      if (this.call) this.endCall(this.call, { by: 'error', reason: 'satellite terminal stopped answering' });
      this.failAll(new Error('terminal stuck'));
      this.setStatus({ state: 'unresponsive', detail: 'terminal stopped answering; reopening' });
      this.closePort();
      this.scheduleReopen();
      return;
    }
    this.next();
  }

  private failAll(e: Error): void {
    if (this.pending) {
      clearTimeout(this.pending.timer);
      this.pending.reject(e);
      this.pending = null;
    }
    for (const q of this.queue.splice(0)) q.reject(e);
  }

  private closePort(): void {
    const p = this.port;
    this.port = null;
    if (p?.isOpen) p.close(() => undefined);
  }

  private endCall(call: SatCall, end: SatEnd): void {
    if (this.call === call) this.call = null;
    this.setStatus({});
    call.finish(end);
    this.schedulePoll();
  }

  /** Dial a number. Fails at once (ended, by 'error') when the terminal is not ready or busy. */
  dial(number: string, onUpdate: (c: SatCall) => void = () => undefined): SatCall {
    const call = new SatCall(this, number, onUpdate);
    if (!/^\+?\d{3,20}$/.test(number)) {
      queueMicrotask(() => call.finish({ by: 'error', reason: `not a dialable number: ${number}` }));
      return call;
    }
    if (!this.ready || this.call) {
      queueMicrotask(() => call.finish({ by: 'error', reason: this.call ? 'the satellite terminal is on another call' : `satellite terminal ${this.status.state}` }));
      return call;
    }
    this.call = call;
    this.setStatus({});
    // Voice dial (the trailing ';'). The terminal answers OK at once, or BUSY / NO CARRIER /
    // NO ANSWER when the call fails; a few answer only when the far end picks up.
    this.command(`ATD${number};`, this.opts.commandTimeoutMs * 3)
      .then((r) => {
        if (call.phase === 'ended') return;
        if (r.final === 'OK' || r.final.startsWith('CONNECT')) {
          this.schedulePoll();
          return;
        }
        this.endCall(call, { by: 'rejected', reason: r.final });
      })
      .catch((e: Error) => {
        if (call.phase !== 'ended') this.endCall(call, { by: 'error', reason: e.message });
      });
    return call;
  }

  async hangup(call: SatCall): Promise<SatEnd> {
    if (call.phase === 'ended') return call.end!;
    call.hangupWanted = true;
    const by = call.phase === 'connected' ? 'local' : 'cancelled';
    try {
      await this.command('ATH');
    } catch {
      // A stuck terminal is reopened, which drops the call anyway.
    }
    this.endCall(call, { by, reason: by === 'local' ? 'hung up' : 'cancelled' });
    return call.end!;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    if (this.call) await this.hangup(this.call).catch(() => undefined);
    this.disposed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.failAll(new Error('closed'));
    this.closePort();
    this.setStatus({ state: 'closed', detail: 'closed' });
  }
}

function openSerial(path: string, baudRate: number): Promise<PortLike> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    port.open((e) => (e ? reject(e) : resolve(port)));
  });
}
