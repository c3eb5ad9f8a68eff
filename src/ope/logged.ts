/**
 * Logged decisions → off-policy evaluation arrays.
 *
 * A model's log is its decisions (context, candidates, the slate with per-position logged
 * propensities, seed, posteriorSeq) and its ordered learning log (outcomes, retractions). This
 * module reads both through the narrow {@link ModelLogSource} (a subset of the `Store`
 * interface, so the SQLite and in-memory stores both qualify), resolves the reward of every
 * impression, and lays the result out as n×L row-major arrays (round i, position l at i·L + l)
 * for the slate estimators at the end of the file: position-wise ("independent positions")
 * IPS / SNIPS / DM / DR / SNDR for the whole slate, and the same estimators on the first slot
 * only.
 *
 * ## Reward of an impression (what counts)
 *
 * - The impression's **standing outcome** in the learning log (the latest outcome not retracted
 *   since; see `activeOutcome`) gives the reward, with the value it was resolved with under the
 *   model's config at the time (click 1, convert its value, dismiss / regret / ignored their
 *   configured rewards).
 * - **Late** positive feedback retracts the provisional `ignored` outcome and stands instead, so a
 *   late click counts as a click; a retraction with nothing standing afterwards falls to the
 *   silence rule below.
 * - **Silence** with no outcome at all (a clicks-only model, `learnSilence: false`, logs none):
 *   an exposed impression whose reward window is closed gets `feedback.rewards.ignore`.
 * - A decision whose reward windows may **not have ended** by the evaluation time `asOf` — it
 *   was exposed within the last `feedback.rewardWindowSeconds` — is unresolved, and a decision
 *   that was **never exposed** produced no outcome: such decisions are left out (and counted),
 *   since their reward is unknown — not zero. Both are decided by time alone, independently of
 *   the reward, so leaving them out does not bias the estimates. (Feedback closes a window
 *   early: leaving out only the impressions whose window is still open would keep the recent
 *   rewarded decisions and drop the recent silent ones, biasing every value upward.) An
 *   impression whose window is still open past that age (a window lengthened since) is
 *   unresolved too.
 *
 * Rewards stay in the logging model's units: a candidate config with other `feedback.rewards`
 * is evaluated on the logged rewards (the metric is the log's, only the policy changes).
 */
import type { Rng } from '../core/rng.js';
import { murmur3 } from '../core/hash.js';
import { parseModelConfig, type ModelConfig } from '../engine/config.js';
import type { DecisionRecord, ModelRecord, OutcomeRecord } from '../storage/types.js';
import { OpeInputError } from './errors.js';
import { dm, dr, effectiveSampleSize, ips, sndr, snips, type Estimate, type EstimatorTerms, type LoggedBandit } from './estimators.js';
import { fitLogistic, fitRidge, type RewardModel } from './linear-model.js';
import { normalQuantile } from './intervals.js';

/** What {@link readModelLog} needs from a store (the SQLite and memory stores both provide it). */
export interface ModelLogSource {
  getModel(modelId: string): ModelRecord | undefined;
  getDecision(modelId: string, eventId: string): DecisionRecord | undefined;
  outcomesAfter(modelId: string, afterSeq: number, limit: number): OutcomeRecord[];
  isWindowOpen(modelId: string, eventId: string, itemId: string): boolean;
}

/** One logged decision, with where it stands for OPE. */
export interface LoggedDecision {
  readonly decision: DecisionRecord;
  /** Reward per slate position (index p − 1), or null when the decision is left out. */
  readonly rewards: Float64Array | null;
  /** Why it is left out, when it is. */
  readonly excluded: 'unexposed' | 'unresolved' | null;
}

/** An included decision: every impression resolved. */
export interface LoggedRound {
  readonly decision: DecisionRecord;
  /** Reward per slate position, length L_i = slate length. */
  readonly rewards: Float64Array;
  /** Index of this decision in {@link ModelLog.decisions}. */
  readonly order: number;
}

