// The hub: named topics, each served as a snapshot followed by ordered deltas with sequence numbers,
// and commands with typed results. Transports (MessagePort, WebSocket) hand it text frames through a
// Connection; everything it receives is validated against the contract in common/.
import { randomUUID } from 'node:crypto';
import {
  ClientMessage,
  COMMAND_GRANT,
  COMMAND_NAMES,
  type CommandName,
  commandSpec,
  describeIssues,
  ERROR_CODES,
  type DeltaOp,
  type ErrorCode,
  type HubErrorBody,
  MAX_CLIENT_FRAME_BYTES,
  MAX_EVIDENCE_FRAME_BYTES,
  EVIDENCE_COMMANDS,
  parseFrame,
  PROTOCOL_VERSION,
  type ServerMessage,
  type TopicName,
  TOPICS,
  type WireOp,
} from '../../../common/contract.ts';
import { diffPatch } from '../../../common/ops.ts';
import { GRANTS, grantsOf, within, type Grant, type Operator, type OperatorRole, type Who } from '../../../common/trust.ts';
import { TopicOrder } from '../../../common/delta-order.ts';

function countKeys(o: object): number {
  let n = 0;
  for (const k in o) if (Object.hasOwn(o, k)) n++;
  return n;
}

export class HubError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** One end of a transport, as the hub sees it. */
export interface Connection {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written (WebSocket); used to cut off a client that cannot keep up. */
  buffered(): number;
  /** Who is on the other end, for the journal's origin and the logs. */
  readonly origin: string;
}

/** How a session came in, decided by its transport before the first frame (never by the client):
 *  - display: one of the hall's own (an Electron window, a page with the hall's access token); it may
 *    look, and do what the operator signed in at it may do
 *  - console: a remote console's token (beacon token add); never more than the token's role
 *  - local: this process itself (the CLI's direct import, the shell's own bookkeeping); everything */
export type Credential = { kind: 'display' } | { kind: 'console'; id: string; name: string; role: OperatorRole } | { kind: 'local'; name: string };

export const DISPLAY: Credential = { kind: 'display' };

export interface CommandContext {
  /** Who and where, as the journal records it: transport, client, operator (or console). */
  origin: string;
  session: string;
  who: Who;
  /** The name a command's record carries as its author: the signed-in operator, else the console,
   *  else this process. Never from the client's arguments. */
  by: string;
  /** For session.signIn and session.signOut: change who this session is. */
  setOperator(op: Operator | null): Who;
  /** The session's credential (a console's token id, for tickets bound to it). */
  credential: Credential;
}

/** Signing in survives a reconnect by a ticket; the trust desk keeps them (main/core/trust/desk.ts). */
export interface HubAuth {
  resume(ticket: string, credential: Credential): Operator | null;
}
export type CommandHandler = (name: string, args: unknown, ctx: CommandContext) => Promise<unknown>;

export interface HubOptions {
  /** Deltas are batched per tick: all changes of one topic within a tick go out as one message.
   *  25 ms: at 20,000 positions/s, ticks of 25 ms against 50 ms took p99 send → display from
   *  86–117 ms to 54–68 ms on a 2-core machine, and the hall used less CPU (smaller batches,
   *  less garbage per flush); a display gets at most 40 messages a second per topic.
   *  @default 25 */
  tickMs?: number;
  /** Deltas kept per topic so a client that reconnects can resume without a snapshot. @default 1000 */
  historyLimit?: number;
  /** ...and at most this many characters of them. @default 8 MiB */
  historyBytes?: number;
  /** A client with more than this many bytes queued is disconnected (it resumes on reconnect). @default 16 MiB */
  maxBufferedBytes?: number;
  /** Bad frames tolerated per session within `badFrameWindowMs` before it is closed. @default 20 */
  maxBadFrames?: number;
  badFrameWindowMs?: number;
  /** Commands (and subscriptions) a session may send: `burst` at once, refilled at `perSecond`.
   *  A display sends a few a minute; a console's script some per second. @default { perSecond: 50, burst: 200 } */
  commandRate?: { perSecond: number; burst: number };
  /** Subscriptions a session may open per minute (each is a snapshot sent). @default 120 */
  subsPerMinute?: number;
  server?: string;
}

/** Close codes, documented in docs/protocol.md. */
export const CLOSE = {
  protocolVersion: 4002,
  tooManyBadFrames: 4008,
  tooSlow: 4009,
  revoked: 4003,
  shuttingDown: 1001,
} as const;

