// The preload hands the page its MessagePort to the hall and steps aside (VS Code's
// ipcMessagePort.acquire): the page then speaks the hub protocol over the port exactly as a browser
// display does over its WebSocket, with one transport and one validator (renderer/hub/transport.ts),
// and the hall checks every frame that arrives (main/core/hub). Runs sandboxed, bundled to one
// CommonJS file by vite.preload.config.ts.
//
// The page asks with a nonce it chose and listens for it first, so the port cannot arrive before
// anyone is listening, and a message that is not the answer to its own request is never taken as one.
import { contextBridge, ipcRenderer } from 'electron';

const NONCE = /^[\w-]{16,64}$/;

contextBridge.exposeInMainWorld('beacon', {
  acquirePort(nonce: unknown): void {
    if (typeof nonce !== 'string' || !NONCE.test(nonce)) throw new Error('beacon: acquirePort needs the nonce the page listens for');
    ipcRenderer.once('beacon:port', (event) => {
      const port = event.ports[0];
      // '*' as VS Code does: the target is this window itself, whose origin (app://beacon, a custom
      // scheme) need not be spelled; only the page, which chose the nonce, takes the port.
      if (port) window.postMessage(nonce, '*', [port]);
    });
    ipcRenderer.send('beacon:connect');
  },
});
