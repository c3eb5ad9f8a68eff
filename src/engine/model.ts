/**
 * One model's rank → feedback → learn loop. A model is a versioned config plus a policy (the
 * posterior), a featurizer, the exploration budget and the fatigue memory; its posterior is a
 * pure function of the config and the ordered learning log (snapshot + replay reproduces it
 * bit for bit).
 *
 * Every operation validates first, then writes all of its records in one store transaction, and
 * only then folds outcomes into the in-memory posterior: a failed write never changes state.
 * With a policy replica (replicas.ts, used by `liubai serve`), `rankAsync` decides in a worker
 * thread and the outcomes are folded there; this thread's posterior is rebuilt on demand.
 */
import { deriveSeed } from '../core/hash.js';
import { decisionSeed } from '../core/rng.js';
import { createFeaturizer, FEATURE_LIMITS_MAX, FeatureError, type Featurizer } from '../features/index.js';
import type { Candidate, DecisionFeatures, Namespace, NamespacedFeatures } from '../features/types.js';
import { draftFatigue, fatigueAt, fatigueKey, foldFatigueDraft, type FatigueDraft, type FatigueState } from '../feedback/fatigue.js';
import { MAX_FEEDBACK_VALUE, resolveFeedback, silenceOutcome, type FeedbackSemantics, type StandingOutcome } from '../feedback/resolve.js';
import type { SelectionParams } from '../policies/explore/select.js';
import { availableTokens, refillBucket, takeTokens, type BucketState } from '../policies/explore/token-bucket.js';
import {
  isRetrainable,
  type DataRange,
  type RetrainablePolicy,
  type RetrainMetrics,
  type RetrainResult,
  type RetrainRuntime,
} from '../policies/neural-linear/retrainable.js';
import { createPolicy } from '../policies/registry.js';
import type { Policy, PolicySnapshot } from '../policies/types.js';
import {
  StoreConflict,
  type DecisionRecord,
  type FeedbackKind,
  type LedgerEntry,
  type LoggedCandidate,
  type NewOutcome,
  type OpenImpression,
  type OutcomeRecord,
  type SlateEntry,
  type Store,
} from '../storage/types.js';
import { posteriorKey, type ModelConfig } from './config.js';
import { decide, jsonSourceable, loggedCandidates, type DecisionJob, type DecisionOutcome, type FeatureSource } from './decide.js';
import { LiubaiError } from './errors.js';
import { ReplicaRejected, ReplicaUnavailable, type PolicyReplica, type PolicyReplicas } from './replicas.js';

/** What a model needs from its surroundings. */
export interface ModelDeps {
  readonly store: Store;
  /** Milliseconds since the epoch; the only source of time. */
  readonly clock: () => number;
  /** A fresh unique eventId (server: random UUIDs; simulations: a seeded counter). */
  readonly newEventId: () => string;
  /** Save a snapshot every this many folded log entries (default 1000; 0 = never). */
  readonly snapshotEvery?: number;
  /**
   * How retrainable policies (neural-linear) retrain: off-thread runner, artifacts. Absent: they
   * retrain inline, synchronously, when due (simulations, tests).
   */
  readonly retrain?: RetrainRuntime;
}

/** What one adopted retrain did. */
export interface RetrainSummary {
  readonly modelId: string;
  /** The representation version now serving. */
  readonly version: number;
  readonly range: DataRange;
  readonly metrics: RetrainMetrics;
  /** Learning-log entries replayed into the new head. */
  readonly replayed: number;
  /** From job to swap, ms (model clock). */
  readonly durationMs: number;
  /** Where the artifact was saved, when the runtime keeps artifacts. */
  readonly artifact?: string;
}

/** Learning-log entries replayed per slice of an asynchronous rebuild (then the event loop runs). */
const REBUILD_SLICE = 256;

export interface RankRequest {
  readonly context: NamespacedFeatures;
  readonly candidates: readonly Candidate[];
  readonly slots?: number;
  readonly userId?: string;
  readonly eventId?: string;
  readonly deferExposure?: boolean;
}

export interface RankedItem {
  readonly id: string;
  readonly position: number;
  readonly propensity: number;
  readonly slatePropensity: number;
  readonly explored: boolean;
}

export interface RankResponse {
  readonly eventId: string;
  readonly modelVersion: number;
  readonly posteriorSeq: number;
  /** Encoder version the scores came from (retrainable policies such as neural-linear only). */
  readonly representationVersion?: number;
  readonly slate: readonly RankedItem[];
}

export interface FeedbackEvent {
  readonly eventId: string;
  readonly itemId: string;
  readonly kind: FeedbackKind;
  readonly value?: number;
  /** Client time of the feedback (ms); defaults to now. Used for records and fatigue only. */
  readonly at?: number;
}

export interface FeedbackResult {
  /** false when the same (eventId, itemId, kind) was received before: nothing changed. */
  readonly accepted: boolean;
  /** Learning-log entries written (retraction and/or new outcome). */
  readonly outcomes: number;
}

/** Per-user state kept between calls. */
interface UserRecord {
  readonly fatigue: FatigueState;
  readonly bucket: BucketState | null;
  readonly recentGroups: readonly string[];
}

const EMPTY_USER: UserRecord = { fatigue: {}, bucket: null, recentGroups: [] };

/** A rank between its validation and its records (see Model.beginRank / commitRank). */
interface RankPlan {
  readonly request: RankRequest;
  readonly now: number;
  readonly eventId: string;
  readonly userId: string | undefined;
  readonly user: UserRecord;
  readonly extras: ReadonlyArray<Namespace | undefined>;
  readonly bucket: BucketState | null;
  readonly job: Omit<DecisionJob, 'features'>;
}

/** Snapshot state of a model's posterior. */
interface PosteriorState {
  readonly policy: PolicySnapshot;
  readonly ordinals: number;
}

/** Counters for metrics. */
export interface ModelCounters {
  decisions: number;
  explored: number;
  /** Sum of the explored slots' cost estimates (the ledger's `cost`: score given up for serendipity). */
  exploredCost: number;
  /**
   * Decisions whose whole slate came from the propensity floor's uniform component (probability
   * min(1, floor·k/slots)): exploration outside the budget's share, tokens and ledger.
   */
  floorSlates: number;
  slots: number;
  outcomes: Record<string, number>;
  retractions: number;
  /** Learning-log entries folded without an update: their decision cannot be featurized under this config (see Model.loggedFeatures). */
  unlearnable: number;
}

function isUserRecord(v: unknown): v is UserRecord {
  return typeof v === 'object' && v !== null && 'fatigue' in v && 'recentGroups' in v;
}