interface TopicState {
  items: Map<string, unknown>;
  seq: number;
  pending: Map<string, DeltaOp>;
  /** The order its deltas go out in: the order of its snapshot (common/delta-order.ts). */
  order: TopicOrder;
  history: { seq: number; text: string }[];
  historyBytes: number;
  subscribers: Set<Session>;
}

export interface HubStats {
  sessions: number;
  framesIn: number;
  framesOut: number;
  commands: number;
  errors: Partial<Record<ErrorCode, number>>;
  closedSlow: number;
  superseded: number;
  forbidden: number;
  rateLimited: number;
  topics: Record<string, { seq: number; items: number; subscribers: number }>;
}

export class Hub {
  readonly epoch = randomUUID();
  private readonly topics = new Map<TopicName, TopicState>();
  private readonly sessions = new Set<Session>();
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly opts: Required<HubOptions>;
  /** Resumes a signed-in session from its ticket (set by the hall once its trust desk runs). */
  auth: HubAuth | null = null;
  private handler: CommandHandler = async (name) => {
    throw new HubError('unknown_command', `no handler for ${name}`);
  };
  /** superseded: changes replaced by a newer one of the same id within a tick (never sent). */
  readonly counters = { framesIn: 0, framesOut: 0, commands: 0, closedSlow: 0, superseded: 0, forbidden: 0, rateLimited: 0, errors: {} as Partial<Record<ErrorCode, number>> };

  constructor(opts: HubOptions = {}) {
    this.opts = {
      tickMs: 25,
      historyLimit: 1000,
      historyBytes: 8 * 1024 * 1024,
      maxBufferedBytes: 16 * 1024 * 1024,
      maxBadFrames: 20,
      badFrameWindowMs: 10_000,
      commandRate: { perSecond: 50, burst: 200 },
      subsPerMinute: 120,
      server: 'beacon',
      ...opts,
    };
    for (const t of TOPICS) this.topics.set(t, { items: new Map(), seq: 0, pending: new Map(), order: new TopicOrder(), history: [], historyBytes: 0, subscribers: new Set() });
  }

  onCommand(handler: CommandHandler): void {
    this.handler = handler;
  }

  /** Replace a topic's content (start-up, or a resync after a failed write); subscribers get the
   *  difference as an ordinary delta, so their sequence stays unbroken. */
  replace(topic: TopicName, items: Iterable<{ id: string }>): void {
    const next = new Map<string, unknown>();
    for (const it of items) next.set(it.id, it);
    const t = this.topic(topic);
    const ops: DeltaOp[] = [];
    for (const id of t.items.keys()) if (!next.has(id)) ops.push({ op: 'del', id });
    for (const [id, value] of next) if (t.items.get(id) !== value) ops.push({ op: 'put', id, value });
    this.publish(topic, ops);
  }

  /** Queue changes; they go out at the end of the tick, coalesced per id (last write wins). */
  publish(topic: TopicName, ops: readonly DeltaOp[]): void {
    if (ops.length === 0) return;
    const t = this.topic(topic);
    for (const op of ops) {
      if (t.pending.has(op.id)) this.counters.superseded++;
      t.pending.set(op.id, op);
    }
    this.scheduleFlush();
  }

  get(topic: TopicName, id: string): unknown {
    const t = this.topic(topic);
    const p = t.pending.get(id);
    if (p) return p.op === 'put' ? p.value : undefined;
    return t.items.get(id);
  }

  items(topic: TopicName): unknown[] {
    return [...this.topic(topic).items.values()];
  }

  seq(topic: TopicName): number {
    return this.topic(topic).seq;
  }