/** A model's log, ready for OPE. */
export interface ModelLog {
  readonly modelId: string;
  /** The model's current (stored) config, parsed. */
  readonly config: ModelConfig;
  /** The whole learning log, in seq order (for replaying the posterior). */
  readonly outcomes: readonly OutcomeRecord[];
  /**
   * Every decision found, sorted by (posteriorSeq, at, source order): the order in which the
   * posterior they sampled came to be. Left-out decisions stay here, because per-user state
   * (recent groups, token buckets) evolves through them too.
   */
  readonly decisions: readonly LoggedDecision[];
  /** The included decisions (same order): the n rounds of the estimators. */
  readonly rounds: readonly LoggedRound[];
  /** Decisions left out, by reason. */
  readonly excluded: { readonly unexposed: number; readonly unresolved: number };
  /** Longest slate L (arrays are n×L; shorter slates are padded). */
  readonly positions: number;
  /** Distinct model versions among the rounds (several = the config changed during the log). */
  readonly versions: readonly number[];
}

/** Options of {@link readModelLog}. */
export interface ReadModelLogOptions {
  /**
   * Every decision's eventId, in logging order. Without it the decisions are found through the
   * learning log, which lists every resolved impression when silence is learned — but not the
   * silent decisions of a clicks-only model (`feedback.learnSilence: false`), for which this is
   * required. The CLI reads them from the database.
   */
  readonly eventIds?: Iterable<string>;
  /**
   * The evaluation time (epoch ms): decisions exposed after `asOf − rewardWindowSeconds` are
   * left out as unresolved. Default: the latest time in the log (a decision's exposure or an
   * outcome's time), so the same log always reads the same.
   */
  readonly asOf?: number;
}

const PAGE = 10_000;

/**
 * Read a model's decisions and learning log and resolve every impression's reward (see the
 * module documentation for the rules).
 * @throws OpeInputError `modelId` (no such model), `eventIds` (a clicks-only model without the
 *   list, or an eventId with no decision), `decisions` (no decision with every impression resolved)
 */
export function readModelLog(source: ModelLogSource, modelId: string, options: ReadModelLogOptions = {}): ModelLog {
  const record = source.getModel(modelId);
  if (!record) throw new OpeInputError('modelId', `no model ${JSON.stringify(modelId)} in this store`);
  const config = parseModelConfig(record.config);

  const outcomes: OutcomeRecord[] = [];
  for (let after = 0; ; ) {
    const page = source.outcomesAfter(modelId, after, PAGE);
    if (page.length === 0) break;
    outcomes.push(...page);
    after = page[page.length - 1]!.seq;
    if (page.length < PAGE) break;
  }
  const standing = standingOutcomes(outcomes);

  let ids: string[];
  if (options.eventIds !== undefined) {
    ids = [...new Set(options.eventIds)];
  } else {
    if (!config.feedback.learnSilence) {
      throw new OpeInputError(
        'eventIds',
        `model ${modelId} is clicks-only (feedback.learnSilence false): its learning log omits silent decisions, so pass every decision's eventId`,
      );
    }
    ids = [...new Set(outcomes.map((o) => o.eventId))];
  }

  const silence = config.feedback.rewards.ignore;
  const records: Array<{ decision: DecisionRecord; source: number }> = [];
  ids.forEach((eventId, sourceIndex) => {
    const decision = source.getDecision(modelId, eventId);
    if (!decision) {
      if (options.eventIds !== undefined) throw new OpeInputError('eventIds', `no decision ${JSON.stringify(eventId)} of model ${modelId}`);
      return; // an outcome of a deleted decision: nothing to evaluate
    }
    records.push({ decision, source: sourceIndex });
  });
  const asOf = options.asOf ?? latestTime(outcomes, records);
  const maturedBy = asOf - config.feedback.rewardWindowSeconds * 1000;
  const found = records.map(({ decision, source: sourceIndex }) => ({
    ...resolveDecision(decision, standing, silence, maturedBy, source, modelId),
    source: sourceIndex,
  }));
  found.sort((a, b) => a.decision.posteriorSeq - b.decision.posteriorSeq || a.decision.at - b.decision.at || a.source - b.source);

  const decisions: LoggedDecision[] = found.map(({ decision, rewards, excluded }) => ({ decision, rewards, excluded }));
  const rounds: LoggedRound[] = [];
  let unexposed = 0;
  let unresolved = 0;
  let positions = 0;
  const versions = new Set<number>();
  decisions.forEach((d, order) => {
    if (d.excluded === 'unexposed') unexposed++;
    else if (d.excluded === 'unresolved') unresolved++;
    else if (d.rewards) {
      rounds.push({ decision: d.decision, rewards: d.rewards, order });
      positions = Math.max(positions, d.decision.slate.length);
      versions.add(d.decision.modelVersion);
    }
  });
  if (rounds.length === 0) {
    throw new OpeInputError(
      'decisions',
      `model ${modelId} has no decision with every impression resolved (${decisions.length} found: ${unexposed} never exposed, ${unresolved} exposed within a reward window of the evaluation time)`,
    );
  }
  return {
    modelId,
    config,
    outcomes,
    decisions,
    rounds,
    excluded: { unexposed, unresolved },
    positions,
    versions: [...versions].sort((a, b) => a - b),
  };
}

