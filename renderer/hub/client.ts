// The renderer's hub client: keeps each subscribed topic as a Map, applies ordered deltas, detects
// gaps and resubscribes, reconnects with backoff, and resumes from its last sequence number so a
// display that lost the hall for a moment gets exactly what it missed.
import type { CommandArgs, CommandName, CommandResult, DeltaOp, HubErrorBody, ServerMessage, TopicName } from '../../common/contract.ts';
import { PROTOCOL_VERSION, TOPIC_SCHEMAS } from '../../common/contract.ts';
import { applyOps, resolveWireOps } from '../../common/ops.ts';
import { patchChecker } from '../../common/patch-check.ts';
import type { Transport } from './transport.ts';

export type TopicEvent = { kind: 'reset' } | { kind: 'delta'; ops: readonly DeltaOp[] };
export type ConnectionState = 'connecting' | 'open' | 'closed';

interface TopicSub {
  epoch: string | null;
  seq: number;
  items: Map<string, unknown>;
  ready: boolean;
  listeners: Set<(e: TopicEvent) => void>;
}

export class CommandError extends Error {
  readonly code: string;
  constructor(body: HubErrorBody) {
    super(body.message);
    this.code = body.code;
  }
}

export interface HubClientOptions {
  /** Name sent in hello, shown in the hall's logs. */
  client: string;
  /** Reconnect backoff bounds; jittered so a wall of displays does not reconnect in lockstep. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  commandTimeoutMs?: number;
}

export class HubClient {
  private readonly transport: Transport;
  private readonly opts: Required<HubClientOptions>;
  private readonly topics = new Map<TopicName, TopicSub>();
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private nextId = 1;
  private backoff: number;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  state: ConnectionState = 'connecting';
  readonly counters = { gaps: 0, resumes: 0, snapshots: 0, reconnects: 0, invalid: 0 };

  constructor(transport: Transport, opts: HubClientOptions) {
    this.transport = transport;
    this.opts = { minBackoffMs: 500, maxBackoffMs: 10_000, commandTimeoutMs: 15_000, ...opts };
    this.backoff = this.opts.minBackoffMs;
    this.open();
  }

  topic(name: TopicName): ReadonlyMap<string, unknown> {
    return this.sub(name).items;
  }

  /** Listen to a topic; subscribing on first listener. Returns the unsubscribe function. */
  subscribe(name: TopicName, listener: (e: TopicEvent) => void): () => void {
    const t = this.sub(name);
    const first = t.listeners.size === 0;
    t.listeners.add(listener);
    if (first && this.state === 'open') this.transport.send({ t: 'sub', topic: name });
    if (t.ready) listener({ kind: 'reset' });
    return () => {
      t.listeners.delete(listener);
      if (t.listeners.size === 0 && this.state === 'open') this.transport.send({ t: 'unsub', topic: name });
    };
  }

  onState(cb: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(cb);
    cb(this.state);
    return () => this.stateListeners.delete(cb);
  }

