// What the hall may reach and which secrets it may use on a command's word. A command from a display
// or console can name a media gateway, a tile server or a broker, and a secret to present there; left
// open, that is a way to read the hall's network from outside (SSRF) and to send its passwords
// anywhere. So the operator decides at start: outbound targets come from an allowlist
// (`--allow-outbound`), and a command may name only the environment variables the operator listed
// (`--secret-env`), whose values are read once and taken out of the environment. What the operator
// configured on the command line itself (`--province`, `--feed`, `--uplink`) is theirs and trusted.
import { BlockList, isIP } from 'node:net';
import { Vault } from './vault.ts';

export interface ReachOptions {
  /** Targets a command may name: `host`, `host:port`, `*.domain`, an IPv4 or IPv6 address or a
   *  CIDR block (10.33.0.0/16). Loopback and link-local are refused like anything else not listed. */
  allowOutbound?: string[];
  /** Environment variables a feed's password or a video source's token may name. */
  secretEnv?: string[];
}

interface Entry {
  host: string;
  port: number | null;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443, 'mqtt:': 1883, 'mqtts:': 8883 };

export class Reach {
  private readonly names: Entry[] = [];
  private readonly suffixes: string[] = [];
  private readonly blocks = new BlockList();
  private readonly secrets = new Map<string, string>();
  readonly counters = { refusedTargets: 0, refusedSecrets: 0 };
  readonly allowOutbound: readonly string[];
  private readonly vault: Vault | null;

  /** `dataDir`: where credentials split out of URLs are kept (DATA/secrets.json); none: kept in the URL. */
  constructor(opts: ReachOptions = {}, env: NodeJS.ProcessEnv = process.env, dataDir: string | null = null) {
    this.vault = dataDir ? new Vault(dataDir) : null;
    this.allowOutbound = opts.allowOutbound ?? [];
    for (const raw of this.allowOutbound) this.add(raw);
    for (const name of opts.secretEnv ?? []) {
      if (!/^[A-Z_][A-Z0-9_]{0,63}$/.test(name)) throw new Error(`--secret-env ${name}: not an environment variable name`);
      const v = env[name];
      if (v !== undefined) this.secrets.set(name, v);
      // read once: nothing started later (a gateway's helper, a crash reporter) finds it there
      delete env[name];
    }
  }

  private add(raw: string): void {
    const s = raw.trim().toLowerCase();
    if (!s) return;
    const cidr = /^(.+)\/(\d{1,3})$/.exec(s);
    if (cidr && isIP(cidr[1]!)) {
      const family = isIP(cidr[1]!) === 4 ? 'ipv4' : 'ipv6';
      const bits = Number(cidr[2]);
      if (bits > (family === 'ipv4' ? 32 : 128)) throw new Error(`--allow-outbound ${raw}: prefix /${bits} is too long`);
      this.blocks.addSubnet(cidr[1]!, bits, family);
      return;
    }
    if (s.startsWith('*.')) {
      this.suffixes.push(s.slice(1));
      return;
    }
    let u: URL;
    try {
      u = new URL(`x://${s}`);
    } catch {
      throw new Error(`--allow-outbound ${raw}: not a host, host:port, *.domain or CIDR block`);
    }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    // an address without a port: every port of it, as a block of one
    if (isIP(host) && !u.port) this.blocks.addAddress(host, isIP(host) === 4 ? 'ipv4' : 'ipv6');
    else this.names.push({ host, port: u.port ? Number(u.port) : null });
  }

  /** Why the hall may not reach `url` on a command's word, or null when it may. Names are matched as
   *  written (an allowed name is the operator's to vouch for wherever it resolves); addresses against
   *  the listed addresses and blocks. */
  outboundProblem(url: string): string | null {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return `${url.slice(0, 80)} is not a URL`;
    }
    const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const port = u.port ? Number(u.port) : (DEFAULT_PORTS[u.protocol] ?? null);
    const family = isIP(host);
    const ok =
      this.names.some((e) => e.host === host && (e.port === null || e.port === port)) ||
      (family !== 0 && this.blocks.check(host, family === 4 ? 'ipv4' : 'ipv6')) ||
      (family === 0 && this.suffixes.some((suf) => host.endsWith(suf)));
    if (ok) return null;
    this.counters.refusedTargets += 1;
    return `${host}${u.port ? `:${u.port}` : ''} is not on this hall's outbound allowlist (beacon serve --allow-outbound HOST)`;
  }

  /** Why a command may not name this secret, or null. */
  secretProblem(name: string): string | null {
    if (this.secrets.has(name)) return null;
    this.counters.refusedSecrets += 1;
    return `the secret ${name} is not one this hall lets commands use (beacon serve --secret-env ${name}, with it set)`;
  }

  secret(name: string | null | undefined): string | undefined {
    return name ? this.secrets.get(name) : undefined;
  }

  /** The URL to store and journal: its credentials (`user:password@`, `?token=`) kept apart under `key`. */
  stash(key: string, url: string): string {
    return this.vault ? this.vault.split(key, url) : url;
  }

  /** The URL to connect to: what `stash` kept under `key` put back. */
  unstash(key: string, url: string): string {
    return this.vault ? this.vault.join(key, url) : url;
  }

  forget(key: string): void {
    this.vault?.forget(key);
  }

  stats() {
    return { ...this.counters, allowOutbound: this.allowOutbound.length, secrets: this.secrets.size };
  }
}