const keyOf = (eventId: string, itemId: string): string => `${eventId}\u0000${itemId}`;

/** The standing outcome of each impression after the whole log (mirrors `Store.activeOutcome`). */
function standingOutcomes(outcomes: readonly OutcomeRecord[]): Map<string, OutcomeRecord> {
  const standing = new Map<string, OutcomeRecord>();
  for (const o of outcomes) {
    const key = keyOf(o.eventId, o.itemId);
    if (o.retracts === undefined) standing.set(key, o);
    else if (standing.get(key)?.seq === o.retracts) standing.delete(key);
  }
  return standing;
}

/** The latest time in a log: an outcome's, or a decision's exposure (its time when never exposed). */
function latestTime(outcomes: readonly OutcomeRecord[], records: ReadonlyArray<{ decision: DecisionRecord }>): number {
  let t = Number.NEGATIVE_INFINITY;
  for (const o of outcomes) t = Math.max(t, o.at);
  for (const { decision } of records) t = Math.max(t, decision.exposedAt ?? decision.at);
  return t;
}

/** @param maturedBy the latest exposure time whose reward windows have all ended at the evaluation time */
function resolveDecision(
  decision: DecisionRecord,
  standing: ReadonlyMap<string, OutcomeRecord>,
  silence: number,
  maturedBy: number,
  source: ModelLogSource,
  modelId: string,
): LoggedDecision {
  if (decision.exposedAt === null) return { decision, rewards: null, excluded: 'unexposed' };
  if (decision.exposedAt > maturedBy) return { decision, rewards: null, excluded: 'unresolved' };
  const rewards = new Float64Array(decision.slate.length);
  for (let p = 0; p < decision.slate.length; p++) {
    const entry = decision.slate[p]!;
    const reward = impressionReward(standing.get(keyOf(decision.eventId, entry.itemId)), () =>
      source.isWindowOpen(modelId, decision.eventId, entry.itemId),
    silence);
    if (reward === null) return { decision, rewards: null, excluded: 'unresolved' };
    rewards[p] = reward;
  }
  return { decision, rewards, excluded: null };
}

/**
 * The reward of one exposed impression: its standing outcome's reward; else, when its reward
 * window is closed, silence (`silenceReward`, the config's `feedback.rewards.ignore`); else null
 * (unresolved).
 * @param windowOpen asked only when there is no standing outcome
 */
export function impressionReward(
  standing: Pick<OutcomeRecord, 'reward'> | undefined,
  windowOpen: () => boolean,
  silenceReward: number,
): number | null {
  if (standing) return standing.reward;
  return windowOpen() ? null : silenceReward;
}

// ───────────────────────────── arrays ─────────────────────────────

/**
 * The logged side of the slate arrays, each n×L row-major (round i, position l at i·L + l):
 * `reward` r_il, `propensity` π₀(a_il at l | x_i) (the logged per-position propensity), and
 * `present` 1 where round i has a position l (0 past the end of a shorter slate).
 */
export interface SlateLog {
  readonly n: number;
  readonly positions: number;
  readonly reward: Float64Array;
  readonly propensity: Float64Array;
  readonly present: Uint8Array;
}

/** The logged arrays of a {@link ModelLog}'s rounds. */
export function slateLog(log: Pick<ModelLog, 'rounds' | 'positions'>): SlateLog {
  const n = log.rounds.length;
  const L = log.positions;
  const reward = new Float64Array(n * L);
  const propensity = new Float64Array(n * L).fill(1);
  const present = new Uint8Array(n * L);
  log.rounds.forEach((round, i) => {
    round.decision.slate.forEach((entry, p) => {
      reward[i * L + p] = round.rewards[p]!;
      propensity[i * L + p] = entry.propensity;
      present[i * L + p] = 1;
    });
  });
  return { n, positions: L, reward, propensity, present };
}

