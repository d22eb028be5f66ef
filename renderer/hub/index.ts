// One hub client per page, over a MessagePort in Electron or a WebSocket in a browser.
import type { BeaconBridge } from '../../common/bridge.ts';
import { Area } from '../../common/contract.ts';
import { type HubClientOptions, HubClient } from './client.ts';
import { acquirePort, MessagePortTransport, type Transport, WebSocketTransport } from './transport.ts';

let client: HubClient | null = null;

/** Where a display keeps its sign-in ticket: this window's session only (a reload keeps it, closing
 *  the window or the browser ends it). */
export const TICKET_KEY = 'beacon.ticket';

/** Remote displays open `/?token=…`; the token moves to sessionStorage and out of the address bar
 *  (and so out of screenshots and the history). */
function takeToken(): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem('beacon.token', fromUrl);
    url.searchParams.delete('token');
    history.replaceState(null, '', url);
  }
  return sessionStorage.getItem('beacon.token');
}

export function useHub(): HubClient {
  if (client) return client;
  const bridge = (window as unknown as { beacon?: BeaconBridge }).beacon;
  let transport: Transport;
  if (bridge) transport = new MessagePortTransport(() => acquirePort(bridge));
  else {
    const token = takeToken();
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    transport = new WebSocketTransport(`${proto}//${location.host}/hub${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  }
  const q = new URLSearchParams(location.search);
  client = new HubClient(transport, { client: `display:${q.get('role') ?? 'globe'}`, ticket: () => sessionStorage.getItem(TICKET_KEY), narrow: narrowFrom(q) });
  return client;
}

/**
 * What a display behind a thin link asks of the units (issue 23), from its address:
 * `units.bbox=W,S,E,N` (several joined by `;`), `units.codes=331000,331081` (counties or cities),
 * `units.every=5` (seconds between two updates of one unit). A value that is not one is ignored.
 */
function narrowFrom(q: URLSearchParams): HubClientOptions['narrow'] {
  const bbox = (q.get('units.bbox') ?? '')
    .split(';')
    .map((b) => b.split(',').map(Number))
    .filter((b) => b.length === 4 && b.every(Number.isFinite)) as [number, number, number, number][];
  const codes = (q.get('units.codes') ?? '').split(',').filter((c) => /^\d{6}$/.test(c));
  const area = Area.safeParse({ ...(bbox.length ? { bbox } : {}), ...(codes.length ? { codes } : {}) });
  const every = Math.round(Number(q.get('units.every')) * 1000);
  const units = { ...(area.success ? { area: area.data } : {}), ...(every >= 250 && every <= 600_000 ? { every } : {}) };
  return Object.keys(units).length ? { units } : undefined;
}

/** The query string tile URLs need: remote displays present the access token on tiles too. */
export function tileQuery(): string {
  const t = sessionStorage.getItem('beacon.token');
  return t ? `?token=${encodeURIComponent(t)}` : '';
}
