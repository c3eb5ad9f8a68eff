/**
 * `epsilon-greedy`: the classic comparison baseline. With probability ε the decision's scores
 * are iid Uniform(0, 1) (a uniformly random ranking); otherwise they are the per-item posterior
 * means of Beta(α₀ + Σw·r, β₀ + Σw·(1 − r)) — the same statistics as `beta-bernoulli`, so both
 * learn identically and differ only in how they explore. Ties between equal means (e.g. unseen
 * items) are broken uniformly by the selector.
 * Reference: Sutton & Barto, "Reinforcement Learning: An Introduction", §2.2.
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { DecisionFeatures } from '../../features/types.js';
import type { Policy, PolicySnapshot } from '../types.js';
import { BetaTablePolicy } from '../beta-bernoulli/index.js';

/** Config of an `epsilon-greedy` policy: exploration rate and the Beta prior of its item means. */
export const epsilonGreedyConfigSchema = z
  .object({
    kind: z.literal('epsilon-greedy'),
    epsilon: z.number().min(0).max(1).default(0.1),
    priorAlpha: z.number().positive().max(1e6).default(1),
    priorBeta: z.number().positive().max(1e6).default(1),
  })
  .strict();

/** Parsed `epsilon-greedy` config. */
export type EpsilonGreedyConfig = z.output<typeof epsilonGreedyConfigSchema>;

class EpsilonGreedyPolicy extends BetaTablePolicy {
  readonly kind = 'epsilon-greedy';

  constructor(private readonly config: EpsilonGreedyConfig) {
    super(config.priorAlpha, config.priorBeta);
  }

  sample(input: DecisionFeatures, rng: Rng, out: Float64Array): void {
    // Temperature is ignored: ε is this baseline's whole exploration.
    const ids = input.itemIds;
    const eps = this.config.epsilon;
    const random = eps >= 1 || (eps > 0 && rng.uniform() < eps);
    for (let i = 0; i < ids.length; i++) out[i] = random ? rng.uniform() : this.table.mean(ids[i]!);
  }

  describe(): Record<string, unknown> {
    return {
      kind: this.kind,
      epsilon: this.config.epsilon,
      prior: { alpha: this.config.priorAlpha, beta: this.config.priorBeta },
      items: this.table.size,
      top: this.table.top(10),
    };
  }
}

/**
 * An `epsilon-greedy` policy: `sample` writes iid Uniform(0, 1) scores with probability ε (one
 * coin per decision, skipped when ε is 0 or 1), else the posterior means; `temperature` is ignored.
 * @param config a parsed {@link epsilonGreedyConfigSchema}
 * @param snapshot learned state of a policy of this kind
 * @throws Error when the snapshot's kind or format does not match; ZodError when its state is malformed
 */
export function createEpsilonGreedy(config: EpsilonGreedyConfig, snapshot?: PolicySnapshot): Policy {
  const policy = new EpsilonGreedyPolicy(config);
  if (snapshot !== undefined) policy.restore(snapshot);
  return policy;
}
