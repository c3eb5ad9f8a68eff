/**
 * The listening server: opens the SQLite store, loads every model (latest snapshot + replay of
 * the learning log after it), creates the configured models, listens, sweeps reward windows
 * with the real clock, takes periodic snapshots, and shuts down gracefully: stop accepting,
 * finish in-flight requests, a final snapshot, close the database.
 */
import type { NeuralRuntime } from '../policies/neural-linear/runtime.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine } from '../engine/engine.js';
import { PolicyReplicas } from '../engine/replicas.js';
import { parseModelConfig } from '../engine/config.js';
import { openSqliteStore, SqliteStore } from '../storage/sqlite/index.js';
import type { Store } from '../storage/types.js';
import { createApp, type AppLimitsInput } from './app.js';
import type { ApiKeys } from './auth.js';
import { jsonLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { startSweeper } from './sweeper.js';
import { openWalSync, type WalSync } from './durability.js';
import { setNeuralBackendPreference, type NeuralBackendName } from '../policies/neural-linear/backend.js';

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Folder of neural-linear encoder artifacts (default `models`). */
  readonly modelsDir?: string;
  readonly host: string;
  /** 0 = any free port (see the returned `url`). */
  readonly port: number;
  /** SQLite database file (its directory must exist). */
  readonly dbPath: string;
  readonly keys?: ApiKeys;
  readonly limits?: AppLimitsInput;
  /** Engine: snapshot a model every this many folded learning-log entries (0 = never). Default 1000. */
  readonly snapshotEvery?: number;
  /** Snapshot every model whose posterior moved, this often (ms; 0 = never). Default 60 000. */
  readonly snapshotIntervalMs?: number;
  /**
   * Engine: feedback waits for its 2xx until the model's replica lags at most this many
   * learning-log entries (Engine.learned). Default 500.
   */
  readonly maxLearningLag?: number;
  /** Start a sweep of due reward windows this often (ms; it closes them in chunks, see sweeper.ts). Default 250. */
  readonly sweepIntervalMs?: number;
  /** Models to create (or reconfigure when their config differs) at startup. */
  readonly models?: Readonly<Record<string, unknown>>;
  /** A model to create when the store holds no model at all after `models` (the demo). */
  readonly fallbackModel?: { readonly modelId: string; readonly config: unknown } | null;
  /** Close lingering connections after this long when shutting down (ms). Default 10 000. */
  readonly shutdownTimeoutMs?: number;
  /** Export process metrics (CPU, memory, event loop). Default true. */
  readonly processMetrics?: boolean;
  readonly logger?: Logger;
  /**
   * What a 2xx survives (default `process`):
   * - `process`: a killed process (`kill -9`). SQLite `synchronous = NORMAL` in WAL mode: the
   *   commit is in the WAL in the OS page cache before the answer; an OS crash or power loss can
   *   lose the last commits.
   * - `power`: power loss too. Same commits, plus a shared asynchronous fsync of the WAL before
   *   each 2xx (group commit, see durability.ts), so the event loop never waits on the disk.
   */
  readonly durability?: 'process' | 'power';
  /**
   * Run SQLite WAL checkpoints in a worker thread this often (ms), off the event loop (see
   * checkpointer.ts); 0 = leave them to SQLite's automatic checkpoints. Default 200. Only with
   * the default SQLite store.
   */
  readonly checkpointIntervalMs?: number;
  /** Build the store (default: {@link openSqliteStore} on `dbPath`, `synchronous = NORMAL`). */
  readonly openStore?: (path: string) => Store;
  /**
   * Commit the writes of all requests handled in one event-loop turn together, before any of
   * them is acknowledged (SqliteStore.enableGroupCommit). Default true; SQLite stores only.
   */
  readonly groupCommit?: boolean;
  /**
   * Worker threads that decide on mirrors of the posteriors (policy replicas, see
   * engine/replicas.ts): the policy half of every rank — posterior sd, Thompson draw, slate and
   * the M propensity draws — runs there while this thread serves HTTP, features and SQLite.
   * 0 = decide in this thread. Default 1.
   */
  readonly decisionThreads?: number;
  /**
   * tensorflow.js backends for neural-linear models, in order of preference (default
   * tensorflow, wasm, cpu; see policies/neural-linear/backend.ts). A process-wide setting.
   */
  readonly neuralBackends?: readonly NeuralBackendName[];
}

