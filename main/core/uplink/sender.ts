// Store-and-forward to the provincial bus (MQTT). Reads the durable outbox in (priority, seq) order,
// publishes with QoS 1, marks items acknowledged on PUBACK, and keeps going through broker restarts.
// At least once on the wire; every message carries an idempotency key ("<hall>:<event id>") so the
// receiver applies it exactly once.
import mqtt, { type MqttClient } from 'mqtt';
import type { Link } from '../../../common/domain.ts';
import type { AsyncStore } from '../../../native/store/client.ts';
import type { OutboxItem } from '../../../native/store/store.ts';
import { downTopic } from './downlink.ts';
import { outboxRoute, uplinkTopic } from './policy.ts';

const POSITIONS_PRIORITY = outboxRoute('unit.moved')!.priority;

/** The down message kind each dispatched event becomes (downlink.ts); the rest are instructions or
 *  say their own (`down`). */
const DOWN_KIND: Record<string, string> = { 'risk.dispatched': 'risk.levels', 'response.dispatched': 'response.level', 'sheet.dispatched': 'sheet', 'task.dispatched': 'task' };

/** An uplink message's key: unique per hall for ever, also across a reinstall (migration 16). */
export function uplinkKey(hall: string, epoch: string, event: number): string {
  return epoch ? `${hall}:${epoch}-${event}` : `${hall}:${event}`;
}

export interface UplinkOptions {
  /** mqtt://host:port or mqtts://… of the provincial bus. */
  url: string;
  /** This hall's id in the topic plan (its GB/T 2260 code). */
  hallId: string;
  /** Messages published and not yet acknowledged, at most. @default 64 */
  window?: number;
  /** Reconnect period; MQTT.js retries at this pace. @default 1000 */
  reconnectMs?: number;
  /** MQTT keepalive. A WAN cut sends no reset: only an unanswered ping shows the connection is dead,
   *  so this bounds how long publishes wait on a dead link before reconnecting. @default 10 */
  keepaliveSeconds?: number;
  /** Bandwidth budget for positions, messages/s. When the queued positions would take longer than
   *  `drainTargetSeconds` to send at this rate, the backlog is thinned (decisions never are).
   *  @default 200 */
  positionsBudget?: number;
  /** @default 30 */
  drainTargetSeconds?: number;
  /** During a backlog, this share of send slots goes to positions younger than `liveMs` (newest
   *  first), so teams' current positions reach the province while the history drains. @default 0.25 */
  liveShare?: number;
  /** @default 10000 */
  liveMs?: number;
  /** Thinning keeps, per unit, the newest position of every this-many ms of history. @default 60000 */
  thinIntervalMs?: number;
  /** The halls below this one whose uplinks its bus carries (bridged up the tree): subscribed to. */
  descendants?: string[];
  /** This hall's heartbeat on beacon/<hall>/up/heartbeat, this often. @default 1000 */
  heartbeatMs?: number;
  /** This hall's account on its bus (the broker's ACL gives it its own topics only). */
  username?: string;
  password?: string;
}

export interface UplinkMessage {
  v: 1;
  hall: string;
  key: string;
  seq: number;
  category: string;
  /** Sent ahead of an older backlog of its category: in order with the other live messages, not
   *  with the backlog. Positions carry their time; the receiver keeps each team's newest. */
  live?: true;
  event: { id: number; ts: number; kind: string; subject: string; payload: unknown; origin: string };
}

