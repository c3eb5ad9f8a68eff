/**
 * The retrain runtime for serving and the CLI (I/O edge): runs retrain jobs in a worker thread,
 * keeps artifacts under a models folder, and hands each model its latest artifact at start.
 * Give it to the engine (`new Engine({ …, retrain: runtime })`).
 */
import { Worker } from 'node:worker_threads';
import { initNeuralBackend, neuralBackendInfo, type NeuralBackendName } from './backend.js';
import { loadLatestArtifact, saveArtifact, type LoadedArtifact } from './artifacts.js';
import type { RetrainInfo, RetrainRuntime } from './retrainable.js';
import type { RetrainJob, RetrainResult } from './train.js';
import { weightBuffers } from './weights.js';

export interface NeuralRuntimeOptions {
  /** Folder of the artifacts (`<dir>/<model>/<version>/`); null = keep none (default null). */
  readonly modelsDir?: string | null;
  /** Train in a worker thread (default true); false trains in this thread, blocking it. */
  readonly worker?: boolean;
  /** Milliseconds since the epoch, for `savedAt` (default: none recorded). */
  readonly clock?: () => number;
  /** Where progress and problems are reported (default stderr). */
  readonly log?: (line: string) => void;
}

/** A {@link RetrainRuntime} with preloading and shutdown. */
export interface NeuralRuntime extends RetrainRuntime {
  /** Load the latest artifact of each model (missing or unreadable ones are reported and skipped). */
  preload(modelIds: readonly string[]): Promise<void>;
  /** The artifacts currently known, by model id. */
  artifacts(): ReadonlyMap<string, LoadedArtifact | { readonly dir: string; readonly result: RetrainResult }>;
  /** Stop the worker (pending jobs fail). */
  close(): Promise<void>;
}

interface Waiting {
  resolve(result: RetrainResult): void;
  reject(error: Error): void;
}

/** One long-lived worker thread running jobs one at a time, in order. */
class RetrainWorker {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();

  constructor(private readonly backends: NeuralBackendName[]) {}

  private start(): Worker {
    if (this.worker) return this.worker;
    const self = import.meta.url;
    const entry = new URL(self.endsWith('.ts') ? './worker.ts' : './worker.js', self).href;
    const worker = new Worker(new URL('./worker-entry.mjs', self), { workerData: { entry, backends: this.backends } });
    worker.on('message', (msg: { id: number; result?: RetrainResult; error?: string }) => {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (this.waiting.size === 0) worker.unref();
      if (msg.result) w.resolve(msg.result);
      else w.reject(new Error(`retrain worker: ${msg.error ?? 'unknown error'}`));
    });
    const failAll = (error: Error) => {
      for (const w of this.waiting.values()) w.reject(error);
      this.waiting.clear();
      this.worker = null;
    };
    worker.on('error', (error) => failAll(error instanceof Error ? error : new Error(String(error))));
    worker.on('exit', (code) => failAll(new Error(`retrain worker exited with code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  run(job: RetrainJob): Promise<RetrainResult> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<RetrainResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.ref();
      const d = job.data;
      const transfer = [d.offsets.buffer, d.indices.buffer, d.values.buffer, d.rewards.buffer, d.weights.buffer, ...weightBuffers(job.init)];
      worker.postMessage({ id, job }, transfer as ArrayBuffer[]);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

/**
 * A retrain runtime: initializes tensorflow.js (so neural-linear models can be built), trains in
 * a worker thread on the same backend, saves adopted encoders under `modelsDir`.
 * @throws Error when no tfjs backend initializes
 */
export async function createNeuralRuntime(options: NeuralRuntimeOptions = {}): Promise<NeuralRuntime> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const backend = await initNeuralBackend({ log });
  const modelsDir = options.modelsDir ?? null;
  const known = new Map<string, LoadedArtifact | { dir: string; result: RetrainResult }>();
  const worker = options.worker === false ? null : new RetrainWorker([backend.backend as NeuralBackendName]);
  const runtime: NeuralRuntime = {
    async preload(modelIds) {
      if (modelsDir === null) return;
      for (const id of modelIds) {
        try {
          const a = await loadLatestArtifact(modelsDir, id);
          if (a) known.set(id, a);
        } catch (error) {
          log(`liubai: skipping the encoder artifact of model ${id}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    },
    artifacts: () => known,
    initial: (modelId) => known.get(modelId)?.result,
    async persist(result: RetrainResult, info: RetrainInfo) {
      if (modelsDir === null) return undefined;
      const dir = await saveArtifact(modelsDir, result, info, options.clock ? options.clock() : null);
      known.set(info.modelId, { dir, result });
      log(
        `liubai: model ${info.modelId} encoder v${result.version} adopted (${result.metrics.examples} outcomes, ` +
          `seq ${result.range.fromSeq}–${result.range.toSeq}, ${Math.round(info.durationMs)} ms, ` +
          `${neuralBackendInfo()?.backend ?? '?'}) → ${dir}`,
      );
      return dir;
    },
    onError(modelId, error) {
      log(`liubai: retrain of model ${modelId} failed: ${error instanceof Error ? error.message : String(error)}`);
    },
    close: async () => {
      if (worker) await worker.close();
    },
  };
  if (worker) runtime.run = (job) => worker.run(job);
  return runtime;
}
