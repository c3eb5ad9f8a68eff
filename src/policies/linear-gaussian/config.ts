/**
 * Config of the Bayesian linear-regression policies (`linear-gaussian`, and `linucb`, which
 * reuses the regression fields).
 */
import { z } from 'zod';

/**
 * The regression fields shared by `linear-gaussian` and `linucb`:
 * - `structure`: `disjoint` (one posterior per item over the decision context, the classic
 *   LinTS / LinUCB-disjoint), `shared` (one posterior over the hashed joint vectors `arms[i]`),
 *   `hybrid` (both, as one exact regression over `[arm ; item-specific context]`, Li et al. 2010);
 * - `priorVariance` τ²: prior variance of each weight (θ ~ N(0, τ²·I) with known noise;
 *   θ | σ² ~ N(0, σ²·τ²·I) under `nig`);
 * - `noiseVariance` σ²: reward noise variance when `noise` is `known`;
 * - `contextBits`: the per-item (disjoint) posteriors regress on the context with indices masked
 *   to `idx & (2^contextBits − 1)`, collisions summed;
 * - `covariance`: `full` keeps a dense Cholesky factor over up to `maxDenseDims` seen dimensions
 *   per block (later ones, and all with `diagonal`, get independent diagonal precisions).
 */
export const linearRegressionFields = {
  structure: z.enum(['disjoint', 'shared', 'hybrid']).default('shared'),
  priorVariance: z.number().positive().max(1e12).default(1),
  noiseVariance: z.number().positive().max(1e12).default(0.25),
  contextBits: z.number().int().min(1).max(9).default(6),
  covariance: z.enum(['full', 'diagonal']).default('full'),
  maxDenseDims: z.number().int().min(8).max(2048).default(256),
};

/**
 * `linear-gaussian` policy config: Thompson sampling from a Bayesian linear regression with
 * known noise or a normal-inverse-gamma prior on (θ, σ²) (`nigPrior`: σ² ~ InvGamma(a, b)).
 */
export const linearGaussianConfigSchema = z
  .object({
    kind: z.literal('linear-gaussian'),
    noise: z.enum(['known', 'nig']).default('known'),
    nigPrior: z
      .object({
        a: z.number().positive().max(1e12).default(1),
        b: z.number().positive().max(1e12).default(1),
      })
      .strict()
      .default({ a: 1, b: 1 }),
    ...linearRegressionFields,
  })
  .strict();

/** Parsed `linear-gaussian` config (every default filled in). */
export type LinearGaussianConfig = z.output<typeof linearGaussianConfigSchema>;
/** `linear-gaussian` config as callers write it. */
export type LinearGaussianConfigInput = z.input<typeof linearGaussianConfigSchema>;