  /** Send every pending delta now (also used by tests and at shutdown). */
  flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    for (const [name, t] of this.topics) {
      if (t.pending.size === 0) continue;
      const ops: WireOp[] = [];
      // in the order displays hold the topic (its snapshot's), not as the changes arrived
      for (const op of t.order.order([...t.pending.values()])) {
        if (op.op === 'put') {
          // An entity every subscriber already holds goes as a patch of what changed (a moving unit:
          // a sixth of its size), when that is the smaller message.
          const prev = t.items.get(op.id);
          const set = prev === undefined ? null : diffPatch(prev, op.value);
          if (set && countKeys(set) * 2 < countKeys(op.value as object) + 4) ops.push({ op: 'patch', id: op.id, set });
          else ops.push(op);
          t.items.set(op.id, op.value);
        } else {
          ops.push(op);
          t.items.delete(op.id);
        }
      }
      t.pending.clear();
      t.seq += 1;
      // Serialised once, sent to every subscriber: the cost does not grow with the number of displays.
      const text = JSON.stringify({ t: 'delta', topic: name, epoch: this.epoch, seq: t.seq, ops } satisfies ServerMessage);
      t.history.push({ seq: t.seq, text });
      t.historyBytes += text.length;
      // History is bounded by count and by size: at 20,000 moving units a tick's delta is ~150 kB, and
      // a thousand of them would hold the hall's memory for a resume nobody needs that far back.
      while (t.history.length > 1 && (t.history.length > this.opts.historyLimit || t.historyBytes > this.opts.historyBytes)) t.historyBytes -= t.history.shift()!.text.length;
      for (const s of t.subscribers) s.sendText(text);
    }
  }

  /** A new session on a transport; `credential` is what the transport established (a token, a
   *  window of ours), never anything the client says. */
  connect(conn: Connection, credential: Credential): Session {
    const s = new Session(this, conn, this.opts, credential);
    this.sessions.add(s);
    return s;
  }

  stats(): HubStats {
    const topics: HubStats['topics'] = {};
    for (const [n, t] of this.topics) topics[n] = { seq: t.seq, items: t.items.size, subscribers: t.subscribers.size };
    return { sessions: this.sessions.size, ...this.counters, errors: { ...this.counters.errors }, topics };
  }

  /** Close every session that `which` picks (a revoked console token). Returns how many. */
  closeWhere(which: (c: Credential, op: Operator | null) => boolean, code: number, reason: string): number {
    let n = 0;
    for (const s of [...this.sessions])
      if (which(s.credential, s.who.operator)) {
        s.close(code, reason);
        n++;
      }
    return n;
  }

  dispose(): void {
    this.flush();
    for (const s of [...this.sessions]) s.close(CLOSE.shuttingDown, 'hub shutting down');
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  // ---- used by Session --------------------------------------------------------------------

  /** @internal */
  countError(code: ErrorCode): void {
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
  }

  /** @internal */
  subscribe(s: Session, topic: TopicName, since?: { epoch: string; seq: number }): void {
    const t = this.topic(topic);
    // One subscription per topic: a repeat would be another snapshot for nothing (a client that
    // lost its place unsubscribes first).
    if (t.subscribers.has(s)) return s.reject({ code: 'conflict', message: `already subscribed to ${topic}; unsub first` });
    t.subscribers.add(s);
    if (since && since.epoch === this.epoch && since.seq <= t.seq) {
      if (since.seq === t.seq) {
        s.send({ t: 'current', topic, epoch: this.epoch, seq: t.seq });
        return;
      }
      const first = t.history[0];
      if (first && first.seq <= since.seq + 1) {
        // Resume: replay exactly the deltas the client missed, in order, then it is live again.
        for (const h of t.history) if (h.seq > since.seq) s.sendText(h.text);
        return;
      }
    }
    s.send({ t: 'snapshot', topic, epoch: this.epoch, seq: t.seq, items: [...t.items.values()] });
  }

  /** @internal */
  unsubscribe(s: Session, topic: TopicName): void {
    this.topic(topic).subscribers.delete(s);
  }

  /** @internal */
  detach(s: Session): void {
    this.sessions.delete(s);
    for (const t of this.topics.values()) t.subscribers.delete(s);
  }

  /** Run a command as any client would: its arguments checked against the contract first (a
   *  HubError with unknown_command or invalid_args otherwise). Sessions and the CLI's direct import
   *  both come through here. */
  runCommand(name: string, args: unknown, ctx: CommandContext): Promise<unknown> {
    const spec = commandSpec(name);
    if (!spec) return Promise.reject(new HubError('unknown_command', `unknown command ${name}`));
    const grant = COMMAND_GRANT[name as CommandName];
    if (!ctx.who.grants.includes(grant)) {
      this.counters.forbidden += 1;
      const who = ctx.who.operator ? `${ctx.who.operator.name} (${ctx.who.operator.role})` : ctx.who.console ? `console ${ctx.who.console}` : 'nobody signed in';
      return Promise.reject(new HubError('forbidden', `${name} needs the ${grant} grant; ${who} ${ctx.who.grants.length ? `has ${ctx.who.grants.join(', ')}` : 'has none'}`));
    }
    const parsed = spec.args.safeParse(args ?? {});
    if (!parsed.success) return Promise.reject(new HubError('invalid_args', `${name}: ${describeIssues(parsed.error)}`));
    this.counters.commands += 1;
    return this.handler(name, parsed.data, ctx);
  }

  private topic(name: TopicName): TopicState {
    const t = this.topics.get(name);
    if (!t) throw new HubError('unknown_topic', `unknown topic ${name}`);
    return t;
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, this.opts.tickMs);
  }
}

/** The context of a command this process runs itself (the CLI's direct import): everything allowed,
 *  its name as the author. */
