/**
 * The reward-window sweeper of a running server: closes due windows on the real clock, where
 * every close is an outcome (an ignored impression, learned from silence) that the model folds.
 *
 * Under steady traffic as many windows come due as impressions are shown (k slots per rank),
 * so a sweep is real work: closing a thousand windows in one synchronous call blocked the event
 * loop for tens of milliseconds, and queued a thousand posterior updates on the policy replica
 * ahead of every decision, which then waited hundreds of milliseconds (measured: paced 300
 * rank/s with a 2 s reward window, p90 ≈ 300 ms, against 5–7 ms with no window due).
 *
 * So a sweep runs in chunks: at most `chunk` windows per model per turn of the event loop, then
 * it waits until the models' replicas have learned what it folded (Engine.learned semantics with
 * a lag of 0, see Model.learned), then yields, so ranks and feedback interleave with it and no
 * decision queues behind more than one chunk of updates. Sweeps never overlap: a tick that
 * finds one running leaves it to finish. The windows a sweep closes are those due at its start.
 */
import type { Engine } from '../engine/engine.js';

/** A running sweeper. */
export interface Sweeper {
  /** Stop the timer and wait for the sweep in progress (if any) to finish its current chunk. */
  stop(): Promise<void>;
  /** Sweeps completed so far. */
  readonly sweeps: number;
}

/** Options of {@link startSweeper}. */
export interface SweeperOptions {
  /** Start a sweep this often (ms, > 0). */
  readonly intervalMs: number;
  /** Most windows closed per model per turn of the event loop (≥ 1). Default 32. */
  readonly chunk?: number;
  /** A sweep that throws is reported here; the next interval starts a new one. */
  readonly onError: (error: unknown) => void;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Start sweeping `engine`'s reward windows.
 * @throws RangeError when intervalMs ≤ 0 or chunk < 1
 */
export function startSweeper(engine: Engine, options: SweeperOptions): Sweeper {
  const { intervalMs, onError } = options;
  const chunk = options.chunk ?? 32;
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new RangeError(`chunk must be an integer >= 1, got ${chunk}`);
  let stopped = false;
  let running: Promise<void> | null = null;
  let sweeps = 0;

  const sweep = async () => {
    const now = engine.clock();
    for (;;) {
      // Until a tick closes nothing: every window due at the sweep's start is then closed.
      const closed = engine.tick(now, chunk);
      if (closed === 0 || stopped) break;
      await Promise.all(engine.modelIds().map((id) => engine.model(id).learned(0)));
      await nextTurn();
      if (stopped) break;
    }
    sweeps++;
  };

  const kick = () => {
    if (running || stopped) return;
    running = sweep()
      .catch(onError)
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(kick, intervalMs);
  timer.unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
    get sweeps() {
      return sweeps;
    },
  };
}
