// The renderer's hub client: keeps each subscribed topic as a Map, applies ordered deltas, detects
// gaps and resubscribes, reconnects with backoff, and resumes from its last sequence number so a
// display that lost the hall for a moment gets exactly what it missed.
//
// Each entity a topic holds has a number: small, dense from 0, kept while the entity lives, given to
// another after a delete, and all given afresh by a snapshot (a 'reset' event). A delta event
// carries the number of each op's entity, so a view that keeps per-entity state (the globe: 20,000
// units moving every second) keeps it in arrays by that number and finds it without hashing the id
// a second time: the client has just looked the entity up to apply the delta.
import type { Area, CommandArgs, CommandName, CommandResult, DeltaOp, HubErrorBody, ServerMessage, TopicName, WireOp } from '../../common/contract.ts';
import { type DecodedMoves, moveSet } from '../../common/positions.ts';
import { PROTOCOL_VERSION, TOPIC_SCHEMAS } from '../../common/contract.ts';
import { applyPatch } from '../../common/ops.ts';
import { isPlain } from '../../common/plain.ts';
import { patchChecker } from '../../common/patch-check.ts';
import type { Transport } from './transport.ts';
import type { Who } from '../../common/trust.ts';

/** A snapshot replaced the topic ('reset'), or a delta changed it: `ops` as puts and dels, and
 *  `slots[k]` the number of ops[k]'s entity (for a del, the number it had; -1: none held). */
export type TopicEvent = { kind: 'reset' } | { kind: 'delta'; ops: readonly DeltaOp[]; slots: Int32Array };
export type ConnectionState = 'connecting' | 'open' | 'closed';

/** One entity as the client holds it: its value and its number. */
interface Held {
  v: unknown;
  n: number;
}

interface TopicSub {
  epoch: string | null;
  seq: number;
  /** Whether the client holds the whole topic at `seq` (it may resume from it). */
  resumable: boolean;
  /** Moves name entities by index (common/positions.ts): index → id, as the hall told. */
  ix: Map<number, string>;
  held: Map<string, Held>;
  /** numbers given back by deletes; `next` is the lowest never given since the last snapshot */
  free: number[];
  next: number;
  view: ReadonlyMap<string, unknown>;
  ready: boolean;
  listeners: Set<(e: TopicEvent) => void>;
}

/** A topic's entities by id, as a read-only Map over what the client holds (the stores read this). */
class HeldView implements ReadonlyMap<string, unknown> {
  private readonly t: { held: Map<string, Held> };
  constructor(t: { held: Map<string, Held> }) {
    this.t = t;
  }
  get size(): number {
    return this.t.held.size;
  }
  get(id: string): unknown {
    return this.t.held.get(id)?.v;
  }
  has(id: string): boolean {
    return this.t.held.has(id);
  }
  *entries(): MapIterator<[string, unknown]> {
    for (const [id, h] of this.t.held) yield [id, h.v];
  }
  keys(): MapIterator<string> {
    return this.t.held.keys();
  }
  *values(): MapIterator<unknown> {
    for (const h of this.t.held.values()) yield h.v;
  }
  forEach(cb: (value: unknown, key: string, map: ReadonlyMap<string, unknown>) => void): void {
    for (const [id, h] of this.t.held) cb(h.v, id, this);
  }
  [Symbol.iterator](): MapIterator<[string, unknown]> {
    return this.entries();
  }
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
  /** A sign-in ticket to present in hello (the display stays signed in across a reconnect). */
  ticket?: () => string | null;
  /** What to ask of a moving topic: an area, and at most one update per entity every `every` ms. */
  narrow?: Partial<Record<TopicName, { area?: Area; every?: number }>>;
}

/** How old this display's picture is, as far as it can tell (issue 23). `ms`: the hall's time of the
 *  oldest change it still lacks, to now (0: it lacks none it knows of); `known`: the hall says
 *  (a WebSocket with acknowledgements), else it cannot (the Electron port, always current). */
export interface Lag {
  ms: number;
  known: boolean;
}

export class HubClient {
  private readonly transport: Transport;
  private readonly opts: Required<Omit<HubClientOptions, 'ticket' | 'narrow'>> & Pick<HubClientOptions, 'ticket' | 'narrow'>;
  /** Characters and bytes received on this connection, and how much of it was acknowledged. */
  private received = 0;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  /** The hall's last word on this display's lag: its clock, the oldest change we lack, when heard. */
  private heard: { at: number; old: number | undefined; recv: number } | null = null;
  /** What the deltas made for this client alone said since that tick, per topic: the topic's own
   *  oldest lacking change. One topic caught up says nothing of the others (a small topic's catch-up
   *  must not read as a live picture while the units are still behind). */
  private readonly owed = new Map<TopicName, { at: number; old: number; recv: number }>();
  private readonly whoListeners = new Set<(w: Who) => void>();
  /** Who the hall says this display is (from its welcome); null until the first welcome. */
  who: Who | null = null;
  private readonly topics = new Map<TopicName, TopicSub>();
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private nextId = 1;
  private backoff: number;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  state: ConnectionState = 'connecting';
  readonly counters = { gaps: 0, resumes: 0, snapshots: 0, reconnects: 0, invalid: 0, catchUps: 0, moves: 0 };

