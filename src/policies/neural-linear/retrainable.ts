/**
 * The retraining capability: what the engine needs from a policy whose representation is learned
 * offline (today `neural-linear`), and what the I/O edge supplies to run retrains off the request
 * path and keep their artifacts. Types only plus a guard: no tensorflow.js here, so the engine
 * can import it.
 *
 * Protocol (driven by `Model`, see src/engine/model.ts):
 * 1. every `retrainEvery` outcomes (or on demand: `liubai train`, `Model.retrain()`), the model
 *    asks the serving policy for a job: `prepareRetrain` copies its training window (cheap, sync);
 * 2. the job runs off the request path (`RetrainRuntime.run`, a worker thread) or, without a
 *    runtime, inline and synchronously (`retrainNow`: simulations, tests, the CLI);
 * 3. `withRepresentation(result)` gives a fresh policy (prior head) with the new encoder; the
 *    model replays the whole learning log into it with its usual fold rules — in slices that yield
 *    to the event loop, while the old policy keeps serving and learning — and when it has caught
 *    up, swaps it in synchronously (one assignment) and bumps its representation version;
 * 4. `RetrainRuntime.persist` stores the artifact (`models/<model>/<version>/`).
 * The state after a swap is therefore a function of the config, the learning log and the encoder
 * artifact only, whenever the swap happened; on restart `RetrainRuntime.initial` hands back the
 * latest artifact and the log is replayed through it.
 */
import type { Policy } from '../types.js';
import type { DataRange, RetrainJob, RetrainResult } from './train.js';

export type { DataRange, RetrainJob, RetrainMetrics, RetrainResult } from './train.js';

/** What the model tells a policy when it asks for a job. */
export interface RetrainRequest {
  /** Seed of the retrain (the model derives it from its seed, id and the new version). */
  readonly seed: string;
  readonly range: DataRange;
}

/** A policy whose representation can be relearned from the log (see the module comment). */
export interface RetrainablePolicy extends Policy {
  readonly retrainable: true;
  /** Version of the learned representation: 0 = the seeded initial encoder, then 1, 2, … */
  readonly representationVersion: number;
  /** Retrain after this many new outcomes; 0 = only on demand. */
  readonly retrainEvery: number;
  /** Most outcomes a retrain learns from (the most recent ones). */
  readonly trainingWindow: number;
  /** Fold any buffered work now (before the policy starts serving). */
  flush(): void;
  /** The training job for the current training window (a copy: the policy keeps serving). */
  prepareRetrain(request: RetrainRequest): RetrainJob;
  /** Run a job in this thread, synchronously. */
  retrainNow(job: RetrainJob): RetrainResult;
  /**
   * A new policy of the same config with the retrained representation, its head at the prior and
   * an empty training window (replay the log into it before serving with it).
   * @throws RangeError when the result does not fit the config
   */
  withRepresentation(result: RetrainResult): RetrainablePolicy;
  /** Free what the policy holds outside the JS heap (tensors). Idempotent. */
  dispose(): void;
}

/** Whether a policy has the retraining capability. */
export function isRetrainable(policy: Policy): policy is RetrainablePolicy {
  return (policy as Partial<RetrainablePolicy>).retrainable === true;
}

/** What the model reports about one adopted retrain. */
export interface RetrainInfo {
  readonly modelId: string;
  /** Config version of the model. */
  readonly modelVersion: number;
  /** The policy config the encoder was trained under. */
  readonly policyConfig: unknown;
  /** Wall time from job to swap, ms (by the model's clock). */
  readonly durationMs: number;
  /** Learning-log entries replayed into the new head. */
  readonly replayed: number;
}

/**
 * How retrains run and persist, supplied by the I/O edge (server, CLI); every member optional.
 * Without `run`, retrains run inline (synchronously, deterministic: simulations and tests).
 */
export interface RetrainRuntime {
  /** Run a job off the request path (e.g. a worker thread). */
  run?(job: RetrainJob): Promise<RetrainResult>;
  /** The representation a model starts from (its latest artifact, preloaded), if any. */
  initial?(modelId: string): RetrainResult | undefined;
  /** Keep the artifact of an adopted retrain; returns where (e.g. `models/news/3`). */
  persist?(result: RetrainResult, info: RetrainInfo): Promise<string | undefined> | string | undefined;
  /** Report a retrain failure that has no caller to throw to (a triggered retrain). */
  onError?(modelId: string, error: unknown): void;
}
