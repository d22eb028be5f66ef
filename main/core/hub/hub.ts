// The hub: named topics, each served as a snapshot followed by ordered deltas with sequence numbers,
// and commands with typed results. Transports (MessagePort, WebSocket) hand it text frames through a
// Connection; everything it receives is validated against the contract in common/.
import { randomUUID } from 'node:crypto';
import {
  type Area,
  AREA_TOPICS,
  ClientMessage,
  COMMAND_GRANT,
  LIVE_TOPICS,
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
import { isPlain, type Obj } from '../../../common/plain.ts';
import { encodeMoves, moveOf, POSITION_TOPICS, type MoveRecord } from '../../../common/positions.ts';
import { areaFilter, type Filter, type PolygonsOf } from './area.ts';
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
  /** `compress`: worth deflating (a snapshot, a catch-up) where the transport negotiated it. */
  send(text: string, compress?: boolean): void;
  /** Binary frames (units' moves, common/positions.ts); a transport without them leaves this out. */
  sendBinary?(data: Uint8Array, compress?: boolean): void;
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
  /** A client with more than this many bytes queued is disconnected (it resumes on reconnect). Moving
   *  topics never fill it (a client that falls behind receives each entity's latest); only a client
   *  that stopped reading while decisions kept coming does. @default 16 MiB */
  maxBufferedBytes?: number;
  /** A client without `flow` counts as behind with this much queued in its transport (a second of
   *  20,000 moves a second as JSON: a display's pause for garbage collection is not falling behind)…
   *  @default 4 MiB */
  behindBytes?: number;
  /** …and catches up once its queue is below this. @default 1 MiB */
  caughtUpBytes?: number;
  /** A client with `flow` is sent at most this much of a moving topic ahead of its acknowledgements,
   *  in seconds of what its link carried lately (plus the link's round trip): the delay a decision
   *  sees behind moves. @default 0.25 */
  flowTargetSeconds?: number;
  /** A client with `flow` that acknowledges nothing for this long while data waits is closed. @default 60 s */
  stallMs?: number;
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
  /** A client with `flow` that acknowledged nothing for `stallMs`. */
  stalled: 4010,
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
  /** Position topics: each id's index within the epoch (told with its first put; moves name it). */
  index: Map<string, number> | null;
  nextIndex: number;
}

/** One tick of a topic, as every subscriber may take it. */
export interface Tick {
  seq: number;
  at: number;
  /** The shared JSON delta (serialised once for every subscriber). */
  text: string;
  /** The tick's ops (ids), and the value subscribers held of each before (undefined: none). */
  ops: readonly WireOp[];
  prevs: readonly unknown[];
  /** The same delta with moves as binary (common/positions.ts), made once on first ask; null when
   *  it holds no move. */
  binary(): Uint8Array | null;
}

export interface HubStats {
  sessions: number;
  framesIn: number;
  framesOut: number;
  /** Characters of text frames and bytes of binary frames sent. */
  bytesOut: number;
  commands: number;
  errors: Partial<Record<ErrorCode, number>>;
  closedSlow: number;
  /** Times a client fell behind (and was sent each entity's latest), and caught up again. */
  fellBehind: number;
  caughtUp: number;
  /** Changes a client behind never received because a newer one of the same entity replaced them. */
  coalesced: number;
  /** Sessions closed because they acknowledged nothing for `stallMs`. */
  stalled: number;
  /** Sessions behind now, and the changes held for them (each entity once: at most a topic's size each). */
  behind: number;
  waiting: number;
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
  readonly counters = {
    framesIn: 0,
    framesOut: 0,
    bytesOut: 0,
    commands: 0,
    closedSlow: 0,
    fellBehind: 0,
    caughtUp: 0,
    coalesced: 0,
    stalled: 0,
    superseded: 0,
    forbidden: 0,
    rateLimited: 0,
    errors: {} as Partial<Record<ErrorCode, number>>,
  };
  /** A county's boundary polygons by code (the hall's boundaries topic), for areas given by code. */
  polygonsOf: PolygonsOf = () => null;

