// The link desk: the WAN and each upstream endpoint, on the `link` topic every status bar shows.
// Each change is journaled (link.changed), never awaited: a link report must not wait on the disk
// it may be reporting on.
import type { Link } from '../../../common/domain.ts';
import { defineDesk, type Desk, type HallPort } from '../kernel/port.ts';
import { LinkMonitor, type LinkMonitorOptions } from './monitor.ts';

export type LinkOptions = Omit<LinkMonitorOptions, 'onChange'>;

export class LinkDesk implements Desk {
  /** The monitor, when endpoints were named; other desks report what their traffic shows of a
   *  target through it (the uplink's throughput and acknowledgements). */
  readonly monitor: LinkMonitor | null = null;

  constructor(port: HallPort, opts: LinkOptions | undefined) {
    if (!opts || opts.targets.length === 0) {
      // Without endpoints to probe the WAN is "not monitored", never pretended up.
      const wan: Link = { id: 'wan', state: 'unknown', since: null, detail: 'no link monitor configured' };
      port.replace('link', [wan]);
      return;
    }
    const previous = new Map<string, string>();
    this.monitor = new LinkMonitor({
      ...opts,
      onChange: (changed) => {
        port.publish(
          'link',
          changed.map((l) => ({ op: 'put', id: l.id, value: l })),
        );
        for (const l of changed) {
          const from = previous.get(l.id) ?? 'unknown';
          previous.set(l.id, l.state);
          port.record('link.changed', `link:${l.id}`, { id: l.id, state: l.state, from, detail: l.detail, at: l.since ?? port.now() }, 'link-monitor').catch(() => undefined);
        }
      },
    });
    port.replace('link', this.monitor.links());
    this.monitor.start();
  }

  dispose(): void {
    this.monitor?.dispose();
  }
}

export const linkDesk = defineDesk<LinkOptions>()({
  name: 'link',
  start: (port, ctx) => new LinkDesk(port, ctx.options),
});
