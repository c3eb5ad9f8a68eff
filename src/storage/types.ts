/**
 * The storage interface, defined by what the engine needs: models, the decision (event) log,
 * impressions with open reward windows, feedback (for idempotency), the ordered append-only
 * learning log, snapshots, the budget ledger and per-user state. Every implementation passes the
 * same contract suite (test/integration/storage-contract.ts).
 *
 * All calls are synchronous (better-sqlite3 is; the in-memory store trivially is), so an engine
 * operation is one transaction: either all of its records are written or none.
 */
import type { NamespacedFeatures, Namespace } from '../features/types.js';

/** A stored model: its id, config version and config JSON (already validated). */
export interface ModelRecord {
  readonly modelId: string;
  readonly version: number;
  readonly config: unknown;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One shown item of a decision. */
export interface SlateEntry {
  readonly itemId: string;
  /** 1-based position. */
  readonly position: number;
  /** P(this item at this position) under the whole randomized rule. */
  readonly propensity: number;
  /** P(this item anywhere in the slate). */
  readonly slatePropensity: number;
  readonly explored: boolean;
}

/** A candidate as logged (features as sent, plus the fatigue features the engine added). */
export interface LoggedCandidate {
  readonly id: string;
  readonly features?: NamespacedFeatures;
  readonly group?: string;
  readonly extra?: Namespace;
}

/** Ready-made JSON of parts of a decision record (see Store.insertDecision). */
export interface DecisionText {
  readonly candidates?: string;
}

/** One rank call, as logged. */
export interface DecisionRecord {
  readonly modelId: string;
  readonly eventId: string;
  readonly modelVersion: number;
  /** Learning-log position (last folded seq) of the posterior the decision sampled. */
  readonly posteriorSeq: number;
  readonly seed: string;
  readonly at: number;
  readonly userId?: string;
  readonly context: NamespacedFeatures;
  readonly candidates: readonly LoggedCandidate[];
  readonly slate: readonly SlateEntry[];
  /** Monte-Carlo draws behind the propensities. */
  readonly draws: number;
  /** When the impressions count as seen; null while a deferred decision is not exposed. */
  readonly exposedAt: number | null;
  /**
   * Version of the learned representation (the `neural-linear` encoder) the decision was scored
   * with; absent for policies without one. With `posteriorSeq` and `seed` it pins the exact
   * state an audit or replay must reproduce: artifacts live under models/<model>/<version>/.
   */
  readonly representationVersion?: number;
}

/** An impression whose reward window is open (exposed, not yet resolved). */
export interface OpenImpression {
  readonly modelId: string;
  readonly eventId: string;
  readonly itemId: string;
  readonly position: number;
  readonly deadline: number;
}

export type FeedbackKind = 'click' | 'convert' | 'dismiss' | 'regret' | 'ignore';
export type OutcomeKind = 'click' | 'convert' | 'dismiss' | 'regret' | 'ignored';

/** Feedback as received (kept for idempotency and audit). */
export interface FeedbackRecord {
  readonly modelId: string;
  readonly eventId: string;
  readonly itemId: string;
  readonly kind: FeedbackKind;
  readonly value?: number;
  readonly at: number;
}

/** One entry of the learning log. A retraction has a negative weight and names what it retracts. */
export interface OutcomeRecord {
  readonly seq: number;
  readonly modelId: string;
  readonly eventId: string;
  readonly itemId: string;
  readonly position: number;
  readonly userId?: string;
  readonly group?: string;
  readonly kind: OutcomeKind;
  readonly reward: number;
  /**
   * The outcome's weight: negative for a retraction, which logs minus the retracted weight as it
   * was folded; the forgetting the retracted outcome has undergone since is applied when the
   * retraction is folded (Model.applyEntry), from the two entries' ordinals.
   */
  readonly weight: number;
  /** seq of the outcome this entry retracts. */
  readonly retracts?: number;
  /**
   * For an outcome: how many outcomes (not retractions) of this model precede it in the log. For a
   * retraction: the ordinal of the outcome it retracts. Forgetting schedules are counted in
   * ordinals, so the decay an outcome has undergone is known exactly when it is retracted.
   */
  readonly ordinal: number;
  readonly at: number;
}

export type NewOutcome = Omit<OutcomeRecord, 'seq'>;

/** A saved posterior. */
export interface SnapshotRecord {
  readonly modelId: string;
  /** Last learning-log seq folded into it. */
  readonly seq: number;
  /** Key of the posterior-relevant config (see posteriorKey). */
  readonly configKey: string;
  readonly state: unknown;
  readonly at: number;
}

/** One exploratory slot. */
export interface LedgerEntry {
  readonly modelId: string;
  readonly eventId: string;
  readonly userId?: string;
  readonly itemId: string;
  readonly position: number;
  readonly rule: string;
  /** Sampled-score gap between the exploitation choice and the explored item. */
  readonly cost: number;
  readonly at: number;
}

/** Totals over a window of decisions. */
export interface BudgetTotals {
  readonly decisions: number;
  readonly slots: number;
  readonly explored: number;
  /**
   * Sum of the ledger entries' cost estimates: a floating-point sum whose last bits depend on the
   * store's order of summation (SQLite's TOTAL() sums in index order with compensation), so two
   * stores agree to about 1e-12 relative, not bit for bit.
   */
  readonly cost: number;
}

/**
 * Per-user state the engine keeps between calls (fatigue memory, token bucket, recent groups): any
 * JSON value, given back equal (key order inside a `fatigue` memory may differ). A store may keep
 * parts of it its own way: the SQLite store keeps a `fatigue` of [count, at] pairs one row per key.
 */
export type UserState = unknown;

export interface Store {
  /** Run `fn` atomically: all its writes land, or none (and the error propagates). */
  transaction<T>(fn: () => T): T;