  constructor(opts: HubOptions = {}) {
    this.opts = {
      tickMs: 25,
      historyLimit: 1000,
      historyBytes: 8 * 1024 * 1024,
      maxBufferedBytes: 16 * 1024 * 1024,
      behindBytes: 4 * 1024 * 1024,
      caughtUpBytes: 1024 * 1024,
      flowTargetSeconds: 0.25,
      stallMs: 60_000,
      maxBadFrames: 20,
      badFrameWindowMs: 10_000,
      commandRate: { perSecond: 50, burst: 200 },
      subsPerMinute: 120,
      server: 'beacon',
      ...opts,
    };
    for (const t of TOPICS)
      this.topics.set(t, {
        items: new Map(),
        seq: 0,
        pending: new Map(),
        order: new TopicOrder(),
        history: [],
        historyBytes: 0,
        subscribers: new Set(),
        index: POSITION_TOPICS.has(t) ? new Map() : null,
        nextIndex: 0,
      });
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
    const at = Date.now();
    for (const [name, t] of this.topics) {
      if (t.pending.size === 0) continue;
      const ops: WireOp[] = [];
      const prevs: unknown[] = [];
      const ix: [string, number][] = [];
      // in the order displays hold the topic (its snapshot's), not as the changes arrived
      for (const op of t.order.order([...t.pending.values()])) {
        const prev = t.items.get(op.id);
        prevs.push(prev);
        if (op.op === 'put') {
          // An entity every subscriber already holds goes as a patch of what changed (a moving unit:
          // a sixth of its size), when that is the smaller message.
          const set = prev === undefined ? null : diffPatch(prev, op.value);
          if (set && countKeys(set) * 2 < countKeys(op.value as object) + 4) ops.push({ op: 'patch', id: op.id, set });
          else ops.push(op);
          t.items.set(op.id, op.value);
          if (t.index && prev === undefined) ix.push([op.id, this.indexOf(t, op.id)]);
        } else {
          ops.push(op);
          t.items.delete(op.id);
        }
      }
      t.pending.clear();
      t.seq += 1;
      const head = { t: 'delta' as const, topic: name, epoch: this.epoch, seq: t.seq, ops, at, ...(ix.length ? { ix } : {}) };
      // Serialised once, sent to every subscriber: the cost does not grow with the number of displays.
      const text = JSON.stringify(head satisfies ServerMessage);
      t.history.push({ seq: t.seq, text });
      t.historyBytes += text.length;
      // History is bounded by count and by size: at 20,000 moving units a tick's delta is ~150 kB, and
      // a thousand of them would hold the hall's memory for a resume nobody needs that far back.
      while (t.history.length > 1 && (t.history.length > this.opts.historyLimit || t.historyBytes > this.opts.historyBytes)) t.historyBytes -= t.history.shift()!.text.length;
      let binary: Uint8Array | null | undefined;
      const tick: Tick = {
        seq: t.seq,
        at,
        text,
        ops,
        prevs,
        binary: () => {
          if (binary !== undefined) return binary;
          if (!t.index) return (binary = null);
          const json: WireOp[] = [];
          const moves: MoveRecord[] = [];
          for (let k = 0; k < ops.length; k++) {
            const op = ops[k]!;
            const prev = prevs[k];
            const mv = op.op === 'patch' && isPlain(prev) ? moveOf(this.indexOf(t, op.id), op.set, prev, t.items.get(op.id) as Obj) : null;
            if (mv) moves.push(mv);
            else json.push(op);
          }
          return (binary = moves.length ? encodeMoves({ ...head, ops: json }, moves) : null);
        },
      };
      for (const s of t.subscribers) s.deliver(name, tick);
    }
  }

  /** @internal A position topic's index of `id` (made on first ask). */
  indexOf(t: TopicState, id: string): number {
    let n = t.index!.get(id);
    if (n === undefined) t.index!.set(id, (n = t.nextIndex++));
    return n;
  }

