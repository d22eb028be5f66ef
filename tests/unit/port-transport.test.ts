// Electron's transport: the hub protocol over a MessagePort (here Node's MessageChannel stands in for
// Chromium's; the Electron spec, which cannot run here, covers the real window), and the handover of
// the port from the preload by nonce.
import { MessageChannel, type MessagePort as NodePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../common/contract.ts';
import { HubClient } from '../../renderer/hub/client.ts';
import { acquirePort, MessagePortTransport } from '../../renderer/hub/transport.ts';

describe('the MessagePort transport', () => {
  it('speaks the hub protocol over the port, checks each frame, and reconnects on a fresh port when one closes', async () => {
    const halls: NodePort[] = [];
    const transport = new MessagePortTransport(async () => {
      const { port1, port2 } = new MessageChannel();
      halls.push(port1);
      port1.on('message', (text: string) => {
        const m = JSON.parse(text) as { t: string; id?: string };
        const reply = (r: ServerMessage | string) => port1.postMessage(typeof r === 'string' ? r : JSON.stringify(r));
        if (m.t === 'hello') reply({ t: 'welcome', v: 1, epoch: 'E', server: 'test', topics: [], commands: [], who: { operator: null, console: null, grants: ['read'] } });
        if (m.t === 'cmd') {
          reply('{"t":"nonsense"}'); // a frame the contract does not know: counted, not applied
          reply({ t: 'result', id: m.id!, ok: true, value: { now: 42 } });
        }
      });
      return port2 as unknown as MessagePort;
    });
    const client = new HubClient(transport, { client: 'test', minBackoffMs: 10, maxBackoffMs: 20 });
    try {
      await until(() => client.state === 'open');
      await expect(client.command('hall.ping', {})).resolves.toEqual({ now: 42 });
      expect(client.counters.invalid).toBe(1);
      halls[0]!.close(); // the main process's end goes away
      await until(() => halls.length === 2 && client.state === 'open');
      await expect(client.command('hall.ping', {})).resolves.toEqual({ now: 42 });
    } finally {
      client.dispose();
      for (const p of halls) p.close();
    }
  });

  it('takes the port only from the answer to its own nonce', async () => {
    const win = new EventTarget() as Window;
    // Node's MessageEvent will not name a window as its source: a plain event with the same fields
    const message = (data: string, source: unknown, port: unknown) => Object.assign(new Event('message'), { data, source, ports: [port] });
    const { port1, port2 } = new MessageChannel();
    let asked = '';
    const got = acquirePort(
      {
        acquirePort: (nonce) => {
          asked = nonce;
          // someone else's message with a port, and the answer without one: neither is taken
          win.dispatchEvent(message('not-the-nonce', win, port1));
          win.dispatchEvent(Object.assign(new Event('message'), { data: nonce, source: win, ports: [] }));
        },
      },
      win,
      1000,
    );
    await expect(got).rejects.toThrow(/did not hand over a port/);
    expect(asked).toMatch(/^[\w-]{16,64}$/);
    const again = acquirePort({ acquirePort: (nonce) => win.dispatchEvent(message(nonce, win, port2)) }, win, 1000);
    await expect(again).resolves.toBe(port2);
    port1.close();
  });
});

async function until(ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
