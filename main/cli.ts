#!/usr/bin/env node
// The `beacon` command. `npm run serve -- --data DIR --port PORT` and `npm run beacon -- <command>`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HallCore } from './core/hall.ts';
import { runExport, runImport } from './import.ts';
import { callsOptions } from './core/calls/config.ts';
import { runTiles } from './tiles-cli.ts';
import { feedsOptions } from './core/feeds/config.ts';
import { Simulator } from './core/feeds/simulate.ts';
import { linkTargets } from './core/link/monitor.ts';
import { startLocalNetwork } from './core/network/local.ts';
import { provinceUplink } from './core/uplink/policy.ts';
import { defaultDataDir, packageRoot } from './core/paths.ts';
import { accessToken } from './core/security.ts';
import { runOperator, runToken } from './trust-cli.ts';
import { startServer } from './server/server.ts';

const HELP = `beacon — the hall core of Beacon (烽火)

Usage:
  beacon serve [--data DIR] [--host HOST] [--port PORT] [--static DIR] [--uplink HOST:PORT]...
               [--province mqtt://HOST:PORT --hall-id CODE]
               [--sip sip:USER@HOST[:PORT][;transport=udp|tcp|tls|ws|wss] [--sip-ca FILE]]
               [--modem /dev/ttyUSB0]
               [--dial-order video,voip,mobile,satellite] [--no-answer SECONDS] [--sip-media headset|terminal]
               [--bridge ws://HOST:PORT]
               [--feed KIND[:key=value,...]]...
      Start the hall core headless: the displays' pages over HTTP, the hub over WebSocket
      (/hub) on the same port, and the read-only API (/api/health, /api/topics).
      Binds 127.0.0.1 unless --host says otherwise; a non-loopback bind requires the
      access token (see 'beacon token'). Prints "listening on URL" when ready.
  beacon simulate [--host H] [--drones N] [--mavlink-port P] [--drone-hz HZ]
                  [--teams M] [--cot-port P] [--cot-udp] [--team-hz HZ]
                  [--mqtt URL [--mqtt-teams K]] [--seed S] [--duration SECONDS]
      Play a scenario onto a hall over the real wire formats: N drones over MAVLink UDP
      (default 6 to port 14550), M teams over CoT TCP (default 20 to port 8087), K teams
      as JSON over MQTT. Start the hall with --feed mavlink-udp --feed cot-tcp (and
      --feed mqtt-json:url=URL). Prints what it sent every 5 s; Ctrl-C stops.
  beacon simulate --halls [--data DIR] [--port P]
      A command network on this machine: Zhejiang 330000, Taizhou 331000 and Linhai 331082,
      each with its own mosquitto (bridged up the tree, ports P+10230..) and its own hall on
      ports P..P+2 (default 8600);
      prints each hall's URL. Data in DIR (default ./beacon-network). docs/network.md.
  beacon token [--data DIR]
      Print the hall's access token, which its own browser displays present (created on
      first use, stored in DIR/access-token; serve prints the URL to open with it).
  beacon token add --name NAME --role observer|duty|leader|admin [--data DIR]
      Issue a remote console its own token (shown once, stored as a hash in
      DIR/consoles.json): it can never do more than the role allows. Works at once.
  beacon token list | beacon token revoke ID|NAME
      The console tokens; revoking one closes its connections within a second.
  beacon operator add --id ID --name NAME --role observer|duty|leader|admin [--data DIR]
      Who may sign in at a display (the duty roster), with a PIN read from standard input
      or BEACON_PIN (at least 6 characters), stored as a scrypt hash in DIR/operators.json.
  beacon operator list | beacon operator remove ID
  beacon import typhoon FILE [--url ws://HOST:PORT/hub [--token T] | --data DIR]
      Import a CMA best-track file (CH<year>BST.txt): every storm in it, each bad line
      reported as FILE:LINE; importing the same file again changes nothing. With --url the
      running hall takes it (and every display shows it at once); without, it is written to
      the data directory, which no running hall may hold.
  beacon import advisory FILE [--url … | --data DIR]
      Import advisories in the hall's JSON form (docs/typhoon-advisory.md): one object or
      an array of them.
  beacon import boundaries FILE.geojson|FILE.shp [--gcj02] [--code-field NAME] [--url … | --data DIR]
      Import the bureau's county (or city) boundaries for the five-colour map, from GeoJSON or
      a shapefile (its .dbf, .prj and .cpg beside the .shp; GBK text without a .cpg): each feature
      checked (geometry, a known 6-digit code, longitude/latitude not a projected CRS),
      converted from GCJ-02 with --gcj02, simplified to ~50 m. Problems named by feature.
  beacon import contacts FILE.csv [--url … | --data DIR]
      Import directory rows (docs/calls.md for the columns). Every row is checked first; with
      any error nothing is written and each problem is named by line.
  beacon export contacts|calls [--url … | --data DIR]
      The directory, or the call log (newest first), as CSV on standard output.
  beacon tiles add-source --id ID --url TEMPLATE [--name N] [--format png|jpg|quantized-mesh] [--key K]
               [--min-zoom Z] [--max-zoom Z] [--max-cache-mb MB]
      Add (or replace) an online tile source: XYZ templates with {z} {x} {y}, {-y} for TMS,
      WMTS {TileMatrix} {TileCol} {TileRow}, {s} for subdomains, {k} for a key (Tianditu's tk);
      quantized-mesh for terrain (layer.json beside the tiles). Stored in DATA/tiles/sources.json.
  beacon tiles prefetch --source ID (--bbox W,S,E,N | --place CODE) --zoom MIN-MAX [--rate N]
      Prepare an area for offline use: fetch its tiles into the cache, pinned (never evicted),
      at most N tiles/s (default 20), with progress; Ctrl-C stops cleanly.
  beacon tiles import FILE.mbtiles --source ID
      Copy an existing MBTiles file into a source's cache (pinned). A file of another format
      (vector tiles into a PNG source, by metadata.format or the tiles' own bytes) is refused
      by name, and nothing is written.
  beacon tiles stats
      Tiles, size and pinned count per source.
  beacon --help

Options:
  --data DIR     data directory (default ${defaultDataDir()}); created and seeded with the
                 Zhejiang demonstration scenario when empty
  --host HOST    address to bind (default 127.0.0.1)
  --allow-host NAME  a name remote consoles use for this hall (repeatable): requests naming
                 any other host are refused (IP addresses and localhost always work)
  --allow-outbound H  a server a command may make the hall reach (repeatable): a media gateway,
                 a tile server or broker named by feed.add, video.put, tiles.source.put. HOST,
                 HOST:PORT, *.DOMAIN or a CIDR block (10.33.0.0/16); nothing else, loopback
                 included, is reached on a command's word (what --feed, --province, --uplink
                 name is the operator's own and needs no listing)
  --secret-env VAR  an environment variable a feed's password or a video source's token may
                 name (repeatable); read once at start and removed from the environment.
                 --feed passwordEnv= names are allowed by themselves
  --command-rate N  commands a second one session may send (default 50, and 4 × N at once);
                 more are refused with rate_limited. For consoles that script the hall
  --no-token     let anyone on this machine open the hall without a token (loopback binds
                 only; not for a duty PC that browses the web)
  --port PORT    TCP port (default 8600; 0 picks a free one)
  --static DIR   built renderer to serve (default out/renderer)
  --uplink [P://]H:P  an upstream endpoint to probe for the WAN state, in its own protocol:
                 mqtt://H:P (CONNECT, then PINGREQ), sip://H:P (OPTIONS over UDP), or
                 H:P / tcp://H:P (a TCP connect, e.g. a tile server); repeat for several.
                 The --province bus is probed too. Without any, the WAN shows as
                 "not monitored"
  --province URL the provincial MQTT bus (mqtt:// or mqtts://) to store-and-forward decisions
                 and positions to; needs --hall-id
  --hall-id CODE this hall's GB/T 2260 code in the bus's topic plan (e.g. 330000, 331000)
  --bus-user U   this hall's account on its bus (default hall-<code>), with its password in
                 BEACON_BUS_PASSWORD (docs/network.md: the bus's ACL gives each hall its own topics)
  --sip URI      the hall's account on the fused-communication platform (registrar/proxy);
                 the password comes from the environment variable BEACON_SIP_PASSWORD
  --sip-domain D the account's domain when it differs from the platform's host
  --sip-ca FILE  a CA certificate (PEM) to trust for TLS/WSS, e.g. the platform's own CA
  --modem PATH   the satellite terminal's serial port (AT commands)
  --dial-order L the channels one key tries, in order (default video,voip,mobile,satellite)
  --no-answer S  seconds a channel may ring before one key moves on (default 20)
  --sip-media headset|terminal  who carries a SIP call's voice: the calling display's headset over
                 WebRTC (the platform's border controller bridges it), or the hall's terminal (default)
  --bridge URL   the platform's conference bridge (MCU) that mixes consultations: its Janus
                 AudioBridge API, ws://HOST:PORT (without it each participant is a call of its own)
  --feed SPEC    a live feed, repeatable (docs/feeds.md): mavlink-udp[:port=14550],
                 cot-tcp[:port=8087], cot-tls:certFile=F,keyFile=F,caFile=F[,port=8089],
                 cot-udp[:port=8087], mqtt-json:url=mqtt://H:P[,topic=T],
                 dji-mqtt:url=mqtt://H:P[,gateway=SN],
                 tak-server:host=H[,port=8087,intervalS=10,certFile=F,keyFile=F,caFile=F] (hears a
                 TAK server and sends it the hall's picture), tak-mesh[:group=239.2.3.1,port=6969,
                 protocol=tak] (the same with a mesh group); each takes id=, name=, host=, allowFrom=A;B (listeners),
                 signingKeyEnv=VAR (MAVLink signing),
                 username=, passwordEnv=VAR, teamKind=, silentAfterS=, staleAfterS=, lostAfterS=.
                 Feeds added at run time (feed board, feed.add) are kept in the data directory
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd ? 0 : 1;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: cmd === 'import' || cmd === 'tiles' || cmd === 'export' || cmd === 'token' || cmd === 'operator',
    options: {
      data: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'allow-host': { type: 'string', multiple: true },
      'allow-outbound': { type: 'string', multiple: true },
      'secret-env': { type: 'string', multiple: true },
      'command-rate': { type: 'string' },
      'no-token': { type: 'boolean' },
      role: { type: 'string' },
      port: { type: 'string', default: '8600' },
      static: { type: 'string' },
      uplink: { type: 'string', multiple: true },
      province: { type: 'string' },
      'bus-user': { type: 'string' },
      'hall-id': { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      id: { type: 'string' },
      name: { type: 'string' },
      format: { type: 'string' },
      key: { type: 'string' },
      source: { type: 'string' },
      bbox: { type: 'string' },
      place: { type: 'string' },
      zoom: { type: 'string' },
      rate: { type: 'string' },
      'min-zoom': { type: 'string' },
      'max-zoom': { type: 'string' },
      'max-cache-mb': { type: 'string' },
      gcj02: { type: 'boolean' },
      'code-field': { type: 'string' },
      sip: { type: 'string' },
      'sip-domain': { type: 'string' },
      'sip-ca': { type: 'string' },
      modem: { type: 'string' },
      'dial-order': { type: 'string' },
      'no-answer': { type: 'string' },
      'sip-media': { type: 'string' },
      bridge: { type: 'string' },
      feed: { type: 'string', multiple: true },
      drones: { type: 'string' },
      'mavlink-port': { type: 'string' },
      'drone-hz': { type: 'string' },
      teams: { type: 'string' },
      'cot-port': { type: 'string' },
      'cot-udp': { type: 'boolean' },
      halls: { type: 'boolean' },
      'team-hz': { type: 'string' },
      mqtt: { type: 'string' },
      'mqtt-teams': { type: 'string' },
      seed: { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const dataDir = values.data ?? defaultDataDir();
  // Everything this process writes into a data directory is its owner's alone (security.ts,
  // keepPrivate, corrects what was written before).
  process.umask(0o077);
  if (cmd === 'token') return runToken(positionals[0], positionals.slice(1), { dataDir, name: values.name, role: values.role }, process.stdout, process.stderr);
  if (cmd === 'operator') return runOperator(positionals[0], positionals.slice(1), { dataDir, name: values.name, role: values.role, id: values.id }, process.stdout, process.stderr);
  if (cmd === 'import') {
    return runImport(positionals[0], positionals[1], { url: values.url, token: values.token, dataDir, gcj02: values.gcj02, codeField: values['code-field'] }, process.stdout, process.stderr);
  }
  if (cmd === 'export') return runExport(positionals[0], { url: values.url, token: values.token, dataDir }, process.stdout, process.stderr);
  if (cmd === 'tiles') return runTiles(positionals[0], positionals.slice(1), { ...values, dataDir }, process.stdout, process.stderr);
  if (cmd === 'simulate') return simulate(values);
  if (cmd !== 'serve') {
    process.stderr.write(`beacon: unknown command '${cmd}'\n\n${HELP}`);
    return 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`beacon: --port must be 0..65535, not '${values.port}'\n`);
    return 2;
  }
  const staticDir = values.static ?? join(packageRoot(), 'out', 'renderer');
  if (!existsSync(join(staticDir, 'index.html'))) process.stderr.write(`beacon: no renderer build in ${staticDir}; serving the API and hub only (run 'npm run build:renderer')\n`);
  // the hall's password on its bus: from the environment, read once and removed (never on the command line)
  const busPassword = process.env.BEACON_BUS_PASSWORD;
  delete process.env.BEACON_BUS_PASSWORD;
  const uplink = provinceUplink(values.province, values['hall-id'], busPassword, values['bus-user']);
  const targets = linkTargets(values.uplink ?? [], uplink?.url);
  const calls = callsOptions(values, process.env);
  // read once: the SIP password is the call desk's alone, never a secret a command can name
  delete process.env.BEACON_SIP_PASSWORD;
  const host = values.host!;
  const feeds = { ...feedsOptions(values.feed), listenHost: host, ...(uplink ? { hallId: uplink.hallId } : {}) };
  const fromFeeds = (feeds.feeds ?? []).flatMap((f) => ('passwordEnv' in f && f.passwordEnv ? [f.passwordEnv] : []));
  const reach = { allowOutbound: values['allow-outbound'] ?? [], secretEnv: [...new Set([...(values['secret-env'] ?? []), ...fromFeeds])] };
  const rate = values['command-rate'] === undefined ? 50 : Number(values['command-rate']);
  if (!(rate >= 1 && rate <= 1_000_000)) {
    process.stderr.write(`beacon: --command-rate must be 1..1000000, not '${values['command-rate']}'\n`);
    return 2;
  }
  const hub = { commandRate: { perSecond: rate, burst: rate * 4 } };
  // a hall on a bus reads the uplinks of the halls below it (docs/network.md)
  const network = uplink ? { hallId: uplink.hallId } : undefined;
  const core = await HallCore.start({ dataDir, link: { targets }, uplink, network, calls, feeds, reach, hub });
  const open = values['no-token'] ?? false;
  let server;
  try {
    server = await startServer({ core, host, port, staticDir, open, allowedHosts: values['allow-host'] ?? [] });
  } catch (err) {
    await core.dispose();
    throw err;
  }
  process.stdout.write(`data in ${dataDir}\n`);
  // As Jupyter does: one command for a new user, the URL to open already carries the token (the page
  // moves it out of the address bar at once).
  if (!open) process.stdout.write(`open ${server.url}/?token=${accessToken(dataDir)}\n`);
  else process.stdout.write(`no token asked (--no-token): anything on this machine may drive the hall\n`);
  const ops = core.desks.trust.operators.read().entries.length;
  if (!ops) process.stdout.write(`nobody can sign in yet: displays only look until you add an operator (beacon operator add --data ${dataDir} --id … --name … --role duty)\n`);
  process.stdout.write(`listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stdout.write('shutting down\n');
  await server.close();
  await core.dispose();
  return 0;
}