/** One model: config, posterior, budget, fatigue, learning log. */
export class Model {
  readonly modelId: string;
  readonly version: number;
  readonly config: ModelConfig;
  private readonly deps: ModelDeps;
  private readonly featurizer: Featurizer;
  private policy: Policy;
  private readonly semantics: FeedbackSemantics;
  /** Last learning-log seq folded into the posterior. */
  private foldedSeq = 0;
  /** Outcomes (not retractions) folded so far: the ordinal of the next outcome. */
  private ordinals = 0;
  private sinceSnapshot = 0;
  private readonly decayGamma: number | null;
  private readonly decayEvery: number;
  private readonly halfLifeMs: number;
  readonly counters: ModelCounters = { decisions: 0, explored: 0, exploredCost: 0, floorSlates: 0, slots: 0, outcomes: {}, retractions: 0, unlearnable: 0 };
  /** The featurizer of logged decisions that exceed this config's limits (built when first needed: see loggedFeatures). */
  private unlimited: Featurizer | null = null;
  /** Entries {@link applyEntry} has applied without an update because their decision is not featurizable. */
  private skippedEntries = 0;
  /**
   * Whether folds count in {@link counters}: not while the constructor recovers the posterior
   * from the log (those outcomes were counted by the process, or the model version, that wrote
   * them), from then on.
   */
  private counting = false;
  /**
   * Recently written or read decisions (feedback usually follows its decision closely): saves
   * the store a read and a JSON parse per outcome. Records are immutable except `exposedAt`,
   * which is read from the store where it matters. Kept with the shown candidates only: every
   * outcome, window and feedback event is about a shown item, and the unshown candidates are
   * most of a record's memory (the heap the collector walks).
   */
  private readonly recent = new Map<string, DecisionRecord>();
  private static readonly RECENT_LIMIT = 20_000;
  /** Representation version of a retrainable policy (0: its seeded initial one). */
  private repVersion = 0;
  /** `ordinals` when the last retrain job was prepared (or the initial artifact's). */
  private retrainedAtOrdinal = 0;
  private retrainRun: Promise<RetrainSummary> | null = null;
  /** True while recovering: retrains are not triggered by replayed outcomes. */
  private replaying = false;
  private closed = false;
  /** Seqs of the latest outcomes (ring of the policy's training-window size), for data ranges. */
  private windowSeqs: Float64Array | null = null;
  private windowCount = 0;
  /** The posterior's mirror in a worker thread (see attachReplica), or null. */
  private replica: PolicyReplica | null = null;
  /** eventIds of ranks between validation and their records (rankAsync). */
  private readonly inflight = new Set<string>();
  /** Per user: the latest rankAsync call, which the next one waits for. */
  private readonly userTurns = new Map<string, Promise<void>>();
  /** True when the posterior moved on in the replica only (see ensureCurrent). */
  private stale = false;
  /** Snapshots being serialized by the replica. */
  private readonly snapshots = new Set<Promise<void>>();

  /**
   * Build a model and bring its posterior up to date: the latest snapshot for this config (if any)
   * plus a replay of the learning log after it.
   */
  constructor(modelId: string, version: number, config: ModelConfig, deps: ModelDeps) {
    this.modelId = modelId;
    this.version = version;
    this.config = config;
    this.deps = deps;
    this.featurizer = createFeaturizer(config.features);
    this.semantics = config.feedback;
    const half = config.decay.halfLifeOutcomes;
    this.decayGamma = half === null ? null : Math.pow(2, -1 / half);
    this.decayEvery = config.decay.every ?? (half === null ? 1 : Math.max(1, Math.round(half / 100)));
    this.halfLifeMs = config.fatigue.halfLifeSeconds * 1000;
    this.policy = createPolicy(config.policy);
    if (isRetrainable(this.policy)) this.startRepresentation(this.policy);
    this.recover();
    this.counting = true;
  }

  /**
   * Continue the counters of the model this one replaces (a reconfiguration): the metrics count
   * since the process started, not since the last PUT.
   */
  continueCounters(from: ModelCounters): void {
    const c = this.counters;
    c.decisions += from.decisions;
    c.explored += from.explored;
    c.exploredCost += from.exploredCost;
    c.floorSlates += from.floorSlates;
    c.slots += from.slots;
    c.retractions += from.retractions;
    c.unlearnable += from.unlearnable;
    for (const [kind, n] of Object.entries(from.outcomes)) c.outcomes[kind] = (c.outcomes[kind] ?? 0) + n;
  }

  /** The learning-log position of the current posterior. */
  get posteriorSeq(): number {
    return this.foldedSeq;
  }

  /**
   * The learning-log position the serving posterior has actually learned up to: with a policy
   * replica, what the replica has applied so far (it learns asynchronously; decisions wait for
   * it, see replicas.ts); else {@link posteriorSeq}.
   */
  get learnedSeq(): number {
    const replica = this.replica;
    return replica && replica.healthy ? Math.min(this.foldedSeq, replica.learnedSeq) : this.foldedSeq;
  }

  /**
   * Resolves once the serving posterior is at most `maxLag` learning-log entries behind
   * {@link posteriorSeq} (at once without a replica, which learns synchronously). The server
   * awaits it before acknowledging feedback: a client sending feedback faster than the replica
   * learns is slowed to the replica's pace, so the backlog — hence the wait of every decision
   * queued behind it, and the memory the queued operations hold — stays bounded.
   */
  learned(maxLag: number): Promise<void> {
    const replica = this.replica;
    if (!replica || !replica.healthy) return RESOLVED;
    const target = this.foldedSeq - maxLag;
    return replica.learnedSeq >= target ? RESOLVED : replica.learned(target);
  }

  /** The policy's summary of the posterior. */
  describePosterior(): Record<string, unknown> {
    const extra = isRetrainable(this.policy) ? { representationVersion: this.repVersion, retraining: this.retrainRun !== null } : {};
    this.ensureCurrent();
    return { ...this.policy.describe(), kind: this.policy.kind, foldedSeq: this.foldedSeq, outcomes: this.ordinals, ...extra };
  }

  /**
   * Version of the learned representation serving decisions (retrainable policies; 0 for the
   * others and before the first retrain). Bumped by every adopted retrain.
   */
  get representationVersion(): number {
    return this.repVersion;
  }

  /**
   * Posterior mean score of each candidate in a context: a read-only probe (no draw, no
   * fatigue features, nothing logged), e.g. for plotting how the posterior moves over a
   * simulation. Scores are on the policy's own scale (a click probability for
   * `beta-bernoulli`, the linear predictor for `linear-gaussian`).
   * @returns one mean per candidate, in candidate order (length = candidates.length)
   * @throws LiubaiError INVALID_FEATURES (naming the path)
   */
  meanScores(context: NamespacedFeatures, candidates: readonly Candidate[]): Float64Array {
    const k = candidates.length;
    const features = this.featurize(context, candidates, new Array<Namespace | undefined>(k).fill(undefined));
    const mean = new Float64Array(k);
    this.ensureCurrent();
    this.policy.summarize(features, mean, new Float64Array(k));
    return mean;
  }