  putModel(record: ModelRecord): void;
  getModel(modelId: string): ModelRecord | undefined;
  listModels(): ModelRecord[];
  /** Delete a model and everything logged for it. */
  deleteModel(modelId: string): boolean;

  /**
   * @param text serializations the caller already has: `candidates` must be exactly
   *   `JSON.stringify(record.candidates)` (a store that keeps JSON text uses it instead of
   *   serializing again; others ignore it)
   * @throws StoreConflict when (modelId, eventId) exists already
   */
  insertDecision(record: DecisionRecord, text?: DecisionText): void;
  getDecision(modelId: string, eventId: string): DecisionRecord | undefined;
  /** Set exposedAt (only when it is null) and open windows; returns false if already exposed. */
  exposeDecision(modelId: string, eventId: string, at: number, windows: readonly OpenImpression[]): boolean;
  /** Open reward windows of impressions (at rank time, or at expose). */
  openWindows(windows: readonly OpenImpression[]): void;
  /** Open windows with deadline ≤ now, oldest first. */
  dueWindows(modelId: string, now: number, limit: number): OpenImpression[];
  /** Close a window (resolved by feedback or by the sweeper); false if it was not open. */
  closeWindow(modelId: string, eventId: string, itemId: string): boolean;
  /** Whether the window of this impression is open. */
  isWindowOpen(modelId: string, eventId: string, itemId: string): boolean;

  /** Record feedback; false when the same (eventId, itemId, kind) was recorded before. */
  insertFeedback(record: FeedbackRecord): boolean;

  /** Append to the learning log; returns the new seq (strictly increasing per store). */
  appendOutcome(outcome: NewOutcome): number;
  /** Outcomes of a model with seq > afterSeq, in seq order, at most `limit`. */
  outcomesAfter(modelId: string, afterSeq: number, limit: number): OutcomeRecord[];
  /** The impression's current outcome: the latest non-retraction not retracted since. */
  activeOutcome(modelId: string, eventId: string, itemId: string): OutcomeRecord | undefined;
  /** The last seq of this model's learning log (0 when empty). */
  lastSeq(modelId: string): number;

  saveSnapshot(snapshot: SnapshotRecord): void;
  latestSnapshot(modelId: string, configKey: string): SnapshotRecord | undefined;

  appendLedger(entries: readonly LedgerEntry[]): void;
  /** Totals from decisions and ledger with at ≥ since (and of one user when given). */
  budgetTotals(modelId: string, options?: { since?: number; userId?: string }): BudgetTotals;

  getUserState(modelId: string, userId: string): UserState | undefined;
  putUserState(modelId: string, userId: string, state: UserState): void;

  /** Row counts, for metrics and tests. */
  counts(modelId?: string): { decisions: number; feedback: number; outcomes: number; ledger: number; openWindows: number };
  close(): void;
}

/** A write that conflicts with what is stored (a reused eventId). */
export class StoreConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflict';
  }
}
