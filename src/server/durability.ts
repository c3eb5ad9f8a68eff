/**
 * Group commit for power-loss durability without blocking the event loop.
 *
 * The SQLite store runs in WAL mode. With `synchronous = FULL` SQLite fsyncs the WAL inside every
 * commit: about 4 ms on this machine, during which the (synchronous) event loop stands still, so
 * the server could not exceed ~250 writes/s. With `synchronous = NORMAL` a commit only writes
 * the WAL (durable against a killed process: the frames are in the OS page cache), and SQLite
 * itself syncs the WAL before every checkpoint. FULL is exactly NORMAL plus an fsync of the WAL
 * after each commit; this module moves that fsync off the event loop and shares it:
 *
 *   commit (NORMAL) → `barrier()` → fsync(WAL) on the libuv thread pool → answer 2xx.
 *
 * An fsync covers every frame written before it started, so each barrier waits for the first
 * fsync that *starts* after it was called; all requests committed while one fsync runs share the
 * next one (group commit). Nothing is acknowledged before its commit is on disk.
 */
import { open, type FileHandle } from 'node:fs/promises';

/** A shared fsync of the WAL: `barrier()` resolves once everything committed before the call is on disk. */
export interface WalSync {
  barrier(): Promise<void>;
  /** fsyncs run so far (for the benchmark). */
  readonly syncs: number;
  close(): Promise<void>;
}

/**
 * Open the WAL of a SQLite database in WAL mode (the store must be open: the `-wal` file exists
 * while a connection holds the database).
 * @throws the open error when `${dbPath}-wal` does not exist
 */
export async function openWalSync(dbPath: string): Promise<WalSync> {
  const handle: FileHandle = await open(`${dbPath}-wal`, 'r');
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  let syncs = 0;

  const start = (): Promise<void> => {
    syncs++;
    const p = handle.sync().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  };

  const barrier = (): Promise<void> => {
    if (running === null) return start();
    // The running fsync may have started before this caller's commit: wait for the next one.
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = null;
        return running ?? start();
      });
    return queued;
  };

  return {
    barrier,
    get syncs() {
      return syncs;
    },
    async close() {
      await running?.catch(() => undefined);
      await handle.close();
    },
  };
}
