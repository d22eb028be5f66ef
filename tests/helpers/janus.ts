// Janus (Debian's `janus` package), standing in the tests for the platform's conference bridge (MCU)
// (issue 22): its AudioBridge mixes a consultation, its Streaming plugin takes the video terminals'
// cameras, its VideoRoom sends them the consultation's picture. It runs on loopback with only those
// plugins and its WebSocket API; plain-RTP
// participants (the SIP legs) get ports from ranges of their own.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mosquitto.ts';
import { type Served, serve } from './serve.ts';
import type { Endpoint, SipPlatform } from './sip.ts';
import { until } from './until.ts';

export const JANUS = process.env.BEACON_JANUS ?? '/usr/bin/janus';
const LIB = '/usr/lib/x86_64-linux-gnu/janus';

/** Why Janus cannot run here, or null. */
export function janusUnavailable(): string | null {
  if (!existsSync(JANUS)) return `${JANUS} not installed (apt-get install janus)`;
  if (!existsSync(join(LIB, 'plugins', 'libjanus_audiobridge.so'))) return 'the AudioBridge plugin is missing';
  return null;
}

/** The address baresip puts in its SDP: the first non-loopback IPv4 interface's. Janus 1.1 does not
 *  latch (it sends where the SDP says and takes only what comes from there), so its plain-RTP ports
 *  must be on that address too: a packet from baresip then leaves from the address it advertised. */
export function mediaAddress(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

export class Mcu {
  port = 0;
  log = '';
  private proc: ChildProcess | null = null;
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = join(dir, 'janus');
    mkdirSync(this.dir, { recursive: true });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    // a restart keeps its address, as the platform's MCU would
    this.port ||= await freePort();
    const rtp = 40000 + ((process.pid * 37) % 20000);
    writeFileSync(
      join(this.dir, 'janus.jcfg'),
      `general: {
  configs_folder = "${this.dir}"
  plugins_folder = "${LIB}/plugins"
  transports_folder = "${LIB}/transports"
  events_folder = "${LIB}/events"
  loggers_folder = "${LIB}/loggers"
  debug_level = ${process.env.JANUS_DEBUG ?? 4}
  session_timeout = 60
}
media: {
  rtp_port_range = "${rtp}-${rtp + 199}"
}
nat: {
  nice_debug = false
}
plugins: {
  disable = "libjanus_voicemail.so,libjanus_sip.so,libjanus_nosip.so,libjanus_lua.so,libjanus_duktape.so,libjanus_recordplay.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_echotest.so"
}
transports: {
  disable = "libjanus_http.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so"
}
events: {
}
loggers: {
}
`,
    );
    writeFileSync(join(this.dir, 'janus.plugin.audiobridge.jcfg'), `general: {\n  rtp_port_range = "${rtp + 200}-${rtp + 399}"\n  local_ip = "${mediaAddress()}"\n}\n`);
    // the Streaming plugin takes the video terminals' cameras (plain RTP) and serves them by WebRTC;
    // the VideoRoom takes the consultation's picture from the panel and forwards it to their screens
    writeFileSync(join(this.dir, 'janus.plugin.streaming.jcfg'), `general: {\n  rtp_port_range = "${rtp + 400}-${rtp + 599}"\n}\n`);
    writeFileSync(join(this.dir, 'janus.plugin.videoroom.jcfg'), `general: {\n}\n`);
    writeFileSync(
      join(this.dir, 'janus.transport.websockets.jcfg'),
      `general: {\n  json = "plain"\n  ws = true\n  ws_port = ${this.port}\n  ws_ip = "127.0.0.1"\n  wss = false\n}\nadmin: {\n  admin_ws = false\n}\n`,
    );
    this.proc = spawn(JANUS, ['-C', join(this.dir, 'janus.jcfg'), '-F', this.dir, '-o'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    try {
      await until('janus listening', () => this.proc!.exitCode !== null || /Websockets server started/i.test(this.log), 20_000);
    } catch (e) {
      await this.stop();
      throw new Error(`${(e as Error).message}:\n${this.log.slice(-3000)}`);
    }
    if (this.proc.exitCode !== null) throw new Error(`janus exited:\n${this.log}`);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    let t: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (t = setTimeout(r, 5000)))]);
    clearTimeout(t);
    if (p.exitCode === null) p.kill('SIGKILL');
    this.proc = null;
  }
}

/** A consultation's test bed: the SIP platform and the bridge started, the endpoints registered, a hall
 *  (`beacon serve`) on both, and the contacts (directory CSV) imported. */
export async function consultationHall(platform: SipPlatform, mcu: Mcu, endpoints: Endpoint[], dir: string, contacts: string): Promise<Served> {
  await Promise.all([platform.start(), mcu.start()]);
  for (const e of endpoints) await e.start();
  const hall = await serve(['--data', join(dir, 'hall'), '--port', '0', '--sip', `sip:hall@127.0.0.1:${platform.port};transport=udp`, '--bridge', mcu.url], 60_000, {
    BEACON_SIP_PASSWORD: 'pw-hall',
  });
  const admin = await hall.client('admin');
  await admin.command('contacts.import', { csv: contacts });
  admin.dispose();
  return hall;
}