  // ───────────────────────────── rank ─────────────────────────────

  /**
   * Rank candidates for a person in the current situation.
   * @throws LiubaiError INVALID_REQUEST (slots, duplicate candidate ids, too many candidates),
   *   INVALID_FEATURES (naming the path), DUPLICATE_EVENT (a reused eventId)
   */
  rank(request: RankRequest): RankResponse {
    const plan = this.beginRank(request);
    return this.commitRank(plan, this.decideHere(plan), this.foldedSeq, false);
  }

  /**
   * {@link rank}, with the policy half on the model's replica when it has one (see
   * {@link attachReplica}): the same validation, records and transaction, and the same slate
   * for the same posterior and seed. Ranks of one user are serialized (the budget's token bucket
   * is read and spent by one rank at a time); an eventId is reserved while its rank is in flight.
   * Without a healthy replica this is `rank`.
   * @param json the JSON text `request` was parsed and validated from, when there is one (an
   *   HTTP body): the replica gets the text rather than a clone of the parsed object
   * @throws LiubaiError as {@link rank}; NOT_READY when the model was reconfigured or deleted
   *   while the decision was computed
   */
  rankAsync(request: RankRequest, json?: string): Promise<RankResponse> {
    const replica = this.replica;
    if (!replica || !replica.healthy) {
      // A rank of this user may still be on a replica that just failed: wait for it, so that the
      // bucket is read and spent by one rank at a time here too.
      if (request.userId !== undefined && this.userTurns.has(request.userId)) {
        return this.withUser(request.userId, async () => this.rank(request));
      }
      try {
        return Promise.resolve(this.rank(request));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    const userId = request.userId;
    if (userId === undefined) return this.rankOnReplica(request, replica, json);
    return this.withUser(userId, () => this.rankOnReplica(request, replica, json));
  }

  /**
   * Mirror the posterior in a worker thread so that {@link rankAsync} decides there. The model's
   * own policy is restored from the snapshot it sends, so both continue from the same state.
   * Retrainable policies (neural-linear) keep deciding in this thread.
   * @returns whether a replica was attached
   */
  attachReplica(replicas: PolicyReplicas): boolean {
    if (this.replica || this.closed || isRetrainable(this.policy) || !replicas.alive) return false;
    const snap = this.policy.snapshot();
    this.policy = createPolicy(this.config.policy, snap);
    this.replica = replicas.attach(this.config.policy, this.config.features, snap, this.foldedSeq);
    return true;
  }

  /** Whether decisions currently run on a replica. */
  get replicated(): boolean {
    return this.replica !== null && this.replica.healthy;
  }

  private async rankOnReplica(request: RankRequest, replica: PolicyReplica, json: string | undefined): Promise<RankResponse> {
    const plan = this.beginRank(request);
    const eventId = plan.eventId;
    this.inflight.add(eventId);
    try {
      let seq = this.foldedSeq;
      let outcome: DecisionOutcome;
      try {
        // The replica featurizes too: this thread only sends the validated request.
        const source: FeatureSource = jsonSourceable(json)
          ? { json, extras: plan.extras }
          : { context: plan.request.context, candidates: plan.request.candidates, extras: plan.extras };
        outcome = await replica.decide({ ...plan.job, source });
      } catch (error) {
        if (error instanceof ReplicaRejected) {
          throw new LiubaiError('INVALID_FEATURES', error.message, [{ path: error.path, message: error.message }]);
        }
        if (!(error instanceof ReplicaUnavailable)) throw error;
        if (this.replica === replica) {
          replica.detach();
          this.replica = null;
        }
        if (this.closed) throw modelChanged(this.modelId);
        // Decide here instead, on the posterior as it is now.
        seq = this.foldedSeq;
        outcome = this.decideHere(plan);
      }
      if (this.closed) throw modelChanged(this.modelId);
      return this.commitRank(plan, outcome, seq, true);
    } finally {
      this.inflight.delete(eventId);
    }
  }

  /** The policy half of a rank in this thread: features, then the decision on the current posterior. */
  private decideHere(plan: RankPlan): DecisionOutcome {
    const features = this.featurize(plan.request.context, plan.request.candidates, plan.extras);
    this.ensureCurrent();
    return decide(this.policy, { ...plan.job, features });
  }

  /** Run `fn` after every earlier call for the same user has settled. */
  private async withUser<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.userTurns.get(userId);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.userTurns.set(userId, mine);
    try {
      if (before) await before;
      return await fn();
    } finally {
      release();
      if (this.userTurns.get(userId) === mine) this.userTurns.delete(userId);
    }
  }

  /** Validation, fatigue and the budget's state: everything a rank does before its features and the policy. */
  private beginRank(request: RankRequest): RankPlan {
    const { config } = this;
    const now = this.deps.clock();
    const candidates = request.candidates;
    const k = candidates.length;
    if (k === 0) throw new LiubaiError('INVALID_REQUEST', 'candidates must not be empty', [{ path: ['candidates'], message: 'empty' }]);
    if (k > config.limits.maxCandidates) {
      throw new LiubaiError('TOO_MANY_CANDIDATES', `at most ${config.limits.maxCandidates} candidates per request`, [
        { path: ['candidates'], message: `${k} > ${config.limits.maxCandidates}` },
      ]);
    }
    const slots = request.slots ?? config.slots;
    if (!Number.isInteger(slots) || slots < 1 || slots > config.limits.maxSlots) {
      throw new LiubaiError('INVALID_REQUEST', `slots must be an integer in [1, ${config.limits.maxSlots}]`, [
        { path: ['slots'], message: `got ${slots}` },
      ]);
    }
    const seen = new Set<string>();
    for (let i = 0; i < k; i++) {
      const id = candidates[i]!.id;
      if (seen.has(id)) {
        throw new LiubaiError('INVALID_REQUEST', `duplicate candidate id ${JSON.stringify(id)}`, [
          { path: ['candidates', i, 'id'], message: 'duplicate id' },
        ]);
      }
      seen.add(id);
    }
    const eventId = request.eventId ?? this.deps.newEventId();
    if (this.recent.has(eventId) || this.inflight.has(eventId)) {
      throw duplicateEvent(eventId);
    }
    // Older reuse is caught by the store's unique key when the decision is written.

    const userId = request.userId;
    const user = userId === undefined ? EMPTY_USER : this.loadUser(userId);

    // Fatigue: features for the model to learn from, and the cool-down rule.
    const fatigueOn = config.fatigue.enabled;
    const extras: Array<Namespace | undefined> = new Array<Namespace | undefined>(k);
    const cooledDown = new Uint8Array(k);
    for (let i = 0; i < k; i++) {
      const c = candidates[i]!;
      if (!fatigueOn || userId === undefined) continue;
      const fi = fatigueAt(user.fatigue, fatigueKey.item(c.id), now, this.halfLifeMs);
      const fg = c.group === undefined ? 0 : fatigueAt(user.fatigue, fatigueKey.group(c.group), now, this.halfLifeMs);
      if (fi >= config.fatigue.coolDownAfter) cooledDown[i] = 1;
      if (config.fatigue.asFeatures && (fi > 0 || fg > 0)) extras[i] = roundedFatigue(fi, fg);
    }

    // Budget: per-user token bucket caps serendipity slots in this slate.
    let bucket: BucketState | null = null;
    let exploreTokens = Number.POSITIVE_INFINITY;
    const perUser = config.budget.perUser;
    if (perUser && userId !== undefined) {
      bucket = refillBucket(user.bucket ?? { tokens: perUser.burst, updatedAt: now }, now, perUser.ratePerHour, perUser.burst);
      exploreTokens = Math.floor(availableTokens(bucket) + 1e-9);
    }
    const params: SelectionParams = {
      slots,
      share: config.budget.share,
      exploreTokens,
      floor: config.budget.floor,
      maxGroupShare: config.budget.maxGroupShare,
      rule: config.budget.rule,
    };
    const job: Omit<DecisionJob, 'features'> = {
      groups: candidates.map((c) => c.group),
      cooledDown,
      recentGroups: user.recentGroups,
      params,
      needSd: config.budget.rule === 'uncertain' && config.budget.share > 0,
      // One posterior draw per decision, on the decision's own seed.
      seed: decisionSeed(config.seed, this.version, eventId),
      temperature: config.budget.temperature,
      draws: config.propensity.draws,
    };
    return { request, now, eventId, userId, user, extras, bucket, job };
  }

  /**
   * The decision's records, written in one transaction, and the answer. `reloadUser`: read the
   * person's state again for its fatigue (feedback may have changed it while the decision was
   * computed elsewhere); the bucket and recent groups are only changed by ranks, which
   * {@link rankAsync} serializes per user.
   */
  private commitRank(plan: RankPlan, outcome: DecisionOutcome, posteriorSeq: number, reloadUser: boolean): RankResponse {
    const { config } = this;
    const { request, now, eventId, userId, extras, bucket } = plan;
    const candidates = request.candidates;
    const slate: SlateEntry[] = [];
    const ledger: LedgerEntry[] = [];
    let explored = 0;
    for (let p = 0; p < outcome.length; p++) {
      const idx = outcome.items[p]!;
      const c = candidates[idx]!;
      const isExplored = outcome.explored[p] === 1;
      slate.push({
        itemId: c.id,
        position: p + 1,
        propensity: outcome.position[p]!,
        slatePropensity: outcome.slate[p]!,
        explored: isExplored,
      });
      if (isExplored) {
        explored++;
        ledger.push({
          modelId: this.modelId,
          eventId,
          ...(userId !== undefined ? { userId } : {}),
          itemId: c.id,
          position: p + 1,
          rule: config.budget.rule,
          cost: outcome.cost[p]!,
          at: now,
        });
      }
    }

    const deferred = request.deferExposure === true;
    const logged = loggedCandidates(candidates, extras);
    const policy = this.policy;
    const record: DecisionRecord = {
      modelId: this.modelId,
      eventId,
      modelVersion: this.version,
      posteriorSeq,
      seed: plan.job.seed,
      at: now,
      ...(userId !== undefined ? { userId } : {}),
      context: request.context,
      candidates: logged,
      slate,
      draws: config.propensity.draws,
      exposedAt: deferred ? null : now,
      ...(isRetrainable(policy) ? { representationVersion: this.repVersion } : {}),
    };

    let nextUser: UserRecord | null = null;
    if (userId !== undefined) {
      const user = reloadUser ? this.loadUser(userId) : plan.user;
      const shownGroups = slate.map((s) => candidates.find((c) => c.id === s.itemId)?.group).filter((g): g is string => g !== undefined);
      nextUser = {
        fatigue: user.fatigue,
        bucket: bucket ? takeTokens(bucket, explored) : user.bucket,
        recentGroups: recentGroups(user.recentGroups, shownGroups, config.budget.recentGroups),
      };
    }

    const store = this.deps.store;
    try {
      store.transaction(() => {
        store.insertDecision(record, outcome.candidatesJson !== undefined ? { candidates: outcome.candidatesJson } : undefined);
        if (!deferred) store.openWindows(this.windows(record, now));
        if (ledger.length > 0) store.appendLedger(ledger);
        if (nextUser && userId !== undefined) store.putUserState(this.modelId, userId, nextUser);
      });
    } catch (error) {
      if (error instanceof StoreConflict) {
        throw duplicateEvent(eventId);
      }
      throw error;
    }

    this.remember(record);
    this.counters.decisions++;
    this.counters.slots += slate.length;
    this.counters.explored += explored;
    for (const e of ledger) this.counters.exploredCost += e.cost;
    if (outcome.floor) this.counters.floorSlates++;
    return {
      eventId,
      modelVersion: this.version,
      posteriorSeq,
      ...(record.representationVersion !== undefined ? { representationVersion: record.representationVersion } : {}),
      slate: slate.map((s) => ({
        id: s.itemId,
        position: s.position,
        propensity: s.propensity,
        slatePropensity: s.slatePropensity,
        explored: s.explored,
      })),
    };
  }

  // ─────────────────────────── exposure ───────────────────────────

  /**
   * Mark a deferred decision as seen now: its reward windows start.
   * @returns false when it was exposed already (idempotent)
   * @throws LiubaiError UNKNOWN_EVENT
   */
  expose(eventId: string): boolean {
    const now = this.deps.clock();
    this.decision(eventId);
    const d = this.deps.store.getDecision(this.modelId, eventId)!;
    if (d.exposedAt !== null) return false;
    const store = this.deps.store;
    return store.transaction(() => store.exposeDecision(this.modelId, eventId, now, this.windows(d, now)));
  }

  // ─────────────────────────── feedback ───────────────────────────

  /**
   * Apply one feedback event: idempotent per (eventId, itemId, kind).
   * @throws LiubaiError UNKNOWN_EVENT, UNKNOWN_ITEM (not in the decision's slate)
   */
  feedback(event: FeedbackEvent): FeedbackResult {
    return this.feedbackMany([event])[0]!;
  }

  /**
   * Apply several feedback events in order, in one transaction. Every event is checked before
   * anything is written: one bad event rejects the whole batch and changes nothing.
   * @throws LiubaiError UNKNOWN_EVENT, UNKNOWN_ITEM with the event's index in the path
   */
  feedbackMany(events: readonly FeedbackEvent[]): FeedbackResult[] {
    const now = this.deps.clock();
    const checked = events.map((event, i) => {
      try {
        if (event.value !== undefined && !(Math.abs(event.value) <= MAX_FEEDBACK_VALUE)) {
          throw new LiubaiError('INVALID_REQUEST', `value must be a number in [−${MAX_FEEDBACK_VALUE}, ${MAX_FEEDBACK_VALUE}]`, [
            { path: ['value'], message: `a number in [−${MAX_FEEDBACK_VALUE}, ${MAX_FEEDBACK_VALUE}]` },
          ]);
        }
        const d = this.decision(event.eventId);
        const shown = d.slate.find((s) => s.itemId === event.itemId);
        if (!shown) {
          throw new LiubaiError('UNKNOWN_ITEM', `item ${JSON.stringify(event.itemId)} was not in the slate of ${event.eventId}`, [
            { path: ['itemId'], message: 'not in the slate' },
          ]);
        }
        return { event, d, shown };
      } catch (error) {
        if (error instanceof LiubaiError && events.length > 1) {
          throw new LiubaiError(
            error.code,
            `events.${i}: ${error.message}`,
            error.issues.map((x) => ({ path: ['events', i, ...x.path], message: x.message })),
          );
        }
        throw error;
      }
    });
    const store = this.deps.store;
    const written: OutcomeRecord[] = [];
    const results: FeedbackResult[] = [];
    store.transaction(() => {
      let ordinal = this.ordinals;
      // Fatigue states folded in this transaction, by user: written once, after the last outcome.
      const drafts: FatigueDrafts = new Map();
      for (const { event, d, shown } of checked) {
        const at = event.at ?? now;
        const accepted = store.insertFeedback({
          modelId: this.modelId,
          eventId: event.eventId,
          itemId: event.itemId,
          kind: event.kind,
          ...(event.value !== undefined ? { value: event.value } : {}),
          at,
        });
        if (!accepted) {
          results.push({ accepted: false, outcomes: 0 });
          continue;
        }
        const standing = store.activeOutcome(this.modelId, event.eventId, event.itemId);
        const windowOpen = store.isWindowOpen(this.modelId, event.eventId, event.itemId);
        // An unexposed impression yields nothing from silence: `ignore` needs an open window.
        const resolution = resolveFeedback(this.semantics, event.kind, event.value, shown.position, standing, windowOpen);
        const before = written.length;
        if (resolution.retract && standing) written.push(this.appendRetraction(standing, at));
        if (resolution.apply) {
          written.push(this.appendOutcome(d, shown.position, shown.itemId, resolution.apply, at, ordinal++));
        }
        store.closeWindow(this.modelId, event.eventId, event.itemId);
        // Fatigue follows what the person did, whether or not the model learns from it; at most
        // at the server's now (a client `at` ahead of it would forget the rest of the memory early).
        const effect = this.semantics.learnSilence
          ? resolution
          : resolveFeedback({ ...this.semantics, learnSilence: true }, event.kind, event.value, shown.position, standing, windowOpen);
        if (effect.apply) {
          this.foldUserFatigue(d, shown.itemId, effect.apply.kind, Math.min(at, now), drafts, () => this.rejectionCounted(event.eventId, standing, windowOpen));
        }
        results.push({ accepted: true, outcomes: written.length - before });
      }
      this.putFolded(drafts);
    });
    for (const o of written) this.fold(o);
    return results;
  }

  /**
   * Whether fatigue already counts a rejection of this impression, so that a rejection that
   * supersedes it (a dismiss after the window closed as silence, or after an explicit ignore)
   * counts the impression once: its standing outcome is a rejection, or — when silence is not
   * learned, so it left no outcome — its window was opened by an exposure and closed without
   * one.
   */
  private rejectionCounted(eventId: string, standing: StandingOutcome | undefined, windowOpen: boolean): boolean {
    if (standing) return isRejection(standing.kind);
    if (windowOpen) return false;
    // The cached record's exposure may be stale: the store's is current.
    return (this.deps.store.getDecision(this.modelId, eventId)?.exposedAt ?? null) !== null;
  }

  // ──────────────────────────── silence ───────────────────────────

  /**
   * Close every reward window whose deadline is ≤ now: an exposed impression with no feedback
   * becomes an `ignored` outcome weighted by its examination probability.
   * At most `max` windows per call (a backlog after downtime is worked off over several calls
   * instead of stalling the caller).
   * @returns the number of windows closed
   */
  tick(now: number = this.deps.clock(), batch = 1000, max = Number.POSITIVE_INFINITY): number {
    const store = this.deps.store;
    let closed = 0;
    for (;;) {
      const due = store.dueWindows(this.modelId, now, Math.min(batch, max - closed));
      if (due.length === 0) break;
      const written: OutcomeRecord[] = [];
      store.transaction(() => {
        let ordinal = this.ordinals;
        // A slate's windows close together: its user's fatigue is copied once, folded in place,
        // and written once.
        const drafts: FatigueDrafts = new Map();
        for (const w of due) {
          if (!store.closeWindow(this.modelId, w.eventId, w.itemId)) continue;
          closed++;
          if (store.activeOutcome(this.modelId, w.eventId, w.itemId)) continue;
          const d = this.cachedDecision(w.eventId);
          if (!d) continue;
          const s = silenceOutcome(this.semantics, w.position);
          if (this.semantics.learnSilence) written.push(this.appendOutcome(d, w.position, w.itemId, s, w.deadline, ordinal++));
          this.foldUserFatigue(d, w.itemId, 'ignored', w.deadline, drafts);
        }
        this.putFolded(drafts);
      });
      for (const o of written) this.fold(o);
      if (due.length < batch || closed >= max) break;
    }
    return closed;
  }

  // ─────────────────────────── learning ───────────────────────────

  /** Fold log entries written by others (or not yet folded) up to the end of the log. */
  catchUp(): number {
    let n = 0;
    for (;;) {
      const batch = this.deps.store.outcomesAfter(this.modelId, this.foldedSeq, 1000);
      if (batch.length === 0) return n;
      for (const o of batch) this.fold(o);
      n += batch.length;
    }
  }

  /**
   * Save a snapshot of the posterior now. Retrainable policies are not snapshotted: their state is
   * rebuilt from the latest encoder artifact and the log (see {@link retrain}).
   */
  snapshot(): void {
    if (isRetrainable(this.policy)) {
      this.sinceSnapshot = 0;
      return;
    }
    this.sinceSnapshot = 0;
    const seq = this.foldedSeq;
    const ordinals = this.ordinals;
    const save = (policy: PolicySnapshot) => {
      const state: PosteriorState = { policy, ordinals };
      this.deps.store.saveSnapshot({ modelId: this.modelId, seq, configKey: posteriorKey(this.config), state, at: this.deps.clock() });
    };
    const replica = this.replica;
    if (this.stale && replica && replica.healthy) {
      // The replica holds the posterior at `seq`: serialize it there, save it here when it comes.
      const pending = replica.snapshot().then(
        (policy) => {
          if (!this.closed) this.deps.store.transaction(() => save(policy));
        },
        () => {
          // The replica failed: the next snapshot is taken here (snapshots only shorten replays).
        },
      );
      this.snapshots.add(pending);
      void pending.finally(() => this.snapshots.delete(pending));
      return;
    }
    this.ensureCurrent();
    save(this.policy.snapshot());
  }

  /** Wait for snapshots still being serialized by a replica (e.g. before closing the store). */
  async settled(): Promise<void> {
    while (this.snapshots.size > 0) await Promise.all([...this.snapshots]);
  }

  /** The posterior as JSON (for tests and audits: equal JSON = equal posterior). */
  posteriorSnapshot(): PolicySnapshot {
    this.ensureCurrent();
    return this.policy.snapshot();
  }

  /**
   * While a replica mirrors the posterior, the model's own copy is not updated (the replica
   * learns; snapshots come from it). When this thread needs the posterior — a decision without
   * the replica, a summary, a snapshot without the replica — it is rebuilt as a restart would:
   * the latest snapshot plus a replay of the learning log after it.
   */
  private ensureCurrent(): void {
    if (!this.stale) return;
    const snap = this.deps.store.latestSnapshot(this.modelId, posteriorKey(this.config));
    const usable = snap !== undefined && snap.seq <= this.foldedSeq ? snap : undefined;
    const state = usable?.state as PosteriorState | undefined;
    const policy = createPolicy(this.config.policy, state?.policy);
    const replayed = this.replayInto(policy, usable?.seq ?? 0, state?.ordinals ?? 0, this.foldedSeq, Number.POSITIVE_INFINITY);
    if (replayed.ordinals !== this.ordinals) {
      throw new Error(`model ${this.modelId}: rebuilt posterior has ${replayed.ordinals} outcomes, expected ${this.ordinals}`);
    }
    this.policy = policy;
    this.stale = false;
  }

  private recover(): void {
    if (isRetrainable(this.policy)) {
      this.replaying = true;
      try {
        this.catchUp();
      } finally {
        this.replaying = false;
      }
      return;
    }
    const snap = this.deps.store.latestSnapshot(this.modelId, posteriorKey(this.config));
    if (snap) {
      const state = snap.state as PosteriorState;
      this.policy = createPolicy(this.config.policy, state.policy);
      this.ordinals = state.ordinals;
      this.foldedSeq = snap.seq;
    }
    this.catchUp();
  }

  /** Fold one learning-log entry into the posterior, in log order. */
  private fold(o: OutcomeRecord): void {
    if (o.seq <= this.foldedSeq) return;
    const skipped = this.skippedEntries;
    const replica = this.replica;
    if (replica && replica.healthy) {
      // Only the replica learns; this thread's copy is rebuilt when needed (ensureCurrent).
      this.ordinals = this.applyEntry(replica, o, this.ordinals);
      replica.mark(o.seq);
      this.stale = true;
    } else {
      this.ensureCurrent();
      this.ordinals = this.applyEntry(this.policy, o, this.ordinals);
    }
    this.foldedSeq = o.seq;
    if (o.retracts === undefined) {
      if (this.counting) this.counters.outcomes[o.kind] = (this.counters.outcomes[o.kind] ?? 0) + 1;
      const ring = this.windowSeqs;
      if (ring) ring[this.windowCount++ % ring.length] = o.seq;
    } else if (this.counting) {
      this.counters.retractions++;
    }
    if (this.counting && this.skippedEntries > skipped) this.counters.unlearnable++;
    const every = this.deps.snapshotEvery ?? 1000;
    if (every > 0 && ++this.sinceSnapshot >= every) this.snapshot();
    this.maybeRetrain();
  }

  /**
   * The policy operations of one learning-log entry — its update (a retraction's weight reduced
   * by the decay its outcome underwent), then the scheduled decay — applied to `policy`, given the
   * outcomes folded before it. Shared by folding and by rebuilding a retrained policy, so both
   * apply exactly the same operations. @returns the outcome count after the entry
   */
  private applyEntry(policy: Pick<Policy, 'update' | 'decay'>, o: OutcomeRecord, ordinals: number): number {
    const d = this.cachedDecision(o.eventId);
    if (d) {
      const idx = d.candidates.findIndex((c) => c.id === o.itemId);
      const c = d.candidates[idx];
      const df = c ? this.loggedFeatures(d.context, c) : null;
      if (df) {
        let weight = o.weight;
        if (o.retracts !== undefined && this.decayGamma !== null) {
          // The retracted outcome has been decayed since it was folded: retract what is left of it.
          const steps = Math.floor(ordinals / this.decayEvery) - Math.floor(o.ordinal / this.decayEvery);
          weight *= Math.pow(this.decayGamma, this.decayEvery * steps);
        }
        if (weight !== 0) {
          policy.update(df.featurizer.outcomeFeatures(df.features, 0), o.reward, weight);
        }
      }
    }
    if (o.retracts === undefined) {
      ordinals++;
      if (this.decayGamma !== null && ordinals % this.decayEvery === 0) {
        policy.decay(Math.pow(this.decayGamma, this.decayEvery));
      }
    }
    return ordinals;
  }

  /**
   * The features of a logged candidate, to learn from, or null when this config cannot featurize
   * it (the entry then teaches nothing; counted in `unlearnable`). A decision was valid under the
   * config it was made with, but a later config may reject it: its limits (maxFeatures,
   * maxStringLength, maxNamespaces) guard requests, not the log, so a decision over them is
   * featurized without them — the same features, as limits only refuse; a structural conflict
   * (a namespace the new config reserves, an interaction product that overflows) cannot be. Either
   * way the outcome depends only on the config and the log, so a replay folds exactly what the
   * live model folded, and a reconfiguration can never make the stored model unloadable.
   */
  private loggedFeatures(context: NamespacedFeatures, c: LoggedCandidate): { features: DecisionFeatures; featurizer: Featurizer } | null {
    const useExtra = this.config.fatigue.enabled && this.config.fatigue.asFeatures;
    const extras = [useExtra ? c.extra : undefined];
    try {
      return { features: this.featurizer.featurize(context, [c], extras), featurizer: this.featurizer };
    } catch (error) {
      if (!(error instanceof FeatureError)) throw error;
      if (error.code === 'TOO_MANY_FEATURES' || error.code === 'STRING_TOO_LONG' || error.code === 'TOO_MANY_NAMESPACES') {
        this.unlimited ??= createFeaturizer({ ...this.config.features, ...FEATURE_LIMITS_MAX });
        try {
          return { features: this.unlimited.featurize(context, [c], extras), featurizer: this.unlimited };
        } catch (again) {
          if (!(again instanceof FeatureError)) throw again;
        }
      }
      this.skippedEntries++;
      return null;
    }
  }

  // ─────────────────────────── retraining ──────────────────────────

  /** Start from the runtime's latest artifact for this model, when it fits the config. */
  private startRepresentation(policy: RetrainablePolicy): void {
    this.windowSeqs = new Float64Array(Math.max(1, policy.trainingWindow));
    const initial = this.deps.retrain?.initial?.(this.modelId);
    if (!initial) return;
    let next: RetrainablePolicy;
    try {
      next = policy.withRepresentation(initial);
    } catch (error) {
      // The artifact was trained under another encoder shape: start from the seeded encoder.
      this.deps.retrain?.onError?.(this.modelId, error);
      return;
    }
    policy.dispose();
    this.policy = next;
    this.repVersion = initial.version;
    this.retrainedAtOrdinal = initial.range.ordinals;
  }

  private maybeRetrain(): void {
    const p = this.policy;
    if (this.replaying || this.closed || !isRetrainable(p) || p.retrainEvery <= 0) return;
    if (this.ordinals - this.retrainedAtOrdinal < p.retrainEvery) return;
    if (this.deps.retrain?.run) {
      if (this.retrainRun) return;
      this.retrain().catch((error: unknown) => this.deps.retrain?.onError?.(this.modelId, error));
    } else {
      this.retrainInline(p);
    }
  }

  private prepareJob(policy: RetrainablePolicy) {
    const ring = this.windowSeqs;
    const n = ring ? Math.min(this.windowCount, ring.length) : 0;
    const fromSeq = ring && n > 0 ? ring[(this.windowCount - n) % ring.length]! : 0;
    const range: DataRange = { fromSeq, toSeq: this.foldedSeq, ordinals: this.ordinals };
    const seed = deriveSeed('retrain', this.config.seed, this.modelId, policy.representationVersion + 1, this.foldedSeq);
    this.retrainedAtOrdinal = this.ordinals;
    return policy.prepareRetrain({ seed, range });
  }

  /**
   * Retrain the policy's representation from the log and switch to it (retrainable policies, e.g.
   * `neural-linear`). The job runs off the request path when the runtime has a runner (else in
   * this thread); the new head is rebuilt by replaying the whole learning log in slices that yield
   * to the event loop, while the current policy keeps serving and learning; once caught up, the
   * new policy replaces it in one synchronous step and the representation version is bumped.
   * Concurrent calls share one run.
   * @throws LiubaiError INVALID_REQUEST when the policy does not retrain; the runner's error
   */
  retrain(): Promise<RetrainSummary> {
    if (this.retrainRun) return this.retrainRun;
    const run = this.runRetrain().finally(() => {
      this.retrainRun = null;
    });
    this.retrainRun = run;
    return run;
  }

  private async runRetrain(): Promise<RetrainSummary> {
    const policy = this.policy;
    if (!isRetrainable(policy)) {
      throw new LiubaiError('INVALID_REQUEST', `policy ${policy.kind} of model ${this.modelId} does not retrain`, [
        { path: ['policy', 'kind'], message: 'not retrainable' },
      ]);
    }
    const started = this.deps.clock();
    const job = this.prepareJob(policy);
    const runtime = this.deps.retrain;
    const result = runtime?.run ? await runtime.run(job) : policy.retrainNow(job);
    if (this.closed || this.policy !== policy) throw new Error(`model ${this.modelId} changed while retraining; result dropped`);
    const next = policy.withRepresentation(result);
    let replayed = 0;
    try {
      let seq = 0;
      let ordinals = 0;
      for (;;) {
        const step = this.replayInto(next, seq, ordinals, this.foldedSeq, REBUILD_SLICE);
        seq = step.seq;
        ordinals = step.ordinals;
        replayed += step.replayed;
        if (seq >= this.foldedSeq) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.closed) throw new Error(`model ${this.modelId} closed while retraining`);
      }
    } catch (error) {
      next.dispose();
      throw error;
    }
    // Caught up with everything the serving policy has folded: switch in this same tick.
    this.swap(next, result.version);
    return this.finishRetrain(result, replayed, started);
  }

