// Two transports for one contract: the preload's bridge (Electron) and a WebSocket (browser displays,
// remote consoles). Both deliver validated ServerMessages and accept ClientMessages.
import type { BeaconBridge } from '../../common/bridge.ts';
import { type ClientMessage, parseServerFrame, type ServerMessage } from '../../common/contract.ts';

export interface TransportHandlers {
  open(): void;
  message(msg: ServerMessage): void;
  close(reason: string): void;
  invalid(reason: string): void;
}
export interface Transport {
  connect(h: TransportHandlers): void;
  send(msg: ClientMessage): void;
  close(): void;
}

/** Snapshots of large topics are big; this bounds what a display will parse from the hall. */
const MAX_SERVER_FRAME = 64 * 1024 * 1024;

export class WebSocketTransport implements Transport {
  private ws: WebSocket | null = null;
  private readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  connect(h: TransportHandlers): void {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => h.open();
    ws.onmessage = (e: MessageEvent) => {
      if (typeof e.data !== 'string') return h.invalid('binary frame');
      const r = parseServerFrame(e.data, MAX_SERVER_FRAME);
      if (r.ok) h.message(r.msg);
      else h.invalid(r.error.message);
    };
    ws.onclose = (e: CloseEvent) => {
      if (this.ws === ws) this.ws = null;
      h.close(`${e.code}${e.reason ? ' ' + e.reason : ''}`);
    };
  }
  send(msg: ClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }
  close(): void {
    this.ws?.close(1000, 'display closed');
    this.ws = null;
  }
}

export class BridgeTransport implements Transport {
  private readonly bridge: BeaconBridge;
  private off: (() => void) | null = null;
  constructor(bridge: BeaconBridge) {
    this.bridge = bridge;
  }
  connect(h: TransportHandlers): void {
    this.off = this.bridge.onMessage((m) => h.message(m));
    h.open();
  }
  send(msg: ClientMessage): void {
    switch (msg.t) {
      case 'hello':
        return this.bridge.hello(msg.client);
      case 'sub':
        return this.bridge.subscribe(msg.topic, msg.since);
      case 'unsub':
        return this.bridge.unsubscribe(msg.topic);
      case 'cmd':
        return this.bridge.command(msg.id, msg.name, msg.args);
    }
  }
  close(): void {
    this.off?.();
  }
}
