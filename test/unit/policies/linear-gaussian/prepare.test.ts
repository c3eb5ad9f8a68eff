import { describe, expect, test } from 'vitest';
import { createRng, type Rng } from '../../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type SparseVector } from '../../../../src/features/types.js';
import {
  createLinearGaussian,
  linearGaussianConfigSchema,
  type LinearGaussianConfigInput,
} from '../../../../src/policies/linear-gaussian/index.js';
import type { Policy } from '../../../../src/policies/types.js';

const DIM = 256;

function policyOf(over: Partial<LinearGaussianConfigInput>): Policy {
  return createLinearGaussian(linearGaussianConfigSchema.parse({ kind: 'linear-gaussian', ...over }));
}

/** A sparse vector with `nnz` distinct keys drawn from [0, range). */
function randomVector(rng: Rng, range: number, nnz: number): SparseVector {
  const used = new Set<number>();
  const pairs: Array<[number, number]> = [];
  while (pairs.length < nnz) {
    const j = rng.int(range);
    if (used.has(j)) continue;
    used.add(j);
    pairs.push([j, rng.normal()]);
  }
  return sparseFromPairs(DIM, pairs);
}

/**
 * A posterior that has seen keys [0, 40) (with maxDenseDims 8 most of them land in the diagonal
 * tail) and a decision whose arms also use keys [40, 80) never folded, shared between arms.
 */
function scenario(over: Partial<LinearGaussianConfigInput>, seed: string, k = 12): { policy: Policy; input: DecisionFeatures } {
  const rng = createRng(seed);
  const policy = policyOf(over);
  for (let t = 0; t < 60; t++) {
    const arm = randomVector(rng, 40, 1 + rng.int(6));
    const context = randomVector(rng, 40, 1 + rng.int(4));
    policy.update({ itemId: `item${rng.int(4)}`, context, arm }, rng.normal(), 0.5 + rng.uniform());
  }
  const input: DecisionFeatures = {
    dim: DIM,
    // Repeated item ids exercise the per-item memo of disjoint/hybrid.
    itemIds: Array.from({ length: k }, (_, i) => `item${i % 7}`),
    context: randomVector(rng, 80, 5),
    arms: Array.from({ length: k }, () => randomVector(rng, 80, rng.int(11))),
  };
  return { policy, input };
}

/** Draw `draws` times with prepare and with sample from the same seed; both must agree exactly. */
function expectSameDraws(policy: Policy, input: DecisionFeatures, temperature: number, draws: number, seed: string): void {
  const k = input.itemIds.length;
  const prepared = policy.prepare!(input, temperature);
  const a = createRng(seed);
  const b = createRng(seed);
  const outA = new Float64Array(k);
  const outB = new Float64Array(k);
  for (let d = 0; d < draws; d++) {
    prepared(a, outA);
    policy.sample(input, b, outB, temperature);
    for (let i = 0; i < k; i++) {
      if (!Object.is(outA[i], outB[i])) expect.fail(`draw ${d}, candidate ${i}: prepared ${outA[i]} vs sample ${outB[i]}`);
    }
  }
  // The same rng consumption: the streams are at the same state afterwards.
  expect(a.state()).toEqual(b.state());
}

const cases: Array<[string, Partial<LinearGaussianConfigInput>]> = [];
for (const structure of ['shared', 'disjoint', 'hybrid'] as const) {
  for (const noise of ['known', 'nig'] as const) {
    cases.push([`${structure}, ${noise}, full with a diagonal tail`, { structure, noise, covariance: 'full', maxDenseDims: 8 }]);
    cases.push([`${structure}, ${noise}, diagonal`, { structure, noise, covariance: 'diagonal' }]);
    cases.push([`${structure}, ${noise}, full`, { structure, noise, covariance: 'full', nigPrior: { a: 3, b: 0.5 } }]);
  }
}

