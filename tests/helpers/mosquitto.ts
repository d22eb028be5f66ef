// A real mosquitto broker on loopback, started and stopped by the test (persistence on, so a
// durable subscriber's session survives a broker restart, as the province's does).
import mqtt from 'mqtt';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

export const MOSQUITTO = process.env.BEACON_MOSQUITTO ?? '/usr/sbin/mosquitto';
/** Debian's mosquitto package ships it beside the broker. */
const MOSQUITTO_PASSWD = process.env.BEACON_MOSQUITTO_PASSWD ?? '/usr/bin/mosquitto_passwd';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function listening(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A bridge to a parent broker: `topics` in mosquitto's form (`beacon/331082/up/# out 1`). */
export interface Bridge {
  name: string;
  port: number;
  topics: string[];
}

export class Broker {
  private proc: ChildProcess | null = null;
  log = '';
  readonly port: number;
  readonly dir: string;
  constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.configure({ anonymous: true });
  }
  /** Takes effect at the next start. Without anonymous access and with no users, every client is
   *  refused (CONNACK "not authorized"), as a bus with the hall's account missing would do. */
  /** `acl`: mosquitto's acl_file text (per-user topic rules). */
  configure(o: { anonymous: boolean; users?: Record<string, string>; bridge?: Bridge; acl?: string }): void {
    const users = Object.entries(o.users ?? {});
    if (o.acl !== undefined) writeFileSync(join(this.dir, 'acl'), o.acl);
    if (users.length) {
      // mosquitto_passwd hashes them (PBKDF2), as a bus's operator would
      const file = join(this.dir, 'passwd');
      writeFileSync(file, '');
      for (const [u, p] of users) execFileSync(MOSQUITTO_PASSWD, ['-b', file, u, p]);
    }
    writeFileSync(
      join(this.dir, 'mosquitto.conf'),
      [
        `listener ${this.port} 127.0.0.1`,
        `allow_anonymous ${o.anonymous}`,
        ...(users.length ? [`password_file ${join(this.dir, 'passwd')}`] : []),
        ...(o.acl !== undefined ? [`acl_file ${join(this.dir, 'acl')}`] : []),
        'persistence true',
        `persistence_location ${this.dir}/`,
        'user root',
        'max_queued_messages 100000',
        ...(o.bridge
          ? [
              // as a city's broker is bridged to the province's: a durable session, restarted fast
              `connection ${o.bridge.name}`,
              `address 127.0.0.1:${o.bridge.port}`,
              `remote_clientid ${o.bridge.name}`,
              'cleansession false',
              'restart_timeout 1 2',
              'keepalive_interval 5',
              ...o.bridge.topics.map((t) => `topic ${t}`),
            ]
          : []),
        '',
      ].join('\n'),
    );
  }
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc = spawn(MOSQUITTO, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await listening(this.port);
  }
  /** Leave a durable QoS 1 session for `clientId` on `topic` (the province's subscriber, which the
   *  bus queues for while it is away), then stop the broker; its persistence keeps the session. */
  async withDurableSession(clientId: string, topic: string): Promise<void> {
    await this.start();
    const c = await mqtt.connectAsync(this.url, { clientId, clean: false, reconnectPeriod: 0 });
    await c.subscribeAsync(topic, { qos: 1 });
    await c.endAsync();
    await this.stop();
  }
  /** SIGSTOP / SIGCONT: a wedged broker. The kernel still accepts TCP connections into the listen
   *  backlog, but nothing answers at the MQTT level. */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }
  resume(): void {
    this.proc?.kill('SIGCONT');
  }
  /** SIGTERM: mosquitto saves its persistent sessions and exits. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    this.proc = null;
  }
}