  command<C extends CommandName>(name: C, args: CommandArgs<C>): Promise<CommandResult<C>> {
    if (this.state !== 'open') return Promise.reject(new CommandError({ code: 'unavailable', message: 'not connected to the hall' }));
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CommandError({ code: 'unavailable', message: `${name}: no answer within ${this.opts.commandTimeoutMs} ms` }));
      }, this.opts.commandTimeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.transport.send({ t: 'cmd', id, name, args });
    });
  }

  dispose(): void {
    this.disposed = true;
    if (this.retry) clearTimeout(this.retry);
    this.transport.close();
    this.failPending('display closed');
  }

  private sub(name: TopicName): TopicSub {
    let t = this.topics.get(name);
    if (!t) this.topics.set(name, (t = { epoch: null, seq: 0, items: new Map(), ready: false, listeners: new Set() }));
    return t;
  }

  private setState(s: ConnectionState): void {
    this.state = s;
    for (const cb of this.stateListeners) cb(s);
  }

  private open(): void {
    this.setState('connecting');
    this.transport.connect({
      open: () => {
        this.backoff = this.opts.minBackoffMs;
        this.transport.send({ t: 'hello', v: PROTOCOL_VERSION, client: this.opts.client });
        this.setState('open');
        for (const [name, t] of this.topics) {
          if (t.listeners.size === 0) continue;
          // Resume where we were; the hall answers with the missed deltas, 'current', or a snapshot.
          this.transport.send(t.epoch ? { t: 'sub', topic: name, since: { epoch: t.epoch, seq: t.seq } } : { t: 'sub', topic: name });
        }
      },
      message: (m) => this.receive(m),
      invalid: () => {
        this.counters.invalid += 1;
      },
      close: () => {
        this.failPending('connection to the hall lost');
        if (this.disposed) return;
        this.setState('closed');
        this.counters.reconnects += 1;
        const delay = this.backoff * (0.5 + Math.random());
        this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs);
        this.retry = setTimeout(() => this.open(), delay);
      },
    });
  }

  private failPending(message: string): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new CommandError({ code: 'unavailable', message }));
    }
    this.pending.clear();
  }

  private readonly patchChecks = new Map<TopicName, ReturnType<typeof patchChecker>>();
  private patchCheck(topic: TopicName): ReturnType<typeof patchChecker> {
    let c = this.patchChecks.get(topic);
    if (!c) this.patchChecks.set(topic, (c = patchChecker(TOPIC_SCHEMAS[topic])));
    return c;
  }

  private valid(topic: TopicName, value: unknown): boolean {
    if (TOPIC_SCHEMAS[topic].safeParse(value).success) return true;
    this.counters.invalid += 1;
    return false;
  }

  private receive(m: ServerMessage): void {
    switch (m.t) {
      case 'snapshot': {
        const t = this.sub(m.topic);
        t.items = new Map();
        for (const it of m.items) if (this.valid(m.topic, it)) t.items.set((it as { id: string }).id, it);
        t.epoch = m.epoch;
        t.seq = m.seq;
        t.ready = true;
        this.counters.snapshots += 1;
        for (const l of t.listeners) l({ kind: 'reset' });
        return;
      }
      case 'delta': {
        const t = this.sub(m.topic);
        if (t.epoch !== m.epoch || m.seq !== t.seq + 1) {
          // A gap (or a restarted hall): never guess, ask for the whole topic again.
          this.counters.gaps += 1;
          if (t.epoch === m.epoch && m.seq <= t.seq) return; // an old delta replayed: already applied
          t.epoch = null;
          this.transport.send({ t: 'sub', topic: m.topic });
          return;
        }
        // An entity that fails its schema is dropped (and counted) rather than handed to a view that
        // would draw NaN; the sequence still advances, the next valid put repairs it.
        const resolved = resolveWireOps(t.items, m.ops);
        if (!resolved) {
          // A patch for something this client does not hold: it has diverged; start again.
          this.counters.gaps += 1;
          t.epoch = null;
          this.transport.send({ t: 'sub', topic: m.topic });
          return;
        }
        const check = this.patchCheck(m.topic);
        const ops = resolved.filter((op, i) => {
          if (op.op === 'del') return true;
          const w = m.ops[i]!;
          // A patch is checked by the fields it changed (what it builds on was checked already).
          if (w.op === 'patch') {
            const quick = check(t.items.get(w.id), w.set);
            if (quick === true) return true;
            if (quick === false) this.counters.invalid += 1;
            else if (this.valid(m.topic, op.value)) return true;
            // A patch that makes an invalid entity means the bases differ: resync after this delta.
            t.epoch = null;
            return false;
          }
          return this.valid(m.topic, op.value);
        });
        applyOps(t.items, ops);
        t.seq = m.seq;
        if (t.epoch === null) this.transport.send({ t: 'sub', topic: m.topic });
        if (!t.ready) t.ready = true;
        for (const l of t.listeners) l({ kind: 'delta', ops });
        return;
      }
      case 'current':
        this.counters.resumes += 1;
        return;
      case 'result': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value);
        else p.reject(new CommandError(m.error));
        return;
      }
      case 'welcome':
      case 'error':
        return;
    }
  }
}
