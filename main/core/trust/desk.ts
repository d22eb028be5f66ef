// The trust desk: who may sign in (DATA/operators.json), which remote consoles may connect
// (DATA/consoles.json), the hall's own access token, sign-in and sign-out with their tickets, and
// the `operators` topic every display's sign-in list reads. The grants themselves are checked by
// the hub for every command (common/trust.ts); this desk decides who a session is.
import { randomBytes } from 'node:crypto';
import type { Operator } from '../../../common/trust.ts';
import { HubError, type CommandContext, type Credential, type HubAuth } from '../hub/hub.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';
import { accessToken, tokensEqual } from '../security.ts';
import { Consoles, hashPin, Operators, verifyPin, type OperatorEntry } from './credentials.ts';

export interface TrustOptions {
  /** Wrong PINs for one operator within `lockMs` before that operator is locked for `lockMs`. @default 5 */
  maxFailures?: number;
  /** @default 300000 (5 minutes) */
  lockMs?: number;
  /** How long a sign-in lasts across reconnects without signing in again: a shift. @default 43200000 (12 h) */
  ticketMs?: number;
  /** How often the files are looked at for changes. @default 1000 */
  watchMs?: number;
}

const credentialKey = (c: Credential): string => (c.kind === 'console' ? `console:${c.id}` : c.kind);
const view = (o: OperatorEntry): Operator => ({ id: o.id, name: o.name, role: o.role });

export class TrustDesk implements Desk, HubAuth {
  readonly operators: Operators;
  readonly consoles: Consoles;
  readonly counters = { signIns: 0, refused: 0, locked: 0, signOuts: 0, resumed: 0, revokedSessions: 0 };
  private readonly token: string;
  private readonly opts: Required<TrustOptions>;
  private readonly failures = new Map<string, number[]>();
  private readonly tickets = new Map<string, { operator: string; credential: string; expires: number }>();
  private readonly revokedListeners = new Set<(which: (c: Credential, op: Operator | null) => boolean) => void>();
  private activeConsoles = new Set<string>();
  private seen = { operators: -1, consoles: -1 };
  private seenPins = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;
  private readonly port: HallPort;
  /** A hash to check unknown operators against, so a wrong name costs what a wrong PIN does. */
  private readonly decoy: Promise<string>;

  constructor(port: HallPort, dataDir: string, opts: TrustOptions = {}) {
    this.port = port;
    this.opts = { maxFailures: 5, lockMs: 300_000, ticketMs: 12 * 3600_000, watchMs: 1000, ...opts };
    this.token = accessToken(dataDir);
    this.operators = new Operators(dataDir);
    this.consoles = new Consoles(dataDir);
    this.decoy = hashPin(randomBytes(12).toString('base64url'));
    this.look();
    this.timer = setInterval(() => this.look(), this.opts.watchMs);
    this.timer.unref();
  }

  readonly commands: CommandHandlers = {
    'session.signIn': ({ operator, pin }, ctx) => this.signIn(operator, pin, ctx),
    'session.signOut': async (_a, ctx) => {
      const op = ctx.who.operator;
      if (op) {
        for (const [t, v] of this.tickets) if (v.operator === op.id && v.credential === credentialKey(ctx.credential)) this.tickets.delete(t);
        this.counters.signOuts += 1;
        await this.port.record('session.signedOut', `operator:${op.id}`, { operator: op, console: ctx.who.console, at: this.port.now() }, ctx.origin);
      }
      return { who: ctx.setOperator(null) };
    },
  };

  /** Who a token makes a connection: one of the hall's displays (the access token), a remote
   *  console (its own token, its role), or nobody (null: refuse it). */
  authenticate(token: string | null | undefined): Credential | null {
    if (!token) return null;
    if (tokensEqual(token, this.token)) return { kind: 'display' };
    const c = this.consoles.match(token);
    return c ? { kind: 'console', id: c.id, name: c.name, role: c.role } : null;
  }

  resume(ticket: string, credential: Credential): Operator | null {
    const t = this.tickets.get(ticket);
    if (!t || t.expires < this.port.now() || t.credential !== credentialKey(credential)) return null;
    const o = this.operators.get(t.operator);
    if (!o) return null;
    this.counters.resumed += 1;
    return view(o);
  }

  /** Sessions to close: a console's token revoked, an operator removed or given another role or PIN
   *  (they reconnect; a ticket then signs them in with what holds now, or not at all). */
  onRevoked(cb: (which: (c: Credential, op: Operator | null) => boolean) => void): () => void {
    this.revokedListeners.add(cb);
    return () => this.revokedListeners.delete(cb);
  }

