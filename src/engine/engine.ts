/**
 * The model registry: hosts many models by id over one store. Creating or reconfiguring a model
 * bumps its version. What a reconfiguration does to learned state:
 * - policy, features, forgetting or fatigue-as-features changed → a fresh posterior, rebuilt by
 *   replaying the whole learning log with the new config (logged outcomes keep their rewards and
 *   weights);
 * - anything else (budget, feedback semantics for what comes next, limits, slots, seed) → the
 *   posterior is kept.
 */
import { isDeepStrictEqual } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { RetrainRuntime } from '../policies/neural-linear/retrainable.js';
import { preparePolicy } from '../policies/registry.js';
import type { Store, BudgetTotals } from '../storage/types.js';
import { parseModelConfig, type ModelConfig } from './config.js';
import { LiubaiError } from './errors.js';
import type { PolicyReplicas } from './replicas.js';
import { Model, type FeedbackEvent, type FeedbackResult, type RankRequest, type RankResponse } from './model.js';

export interface EngineOptions {
  readonly store: Store;
  readonly clock?: () => number;
  readonly newEventId?: () => string;
  readonly snapshotEvery?: number;
  /** How retrainable policies (neural-linear) retrain and keep artifacts; absent = inline. */
  readonly retrain?: RetrainRuntime;
  /**
   * Most learning-log entries a model's replica may lag behind before {@link Engine.learned}
   * waits. Default 500: at 70–150 µs of CPU per update of a 256-dense-dim linear-gaussian
   * posterior on a 2-core machine (bench:core; the replica thread's CPU in the server), 35–75 ms
   * of learning queued ahead of a decision at most. Infinity = never wait.
   */
  readonly maxLearningLag?: number;
}

/** What `GET /v1/models/{id}` reports. */
export interface ModelView {
  readonly modelId: string;
  readonly version: number;
  readonly config: ModelConfig;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly posterior: Record<string, unknown>;
  readonly budget: {
    readonly allowedShare: number;
    readonly allTime: BudgetTotals & { readonly exploredShare: number };
    readonly lastHour: BudgetTotals & { readonly exploredShare: number };
    readonly lastDay: BudgetTotals & { readonly exploredShare: number };
  };
}

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Validate a model id. @throws LiubaiError INVALID_REQUEST */
export function checkModelId(modelId: string): void {
  if (!MODEL_ID.test(modelId)) {
    throw new LiubaiError('INVALID_REQUEST', 'modelId must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}', [
      { path: ['modelId'], message: 'invalid' },
    ]);
  }
}

/** Hosts models by id; the in-process API that the server and the simulations call. */
export class Engine {
  readonly store: Store;
  readonly clock: () => number;
  private readonly newEventId: () => string;
  private readonly snapshotEvery: number;
  private readonly retrain: RetrainRuntime | undefined;
  private readonly maxLearningLag: number;
  private readonly models = new Map<string, Model>();
  private replicas: PolicyReplicas | null = null;

