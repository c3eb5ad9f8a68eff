import { describe, expect, test } from 'vitest';
import { createRng, type Rng } from '../../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type SparseVector } from '../../../../src/features/types.js';
import {
  createLinearGaussian,
  linearGaussianConfigSchema,
  type LinearGaussianConfigInput,
} from '../../../../src/policies/linear-gaussian/index.js';
import { preferScoreSpace } from '../../../../src/policies/linear-gaussian/posterior.js';
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
 * A decision of `k` candidates `c0…`: a context of 2 keys from [0, contextRange), and arms of 1 to
 * `maxArmNnz` keys from [0, armRange), drawn in that order.
 */
function randomDecision(rng: Rng, k: number, contextRange: number, armRange: number, maxArmNnz: number): DecisionFeatures {
  return {
    dim: DIM,
    itemIds: Array.from({ length: k }, (_, i) => `c${i}`),
    context: randomVector(rng, contextRange, 2),
    arms: Array.from({ length: k }, () => randomVector(rng, armRange, 1 + rng.int(maxArmNnz))),
  };
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

/** Empirical mean and covariance (row-major k × k) of `n` draws. */
function moments(draw: (out: Float64Array) => void, k: number, n: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(k);
  const cov = new Float64Array(k * k);
  const out = new Float64Array(k);
  for (let t = 0; t < n; t++) {
    draw(out);
    for (let i = 0; i < k; i++) {
      mean[i] = mean[i]! + out[i]!;
      for (let j = 0; j < k; j++) cov[i * k + j] = cov[i * k + j]! + out[i]! * out[j]!;
    }
  }
  for (let i = 0; i < k; i++) mean[i] = mean[i]! / n;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) cov[i * k + j] = cov[i * k + j]! / n - mean[i]! * mean[j]!;
  return { mean, cov };
}

/**
 * prepare's draws and sample's draws have the same joint law: means, variances and covariances
 * of N draws each agree within 5 standard errors of their difference (Gaussian scores:
 * Var(mean_i) = Σ_ii/N, Var(cov_ij) = (Σ_ii·Σ_jj + Σ_ij²)/N; two independent estimates → ×√2).
 */
function expectSameLaw(policy: Policy, input: DecisionFeatures, temperature: number, seed: string, n = 6000): void {
  const k = input.itemIds.length;
  const prepared = policy.prepare!(input, temperature, MANY);
  const ra = createRng(`${seed}-a`);
  const rb = createRng(`${seed}-b`);
  const a = moments((out) => prepared(ra, out), k, n);
  const b = moments((out) => policy.sample(input, rb, out, temperature), k, n);
  for (let i = 0; i < k; i++) {
    const vi = b.cov[i * k + i]!;
    expect(Math.abs(a.mean[i]! - b.mean[i]!)).toBeLessThanOrEqual(5 * Math.sqrt((2 * vi) / n) + 1e-12);
    for (let j = 0; j <= i; j++) {
      const vj = b.cov[j * k + j]!;
      const cij = b.cov[i * k + j]!;
      const se = Math.sqrt((2 * (vi * vj + cij * cij)) / n);
      expect(Math.abs(a.cov[i * k + j]! - cij)).toBeLessThanOrEqual(5 * se + 1e-12);
    }
  }
}

/** Draws per decision that make these small decisions take the score-space path (checked below). */
const MANY = 200;

const cases: Array<[string, Partial<LinearGaussianConfigInput>]> = [];
const sharedCases: Array<[string, Partial<LinearGaussianConfigInput>]> = [];
for (const structure of ['shared', 'disjoint', 'hybrid'] as const) {
  for (const noise of ['known', 'nig'] as const) {
    const list = structure === 'shared' ? sharedCases : cases;
    cases.push([`${structure}, ${noise}, full with a diagonal tail`, { structure, noise, covariance: 'full', maxDenseDims: 8 }]);
    cases.push([`${structure}, ${noise}, diagonal`, { structure, noise, covariance: 'diagonal' }]);
    cases.push([`${structure}, ${noise}, full`, { structure, noise, covariance: 'full', nigPrior: { a: 3, b: 0.5 } }]);
    if (structure !== 'shared') continue;
    list.push([`${structure}, ${noise}, full with a diagonal tail`, { structure, noise, covariance: 'full', maxDenseDims: 8 }]);
    list.push([`${structure}, ${noise}, diagonal`, { structure, noise, covariance: 'diagonal' }]);
    list.push([`${structure}, ${noise}, full`, { structure, noise, covariance: 'full', nigPrior: { a: 3, b: 0.5 } }]);
  }
}