  /** Inline retrain (no runner): train, rebuild and switch synchronously. */
  private retrainInline(policy: RetrainablePolicy): void {
    const started = this.deps.clock();
    const result = policy.retrainNow(this.prepareJob(policy));
    const next = policy.withRepresentation(result);
    let replayed: number;
    try {
      replayed = this.replayInto(next, 0, 0, this.foldedSeq, Number.POSITIVE_INFINITY).replayed;
    } catch (error) {
      next.dispose();
      throw error;
    }
    this.swap(next, result.version);
    this.finishRetrain(result, replayed, started).catch((error: unknown) => this.deps.retrain?.onError?.(this.modelId, error));
  }

  /**
   * Replay learning-log entries with seq in (afterSeq, untilSeq] into `policy`, at most `limit`
   * of them. @returns where it stopped
   */
  private replayInto(
    policy: Policy,
    afterSeq: number,
    ordinals: number,
    untilSeq: number,
    limit: number,
  ): { seq: number; ordinals: number; replayed: number } {
    let seq = afterSeq;
    let replayed = 0;
    while (seq < untilSeq && replayed < limit) {
      const batch = this.deps.store.outcomesAfter(this.modelId, seq, Math.min(1000, limit - replayed));
      if (batch.length === 0) return { seq: untilSeq, ordinals, replayed };
      for (const o of batch) {
        if (o.seq > untilSeq) return { seq: untilSeq, ordinals, replayed };
        ordinals = this.applyEntry(policy, o, ordinals);
        seq = o.seq;
        replayed++;
      }
    }
    return { seq, ordinals, replayed };
  }