/**
 * A target policy's side of the slate arrays (n×L, aligned with a {@link SlateLog}):
 * `targetProbability` π_e(a_il at l | x_i); with a reward model, `estimatedReward` q̂(x_i, a_il, l)
 * and `estimatedTargetValue` Σ_a π_e(a at l | x_i) q̂(x_i, a, l). Entries where `present` is 0
 * are ignored.
 */
export interface SlateTarget {
  readonly targetProbability: Float64Array;
  readonly estimatedReward?: Float64Array;
  readonly estimatedTargetValue?: Float64Array;
}

/** Which part of the slate an estimate is about. */
export type SlateScope = 'slate' | 'top';

/** The estimators of {@link estimateSlate}. */
export const SLATE_ESTIMATORS = ['ips', 'snips', 'dm', 'dr', 'sndr'] as const;
export type SlateEstimatorName = (typeof SLATE_ESTIMATORS)[number];

/** Interval settings of {@link estimateSlate} and {@link onPolicyValue}. */
export interface SlateIntervalOptions {
  /** `bootstrap` (percentile, resampling rounds; needs `rng`), `normal` (delta method) or `none`. */
  readonly method?: 'bootstrap' | 'normal' | 'none';
  readonly level?: number;
  readonly resamples?: number;
  readonly rng?: Rng;
}

/** Options of {@link estimateSlate}. */
export interface EstimateSlateOptions extends SlateIntervalOptions {
  readonly estimators: readonly SlateEstimatorName[];
  readonly scope: SlateScope;
  /** Weight clipping c (∞ = none). */
  readonly clip?: number;
}

/** One row of an evaluation: an estimator's value with its interval and effective sample size. */
export interface SlateRow {
  readonly scope: SlateScope;
  readonly estimator: SlateEstimatorName;
  readonly value: number;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly standardError: number | null;
  /** Kish ESS of the weights, in rounds (per position, averaged over positions for `slate`); null for DM. */
  readonly ess: number | null;
  readonly n: number;
}

/**
 * Position-wise ("independent positions") off-policy estimates of a target's value.
 *
 * Scope `slate`: the expected total reward of a slate, V = E Σ_l r_l, estimated as the sum over
 * positions l of the chosen estimator applied to position l's column:
 *   IPS   Σ_l (1/n) Σ_i w_il r_il                           (= IIPS, Li et al. KDD 2018),
 *   SNIPS Σ_l Σ_i w_il r_il / Σ_i w_il,
 *   DM    Σ_l (1/n) Σ_i q̂ₑ_il,
 *   DR    Σ_l (1/n) Σ_i [q̂ₑ_il + w_il (r_il − q̂_il)],
 *   SNDR  Σ_l [(1/n) Σ_i q̂ₑ_il + Σ_i w_il (r_il − q̂_il) / Σ_i w_il],
 * with w_il = min(π_e(a_il at l)/π₀(a_il at l), c). Unbiased (IPS, DR) when the reward at a
 * position depends only on the item shown there (the independence click model). A round without
 * position l (a shorter slate) is padded with r = 0, π₀ = π_e = 1, q̂ = q̂ₑ = 0: both policies
 * surely show nothing there and get nothing, which keeps the self-normalized ratios right.
 * Scope `top`: the same estimators on position 1 alone (V = E r_1).
 *
 * Intervals resample rounds (whole slates, so the positions' correlation is kept): percentile
 * bootstrap of the sum, or a normal interval from the summed per-round influence terms (delta
 * method for the ratios, as `normalInterval`).
 * @throws OpeInputError from the estimators (naming the field), `estimatedReward` when DM/DR
 *   is requested without a reward model, `rng` when the bootstrap has none
 */
