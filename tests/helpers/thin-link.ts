// A thin link for a console (issue 23): a network namespace joined to this host by a veth pair, each
// direction shaped by a token bucket (tc tbf), as a degraded VPN or a satellite backhaul would be. The
// hall listens on the host's end; whatever runs in the namespace (a console, Chromium) reaches it only
// through the shaped link. Needs root (ip netns, tc); `thinLinkUnavailable()` says why not.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const sbin = (name: string) => ['/usr/sbin/', '/sbin/', '/usr/bin/', '/bin/'].map((d) => d + name).find((p) => existsSync(p)) ?? null;
const IP = sbin('ip');
const TC = sbin('tc');

export interface ThinLink {
  ns: string;
  /** The hall's address (the host's end) and the console's (the namespace's). */
  hostIp: string;
  nsIp: string;
  /** Shape both directions to `rate` (tc's syntax: 1mbit, 256kbit). */
  shape(rate: string): void;
  /** Cut the link, or restore it unshaped. Cut, nothing crosses and nothing says so: a token bucket
   *  of 8 bit/s whose burst is smaller than any packet drops them all, silently, while both ends stay
   *  up (as when a WAN line fails beyond the router; taking the interface down would tell the
   *  sockets, which a real cut does not). */
  cut(on: boolean): void;
  /** Bytes the host sent into the link (hall → console) since the link was last shaped. */
  bytesDown(): number;
  /** The argv that runs a command inside the namespace. */
  inNs(cmd: string, ...args: string[]): [string, string[]];
  close(): void;
}

export function thinLinkUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (!IP || !TC) return 'ip or tc missing (iproute2)';
  if (process.getuid?.() !== 0) return 'not root (network namespaces need it)';
  return null;
}

/** `octet` picks a /30 of 10.213.<octet>.0 so two runs on one machine do not collide. */
export function openThinLink(tag: string, octet = 23): ThinLink {
  const ns = `beacon-thin-${tag}`;
  const hostIf = `bt${tag}`.slice(0, 15);
  const nsIf = `bn${tag}`.slice(0, 15);
  const hostIp = `10.213.${octet}.1`;
  const nsIp = `10.213.${octet}.2`;
  const ip = (...a: string[]) => execFileSync(IP!, a, { stdio: 'pipe' });
  const inNs = (...a: string[]) => ip('netns', 'exec', ns, ...a);
  const close = () => {
    for (const f of [() => ip('netns', 'del', ns), () => ip('link', 'del', hostIf), () => ip('route', 'del', 'blackhole', `10.213.${octet}.0/24`)])
      try {
        f();
      } catch {
        /* not there */
      }
  };
  close();
  try {
    // traffic for these addresses never takes the default route out of the machine
    ip('route', 'add', 'blackhole', `10.213.${octet}.0/24`);
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    inNs('ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf);
    inNs('ip', 'link', 'set', nsIf, 'up');
    inNs('ip', 'link', 'set', 'lo', 'up');
  } catch (e) {
    close();
    throw e;
  }
  const tbf = (run: (...a: string[]) => Buffer, dev: string, rate: string) => {
    try {
      run(TC!, 'qdisc', 'del', 'dev', dev, 'root');
    } catch {
      /* none yet */
    }
    // a queue of 100 ms at the rate, as a router's would be; the burst a few packets
    run(TC!, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', '8kb', 'latency', '100ms');
  };
  return {
    ns,
    hostIp,
    nsIp,
    shape(rate) {
      tbf((...a) => execFileSync(a[0]!, a.slice(1), { stdio: 'pipe' }), hostIf, rate);
      tbf((...a) => inNs(...a), nsIf, rate);
    },
    cut(on) {
      const ends: [(...a: string[]) => Buffer, string][] = [
        [(...a) => execFileSync(a[0]!, a.slice(1), { stdio: 'pipe' }), hostIf],
        [(...a) => inNs(...a), nsIf],
      ];
      for (const [run, dev] of ends) {
        try {
          run(TC!, 'qdisc', 'del', 'dev', dev, 'root');
        } catch {
          /* none */
        }
        if (on) run(TC!, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', '8bit', 'burst', '100', 'limit', '1');
      }
    },
    bytesDown() {
      const out = execFileSync(TC!, ['-s', 'qdisc', 'show', 'dev', hostIf], { encoding: 'utf8' });
      return Number(/Sent (\d+) bytes/.exec(out)?.[1] ?? NaN);
    },
    inNs: (cmd, ...args) => [IP!, ['netns', 'exec', ns, cmd, ...args]],
    close,
  };
}
