/**
 * Off-policy estimators of a target ("evaluation") policy's value from rounds logged under
 * another ("logging") policy. Every estimator is a pure function of arrays — the logged
 * reward, the logging propensity and the target's probability of the logged action, plus an
 * optional reward model's predictions — never of policy objects, so any logged policy can be
 * evaluated. (The same separation as Open Bandit Pipeline's `ope` module.)
 *
 * Notation, round i = 1..n: context x_i, logged action a_i, reward r_i,
 * π₀(a_i|x_i) the logging propensity, π_e(a_i|x_i) the target probability,
 * w_i = min(π_e(a_i|x_i) / π₀(a_i|x_i), c) the (clipped) importance weight,
 * q̂_i = q̂(x_i, a_i) the reward model at the logged action and
 * q̂ₑ_i = Σ_a π_e(a|x_i) q̂(x_i, a) the reward model's value of the target at x_i.
 *
 * Every estimate is written in one form, `value = (1/n) Σ dᵢ + Σ uᵢ / Σ vᵢ` (see
 * {@link EstimatorTerms}), so bootstrap resamples recompute self-normalized ratios exactly and
 * normal intervals linearise them (delta method) from the same per-round terms.
 */
import { z } from 'zod';
import { OpeInputError, parseOptions } from './errors.js';
import { checkFloat64, checkRecord, checkUint8 } from './validate.js';

/**
 * A log of n bandit rounds, one entry per round in each array.
 *
 * - `reward`: r_i, finite;
 * - `propensity`: π₀(a_i|x_i), the logging policy's probability of the logged action, in (0, 1];
 * - `targetProbability`: π_e(a_i|x_i), the target policy's probability of the same action, in [0, 1];
 * - `estimatedReward` (DR, SNDR): q̂(x_i, a_i), a reward model's prediction for the logged action;
 * - `estimatedTargetValue` (DM, DR, SNDR): Σ_a π_e(a|x_i)·q̂(x_i, a).
 *
 * {@link directMethodInputs} builds the last two (and `targetProbability`) from a reward model.
 */
export interface LoggedBandit {
  readonly reward: Float64Array;
  readonly propensity: Float64Array;
  readonly targetProbability: Float64Array;
  readonly estimatedReward?: Float64Array;
  readonly estimatedTargetValue?: Float64Array;
}

/**
 * The per-round terms of an estimate, in the single form
 *
 *   V̂ = (1/n) Σᵢ directᵢ + Σᵢ numeratorᵢ / Σᵢ denominatorᵢ,
 *
 * where a null `direct` contributes 0 and a null `denominator` means Σ denominator = n (a
 * plain mean). Mean-type estimators (IPS, DM, DR, IIPS) use only `numerator`; self-normalized
 * ones (SNIPS, SNDR, replay) also carry `denominator`. Resampling rounds resamples these terms,
 * which is what {@link bootstrapInterval} does.
 */
export interface EstimatorTerms {
  readonly n: number;
  readonly direct: Float64Array | null;
  readonly numerator: Float64Array;
  readonly denominator: Float64Array | null;
}

/** An off-policy estimate of a policy's value V(π_e) = E[r | a ~ π_e]. */
export interface Estimate {
  /** Which estimator produced it (`'ips'`, `'snips'`, …). */
  readonly estimator: string;
  /** The point estimate V̂. */
  readonly value: number;
  /** Number of logged rounds. */
  readonly n: number;
  /** Kish's effective sample size of the importance weights, when the estimator uses weights. */
  readonly effectiveSampleSize?: number;
  /**
   * Per-round contributions, length n, whose mean is `value`: for a mean-type estimator the
   * round terms themselves; for a self-normalized one dᵢ + n·uᵢ / Σ v (the ratio's
   * full-sample denominator held fixed — do not bootstrap these, use `terms`).
   */
  readonly contributions: Float64Array;
  /** The structural per-round terms, for intervals. */
  readonly terms: EstimatorTerms;
}

