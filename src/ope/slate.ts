/**
 * Slate-aware off-policy evaluation: a slate of L positions per round, a reward per position
 * (e.g. a click), and position-wise propensities.
 */
import { z } from 'zod';
import { OpeInputError, parseOptions } from './errors.js';
import { effectiveSampleSize, estimatorOptionsSchema, type Estimate, type EstimatorOptions } from './estimators.js';
import { checkFloat64, checkRecord } from './validate.js';

/**
 * A log of n slates of L positions, each array n×L row-major (round i, position l at i·L + l).
 *
 * - `reward[i·L + l]`: r_il, the reward observed at position l (finite);
 * - `propensity[i·L + l]`: π₀(a_il at l | x_i), the logging policy's marginal probability of
 *   putting the logged item at that position, in (0, 1];
 * - `targetProbability[i·L + l]`: π_e(a_il at l | x_i), the target's marginal probability of
 *   the same (item, position), in [0, 1].
 *
 * Shorter slates are padded: reward 0, propensity 1, targetProbability 0 (weight 0, so the pad
 * adds nothing).
 */
export interface LoggedSlates {
  readonly positions: number;
  readonly reward: Float64Array;
  readonly propensity: Float64Array;
  readonly targetProbability: Float64Array;
}

const positionsSchema = z.number().int().positive();

/**
 * Independent-position IPS (IIPS): under the independence (cascade-free) click model, each
 * position's reward depends only on the item shown there, so each (round, position) is
 * reweighted by its own marginal ratio:
 *
 *   V̂_IIPS = (1/n) Σᵢ Σ_l w_il r_il,   w_il = min(π_e(a_il at l|xᵢ) / π₀(a_il at l|xᵢ), c),
 *
 * an estimate of the expected total slate reward. Unbiased under the independence assumption
 * with far smaller weights than whole-slate IPS.
 * `effectiveSampleSize` is Kish's ESS of the n·L position weights divided by L, i.e. in rounds
 * (n when every weight is 1).
 * Reference: S. Li, Y. Abbasi-Yadkori, B. Kveton, S. Muthukrishnan, V. Vinay & Z. Wen,
 * "Offline evaluation of ranking policies with click models", KDD 2018.
 * @throws OpeInputError on invalid input or options (fields `positions`, `reward`,
 *   `propensity`, `targetProbability`, `clip`)
 */
export function iips(input: LoggedSlates, options?: EstimatorOptions): Estimate {
  const { clip } = parseOptions(estimatorOptionsSchema, options);
  const record = checkRecord('input', input);
  const parsed = positionsSchema.safeParse(record.positions);
  if (!parsed.success) throw new OpeInputError('positions', `must be a positive integer, got ${String(record.positions)}`);
  const L = parsed.data;
  const size = checkFloat64('reward', record.reward, 'finite').length;
  if (size % L !== 0) throw new OpeInputError('reward', `has length ${size}, not a multiple of positions = ${L}`);
  const p0 = checkFloat64('propensity', record.propensity, 'propensity', size);
  const pe = checkFloat64('targetProbability', record.targetProbability, 'probability', size);
  const r = input.reward;
  const n = size / L;
  const w = new Float64Array(size);
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = i * L; k < (i + 1) * L; k++) {
      const wk = Math.min(pe[k]! / p0[k]!, clip);
      w[k] = wk;
      s += wk * r[k]!;
    }
    u[i] = s;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += u[i]!;
  return {
    estimator: 'iips',
    value: sum / n,
    n,
    effectiveSampleSize: effectiveSampleSize(w) / L,
    contributions: u,
    terms: { n, direct: null, numerator: u, denominator: null },
  };
}