export function estimateSlate(log: SlateLog, target: SlateTarget, options: EstimateSlateOptions): SlateRow[] {
  const L = options.scope === 'top' ? Math.min(1, log.positions) : log.positions;
  const clip = options.clip ?? Number.POSITIVE_INFINITY;
  const columns = Array.from({ length: L }, (_, l) => positionColumn(log, target, l));
  const names = [...new Set(options.estimators)];
  return names.map((name): SlateRow => {
    const estimates = columns.map((col) => runEstimator(name, col, clip));
    const value = estimates.reduce((s, e) => s + e.value, 0);
    const bounds = intervalOfSum(estimates.map((e) => e.terms), value, options, `bootstrap:${options.scope}:${name}`);
    let ess: number | null = null;
    if (name !== 'dm') {
      let total = 0;
      for (let l = 0; l < L; l++) total += effectiveSampleSize(realWeights(log, target, l, clip));
      ess = L > 0 ? total / L : 0;
    }
    return { scope: options.scope, estimator: name, value, ...bounds, ess, n: log.n };
  });
}

/** The value of the logging policy itself: mean observed reward (of the slate, or of position 1), with its interval. */
export interface OnPolicyValue {
  readonly scope: SlateScope;
  readonly value: number;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly standardError: number | null;
  readonly n: number;
}

/**
 * The logging policy's on-policy value: (1/n) Σ_i Σ_l r_il (scope `slate`) or (1/n) Σ_i r_i1
 * (scope `top`), with the same kind of interval as {@link estimateSlate}.
 * @throws OpeInputError `rng` when the bootstrap has none
 */
export function onPolicyValue(log: SlateLog, scope: SlateScope, options: SlateIntervalOptions = {}): OnPolicyValue {
  const L = scope === 'top' ? Math.min(1, log.positions) : log.positions;
  const u = new Float64Array(log.n);
  for (let i = 0; i < log.n; i++) for (let l = 0; l < L; l++) u[i]! += log.reward[i * log.positions + l]!;
  let sum = 0;
  for (let i = 0; i < log.n; i++) sum += u[i]!;
  const value = sum / log.n;
  const bounds = intervalOfSum([{ n: log.n, direct: null, numerator: u, denominator: null }], value, options, `bootstrap:on-policy:${scope}`);
  return { scope, value, ...bounds, n: log.n };
}

function positionColumn(log: SlateLog, target: SlateTarget, l: number): LoggedBandit {
  const { n, positions: L } = log;
  const reward = new Float64Array(n);
  const propensity = new Float64Array(n);
  const targetProbability = new Float64Array(n);
  const qa = target.estimatedReward ? new Float64Array(n) : undefined;
  const qe = target.estimatedTargetValue ? new Float64Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const j = i * L + l;
    if (log.present[j] === 1) {
      reward[i] = log.reward[j]!;
      propensity[i] = log.propensity[j]!;
      targetProbability[i] = target.targetProbability[j]!;
      if (qa) qa[i] = target.estimatedReward![j]!;
      if (qe) qe[i] = target.estimatedTargetValue![j]!;
    } else {
      propensity[i] = 1;
      targetProbability[i] = 1;
    }
  }
  return {
    reward,
    propensity,
    targetProbability,
    ...(qa ? { estimatedReward: qa } : {}),
    ...(qe ? { estimatedTargetValue: qe } : {}),
  };
}

function realWeights(log: SlateLog, target: SlateTarget, l: number, clip: number): Float64Array {
  const w: number[] = [];
  for (let i = 0; i < log.n; i++) {
    const j = i * log.positions + l;
    if (log.present[j] === 1) w.push(Math.min(target.targetProbability[j]! / log.propensity[j]!, clip));
  }
  return Float64Array.from(w);
}

function runEstimator(name: SlateEstimatorName, col: LoggedBandit, clip: number): Estimate {
  switch (name) {
    case 'ips':
      return ips(col, { clip });
    case 'snips':
      return snips(col, { clip });
    case 'dm':
      return dm(col);
    case 'dr':
      return dr(col, { clip });
    case 'sndr':
      return sndr(col, { clip });
    default: {
      const unknown: never = name;
      throw new OpeInputError('estimators', `unknown estimator ${String(unknown)}`);
    }
  }
}

type Bounds = Pick<SlateRow, 'lower' | 'upper' | 'standardError'>;

