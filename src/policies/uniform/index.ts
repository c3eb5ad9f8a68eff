/**
 * `uniform`: the random baseline. Every candidate gets an iid Uniform(0, 1) score, so the
 * ranking is a uniformly random permutation; it learns nothing. Its scores are exchangeable, so
 * the propensity estimator can use the closed form 1/k per position and L/k inclusion when the
 * selection rule treats all candidates alike (see `explore/propensity.ts`).
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { DecisionFeatures, OutcomeFeatures } from '../../features/types.js';
import type { Policy, PolicySnapshot } from '../types.js';
import { checkSnapshot } from '../beta-bernoulli/index.js';

/** Config of the `uniform` baseline (nothing to configure). */
export const uniformConfigSchema = z
  .object({
    kind: z.literal('uniform'),
  })
  .strict();

/** Parsed `uniform` config. */
export type UniformConfig = z.output<typeof uniformConfigSchema>;

/**
 * The `uniform` policy's scores are iid continuous across candidates, so the propensity
 * estimator may be called with `{ exchangeable: true }`.
 */
export const uniformExchangeable = true;

/** A policy whose sampled scores are iid continuous across candidates. */
export interface ExchangeablePolicy extends Policy {
  /** Always true: scores are iid continuous, any ranking is equally likely. */
  readonly exchangeable: true;
}

const UNIFORM_SD = Math.sqrt(1 / 12);

class UniformPolicy implements ExchangeablePolicy {
  readonly kind = 'uniform';
  readonly exchangeable = true as const;

  sample(input: DecisionFeatures, rng: Rng, out: Float64Array): void {
    // Temperature is ignored: scaling the spread of iid scores would not change the ranking law.
    const k = input.itemIds.length;
    for (let i = 0; i < k; i++) out[i] = rng.uniform();
  }

  summarize(input: DecisionFeatures, mean: Float64Array, sd: Float64Array): void {
    const k = input.itemIds.length;
    mean.fill(0.5, 0, k);
    sd.fill(UNIFORM_SD, 0, k);
  }

  update(_x: OutcomeFeatures, _reward: number, _weight: number): void {}

  decay(gamma: number): void {
    if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`decay gamma must be in (0, 1], got ${gamma}`);
  }

  snapshot(): PolicySnapshot {
    return { kind: this.kind, format: 1, state: {} };
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, exchangeable: true };
  }
}

/**
 * A `uniform` policy: scores iid Uniform(0, 1) (mean 1/2, sd √(1/12) in `summarize`), no
 * learning, an empty snapshot.
 * @throws Error when a snapshot of another kind or format is given
 */
export function createUniform(_config: UniformConfig, snapshot?: PolicySnapshot): ExchangeablePolicy {
  if (snapshot !== undefined) checkSnapshot(snapshot, 'uniform', 1);
  return new UniformPolicy();
}
