/**
 * `nonlinear`: latent user and item factors where the user's factors are a non-linear (even)
 * function of the observed user features, so no model linear in the features — not even with
 * every user × item interaction — can rank items better than their average click rate.
 *
 * Each user j of a fixed population has observed features x_j ~ N(0, I_du) (context namespace
 * `user`, keys `u0…`); items are `item-0 …` with hidden factors v_i ~ N(0, I_r) and offsets c_i.
 * With hidden directions w_k ~ N(0, I/du), k < r, the user's latent factors are
 *
 *   f_k(x) = (|w_kᵀx| − √(2/π)·‖w_k‖) / (‖w_k‖·√(1 − 2/π))     (zero mean, unit variance)
 *
 * and P(click | j, i) = σ( logit(baseRate) + c_i + signal · Σ_k v_ik·f_k(x_j) / √r ).
 * f_k is even in x and x is symmetric, so E[x·f_k(x)] = 0: the best linear predictor of the
 * reward from x, x ⊗ item id, or any feature linear in x, is the per-item average — a linear
 * contextual policy can do no better than the best item on average, while each user's best item
 * differs. A one-hidden-layer ReLU network represents |t| = relu(t) + relu(−t) exactly, so the
 * neural-linear encoder can learn f. Position does not matter.
 * Reference: Riquelme, Tucker & Snoek 2018 (synthetic non-linear bandits for NeuralLinear);
 * Koren, Bell & Volinsky 2009 (latent factor models).
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Environment } from './types.js';
import { logit, setupRng, sigmoid, userItemTableEnvironment } from './common.js';

/**
 * Params of a `nonlinear` environment.
 * - `items` (1..10 000, default 10), `users` (1..10⁶, default 500), `userDim` (1..100, default 6),
 *   `factors` r (1..100, default 4);
 * - `baseRate` (in (0, 1), default 0.1), `signal` (0..100, default 2): logit scale of the latent
 *   term, whose variance is 1 before scaling; `itemEffectSd` (0..100, default 0.3): sd of c_i;
 * - `groupCount` (default 0 = each item its own group).
 */
export const nonlinearParamsSchema = z
  .object({
    kind: z.literal('nonlinear').default('nonlinear'),
    items: z.number().int().min(1).max(10_000).default(10),
    users: z.number().int().min(1).max(1_000_000).default(500),
    userDim: z.number().int().min(1).max(100).default(6),
    factors: z.number().int().min(1).max(100).default(4),
    baseRate: z.number().gt(0).lt(1).default(0.1),
    signal: z.number().min(0).max(100).default(2),
    itemEffectSd: z.number().min(0).max(100).default(0.3),
    groupCount: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();

/** Parsed `nonlinear` params. */
export type NonlinearParams = z.output<typeof nonlinearParamsSchema>;
/** `nonlinear` params as written in a scenario. */
export type NonlinearParamsInput = z.input<typeof nonlinearParamsSchema>;

const HALF_NORMAL_MEAN = Math.sqrt(2 / Math.PI);
const HALF_NORMAL_SD = Math.sqrt(1 - 2 / Math.PI);

/**
 * A `nonlinear` environment (see the module comment). Click probabilities are precomputed per
 * (user, item).
 * @param rng draws the directions, factors, offsets and user features, each from its own fork
 *   (default: a stream seeded by the kind)
 * @throws ZodError on invalid params
 */
export function createNonlinear(params: NonlinearParamsInput, rng?: Rng): Environment {
  const p = nonlinearParamsSchema.parse(params);
  const r = setupRng(rng, 'nonlinear');
  const du = p.userDim;
  const rk = p.factors;
  const k = p.items;
  const n = p.users;
  const dirRng = r.fork('directions');
  const w = Array.from({ length: rk }, () => Array.from({ length: du }, () => dirRng.normal() / Math.sqrt(du)));
  const wNorm = w.map((row) => Math.sqrt(row.reduce((s, x) => s + x * x, 0)));
  const factorRng = r.fork('item-factors');
  const v = Array.from({ length: k }, () => Array.from({ length: rk }, () => factorRng.normal()));
  const effectRng = r.fork('item-effects');
  const effects = Array.from({ length: k }, () => p.itemEffectSd * effectRng.normal());
  const userRng = r.fork('users');
  const users = Array.from({ length: n }, () => Array.from({ length: du }, () => userRng.normal()));

  const b = logit(p.baseRate);
  const prob = new Float64Array(n * k);
  const f = new Float64Array(rk);
  for (let j = 0; j < n; j++) {
    const x = users[j]!;
    for (let q = 0; q < rk; q++) {
      let t = 0;
      for (let l = 0; l < du; l++) t += w[q]![l]! * x[l]!;
      const norm = wNorm[q]! > 0 ? wNorm[q]! : 1;
      f[q] = (Math.abs(t) - HALF_NORMAL_MEAN * norm) / (norm * HALF_NORMAL_SD);
    }
    for (let i = 0; i < k; i++) {
      let z = 0;
      for (let q = 0; q < rk; q++) z += v[i]![q]! * f[q]!;
      prob[j * k + i] = sigmoid(b + effects[i]! + (p.signal * z) / Math.sqrt(rk));
    }
  }

  return userItemTableEnvironment({ name: 'nonlinear', users, items: null, itemCount: k, groupCount: p.groupCount, prob });
}