export class UplinkSender {
  private readonly client: MqttClient;
  private readonly inflight = new Set<number>();
  private readonly ackedUnsaved = new Set<number>();
  private pumping = false;
  private again = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private disposed = false;
  private readonly opts: Required<Omit<UplinkOptions, 'username' | 'password'>> & Pick<UplinkOptions, 'username' | 'password'>;
  readonly counters = { published: 0, acked: 0, failed: 0, connects: 0, thinned: 0, live: 0 };
  private slot = 0;
  /** Newest seq sent as live: the live stream only moves forward. */
  private liveFloor = 0;
  state: Link['state'] = 'unknown';
  private lastError: string | null = null;
  private since: number | null = null;
  /** Bytes acknowledged by the broker, for the throughput measured under load. */
  private ackedBytes = 0;
  private sample: { at: number; bytes: number; depth: number; connects: number } | null = null;
  /** Throughput while backlogged (kbit/s), once a second; the link monitor judges bandwidth by it. */
  onThroughput: ((kbps: number) => void) | null = null;
  /** Every acknowledgement from the bus: proof the link carries traffic. */
  onAck: (() => void) | null = null;
  lastKbps: number | null = null;

  private readonly store: AsyncStore;
  private readonly onStatus: (link: Link) => void;
  private readonly onDown: (topic: string, payload: Buffer) => Promise<number>;

  /** `onDown` settles with the MQTT 5 reason code to acknowledge with (0 applied or already had,
   *  153 payload format invalid), or rejects to leave the message unacknowledged (redelivered). */
  /** The hall's clock: the outbox's times (what is live, what is acknowledged when) are the journal's. */
  private readonly now: () => number;

  /** A message on a descendant's uplink: the network desk's (same reason codes as `onDown`). */
  onUp: ((topic: string, payload: Buffer) => Promise<number>) | null = null;
  /** What this hall's heartbeat says beside its outbox: its WAN and response level. */
  beat: (() => { wan: Link['state']; responseLevel: string | null }) | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** This journal's epoch in message keys (migration 16), read once. */
  private epoch: string | null = null;
  /** When this process started sending: a new value tells the hall above this hall restarted (or
   *  was reinstalled), so it is told again what is in force. */
  private readonly started = Date.now();
  private lastQueue: { depth: number; oldest: number | null } = { depth: 0, oldest: null };

  constructor(store: AsyncStore, opts: UplinkOptions, onStatus: (link: Link) => void, onDown: (topic: string, payload: Buffer) => Promise<number> = async () => 0, now: () => number = Date.now) {
    this.store = store;
    this.now = now;
    this.onStatus = onStatus;
    this.onDown = onDown;
    this.opts = {
      window: 64,
      reconnectMs: 1000,
      keepaliveSeconds: 10,
      positionsBudget: 200,
      drainTargetSeconds: 30,
      thinIntervalMs: 60_000,
      liveShare: 0.25,
      liveMs: 10_000,
      descendants: [],
      heartbeatMs: 1000,
      ...opts,
    };
    this.client = mqtt.connect(opts.url, {
      clientId: `beacon-hall-${opts.hallId}`,
      ...(opts.password ? { username: opts.username ?? `hall-${opts.hallId}`, password: opts.password } : {}),
      // A durable session: what the province sends down while the hall is away waits for it.
      clean: false,
      // MQTT 5, for acknowledgements the hall controls: a message from the province is acknowledged
      // only once it is in the journal (customHandleAcks; MQTT.js supports it on version 5 only).
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 7 * 24 * 3600 },
      customHandleAcks: (topic: string, payload: Buffer, _packet: unknown, done: (err: Error | number, code?: number) => void) => {
        const up = topic.startsWith('beacon/') && topic.split('/')[2] === 'up';
        (up ? (this.onUp?.(topic, payload) ?? Promise.resolve(0)) : this.onDown(topic, payload)).then(
          (code) => done(code),
          (err: Error) => done(err),
        );
      },
      reconnectPeriod: this.opts.reconnectMs,
      connectTimeout: 5000,
      keepalive: this.opts.keepaliveSeconds,
      // MQTT.js gives up for good after a refused CONNACK (not authorized, server unavailable) unless
      // told otherwise: a hall must keep trying, because IT fixes the bus's accounts while it queues.
      reconnectOnConnackError: true,
      queueQoSZero: false,
    });
    this.client.on('connect', (ack) => {
      this.counters.connects += 1;
      this.lastError = null;
      if (!ack.sessionPresent) {
        this.client.subscribe(downTopic(this.opts.hallId), { qos: 1 });
        // the uplinks of the halls below, which the bridges bring to this bus
        if (this.opts.descendants.length)
          this.client.subscribe(
            this.opts.descendants.map((d) => `beacon/${d}/up/#`),
            { qos: 1 },
          );
      }
      this.setState('online');
      this.kick();
    });
    // Heartbeats from the halls below come at QoS 0 (customHandleAcks sees QoS 1 and 2 only).
    this.client.on('message', (topic, payload, packet) => {
      if (packet.qos === 0 && topic.split('/')[2] === 'up') void this.onUp?.(topic, payload);
    });
    this.client.on('close', () => {
      // Whatever was in flight is sent again after reconnecting (the receiver drops duplicates).
      this.inflight.clear();
      this.setState('offline');
    });
    // MQTT.js reconnects by itself; the reason (refused, not authorized, unreachable) is shown with
    // the queue so the duty officer can tell IT what the bus said.
    this.client.on('error', (err) => {
      this.lastError = err.message.slice(0, 200);
      void this.report();
    });
    // Queue depth and age for every display, once a second while there is anything to say.
    this.statusTimer = setInterval(() => void this.report(), 1000);
    this.statusTimer.unref();
    // The heartbeat: how the hall above sees this one (its state, silence within seconds of a cut).
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.opts.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /** Something was queued or acknowledged: send what can be sent. */
  kick(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    void this.pump();
  }

