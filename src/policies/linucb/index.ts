/**
 * `linucb`: the LinUCB baseline (Li, Chu, Langford & Schapire 2010, "A contextual-bandit
 * approach to personalized news article recommendation"), scored as
 * `mean + alpha·sd` of the same Bayesian ridge regression as `linear-gaussian` (known noise),
 * in `disjoint`, `shared` or `hybrid` structure. With Λ = (σ²/τ²)·I + Σw·x·xᵀ, sd = σ·√(xᵀΛ⁻¹x),
 * which is Li et al.'s α·√(xᵀA⁻¹x) up to the scale σ (and ridge σ²/τ² instead of 1).
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { DecisionFeatures, OutcomeFeatures } from '../../features/types.js';
import type { Policy, PolicySnapshot } from '../types.js';
import { linearRegressionFields } from '../linear-gaussian/config.js';
import { LinearPosterior } from '../linear-gaussian/posterior.js';
import { readSnapshot, writeSnapshot } from '../linear-gaussian/snapshot.js';

/** `linucb` config: `alpha` (≥ 0, default 1) plus the regression fields of `linear-gaussian`. */
export const linucbConfigSchema = z
  .object({
    kind: z.literal('linucb'),
    alpha: z.number().min(0).max(1e6).default(1),
    ...linearRegressionFields,
  })
  .strict();

/** Parsed `linucb` config. */
export type LinUcbConfig = z.output<typeof linucbConfigSchema>;

const KIND = 'linucb';

class LinUcbPolicy implements Policy {
  readonly kind = KIND;
  private mean = new Float64Array(64);
  private sd = new Float64Array(64);

  constructor(
    private readonly posterior: LinearPosterior,
    private readonly alpha: number,
  ) {}

  /**
   * Deterministic: `out[i] = mean_i + alpha·sd_i`. Neither the rng nor the temperature (a
   * Thompson-sampling knob; LinUCB explores through `alpha`) is used; ties are broken by the
   * selector.
   */
  sample(input: DecisionFeatures, _rng: Rng, out: Float64Array, _temperature: number): void {
    const k = input.itemIds.length;
    if (out.length < k) throw new RangeError(`sample: output has ${out.length} entries for ${k} candidates`);
    if (this.mean.length < k) {
      this.mean = new Float64Array(Math.max(k, this.mean.length * 2));
      this.sd = new Float64Array(this.mean.length);
    }
    this.posterior.summarize(input, this.mean, this.sd);
    for (let i = 0; i < k; i++) out[i] = this.mean[i]! + this.alpha * this.sd[i]!;
  }

  summarize(input: DecisionFeatures, mean: Float64Array, sd: Float64Array): void {
    this.posterior.summarize(input, mean, sd);
  }

  update(x: OutcomeFeatures, reward: number, weight: number): void {
    this.posterior.update(x, reward, weight);
  }

  decay(gamma: number): void {
    this.posterior.decay(gamma);
  }

  snapshot(): PolicySnapshot {
    return writeSnapshot(KIND, this.posterior);
  }

  describe(): Record<string, unknown> {
    return { kind: KIND, alpha: this.alpha, ...this.posterior.describe() };
  }
}

/**
 * A `linucb` policy from its parsed config, fresh or restored from a snapshot (format 1).
 * @throws Error when the snapshot is of another kind/format, malformed, or built under another prior
 */
export function createLinUcb(config: LinUcbConfig, snapshot?: PolicySnapshot): Policy {
  const posterior = new LinearPosterior({
    structure: config.structure,
    noise: 'known',
    priorVariance: config.priorVariance,
    noiseVariance: config.noiseVariance,
    nigA: 1,
    nigB: 1,
    contextBits: config.contextBits,
    covariance: config.covariance,
    maxDenseDims: config.maxDenseDims,
  });
  if (snapshot) posterior.loadState(readSnapshot(KIND, snapshot));
  return new LinUcbPolicy(posterior, config.alpha);
}