  constructor(transport: Transport, opts: HubClientOptions) {
    this.transport = transport;
    this.opts = { minBackoffMs: 500, maxBackoffMs: 10_000, commandTimeoutMs: 15_000, ...opts };
    this.backoff = this.opts.minBackoffMs;
    this.open();
  }

  topic(name: TopicName): ReadonlyMap<string, unknown> {
    return this.sub(name).view;
  }

  /** Each entity of a topic with its number (the numbers a delta event's `slots` refer to). */
  *numbered(name: TopicName): Generator<[number, unknown]> {
    for (const h of this.sub(name).held.values()) yield [h.n, h.v];
  }

  /** Listen to a topic; subscribing on first listener. Returns the unsubscribe function. */
  subscribe(name: TopicName, listener: (e: TopicEvent) => void): () => void {
    const t = this.sub(name);
    const first = t.listeners.size === 0;
    t.listeners.add(listener);
    if (first && this.state === 'open') this.transport.send({ t: 'sub', topic: name, ...this.opts.narrow?.[name] });
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

  /** What this display asked of the units (an area, a rate), if anything. */
  narrowed(): { area?: Area; every?: number } | undefined {
    return this.opts.narrow?.units;
  }

  /** How old the picture is now (see `Lag`). */
  lag(now = Date.now()): Lag {
    const h = this.heard;
    let ms = 0;
    for (const o of this.owed.values()) ms = Math.max(ms, o.at - o.old + (now - o.recv));
    if (!h) return { ms, known: ms > 0 };
    if (this.state !== 'open') return { ms: Math.max(ms, now - h.recv), known: true };
    // the hall ticks once a second: a tick overdue means the link is holding everything back
    const silent = Math.max(0, now - h.recv - 1500);
    return { ms: Math.max(ms, h.old !== undefined ? h.at - h.old + (now - h.recv) : silent), known: true };
  }

  dispose(): void {
    this.disposed = true;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    if (this.retry) clearTimeout(this.retry);
    this.transport.close();
    this.failPending('display closed');
  }

  private sub(name: TopicName): TopicSub {
    let t = this.topics.get(name);
    if (!t) {
      const sub: Omit<TopicSub, 'view'> = { epoch: null, seq: 0, resumable: false, ix: new Map(), held: new Map(), free: [], next: 0, ready: false, listeners: new Set() };
      // the view reads `held` afresh: a snapshot replaces the Map, not the view
      t = Object.assign(sub, { view: new HeldView(sub) });
      this.topics.set(name, t);
    }
    return t;
  }

  /** Who this display is, as the hall last said (welcome, sign-in, sign-out). */
  setWho(w: Who): void {
    this.who = w;
    for (const cb of this.whoListeners) cb(w);
  }

  onWho(cb: (w: Who) => void): () => void {
    this.whoListeners.add(cb);
    if (this.who) cb(this.who);
    return () => this.whoListeners.delete(cb);
  }

  /** Ask for a topic afresh: the hall holds one subscription per topic, so drop the old first. */
  private resubscribe(topic: TopicName): void {
    this.transport.send({ t: 'unsub', topic });
    this.transport.send({ t: 'sub', topic, ...this.opts.narrow?.[topic] });
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
        const ticket = this.opts.ticket?.() ?? null;
        // over a WebSocket: acknowledge what arrives (the hall sends no more than the link carries)
        // and take moves as binary; over the Electron port neither is needed
        const ws = this.transport.binary ? { flow: true as const, pos: 1 as const } : {};
        this.received = 0;
        this.heard = null;
        this.owed.clear();
        this.transport.send({ t: 'hello', v: PROTOCOL_VERSION, client: this.opts.client, ...(ticket ? { ticket } : {}), ...ws });
        this.setState('open');
        for (const [name, t] of this.topics) {
          if (t.listeners.size === 0) continue;
          // Resume where we were; the hall answers with the missed deltas, 'current', or a snapshot.
          const narrow = this.opts.narrow?.[name];
          this.transport.send(t.epoch && t.resumable && !narrow ? { t: 'sub', topic: name, since: { epoch: t.epoch, seq: t.seq } } : { t: 'sub', topic: name, ...narrow });
        }
      },
      message: (m, size, moves) => {
        this.countReceived(size);
        this.receive(m, moves);
      },
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

  /** Acknowledge what arrived, at most every 10 ms (the hall paces a thin link by these). */
  private countReceived(size: number): void {
    if (!this.transport.binary) return;
    this.received += size;
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (this.state === 'open') this.transport.send({ t: 'ack', n: this.received });
    }, 10);
  }

  /** A binary delta's moves as the patches they stand for (null: one names an entity this client
   *  does not hold, or cannot apply: it has diverged). */
  private movesAsPatches(t: TopicSub, moves: DecodedMoves['moves']): WireOp[] | null {
    const out: WireOp[] = [];
    for (const mv of moves) {
      const id = t.ix.get(mv.ix);
      const h = id === undefined ? undefined : t.held.get(id);
      if (id === undefined || !h || !isPlain(h.v)) return null;
      const set = moveSet(mv, h.v);
      if (!set) return null;
      out.push({ op: 'patch', id, set });
    }
    this.counters.moves += moves.length;
    return out;
  }

  private receive(m: ServerMessage, moves?: DecodedMoves['moves']): void {
    switch (m.t) {
      case 'snapshot': {
        const t = this.sub(m.topic);
        t.held = new Map();
        t.free = [];
        t.next = 0;
        t.ix = new Map();
        if (m.ix) for (let k = 0; k < m.ix.length && k < m.items.length; k++) t.ix.set(m.ix[k]!, (m.items[k] as { id: string }).id);
        t.resumable = !m.partial;
        for (const it of m.items) {
          if (!this.valid(m.topic, it)) continue;
          const id = (it as { id: string }).id;
          const h = t.held.get(id);
          if (h) h.v = it;
          else t.held.set(id, { v: it, n: t.next++ });
        }
        t.epoch = m.epoch;
        t.seq = m.seq;
        t.ready = true;
        this.counters.snapshots += 1;
        for (const l of t.listeners) l({ kind: 'reset' });
        return;
      }
      case 'delta': {
        const t = this.sub(m.topic);
        if (m.at !== undefined) {
          if (m.old !== undefined) this.owed.set(m.topic, { at: m.at, old: m.old, recv: Date.now() });
          else this.owed.delete(m.topic);
        }
        // a delta made for this client alone (it fell behind, or narrowed the topic) follows `from`
        const follows = m.from !== undefined ? m.from === t.seq && m.seq >= m.from : m.seq === t.seq + 1;
        if (m.from !== undefined && follows) this.counters.catchUps += 1;
        if (t.epoch !== m.epoch || !follows) {
          // A gap (or a restarted hall): never guess, ask for the whole topic again.
          this.counters.gaps += 1;
          if (t.epoch === m.epoch && m.seq <= t.seq) return; // an old delta replayed: already applied
          t.epoch = null;
          this.resubscribe(m.topic);
          return;
        }
        // An entity that fails its schema is dropped (and counted) rather than handed to a view that
        // would draw NaN; the sequence still advances, the next valid put repairs it. One lookup of
        // the id per op (a tick holds one op per id, so patches never build on each other).
        const check = this.patchCheck(m.topic);
        const held = t.held;
        if (m.ix) for (const [id, n] of m.ix) t.ix.set(n, id);
        let wire = m.ops;
        if (moves?.length) {
          const patches = this.movesAsPatches(t, moves);
          if (!patches) {
            this.counters.gaps += 1;
            t.epoch = null;
            this.resubscribe(m.topic);
            return;
          }
          wire = wire.length ? [...wire, ...patches] : patches;
        }
        const ops: DeltaOp[] = [];
        const slots = new Int32Array(wire.length);
        let resync = false;
        for (let k = 0; k < wire.length; k++) {
          const w = wire[k]!;
          if (w.op === 'del') {
            const h = held.get(w.id);
            if (h) {
              held.delete(w.id);
              t.free.push(h.n);
            }
            slots[ops.length] = h ? h.n : -1;
            ops.push(w);
            continue;
          }
          if (w.op === 'put') {
            if (!this.valid(m.topic, w.value)) continue;
            let h = held.get(w.id);
            if (h) h.v = w.value;
            else held.set(w.id, (h = { v: w.value, n: t.free.pop() ?? t.next++ }));
            slots[ops.length] = h.n;
            ops.push(w);
            continue;
          }
          const h = held.get(w.id);
          if (!h || !isPlain(h.v)) {
            // A patch for something this client does not hold: it has diverged; start again.
            this.counters.gaps += 1;
            resync = true;
            continue;
          }
          // A patch is checked by the fields it changed (what it builds on was checked already);
          // a patch that makes an invalid entity means the bases differ: resync after this delta.
          const quick = check(h.v, w.set);
          if (quick === false) {
            this.counters.invalid += 1;
            resync = true;
            continue;
          }
          const next = applyPatch(h.v, w.set);
          if (quick === undefined && !this.valid(m.topic, next)) {
            resync = true;
            continue;
          }
          h.v = next;
          slots[ops.length] = h.n;
          ops.push({ op: 'put', id: w.id, value: next });
        }
        if (resync) t.epoch = null;
        t.seq = m.seq;
        t.resumable = !m.partial;
        if (t.epoch === null) this.resubscribe(m.topic);
        if (!t.ready) t.ready = true;
        const event: TopicEvent = { kind: 'delta', ops, slots: slots.subarray(0, ops.length) };
        for (const l of t.listeners) l(event);
        return;
      }
      case 'current':
        this.counters.resumes += 1;
        return;
      case 'tick':
        // the hall's word on every topic at once
        this.heard = { at: m.at, old: m.old, recv: Date.now() };
        this.owed.clear();
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
        this.setWho(m.who);
        return;
      case 'error':
        return;
    }
  }
}
