// Trust in a real browser (issue #18): a rebinding page in Debian Chromium cannot read or drive the
// hall, and each role's display shows the controls that role may use and no others, signed in
// through the status bar as a duty officer would (zh-CN first).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, offlineContext } from '../helpers/browser.ts';
import { type Served, serve, TEST_OPERATORS, TEST_PIN } from '../helpers/serve.ts';

/** Sign the role's test operator in through the status bar, as a person would. */
async function signInAt(page: Page, role: 'duty' | 'leader' | 'admin', pin = TEST_PIN): Promise<void> {
  await page.locator('[data-test="sign-in"]').click();
  await page.locator('[data-test="sign-in-operator"]').selectOption(TEST_OPERATORS[role].id);
  await page.locator('[data-test="sign-in-pin"]').fill(pin);
  await page.locator('[data-test="sign-in-submit"]').click();
}

describe('trust in the browser', () => {
  let server: Served;
  let browser: Browser;
  const data = mkdtempSync(join(tmpdir(), 'beacon-trust-'));

  beforeAll(async () => {
    server = await serve(['--data', data, '--port', '0']);
    browser = await launch();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(data, { recursive: true, force: true });
  });

  it('a page whose name was rebound to 127.0.0.1 reads nothing and does nothing, token or not', async () => {
    const port = new URL(server.url).port;
    const evil = `http://rebind.attacker.test:${port}`;
    // After the rebinding, the attacker's name resolves to this machine; Chromium is told so. Its own
    // guard against public pages reaching local addresses (Private/Local Network Access) would stop
    // the attack before the hall sees it: off, so the hall's guard is what is tested.
    const rebinder = await launch(
      [
        '--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets',
      ],
      'MAP rebind.attacker.test 127.0.0.1, MAP * ~NOTFOUND',
    );
    try {
      const context = await rebinder.newContext();
      // The attacker's page, as their server sent it before the name was rebound: it then asks the
      // "same origin" for the directory, the call log, and to set a risk level, with a stolen
      // token for good measure (the worst case: the hall must refuse by name alone).
      const attack = `<!doctype html><script>
        window.result = (async () => {
          const out = {};
          for (const p of ['/api/topics/contacts', '/api/topics/calls', '/api/topics/contacts?token=${server.token}', '/']) {
            try { const r = await fetch(p); out[p] = r.status + ' ' + (await r.text()).slice(0, 200); } catch (e) { out[p] = 'error ' + e.message; }
          }
          out.ws = await new Promise((ok) => {
            const ws = new WebSocket('ws://' + location.host + '/hub?token=${server.token}');
            ws.onopen = () => { ws.send(JSON.stringify({ t: 'hello', v: 1, client: 'evil' })); ok('open'); };
            ws.onerror = () => ok('refused');
          });
          return out;
        })();
      </script>`;
      await context.route(`${evil}/attack`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: attack }));
      const page = await context.newPage();
      await page.goto(`${evil}/attack`);
      const result = (await page.evaluate('window.result')) as Record<string, string>;
      expect(result['/api/topics/contacts']).toMatch(/^403 .*does not answer to the name rebind\.attacker\.test/);
      expect(result['/api/topics/calls']).toMatch(/^403 /);
      expect(result[`/api/topics/contacts?token=${server.token}`]).toMatch(/^403 /);
      expect(result['/']).toMatch(/^403 /);
      expect(result.ws).toBe('refused');
      const health = (await (await fetch(`${server.url}/api/health`, { headers: { authorization: `Bearer ${server.token}` } })).json()) as { http: { badHost: number } };
      expect(health.http.badHost).toBeGreaterThanOrEqual(5);
    } finally {
      await rebinder.close();
    }
  });

  it('each role sees its own controls: nobody looks, a duty officer signs in and reports, a leader decides, an administrator configures', async () => {
    const { context, blocked, problems } = await offlineContext(browser, { width: 1280, height: 900 });
    try {
      await server.trust(context);
      const board = await context.newPage();
      await board.goto(`${server.url}/?role=board`);
      const signIn = board.locator('[data-test="sign-in"]');
      await expect.poll(() => signIn.textContent(), { timeout: 30_000 }).toBe('未登录 · 只读 · 登录');
      // nobody signed in: the lists, and nothing to press that would fail
      await expect.poll(() => board.locator('[data-test="board-incidents"]').count()).toBe(1);
      expect(await board.locator('[data-test="incident-form"]').count()).toBe(0);
      expect(await board.locator('[data-test="feed-add"]').count()).toBe(0);
      expect(await board.locator('[data-test="duty"]').isDisabled()).toBe(true);

      // a wrong PIN is refused, and says so in Chinese
      await signInAt(board, 'duty', '999999');
      await expect.poll(() => board.locator('[data-test="sign-in-error"]').textContent(), { timeout: 10_000 }).toBe('操作员或口令不正确');
      await board.locator('[data-test="sign-in-pin"]').fill(TEST_PIN);
      await board.locator('[data-test="sign-in-submit"]').click();
      await expect.poll(() => board.locator('[data-test="operator"]').textContent(), { timeout: 10_000 }).toBe('值班员甲 · 值班员');
      await expect.poll(() => board.locator('[data-test="incident-form"]').count()).toBe(1);
      expect(await board.locator('[data-test="feed-add"]').count()).toBe(0); // feeds are the administrator's
      expect(await board.locator('[data-test="duty"]').isDisabled()).toBe(false);
      await board.locator('[data-test="incident-county"]').selectOption({ label: '温岭市' });
      await board.locator('[data-test="incident-title"]').fill('城区内涝');
      await board.locator('[data-test="incident-report"]').click();
      await expect.poll(() => board.locator('[data-test="incident"]').first().textContent(), { timeout: 15_000 }).toMatch(/城区内涝.*值班员甲/);
      // a reload keeps the operator signed in (the ticket), a sign-out ends it
      await board.reload();
      await expect.poll(() => board.locator('[data-test="operator"]').textContent(), { timeout: 30_000 }).toBe('值班员甲 · 值班员');
      await board.locator('[data-test="sign-out"]').click();
      await expect.poll(() => board.locator('[data-test="incident-form"]').count(), { timeout: 10_000 }).toBe(0);

      // the calls display: keys for a duty officer, none for nobody
      const calls = await context.newPage();
      await calls.goto(`${server.url}/?role=calls`);
      await expect.poll(() => calls.locator('[data-test="contacts"] li').count(), { timeout: 30_000 }).toBeGreaterThan(0);
      expect(await calls.locator('[data-test^="dial-"]').count()).toBe(0);

      // an administrator: the feed form, not the incident form
      await signInAt(board, 'admin');
      await expect.poll(() => board.locator('[data-test="operator"]').textContent(), { timeout: 10_000 }).toBe('管理员丙 · 系统管理员');
      await expect.poll(() => board.locator('[data-test="feed-add"]').count()).toBe(1);
      expect(await board.locator('[data-test="incident-form"]').count()).toBe(0);
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the wall and the globe: nobody gets no grid and no settings; a duty officer lays out the wall, an administrator the map sources', async () => {
    const { context, problems } = await offlineContext(browser, { width: 1280, height: 900 });
    try {
      await server.trust(context);
      const wall = await context.newPage();
      await wall.goto(`${server.url}/?role=wall&display=trust-wall`);
      await expect.poll(() => wall.locator('[data-test="sign-in"]').count(), { timeout: 30_000 }).toBe(1);
      await expect.poll(() => wall.locator('[data-test="grid-4"]').count(), { timeout: 30_000 }).toBe(1);
      expect(await wall.locator('[data-test="grid-4"]').isDisabled()).toBe(true);
      const signIn = async (page: Page, role: 'duty' | 'admin') => {
        await signInAt(page, role);
        await expect.poll(() => page.locator('[data-test="operator"]').textContent(), { timeout: 10_000 }).toMatch(TEST_OPERATORS[role].name);
      };
      await signIn(wall, 'duty');
      await expect.poll(() => wall.locator('[data-test="grid-4"]').isDisabled()).toBe(false);
      await wall.locator('[data-test="grid-4"]').click();
      await expect.poll(() => wall.locator('[data-test="wall-grid"]').getAttribute('data-grid'), { timeout: 10_000 }).toBe('4');
      expect(await wall.locator('[data-test="wall-tile"]').count()).toBe(4);

      const globe = await context.newPage();
      await globe.goto(`${server.url}/?role=globe&msaa=1`);
      await globe.locator('[data-test="open-tiles"]').click({ timeout: 60_000 });
      await expect.poll(() => globe.locator('[data-test="tile-sources"]').count(), { timeout: 10_000 }).toBe(1);
      expect(await globe.locator('[data-test="add-source"]').count()).toBe(0);
      expect(await globe.locator('[data-test="prepare"]').count()).toBe(0);
      await signIn(globe, 'admin');
      await expect.poll(() => globe.locator('[data-test="add-source"]').count()).toBe(1);
      expect(await globe.locator('[data-test="prepare"]').count()).toBe(1);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('a duty officer signed in on the calls display gets the keys', async () => {
    const { context, problems } = await offlineContext(browser, { width: 1280, height: 900 });
    try {
      await server.trust(context, 'duty');
      const calls = await context.newPage();
      await calls.goto(`${server.url}/?role=calls`);
      await expect.poll(() => calls.locator('[data-test^="dial-"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
      expect(await calls.locator('[data-test="operator"]').textContent()).toBe('值班员甲 · 值班员');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
