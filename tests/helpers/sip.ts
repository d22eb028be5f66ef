// A real SIP platform on loopback for the tests: Kamailio as registrar and proxy with digest auth
// (every user's password is `pw-<user>`), and baresip user agents that auto-answer, reject (486)
// or never answer, driven over baresip's ctrl_tcp socket (netstring JSON) for a far-end hang-up.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from './mosquitto.ts';
import { KAMAILIO } from './kamailio.ts';
import { until } from './until.ts';

export const BARESIP = process.env.BEACON_BARESIP ?? '/usr/bin/baresip';
export const RTPENGINE = process.env.BEACON_RTPENGINE ?? '/usr/bin/rtpengine';
const KMODS =
  ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules'].find((d) => existsSync(d)) ?? '/usr/lib/x86_64-linux-gnu/kamailio/modules';
const BMODS = ['/usr/lib/baresip/modules', '/usr/lib/x86_64-linux-gnu/baresip/modules'].find((d) => existsSync(d)) ?? '/usr/lib/baresip/modules';

/** Kamailio as the hall's platform: UDP and TCP on one port, TLS and WebSocket-over-TLS (WSS) on two
 *  more with a certificate made for the run (`ca` to trust it), REGISTER and the hall's INVITEs
 *  challenged (digest, realm "beacon"), calls routed to registered users, everything else 404. */
