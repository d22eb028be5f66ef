// The uplink desk: store-and-forward to the provincial bus, and what the province sends down.
// Without a bus configured it does nothing and nothing is queued for the province.
import type { Instruction, Link, Sheet } from '../../../common/domain.ts';
import { NetworkDesk } from '../network/desk.ts';
import { CommandDesk } from '../command/desk.ts';
import { HubError } from '../hub/hub.ts';
import { type CommandHandlers, defineDesk, type Desk, type DeskContext, type HallPort } from '../kernel/port.ts';
import type { LinkDesk } from '../link/desk.ts';
import { parseDown } from './downlink.ts';
import { outboxRoute } from './policy.ts';
import { UplinkSender, type UplinkOptions } from './sender.ts';

export class UplinkDesk implements Desk {
  readonly commands: CommandHandlers = {
    'instruction.read': async ({ id }, ctx) => {
      if (!this.port.get<Instruction>('instructions', id)) throw new HubError('not_found', `no instruction ${id}`);
      const event = await this.port.record('instruction.read', `instruction:${id}`, { id, by: ctx.by, at: this.port.now() }, ctx.origin);
      return { id, event: event ?? 0 };
    },
  };
  /** Null without a bus: then nothing is queued for the province. */
  readonly sender: UplinkSender | null = null;
  readonly counters = { downApplied: 0, downDuplicates: 0, downRejected: {} as Record<string, number> };
  private readonly port: HallPort;
  private readonly hallId: string;
  private readonly downLogged = new Map<string, number>();
  private readonly unroute: () => void;
  private unlink: () => void = () => undefined;

  constructor(port: HallPort, ctx: Pick<DeskContext<UplinkOptions>, 'options' | 'store' | 'routeOutbox'> & Partial<Pick<DeskContext<UplinkOptions>, 'desk'>>) {
    this.port = port;
    const network = ctx.desk?.<NetworkDesk>('network');
    const net = network instanceof NetworkDesk ? network : null;
    const opts = ctx.options && net ? { ...ctx.options, descendants: net.descendants() } : ctx.options;
    this.hallId = opts?.hallId ?? '';
    if (!opts) {
      this.unroute = () => undefined;
      return;
    }
    const sender = new UplinkSender(
      ctx.store,
      opts,
      (l) => port.publish('link', [{ op: 'put', id: l.id, value: l }]),
      (topic, payload) => this.receiveDown(topic, payload),
      () => port.now(),
    );
    this.sender = sender;
    if (net) {
      // a parent: the uplinks of the halls below go to the network desk; the heartbeat tells the
      // hall above this one's WAN (as the link desk measures it)
      sender.onUp = (topic, payload) => net.up(topic, payload);
      let wan: Link['state'] = 'unknown';
      this.unlink = port.onLink((l) => {
        if (l.id === 'wan') wan = l.state;
      });
      const command = ctx.desk?.<CommandDesk>('command');
      sender.beat = () => ({ wan, responseLevel: command instanceof CommandDesk ? command.level() : null });
    }
    // From now on what the province must know is queued with each change (seeded events are not).
    this.unroute = ctx.routeOutbox(outboxRoute, () => sender.kick());
    // the hall above learns this hall's units from its roster, sent at each start
    if (net) net.sendRoster().catch((e: Error) => console.warn(`beacon: the roster for the hall above was not queued: ${e.message}`));
  }

  stats() {
    if (!this.sender) return null;
    return { state: this.sender.state, ...this.sender.counters, kbpsUnderLoad: this.sender.lastKbps, ...this.counters };
  }

  async dispose(): Promise<void> {
    // What is queued after this stays in the outbox and goes at the next start.
    this.unroute();
    this.unlink();
    await this.sender?.dispose();
  }

  /** A message from the province: checked, then journaled once under its key (a repeat changes
   *  nothing). Settles with the MQTT 5 reason code to acknowledge it with; rejects when the store
   *  refused it, so the bus keeps it and delivers it again. */
  private async receiveDown(topic: string, payload: Buffer): Promise<number> {
    const r = parseDown(topic, payload, this.hallId, this.port.now());
    if (!r.ok) {
      this.refused(r.reason);
      // Logged once per reason per minute: a flood of bad messages must not flood the log.
      const last = this.downLogged.get(r.reason) ?? 0;
      if (this.port.now() - last > 60_000) {
        this.downLogged.set(r.reason, this.port.now());
        console.warn(`beacon: refused a message from the province (${r.reason}): ${r.message}`);
      }
      return 153; // payload format invalid: it will never become valid, so it is not redelivered
    }
    if ((r.kind === 'instruction' || r.kind === 'typhoon.advisory') && this.port.get<Instruction>('instructions', r.key)) {
      this.counters.downDuplicates += 1;
      return 0;
    }
    if (r.kind === 'risk.levels') {
      const unknown = r.events.map((e) => e.subject.slice(5)).filter((code) => !this.port.get('places', code));
      if (unknown.length) {
        this.refused('unknown_place');
        console.warn(`beacon: refused risk levels from the province for unknown places ${unknown.slice(0, 5).join(', ')}`);
        return 153;
      }
    }
    // a sheet seen here for the first time: its delivery receipt goes up once it is journaled
    const newSheet = r.kind === 'sheet' ? (r.events[0]!.payload as { sheet: Sheet }).sheet : null;
    const firstTime = newSheet !== null && !this.port.get('sheets', newSheet.id);
    let ids: (number | null)[];
    try {
      ids = await this.port.recordMany(
        r.events.map(({ kind, subject, payload }) => ({ kind, subject, payload })),
        'province',
        r.events.map((e) => e.key),
      );
    } catch (err) {
      if (err instanceof HubError && err.code !== 'unavailable') {
        // Valid JSON that the reducer still refuses (a unit that does not exist): never valid later.
        this.refused(err.code);
        return 153;
      }
      throw err;
    }
    if (ids.every((id) => id === null)) this.counters.downDuplicates += 1;
    else {
      this.counters.downApplied += 1;
      // the receipt goes back up: the instruction is in this hall's journal (issue 20)
      if (firstTime) await this.port.record('sheet.delivered', `sheet:${newSheet.id}`, { id: newSheet.id, hall: this.hallId, at: this.port.now() }, 'uplink', `delivered:${newSheet.id}`);
      if (r.kind === 'instruction' || r.kind === 'typhoon.advisory')
        await this.port.record('instruction.delivered', `instruction:${r.key}`, { id: r.key, at: this.port.now() }, 'uplink', `delivered:${r.key}`);
    }
    return 0;
  }

  private refused(reason: string): void {
    this.counters.downRejected[reason] = (this.counters.downRejected[reason] ?? 0) + 1;
  }
}

export const uplinkDesk = defineDesk<UplinkOptions>()({
  name: 'uplink',
  topics: ['instructions'],
  start(port, ctx) {
    const desk = new UplinkDesk(port, ctx);
    const opts = ctx.options;
    if (!opts || !desk.sender) return desk;
    const sender = desk.sender;
    // The bus's bandwidth is judged by the hall's own traffic to it (see LinkMonitor.observeBandwidth).
    const link = ctx.desk<LinkDesk>('link')?.monitor;
    const bus = new URL(opts.url);
    const busTarget = link?.targetAt(bus.hostname.replace(/^\[|\]$/g, ''), Number(bus.port || (bus.protocol === 'mqtts:' ? 8883 : 1883)));
    if (link && busTarget) {
      sender.onThroughput = (kbps) => link.observeBandwidth(busTarget, kbps);
      sender.onAck = () => link.observeDelivery(busTarget);
    }
    return desk;
  },
});
