/**
 * Config of the `logistic` policy (online Laplace-approximated logistic regression with
 * Thompson sampling, Chapelle & Li 2011).
 */
import { z } from 'zod';

/**
 * zod schema of the `logistic` config. `kind` is the registry discriminator (required); every
 * other field has a default and unknown fields are rejected.
 *
 * - `priorVariance` (> 0, ≤ 1e6, default 1): prior θ_j ~ N(0, priorVariance) for every hashed
 *   dimension (prior precision q₀ = 1/priorVariance).
 * - `covariance` (default `diagonal`): `diagonal` keeps an independent N(m_j, 1/q_j) per weight
 *   (Chapelle & Li, Algorithm 3); `full` keeps a dense precision matrix (as a Cholesky factor)
 *   over the first `maxDenseDims` dimensions seen in updates and diagonal precisions beyond.
 * - `maxDenseDims` (1..1024, default 128): size of the dense block of `full`.
 * - `newtonSteps` (1..20, default 1): Newton steps towards the mode per update.
 */
export const logisticConfigSchema = z
  .object({
    kind: z.literal('logistic'),
    priorVariance: z.number().positive().max(1e6).default(1),
    covariance: z.enum(['diagonal', 'full']).default('diagonal'),
    maxDenseDims: z.number().int().min(1).max(1024).default(128),
    newtonSteps: z.number().int().min(1).max(20).default(1),
  })
  .strict();

/** Parsed `logistic` config (every default filled in). */
export type LogisticConfig = z.output<typeof logisticConfigSchema>;
/** `logistic` config as callers write it. */
export type LogisticConfigInput = z.input<typeof logisticConfigSchema>;