  private heartbeat(): void {
    if (!this.client.connected || this.disposed) return;
    const own = this.beat?.() ?? { wan: this.state, responseLevel: null };
    const body = { v: 1, hall: this.opts.hallId, at: this.now(), wan: own.wan, outbox: this.lastQueue, responseLevel: own.responseLevel, started: this.started };
    // QoS 0, not through the outbox: a heartbeat is only worth its moment
    this.client.publish(`beacon/${this.opts.hallId}/up/heartbeat`, JSON.stringify(body), { qos: 0 });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.flushAcks();
    await this.client.endAsync(true);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.again = false;
        if (this.disposed || !this.client.connected) return;
        const room = this.opts.window - this.inflight.size;
        if (room <= 0) return;
        // Every 1/liveShare-th send slot is a live slot (counted across calls, so small rooms share too).
        const every = Math.max(1, Math.round(1 / this.opts.liveShare));
        let slots = 0;
        for (let k = this.slot; k < this.slot + room; k++) if (k % every === 0) slots++;
        const live = { category: 'positions', priority: POSITIONS_PRIORITY, since: this.now() - this.opts.liveMs, slots, after: this.liveFloor };
        this.epoch ??= (await this.store.getMeta('uplink.epoch')) ?? '';
        const items = await this.store.outboxPending(room, [...this.inflight, ...this.ackedUnsaved], live);
        this.slot += items.length;
        for (const it of items) {
          if (!it.live) continue;
          this.counters.live += 1;
          if (it.seq > this.liveFloor) this.liveFloor = it.seq;
        }
        for (const it of items) this.publish(it);
        if (items.length === room) this.again = true;
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  private publish(it: OutboxItem): void {
    const msg: UplinkMessage = {
      v: 1,
      hall: this.opts.hallId,
      key: uplinkKey(this.opts.hallId, this.epoch ?? '', it.event.id),
      seq: it.seq,
      category: it.category,
      ...(it.live ? { live: true as const } : {}),
      event: { id: it.event.id, ts: it.event.ts, kind: it.event.kind, subject: it.event.subject, payload: it.event.payload, origin: it.event.origin },
    };
    this.inflight.add(it.seq);
    this.counters.published += 1;
    // an instruction to a hall below goes down to it, in the province's message form (downlink.ts)
    const down = it.category === 'down' ? (it.event.payload as { to: string; key: string; from: string; sentAt: number; text?: string; priority?: string; down?: string; body?: unknown }) : null;
    const kind = DOWN_KIND[it.event.kind] ?? down?.down ?? 'instruction';
    const body = down
      ? JSON.stringify({ v: 1, key: down.key, kind, from: down.from, sentAt: down.sentAt, body: kind === 'instruction' ? { text: down.text, priority: down.priority } : down.body })
      : JSON.stringify(msg);
    const topic = down ? `beacon/${down.to}/down/${kind}` : uplinkTopic(this.opts.hallId, it.category);
    // On the wire: the body, the topic, and about 10 bytes of MQTT header and packet id.
    const bytes = Buffer.byteLength(body) + Buffer.byteLength(topic) + 10;
    this.client.publish(topic, body, { qos: 1 }, (err) => {
      this.inflight.delete(it.seq);
      if (err) {
        this.counters.failed += 1;
        return;
      }
      this.counters.acked += 1;
      this.ackedBytes += bytes;
      this.onAck?.();
      this.ackedUnsaved.add(it.seq);
      this.scheduleFlush();
      this.kick();
    });
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    // Acknowledgements are written in batches: one small transaction per 50 ms, not one per message.
    this.flushTimer = setTimeout(() => void this.flushAcks(), 50);
  }

  private async flushAcks(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.ackedUnsaved.size === 0) return;
    const seqs = [...this.ackedUnsaved];
    try {
      await this.store.outboxAck(seqs, this.now());
      for (const s of seqs) this.ackedUnsaved.delete(s);
    } catch {
      this.scheduleFlush(); // the store is busy or failing: keep them, try again
    }
  }

