/**
 * The one policy interface. Every policy — Thompson-sampling posterior or comparison baseline —
 * samples scores for the candidates of a decision, folds weighted outcomes, forgets, and
 * snapshots. Context-free policies take the features and ignore the context, so nothing
 * outside a policy branches on its kind.
 */
import type { Rng } from '../core/rng.js';
import type { DecisionFeatures, OutcomeFeatures } from '../features/types.js';

/** A versioned JSON snapshot of a policy's learned state. */
export interface PolicySnapshot {
  readonly kind: string;
  /** Format version of `state` for this kind. */
  readonly format: number;
  readonly state: unknown;
}

/**
 * A decision's sampler with the per-decision work already done (see {@link Policy.prepare}):
 * each call writes one posterior draw of scores into `out[0, k)` using `rng`.
 */
export type PreparedSampler = (rng: Rng, out: Float64Array) => void;

export interface Policy {
  readonly kind: string;
  /**
   * True when every draw's scores are i.i.d. and continuous across candidates whatever was
   * learned (e.g. `uniform`): the selection is then a uniformly random permutation and the
   * propensities have a closed form.
   */
  readonly exchangeable?: boolean;
  /**
   * One posterior draw for the whole decision (one θ shared by all candidates), written as a
   * score per candidate into `out` (length ≥ candidates). `temperature` scales the posterior
   * variance of the draw (1 = the posterior itself, 0 = its mean).
   */
  sample(input: DecisionFeatures, rng: Rng, out: Float64Array, temperature: number): void;
  /**
   * Optional fast path for many draws on one decision (the decision's own draw and its
   * Monte-Carlo propensity draws): resolve the per-decision work once and return a sampler whose
   * every call writes one draw of the candidates' scores with the same joint law as
   * `sample(input, rng, out, temperature)` — possibly from another random stream (e.g.
   * `linear-gaussian` draws the scores in score space). Draws must be a deterministic function
   * of the learned state, `input`, `draws` and `rng`. `draws` (default 1) is how many calls the
   * caller will make — a hint to choose the cheaper exact method, never the law. `input` must
   * not be mutated while the sampler is in use. Policies without it are driven through `sample`.
   * @throws RangeError as `sample` (temperature, shapes), or when `draws` is not a positive integer
   */
  prepare?(input: DecisionFeatures, temperature: number, draws?: number): PreparedSampler;
  /** Posterior mean score and posterior standard deviation of the score, per candidate. */
  summarize(input: DecisionFeatures, mean: Float64Array, sd: Float64Array): void;
  /**
   * Fold one outcome: reward `reward` with weight `weight`. A negative weight retracts an
   * outcome folded earlier with the same features, reward and |weight| (exact for conjugate
   * sufficient statistics).
   */
  update(x: OutcomeFeatures, reward: number, weight: number): void;
  /**
   * Forgetting: pull every sufficient statistic toward the prior,
   * `stat ← γ·stat + (1 − γ)·prior`, with γ in (0, 1].
   */
  decay(gamma: number): void;
  /** Learned state as JSON (numbers only, no typed arrays). */
  snapshot(): PolicySnapshot;
  /** A short human/JSON summary of the posterior (e.g. top items' means), for the model API. */
  describe(): Record<string, unknown>;
}