  private swap(next: RetrainablePolicy, version: number): void {
    next.flush();
    const old = this.policy as RetrainablePolicy;
    this.policy = next;
    this.repVersion = version;
    old.dispose();
  }

  private async finishRetrain(result: RetrainResult, replayed: number, started: number): Promise<RetrainSummary> {
    const durationMs = Math.max(0, this.deps.clock() - started);
    const artifact = await this.deps.retrain?.persist?.(result, {
      modelId: this.modelId,
      modelVersion: this.version,
      policyConfig: this.config.policy,
      durationMs,
      replayed,
    });
    return {
      modelId: this.modelId,
      version: result.version,
      range: result.range,
      metrics: result.metrics,
      replayed,
      durationMs,
      ...(artifact ? { artifact } : {}),
    };
  }

  /** Release what the policy holds outside the JS heap (tensors); a running retrain is dropped. */
  close(): void {
    this.closed = true;
    this.replica?.detach();
    this.replica = null;
    const p = this.policy;
    if (isRetrainable(p)) p.dispose();
  }

  // ──────────────────────────── helpers ───────────────────────────

  private featurize(context: NamespacedFeatures, candidates: readonly Candidate[], extras: ReadonlyArray<Namespace | undefined>): DecisionFeatures {
    try {
      return this.featurizer.featurize(context, candidates, extras);
    } catch (error) {
      if (error instanceof FeatureError) {
        throw new LiubaiError('INVALID_FEATURES', error.message, [{ path: error.path, message: error.message }]);
      }
      throw error;
    }
  }

