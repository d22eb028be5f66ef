// Asynchronous handle on the store worker. Calls are answered in the order they were sent.
import { Worker } from 'node:worker_threads';
import type { StoreApi } from './store.ts';

export type AsyncStore = { [K in keyof StoreApi]: (...args: Parameters<StoreApi[K]>) => Promise<ReturnType<StoreApi[K]>> };

export class StoreError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

// Source runs as .ts under Node's type stripping; the Electron build runs the compiled .js. In a
// packaged app the worker cannot start from inside app.asar: electron-builder.yml unpacks the store
// (asarUnpack), and the worker is started from the unpacked copy.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url.replace('/app.asar/', '/app.asar.unpacked/'));

export class StoreClient {
  private readonly worker: Worker;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;
  readonly api: AsyncStore;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: { message: string; code: string } }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new StoreError(m.error?.message ?? 'store error', m.error?.code ?? 'ERROR'));
    });
    const failAll = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) => failAll(new StoreError(`store worker failed: ${err.message}`, 'EWORKER')));
    worker.on('exit', () => {
      this.closed = true;
      failAll(new StoreError('store worker exited', 'ECLOSED'));
    });
    const call =
      (method: keyof StoreApi) =>
      (...args: unknown[]) =>
        this.call(method, args);
    this.api = {
      commit: call('commit'),
      loadTables: call('loadTables'),
      readJournal: call('readJournal'),
      outboxPending: call('outboxPending'),
      outboxAck: call('outboxAck'),
      outboxStats: call('outboxStats'),
      outboxThin: call('outboxThin'),
      getMeta: call('getMeta'),
      setMeta: call('setMeta'),
      stats: call('stats'),
    } as AsyncStore;
  }

  static open(path: string): Promise<StoreClient> {
    const worker = new Worker(WORKER_URL, { workerData: { path } });
    return new Promise((resolve, reject) => {
      const onFirst = (m: { ready?: boolean; error?: { message: string; code: string } }) => {
        if (m.ready) resolve(new StoreClient(worker));
        else reject(new StoreError(`cannot open store ${path}: ${m.error?.message}`, m.error?.code ?? 'ERROR'));
      };
      worker.once('message', onFirst);
      worker.once('error', (e) => reject(new StoreError(`store worker failed: ${e.message}`, 'EWORKER')));
    });
  }

  private call(method: keyof StoreApi, args: unknown[]): Promise<never> {
    if (this.closed) return Promise.reject(new StoreError('store is closed', 'ECLOSED'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  /** Waits for the calls already sent, then closes the database cleanly (WAL checkpointed). */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ close: true });
    });
  }
}
