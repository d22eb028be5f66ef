// Which hall this is, for the desks that send to the halls below or name the sender (issues 20, 21):
// its code (from the network desk: `--hall-id`; without one, the province of its places) and its
// name as seeded or configured.
import type { Place } from '../../../common/domain.ts';
import type { Desk, DeskContext, HallPort } from '../kernel/port.ts';

/** What the network desk tells other desks: this hall's code and the halls below it. */
export interface NetworkView {
  readonly hallId: string;
  descendants(): string[];
}

export interface HallIdentity {
  /** The network desk, when this hall is on a bus (it knows the halls below). */
  net: NetworkView | null;
  hallId: string;
}

export function hallIdentity(port: HallPort, ctx: Pick<DeskContext<unknown>, 'desk'>): HallIdentity {
  const net = ctx.desk<Desk & Partial<NetworkView>>('network');
  const real = net && typeof net.hallId === 'string' && net.descendants ? (net as NetworkView) : null;
  return { net: real, hallId: real?.hallId ?? port.all<Place>('places').find((p) => p.kind === 'province')?.code ?? '330000' };
}

/** The hall's name as the halls below read it on what it sends them. */
export function hallName(port: HallPort, hallId: string): string {
  return port.get<{ name: { zh: string } }>('hall', 'hall')?.name.zh ?? hallId;
}