  private remember(full: DecisionRecord): void {
    const shown = new Set<string>();
    for (const s of full.slate) shown.add(s.itemId);
    const d: DecisionRecord = full.candidates.length > shown.size ? { ...full, candidates: full.candidates.filter((c) => shown.has(c.id)) } : full;
    if (this.recent.size >= Model.RECENT_LIMIT) {
      // Drop the oldest quarter (Map iterates in insertion order).
      let n = Model.RECENT_LIMIT >> 2;
      for (const key of this.recent.keys()) {
        this.recent.delete(key);
        if (--n === 0) break;
      }
    }
    this.recent.set(d.eventId, d);
  }

  /** A logged decision (cached); exposure state may be stale, so `expose` reads the store. */
  private cachedDecision(eventId: string): DecisionRecord | undefined {
    const hit = this.recent.get(eventId);
    if (hit) return hit;
    const d = this.deps.store.getDecision(this.modelId, eventId);
    if (d) this.remember(d);
    return d;
  }

  private decision(eventId: string): DecisionRecord {
    const d = this.cachedDecision(eventId);
    if (!d) {
      throw new LiubaiError('UNKNOWN_EVENT', `no decision ${JSON.stringify(eventId)} for model ${this.modelId}`, [
        { path: ['eventId'], message: 'unknown' },
      ]);
    }
    return d;
  }