  /** @internal */
  topicState(name: TopicName): TopicState {
    return this.topic(name);
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
    let behind = 0;
    let waiting = 0;
    for (const s of this.sessions) {
      if (s.isBehind()) behind++;
      waiting += s.waiting();
    }
    return { sessions: this.sessions.size, ...this.counters, behind, waiting, errors: { ...this.counters.errors }, topics };
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
  subscribe(s: Session, topic: TopicName, since?: { epoch: string; seq: number }, area?: Area, every?: number): void {
    const t = this.topic(topic);
    // One subscription per topic: a repeat would be another snapshot for nothing (a client that
    // lost its place unsubscribes first).
    if (t.subscribers.has(s)) return s.reject({ code: 'conflict', message: `already subscribed to ${topic}; unsub first` });
    if ((area || every) && !AREA_TOPICS.has(topic)) return s.reject({ code: 'bad_message', message: `${topic} cannot be narrowed to an area or a rate (only ${[...AREA_TOPICS].join(', ')})` });
    t.subscribers.add(s);
    const filter = area ? areaFilter(area, this.polygonsOf) : null;
    if (!filter && !every && since && since.epoch === this.epoch && since.seq <= t.seq) {
      if (since.seq === t.seq) {
        s.open(topic, t.seq, null, 0);
        s.send({ t: 'current', topic, epoch: this.epoch, seq: t.seq });
        return;
      }
      const first = t.history[0];
      if (first && first.seq <= since.seq + 1) {
        // Resume: replay exactly the deltas the client missed, in order, then it is live again.
        s.open(topic, t.seq, null, 0);
        for (const h of t.history) if (h.seq > since.seq) s.sendText(h.text);
        return;
      }
    }
    const items: unknown[] = [];
    for (const v of t.items.values()) if (!filter || filter(v)) items.push(v);
    // A client that acknowledges joins a large moving topic through its window: an empty snapshot,
    // then the items as puts, oldest first, as its link carries them (a 20,000-unit snapshot is
    // 10 MB; at 256 kbit/s one frame of it would hold every decision back for half a minute).
    const trickle = s.acknowledges && LIVE_TOPICS.has(topic) && items.length > 200;
    const first = trickle ? [] : items;
    s.open(topic, t.seq, filter ? { filter, held: new Set(first.map((v) => (v as { id: string }).id)) } : null, every ?? 0, trickle ? items : []);
    const ix = t.index ? first.map((v) => this.indexOf(t, (v as { id: string }).id)) : undefined;
    s.send({ t: 'snapshot', topic, epoch: this.epoch, seq: t.seq, items: first, ...(filter || trickle ? { partial: true as const } : {}), ...(ix ? { ix } : {}) }, true);
  }

  /** @internal */
  unsubscribe(s: Session, topic: TopicName): void {
    this.topic(topic).subscribers.delete(s);
    s.drop(topic);
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

/** A subscription as one session holds it. `own`: its deltas are made for this client alone (it fell
 *  behind, or asked for an area or a rate) from `dirty`: each changed id, in the order it first
 *  changed since the client last received it, with what the client holds of it (`base`). The map is
 *  bounded by the topic's size, however long the client lags. */
interface Stream {
  topic: TopicName;
  /** The seq the client holds the topic (or its view of it) at. */
  seq: number;
  own: boolean;
  filter: Filter | null;
  /** With a filter: the ids the client holds. */
  held: Set<string> | null;
  every: number;
  lastSent: Map<string, number> | null;
  dirty: Map<string, { base: unknown; since: number }>;
}

const MIN_WINDOW = 4 * 1024;
const MAX_WINDOW = 8 * 1024 * 1024;
const FIRST_WINDOW = 64 * 1024;

function approxSize(v: unknown): number {
  return JSON.stringify(v).length;
}

/** One client connection: who it is, its subscriptions, its bad-frame and command budgets, and what
 *  it has been sent and acknowledged (issue 23: delivery that adapts to its link). */
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
  private readonly streams = new Map<TopicName, Stream>();
  /** `flow`: the client acknowledges; `pos`: it reads moves as binary. */
  private flow = false;
  private pos = false;
  /** Characters and bytes sent and acknowledged since the connection opened. */
  private sent = 0;
  private acked = 0;
  private window = FIRST_WINDOW;
  private marks: { n: number; t: number }[] = [];
  private minRtt = { ms: Infinity, t: 0 };
  /** Re-measuring the round trip: the window held small until what was in flight drained (`sent`
   *  then), and a sample of a frame sent after (`drained`). A full link's own queue inflates every
   *  round trip it measures; without this the window would grow with its own delay. */
  private probe: { sent: number; drained: number; t: number } | null = null;
  private rates: { t: number; r: number }[] = [];
  private rateFrom = { n: 0, t: Date.now() };
  private lastProgress = Date.now();
  private lastPump = 0;
  private pumpTimer: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;

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
      if (msg.flow && !this.flow) {
        this.flow = true;
        this.ticker = setInterval(() => this.tick(), 1000);
        this.ticker.unref();
      }
      this.pos = msg.pos === 1 && !!this.conn.sendBinary;
      // A ticket that is unknown, expired or from another console is ignored: the display is
      // simply not signed in, and says so.
      if (msg.ticket && this.credential.kind !== 'local') this.operator = this.hub.auth?.resume(msg.ticket, this.credential) ?? null;
      this.send({ t: 'welcome', v: PROTOCOL_VERSION, epoch: this.hub.epoch, server: this.opts.server, topics: TOPICS, commands: COMMAND_NAMES, who: this.who });
      return;
    }
    if (!this.greeted) return this.reject({ code: 'bad_message', message: 'send hello first' });
    // acknowledgements are the link's clock, not requests: they cost nothing from the bucket
    if (msg.t === 'ack') return this.ack(msg.n);
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
        return this.hub.subscribe(this, msg.topic, msg.since, msg.area, msg.every);
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

  send(msg: ServerMessage, compress = false): void {
    this.sendText(JSON.stringify(msg), compress);
  }

  sendText(text: string, compress = false): void {
    if (this.closed || this.cutIfFull()) return;
    this.hub.counters.framesOut += 1;
    this.hub.counters.bytesOut += text.length;
    this.counted(text.length);
    this.conn.send(text, compress);
  }

  private sendBinary(data: Uint8Array, compress: boolean): void {
    if (this.closed || this.cutIfFull()) return;
    this.hub.counters.framesOut += 1;
    this.hub.counters.bytesOut += data.length;
    this.counted(data.length);
    this.conn.sendBinary!(data, compress);
  }

  /** A client whose transport holds more than `maxBufferedBytes` stopped reading: moving topics
   *  cannot fill it (they are coalesced), so only decisions piling up unread get here. */
  private cutIfFull(): boolean {
    if (this.conn.buffered() <= this.opts.maxBufferedBytes) return false;
    this.hub.counters.closedSlow += 1;
    this.close(CLOSE.tooSlow, 'client too slow');
    return true;
  }

  private counted(n: number): void {
    if (!this.flow) return;
    if (this.sent === this.acked) this.lastProgress = Date.now();
    this.sent += n;
    const now = Date.now();
    const last = this.marks[this.marks.length - 1];
    if (!last || now - last.t >= 2) this.marks.push({ n: this.sent, t: now });
    else last.n = this.sent;
    if (this.marks.length > 4096) this.marks.splice(0, 2048);
  }

  // ---- delivery that adapts to the link (issue 23) ----------------------------------------

  /** @internal The subscription starts (after its snapshot or resume) at `seq`. */
  open(topic: TopicName, seq: number, area: { filter: Filter; held: Set<string> } | null, every: number, toCome: unknown[] = []): void {
    const dirty: Stream['dirty'] = new Map();
    const now = Date.now();
    for (const v of toCome) dirty.set((v as { id: string }).id, { base: undefined, since: now });
    this.streams.set(topic, {
      topic,
      seq,
      own: !!area || every > 0 || dirty.size > 0,
      filter: area?.filter ?? null,
      held: area?.held ?? null,
      every,
      lastSent: every > 0 ? new Map() : null,
      dirty,
    });
    if (dirty.size) this.schedulePump(0);
  }

  /** Whether the client acknowledges what it receives (`flow` in hello). */
  get acknowledges(): boolean {
    return this.flow;
  }

  /** @internal */
  drop(topic: TopicName): void {
    this.streams.delete(topic);
  }

  /** Changes held for this client (each entity at most once per topic). */
  waiting(): number {
    let n = 0;
    for (const st of this.streams.values()) n += st.dirty.size;
    return n;
  }

  /** Whether this client is behind on a moving topic now. */
  isBehind(): boolean {
    for (const st of this.streams.values()) if (st.own && !st.filter && !st.every) return true;
    return false;
  }

  /** Whether the link holds more of a moving topic than it should: with `flow`, more unacknowledged
   *  than the window; without, more queued in the transport than `behindBytes`. */
  private congested(): boolean {
    if (this.flow) return this.sent - this.acked > this.window;
    return this.conn.buffered() > this.opts.behindBytes;
  }

  /** How much of a moving topic may go now. */
  private budget(): number {
    if (this.flow) return (this.probe ? MIN_WINDOW : this.window) - (this.sent - this.acked);
    const b = this.conn.buffered();
    return b > this.opts.caughtUpBytes ? 0 : this.opts.behindBytes - b;
  }

  /** @internal A topic's tick: the shared delta, or (behind, narrowed, thinned) its changes noted. */
  deliver(topic: TopicName, tick: Tick): void {
    const st = this.streams.get(topic);
    if (!st || this.closed) return;
    if (!st.own && LIVE_TOPICS.has(topic) && this.congested()) {
      st.own = true;
      this.hub.counters.fellBehind += 1;
    }
    if (st.own) {
      for (let k = 0; k < tick.ops.length; k++) {
        const id = tick.ops[k]!.id;
        if (st.dirty.has(id)) {
          this.hub.counters.coalesced += 1;
          continue;
        }
        const prev = tick.prevs[k];
        st.dirty.set(id, { base: st.held ? (st.held.has(id) ? prev : undefined) : prev, since: tick.at });
      }
      // decisions (a narrowed topic that is not a moving one) go at once; moves when the link has room
      if (!LIVE_TOPICS.has(topic)) this.pumpStream(st, Infinity, Date.now());
      else this.schedulePump(Math.max(0, this.lastPump + 50 - Date.now()));
      return;
    }
    const bin = this.pos ? tick.binary() : null;
    if (bin) this.sendBinary(bin, false);
    else this.sendText(tick.text);
    st.seq = tick.seq;
  }

  private schedulePump(ms: number): void {
    if (this.pumpTimer || this.closed) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = null;
      this.pump();
    }, ms);
  }

  /** Send what the link has room for from every stream that is behind, oldest change first. */
  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    this.lastPump = now;
    let waiting = false;
    for (const st of this.streams.values()) {
      if (!st.own) continue;
      const budget = this.budget();
      // wait for room worth a frame: many small frames would each pay a header
      if (st.dirty.size > 0 && (budget <= 0 || (this.flow && !this.probe && budget < Math.min(8 * 1024, this.window / 4)))) {
        waiting = true;
        continue;
      }
      this.pumpStream(st, budget, now);
      if (st.dirty.size > 0) waiting = true;
    }
    // without acknowledgements nothing says when the transport drained: look again shortly
    if (waiting) this.schedulePump(this.flow ? 100 : 25);
  }

  private pumpStream(st: Stream, budget: number, now: number): void {
    const t = this.hub.topicState(st.topic);
    const pos = this.pos && !!t.index;
    const ops: WireOp[] = [];
    const moves: MoveRecord[] = [];
    const ix: [string, number][] = [];
    let used = 0;
    let old: number | undefined;
    for (const [id, d] of st.dirty) {
      if (used >= budget) {
        old = d.since;
        break;
      }
      const cur = t.items.get(id);
      const want = cur !== undefined && (!st.filter || st.filter(cur)) ? cur : undefined;
      if (want === undefined) {
        if (d.base !== undefined) {
          ops.push({ op: 'del', id });
          used += 24 + id.length;
        }
        st.held?.delete(id);
        st.lastSent?.delete(id);
      } else if (d.base === undefined) {
        ops.push({ op: 'put', id, value: want });
        used += approxSize(want);
        st.held?.add(id);
        if (t.index) ix.push([id, this.hub.indexOf(t, id)]);
        st.lastSent?.set(id, now);
      } else {
        // thinned: an entity the client holds waits until its time comes round
        if (st.lastSent && now - (st.lastSent.get(id) ?? 0) < st.every) continue;
        const set = diffPatch(d.base, want);
        const mv = set && pos ? moveOf(this.hub.indexOf(t, id), set, d.base as Obj, want as Obj) : null;
        if (mv) {
          moves.push(mv);
          used += 14;
        } else if (set && countKeys(set) === 0) {
          // changed and changed back: nothing to say
        } else if (set && countKeys(set) * 2 < countKeys(want as object) + 4) {
          ops.push({ op: 'patch', id, set });
          used += approxSize(set) + id.length + 24;
        } else {
          ops.push({ op: 'put', id, value: want });
          used += approxSize(want);
        }
        st.lastSent?.set(id, now);
      }
      st.dirty.delete(id);
    }
    const partial = !!st.filter || st.every > 0 || st.dirty.size > 0;
    if (ops.length === 0 && moves.length === 0 && st.seq === t.seq && old === undefined) return;
    const head = {
      t: 'delta' as const,
      topic: st.topic,
      epoch: this.hub.epoch,
      seq: t.seq,
      ops,
      from: st.seq,
      at: now,
      ...(old !== undefined ? { old } : {}),
      ...(partial ? { partial: true as const } : {}),
      ...(ix.length ? { ix } : {}),
    };
    if (moves.length) this.sendBinary(encodeMoves(head, moves), true);
    else this.sendText(JSON.stringify(head satisfies ServerMessage), true);
    st.seq = t.seq;
    if (!st.filter && !st.every && st.dirty.size === 0 && st.own) {
      // caught up: the client holds the topic at seq, and the shared deltas follow on
      st.own = false;
      this.hub.counters.caughtUp += 1;
    }
  }

  /** The client says how much has arrived: the link's round trip and rate from it, and room. */
  private ack(n: number): void {
    if (!this.flow || n > this.sent || n < this.acked) return this.reject({ code: 'bad_message', message: `ack ${n} is not between ${this.acked} and ${this.sent}` });
    const now = Date.now();
    if (n > this.acked) this.lastProgress = now;
    let k = 0;
    while (k < this.marks.length && this.marks[k]!.n <= n) k++;
    if (k > 0) {
      const mark = this.marks[k - 1]!;
      const rtt = now - mark.t;
      this.marks.splice(0, k);
      if (this.probe) {
        if (!this.probe.drained && n >= this.probe.sent) this.probe.drained = now;
        else if (this.probe.drained && mark.t >= this.probe.drained) {
          this.minRtt = { ms: rtt, t: now };
          this.probe = null;
        }
        if (this.probe && now - this.probe.t > 3000) this.probe = null;
      } else if (rtt <= this.minRtt.ms) this.minRtt = { ms: rtt, t: now };
      else if (now - this.minRtt.t > 10_000) this.probe = { sent: this.sent, drained: 0, t: now };
    }
    this.acked = n;
    const dt = now - this.rateFrom.t;
    if (dt >= 100) {
      // what the link delivered lately: the best of the last two seconds (a quiet moment is not a thin link)
      this.rates.push({ t: now, r: ((n - this.rateFrom.n) * 1000) / dt });
      while (this.rates.length && now - this.rates[0]!.t > 2000) this.rates.shift();
      this.rateFrom = { n, t: now };
      let best = 0;
      for (const x of this.rates) best = Math.max(best, x.r);
      const rtt = Number.isFinite(this.minRtt.ms) ? Math.min(1, this.minRtt.ms / 1000) : 0;
      this.window = Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, best * (this.opts.flowTargetSeconds + rtt)));
    }
    this.pump();
  }

  /** Once a second with `flow`: the hall's clock and how old the client's picture is; a client that
   *  acknowledged nothing for `stallMs` while data waited is closed. */
  private tick(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.probe && now - this.probe.t > 3000) this.probe = null;
    if (this.sent > this.acked && now - this.lastProgress > this.opts.stallMs) {
      this.hub.counters.stalled += 1;
      this.close(CLOSE.stalled, `nothing acknowledged for ${Math.round(this.opts.stallMs / 1000)} s`);
      return;
    }
    let old: number | undefined;
    for (const st of this.streams.values()) {
      let scanned = 0;
      for (const [id, d] of st.dirty) {
        if (++scanned > 2000) break;
        if (st.lastSent && now - (st.lastSent.get(id) ?? 0) < st.every && d.base !== undefined) continue;
        if (old === undefined || d.since < old) old = d.since;
        break;
      }
    }
    this.send(old !== undefined ? { t: 'tick', at: now, old } : { t: 'tick', at: now });
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.ended();
    this.conn.close(code, reason);
  }

  /** The transport went away. */
  ended(): void {
    this.closed = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    if (this.ticker) clearInterval(this.ticker);
    this.pumpTimer = this.ticker = null;
    this.streams.clear();
    this.hub.detach(this);
  }
}