export function localContext(name: string): CommandContext {
  const who: Who = { operator: null, console: null, grants: [...GRANTS] };
  return { origin: name, session: name, who, by: name, credential: { kind: 'local', name }, setOperator: () => who };
}

/** What a command costs from a session's bucket, where one is not the same for the hall: a call rings
 *  a person's phone (a script must not dial the directory in 49 ms), a sign-in runs scrypt, an import
 *  parses 60,000 characters. Everything else costs 1. */
const COMMAND_COST: Partial<Record<CommandName, number>> = {
  'call.dial': 10,
  'consult.start': 20,
  'consult.redial': 10,
  'session.signIn': 5,
  'typhoon.import': 5,
  'contacts.import': 5,
};

/** What a credential allows before anybody signs in, and at most after. */
function ceiling(c: Credential): Grant[] {
  if (c.kind === 'local') return [...GRANTS];
  if (c.kind === 'console') return grantsOf(c.role);
  return [...GRANTS];
}

/** One client connection: who it is, its subscriptions, its bad-frame and command budgets. */
export class Session {
  readonly id = randomUUID();
  readonly credential: Credential;
  private operator: Operator | null = null;
  private greeted = false;
  private client = '';
  private closed = false;
  private badFrames: number[] = [];
  private tokens: number;
  private refilled = Date.now();
  private subs: number[] = [];
  private readonly hub: Hub;
  private readonly conn: Connection;
  private readonly opts: Required<HubOptions>;

  constructor(hub: Hub, conn: Connection, opts: Required<HubOptions>, credential: Credential) {
    this.hub = hub;
    this.conn = conn;
    this.opts = opts;
    this.credential = credential;
    this.tokens = opts.commandRate.burst;
  }

  /** Who this session is now. A display nobody signed in at may read; a console, its role's
   *  grants; a signed-in operator, the role's grants within the console's. */
  get who(): Who {
    const c = this.credential;
    const cap = ceiling(c);
    const grants = this.operator ? within(grantsOf(this.operator.role), cap) : c.kind === 'display' ? ['read' as const] : cap;
    return { operator: this.operator, console: c.kind === 'console' ? c.name : null, grants };
  }

  /** Who is on the other end, as the journal records it: the transport's address, the name the
   *  client gave in hello (a city's console, a wall controller), and who acts (operator, console). */
  get origin(): string {
    const c = this.credential;
    const parts = [this.conn.origin];
    if (this.client) parts.push(this.client);
    if (c.kind === 'console') parts.push(`console:${c.name}`);
    if (this.operator) parts.push(`operator:${this.operator.id}`);
    return parts.join(' ');
  }

  /** The author a record carries. */
  private get by(): string {
    const c = this.credential;
    return this.operator?.name ?? (c.kind === 'console' ? c.name : c.kind === 'local' ? c.name : 'display');
  }