/**
 * Interval of V = Σ_l [(1/n) Σ_i d_il + Σ_i u_il / Σ_i v_il] (a null denominator means n), from
 * the per-position terms of one set of rounds. Bootstrap: the rounds are resampled once per
 * replicate for all positions together; replicates with a zero denominator are dropped.
 */
function intervalOfSum(terms: readonly EstimatorTerms[], value: number, options: SlateIntervalOptions, label: string): Bounds {
  const method = options.method ?? 'bootstrap';
  const level = options.level ?? 0.95;
  if (method === 'none' || terms.length === 0) return { lower: null, upper: null, standardError: null };
  if (!(level > 0 && level < 1)) throw new OpeInputError('interval.level', `must be in (0, 1), got ${level}`);
  const n = terms[0]!.n;
  if (method === 'normal') {
    if (n < 2) throw new OpeInputError('n', `a normal interval needs at least 2 rounds, got ${n}`);
    const psi = new Float64Array(n);
    for (const t of terms) {
      let ratio = 0;
      let meanDen = 1;
      if (t.denominator) {
        let su = 0;
        let sv = 0;
        for (let i = 0; i < n; i++) {
          su += t.numerator[i]!;
          sv += t.denominator[i]!;
        }
        ratio = su / sv;
        meanDen = sv / n;
      }
      for (let i = 0; i < n; i++) {
        const d = t.direct ? t.direct[i]! : 0;
        psi[i]! += t.denominator ? d + (t.numerator[i]! - ratio * t.denominator[i]!) / meanDen : d + t.numerator[i]!;
      }
    }
    const se = sampleSd(psi) / Math.sqrt(n);
    const z = normalQuantile(1 - (1 - level) / 2);
    return { lower: value - z * se, upper: value + z * se, standardError: se };
  }
  const rng = options.rng;
  if (typeof rng !== 'object' || rng === null || typeof rng.fork !== 'function') {
    throw new OpeInputError('rng', "bootstrap intervals need an injected Rng (or use method 'normal' or 'none')");
  }
  const resamples = options.resamples ?? 1000;
  if (!Number.isInteger(resamples) || resamples < 2) throw new OpeInputError('interval.resamples', `must be an integer >= 2, got ${resamples}`);
  const stream = rng.fork(label);
  const P = terms.length;
  const sd = new Float64Array(P);
  const su = new Float64Array(P);
  const sv = new Float64Array(P);
  const picks = new Int32Array(n);
  const replicates = new Float64Array(resamples);
  let kept = 0;
  for (let b = 0; b < resamples; b++) {
    for (let k = 0; k < n; k++) picks[k] = stream.int(n);
    let total = 0;
    let ok = true;
    for (let p = 0; p < P; p++) {
      const t = terms[p]!;
      let a = 0;
      let c = 0;
      let e = 0;
      for (let k = 0; k < n; k++) {
        const i = picks[k]!;
        if (t.direct) a += t.direct[i]!;
        c += t.numerator[i]!;
        if (t.denominator) e += t.denominator[i]!;
      }
      sd[p] = a;
      su[p] = c;
      sv[p] = e;
      if (t.denominator) {
        if (!(e > 0)) {
          ok = false;
          break;
        }
        total += a / n + c / e;
      } else {
        total += a / n + c / n;
      }
    }
    if (ok) replicates[kept++] = total;
  }
  if (kept === 0) throw new OpeInputError('terms.denominator', 'every bootstrap resample has a zero self-normalizing denominator');
  const sorted = replicates.subarray(0, kept).sort();
  const alpha = 1 - level;
  return { lower: quantileSorted(sorted, alpha / 2), upper: quantileSorted(sorted, 1 - alpha / 2), standardError: sampleSd(sorted) };
}

function sampleSd(x: Float64Array): number {
  const m = x.length;
  if (m < 2) return 0;
  let mean = 0;
  for (let i = 0; i < m; i++) mean += x[i]!;
  mean /= m;
  let ss = 0;
  for (let i = 0; i < m; i++) ss += (x[i]! - mean) ** 2;
  return Math.sqrt(ss / (m - 1));
}

