// The store's worker thread: owns the only write connection and answers StoreApi calls in order.
// Messages are checked here too: this is a thread boundary, and a bad call must not corrupt the file.
import { parentPort, workerData } from 'node:worker_threads';
import { Store, type StoreApi } from './store.ts';

const port = parentPort;
if (!port) throw new Error('store worker must run in a worker thread');
const METHODS = new Set<keyof StoreApi>(['commit', 'loadTables', 'readJournal', 'outboxPending', 'outboxAck', 'outboxStats', 'outboxThin', 'getMeta', 'setMeta', 'stats']);

let store: Store;
try {
  store = new Store((workerData as { path: string }).path);
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ ready: false, error: errorBody(err) });
  process.exit(0);
}

function errorBody(err: unknown): { message: string; code: string } {
  const e = err as { message?: string; code?: string };
  return { message: String(e?.message ?? err), code: String(e?.code ?? 'ERROR') };
}

port.on('message', (msg: { id: number; method: string; args: unknown[] } | { close: true }) => {
  if ('close' in msg) {
    store.close();
    port.postMessage({ closed: true });
    port.close();
    return;
  }
  const { id, method, args } = msg;
  if (!METHODS.has(method as keyof StoreApi) || !Array.isArray(args)) {
    port.postMessage({ id, ok: false, error: { message: `unknown store call ${String(method)}`, code: 'EINVAL' } });
    return;
  }
  try {
    const fn = store[method as keyof StoreApi] as (...a: unknown[]) => unknown;
    port.postMessage({ id, ok: true, value: fn.apply(store, args) });
  } catch (err) {
    port.postMessage({ id, ok: false, error: errorBody(err) });
  }
});