/** Options shared by the importance-weighted estimators. */
export const estimatorOptionsSchema = z
  .object({
    /**
     * Clipping threshold c > 0 of the importance weights, w = min(π_e/π₀, c): trades bias for
     * variance (Ionides 2008; Strehl et al. 2010). Infinity (the default) means no clipping.
     */
    clip: z.union([z.number().positive(), z.literal(Infinity)]).default(Infinity),
  })
  .strict();

/** Options of the importance-weighted estimators: `{ clip?: number }` (c > 0, default ∞). */
export type EstimatorOptions = z.input<typeof estimatorOptionsSchema>;

interface Needs {
  readonly estimatedReward?: boolean;
  readonly estimatedTargetValue?: boolean;
}

/**
 * Validate a {@link LoggedBandit}: the three base arrays always, the model predictions when the
 * estimator needs them.
 * @returns n, the number of rounds
 * @throws OpeInputError naming the field (and the first bad index)
 */
export function validateLoggedBandit(input: LoggedBandit, needs: Needs = {}, estimator = 'this estimator'): number {
  const record = checkRecord('input', input);
  const n = checkFloat64('reward', record.reward, 'finite').length;
  checkFloat64('propensity', record.propensity, 'propensity', n);
  checkFloat64('targetProbability', record.targetProbability, 'probability', n);
  for (const field of ['estimatedReward', 'estimatedTargetValue'] as const) {
    if (!needs[field]) continue;
    if (record[field] === undefined) {
      throw new OpeInputError(field, `is required by ${estimator} (fit a reward model, see directMethodInputs)`);
    }
    checkFloat64(field, record[field], 'finite', n);
  }
  return n;
}

/**
 * Importance weights wᵢ = min(π_e(aᵢ|xᵢ) / π₀(aᵢ|xᵢ), c).
 * @returns a new Float64Array of length n, entries in [0, c]
 * @throws OpeInputError on invalid input or options
 */
export function importanceWeights(input: LoggedBandit, options?: EstimatorOptions): Float64Array {
  const { clip } = parseOptions(estimatorOptionsSchema, options);
  const n = validateLoggedBandit(input);
  return weightsOf(input, n, clip);
}

function weightsOf(input: LoggedBandit, n: number, clip: number): Float64Array {
  const w = new Float64Array(n);
  const p0 = input.propensity;
  const pe = input.targetProbability;
  for (let i = 0; i < n; i++) w[i] = Math.min(pe[i]! / p0[i]!, clip);
  return w;
}

/**
 * Kish's effective sample size (Σ wᵢ)² / Σ wᵢ²: the number of equally weighted rounds that
 * would give a weighted mean the same variance. Equals n when all weights are equal; 0 when
 * all weights are 0.
 * Reference: L. Kish, Survey Sampling (1965).
 * @param weights non-negative finite weights
 * @throws OpeInputError (field `weights`) on a negative or non-finite weight
 */
export function effectiveSampleSize(weights: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (!(w >= 0) || !Number.isFinite(w)) {
      throw new OpeInputError('weights', `must be finite and >= 0, got ${w}`, i);
    }
    s += w;
    s2 += w * w;
  }
  return s2 > 0 ? (s * s) / s2 : 0;
}

/**
 * Turn terms into an {@link Estimate}. A self-normalized estimate whose denominator sums to 0
 * is undefined; that is reported against `zeroField` rather than returned as NaN.
 */
