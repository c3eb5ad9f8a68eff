/**
 * `bernoulli`: k arms with fixed click probabilities and no context — the classic stochastic
 * multi-armed bandit. The probabilities are given, or drawn once from a seeded Beta(α, β).
 * One user or a population of many (uniform arrivals); position does not matter.
 *
 * P(click on arm i) = p_i at every position. A click converts with probability
 * `conversionRate` (a `convert` reaction with `conversionValue`); the expected reward stays the
 * click probability.
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Candidate } from '../../features/types.js';
import type { Arrival, Environment, Reaction } from './types.js';
import { betaPriorSchema, positionBasedEnvironment, probabilitySchema, roundRobinGroup, setupRng } from './common.js';

/**
 * Params of a `bernoulli` environment.
 * - `probabilities` (optional, 1..10 000 values in [0, 1]): the arms' click probabilities; when
 *   given, its length is the number of arms and `arms`/`prior` are ignored.
 * - `arms` (1..10 000, default 10) and `prior` (default Beta(1, 9), mean 0.1): otherwise each
 *   arm's probability is drawn from the prior with the factory's rng.
 * - `users` (1..10⁷, default 1): arrivals pick `user-<j>` uniformly.
 * - `groupCount` (0..10 000, default 0): 0 = every arm is its own group, else round-robin groups.
 * - `conversionRate` (default 0), `conversionValue` (> 0, default 1): P(convert | click) and its value.
 */
export const bernoulliParamsSchema = z
  .object({
    kind: z.literal('bernoulli').default('bernoulli'),
    probabilities: z.array(probabilitySchema).min(1).max(10_000).optional(),
    arms: z.number().int().min(1).max(10_000).default(10),
    prior: betaPriorSchema.default({ alpha: 1, beta: 9 }),
    users: z.number().int().min(1).max(1e7).default(1),
    groupCount: z.number().int().min(0).max(10_000).default(0),
    conversionRate: probabilitySchema.default(0),
    conversionValue: z.number().positive().max(1e9).default(1),
  })
  .strict();

/** Parsed `bernoulli` params. */
export type BernoulliParams = z.output<typeof bernoulliParamsSchema>;
/** `bernoulli` params as written in a scenario (every field optional). */
export type BernoulliParamsInput = z.input<typeof bernoulliParamsSchema>;

/** What {@link staticItemsEnvironment} needs: fixed item attractions, optional examination. */
export interface StaticItemsSpec {
  readonly name: string;
  readonly itemPrefix: string;
  readonly attractions: readonly number[];
  readonly users: number;
  readonly groupCount: number;
  readonly examination?: (position: number) => number;
  readonly conversionRate?: number;
  readonly conversionValue?: number;
}

/**
 * A context-free environment over fixed items (shared by `bernoulli` and `position-bias`):
 * P(click at p) = examination(p) · attraction(i).
 */
export function staticItemsEnvironment(spec: StaticItemsSpec): Environment {
  const ids = spec.attractions.map((_, i) => `${spec.itemPrefix}-${i}`);
  const attraction = new Map<string, number>(ids.map((id, i) => [id, spec.attractions[i]!]));
  const groups = new Map<string, string>(ids.map((id, i) => [id, roundRobinGroup(id, i, spec.groupCount)]));
  const candidates: readonly Candidate[] = Object.freeze(ids.map((id) => Object.freeze({ id, group: groups.get(id)! })));
  const context = Object.freeze({});
  const conversionRate = spec.conversionRate ?? 0;
  const conversionValue = spec.conversionValue ?? 1;
  return positionBasedEnvironment({
    name: spec.name,
    groups,
    arrive(at: number, rng: Rng): Arrival {
      const userId = spec.users === 1 ? 'user-0' : `user-${rng.int(spec.users)}`;
      return { userId, context, candidates, at };
    },
    attraction(_arrival, itemId) {
      const a = attraction.get(itemId);
      if (a === undefined) throw new RangeError(`unknown item ${JSON.stringify(itemId)}`);
      return a;
    },
    ...(spec.examination ? { examination: spec.examination } : {}),
    settle(_arrival, slate, clicked, rng, reactions: Reaction[]) {
      if (conversionRate === 0) return;
      slate.forEach((s, i) => {
        if (clicked[i] && rng.uniform() < conversionRate) {
          reactions.push({ itemId: s.itemId, kind: 'convert', delayMs: 0, value: conversionValue });
        }
      });
    },
  });
}

/**
 * A `bernoulli` environment. Arms are `arm-0 … arm-(k−1)`; the context is empty.
 * @param params see {@link bernoulliParamsSchema} (parsed here; defaults applied)
 * @param rng draws the arm probabilities when they are not given (default: a stream seeded by the kind)
 * @throws ZodError on invalid params
 */
export function createBernoulli(params: BernoulliParamsInput, rng?: Rng): Environment {
  const p = bernoulliParamsSchema.parse(params);
  let probabilities = p.probabilities;
  if (!probabilities) {
    const r = setupRng(rng, 'bernoulli');
    probabilities = Array.from({ length: p.arms }, () => r.beta(p.prior.alpha, p.prior.beta));
  }
  return staticItemsEnvironment({
    name: 'bernoulli',
    itemPrefix: 'arm',
    attractions: probabilities,
    users: p.users,
    groupCount: p.groupCount,
    conversionRate: p.conversionRate,
    conversionValue: p.conversionValue,
  });
}