/** Hyndman–Fan type 7 quantile of sorted data. */
function quantileSorted(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

// ───────────────────────────── reward model ─────────────────────────────

/**
 * Per-round candidate tables, concatenated: round i's k_i candidates at `offsets[i] ..
 * offsets[i + 1]`. Used for the logging posterior's mean score per candidate (the reward
 * model's contextual feature) and, with L_i columns, for target matrices.
 */
export interface CandidateScores {
  readonly offsets: Int32Array;
  readonly values: Float64Array;
}

/** Settings of {@link fitSlateRewardModel}. */
export interface SlateRewardModelOptions {
  /** Ridge / L2 penalty λ ≥ 0 (default 1). */
  readonly lambda?: number;
  /**
   * Cross-fitting folds K ≥ 1 (default 2): a round's fold is a hash of its eventId mod K (not its
   * position in the log, so periodic traffic cannot line up with the folds), and it is predicted
   * by the model fitted without that fold.
   */
  readonly folds?: number;
  /** Most frequently shown items that get their own indicator column (default 30). */
  readonly maxItems?: number;
}

/**
 * A reward model q̂(x_i, a, l) for the logged rounds, cross-fitted: `predict(i, a, l)` uses the
 * fold model that did not see round i.
 */
export interface SlateRewardModel {
  /** Prediction for round i, candidate index a (into the decision's candidates), 0-based position l. */
  predict(i: number, a: number, l: number): number;
  readonly kind: 'logistic' | 'ridge';
  readonly dimension: number;
  readonly folds: number;
}

/**
 * Fit the reward model of the direct method on the logged impressions (one row per shown
 * (round, position)), with features
 *   φ(x_i, a, l) = [1, s̃(x_i, a), 1{l = 2}, …, 1{l = L}, 1{a = item_1}, …, 1{a = item_m}],
 * where s̃ is the logging posterior's mean score of candidate a at decision i (standardised) —
 * computed from the outcomes folded *before* the decision, so it carries context without seeing
 * the decision's own reward — and item_1..m are the most shown items. Logistic regression
 * (`fitLogistic`) when every reward is in [0, 1], else ridge (`fitRidge`); λ penalises all
 * coefficients. Cross-fitting over K folds keeps DR's correction term honest (Chernozhukov et
 * al., "Double/debiased machine learning", 2018).
 * @param scores the logging posterior's mean score per (round, candidate), see {@link CandidateScores}
 * @throws OpeInputError from the fits (e.g. `lambda`), `folds` when K is not an integer in [1, n]
 */
export function fitSlateRewardModel(
  log: Pick<ModelLog, 'rounds' | 'positions'>,
  scores: CandidateScores,
  options: SlateRewardModelOptions = {},
): SlateRewardModel {
  const lambda = options.lambda ?? 1;
  const K = options.folds ?? 2;
  const n = log.rounds.length;
  if (!Number.isInteger(K) || K < 1 || K > n) throw new OpeInputError('folds', `must be an integer in [1, ${n}], got ${K}`);
  const L = log.positions;

  const shown = new Map<string, number>();
  let rows = 0;
  let unit = true;
  let sMean = 0;
  for (let i = 0; i < n; i++) {
    const round = log.rounds[i]!;
    round.decision.slate.forEach((entry, p) => {
      shown.set(entry.itemId, (shown.get(entry.itemId) ?? 0) + 1);
      const r = round.rewards[p]!;
      if (!(r >= 0 && r <= 1)) unit = false;
      rows++;
    });
  }
  const topItems = [...shown.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, Math.max(0, options.maxItems ?? 30))
    .map(([id]) => id);
  const itemColumn = new Map(topItems.map((id, j) => [id, j]));

  // Standardise the score over the shown impressions.
  const candidateIndex = log.rounds.map((round) => new Map(round.decision.candidates.map((c, a) => [c.id, a])));
  const loggedScore = (i: number, p: number): number => {
    const round = log.rounds[i]!;
    const a = candidateIndex[i]!.get(round.decision.slate[p]!.itemId) ?? -1;
    return a < 0 ? 0 : scores.values[scores.offsets[i]! + a]!;
  };
  let sSq = 0;
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < log.rounds[i]!.decision.slate.length; p++) {
      const s = loggedScore(i, p);
      sMean += s;
      sSq += s * s;
    }
  }
  sMean /= rows;
  const sVar = sSq / rows - sMean * sMean;
  const sScale = sVar > 1e-24 ? 1 / Math.sqrt(sVar) : 0;

  const d = 2 + Math.max(0, L - 1) + topItems.length;
  const fill = (out: Float64Array, offset: number, i: number, a: number, l: number): void => {
    out.fill(0, offset, offset + d);
    out[offset] = 1;
    out[offset + 1] = (scores.values[scores.offsets[i]! + a]! - sMean) * sScale;
    if (l >= 1 && l < L) out[offset + 1 + l] = 1;
    const id = log.rounds[i]!.decision.candidates[a]?.id;
    const j = id === undefined ? undefined : itemColumn.get(id);
    if (j !== undefined) out[offset + 1 + L + j] = 1;
  };

  let foldOf = Int32Array.from(log.rounds, (r) => (K === 1 ? 0 : murmur3(r.decision.eventId, 0x5eed) % K));
  // A fold holding every round would leave its own model without data (tiny logs): fit once.
  if (K > 1 && foldOf.every((f) => f === foldOf[0])) foldOf = new Int32Array(n);
  const single = K === 1 || foldOf.every((f) => f === 0);
  const models: RewardModel[] = [];
  for (let f = 0; f < (single ? 1 : K); f++) {
    let m = 0;
    for (let i = 0; i < n; i++) if (single || foldOf[i] !== f) m += log.rounds[i]!.decision.slate.length;
    const X = new Float64Array(m * d);
    const y = new Float64Array(m);
    let row = 0;
    for (let i = 0; i < n; i++) {
      if (!single && foldOf[i] === f) continue;
      const round = log.rounds[i]!;
      round.decision.slate.forEach((entry, p) => {
        fill(X, row * d, i, candidateIndex[i]!.get(entry.itemId) ?? 0, p);
        y[row] = round.rewards[p]!;
        row++;
      });
    }
    models.push(unit ? fitLogistic(X, y, lambda) : fitRidge(X, y, lambda));
  }
  const x = new Float64Array(d);
  return {
    kind: unit ? 'logistic' : 'ridge',
    dimension: d,
    folds: single ? 1 : K,
    predict(i, a, l) {
      fill(x, 0, i, a, l);
      return models[foldOf[i]!]!(x);
    },
  };
}

