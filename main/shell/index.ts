// The Electron shell: lifecycle, one window per display, a MessagePort per window to the hub, the
// app:// protocol. The only folder that imports 'electron'; every decision it applies is made in
// main/core (plan.ts, security.ts) where tests reach it.
import { app, BrowserWindow, ipcMain, MessageChannelMain, net, protocol, screen, session } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Role } from '../../common/contract.ts';
import { HallCore } from '../core/hall.ts';
import { DISPLAY } from '../core/hub/hub.ts';
import { attachPort } from '../core/hub/port.ts';
import { linkTargets } from '../core/link/monitor.ts';
import { callsOptions } from '../core/calls/config.ts';
import { feedsOptions } from '../core/feeds/config.ts';
import { provinceUplink } from '../core/uplink/policy.ts';
import { diffWindows, mergeLayout, planWindows, roleFromUrl, type WindowPlan } from '../core/layout/plan.ts';
import { packageRoot } from '../core/paths.ts';
import { tileRoute } from '../core/tiles/route.ts';
import { APP_ORIGIN, CSP, ipcSenderTrusted, navigationAllowed, permissionAllowed } from '../core/security.ts';
import { resolveStatic } from '../server/static.ts';

protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } }]);

const root = packageRoot();
const rendererDir = join(root, 'out', 'renderer');
const preloadPath = join(root, 'out', 'preload', 'index.cjs');
const windows = new Map<string, { win: BrowserWindow; role: Role }>();
let core: HallCore | null = null;

if (!app.requestSingleInstanceLock()) app.quit();

app.on('web-contents-created', (_e, wc) => {
  wc.on('will-navigate', (e, url) => {
    if (!navigationAllowed(url)) e.preventDefault();
  });
  wc.on('will-redirect', (e, url) => {
    if (!navigationAllowed(url)) e.preventDefault();
  });
  // any frame, not only the main one (a frame the page never meant to have)
  wc.on('will-frame-navigate', (e) => {
    if (!navigationAllowed(e.url)) e.preventDefault();
  });
  wc.setWindowOpenHandler(() => ({ action: 'deny' }));
  wc.on('will-attach-webview', (e) => e.preventDefault());
});

ipcMain.on('beacon:connect', (event) => {
  const frame = event.senderFrame;
  if (!core || !frame || !ipcSenderTrusted(frame.url, frame === event.sender.mainFrame)) return;
  const role = new URL(frame.url).searchParams.get('role') ?? 'unknown';
  const { port1, port2 } = new MessageChannelMain();
  attachPort(
    core.hub,
    {
      onMessage: (cb) => port1.on('message', (e) => cb(e.data)),
      onClose: (cb) => port1.on('close', cb),
      post: (t) => port1.postMessage(t),
      close: () => port1.close(),
    },
    `window:${role}`,
    DISPLAY,
  );
  port1.start();
  event.sender.postMessage('beacon:port', null, [port2]);
});

