// Which channels one key may try for a contact right now, in the hall's order: pure, shared by the
// core (which dials) and the panel (which shows the plan before the press).
import type { Contact, DialChannel, LinkState } from './domain.ts';

export const DEFAULT_ORDER: DialChannel[] = ['video', 'voip', 'mobile', 'satellite'];
/** Channels that ride the WAN to the province's fused-communication platform. */
const OVER_WAN: ReadonlySet<DialChannel> = new Set(['video', 'voip', 'mobile']);

export interface PlanInput {
  order: readonly DialChannel[];
  wan: LinkState;
  sip: { configured: boolean; state: string };
  satellite: { configured: boolean; state: string; busy: boolean };
}

export interface PlannedStep {
  channel: DialChannel;
  address: string;
  /** Why this channel is passed over at once (null: it is tried). */
  skip: string | null;
}

export function planChannels(contact: Pick<Contact, 'channels'>, p: PlanInput): PlannedStep[] {
  const steps: PlannedStep[] = [];
  for (const channel of p.order) {
    const ch = contact.channels.find((c) => c.kind === channel);
    if (!ch) continue;
    let skip: string | null = null;
    if (OVER_WAN.has(channel)) {
      if (p.wan === 'offline') skip = 'wan_offline';
      // Video needs bandwidth the degraded link does not have; voice still fits.
      else if (channel === 'video' && p.wan === 'degraded') skip = 'wan_degraded';
      else if (!p.sip.configured) skip = 'sip_not_configured';
      else if (p.sip.state !== 'registered') skip = 'sip_not_registered';
    } else if (channel === 'satellite') {
      if (!p.satellite.configured) skip = 'satellite_not_configured';
      else if (p.satellite.state !== 'ready') skip = 'satellite_not_ready';
    }
    steps.push({ channel, address: ch.address, skip });
  }
  return steps;
}