function count(v: string | undefined, name: string, def: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > max) throw new Error(`--${name} must be 0..${max}, not '${v}'`);
  return n;
}

/** `beacon simulate --halls`: three halls on three bridged buses, until Ctrl-C (docs/network.md). */
async function simulateHalls(dataDir: string, base: number): Promise<number> {
  const net = startLocalNetwork(dataDir, (l) => process.stderr.write(`${l}\n`), base);
  try {
    for (const h of net.halls) process.stdout.write(`${h.code} ${h.name}: ${await h.url}\n`);
  } catch (e) {
    await net.stop();
    throw e;
  }
  process.stdout.write('a command network of three halls is running: open the province and Taizhou boards (下级指挥中心, 下达指令), report an incident in Linhai; Ctrl-C stops\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await net.stop();
  return 0;
}

async function simulate(v: Record<string, string | boolean | string[] | undefined>): Promise<number> {
  const s = (k: string) => v[k] as string | undefined;
  if (v.halls) return simulateHalls((v.data as string | undefined) ?? join(process.cwd(), 'beacon-network'), count(s('port'), 'port', 8600, 55000));
  const host = s('host') ?? '127.0.0.1';
  const sim = new Simulator({
    host,
    drones: count(s('drones'), 'drones', 6, 250),
    mavlinkPort: count(s('mavlink-port'), 'mavlink-port', 14550, 65535),
    droneHz: count(s('drone-hz'), 'drone-hz', 2, 50),
    teams: count(s('teams'), 'teams', 20, 100000),
    cotPort: count(s('cot-port'), 'cot-port', 8087, 65535),
    cotTransport: v['cot-udp'] ? 'udp' : 'tcp',
    teamHz: count(s('team-hz'), 'team-hz', 0.5, 50),
    mqttUrl: s('mqtt'),
    mqttTeams: s('mqtt') ? count(s('mqtt-teams'), 'mqtt-teams', 10, 100000) : 0,
    seed: count(s('seed'), 'seed', 1, 2 ** 31),
  });
  await sim.start();
  process.stdout.write(`simulating onto ${host}: MAVLink udp ${s('mavlink-port') ?? 14550}, CoT ${v['cot-udp'] ? 'udp' : 'tcp'} ${s('cot-port') ?? 8087}${s('mqtt') ? `, MQTT ${s('mqtt')}` : ''}\n`);
  const report = setInterval(
    () => process.stdout.write(`sent: MAVLink ${sim.sent.mavlink}, CoT ${sim.sent.cot}, MQTT ${sim.sent.mqtt}; send errors ${sim.errors.mavlink + sim.errors.cot + sim.errors.mqtt}\n`),
    5000,
  );
  const duration = s('duration') ? count(s('duration'), 'duration', 0, 86400 * 30) * 1000 : null;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (duration !== null) setTimeout(resolve, duration);
  });
  clearInterval(report);
  await sim.stop();
  process.stdout.write(`stopped: MAVLink ${sim.sent.mavlink}, CoT ${sim.sent.cot}, MQTT ${sim.sent.mqtt} positions sent\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`beacon: ${err.message}\n`);
    process.exitCode = 1;
  },
);
