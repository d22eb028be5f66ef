// The hub over a message port (Electron's MessagePortMain, one per window; Node's MessagePort in
// tests). Frames are JSON text, exactly as on the WebSocket, so one validator serves both.
import type { Credential, Hub, Session } from './hub.ts';

export interface PortLike {
  /** Register the message callback; receives the posted value. */
  onMessage(cb: (data: unknown) => void): void;
  onClose(cb: () => void): void;
  post(text: string): void;
  close(): void;
}

/** `credential`: an Electron window is one of the hall's displays (its operator signs in). */
export function attachPort(hub: Hub, port: PortLike, origin: string, credential: Credential): Session {
  const session = hub.connect({ origin, send: (t) => port.post(t), close: () => port.close(), buffered: () => 0 }, credential);
  port.onMessage((data) => {
    if (typeof data !== 'string') session.reject({ code: 'bad_frame', message: 'frames are JSON text' });
    else session.receive(data);
  });
  port.onClose(() => session.ended());
  return session;
}
