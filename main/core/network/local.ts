// `beacon simulate --halls`: a small command network on one machine, so a newcomer sees it work
// (issue 20): Zhejiang 330000, Taizhou 331000 and Linhai 331082, each with its own mosquitto, the
// county's broker bridged to the city's and the city's to the province's as docs/network.md says,
// and each hall as its own `beacon serve` process on its bus. Needs mosquitto (Debian's package).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.ts';

/** The halls, their buses' ports and their pages' ports as offsets from the base port (8600). */
export const LOCAL_HALLS = [
  { code: '330000', name: '浙江省', at: 0 },
  { code: '331000', name: '台州市', at: 1, parent: '330000', bridge: ['beacon/+/up/# out 1', 'beacon/+/down/# in 1'] },
  { code: '331082', name: '临海市', at: 2, parent: '331000', bridge: ['beacon/331082/up/# out 1', 'beacon/331082/down/# in 1'] },
] as const;
/** A hall's bus listens this far above its page's port (8600 → 18830). */
const BUS_OFFSET = 10230;

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p)) ?? null;

export interface LocalNetwork {
  halls: { code: string; name: string; url: Promise<string> }[];
  stop(): Promise<void>;
}

/** Start the three buses and halls under `dir` (data kept there between runs). */
export function startLocalNetwork(dir: string, log: (line: string) => void, base = 8600): LocalNetwork {
  if (!MOSQUITTO) throw new Error('beacon simulate --halls needs mosquitto (apt-get install mosquitto)');
  const procs: ChildProcess[] = [];
  const port = Object.fromEntries(LOCAL_HALLS.map((h) => [h.code, base + BUS_OFFSET + h.at])) as Record<string, number>;
  for (const h of LOCAL_HALLS) {
    const d = join(dir, `bus-${h.code}`);
    mkdirSync(d, { recursive: true });
    const conf = [
      `listener ${port[h.code]} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${d}/`,
      ...('parent' in h
        ? [`connection bridge-${h.code}`, `address 127.0.0.1:${port[h.parent]}`, `remote_clientid bridge-${h.code}`, 'cleansession false', 'restart_timeout 1 5', ...h.bridge.map((t) => `topic ${t}`)]
        : []),
      '',
    ];
    writeFileSync(join(d, 'mosquitto.conf'), conf.join('\n'));
    const p = spawn(MOSQUITTO, ['-c', join(d, 'mosquitto.conf')], { stdio: 'ignore' });
    procs.push(p);
  }
  const halls = LOCAL_HALLS.map((h) => {
    const p = spawn(
      process.execPath,
      [join(packageRoot(), 'main', 'cli.ts'), 'serve', '--data', join(dir, h.code), '--port', String(base + h.at), '--province', `mqtt://127.0.0.1:${port[h.code]}`, '--hall-id', h.code],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    procs.push(p);
    let out = '';
    p.stderr!.on('data', (b: Buffer) => log(`[${h.name}] ${b.toString().trimEnd()}`));
    const url = new Promise<string>((resolve, reject) => {
      p.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /open (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      p.once('exit', (c) => reject(new Error(`${h.name} exited (${c})`)));
    });
    return { code: h.code, name: h.name, url };
  });
  return {
    halls,
    async stop() {
      for (const p of procs.reverse()) {
        if (p.exitCode !== null) continue;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await gone;
      }
    },
  };
}