/**
 * A target's probabilities on the logged rounds: per round a k_i × L_i matrix of
 * π_e(candidate a at position l | x_i) (row-major, rows in the decision's candidate order),
 * concatenated at `offsets[i]`.
 */
export interface TargetMatrices {
  readonly offsets: Int32Array;
  readonly values: Float64Array;
}

/**
 * The {@link SlateTarget} of a target policy: π_e of each logged (item, position), and with a
 * reward model q̂ of the logged item and Σ_a π_e(a at l) q̂(x, a, l).
 */
export function slateTarget(
  log: Pick<ModelLog, 'rounds' | 'positions'>,
  matrices: TargetMatrices,
  rewardModel?: SlateRewardModel,
): SlateTarget {
  const n = log.rounds.length;
  const L = log.positions;
  const targetProbability = new Float64Array(n * L).fill(1);
  const qa = rewardModel ? new Float64Array(n * L) : undefined;
  const qe = rewardModel ? new Float64Array(n * L) : undefined;
  for (let i = 0; i < n; i++) {
    const d = log.rounds[i]!.decision;
    const k = d.candidates.length;
    const Li = d.slate.length;
    const base = matrices.offsets[i]!;
    const index = new Map(d.candidates.map((c, a) => [c.id, a]));
    for (let p = 0; p < Li; p++) {
      const a = index.get(d.slate[p]!.itemId);
      if (a === undefined) throw new OpeInputError('decisions', `decision ${d.eventId} shows ${d.slate[p]!.itemId}, which is not among its candidates`);
      targetProbability[i * L + p] = matrices.values[base + a * Li + p]!;
      if (rewardModel) {
        qa![i * L + p] = rewardModel.predict(i, a, p);
        let v = 0;
        for (let c = 0; c < k; c++) {
          const pi = matrices.values[base + c * Li + p]!;
          if (pi > 0) v += pi * rewardModel.predict(i, c, p);
        }
        qe![i * L + p] = v;
      }
    }
  }
  return {
    targetProbability,
    ...(qa ? { estimatedReward: qa } : {}),
    ...(qe ? { estimatedTargetValue: qe } : {}),
  };
}
