import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type OutcomeFeatures } from '../../src/features/types.js';
import { createLinearGaussian, linearGaussianConfigSchema } from '../../src/policies/linear-gaussian/index.js';
import type { Policy } from '../../src/policies/types.js';

const DIM = 32;
const CONTEXT_BITS = 3;
type Structure = 'shared' | 'disjoint' | 'hybrid';

interface Obs {
  item: number;
  arm: Array<[number, number]>;
  ctx: Array<[number, number]>;
  reward: number;
  weight: number;
}

const pairs = (maxIndex: number) =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: maxIndex }), fc.double({ min: -2, max: 2, noNaN: true })), {
    minLength: 1,
    maxLength: 4,
  });

const obs: fc.Arbitrary<Obs> = fc.record({
  item: fc.integer({ min: 0, max: 2 }),
  arm: pairs(7),
  ctx: pairs(15), // masked to 3 bits: collisions are summed
  reward: fc.double({ min: -3, max: 3, noNaN: true }),
  weight: fc.double({ min: 0.1, max: 3, noNaN: true }),
});

const structure = fc.constantFrom<Structure>('shared', 'disjoint', 'hybrid');

function policyFor(s: Structure, noise: 'known' | 'nig' = 'known'): Policy {
  return createLinearGaussian(
    linearGaussianConfigSchema.parse({
      kind: 'linear-gaussian',
      structure: s,
      noise,
      contextBits: CONTEXT_BITS,
      priorVariance: 1.5,
      noiseVariance: 0.3,
    }),
  );
}

function toOutcome(o: Obs): OutcomeFeatures {
  return { itemId: `i${o.item}`, arm: sparseFromPairs(DIM, o.arm), context: sparseFromPairs(DIM, o.ctx) };
}

/** The global feature vector of (item, context, arm) under a structure, as name → value. */
function features(s: Structure, item: number, ctx: Array<[number, number]>, arm: Array<[number, number]>) {
  const f = new Map<string, number>();
  const add = (k: string, v: number) => f.set(k, (f.get(k) ?? 0) + v);
  if (s !== 'shared') for (const [i, v] of ctx) add(`item${item}:${i & ((1 << CONTEXT_BITS) - 1)}`, v);
  if (s !== 'disjoint') for (const [i, v] of arm) add(`arm:${i}`, v);
  for (const [k, v] of f) if (v === 0) f.delete(k);
  return f;
}

/** Inverse of a symmetric positive definite matrix by Gauss–Jordan with partial pivoting. */
function invert(A: number[][]): number[][] {
  const n = A.length;
  const M = A.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    const piv = M[c]![c]!;
    for (let j = 0; j < 2 * n; j++) M[c]![j]! /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]!;
      if (f !== 0) for (let j = 0; j < 2 * n; j++) M[r]![j]! -= f * M[c]![j]!;
    }
  }
  return M.map((row) => row.slice(n));
}

/** Batch posterior: μ = (Λ₀ + XᵀWX)⁻¹XᵀWy, Σ = σ²(Λ₀ + XᵀWX)⁻¹ with λ₀ = σ²/τ². */
function batch(s: Structure, data: Obs[]) {
  const lambda0 = 0.3 / 1.5;
  const rows = data.map((o) => features(s, o.item, o.ctx, o.arm));
  const names = [...new Set(rows.flatMap((r) => [...r.keys()]))];
  const at = new Map(names.map((k, i) => [k, i]));
  const n = names.length;
  const A = names.map((_, i) => names.map((__, j) => (i === j ? lambda0 : 0)));
  const b = names.map(() => 0);
  rows.forEach((r, t) => {
    const { weight: w, reward } = data[t]!;
    for (const [ki, vi] of r) {
      b[at.get(ki)!]! += w * reward * vi;
      for (const [kj, vj] of r) A[at.get(ki)!]![at.get(kj)!]! += w * vi * vj;
    }
  });
  const inv = n > 0 ? invert(A) : [];
  const mu = inv.map((row) => row.reduce((acc, v, j) => acc + v * b[j]!, 0));
  return (f: Map<string, number>) => {
    let mean = 0;
    let q = 0;
    const seen: Array<[number, number]> = [];
    for (const [k, v] of f) {
      const i = at.get(k);
      if (i === undefined) q += (v * v) / lambda0;
      else {
        mean += v * mu[i]!;
        seen.push([i, v]);
      }
    }
    for (const [i, vi] of seen) for (const [j, vj] of seen) q += vi * vj * inv[i]![j]!;
    return { mean, sd: Math.sqrt(0.3 * q) };
  };
}