describe('linear-gaussian prepare', () => {
  // One draw: θ space for shared (the first draw of a θ plan is sample's own), sample otherwise.
  test.each(cases)('%s: one-draw samplers are bit-identical to sample in scores and rng consumption, T ∈ {1, 0.3, 0}', (_, over) => {
    // k = 10 … 13 candidates; arms of 0 … 10 features.
    for (let s = 0; s < 4; s++) {
      const { policy, input } = scenario(over, `prep-${s}`, 10 + s);
      for (const temperature of [1, 0.3, 0]) expectSameDraws(policy, input, temperature, 5, `draws-${s}-${temperature}`);
    }
  });

  test.each(sharedCases)('%s: score-space draws have the law of sample\'s θ draws (T = 1 and 0.3)', (_, over) => {
    const { policy, input } = scenario(over, 'law', 8);
    for (const temperature of [1, 0.3]) expectSameLaw(policy, input, temperature, `law-${temperature}`);
  });

  test.each(sharedCases)('%s: T = 0 gives the posterior mean of sample; draws are a function of state and seed', (_, over) => {
    const { policy, input } = scenario(over, 'mean', 11);
    const k = input.itemIds.length;
    const got = new Float64Array(k);
    const want = new Float64Array(k);
    policy.prepare!(input, 0)(createRng('m'), got);
    policy.sample(input, createRng('m'), want, 0);
    for (let i = 0; i < k; i++) expect(got[i]).toBeCloseTo(want[i]!, 12);
    // A second sampler on the same state and seed draws the same bits; a twin posterior too.
    const twin = scenario(over, 'mean', 11);
    const p1 = policy.prepare!(input, 1, MANY);
    const p2 = twin.policy.prepare!(twin.input, 1, MANY);
    const a = createRng('d');
    const b = createRng('d');
    for (let d = 0; d < 3; d++) {
      p1(a, got);
      p2(b, want);
      expect(Array.from(got)).toEqual(Array.from(want));
    }
    expect(a.state()).toEqual(b.state());
  });

  test('candidates sharing context entries (one key with one value everywhere, one key whose value differs) draw with the law of sample', () => {
    const { policy, input } = scenario({ structure: 'shared', maxDenseDims: 64 }, 'common', 9);
    // Keys 1 and 2 were folded (dense); every arm gets key 1 = 0.7, and key 2 = 0.5 except the last arm.
    const arms = input.arms.map((a, i) => {
      const pairs: Array<[number, number]> = [[1, 0.7], [2, i === input.arms.length - 1 ? -0.4 : 0.5]];
      for (let e = 0; e < a.nnz; e++) if (a.indices[e]! > 2) pairs.push([a.indices[e]!, a.values[e]!]);
      return sparseFromPairs(DIM, pairs);
    });
    expectSameLaw(policy, { ...input, arms }, 1, 'common');
  });

  test('identical candidates get identical scores in every draw (a rank-deficient score covariance)', () => {
    const { policy, input } = scenario({ structure: 'shared', maxDenseDims: 8 }, 'twins', 6);
    const arms = [...input.arms];
    arms[3] = arms[1]!;
    arms[5] = arms[1]!;
    const twins: DecisionFeatures = { ...input, arms };
    const prepared = policy.prepare!(twins, 1, MANY);
    const out = new Float64Array(6);
    const rng = createRng('tw');
    for (let d = 0; d < 20; d++) {
      prepared(rng, out);
      expect(out[3]).toBeCloseTo(out[1]!, 9);
      expect(out[5]).toBeCloseTo(out[1]!, 9);
      for (const x of out) expect(Number.isFinite(x)).toBe(true);
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

  test('score space: a sampler follows the posterior: after an update or a decay it draws from the new state', () => {
    const { policy, input } = scenario({ structure: 'shared', maxDenseDims: 8 }, 'follow');
    const k = input.itemIds.length;
    const prepared = policy.prepare!(input, 1, MANY);
    const mean = policy.prepare!(input, 0);
    const before = new Float64Array(k);
    prepared(createRng('f'), before);
    const expectMean = (): void => {
      const got = new Float64Array(k);
      const want = new Float64Array(k);
      mean(createRng('m'), got);
      policy.sample(input, createRng('m'), want, 0);
      for (let i = 0; i < k; i++) expect(got[i]).toBeCloseTo(want[i]!, 12);
    };
    expectMean();
    policy.update({ itemId: 'x', context: input.context, arm: input.arms[0]! }, 1, 2);
    const after = new Float64Array(k);
    prepared(createRng('f'), after);
    expect(Array.from(after)).not.toEqual(Array.from(before));
    expectMean();
    // The same draw as a sampler prepared afresh on the new state.
    const fresh = new Float64Array(k);
    policy.prepare!(input, 1, MANY)(createRng('f'), fresh);
    expect(Array.from(after)).toEqual(Array.from(fresh));
    // Forgetting changes the posterior too.
    policy.decay(0.5);
    expectMean();
    policy.update({ itemId: 'x', context: input.context, arm: input.arms[1]! }, -1, 2);
    expectMean();
  });

  test('score space: interleaved samplers of two decisions each keep drawing their own decision', () => {
    const { policy, input } = scenario({ structure: 'shared', maxDenseDims: 8 }, 'one');
    const other = scenario({ structure: 'shared' }, 'two').input;
    const alone = (x: DecisionFeatures, seed: string): number[] => {
      const out = new Float64Array(12);
      policy.prepare!(x, 1, MANY)(createRng(seed), out);
      return Array.from(out);
    };
    const p1 = policy.prepare!(input, 1, MANY);
    const p2 = policy.prepare!(other, 1, MANY);
    const got = new Float64Array(12);
    for (let d = 0; d < 3; d++) {
      p1(createRng(`a${d}`), got);
      expect(Array.from(got)).toEqual(alone(input, `a${d}`));
      p2(createRng(`b${d}`), got);
      expect(Array.from(got)).toEqual(alone(other, `b${d}`));
    }
  });

  test('θ space: a sampler follows the posterior: after an update or a decay it draws what sample draws on the new state', () => {
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

  test('θ space: interleaved samplers of two decisions each keep drawing their own decision', () => {
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

  test('the method follows the flop counts: θ space for one draw or few touched dimensions, score space for many draws over many', () => {
    // These tests' decisions: n_s ≤ 40 dense slots, k ≈ 12, Σnnz ≈ 60 (about half dense).
    expect(preferScoreSpace(40, 12, 60, 30, 1)).toBe(false);
    expect(preferScoreSpace(8, 12, 60, 10, MANY)).toBe(true);
    expect(preferScoreSpace(40, 12, 60, 30, MANY)).toBe(true);
    // The engine benchmark's decision (256 dense slots, k = 50, ~3,900 entries of which ~1,500
    // dense, M + 1 = 65): score space; the core benchmark's d = 64, k = 100 (16 per arm, all
    // dense): θ space; its d = 256: score space.
    expect(preferScoreSpace(256, 50, 3900, 1500, 65)).toBe(true);
    expect(preferScoreSpace(64, 100, 1600, 1600, 65)).toBe(false);
    expect(preferScoreSpace(256, 100, 1600, 1600, 65)).toBe(true);
    const { policy, input } = scenario({ structure: 'shared', maxDenseDims: 8 }, 'path', 12);
    // θ space with draws = 1: the second draw continues sample's stream; score space does not.
    const one = policy.prepare!(input, 1, 1);
    const many = policy.prepare!(input, 1, MANY);
    const a = new Float64Array(12);
    const b = new Float64Array(12);
    one(createRng('p'), a);
    policy.sample(input, createRng('p'), b, 1);
    expect(Array.from(a)).toEqual(Array.from(b));
    many(createRng('p'), a);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(() => policy.prepare!(input, 1, 0)).toThrow(RangeError);
    expect(() => policy.prepare!(input, 1, 1.5)).toThrow(RangeError);
  });

  test('the maintained Σ = Λ⁻¹ follows updates, retractions and new slots; a restored posterior draws the same bits', () => {
    const config = { structure: 'shared' as const, maxDenseDims: 64 };
    const rng = createRng('sigma');
    const folds = Array.from({ length: 400 }, () => ({
      x: { itemId: 'i', context: randomVector(rng, 40, 3), arm: randomVector(rng, 90, 1 + rng.int(8)) },
      r: rng.normal(),
      w: 0.5 + rng.uniform(),
    }));
    const input = randomDecision(rng, 12, 40, 100, 9);
    const k = 12;
    const mean = new Float64Array(k);
    const sdLive = new Float64Array(k);
    const sdFresh = new Float64Array(k);
    // Live: Σ becomes valid at the first plan, then follows every update (Sherman–Morrison),
    // including slots created later and exact retractions of earlier outcomes.
    const live = policyOf(config);
    const fresh = policyOf(config);
    for (let t = 0; t < folds.length; t++) {
      const f = folds[t]!;
      live.update(f.x, f.r, f.w);
      fresh.update(f.x, f.r, f.w);
      if (t % 3 === 2) {
        const back = folds[t - 1]!;
        live.update(back.x, back.r, -back.w);
        fresh.update(back.x, back.r, -back.w);
      }
      // Plans between updates (as ranks between feedback) keep Σ valid, so updates fold into it
      // (about 27 updates apart: fewer than the ~2n/3 after which an unread Σ is dropped).
      if (t % 20 === 5) live.summarize(input, mean, sdLive);
    }
    live.summarize(input, mean, sdLive);
    // Fresh: Σ recomputed from the factor once, at the end.
    fresh.summarize(input, mean, sdFresh);
    for (let i = 0; i < k; i++) expect(sdLive[i]! / sdFresh[i]!).toBeCloseTo(1, 9);
    // A snapshot makes Σ canonical: the restored posterior draws exactly what the live one draws,
    // now and after more updates.
    const restored = createLinearGaussian(linearGaussianConfigSchema.parse({ kind: 'linear-gaussian', ...config }), live.snapshot());
    const a = new Float64Array(k);
    const b = new Float64Array(k);
    for (let round = 0; round < 2; round++) {
      live.prepare!(input, 1, MANY)(createRng(`r${round}`), a);
      restored.prepare!(input, 1, MANY)(createRng(`r${round}`), b);
      expect(Array.from(a)).toEqual(Array.from(b));
      for (const f of folds.slice(0, 30)) {
        live.update(f.x, f.r, f.w);
        restored.update(f.x, f.r, f.w);
      }
    }
  });

  test('a Σ that no decision reads for more than ~2n/3 updates is dropped: the next decision draws what a posterior that never kept Σ draws, bit for bit', () => {
    const config = { structure: 'shared' as const, maxDenseDims: 48 };
    const rng = createRng('sigma-idle');
    const fold = () => ({ x: { itemId: 'i', context: randomVector(rng, 30, 3), arm: randomVector(rng, 60, 1 + rng.int(6)) }, r: rng.normal(), w: 0.5 + rng.uniform() });
    const warm = Array.from({ length: 300 }, fold);
    const input = randomDecision(rng, 10, 30, 60, 6);
    const k = 10;
    const a = new Float64Array(k);
    const b = new Float64Array(k);
    const sd = new Float64Array(k);
    const live = policyOf(config);
    const canonical = policyOf(config);
    for (const f of warm) {
      live.update(f.x, f.r, f.w);
      canonical.update(f.x, f.r, f.w);
    }
    // The dense block is full (48 slots): the limit is 32 updates without a decision.
    live.summarize(input, new Float64Array(k), sd); // Σ valid: later updates fold into it
    const burst = Array.from({ length: 40 }, fold);
    for (const f of burst) {
      live.update(f.x, f.r, f.w);
      canonical.update(f.x, f.r, f.w);
    }
    // `canonical` never planned: its Σ is recomputed from the factor at its first plan; `live`
    // dropped its Σ after 32 unread updates, so it recomputes too — from the same factor.
    live.prepare!(input, 1, MANY)(createRng('after-burst'), a);
    canonical.prepare!(input, 1, MANY)(createRng('after-burst'), b);
    expect(Array.from(a)).toEqual(Array.from(b));
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