  /**
   * Load what the stored models' policies need before `new Engine` builds them synchronously
   * (tensorflow.js when a neural-linear model exists; nothing otherwise).
   * @throws LiubaiError INVALID_CONFIG for a stored config that no longer parses
   */
  static async prepare(store: Store): Promise<void> {
    for (const record of store.listModels()) await preparePolicy(parseModelConfig(record.config).policy);
  }

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.clock = options.clock ?? (() => Date.now());
    this.newEventId = options.newEventId ?? (() => randomUUID());
    this.snapshotEvery = options.snapshotEvery ?? 1000;
    this.retrain = options.retrain;
    const lag = options.maxLearningLag ?? 500;
    if (!(lag >= 0)) throw new RangeError(`maxLearningLag must be >= 0, got ${lag}`);
    this.maxLearningLag = lag;
    for (const record of this.store.listModels()) {
      this.models.set(record.modelId, this.build(record.modelId, record.version, parseModelConfig(record.config)));
    }
  }

  private build(modelId: string, version: number, config: ModelConfig): Model {
    const model = new Model(modelId, version, config, {
      store: this.store,
      clock: this.clock,
      newEventId: this.newEventId,
      snapshotEvery: this.snapshotEvery,
      ...(this.retrain ? { retrain: this.retrain } : {}),
    });
    if (this.replicas) model.attachReplica(this.replicas);
    return model;
  }

  /**
   * Decide on policy replicas in worker threads from now on (see replicas.ts): every model that
   * can be mirrored, now and when created or reconfigured later, serves {@link rankAsync} there.
   * @returns how many of the current models were attached
   */
  useReplicas(replicas: PolicyReplicas): number {
    this.replicas = replicas;
    let n = 0;
    for (const m of this.models.values()) if (m.attachReplica(replicas)) n++;
    return n;
  }

  /**
   * Create a model, or reconfigure it (version + 1). Idempotent, as an HTTP PUT: a config equal
   * to the current one once parsed (defaults filled in) changes nothing, not even the version
   * (which seeds every decision).
   * @throws LiubaiError INVALID_REQUEST (model id), INVALID_CONFIG naming every bad field
   */
  putModel(modelId: string, configInput: unknown): { model: Model; created: boolean } {
    checkModelId(modelId);
    const config = parseModelConfig(configInput);
    const current = this.models.get(modelId);
    if (current && isDeepStrictEqual(current.config, config)) return { model: current, created: false };
    const before = this.store.getModel(modelId);
    const now = this.clock();
    const version = (before?.version ?? 0) + 1;
    // Build first (a replay may fail): the store changes only when the new model exists.
    const model = this.build(modelId, version, config);
    this.store.transaction(() =>
      this.store.putModel({ modelId, version, config, createdAt: before?.createdAt ?? now, updatedAt: now }),
    );
    if (current) {
      model.continueCounters(current.counters);
      current.close();
    }
    this.models.set(modelId, model);
    return { model, created: before === undefined };
  }

  /**
   * {@link putModel} after loading what the config's policy needs (tensorflow.js for
   * neural-linear): the form to use when the config comes from a request.
   * @throws LiubaiError as putModel
   */
  async putModelPrepared(modelId: string, configInput: unknown): Promise<{ model: Model; created: boolean }> {
    checkModelId(modelId);
    await preparePolicy(parseModelConfig(configInput).policy);
    return this.putModel(modelId, configInput);
  }

  /** @throws LiubaiError UNKNOWN_MODEL */
  model(modelId: string): Model {
    const m = this.models.get(modelId);
    if (!m) throw new LiubaiError('UNKNOWN_MODEL', `no model ${JSON.stringify(modelId)}`, [{ path: ['modelId'], message: 'unknown' }]);
    return m;
  }

  has(modelId: string): boolean {
    return this.models.has(modelId);
  }

  modelIds(): string[] {
    return [...this.models.keys()].sort();
  }

  /** Delete a model and everything logged for it. @throws LiubaiError UNKNOWN_MODEL */
  deleteModel(modelId: string): void {
    this.model(modelId);
    this.store.transaction(() => this.store.deleteModel(modelId));
    this.models.get(modelId)?.close();
    this.models.delete(modelId);
  }

  rank(modelId: string, request: RankRequest): RankResponse {
    return this.model(modelId).rank(request);
  }

  /** {@link rank} with the policy half on the model's replica when there is one (see Model.rankAsync). */
  rankAsync(modelId: string, request: RankRequest, json?: string): Promise<RankResponse> {
    return this.model(modelId).rankAsync(request, json);
  }

  feedback(modelId: string, event: FeedbackEvent): FeedbackResult {
    return this.model(modelId).feedback(event);
  }

  /** Several feedback events, in order, in one transaction; one bad event rejects the batch. */
  feedbackBatch(modelId: string, events: readonly FeedbackEvent[]): { accepted: number; duplicates: number; outcomes: number } {
    const results = this.model(modelId).feedbackMany(events);
    let accepted = 0;
    let outcomes = 0;
    for (const r of results) {
      if (r.accepted) accepted++;
      outcomes += r.outcomes;
    }
    return { accepted, duplicates: results.length - accepted, outcomes };
  }

  /**
   * Resolves once the model's replica has learned all but at most `maxLearningLag` entries of its
   * learning log (see Model.learned); the server awaits it before acknowledging feedback.
   * @throws LiubaiError MODEL_NOT_FOUND
   */
  learned(modelId: string): Promise<void> {
    return this.model(modelId).learned(this.maxLearningLag);
  }

  expose(modelId: string, eventId: string): boolean {
    return this.model(modelId).expose(eventId);
  }

  /** Close due reward windows of every model (at most `maxPerModel` each per call). */
  tick(now: number = this.clock(), maxPerModel = Number.POSITIVE_INFINITY): number {
    let n = 0;
    for (const m of this.models.values()) n += m.tick(now, 1000, maxPerModel);
    return n;
  }

  /** Wait until snapshots that replicas are still serializing are saved (before closing the store). */
  async settled(): Promise<void> {
    await Promise.all([...this.models.values()].map((m) => m.settled()));
  }

  /** Snapshot every model's posterior. */
  snapshotAll(): void {
    for (const m of this.models.values()) this.store.transaction(() => m.snapshot());
  }

  /** Config, posterior summary and the budget ledger of a model. */
  view(modelId: string): ModelView {
    const m = this.model(modelId);
    const record = this.store.getModel(modelId)!;
    const now = this.clock();
    const withShare = (t: BudgetTotals) => ({ ...t, exploredShare: t.slots > 0 ? t.explored / t.slots : 0 });
    return {
      modelId,
      version: m.version,
      config: m.config,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      posterior: m.describePosterior(),
      budget: {
        allowedShare: m.config.budget.share,
        allTime: withShare(this.store.budgetTotals(modelId)),
        lastHour: withShare(this.store.budgetTotals(modelId, { since: now - 3_600_000 })),
        lastDay: withShare(this.store.budgetTotals(modelId, { since: now - 86_400_000 })),
      },
    };
  }

  /** Budget spent by one user (per-user ledger). */
  userBudget(modelId: string, userId: string, since?: number): BudgetTotals {
    this.model(modelId);
    return this.store.budgetTotals(modelId, { userId, ...(since !== undefined ? { since } : {}) });
  }
}
