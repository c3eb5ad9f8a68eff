/**
 * `linear`: a contextual environment with a hidden bilinear logistic click model.
 *
 * Each user j of a fixed population has a feature vector u_j ∈ ℝ^du (context namespace `user`,
 * features `u0…`), each item i a feature vector v_i ∈ ℝ^dv (candidate namespace `item`,
 * features `v0…`). With a hidden θ ∈ ℝ^(du×dv) and per-item offsets c_i:
 *
 *   P(click | u, i) = σ( logit(baseRate) + c_i + signal · uᵀ θ v_i ),   σ the logistic function.
 *
 * uᵀθv = ⟨θ, u ⊗ v⟩ is linear in the `user × item` interaction features, so a contextual
 * linear/logistic policy with that interaction (or a disjoint per-item regression on `user`)
 * can represent the ranking. Drawn defaults: θ_kl ~ N(0, 1), u ~ N(0, I/du), v ~ N(0, I/dv), so
 * uᵀθv has variance ≈ 1 and `signal` is the logit spread between users. Because u is centred,
 * every item's click rate averaged over users is about the same, while each user's best item
 * differs: a context-free (beta-bernoulli) policy can at best find the item with the highest
 * average, far below the per-user optimum. Position does not matter.
 * Reference: Chapelle & Li 2011 (logistic Thompson sampling); Li et al. 2010 (LinUCB, hybrid).
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Environment } from './types.js';
import { logit, setupRng, sigmoid, userItemTableEnvironment } from './common.js';

const finite = z.number().min(-1e6).max(1e6);
const matrix = z.array(z.array(finite).min(1).max(1000)).min(1);

/**
 * Params of a `linear` environment.
 * - `items` (1..10 000, default 10), `users` (1..10⁶, default 500), `userDim`/`itemDim`
 *   (1..1000, default 5): sizes when the vectors are drawn.
 * - `baseRate` (in (0, 1), default 0.1): P(click) at zero logit offset.
 * - `signal` (0..100, default 2): scale of the contextual term uᵀθv.
 * - `itemEffectSd` (0..100, default 0.3): sd of the drawn per-item offsets c_i.
 * - `theta` (du × dv), `userFeatures` (users × du), `itemFeatures` (items × dv), `itemEffects`
 *   (items): optional hand-set values; each one given overrides the matching draw and sizes.
 * - `groupCount` (default 0 = each item its own group).
 */
export const linearParamsSchema = z
  .object({
    kind: z.literal('linear').default('linear'),
    items: z.number().int().min(1).max(10_000).default(10),
    users: z.number().int().min(1).max(1_000_000).default(500),
    userDim: z.number().int().min(1).max(1000).default(5),
    itemDim: z.number().int().min(1).max(1000).default(5),
    baseRate: z.number().gt(0).lt(1).default(0.1),
    signal: z.number().min(0).max(100).default(2),
    itemEffectSd: z.number().min(0).max(100).default(0.3),
    theta: matrix.max(1000).optional(),
    userFeatures: matrix.max(1_000_000).optional(),
    itemFeatures: matrix.max(10_000).optional(),
    itemEffects: z.array(finite).min(1).max(10_000).optional(),
    groupCount: z.number().int().min(0).max(10_000).default(0),
  })
  .strict()
  .superRefine((p, ctx) => {
    const du = p.userFeatures?.[0]?.length ?? p.theta?.length ?? p.userDim;
    const dv = p.itemFeatures?.[0]?.length ?? p.theta?.[0]?.length ?? p.itemDim;
    const k = p.itemFeatures?.length ?? p.itemEffects?.length ?? p.items;
    const rows = (name: 'theta' | 'userFeatures' | 'itemFeatures', m: number[][] | undefined, width: number) => {
      m?.forEach((row, r) => {
        if (row.length !== width) {
          ctx.addIssue({ code: 'custom', path: [name, r], message: `expected ${width} columns, got ${row.length}` });
        }
      });
    };
    rows('userFeatures', p.userFeatures, du);
    rows('itemFeatures', p.itemFeatures, dv);
    rows('theta', p.theta, dv);
    if (p.theta && p.theta.length !== du) {
      ctx.addIssue({ code: 'custom', path: ['theta'], message: `expected ${du} rows (user dimension), got ${p.theta.length}` });
    }
    if (p.itemEffects && p.itemEffects.length !== k) {
      ctx.addIssue({ code: 'custom', path: ['itemEffects'], message: `expected ${k} values (one per item), got ${p.itemEffects.length}` });
    }
  });

/** Parsed `linear` params. */
export type LinearParams = z.output<typeof linearParamsSchema>;
/** `linear` params as written in a scenario. */
export type LinearParamsInput = z.input<typeof linearParamsSchema>;

function gaussianMatrix(rng: Rng, rows: number, cols: number, sd: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => sd * rng.normal()));
}

/**
 * A `linear` environment. Users are `user-0 …` (uniform arrivals), items `item-0 …`.
 * Click probabilities are precomputed per (user, item) (users × items table).
 * @param rng draws θ, the user and item vectors and the offsets not given (default: a stream
 *   seeded by the kind); each is drawn from its own fork, so hand-setting one keeps the others.
 * @throws ZodError on invalid or inconsistent params
 */
export function createLinear(params: LinearParamsInput, rng?: Rng): Environment {
  const p = linearParamsSchema.parse(params);
  const r = setupRng(rng, 'linear');
  const du = p.userFeatures?.[0]?.length ?? p.theta?.length ?? p.userDim;
  const dv = p.itemFeatures?.[0]?.length ?? p.theta?.[0]?.length ?? p.itemDim;
  const k = p.itemFeatures?.length ?? p.itemEffects?.length ?? p.items;
  const n = p.userFeatures?.length ?? p.users;
  const theta = p.theta ?? gaussianMatrix(r.fork('theta'), du, dv, 1);
  const users = p.userFeatures ?? gaussianMatrix(r.fork('users'), n, du, 1 / Math.sqrt(du));
  const items = p.itemFeatures ?? gaussianMatrix(r.fork('items'), k, dv, 1 / Math.sqrt(dv));
  const effectRng = r.fork('item-effects');
  const effects = p.itemEffects ?? Array.from({ length: k }, () => p.itemEffectSd * effectRng.normal());

  // θ v_i for every item, then P = σ(b + c_i + signal · u·(θ v_i)) for every (user, item).
  const thetaV = items.map((v) => theta.map((row) => row.reduce((s, t, l) => s + t * v[l]!, 0)));
  const b = logit(p.baseRate);
  const prob = new Float64Array(n * k);
  for (let j = 0; j < n; j++) {
    const u = users[j]!;
    for (let i = 0; i < k; i++) {
      const tv = thetaV[i]!;
      let z = 0;
      for (let l = 0; l < du; l++) z += u[l]! * tv[l]!;
      prob[j * k + i] = sigmoid(b + effects[i]! + p.signal * z);
    }
  }

  return userItemTableEnvironment({ name: 'linear', users, items: items, itemCount: k, groupCount: p.groupCount, prob });
}
