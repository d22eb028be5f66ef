// Start `beacon serve` as a user would (a child process), wait for its "listening on" line. The data
// directory gets the test roster first (one operator per role, TEST_PIN), so tests can act as a duty
// officer, a leader, an administrator or an observer, as a hall's people would.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launch, offlineContext, WEBRTC_ARGS } from './browser.ts';
import type { OperatorRole } from '../../common/trust.ts';
import { Operators } from '../../main/core/trust/credentials.ts';
import { HubClient } from '../../renderer/hub/client.ts';
import { WebSocketTransport } from '../../renderer/hub/transport.ts';

export const TEST_PIN = '582046';
/** The test roster: `<role>1` for each role, named as a hall would. */
export const TEST_OPERATORS: Record<OperatorRole, { id: string; name: string }> = {
  duty: { id: 'duty1', name: '值班员甲' },
  leader: { id: 'leader1', name: '带班领导乙' },
  admin: { id: 'admin1', name: '管理员丙' },
  observer: { id: 'observer1', name: '观察员丁' },
};

/** Write the test roster into a data directory (before a hall starts, or while it runs). */
export async function seedOperators(dataDir: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const ops = new Operators(dataDir);
  for (const [role, o] of Object.entries(TEST_OPERATORS)) if (!ops.get(o.id)) await ops.put({ ...o, role: role as OperatorRole, pin: TEST_PIN });
}

/** A hub client on `hubUrl` (with its token), open, and signed in as the role's test operator. */
export async function hubClient(hubUrl: string, role?: OperatorRole, name = 'test-console', opts: { minBackoffMs?: number; maxBackoffMs?: number } = {}): Promise<HubClient> {
  const c = new HubClient(new WebSocketTransport(hubUrl), { client: name, ...opts });
  const deadline = Date.now() + 15_000;
  while (c.state !== 'open' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (role) c.setWho((await c.command('session.signIn', { operator: TEST_OPERATORS[role].id, pin: TEST_PIN })).who);
  return c;
}

export interface Served {
  url: string;
  /** The hall's access token, as `serve` printed it in the URL to open. */
  token: string;
  /** ws://…/hub?token=… */
  hubUrl: string;
  /** A hub client with the access token, signed in as the role's test operator (none: not signed in). */
  client(role?: OperatorRole, name?: string): Promise<HubClient>;
  /** A sign-in ticket for the role's test operator. */
  ticket(role: OperatorRole): Promise<string>;
  /** Every page of this context opens with the token, signed in as the role's operator (or nobody). */
  trust(context: BrowserContext, role?: OperatorRole): Promise<void>;
  proc: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Browser tests open the probe build (npm run build:renderer:probe): the production one has no probe. */
const PROBE_BUILD = fileURLToPath(new URL('../../out/renderer-probe', import.meta.url));

export async function serve(args: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const dataAt = args.indexOf('--data');
  if (dataAt >= 0) await seedOperators(args[dataAt + 1]!);
  const withStatic = args.includes('--static') ? args : [...args, '--static', PROBE_BUILD];
  const proc = spawn(process.execPath, ['main/cli.ts', 'serve', ...withStatic], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
  const token = /open http:\/\/\S+\/\?token=(\S+)/.exec(out)?.[1] ?? '';
  const hubUrl = `${url.replace('http', 'ws')}/hub${token ? `?token=${token}` : ''}`;
  const client = (role?: OperatorRole, name = 'test-console') => hubClient(hubUrl, role, name);
  const ticket = async (role: OperatorRole) => {
    const c = await client(undefined, 'ticket');
    try {
      return (await c.command('session.signIn', { operator: TEST_OPERATORS[role].id, pin: TEST_PIN })).ticket;
    } finally {
      c.dispose();
    }
  };
  return {
    url,
    token,
    hubUrl,
    client,
    ticket,
    async trust(context, role) {
      const t = role ? await ticket(role) : null;
      await context.addInitScript(
        ([origin, tok, tic]) => {
          // only the hall's own pages (not about:blank, workers' documents or a sandboxed answer)
          if (location.origin !== origin) return;
          sessionStorage.setItem('beacon.token', tok!);
          if (tic) sessionStorage.setItem('beacon.ticket', tic);
        },
        [new URL(url).origin, token, t],
      );
    },
    proc,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** The call panel of `hall` in Debian's Chromium, its fake microphone playing `wav`, signed in as the
 *  duty officer, once the hall is registered with its platform (issue 22's headset tests). */
export async function callPanel(hall: Served, wav: string, camera?: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await launch([
    ...WEBRTC_ARGS,
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`,
    ...(camera ? [`--use-file-for-fake-video-capture=${camera}`] : []),
  ]);
  const ctx = await offlineContext(browser, { width: 1280, height: 800 });
  await hall.trust(ctx.context, 'duty');
  const page = await ctx.context.newPage();
  await page.goto(`${hall.url}/?role=calls`);
  await page.locator('[data-test="sb-sip"][data-state="registered"]').waitFor({ timeout: 30_000 });
  return { browser, page };
}
