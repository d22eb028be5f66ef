// The preload: exposes the hub client and nothing else, one method per contract verb. Runs
// sandboxed (bundled to one CommonJS file by vite.preload.config.ts). Both directions are
// validated here: the page cannot send what the contract does not allow, nor receive it.
import { contextBridge, ipcRenderer } from 'electron';
import { ClientMessage, parseServerFrame, PROTOCOL_VERSION, type ServerMessage, type TopicName } from '../common/contract.ts';

type Listener = (msg: ServerMessage) => void;
const listeners = new Set<Listener>();
let port: MessagePort | null = null;
const queue: string[] = [];

function send(msg: unknown): void {
  const checked = ClientMessage.safeParse(msg);
  if (!checked.success) throw new Error(`beacon: refused to send an invalid hub message: ${checked.error.issues[0]?.message}`);
  const text = JSON.stringify(checked.data);
  if (port) port.postMessage(text);
  else queue.push(text);
}

ipcRenderer.on('beacon:port', (event) => {
  const p = event.ports[0];
  if (!p) return;
  port = p;
  p.onmessage = (m: MessageEvent) => {
    if (typeof m.data !== 'string') return;
    const r = parseServerFrame(m.data, 64 * 1024 * 1024);
    if (!r.ok) {
      console.error('beacon: dropped an invalid hub message', r.error);
      return;
    }
    for (const l of listeners) l(r.msg);
  };
  for (const t of queue.splice(0)) p.postMessage(t);
});
ipcRenderer.send('beacon:connect');

contextBridge.exposeInMainWorld('beacon', {
  hello: (client: string) => send({ t: 'hello', v: PROTOCOL_VERSION, client }),
  subscribe: (topic: TopicName, since?: { epoch: string; seq: number }) => send(since ? { t: 'sub', topic, since } : { t: 'sub', topic }),
  unsubscribe: (topic: TopicName) => send({ t: 'unsub', topic }),
  command: (id: string, name: string, args: unknown) => send({ t: 'cmd', id, name, args }),
  onMessage: (cb: Listener) => {
    listeners.add(cb);
    return () => listeners.delete(cb);
  },
});
