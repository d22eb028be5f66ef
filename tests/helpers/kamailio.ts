// A real Kamailio SIP server on loopback, started by the test with a minimal configuration: it
// answers OPTIONS with 200 (the keep-alive every SIP platform answers) and anything else with 404.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeProber } from '../../main/core/link/probes.ts';

export const KAMAILIO = process.env.BEACON_KAMAILIO ?? '/usr/sbin/kamailio';
const MODULES =
  ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules'].find((d) => existsSync(d)) ?? '/usr/lib/x86_64-linux-gnu/kamailio/modules';

/** A free UDP port on loopback. */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export class Kamailio {
  private proc: ChildProcess | null = null;
  log = '';
  readonly port: number;
  readonly dir: string;
  constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'kamailio.cfg'),
      [
        '#!KAMAILIO',
        'debug=1',
        'log_stderror=yes',
        'children=1',
        'tcp_children=1',
        `listen=udp:127.0.0.1:${this.port}`,
        `mpath="${MODULES}/"`,
        'loadmodule "sl.so"',
        'loadmodule "textops.so"',
        'request_route {',
        '  if (is_method("OPTIONS")) { sl_send_reply("200", "Beacon test OK"); exit; }',
        '  sl_send_reply("404", "Not here");',
        '}',
        '',
      ].join('\n'),
    );
  }
  async start(): Promise<void> {
    this.proc = spawn(KAMAILIO, ['-f', join(this.dir, 'kamailio.cfg'), '-DD', '-E', '-m', '16', '-M', '4', '-P', join(this.dir, 'kamailio.pid'), '-Y', this.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    // Ready when it answers an OPTIONS.
    const end = Date.now() + 15_000;
    const p = makeProber('sip', '127.0.0.1', this.port);
    try {
      for (;;) {
        if ((await p.run(300)).ok) return;
        if (this.proc.exitCode !== null) throw new Error(`kamailio exited:\n${this.log}`);
        if (Date.now() > end) throw new Error(`kamailio did not answer on ${this.port}:\n${this.log}`);
      }
    } finally {
      p.close();
    }
  }
  /** Every process of the group (kamailio forks workers): SIGSTOP wedges the whole server. */
  signal(sig: NodeJS.Signals): void {
    if (!this.proc?.pid) return;
    for (const pid of childPids(this.proc.pid)) process.kill(pid, sig);
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    this.signal('SIGCONT');
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    this.proc = null;
  }
}

function childPids(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // gone
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  return out;
}
