/**
 * WAL checkpoints off the event loop.
 *
 * In WAL mode SQLite copies the log back into the database file in a *checkpoint*. By default
 * the connection that commits runs one whenever the log passes 1,000 pages, synchronously, with
 * two fsyncs — a stall of several milliseconds on the event loop every few hundred decisions,
 * which shows up directly in the p99 latency. This worker thread holds its own connection to the
 * same file and runs a PASSIVE checkpoint every `intervalMs`: PASSIVE never blocks or waits for
 * the writer, and once a checkpoint is complete the writer restarts the log from its beginning,
 * so the log rarely reaches the size at which the serving connection would checkpoint itself.
 * (It still does when a burst writes 1,000 pages within one interval: a fallback, not a failure.)
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** A running checkpointer. */
export interface Checkpointer {
  /** Stop the worker and close its connection (before the serving connection closes). */
  close(): Promise<void>;
}

// Plain JavaScript: the worker runs without the TypeScript loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: 5000 });
db.pragma('busy_timeout = 5000');
db.pragma('wal_autocheckpoint = 0');
let failures = 0;
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failures = 0;
  } catch (error) {
    if (++failures === 1 || failures % 100 === 0) parentPort.postMessage({ error: String(error && error.message), failures });
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.postMessage({ stopped: true });
});
parentPort.postMessage({ started: true });
`;

/**
 * Start checkpointing the SQLite database at `dbPath` (already open in WAL mode) from a worker.
 * @param onError called with the message of a failed checkpoint (the first, then every 100th)
 * @throws when the worker cannot open the database
 */
export async function startCheckpointer(dbPath: string, intervalMs: number, onError: (message: string) => void): Promise<Checkpointer> {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { path: dbPath, intervalMs, driver } });
  worker.unref();
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: { started?: boolean }) => {
      if (m.started) {
        worker.off('error', reject);
        resolve();
      }
    };
    worker.once('message', onMessage);
    worker.once('error', reject);
  });
  worker.on('message', (m: { error?: string }) => {
    if (m.error !== undefined) onError(m.error);
  });
  worker.on('error', (e) => onError(e.message));
  let exited = false;
  worker.once('exit', () => {
    exited = true;
  });
  let closing: Promise<void> | null = null;
  return {
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        worker.once('exit', () => resolve());
        worker.on('message', (m: { stopped?: boolean }) => {
          if (m.stopped) void worker.terminate();
        });
        worker.postMessage('stop');
      });
      return closing;
    },
  };
}