  private async signIn(id: string, pin: string, ctx: CommandContext): Promise<{ who: CommandContext['who']; ticket: string }> {
    const now = this.port.now();
    const key = `op:${id}`;
    const recent = (this.failures.get(key) ?? []).filter((t) => now - t < this.opts.lockMs);
    const bySession = (this.failures.get(`s:${ctx.session}`) ?? []).filter((t) => now - t < this.opts.lockMs);
    if (recent.length >= this.opts.maxFailures || bySession.length >= this.opts.maxFailures * 2) {
      this.counters.locked += 1;
      throw new HubError(
        'signin_failed',
        `too many wrong PINs: try again in ${Math.ceil((Math.min(...(recent.length >= this.opts.maxFailures ? recent : bySession)) + this.opts.lockMs - now) / 60_000)} min`,
      );
    }
    const entry = this.operators.get(id);
    const ok = await verifyPin(pin, entry?.pin ?? (await this.decoy));
    if (!entry || !ok) {
      recent.push(now);
      bySession.push(now);
      this.failures.set(key, recent);
      this.failures.set(`s:${ctx.session}`, bySession);
      this.counters.refused += 1;
      const locked = recent.length >= this.opts.maxFailures;
      await this.port.record(
        'session.refused',
        `operator:${id.slice(0, 48)}`,
        { operator: id.slice(0, 64), console: ctx.who.console, reason: entry ? 'wrong PIN' : 'unknown operator', locked, at: now },
        ctx.origin,
      );
      // One answer for a wrong name and a wrong PIN: the answer must not tell which names exist.
      throw new HubError('signin_failed', locked ? `operator or PIN not recognised; ${id} is now locked for ${Math.round(this.opts.lockMs / 60_000)} min` : 'operator or PIN not recognised');
    }
    this.failures.delete(key);
    const op = view(entry);
    const who = ctx.setOperator(op);
    const ticket = randomBytes(24).toString('base64url');
    for (const [t, v] of this.tickets) if (v.expires < now) this.tickets.delete(t);
    this.tickets.set(ticket, { operator: op.id, credential: credentialKey(ctx.credential), expires: now + this.opts.ticketMs });
    this.counters.signIns += 1;
    await this.port.record('session.signedIn', `operator:${op.id}`, { operator: op, console: ctx.who.console, at: now }, `${ctx.origin} operator:${op.id}`);
    return { who, ticket };
  }

  /** Follow the files: publish the roster, close what was revoked. */
  private look(): void {
    const ops = this.operators.read();
    if (this.operators.version !== this.seen.operators) {
      this.seen.operators = this.operators.version;
      const next = new Map(ops.entries.map((o) => [o.id, o]));
      // a new PIN signs the operator out everywhere too (a PIN changed because it was seen)
      const newPin = new Set([...this.seenPins].filter(([id, pin]) => next.has(id) && next.get(id)!.pin !== pin).map(([id]) => id));
      this.seenPins = new Map(ops.entries.map((o) => [o.id, o.pin]));
      for (const [t, v] of this.tickets) if (!next.has(v.operator) || newPin.has(v.operator)) this.tickets.delete(t);
      this.port.replace('operators', ops.entries.map(view));
      // judged against each session's own operator, not against the last look: an operator added and
      // removed between two looks is still signed out
      this.revoke((_c, op) => op !== null && (next.get(op.id)?.role !== op.role || newPin.has(op.id)));
    }
    const cons = this.consoles.read();
    if (this.consoles.version !== this.seen.consoles) {
      this.seen.consoles = this.consoles.version;
      const live = new Set(cons.entries.filter((c) => c.revoked === null).map((c) => c.id));
      this.activeConsoles = live;
      this.revoke((c) => c.kind === 'console' && !live.has(c.id));
    }
  }

  private revoke(which: (c: Credential, op: Operator | null) => boolean): void {
    for (const cb of this.revokedListeners) cb(which);
  }

  /** Counted by the hub's close (revokedSessions) through the listener's return. */
  noteClosed(n: number): void {
    this.counters.revokedSessions += n;
  }

  stats() {
    return { ...this.counters, operators: this.operators.read().entries.length, consoles: this.activeConsoles.size, problems: [this.operators.problem, this.consoles.problem].filter(Boolean) };
  }

  dispose(): void {
    clearInterval(this.timer);
    this.revokedListeners.clear();
  }
}

export const trustDesk = defineDesk<TrustOptions>()({
  name: 'trust',
  start: (port, ctx): TrustDesk => new TrustDesk(port, ctx.dataDir, ctx.options),
});
