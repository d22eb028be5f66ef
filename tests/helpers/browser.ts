// Debian's Chromium driven by playwright-core, with every request that is not to loopback blocked
// and recorded: the hall must work with no network at all.
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = process.env.BEACON_CHROMIUM ?? '/usr/bin/chromium';

/** `hostRules`: how names resolve (default: loopback only, every other name fails). */
export async function launch(extraArgs: string[] = [], hostRules = 'MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost'): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      ...extraArgs,
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // Software WebGL (SwiftShader): there is no GPU on these machines.
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      // Name resolution fails for every host but loopback, below the page's own routing.
      `--host-resolver-rules=${hostRules}`,
    ],
  });
}

/** A context whose pages can reach 127.0.0.1 only; `blocked` lists what anything tried otherwise. */
export async function offlineContext(browser: Browser, viewport = { width: 960, height: 600 }): Promise<{ context: BrowserContext; blocked: string[]; problems: string[] }> {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const blocked: string[] = [];
  const problems: string[] = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if ((u.protocol === 'http:' || u.protocol === 'ws:') && (u.hostname === '127.0.0.1' || u.hostname === 'localhost')) return route.continue();
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    blocked.push(u.href);
    return route.abort('blockedbyclient');
  });
  context.on('page', (page) => {
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const text = m.text();
      // Cesium's credit display writes an inline style attribute (the ion logo's alignment); the CSP
      // blocks it and nothing else changes. Everything else is a problem.
      if (/Applying inline style violates/.test(text)) return;
      problems.push(`console: ${text}`);
    });
  });
  return { context, blocked, problems };
}

/** For WebRTC between pages on this machine: real host candidates instead of mDNS names (which
 *  nothing resolves here), loopback allowed (a machine may have no other interface), and no timer
 *  throttling of a publishing page that is not in front. */
export const WEBRTC_ARGS = [
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--allow-loopback-in-peer-connection',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];