  private windows(d: DecisionRecord, now: number): OpenImpression[] {
    const deadline = now + this.config.feedback.rewardWindowSeconds * 1000;
    return d.slate.map((s) => ({ modelId: this.modelId, eventId: d.eventId, itemId: s.itemId, position: s.position, deadline }));
  }

  private loadUser(userId: string): UserRecord {
    const stored = this.deps.store.getUserState(this.modelId, userId);
    return isUserRecord(stored) ? stored : EMPTY_USER;
  }

  private appendOutcome(
    d: DecisionRecord,
    position: number,
    itemId: string,
    outcome: { kind: OutcomeRecord['kind']; reward: number; weight: number },
    at: number,
    ordinal: number,
  ): OutcomeRecord {
    const group = d.candidates.find((c) => c.id === itemId)?.group;
    const record: NewOutcome = {
      modelId: this.modelId,
      eventId: d.eventId,
      itemId,
      position,
      ...(d.userId !== undefined ? { userId: d.userId } : {}),
      ...(group !== undefined ? { group } : {}),
      kind: outcome.kind,
      reward: outcome.reward,
      weight: outcome.weight,
      ordinal,
      at,
    };
    const seq = this.deps.store.appendOutcome(record);
    return { ...record, seq };
  }

  private appendRetraction(standing: OutcomeRecord, at: number): OutcomeRecord {
    const record: NewOutcome = {
      modelId: this.modelId,
      eventId: standing.eventId,
      itemId: standing.itemId,
      position: standing.position,
      ...(standing.userId !== undefined ? { userId: standing.userId } : {}),
      ...(standing.group !== undefined ? { group: standing.group } : {}),
      kind: standing.kind,
      reward: standing.reward,
      weight: -standing.weight,
      retracts: standing.seq,
      ordinal: standing.ordinal,
      at,
    };
    const seq = this.deps.store.appendOutcome(record);
    return { ...record, seq };
  }