  private setState(s: Link['state']): void {
    if (s === this.state) return;
    this.state = s;
    this.since = this.now();
    void this.report();
  }

  /** A throughput sample counts only when the outbox held more than a window at both ends of the
   *  second and the connection stayed up: then the link, not the hall, limited what got through. */
  private measureThroughput(depth: number): void {
    const now = this.now();
    const prev = this.sample;
    this.sample = { at: now, bytes: this.ackedBytes, depth, connects: this.counters.connects };
    if (!prev || now - prev.at < 500 || this.state !== 'online') return;
    const loaded = prev.depth > this.opts.window && depth > this.opts.window && prev.connects === this.counters.connects;
    if (!loaded) return;
    this.lastKbps = ((this.ackedBytes - prev.bytes) * 8) / (now - prev.at);
    this.onThroughput?.(this.lastKbps);
  }

  private async report(): Promise<void> {
    if (this.disposed) return;
    try {
      let st = await this.store.outboxStats();
      // Under the budget, the backlog of positions is thinned so the province gets every team's
      // latest position (and a readable history) within the target, instead of hours of replay.
      if ((st.byCategory.positions ?? 0) > this.opts.positionsBudget * this.opts.drainTargetSeconds) {
        this.counters.thinned += await this.store.outboxThin('positions', this.opts.thinIntervalMs, this.now());
        st = await this.store.outboxStats();
      }
      this.measureThroughput(st.depth);
      this.lastQueue = { depth: st.depth, oldest: st.oldest };
      const age = st.oldest === null ? 0 : Math.round((this.now() - st.oldest) / 1000);
      const why = this.lastError && this.state !== 'online' ? `; ${this.lastError}` : '';
      const thin = st.thinned ? `, thinned ${st.thinned}` : '';
      this.onStatus({
        id: 'outbox',
        state: this.state,
        since: this.since,
        detail: `queued ${st.depth}, oldest ${age} s, sent ${this.counters.acked}${thin}${why}`,
        queue: { depth: st.depth, oldest: st.oldest },
      });
    } catch {
      // the store is closing; nothing to report
    }
  }
}
