// A hub client over a real MessagePort (as an Electron window has), for tests that drive the core
// by its commands without a server.
import { MessageChannel } from 'node:worker_threads';
import { PROTOCOL_VERSION, type HubErrorBody, type ServerMessage } from '../../common/contract.ts';
import type { HallCore } from '../../main/core/hall.ts';
import { attachPort } from '../../main/core/hub/port.ts';

export interface PortClient {
  cmd<T = unknown>(name: string, args: unknown): Promise<T>;
  /** The command's error instead of its value (rejects if it succeeded). */
  fail(name: string, args: unknown): Promise<HubErrorBody>;
  messages: ServerMessage[];
  close(): void;
}

/** `as`: the name commands are recorded by. The port acts as this process itself (every grant): these
 *  tests drive the desks; who may do what is tests/integration/trust.test.ts's business. */
export function portClient(core: HallCore, name = 'window:test', as = name): PortClient {
  const { port1, port2 } = new MessageChannel();
  attachPort(core.hub, { onMessage: (cb) => port1.on('message', cb), onClose: (cb) => port1.on('close', cb), post: (t) => port1.postMessage(t), close: () => port1.close() }, name, {
    kind: 'local',
    name: as,
  });
  const waiting = new Map<string, (m: ServerMessage & { t: 'result' }) => void>();
  const messages: ServerMessage[] = [];
  port2.on('message', (text: string) => {
    const m = JSON.parse(text) as ServerMessage;
    messages.push(m);
    if (m.t === 'result') waiting.get(m.id)?.(m);
  });
  port2.postMessage(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, client: name }));
  let n = 0;
  const send = (name: string, args: unknown) =>
    new Promise<ServerMessage & { t: 'result' }>((resolve) => {
      const id = `c${++n}`;
      waiting.set(id, resolve);
      port2.postMessage(JSON.stringify({ t: 'cmd', id, name, args }));
    });
  return {
    messages,
    async cmd<T>(name: string, args: unknown) {
      const r = await send(name, args);
      if (!r.ok) throw new Error(`${name}: ${r.error.code}: ${r.error.message}`);
      return r.value as T;
    },
    async fail(name: string, args: unknown) {
      const r = await send(name, args);
      if (r.ok) throw new Error(`${name} succeeded`);
      return r.error;
    },
    close() {
      port2.close();
      port1.close();
    },
  };
}