/** Probe candidates: every item (plus an unseen one) with a few arms. */
function probes(): { input: DecisionFeatures; raw: Array<{ item: number; arm: Array<[number, number]> }>; ctx: Array<[number, number]> } {
  const ctx: Array<[number, number]> = [
    [1, 1],
    [2, -0.5],
    [13, 0.7],
  ];
  const arms: Array<Array<[number, number]>> = [
    [[0, 1]],
    [
      [1, 1],
      [3, -1],
    ],
    [
      [2, 0.5],
      [7, 1],
      [20, 1],
    ],
  ];
  const raw: Array<{ item: number; arm: Array<[number, number]> }> = [];
  for (let item = 0; item < 4; item++) for (const arm of arms) raw.push({ item, arm });
  return {
    ctx,
    raw,
    input: {
      dim: DIM,
      itemIds: raw.map((r) => `i${r.item}`),
      context: sparseFromPairs(DIM, ctx),
      arms: raw.map((r) => sparseFromPairs(DIM, r.arm)),
    },
  };
}

function summary(policy: Policy, input: DecisionFeatures) {
  const k = input.itemIds.length;
  const mean = new Float64Array(k);
  const sd = new Float64Array(k);
  policy.summarize(input, mean, sd);
  return { mean, sd };
}

const within = (a: number, b: number, tol: number) =>
  expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));

describe('linear-gaussian properties', () => {
  test('online updates equal the batch closed form (Λ₀ + XᵀWX)⁻¹XᵀWy', () => {
    fc.assert(
      fc.property(structure, fc.array(obs, { minLength: 1, maxLength: 25 }), (s, data) => {
        const policy = policyFor(s);
        for (const o of data) policy.update(toOutcome(o), o.reward, o.weight);
        const { input, raw, ctx } = probes();
        const got = summary(policy, input);
        const post = batch(s, data);
        raw.forEach((r, i) => {
          const want = post(features(s, r.item, ctx, r.arm));
          // Condition numbers stay below ~1e4 here (λ₀ = 0.2, |x|² ≤ 16·3·25): 1e-8 is ≥ 100× the error.
          within(got.mean[i]!, want.mean, 1e-8);
          within(got.sd[i]!, want.sd, 1e-8);
        });
      }),
      { numRuns: 120 },
    );
  });

  test('updates are order-invariant', () => {
    fc.assert(
      fc.property(structure, fc.array(obs, { minLength: 2, maxLength: 20 }), fc.integer(), (s, data, seed) => {
        const a = policyFor(s, 'nig');
        const b = policyFor(s, 'nig');
        const shuffled = createRng(seed).shuffle([...data]);
        for (const o of data) a.update(toOutcome(o), o.reward, o.weight);
        for (const o of shuffled) b.update(toOutcome(o), o.reward, o.weight);
        const { input } = probes();
        const sa = summary(a, input);
        const sb = summary(b, input);
        sa.mean.forEach((m, i) => within(sb.mean[i]!, m, 1e-8));
        sa.sd.forEach((v, i) => within(sb.sd[i]!, v, 1e-8));
        const na = a.describe()['nig'] as { a: number; b: number };
        const nb = b.describe()['nig'] as { a: number; b: number };
        within(nb.a, na.a, 1e-12);
        within(nb.b, na.b, 1e-8);
      }),
      { numRuns: 100 },
    );
  });

  test('update then retract restores the posterior', () => {
    fc.assert(
      fc.property(
        structure,
        fc.array(obs, { minLength: 1, maxLength: 15 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        fc.double({ min: -3, max: 3, noNaN: true }),
        (s, data, picks, reward) => {
          const policy = policyFor(s, 'nig');
          for (const o of data) policy.update(toOutcome(o), o.reward, o.weight);
          const { input } = probes();
          const before = summary(policy, input);
          const nigBefore = policy.describe()['nig'] as { a: number; b: number };
          // Fold several outcomes over seen features, then retract them in another order.
          const extra = picks.map((p) => data[p % data.length]!);
          for (const o of extra) policy.update(toOutcome(o), reward, o.weight);
          for (const o of [...extra].reverse()) policy.update(toOutcome(o), reward, -o.weight);
          const after = summary(policy, input);
          before.mean.forEach((m, i) => within(after.mean[i]!, m, 1e-9));
          before.sd.forEach((v, i) => within(after.sd[i]!, v, 1e-9));
          const nigAfter = policy.describe()['nig'] as { a: number; b: number };
          within(nigAfter.a, nigBefore.a, 1e-12);
          within(nigAfter.b, nigBefore.b, 1e-9);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('same seed, same sample', () => {
    fc.assert(
      fc.property(structure, fc.array(obs, { maxLength: 10 }), fc.integer(), (s, data, seed) => {
        const a = policyFor(s, 'nig');
        const b = policyFor(s, 'nig');
        for (const o of data) {
          a.update(toOutcome(o), o.reward, o.weight);
          b.update(toOutcome(o), o.reward, o.weight);
        }
        const { input } = probes();
        const oa = new Float64Array(input.itemIds.length);
        const ob = new Float64Array(input.itemIds.length);
        a.sample(input, createRng(seed), oa, 1);
        b.sample(input, createRng(seed), ob, 1);
        expect(Array.from(ob)).toEqual(Array.from(oa));
      }),
      { numRuns: 100 },
    );
  });
});
