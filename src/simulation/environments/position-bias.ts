/**
 * `position-bias`: the position-based click model — a person examines position p with
 * probability exam[p] and clicks an examined item with its attractiveness:
 * P(click on item i at position p) = exam[p] · attr(i)
 * (Craswell et al. 2008; Chuklin, Markov & de Rijke 2015, PBM). Positions beyond the
 * `examination` list are never examined (probability 0: below the fold). No context.
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Environment } from './types.js';
import { betaPriorSchema, probabilitySchema, setupRng } from './common.js';
import { staticItemsEnvironment } from './bernoulli.js';

/**
 * Params of a `position-bias` environment.
 * - `examination` (1..100 values in [0, 1], default [1, 0.6, 0.4, 0.3, 0.2]): exam[p] for p = 1, 2, …
 * - `attractions` (optional, values in [0, 1]): attr(i) of each item; else `items` (1..10 000,
 *   default 10) attractions are drawn from `prior` (default Beta(2, 5), mean ≈ 0.29).
 * - `users` (default 1), `groupCount` (default 0 = each item its own group), as in `bernoulli`.
 */
export const positionBiasParamsSchema = z
  .object({
    kind: z.literal('position-bias').default('position-bias'),
    examination: z.array(probabilitySchema).min(1).max(100).default([1, 0.6, 0.4, 0.3, 0.2]),
    attractions: z.array(probabilitySchema).min(1).max(10_000).optional(),
    items: z.number().int().min(1).max(10_000).default(10),
    prior: betaPriorSchema.default({ alpha: 2, beta: 5 }),
    users: z.number().int().min(1).max(1e7).default(1),
    groupCount: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();

/** Parsed `position-bias` params. */
export type PositionBiasParams = z.output<typeof positionBiasParamsSchema>;
/** `position-bias` params as written in a scenario. */
export type PositionBiasParamsInput = z.input<typeof positionBiasParamsSchema>;

/**
 * A `position-bias` environment. Items are `item-0 …`; the context is empty.
 * @param rng draws the attractions when they are not given (default: a stream seeded by the kind)
 * @throws ZodError on invalid params
 */
export function createPositionBias(params: PositionBiasParamsInput, rng?: Rng): Environment {
  const p = positionBiasParamsSchema.parse(params);
  let attractions = p.attractions;
  if (!attractions) {
    const r = setupRng(rng, 'position-bias');
    attractions = Array.from({ length: p.items }, () => r.beta(p.prior.alpha, p.prior.beta));
  }
  const exam = p.examination;
  return staticItemsEnvironment({
    name: 'position-bias',
    itemPrefix: 'item',
    attractions,
    users: p.users,
    groupCount: p.groupCount,
    examination: (position) => exam[position - 1] ?? 0,
  });
}
