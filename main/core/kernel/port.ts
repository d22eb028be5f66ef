// The hall port: everything a desk may ask of the hall, and nothing more. Desks receive this
// interface, never the kernel's class (STYLE.md habit 12), so a desk can be unit-tested against the
// small in-memory port of tests/helpers/memory-port.ts and no desk can reach into another's state.
import type { CommandArgs, CommandName, CommandResult, DeltaOp, TopicName } from '../../../common/contract.ts';
import type { Link } from '../../../common/domain.ts';
import type { AsyncStore } from '../../../native/store/client.ts';
import type { TableName } from '../../../native/store/repositories.ts';
import type { CommitEntry } from '../../../native/store/store.ts';
import type { CommandContext } from '../hub/hub.ts';
import type { EventKind, EventPayload } from '../journal/events.ts';
import type { Reach } from '../trust/reach.ts';

export interface JournalEvent {
  kind: EventKind;
  subject: string;
  payload: unknown;
}

/** Where a change goes in the province's outbox: its category and how urgently. */
export type OutboxRoute = NonNullable<CommitEntry['outbox']>;

export interface HallPort {
  /** A row of the live state (what the journal has made of every change so far). */
  get<T = Record<string, unknown>>(table: TableName, id: string): T | undefined;
  all<T = Record<string, unknown>>(table: TableName): T[];
  /** Record one change: reduced, applied live, committed with its journal event, then published.
   *  Resolves with its journal id once it is durable (null: already stored under `key`). */
  record<K extends EventKind>(kind: K, subject: string, payload: EventPayload<K>, origin: string, key?: string): Promise<number | null>;
  recordMany(events: JournalEvent[], origin: string, keys?: string[]): Promise<(number | null)[]>;
  /** The live path (feeds): into the live state and to the hub at once, journaled later by
   *  `journalLive` as the storage policy decides. */
  putLive(table: TableName, value: { id: string }): void;
  journalLive(events: JournalEvent[], origin: string): Promise<void>;
  /** A desk's own topics (those not projected from a table: switchboard, feeds, replay, …). */
  publish(topic: TopicName, ops: readonly DeltaOp[]): void;
  replace(topic: TopicName, items: Iterable<{ id: string }>): void;
  items(topic: TopicName): unknown[];
  /** Durable changes as they are published, per topic. Returns the unsubscribe function. */
  onChange(cb: (topic: TopicName, ops: DeltaOp[]) => void): () => void;
  /** Every link as it is published on the `link` topic (the WAN, each uplink), and the current
   *  ones at once. Returns the unsubscribe function. */
  onLink(cb: (l: Link) => void): () => void;
  /** The hall's clock: every stamp a desk writes comes from here, so tests can set the time. */
  now(): number;
}

export type CommandHandlers = { [C in CommandName]?: (args: CommandArgs<C>, ctx: CommandContext) => Promise<CommandResult<C>> };

/** A started desk: a domain of the hall (calls, feeds, typhoons, …). */
export interface Desk {
  /** The contract commands this desk answers; each command belongs to exactly one desk. */
  readonly commands?: CommandHandlers;
  /** Counters for /api/health and the benchmarks, under the desk's name. */
  stats?(): unknown;
  /** Stop timers, sockets and workers. Desks are disposed in reverse order of the list, before the
   *  kernel stores what is still queued. */
  dispose?(): void | Promise<void>;
}

/** What the composition root grants a desk beyond the port: its own options, and the few
 *  capabilities only some desks need (stated here so they stay visible). */
export interface DeskContext<O> {
  /** This desk's options (HallOptions[name]), or undefined when none were given. */
  options: O | undefined;
  dataDir: string;
  /** What a command may make the hall reach, and the secrets it may name (trust/reach.ts). */
  reach: Reach;
  /** The store, for what is not a change of state: reading the journal, the uplink's outbox. */
  store: AsyncStore;
  /** An earlier desk of the list, by name (a desk may build on one started before it). */
  desk<D extends Desk>(name: string): D | undefined;
  /** From now on, changes of these kinds are queued for the province in the same transaction as the
   *  change itself, and `kick` is called after each commit that queued any. Returns the undo. */
  routeOutbox(route: (kind: EventKind) => OutboxRoute | null, kick: () => void): () => void;
}

export interface DeskDef<N extends string = string, D extends Desk = Desk, O = unknown> {
  readonly name: N;
  /** Tables whose rows are served as hub topics of the same name (loaded at start, published on
   *  every commit). */
  readonly topics?: readonly (TableName & TopicName)[];
  start(port: HallPort, ctx: DeskContext<O>): D | Promise<D>;
}

/** Declares a desk; the options type `O` becomes `HallOptions[name]`. */
export function defineDesk<O = never>() {
  return <N extends string, D extends Desk>(def: DeskDef<N, D, O>): DeskDef<N, D, O> => def;
}