  /**
   * Fold an outcome of `kind` into its user's fatigue memory (nothing for other kinds, or without
   * a user or fatigue). `drafts` holds the states this call (one transaction) has folded so far,
   * by user: the first outcome of a user copies the stored memory, later ones fold into that copy
   * in place (the same state as folding a copy each time, see foldFatigueDraft), and
   * {@link putFolded} hands each state to the store once, after the last — so a state the store
   * holds is never changed afterwards.
   * @param counted asked only for a rejection that would be folded: whether fatigue already counts
   *   a rejection of this impression (then nothing is folded)
   */
  private foldUserFatigue(
    d: DecisionRecord,
    itemId: string,
    kind: OutcomeRecord['kind'],
    at: number,
    drafts: FatigueDrafts,
    counted: () => boolean = () => false,
  ): void {
    if (!this.config.fatigue.enabled || d.userId === undefined) return;
    const positive = kind === 'click' || kind === 'convert';
    const rejection = isRejection(kind);
    if (!positive && !rejection) return;
    // A rejection superseding one already counted (see rejectionCounted) counts the impression once.
    if (rejection && counted()) return;
    const group = d.candidates.find((c) => c.id === itemId)?.group;
    const event = { itemId, ...(group !== undefined ? { group } : {}), rejection, amount: 1, at };
    const open = drafts.get(d.userId);
    if (open) {
      foldFatigueDraft(open.draft, event, this.halfLifeMs, this.config.fatigue.maxEntries);
      return;
    }
    const user = this.loadUser(d.userId);
    const draft = draftFatigue(user.fatigue, event, this.halfLifeMs, this.config.fatigue.maxEntries);
    drafts.set(d.userId, { draft, record: { ...user, fatigue: draft.entries } });
  }

  /** Write the user states {@link foldUserFatigue} folded in this call, each once, in first-touch order. */
  private putFolded(drafts: FatigueDrafts): void {
    for (const [userId, { record }] of drafts) this.deps.store.putUserState(this.modelId, userId, record);
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

/** Outcomes that add to fatigue (see Model.foldUserFatigue). */
function isRejection(kind: OutcomeRecord['kind']): boolean {
  return kind === 'ignored' || kind === 'dismiss';
}

/** Fatigue states folded in one transaction, by user id (see Model.foldUserFatigue). */
type FatigueDrafts = Map<string, { readonly draft: FatigueDraft; readonly record: UserRecord }>;

/** The error for a reused eventId. */
function duplicateEvent(eventId: string): LiubaiError {
  return new LiubaiError('DUPLICATE_EVENT', `eventId ${JSON.stringify(eventId)} was used before`, [
    { path: ['eventId'], message: 'already used' },
  ]);
}

/** The error for a rank whose model was replaced or deleted while its decision was computed. */
function modelChanged(modelId: string): LiubaiError {
  return new LiubaiError('NOT_READY', `model ${JSON.stringify(modelId)} was reconfigured or deleted during the request; retry`);
}

/** Fatigue features, rounded so that logged decisions replay to the same features. */
function roundedFatigue(item: number, group: number): Namespace {
  const r = (x: number) => Math.round(x * 1e6) / 1e6;
  return { item: r(item), group: r(group) };
}

/** The user's recent groups: the newest first, unique, at most `n`. */
function recentGroups(before: readonly string[], shown: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (const g of [...shown, ...before]) {
    if (!out.includes(g)) out.push(g);
    if (out.length >= n) break;
  }
  return out;
}