function serveApp(): void {
  protocol.handle('app', async (req) => {
    const url = new URL(req.url);
    if (url.host !== 'beacon') return new Response('not found', { status: 404 });
    if (url.pathname.startsWith('/tiles/')) {
      if (!core) return new Response('starting', { status: 503 });
      const a = await tileRoute(core.desks.tiles.service, url.pathname);
      return new Response(typeof a.body === 'string' ? a.body : new Uint8Array(a.body), { status: a.status, headers: a.headers });
    }
    if (url.pathname.startsWith('/video/')) {
      if (!core) return new Response('starting', { status: 503 });
      const body = req.method === 'POST' ? Buffer.from(await req.arrayBuffer()) : null;
      const a = await core.desks.video.route(req.method, url.pathname, body, req.headers.get('content-type') ?? undefined);
      return new Response(a.body === null || typeof a.body === 'string' ? a.body : Buffer.isBuffer(a.body) ? new Uint8Array(a.body) : a.body, { status: a.status, headers: a.headers });
    }
    const file = resolveStatic(rendererDir, url.pathname);
    if (!file) return new Response('not found', { status: 404 });
    const res = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(res.headers);
    if (file.endsWith('.html')) headers.set('content-security-policy', CSP);
    return new Response(res.body, { status: res.status, headers });
  });
  // Nothing leaves the hall from a window: tiles and data come through app:// and the hub port.
  session.defaultSession.webRequest.onBeforeRequest({ urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*'] }, (_d, cb) => cb({ cancel: true }));
  const s = session.defaultSession;
  s.setPermissionRequestHandler((_wc, perm, cb, details) => cb(permissionAllowed(perm, details.requestingUrl)));
  s.setPermissionCheckHandler((wc, perm, _origin, details) => permissionAllowed(perm, details.requestingUrl ?? wc?.getURL()));
  s.setDevicePermissionHandler(() => false);
  s.on('select-hid-device', (e, _d, cb) => {
    e.preventDefault();
    cb('');
  });
  s.on('select-serial-port', (e, _p, _wc, cb) => {
    e.preventDefault();
    cb('');
  });
  s.on('select-usb-device', (e, _d, cb) => {
    e.preventDefault();
    cb();
  });
}

function openWindow(p: WindowPlan): BrowserWindow {
  const win = new BrowserWindow({
    ...p.bounds,
    fullscreen: p.fullscreen,
    show: false,
    backgroundColor: '#0b1220',
    title: 'Beacon 烽火',
    webPreferences: { preload: preloadPath, contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, spellcheck: false },
  });
  win.once('ready-to-show', () => win.show());
  // The operator switched this screen's role from its status bar: remember it for this display.
  win.webContents.on('did-navigate', (_e, url) => {
    const role = roleFromUrl(url);
    const w = windows.get(p.key);
    if (!core || !role || !w || w.role === role) return;
    w.role = role;
    const saved = core.get<{ assignments: Record<string, Role> }>('layouts', 'default')?.assignments ?? {};
    void core.record('layout.saved', 'layout:default', { id: 'default', assignments: { ...saved, [p.key]: role } }, `window:${role}`);
  });
  void win.loadURL(`${APP_ORIGIN}/index.html?role=${p.role}`);
  return win;
}

async function applyPlan(): Promise<void> {
  if (!core) return;
  const displays = screen.getAllDisplays();
  const primaryId = screen.getPrimaryDisplay().id;
  const saved = (core.get<{ assignments: Record<string, Role> }>('layouts', 'default')?.assignments ?? {}) as Record<string, Role>;
  const plan = planWindows(
    displays.map((d) => ({ id: d.id, bounds: d.bounds, primary: d.id === primaryId })),
    saved,
  );
  const changes = diffWindows(
    [...windows].map(([key, w]) => ({ key, role: w.role })),
    plan,
  );
  for (const key of changes.close) {
    windows.get(key)?.win.destroy();
    windows.delete(key);
  }
  for (const p of changes.update) {
    const w = windows.get(p.key)!;
    w.win.setBounds(p.bounds);
    if (w.role !== p.role) {
      w.role = p.role;
      void w.win.loadURL(`${APP_ORIGIN}/index.html?role=${p.role}`);
    }
  }
  for (const p of changes.open) windows.set(p.key, { win: openWindow(p), role: p.role });
  const merged = mergeLayout(saved, plan);
  if (JSON.stringify(merged) !== JSON.stringify(saved)) await core.record('layout.saved', 'layout:default', { id: 'default', assignments: merged }, 'shell');
}

// Everything the app writes into its data directory is the user's alone (security.ts, keepPrivate).
process.umask(0o077);

void app.whenReady().then(async () => {
  serveApp();
  // Upstream endpoints to probe for the WAN state, "host:port,host:port" (settings UI to come).
  const uplink = provinceUplink(process.env.BEACON_PROVINCE, process.env.BEACON_HALL_ID, process.env.BEACON_BUS_PASSWORD, process.env.BEACON_BUS_USER);
  delete process.env.BEACON_BUS_PASSWORD;
  const targets = linkTargets((process.env.BEACON_UPLINKS ?? '').split(',').filter(Boolean), uplink?.url);
  const env = process.env;
  // One-key connect, as `beacon serve` takes it: --sip … in the environment's BEACON_* names.
  const calls = callsOptions(
    {
      sip: env.BEACON_SIP,
      'sip-domain': env.BEACON_SIP_DOMAIN,
      'sip-ca': env.BEACON_SIP_CA,
      modem: env.BEACON_MODEM,
      'dial-order': env.BEACON_DIAL_ORDER,
      'no-answer': env.BEACON_NO_ANSWER,
      'sip-media': env.BEACON_SIP_MEDIA,
      bridge: env.BEACON_BRIDGE,
    },
    env,
  );
  // Live feeds: BEACON_FEEDS holds `--feed` specs separated by ';' (docs/feeds.md); more are added
  // on the board and kept in the data directory.
  const feeds = feedsOptions(
    (env.BEACON_FEEDS ?? '')
      .split(';')
      .map((f) => f.trim())
      .filter(Boolean),
  );
  delete env.BEACON_SIP_PASSWORD;
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  // as serve's --allow-outbound and --secret-env (docs/security.md)
  const reach = { allowOutbound: list(env.BEACON_ALLOW_OUTBOUND), secretEnv: list(env.BEACON_SECRET_ENV) };
  const network = uplink ? { hallId: uplink.hallId } : undefined;
  core = await HallCore.start({ dataDir: env.BEACON_DATA_DIR ?? app.getPath('userData'), link: { targets }, uplink, network, calls, feeds, reach });
  await applyPlan();
  let timer: NodeJS.Timeout | null = null;
  const replan = () => {
    if (timer) clearTimeout(timer);
    // Displays come and go in bursts (a wall controller re-enumerates): settle before replanning.
    timer = setTimeout(() => void applyPlan(), 500);
  };
  screen.on('display-added', replan);
  screen.on('display-removed', replan);
  screen.on('display-metrics-changed', replan);
});

app.on('window-all-closed', () => app.quit());
app.on('will-quit', (e) => {
  if (!core) return;
  e.preventDefault();
  const c = core;
  core = null;
  void c.dispose().finally(() => app.exit(0));
});
