/**
 * `linear-gaussian`: Thompson sampling from a Bayesian linear regression (known noise or
 * normal-inverse-gamma), in `disjoint`, `shared` or `hybrid` structure (Li et al. 2010;
 * Agrawal & Goyal 2013 for linear Thompson sampling). The maths live in ./posterior.ts.
 */
import type { Rng } from '../../core/rng.js';
import type { DecisionFeatures, OutcomeFeatures } from '../../features/types.js';
import type { Policy, PolicySnapshot, PreparedSampler } from '../types.js';
import type { LinearGaussianConfig } from './config.js';
import { LinearPosterior } from './posterior.js';
import { readSnapshot, writeSnapshot } from './snapshot.js';

export {
  linearGaussianConfigSchema,
  linearRegressionFields,
  type LinearGaussianConfig,
  type LinearGaussianConfigInput,
} from './config.js';
export { LinearPosterior, type RegressionSettings } from './posterior.js';
export { readSnapshot, writeSnapshot, REGRESSION_SNAPSHOT_FORMAT } from './snapshot.js';
export { posteriorStateSchema, type PosteriorState } from './state.js';

const KIND = 'linear-gaussian';

class LinearGaussianPolicy implements Policy {
  readonly kind = KIND;

  constructor(private readonly posterior: LinearPosterior) {}

  sample(input: DecisionFeatures, rng: Rng, out: Float64Array, temperature: number): void {
    this.posterior.sample(input, rng, out, temperature);
  }

  prepare(input: DecisionFeatures, temperature: number, draws?: number): PreparedSampler {
    return this.posterior.prepare(input, temperature, draws);
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
    return { kind: KIND, ...this.posterior.describe() };
  }
}

/**
 * A `linear-gaussian` policy from its parsed config, fresh or restored from a snapshot (format 1).
 *
 * `sample` draws one θ per decision (σ² first under NIG) and scores every candidate with it;
 * `prepare` returns draws of the same law with the per-decision work done once (`shared`: a CSR
 * plan in θ space or a factored score covariance, whichever costs less for the expected draws);
 * `update` folds (weight > 0) or exactly retracts (weight < 0) an outcome in O(d²);
 * `decay(γ)` pulls Λ, b and the noise statistics toward the prior and refactorizes.
 * @throws Error when the snapshot is of another kind/format, malformed, or built under another
 *   structure or prior
 */
export function createLinearGaussian(config: LinearGaussianConfig, snapshot?: PolicySnapshot): Policy {
  const posterior = new LinearPosterior({
    structure: config.structure,
    noise: config.noise,
    priorVariance: config.priorVariance,
    noiseVariance: config.noiseVariance,
    nigA: config.nigPrior.a,
    nigB: config.nigPrior.b,
    contextBits: config.contextBits,
    covariance: config.covariance,
    maxDenseDims: config.maxDenseDims,
  });
  if (snapshot) posterior.loadState(readSnapshot(KIND, snapshot));
  return new LinearGaussianPolicy(posterior);
}