  /** A frame arrived from the client. Never throws: bad input is answered, counted and survived. */
  receive(text: string): void {
    if (this.closed) return;
    this.hub.counters.framesIn += 1;
    // a frame over the command limit is read only if it says at its head that it is a command that
    // carries evidence (a photo, an attachment), and then checked to be one
    const big = text.length > MAX_CLIENT_FRAME_BYTES;
    const head = big ? /^\{"t":"cmd","id":"([^"]{1,64})","name":"([a-z.]{1,40})"/.exec(text.slice(0, 200)) : null;
    if (big && !(head && EVIDENCE_COMMANDS.has(head[2]!))) return this.reject({ code: 'too_large', message: `frame of ${text.length} bytes exceeds ${MAX_CLIENT_FRAME_BYTES}` });
    // a command with evidence over what even evidence may take: answered, so its display is not left waiting
    if (head && text.length > MAX_EVIDENCE_FRAME_BYTES) return this.fail(head[1]!, { code: 'too_large', message: `${text.length} bytes exceeds ${MAX_EVIDENCE_FRAME_BYTES}` });
    const parsed = parseFrame(ClientMessage, text, big ? MAX_EVIDENCE_FRAME_BYTES : MAX_CLIENT_FRAME_BYTES);
    if (!parsed.ok) return this.reject(parsed.error);
    const msg = parsed.msg;
    if (big && !(msg.t === 'cmd' && EVIDENCE_COMMANDS.has(msg.name))) return this.reject({ code: 'too_large', message: `frame of ${text.length} bytes exceeds ${MAX_CLIENT_FRAME_BYTES}` });
    if (msg.t === 'hello') {
      if (msg.v !== PROTOCOL_VERSION) {
        this.reject({ code: 'bad_message', message: `protocol version ${msg.v} is not ${PROTOCOL_VERSION}` });
        this.close(CLOSE.protocolVersion, 'protocol version mismatch');
        return;
      }
      this.greeted = true;
      this.client = msg.client.replace(/[^\w.:@-]/g, '_').slice(0, 64);
      // A ticket that is unknown, expired or from another console is ignored: the display is
      // simply not signed in, and says so.
      if (msg.ticket && this.credential.kind !== 'local') this.operator = this.hub.auth?.resume(msg.ticket, this.credential) ?? null;
      this.send({ t: 'welcome', v: PROTOCOL_VERSION, epoch: this.hub.epoch, server: this.opts.server, topics: TOPICS, commands: COMMAND_NAMES, who: this.who });
      return;
    }
    if (!this.greeted) return this.reject({ code: 'bad_message', message: 'send hello first' });
    if (!this.take(msg.t === 'cmd' ? (COMMAND_COST[msg.name as CommandName] ?? 1) : 1)) {
      this.hub.counters.rateLimited += 1;
      if (msg.t === 'cmd')
        return this.fail(msg.id, { code: 'rate_limited', message: `more than ${this.opts.commandRate.perSecond} commands a second (burst ${this.opts.commandRate.burst}); ${msg.name} was not run` });
      return this.reject({ code: 'rate_limited', message: `more than ${this.opts.commandRate.perSecond} frames a second` });
    }
    switch (msg.t) {
      case 'sub': {
        const now = Date.now();
        this.subs = this.subs.filter((t) => now - t < 60_000);
        if (this.subs.length >= this.opts.subsPerMinute) {
          this.hub.counters.rateLimited += 1;
          return this.reject({ code: 'rate_limited', message: `more than ${this.opts.subsPerMinute} subscriptions a minute; ${msg.topic} was not sent` });
        }
        this.subs.push(now);
        return this.hub.subscribe(this, msg.topic, msg.since);
      }
      case 'unsub':
        return this.hub.unsubscribe(this, msg.topic);
      case 'cmd':
        void this.command(msg.id, msg.name, msg.args);
        return;
    }
  }

  /** `cost` from the session's bucket, if it holds that much: `burst` at once, `perSecond` refilled. */
  private take(cost: number): boolean {
    if (this.credential.kind === 'local') return true;
    const now = Date.now();
    const { perSecond, burst } = this.opts.commandRate;
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilled) / 1000) * perSecond);
    this.refilled = now;
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** The context a command runs in: who, and the means to change who (sign in, sign out). */
  context(): CommandContext {
    return {
      origin: this.origin,
      session: this.id,
      who: this.who,
      by: this.by,
      credential: this.credential,
      setOperator: (op) => {
        this.operator = op;
        return this.who;
      },
    };
  }

  private async command(id: string, name: string, args: unknown): Promise<void> {
    try {
      const value = await this.hub.runCommand(name, args, this.context());
      this.send({ t: 'result', id, ok: true, value });
    } catch (err) {
      const e = err as { code?: ErrorCode; message?: string };
      const code: ErrorCode = typeof e.code === 'string' && (ERROR_CODES as readonly string[]).includes(e.code) ? (e.code as ErrorCode) : 'internal';
      this.fail(id, { code, message: String(e.message ?? err) });
    }
  }

  private fail(id: string, error: HubErrorBody): void {
    this.hub.countError(error.code);
    this.send({ t: 'result', id, ok: false, error });
  }

  /** Answer a frame the transport already knows is bad (binary, oversized): counted like any other. */
  reject(error: HubErrorBody): void {
    this.hub.countError(error.code);
    this.send({ t: 'error', error });
    const now = Date.now();
    this.badFrames = this.badFrames.filter((t) => now - t < this.opts.badFrameWindowMs);
    this.badFrames.push(now);
    if (this.badFrames.length > this.opts.maxBadFrames) this.close(CLOSE.tooManyBadFrames, 'too many bad frames');
  }

  send(msg: ServerMessage): void {
    this.sendText(JSON.stringify(msg));
  }

  sendText(text: string): void {
    if (this.closed) return;
    if (this.conn.buffered() > this.opts.maxBufferedBytes) {
      // A display that cannot keep up is cut off rather than allowed to grow the hall's memory;
      // it reconnects and resumes from its last sequence number (or a fresh snapshot).
      this.hub.counters.closedSlow += 1;
      this.close(CLOSE.tooSlow, 'client too slow');
      return;
    }
    this.hub.counters.framesOut += 1;
    this.conn.send(text);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.detach(this);
    this.conn.close(code, reason);
  }

  /** The transport went away. */
  ended(): void {
    this.closed = true;
    this.hub.detach(this);
  }
}
