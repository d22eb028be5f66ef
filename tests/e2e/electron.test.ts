// The Electron app end to end (Playwright's _electron). Runs where the Electron binary is installed;
// on machines where it cannot be downloaded (CI here) the suite is skipped and says why.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOperators, TEST_OPERATORS, TEST_PIN } from '../helpers/serve.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where `electron` would run from, without triggering its download-on-first-use. */
function electronBinary(): string | null {
  const dir = join(ROOT, 'node_modules', 'electron');
  const pathTxt = join(dir, 'path.txt');
  if (!existsSync(pathTxt)) return null;
  const bin = join(dir, 'dist', readFileSync(pathTxt, 'utf8').trim());
  return existsSync(bin) ? bin : null;
}

const binary = electronBinary();
const suite = binary ? describe : describe.skip;
if (!binary) console.log('electron e2e: skipped: no Electron binary (node_modules/electron/dist is missing; it downloads from GitHub, which this machine cannot reach)');

suite(binary ? 'the Electron app' : 'the Electron app (skipped: no Electron binary)', () => {
  let app: ElectronApplication;
  let xvfb: ChildProcess | null = null;
  // Made in beforeAll: a skipped suite still runs this body to collect its tests.
  let data = '';

  beforeAll(async () => {
    data = mkdtempSync(join(tmpdir(), 'beacon-electron-'));
    await seedOperators(data);
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    const env: Record<string, string> = { ...(process.env as Record<string, string>), BEACON_DATA_DIR: data, BEACON_FEEDS: 'cot-udp:host=127.0.0.1,port=0,id=field' };
    if (process.platform === 'linux') {
      // Two screens joined by Xinerama: Electron's screen module reports two displays.
      xvfb = spawn('Xvfb', [':97', '+xinerama', '-screen', '0', '1280x720x24', '-screen', '1', '1280x720x24'], { stdio: 'ignore' });
      xvfb.on('error', (e) => console.log(`electron e2e: Xvfb did not start (${e.message}); using DISPLAY=${process.env.DISPLAY}`));
      await new Promise((r) => setTimeout(r, 1000));
      env.DISPLAY = ':97';
    }
    app = await electron.launch({ executablePath: binary!, args: [ROOT], env });
  });
  afterAll(async () => {
    await app?.close();
    xvfb?.kill();
    if (data) rmSync(data, { recursive: true, force: true });
  });

  it('opens one window per display with the planned roles', async () => {
    await expect.poll(() => app.windows().length, { timeout: 30_000 }).toBe(2);
    const roles = app
      .windows()
      .map((w) => new URL(w.url()).searchParams.get('role'))
      .sort();
    expect(roles).toEqual(['calls', 'globe']);
  });

  it('sandboxes the renderer: no Node, only the port handover, navigation and popups blocked', async () => {
    const page = app.windows()[0]!;
    await page.waitForLoadState('domcontentloaded');
    const probe = await page.evaluate(() => ({
      require: typeof (globalThis as { require?: unknown }).require,
      process: typeof (globalThis as { process?: unknown }).process,
      bridge: Object.keys((window as unknown as { beacon: object }).beacon).sort(),
    }));
    expect(probe).toEqual({ require: 'undefined', process: 'undefined', bridge: ['acquirePort'] });
    const before = page.url();
    await page.evaluate(() => {
      window.open('https://example.com');
      location.href = 'https://example.com';
    });
    await page.waitForTimeout(500);
    expect(page.url()).toBe(before);
    expect(app.windows()).toHaveLength(2);
  });

  it('hydrates the roles from the hub over the MessagePort', async () => {
    const calls = app.windows().find((w) => w.url().includes('role=calls'))!;
    await expect.poll(() => calls.locator('[data-test="hall-link"]').textContent(), { timeout: 30_000 }).toContain('已连接');
    await calls.locator('[data-test="level-city"]').click();
    await expect.poll(() => calls.locator('[data-test="contact-count"]').textContent()).toBe('显示 11 / 11 条');
  });

  it('feeds from BEACON_FEEDS are on the board; video goes through app://, never the network', async () => {
    const board = app.windows().find((w) => w.url().includes('role=board')) ?? app.windows()[0]!;
    if (!board.url().includes('role=board')) await board.goto('app://beacon/index.html?role=board');
    await expect.poll(() => board.locator('[data-test="feed-board"] tr[data-feed="field"]').getAttribute('data-state'), { timeout: 30_000 }).toMatch(/online|degraded/);
    // The video route answers inside the app (an unknown source: 404 with the reason), over app://.
    const r = await board.evaluate(async () => {
      const res = await fetch('/video/none/whep', { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
      return { status: res.status, text: await res.text() };
    });
    expect(r).toEqual({ status: 404, text: 'no video source none' });
  });

  it('one key over the MessagePort: with no platform or terminal configured, the call says why it failed', async () => {
    const calls = app.windows().find((w) => w.url().includes('role=calls'))!;
    await calls.locator('[data-test="sb-sip"][data-state="none"]').waitFor({ timeout: 30_000 });
    // a window is one of the hall's displays: the duty officer signs in at it to dial
    await calls.locator('[data-test="sign-in"]').click();
    await calls.locator('[data-test="sign-in-operator"]').selectOption(TEST_OPERATORS.duty.id);
    await calls.locator('[data-test="sign-in-pin"]').fill(TEST_PIN);
    await calls.locator('[data-test="sign-in-submit"]').click();
    await calls.locator('[data-test="operator"]').waitFor({ timeout: 10_000 });
    await calls.locator('[data-test="dial-c-330100"]').click();
    await calls.locator('[data-test="call-c-330100"][data-state="failed"]').waitFor({ timeout: 30_000 });
    expect(await calls.locator('[data-test="call-c-330100"] .attempts li').first().textContent()).toMatch(/未配置融合通信平台/);
  });
});