export class SipPlatform {
  private proc: ChildProcess | null = null;
  private media: ChildProcess | null = null;
  log = '';
  /** rtpengine's log, when it stands for the platform's session border controller. */
  mediaLog = '';
  readonly dir: string;
  /** With rtpengine as the border controller (issue 22): a WebRTC offer (ICE, DTLS-SRTP) from a
   *  display is turned into plain RTP for the far end, and its answer back. */
  readonly sbc: boolean;
  port = 0;
  tlsPort = 0;
  wssPort = 0;
  /** The platform's self-signed certificate (PEM), to trust for TLS and WSS. */
  ca = '';
  /** The address it listens on (and its endpoints), and how its processes are started: on this
   *  host's loopback by default, or inside a network namespace beyond a link the test can cut. */
  readonly host: string;
  readonly wrap: (cmd: string, args: string[]) => [string, string[]];
  constructor(dir: string, opts: { sbc?: boolean; host?: string; wrap?: (cmd: string, args: string[]) => [string, string[]] } = {}) {
    this.dir = dir;
    this.sbc = opts.sbc ?? false;
    this.host = opts.host ?? '127.0.0.1';
    this.wrap = opts.wrap ?? ((cmd, args) => [cmd, args]);
    mkdirSync(dir, { recursive: true });
  }
  /** Start a program where the platform runs. */
  spawn(cmd: string, args: string[]): ChildProcess {
    const [c, a] = this.wrap(cmd, args);
    return spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  async start(): Promise<void> {
    let ng = 0;
    if (this.sbc) {
      ng = await freePort();
      const low = 30000 + Math.floor(Math.random() * 2000) * 10;
      this.media = this.spawn(RTPENGINE, [
        '--foreground',
        '--log-stderr',
        '--log-level=6',
        '--table=-1',
        `--interface=${this.host}`,
        `--listen-ng=${this.host}:${ng}`,
        `--port-min=${low}`,
        `--port-max=${low + 99}`,
        `--pidfile=${join(this.dir, 'rtpengine.pid')}`,
      ]);
      this.media.stdout!.on('data', (d: Buffer) => (this.mediaLog += d.toString()));
      this.media.stderr!.on('data', (d: Buffer) => (this.mediaLog += d.toString()));
      await until('rtpengine listening', () => this.media!.exitCode !== null || /Startup complete|control ng|listening/i.test(this.mediaLog), 10_000);
      if (this.media.exitCode !== null) throw new Error(`rtpengine exited:\n${this.mediaLog}`);
    }
    this.port ||= await freePort();
    this.tlsPort ||= await freePort();
    this.wssPort ||= await freePort();
    const key = join(this.dir, 'key.pem');
    const cert = join(this.dir, 'cert.pem');
    if (!existsSync(cert)) {
      const r = spawnSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${this.host}`, '-addext', `subjectAltName=IP:${this.host}`],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    }
    this.ca = readFileSync(cert, 'utf8');
    writeFileSync(
      join(this.dir, 'tls.cfg'),
      [
        '[server:default]',
        'method = TLSv1.2+',
        'verify_certificate = no',
        'require_certificate = no',
        `private_key = ${key}`,
        `certificate = ${cert}`,
        '',
        '[client:default]',
        'method = TLSv1.2+',
        'verify_certificate = no',
        'require_certificate = no',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(this.dir, 'kamailio.cfg'),
      `#!KAMAILIO
debug=1
log_stderror=yes
children=2
tcp_children=2
listen=udp:${this.host}:${this.port}
listen=tcp:${this.host}:${this.port}
listen=tls:${this.host}:${this.tlsPort}
listen=tls:${this.host}:${this.wssPort}
enable_tls=yes
tcp_accept_no_cl=yes
mpath="${KMODS}/"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "tls.so"
loadmodule "xhttp.so"
loadmodule "websocket.so"
loadmodule "nathelper.so"
${
  this.sbc
    ? `loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "udp:${this.host}:${ng}")`
    : ''
}
modparam("tls", "config", "${join(this.dir, 'tls.cfg')}")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 2)
modparam("tm", "fr_inv_timer", 120000)
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483","Too Many Hops"); exit; }
  # WebSocket clients (RFC 7118): their Contact is a made-up .invalid host, reached through the
  # connection they came in on.
  if (nat_uac_test("64")) {
    force_rport();
    if (is_method("REGISTER")) fix_nated_register();
    else if (!add_contact_alias()) { sl_send_reply("400", "Bad Request"); exit; }
  }
  if (has_totag()) {
    ${this.sbc ? 'if (is_method("BYE")) rtpengine_delete();' : ''}
    ${
      this.sbc
        ? `# a re-INVITE from the display (hold, resume) crosses the border controller as the first did
    if (is_method("INVITE") && search_body("UDP/TLS/RTP/SAVPF")) {
      rtpengine_offer("RTP/AVP ICE=remove DTLS=off SDES-off rtcp-mux-demux replace-origin replace-session-connection");
      t_on_reply("SBC");
    }`
        : ''
    }
    if (loose_route()) { if (!handle_ruri_alias()) { sl_send_reply("400", "Bad alias"); exit; } t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404","Not here"); exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
  if (is_method("OPTIONS") && $rU==$null) { sl_send_reply("200", "OK"); exit; }
  t_check_trans();
  $var(pw) = "pw-" + $fU;
  if (is_method("REGISTER")) {
    if (!pv_www_authenticate("beacon", "$var(pw)", "0")) { www_challenge("beacon", "0"); exit; }
    save("location"); exit;
  }
  if (is_method("INVITE") && $fU =~ "^hall") {
    if (!pv_proxy_authenticate("beacon", "$var(pw)", "0")) { proxy_challenge("beacon", "0"); exit; }
    consume_credentials();
  }
  if (is_method("INVITE")) record_route();
  # A gateway that is down: the platform's own 503.
  if ($rU == "gateway-down") { sl_send_reply("503", "Service Unavailable"); exit; }
  if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
  ${
    this.sbc
      ? `# the border controller: a WebRTC offer becomes plain RTP for the far end, its answer WebRTC again
  if (is_method("INVITE") && search_body("UDP/TLS/RTP/SAVPF")) {
    rtpengine_offer("RTP/AVP ICE=remove DTLS=off SDES-off rtcp-mux-demux replace-origin replace-session-connection");
    t_on_reply("SBC");
  }`
      : ''
  }
  t_relay();
}
${
  this.sbc
    ? `onreply_route[SBC] {
  if (status =~ "^2" && has_body("application/sdp")) rtpengine_answer("UDP/TLS/RTP/SAVPF ICE=force rtcp-mux-require replace-origin replace-session-connection");
}`
    : ''
}
event_route[xhttp:request] {
  if ($hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {
    if (ws_handle_handshake()) exit;
  }
  xhttp_reply("404", "Not Found", "", "");
}
`,
    );
    this.proc = this.spawn(KAMAILIO, ['-f', join(this.dir, 'kamailio.cfg'), '-DD', '-E', '-m', '32', '-M', '4', '-P', join(this.dir, 'kamailio.pid'), '-Y', this.dir]);
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await until('kamailio listening', () => this.proc!.exitCode !== null || /INFO: .*main|listening on/.test(this.log) || tcpOpen(this.port, this.host), 15_000);
    if (this.proc.exitCode !== null) throw new Error(`kamailio exited:\n${this.log}`);
  }
  /** SIGSTOP / SIGCONT the border controller: the call's media stops and resumes, its signalling not. */
  signalMedia(sig: NodeJS.Signals): void {
    this.media?.kill(sig);
  }
  async stop(): Promise<void> {
    const m = this.media;
    m?.kill('SIGCONT');
    if (m && m.exitCode === null) {
      const gone = new Promise((r) => m.once('exit', r));
      m.kill('SIGTERM');
      await gone;
    }
    this.media = null;
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    this.proc = null;
  }
}

function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((r) => {
    const c = connect(port, host);
    c.once('connect', () => (c.destroy(), r(true)));
    c.once('error', () => r(false));
  });
}

export type EndpointMode = 'answer' | 'reject' | 'ignore';

/** A baresip user agent registered to the platform as `user` (password `pw-<user>`). */
export class Endpoint {
  readonly user: string;
  mode: EndpointMode;
  private proc: ChildProcess | null = null;
  private ctrl: Socket | null = null;
  private ctrlPort = 0;
  private buf = '';
  private tokens = 0;
  private readonly replies = new Map<string, (r: { ok: boolean; data: string }) => void>();
  log = '';
  /** ctrl_tcp events (CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED, REGISTER_OK, ...). */
  readonly events: { type: string; param?: string; peeruri?: string }[] = [];
  private readonly dir: string;
  private readonly platform: SipPlatform;

  /** `play`: a WAV file it sends instead of a 440 Hz tone; `record`: a folder where it writes what
   *  it received, decoded (baresip's sndfile: `dump-*-dec.wav`). */
  private readonly audio: { play?: string; record?: string; tone?: number; levels?: boolean; video?: boolean | 'echo' };

  /** `tone`: the sine it plays (Hz, default 440); `levels`: it sends RFC 6464 audio levels, as a
   *  conference bridge's voice activity needs; `video`: a video terminal, VP8 from baresip's fakevideo
   *  (a still card of red, green and blue bars, 320x240 at 15 fps), or `echo`: one that sends back the
   *  picture it receives. */
  constructor(platform: SipPlatform, user: string, mode: EndpointMode, dir: string, audio: { play?: string; record?: string; tone?: number; levels?: boolean; video?: boolean | 'echo' } = {}) {
    this.platform = platform;
    this.user = user;
    this.mode = mode;
    this.audio = audio;
    this.dir = join(dir, `ua-${user}`);
    mkdirSync(this.dir, { recursive: true });
  }

  count(type: string): number {
    return this.events.filter((e) => e.type === type).length;
  }

  async start(): Promise<void> {
    this.ctrlPort = await freePort();
    writeFileSync(
      join(this.dir, 'config'),
      [
        'poll_method epoll',
        `sip_listen ${this.platform.host}:0`,
        'call_local_timeout 120',
        'call_max_calls 4',
        // No sound card here: a 440 Hz tone goes out (so the hall sees RTP), what comes in is dropped.
        'audio_player aubridge,nil',
        'audio_alert aubridge,nil',
        this.audio.play ? `audio_source aufile,${this.audio.play}` : `audio_source ausine,${this.audio.tone ?? 440}`,
        ...(this.audio.levels ? ['audio_level yes'] : []),
        // 'echo': the terminal's camera is the picture it shows (baresip's vidbridge), so a moving picture
        // sent to it comes back moving, encoded by the far end
        ...(this.audio.video === 'echo'
          ? ['video_source vidbridge,echo', 'video_display vidbridge,echo', 'video_size 320x240', 'video_fps 15', 'video_bitrate 300000']
          : this.audio.video
            ? ['video_source fakevideo,nil', 'video_display fakevideo,nil', 'video_size 320x240', 'video_fps 15', 'video_bitrate 300000']
            : []),
        'ausrc_srate 48000',
        'auplay_srate 48000',
        'ausrc_channels 2',
        'auplay_channels 2',
        `module_path ${BMODS}`,
        'module g711.so',
        'module ausine.so',
        ...(this.audio.play ? ['module aufile.so'] : []),
        ...(this.audio.record ? ['module sndfile.so', `snd_path ${this.audio.record}`] : []),
        'module aubridge.so',
        // snapshot: `snapshot_recv <path>` saves the next picture the terminal shows, as PNG
        ...(this.audio.video ? ['module vp8.so', 'module fakevideo.so', 'module vidbridge.so', 'module snapshot.so'] : []),
        'module account.so',
        'module menu.so',
        'module ctrl_tcp.so',
        `ctrl_tcp_listen ${this.platform.host}:${this.ctrlPort}`,
        '',
      ].join('\n'),
    );
    const answer = this.mode === 'answer' ? 'auto' : 'manual';
    writeFileSync(join(this.dir, 'accounts'), `<sip:${this.user}@${this.platform.host}:${this.platform.port};transport=udp>;auth_pass=pw-${this.user};answermode=${answer};regint=600\n`);
    this.proc = this.platform.spawn(BARESIP, ['-f', this.dir]);
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await until(`baresip ${this.user} control socket`, () => this.proc!.exitCode !== null || tcpOpen(this.ctrlPort, this.platform.host), 15_000);
    if (this.proc.exitCode !== null) throw new Error(`baresip exited:\n${this.log}`);
    this.ctrl = connect(this.ctrlPort, this.platform.host);
    this.ctrl.on('data', (d: Buffer) => this.onCtrl(d.toString()));
    // A control socket that breaks would silently eat the test's commands: say so in the log.
    this.ctrl.on('error', (e) => (this.log += `\n[test] control socket error: ${e.message}\n`));
    this.ctrl.on('close', () => (this.log += '\n[test] control socket closed\n'));
    await until(`baresip ${this.user} registered`, () => /200 OK .*binding/.test(this.log), 15_000);
  }

  private onCtrl(text: string): void {
    this.buf += text;
    // Netstrings: <len>:<json>,
    for (;;) {
      const colon = this.buf.indexOf(':');
      if (colon < 0) return;
      const len = Number(this.buf.slice(0, colon));
      if (this.buf.length < colon + 1 + len + 1) return;
      const json = this.buf.slice(colon + 1, colon + 1 + len);
      this.buf = this.buf.slice(colon + 2 + len);
      let m: { event?: boolean; response?: boolean; ok?: boolean; data?: string; token?: string; type?: string; param?: string; peeruri?: string };
      try {
        m = JSON.parse(json) as typeof m;
      } catch {
        continue;
      }
      if (m.response && m.token) {
        this.replies.get(m.token)?.({ ok: m.ok === true, data: String(m.data ?? '') });
        this.replies.delete(m.token);
        continue;
      }
      if (!m.event || !m.type) continue;
      this.events.push({ type: m.type, param: m.param, peeruri: m.peeruri });
      // A rejecting endpoint declines every call as it rings (baresip answers 486).
      if (m.type === 'CALL_INCOMING' && this.mode === 'reject') this.command('hangup').catch(() => undefined);
    }
  }

  /** Send a ctrl_tcp command; resolves with baresip's reply (or rejects, with the log, if none comes). */
  command(cmd: string, params = ''): Promise<{ ok: boolean; data: string }> {
    const token = `t${++this.tokens}`;
    const j = JSON.stringify({ command: cmd, params, token });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(token);
        reject(new Error(`baresip ${this.user} did not answer "${cmd}" within 5 s; events ${this.events.map((e) => e.type).join(',')}\n${this.log.slice(-2000)}`));
      }, 5000);
      this.replies.set(token, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      if (!this.ctrl || this.ctrl.destroyed) return reject(new Error(`baresip ${this.user}: control socket is gone\n${this.log.slice(-2000)}`));
      this.ctrl.write(`${Buffer.byteLength(j)}:${j},`);
    });
  }

  /** Hang up the current call from this end (BYE to the hall); resolves with baresip's reply. */
  hangup(): Promise<{ ok: boolean; data: string }> {
    return this.command('hangup');
  }

  /** What this endpoint saw, for a failing test's message. */
  describe(): string {
    return `baresip ${this.user}: events ${this.events.map((e) => e.type).join(',') || 'none'}\n${this.log.slice(-3000)}`;
  }

  async stop(): Promise<void> {
    this.ctrl?.destroy();
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    let t: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (t = setTimeout(r, 3000)))]);
    clearTimeout(t);
    if (p.exitCode === null) p.kill('SIGKILL');
    this.proc = null;
  }
}