/** A running server. */
export interface RunningServer {
  /** `http://host:port` with the actual port. */
  readonly url: string;
  readonly port: number;
  readonly engine: Engine;
  /** Models created at startup (by `models` or `fallbackModel`). */
  readonly created: readonly string[];
  /**
   * Graceful shutdown: readiness off, stop accepting, wait for in-flight requests, final
   * snapshot, close the store. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Start serving.
 * @throws LiubaiError INVALID_CONFIG (a configured model), the listen error (e.g. EADDRINUSE),
 *   store errors; the store is closed again when startup fails after opening it
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? jsonLogger();
  const store = options.openStore ? options.openStore(options.dbPath) : openSqliteStore(options.dbPath, { synchronous: 'NORMAL' });
  let engine: Engine;
  let neural: NeuralRuntime | null = null;
  const created: string[] = [];
  let walSync: WalSync | null = null;
  let checkpointer: Checkpointer | null = null;
  let replicas: PolicyReplicas | null = null;
  const releaseStore = async () => {
    await replicas?.close();
    await neural?.close();
    await checkpointer?.close();
    await walSync?.close();
    store.close();
  };
  try {
    if (options.durability === 'power') walSync = await openWalSync(options.dbPath);
    const checkpointMs = options.checkpointIntervalMs ?? 200;
    if (!options.openStore && checkpointMs > 0) {
      checkpointer = await startCheckpointer(options.dbPath, checkpointMs, (message) => logger.error('checkpoint failed', { message }));
    }
    // Load what stored models' policies need (tensorflow.js only when a neural-linear model
    // exists), and give neural-linear models a runtime that retrains off the request path.
    if (options.neuralBackends) setNeuralBackendPreference(options.neuralBackends);
    await Engine.prepare(store);
    const wantsNeural = [...store.listModels().map((r) => r.config), ...Object.values(options.models ?? {})].some(
      (c) => (c as { policy?: { kind?: unknown } } | null)?.policy?.kind === 'neural-linear',
    );
    if (wantsNeural) {
      const { createNeuralRuntime } = await import('../policies/neural-linear/runtime.js');
      neural = await createNeuralRuntime({ modelsDir: options.modelsDir ?? 'models', log: (line) => logger.info(line) });
      await neural.preload(store.listModels().map((r) => r.modelId));
    }
    engine = new Engine({
      store,
      snapshotEvery: options.snapshotEvery ?? 1000,
      maxLearningLag: options.maxLearningLag ?? 500,
      ...(neural ? { retrain: neural } : {}),
    });
    for (const [modelId, config] of Object.entries(options.models ?? {})) {
      if (engine.has(modelId)) {
        const wanted = JSON.stringify(parseModelConfig(config));
        if (wanted === JSON.stringify(engine.model(modelId).config)) continue;
        engine.putModel(modelId, config);
        logger.info('model reconfigured from settings', { modelId, version: engine.model(modelId).version });
      } else {
        engine.putModel(modelId, config);
        created.push(modelId);
      }
    }
    const fallback = options.fallbackModel;
    if (fallback && engine.modelIds().length === 0) {
      engine.putModel(fallback.modelId, fallback.config);
      created.push(fallback.modelId);
    }
    const threads = options.decisionThreads ?? 1;
    if (threads > 0) {
      const pool = new PolicyReplicas({
        threads,
        onError: (error) => logger.error('policy replica failed; deciding in the main thread', { message: error.message }),
      });
      replicas = pool;
      engine.useReplicas(pool);
    }
  } catch (error) {
    await releaseStore();
    throw error;
  }

  let state: 'starting' | 'ready' | 'draining' | 'closed' = 'starting';
  // Group commit (one commit per event-loop turn), then, for `power`, the shared WAL fsync.
  const grouped = store instanceof SqliteStore && options.groupCommit !== false ? store.enableGroupCommit() : null;
  const wal = walSync;
  const commitBarrier: (() => Promise<void>) | null =
    grouped && wal ? () => grouped().then(() => wal.barrier()) : (grouped ?? (wal ? wal.barrier : null));
  const app = createApp({
    engine,
    ...(options.keys ? { keys: options.keys } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    logger,
    metrics: createMetrics(engine, { processMetrics: options.processMetrics ?? true }),
    // A failed group commit leaves memory ahead of the disk: not ready, writes refused (restart).
    isReady: () => state === 'ready' && !(store instanceof SqliteStore && store.failed !== null),
    isDraining: () => state === 'draining',
    ...(commitBarrier ? { commitBarrier } : {}),
  });
  const server: Server = createServer(app);
  // A little above typical load-balancer idle timeouts, so the balancer closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await releaseStore();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const hostInUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostInUrl}:${address.port}`;

  const guard = (what: string, fn: () => void) => () => {
    try {
      fn();
    } catch (error) {
      logger.error(`${what} failed`, { error: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) });
    }
  };
  // Reward windows close in chunks that interleave with requests (see sweeper.ts).
  const sweeper = startSweeper(engine, {
    intervalMs: options.sweepIntervalMs ?? 250,
    onError: (error) => logger.error('sweep failed', { error: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }),
  });

  // Periodic snapshots: only models whose posterior moved since their last snapshot here.
  const snapshotSeq = new Map<string, number>();
  const snapshotChanged = () => {
    for (const modelId of engine.modelIds()) {
      const m = engine.model(modelId);
      // A model that has learned nothing (seq 0) has nothing to snapshot.
      if ((snapshotSeq.get(modelId) ?? 0) === m.posteriorSeq) continue;
      store.transaction(() => m.snapshot());
      snapshotSeq.set(modelId, m.posteriorSeq);
    }
  };
  const snapshotMs = options.snapshotIntervalMs ?? 60_000;
  const snapshotter = snapshotMs > 0 ? setInterval(guard('snapshot', snapshotChanged), snapshotMs) : null;
  snapshotter?.unref();

  state = 'ready';
  logger.info('listening', { url, models: engine.modelIds().length, decisionThreads: replicas?.threads ?? 0 });

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = 'draining';
      await sweeper.stop();
      if (snapshotter) clearInterval(snapshotter);
      await new Promise<void>((resolve) => {
        const timeout = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 10_000);
        timeout.unref();
        server.close(() => {
          clearTimeout(timeout);
          resolve();
        });
        // Keep-alive connections with no request in flight would hold close() open.
        server.closeIdleConnections();
      });
      guard('final snapshot', snapshotChanged)();
      // Snapshots taken from policy replicas are saved when the worker answers.
      await engine.settled();
      await releaseStore();
      state = 'closed';
      logger.info('stopped', { url });
    })();
    return closing;
  };

  return { url, port: address.port, engine, created, close };
}

/**
 * Shut `running` down gracefully on SIGTERM or SIGINT, then exit with code 0 (1 when the
 * shutdown itself failed). A second signal exits at once.
 */
export function exitOnSignals(running: RunningServer, logger: Logger = jsonLogger()): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info('shutting down', { signal });
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
