// One hub client per page, over a MessagePort in Electron or a WebSocket in a browser.
import type { BeaconBridge } from '../../common/bridge.ts';
import { HubClient } from './client.ts';
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
  client = new HubClient(transport, { client: `display:${new URLSearchParams(location.search).get('role') ?? 'globe'}`, ticket: () => sessionStorage.getItem(TICKET_KEY) });
  return client;
}

/** The query string tile URLs need: remote displays present the access token on tiles too. */
export function tileQuery(): string {
  const t = sessionStorage.getItem('beacon.token');
  return t ? `?token=${encodeURIComponent(t)}` : '';
}