function finish(
  estimator: string,
  terms: EstimatorTerms,
  effectiveSampleSize: number | undefined,
  zeroField: string,
  zeroMessage: string,
): Estimate {
  const { n, direct, numerator, denominator } = terms;
  let sv = n;
  if (denominator) {
    sv = 0;
    for (let i = 0; i < n; i++) sv += denominator[i]!;
    if (!(sv > 0)) throw new OpeInputError(zeroField, zeroMessage);
  }
  let contributions = numerator;
  if (direct !== null || denominator !== null) {
    contributions = new Float64Array(n);
    const scale = n / sv;
    for (let i = 0; i < n; i++) contributions[i] = (direct ? direct[i]! : 0) + numerator[i]! * scale;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += contributions[i]!;
  const base = { estimator, value: sum / n, n, contributions, terms };
  return effectiveSampleSize === undefined ? base : { ...base, effectiveSampleSize };
}

const ALL_ZERO = 'every importance weight is 0 (the target gives no probability to any logged action), so the self-normalized estimate is undefined';

/**
 * Inverse propensity scoring (IPS), the Horvitz–Thompson estimator:
 *
 *   V̂_IPS = (1/n) Σᵢ wᵢ rᵢ,   wᵢ = min(π_e(aᵢ|xᵢ)/π₀(aᵢ|xᵢ), c).
 *
 * Unbiased without clipping when π₀ > 0 wherever π_e > 0; clipping (c < ∞) biases it toward 0
 * (for non-negative rewards) in exchange for lower variance.
 * References: D. G. Horvitz & D. J. Thompson, "A generalization of sampling without replacement
 * from a finite universe", JASA 1952; Strehl, Langford, Li & Kakade, NeurIPS 2010 (clipping).
 * @throws OpeInputError on invalid input or options
 */
export function ips(input: LoggedBandit, options?: EstimatorOptions): Estimate {
  const { clip } = parseOptions(estimatorOptionsSchema, options);
  const n = validateLoggedBandit(input);
  const w = weightsOf(input, n, clip);
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) u[i] = w[i]! * input.reward[i]!;
  return finish('ips', { n, direct: null, numerator: u, denominator: null }, effectiveSampleSize(w), '', '');
}

/**
 * Self-normalized IPS (SNIPS), the weighted-importance-sampling (Hájek) ratio:
 *
 *   V̂_SNIPS = Σᵢ wᵢ rᵢ / Σᵢ wᵢ.
 *
 * A convex combination of the logged rewards, so it stays in [min r, max r]; biased O(1/n)
 * but usually far less variable than IPS and invariant to adding a constant to the rewards.
 * Reference: A. Swaminathan & T. Joachims, "The self-normalized estimator for counterfactual
 * learning", NeurIPS 2015.
 * @throws OpeInputError on invalid input or options; field `targetProbability` when Σ w = 0
 */
export function snips(input: LoggedBandit, options?: EstimatorOptions): Estimate {
  const { clip } = parseOptions(estimatorOptionsSchema, options);
  const n = validateLoggedBandit(input);
  const w = weightsOf(input, n, clip);
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) u[i] = w[i]! * input.reward[i]!;
  const terms = { n, direct: null, numerator: u, denominator: w };
  return finish('snips', terms, effectiveSampleSize(w), 'targetProbability', ALL_ZERO);
}

/**
 * Direct method (DM): the reward model's value of the target policy,
 *
 *   V̂_DM = (1/n) Σᵢ Σ_a π_e(a|xᵢ) q̂(xᵢ, a) = (1/n) Σᵢ q̂ₑᵢ.
 *
 * Low variance, but biased by whatever the reward model gets wrong; uses no weights (no ESS).
 * Reference: Dudík, Langford & Li, "Doubly robust policy evaluation and learning", ICML 2011, §2.
 * @throws OpeInputError on invalid input; field `estimatedTargetValue` when it is absent
 */
export function dm(input: LoggedBandit): Estimate {
  const n = validateLoggedBandit(input, { estimatedTargetValue: true }, 'dm');
  const u = Float64Array.from(input.estimatedTargetValue!);
  return finish('dm', { n, direct: null, numerator: u, denominator: null }, undefined, '', '');
}