describe('linear-gaussian prepare', () => {
  test.each(cases)('%s: bit-identical scores and rng consumption to sample, T ∈ {1, 0.3, 0}', (_, over) => {
    // k = 10 … 13: every remainder of the four-row CSR product; arms of 0 … 10 features.
    for (let s = 0; s < 4; s++) {
      const { policy, input } = scenario(over, `prep-${s}`, 10 + s);
      for (const temperature of [1, 0.3, 0]) expectSameDraws(policy, input, temperature, 5, `draws-${s}-${temperature}`);
    }
  });

  test('a fresh posterior draws every dimension from the prior: score = x·(√(T·σ²)·τ/σ)·z, exactly', () => {
    // σ² = 0.25, τ² = 1 ⇒ λ₀ = 0.25, prior sd (Λ units) 2, scale √0.25 = 0.5: θ = 0.5·2·z = z.
    const policy = policyOf({ structure: 'shared', noiseVariance: 0.25, priorVariance: 1 });
    const input: DecisionFeatures = {
      dim: DIM,
      itemIds: ['a', 'b'],
      context: sparseFromPairs(DIM, []),
      arms: [sparseFromPairs(DIM, [[3, 2]]), sparseFromPairs(DIM, [[3, -1], [5, 4]])],
    };
    const z = createRng('z');
    const z3 = z.normal();
    const z5 = z.normal();
    const out = new Float64Array(2);
    policy.prepare!(input, 1)(createRng('z'), out);
    expect(out[0]).toBe(2 * z3);
    expect(out[1]).toBe(0 + (-1 * z3 + 4 * z5));
  });

  test('a sampler follows the posterior: after an update or a decay it draws what sample draws on the new state', () => {
    const { policy, input } = scenario({ structure: 'shared', maxDenseDims: 8 }, 'follow');
    const k = input.itemIds.length;
    const prepared = policy.prepare!(input, 1);
    const before = new Float64Array(k);
    prepared(createRng('f'), before);
    policy.update({ itemId: 'x', context: input.context, arm: input.arms[0]! }, 1, 2);
    const after = new Float64Array(k);
    const expected = new Float64Array(k);
    prepared(createRng('f'), after);
    policy.sample(input, createRng('f'), expected, 1);
    expect(Array.from(after)).toEqual(Array.from(expected));
    expect(Array.from(after)).not.toEqual(Array.from(before));
    // Forgetting changes the posterior too.
    policy.decay(0.5);
    prepared(createRng('g'), after);
    policy.sample(input, createRng('g'), expected, 1);
    expect(Array.from(after)).toEqual(Array.from(expected));
    // T = 0 caches the mean; it must be refreshed too.
    const mean = policy.prepare!(input, 0);
    mean(createRng('m'), after);
    policy.update({ itemId: 'x', context: input.context, arm: input.arms[1]! }, -1, 2);
    mean(createRng('m'), after);
    policy.sample(input, createRng('m'), expected, 0);
    expect(Array.from(after)).toEqual(Array.from(expected));
  });

  test('interleaved samplers of two decisions each keep drawing their own decision', () => {
    const { policy, input } = scenario({ structure: 'shared', maxDenseDims: 8 }, 'one');
    const other = scenario({ structure: 'shared' }, 'two').input;
    const p1 = policy.prepare!(input, 1);
    const p2 = policy.prepare!(other, 1);
    const got = new Float64Array(12);
    const want = new Float64Array(12);
    for (let d = 0; d < 3; d++) {
      p1(createRng(`a${d}`), got);
      policy.sample(input, createRng(`a${d}`), want, 1);
      expect(Array.from(got)).toEqual(Array.from(want));
      p2(createRng(`b${d}`), got);
      policy.sample(other, createRng(`b${d}`), want, 1);
      expect(Array.from(got)).toEqual(Array.from(want));
    }
  });

  test('rejects what sample rejects: a bad temperature, mismatched shapes, a short output', () => {
    const { policy, input } = scenario({ structure: 'shared' }, 'bad');
    expect(() => policy.prepare!(input, -1)).toThrow(RangeError);
    expect(() => policy.prepare!(input, Number.NaN)).toThrow(RangeError);
    expect(() => policy.prepare!({ ...input, arms: input.arms.slice(1) }, 1)).toThrow(RangeError);
    expect(() => policy.prepare!(input, 1)(createRng('s'), new Float64Array(3))).toThrow(RangeError);
    expect(() => policy.prepare!(input, 0)(createRng('s'), new Float64Array(3))).toThrow(RangeError);
  });
});
