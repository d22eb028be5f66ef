// The hub: named topics, each served as a snapshot followed by ordered deltas with sequence numbers,
// and commands with typed results. Transports (MessagePort, WebSocket) hand it text frames through a
// Connection; everything it receives is validated against the contract in common/.
import { randomUUID } from 'node:crypto';
import {
  ClientMessage,
  COMMAND_NAMES,
  commandSpec,
  describeIssues,
  ERROR_CODES,
  type DeltaOp,
  type ErrorCode,
  type HubErrorBody,
  MAX_CLIENT_FRAME_BYTES,
  parseFrame,
  PROTOCOL_VERSION,
  type ServerMessage,
  type TopicName,
  TOPICS,
  type WireOp,
} from '../../../common/contract.ts';
import { diffPatch } from '../../../common/ops.ts';
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

export interface CommandContext {
  origin: string;
  session: string;
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
  server?: string;
}

/** Close codes, documented in docs/protocol.md. */
export const CLOSE = {
  protocolVersion: 4002,
  tooManyBadFrames: 4008,
  tooSlow: 4009,
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
  topics: Record<string, { seq: number; items: number; subscribers: number }>;
}

export class Hub {
  readonly epoch = randomUUID();
  private readonly topics = new Map<TopicName, TopicState>();
  private readonly sessions = new Set<Session>();
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly opts: Required<HubOptions>;
  private handler: CommandHandler = async (name) => {
    throw new HubError('unknown_command', `no handler for ${name}`);
  };
  /** superseded: changes replaced by a newer one of the same id within a tick (never sent). */
  readonly counters = { framesIn: 0, framesOut: 0, commands: 0, closedSlow: 0, superseded: 0, errors: {} as Partial<Record<ErrorCode, number>> };

  constructor(opts: HubOptions = {}) {
    this.opts = {
      tickMs: 25,
      historyLimit: 1000,
      historyBytes: 8 * 1024 * 1024,
      maxBufferedBytes: 16 * 1024 * 1024,
      maxBadFrames: 20,
      badFrameWindowMs: 10_000,
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

  connect(conn: Connection): Session {
    const s = new Session(this, conn, this.opts);
    this.sessions.add(s);
    return s;
  }

  stats(): HubStats {
    const topics: HubStats['topics'] = {};
    for (const [n, t] of this.topics) topics[n] = { seq: t.seq, items: t.items.size, subscribers: t.subscribers.size };
    return { sessions: this.sessions.size, ...this.counters, errors: { ...this.counters.errors }, topics };
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

/** One client connection: its subscriptions, its bad-frame budget, its command calls. */
export class Session {
  readonly id = randomUUID();
  private greeted = false;
  private client = '';
  private closed = false;
  private badFrames: number[] = [];
  private readonly hub: Hub;
  private readonly conn: Connection;
  private readonly opts: Required<HubOptions>;

  constructor(hub: Hub, conn: Connection, opts: Required<HubOptions>) {
    this.hub = hub;
    this.conn = conn;
    this.opts = opts;
  }

  /** Who is on the other end, as the journal records it: the transport's address and the name the
   *  client gave in hello (a city's console, a wall controller). */
  get origin(): string {
    return this.client ? `${this.conn.origin} ${this.client}` : this.conn.origin;
  }

  /** A frame arrived from the client. Never throws: bad input is answered, counted and survived. */
  receive(text: string): void {
    if (this.closed) return;
    this.hub.counters.framesIn += 1;
    const parsed = parseFrame(ClientMessage, text, MAX_CLIENT_FRAME_BYTES);
    if (!parsed.ok) return this.reject(parsed.error);
    const msg = parsed.msg;
    if (msg.t === 'hello') {
      if (msg.v !== PROTOCOL_VERSION) {
        this.reject({ code: 'bad_message', message: `protocol version ${msg.v} is not ${PROTOCOL_VERSION}` });
        this.close(CLOSE.protocolVersion, 'protocol version mismatch');
        return;
      }
      this.greeted = true;
      this.client = msg.client.replace(/[^\w.:@-]/g, '_').slice(0, 64);
      this.send({ t: 'welcome', v: PROTOCOL_VERSION, epoch: this.hub.epoch, server: this.opts.server, topics: TOPICS, commands: COMMAND_NAMES });
      return;
    }
    if (!this.greeted) return this.reject({ code: 'bad_message', message: 'send hello first' });
    switch (msg.t) {
      case 'sub':
        return this.hub.subscribe(this, msg.topic, msg.since);
      case 'unsub':
        return this.hub.unsubscribe(this, msg.topic);
      case 'cmd':
        void this.command(msg.id, msg.name, msg.args);
        return;
    }
  }

  private async command(id: string, name: string, args: unknown): Promise<void> {
    try {
      const value = await this.hub.runCommand(name, args, { origin: this.origin, session: this.id });
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