/**
 * Doubly robust (DR): the direct method plus an importance-weighted correction of the model's
 * residual at the logged action,
 *
 *   V̂_DR = (1/n) Σᵢ [ q̂ₑᵢ + wᵢ (rᵢ − q̂ᵢ) ].
 *
 * Unbiased (without clipping) if either the propensities or the reward model are correct.
 * Reference: M. Dudík, J. Langford & L. Li, "Doubly robust policy evaluation and learning",
 * ICML 2011.
 * @throws OpeInputError on invalid input or options; `estimatedReward` / `estimatedTargetValue`
 *   when absent
 */
export function dr(input: LoggedBandit, options?: EstimatorOptions): Estimate {
  const { clip } = parseOptions(estimatorOptionsSchema, options);
  const n = validateLoggedBandit(input, { estimatedReward: true, estimatedTargetValue: true }, 'dr');
  const w = weightsOf(input, n, clip);
  const r = input.reward;
  const qa = input.estimatedReward!;
  const qe = input.estimatedTargetValue!;
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) u[i] = qe[i]! + w[i]! * (r[i]! - qa[i]!);
  return finish('dr', { n, direct: null, numerator: u, denominator: null }, effectiveSampleSize(w), '', '');
}

/**
 * Self-normalized doubly robust (SNDR): DR with the correction's weights normalized by their
 * sum instead of n,
 *
 *   V̂_SNDR = (1/n) Σᵢ q̂ₑᵢ + Σᵢ wᵢ (rᵢ − q̂ᵢ) / Σᵢ wᵢ.
 *
 * Keeps DR's robustness while bounding the correction like SNIPS.
 * References: N. Kallus & M. Uehara, "Intrinsically efficient, stable, and bounded off-policy
 * evaluation for reinforcement learning", NeurIPS 2019; Open Bandit Pipeline documentation,
 * "SelfNormalizedDoublyRobust".
 * @throws OpeInputError as {@link dr}; field `targetProbability` when Σ w = 0
 */
export function sndr(input: LoggedBandit, options?: EstimatorOptions): Estimate {
  const { clip } = parseOptions(estimatorOptionsSchema, options);
  const n = validateLoggedBandit(input, { estimatedReward: true, estimatedTargetValue: true }, 'sndr');
  const w = weightsOf(input, n, clip);
  const r = input.reward;
  const qa = input.estimatedReward!;
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) u[i] = w[i]! * (r[i]! - qa[i]!);
  const terms = { n, direct: Float64Array.from(input.estimatedTargetValue!), numerator: u, denominator: w };
  return finish('sndr', terms, effectiveSampleSize(w), 'targetProbability', ALL_ZERO);
}

/**
 * Input of the replay estimator: the logged reward and whether the target's deterministic
 * choice at round i equals the logged action (`match[i]` = 1) or not (0).
 */
export interface ReplayInput {
  readonly reward: Float64Array;
  readonly match: Uint8Array;
}

/**
 * Replay (rejection sampling): the mean reward over the rounds where the target policy's
 * deterministic choice equals the logged action,
 *
 *   V̂_replay = Σᵢ mᵢ rᵢ / Σᵢ mᵢ,   mᵢ ∈ {0, 1}.
 *
 * Unbiased when the log was collected by uniformly random actions (then it equals SNIPS with
 * w = mᵢ·K); the effective sample size is the number of matches.
 * Reference: L. Li, W. Chu, J. Langford & X. Wang, "Unbiased offline evaluation of
 * contextual-bandit-based news article recommendation algorithms", WSDM 2011.
 * @throws OpeInputError on invalid input; field `match` when no round matches
 */
export function replay(input: ReplayInput): Estimate {
  const record = checkRecord('input', input);
  const n = checkFloat64('reward', record.reward, 'finite').length;
  const match = checkUint8('match', record.match, 'indicator', n);
  const m = Float64Array.from(match);
  const u = new Float64Array(n);
  let matches = 0;
  for (let i = 0; i < n; i++) {
    u[i] = m[i]! * input.reward[i]!;
    matches += m[i]!;
  }
  const terms = { n, direct: null, numerator: u, denominator: m };
  return finish('replay', terms, matches, 'match', 'no round matches the target policy, so replay has no data');
}
