import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type OutcomeFeatures } from '../../../src/features/types.js';
import {
  createLinearGaussian,
  linearGaussianConfigSchema,
  type LinearGaussianConfigInput,
} from '../../../src/policies/linear-gaussian/index.js';
import type { Policy } from '../../../src/policies/types.js';

const DIM = 64;
type Pairs = ReadonlyArray<readonly [number, number]>;

function config(over: Partial<LinearGaussianConfigInput> = {}) {
  return linearGaussianConfigSchema.parse({ kind: 'linear-gaussian', ...over });
}

function outcome(arm: Pairs, context: Pairs = [], itemId = 'a'): OutcomeFeatures {
  return { itemId, arm: sparseFromPairs(DIM, arm), context: sparseFromPairs(DIM, context) };
}

function decision(arms: Pairs[], context: Pairs = [], itemIds?: string[]): DecisionFeatures {
  return {
    dim: DIM,
    itemIds: itemIds ?? arms.map((_, i) => `item${i}`),
    context: sparseFromPairs(DIM, context),
    arms: arms.map((a) => sparseFromPairs(DIM, a)),
  };
}

function summarize(policy: Policy, input: DecisionFeatures): { mean: number[]; sd: number[] } {
  const k = input.itemIds.length;
  const mean = new Float64Array(k);
  const sd = new Float64Array(k);
  policy.summarize(input, mean, sd);
  return { mean: Array.from(mean), sd: Array.from(sd) };
}

function sample(policy: Policy, input: DecisionFeatures, seed: string, temperature = 1): number[] {
  const out = new Float64Array(input.itemIds.length);
  policy.sample(input, createRng(seed), out, temperature);
  return Array.from(out);
}

/** Symmetric 2×2 inverse [[p, q], [q, r]]⁻¹. */
function inv2(p: number, q: number, r: number): [number, number, number] {
  const det = p * r - q * q;
  return [r / det, -q / det, p / det];
}

/** Relative closeness with an absolute floor. */
function close(actual: number, expected: number, rel = 1e-12): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
}

// Three outcomes over d = 2 (x, reward, weight), and their posterior by hand (Bishop §3.3):
// Λ = λ₀·I + Σ w·x·xᵀ, b = Σ w·r·x, μ = Λ⁻¹b, Cov = σ²·Λ⁻¹, λ₀ = σ²/τ² with known noise.
const THREE: Array<[[number, number], number, number]> = [
  [[1, 0], 1, 1],
  [[1, 1], 0, 1],
  [[0, 2], 0.5, 2],
];

function handPosterior(lambda0: number, data = THREE, gamma = 1) {
  let p = lambda0;
  let q = 0;
  let r = lambda0;
  let b0 = 0;
  let b1 = 0;
  let swr2 = 0;
  let sw = 0;
  for (const [[x0, x1], rew, w] of data) {
    p += w * x0 * x0;
    q += w * x0 * x1;
    r += w * x1 * x1;
    b0 += w * rew * x0;
    b1 += w * rew * x1;
    swr2 += w * rew * rew;
    sw += w;
  }
  // Forgetting: Λ ← γΛ + (1 − γ)Λ₀, b ← γb.
  p = gamma * p + (1 - gamma) * lambda0;
  q = gamma * q;
  r = gamma * r + (1 - gamma) * lambda0;
  b0 *= gamma;
  b1 *= gamma;
  const [i00, i01, i11] = inv2(p, q, r);
  const mu0 = i00 * b0 + i01 * b1;
  const mu1 = i01 * b0 + i11 * b1;
  return { mu0, mu1, i00, i01, i11, quad: mu0 * b0 + mu1 * b1, swr2: gamma * swr2, sw: gamma * sw };
}

function foldThree(policy: Policy, toOutcome: (x0: number, x1: number) => OutcomeFeatures): void {
  for (const [[x0, x1], rew, w] of THREE) policy.update(toOutcome(x0, x1), rew, w);
}

const armOf = (x0: number, x1: number): Pairs => [
  [3, x0],
  [9, x1],
];

describe('linear-gaussian: exact posterior on a tiny input', () => {
  const tau2 = 2;
  const sigma2 = 0.5;
  const h = handPosterior(sigma2 / tau2);
  const expectProbe = (res: { mean: number[]; sd: number[] }) => {
    close(res.mean[0]!, h.mu0);
    close(res.mean[1]!, h.mu1);
    close(res.mean[2]!, h.mu0 + h.mu1);
    close(res.sd[0]!, Math.sqrt(sigma2 * h.i00));
    close(res.sd[1]!, Math.sqrt(sigma2 * h.i11));
    close(res.sd[2]!, Math.sqrt(sigma2 * (h.i00 + h.i11 + 2 * h.i01)));
  };

  test('shared: μ and σ²Λ⁻¹ match the closed form', () => {
    const policy = createLinearGaussian(config({ priorVariance: tau2, noiseVariance: sigma2 }));
    foldThree(policy, (x0, x1) => outcome(armOf(x0, x1)));
    expectProbe(summarize(policy, decision([armOf(1, 0), armOf(0, 1), armOf(1, 1)])));
  });

  test('shared, all dimensions diagonal once maxDenseDims is used up: same numbers when d ≤ maxDenseDims', () => {
    // 8 filler dimensions take the dense block; the two probed dims fall in the diagonal tail,
    // whose precision keeps only Λ_jj (the documented approximation).
    const policy = createLinearGaussian(config({ priorVariance: tau2, noiseVariance: sigma2, maxDenseDims: 8 }));
    policy.update(outcome(Array.from({ length: 8 }, (_, i) => [20 + i, 1] as const)), 0, 1);
    foldThree(policy, (x0, x1) => outcome(armOf(x0, x1)));
    const l0 = sigma2 / tau2;
    const lam0 = l0 + 1 + 1; // Σ w·x₀²
    const lam1 = l0 + 1 + 2 * 4; // Σ w·x₁²
    const res = summarize(policy, decision([armOf(1, 0), armOf(0, 1)]));
    close(res.mean[0]!, 1 / lam0);
    close(res.mean[1]!, 2 / lam1);
    close(res.sd[0]!, Math.sqrt(sigma2 / lam0));
    close(res.sd[1]!, Math.sqrt(sigma2 / lam1));
    expect(policy.describe()).toMatchObject({ denseDims: 8, diagonalDims: 2, dimsSeen: 10 });
  });

  test('disjoint: the per-item posterior regresses on the masked context', () => {
    // contextBits 3: indices 3 and 9 mask to 3 and 1; index 11 collides with 3 and is summed.
    const policy = createLinearGaussian(
      config({ structure: 'disjoint', priorVariance: tau2, noiseVariance: sigma2, contextBits: 3 }),
    );
    foldThree(policy, (x0, x1) => outcome([], [
      [3, x0 / 2],
      [11, x0 / 2],
      [9, x1],
    ], 'a'));
    policy.update(outcome([], [[3, 1]], 'b'), 5, 1); // another item: no effect on a
    const ctx: Pairs = [
      [3, 1],
      [1, 1],
    ];
    const res = summarize(policy, decision([[], []], ctx, ['a', 'never-seen']));
    close(res.mean[0]!, h.mu0 + h.mu1);
    close(res.sd[0]!, Math.sqrt(sigma2 * (h.i00 + h.i11 + 2 * h.i01)));
    // A never-seen item has the prior: mean 0, variance τ²·|x|².
    expect(res.mean[1]).toBe(0);
    close(res.sd[1]!, Math.sqrt(tau2 * 2));
  });

  test('hybrid: one exact regression over [item context ; arm]', () => {
    // Coordinate 0 is item a's context dimension 2, coordinate 1 the shared arm dimension 9.
    const policy = createLinearGaussian(config({ structure: 'hybrid', priorVariance: tau2, noiseVariance: sigma2 }));
    foldThree(policy, (x0, x1) => outcome([[9, x1]], [[2, x0]], 'a'));
    const res = summarize(policy, decision([[[9, 1]], [[9, 1]]], [[2, 1]], ['a', 'b']));
    close(res.mean[0]!, h.mu0 + h.mu1);
    close(res.sd[0]!, Math.sqrt(sigma2 * (h.i00 + h.i11 + 2 * h.i01)));
    // Item b shares only the arm weight: mean μ₁, variance σ²Λ⁻¹₁₁ + τ² (its own context prior).
    close(res.mean[1]!, h.mu1);
    close(res.sd[1]!, Math.sqrt(sigma2 * h.i11 + tau2));
  });
});

describe('linear-gaussian: diagonal covariance', () => {
  // Every dimension is an independent regression: λ_j = λ₀ + Σw·x_j², μ_j = Σw·r·x_j / λ_j.
  const lambda0 = 0.25; // σ²/τ² = 0.5/2
  const lam0 = lambda0 + 1 + 1;
  const lam1 = lambda0 + 1 + 2 * 4;
  const mu0 = 1 / lam0;
  const mu1 = 2 / lam1;
  const cases = [
    ['shared', (x0: number, x1: number) => outcome(armOf(x0, x1)), decision([armOf(1, 1)])],
    ['disjoint', (x0: number, x1: number) => outcome([], [[3, x0], [9, x1]], 'a'), decision([[]], [[3, 1], [9, 1]], ['a'])],
    [
      'hybrid',
      (x0: number, x1: number) => outcome([[9, x1]], [[3, x0]], 'a'),
      decision([[[9, 1]]], [[3, 1]], ['a']),
    ],
  ] as const;
  test.each(cases)('%s: per-dimension posteriors, exact retraction, exact restore', (structure, make, probe) => {
    const cfg = config({ structure, covariance: 'diagonal', priorVariance: 2, noiseVariance: 0.5 });
    const policy = createLinearGaussian(cfg);
    foldThree(policy, make);
    const res = summarize(policy, probe);
    close(res.mean[0]!, mu0 + mu1);
    close(res.sd[0]!, Math.sqrt(0.5 * (1 / lam0 + 1 / lam1)));
    expect(policy.describe()).toMatchObject({ denseDims: 0, diagonalDims: 2 });
    const t0 = new Float64Array(1);
    policy.sample(probe, createRng(1), t0, 0);
    close(t0[0]!, mu0 + mu1);
    const restored = createLinearGaussian(cfg, JSON.parse(JSON.stringify(policy.snapshot())));
    expect(sample(restored, probe, 'd')).toEqual(sample(policy, probe, 'd'));
    policy.update(make(1, 1), 3, 2);
    policy.update(make(1, 1), 3, -2);
    const again = summarize(policy, probe);
    close(again.mean[0]!, mu0 + mu1, 1e-12);
    close(again.sd[0]!, res.sd[0]!, 1e-12);
  });
});

describe('linear-gaussian: normal-inverse-gamma noise', () => {
  test('aₙ, bₙ follow the conjugate update (Murphy 2007)', () => {
    const a0 = 2;
    const b0 = 1;
    const tau2 = 4;
    const policy = createLinearGaussian(config({ noise: 'nig', nigPrior: { a: a0, b: b0 }, priorVariance: tau2 }));
    foldThree(policy, (x0, x1) => outcome(armOf(x0, x1)));
    const h = handPosterior(1 / tau2);
    const an = a0 + h.sw / 2;
    const bn = b0 + 0.5 * (h.swr2 - h.quad);
    const nig = policy.describe()['nig'] as { a: number; b: number };
    close(nig.a, an);
    close(nig.b, bn);
    close(policy.describe()['noiseVariance'] as number, bn / (an - 1));
    // Reported sd uses the Student-t scale bₙ/aₙ.
    const res = summarize(policy, decision([armOf(1, 0), armOf(0, 1)]));
    close(res.mean[0]!, h.mu0);
    close(res.sd[0]!, Math.sqrt((bn / an) * h.i00));
    close(res.sd[1]!, Math.sqrt((bn / an) * h.i11));
  });

  test('draws have the Student-t marginal variance bₙ/(aₙ−1)·Λ⁻¹', () => {
    const policy = createLinearGaussian(config({ noise: 'nig', nigPrior: { a: 10, b: 4 } }));
    foldThree(policy, (x0, x1) => outcome(armOf(x0, x1)));
    const h = handPosterior(1);
    const an = 10 + h.sw / 2;
    const bn = 4 + 0.5 * (h.swr2 - h.quad);
    const input = decision([armOf(1, 0)]);
    const rng = createRng('nig-draws');
    const out = new Float64Array(1);
    const n = 20_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      policy.sample(input, rng, out, 1);
      s += out[0]!;
      s2 += out[0]! * out[0]!;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    const expected = (bn / (an - 1)) * h.i00;
    // sd of the sample mean is √(var/n); of the sample variance ≈ var·√((2 + excess kurtosis)/n),
    // the t with ν = 2aₙ ≈ 25 having excess kurtosis 6/(ν − 4) ≈ 0.3: 5 sds ≈ 5%.
    expect(Math.abs(mean - h.mu0)).toBeLessThan(5 * Math.sqrt(expected / n));
    expect(Math.abs(variance / expected - 1)).toBeLessThan(0.05);
  });
});

describe('linear-gaussian: retraction', () => {
  const structures = ['shared', 'disjoint', 'hybrid'] as const;
  test.each(structures)('%s: folding then retracting an outcome restores μ and the factor', (structure) => {
    const policy = createLinearGaussian(config({ structure, noise: 'nig' }));
    const rng = createRng(`retract-${structure}`);
    const make = (): OutcomeFeatures => {
      const pairs: Array<[number, number]> = [];
      for (let j = 0; j < 4; j++) pairs.push([rng.int(12), rng.normal()]);
      return outcome(pairs, pairs.slice(0, 3), `item${rng.int(3)}`);
    };
    const folded: OutcomeFeatures[] = [];
    for (let i = 0; i < 20; i++) {
      folded.push(make());
      policy.update(folded[i]!, rng.normal(), 0.5 + rng.uniform());
    }
    const before = policy.snapshot();
    // Features already seen, so the factor keeps its shape (see the next test for new ones).
    const extra = folded[7]!;
    policy.update(extra, 0.7, 1.5);
    policy.update(extra, 0.7, -1.5);
    const after = policy.snapshot();
    const flat = (x: unknown): number[] =>
      JSON.stringify(x)
        .match(/-?\d+(\.\d+)?(e[-+]?\d+)?/g)!
        .map(Number);
    const a = flat(before.state);
    const b = flat(after.state);
    expect(b.length).toBe(a.length);
    a.forEach((v, i) => expect(Math.abs(b[i]! - v)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(v))));
  });

  test.each(structures)('%s: retracting an outcome with new dimensions restores the posterior', (structure) => {
    const policy = createLinearGaussian(config({ structure }));
    policy.update(outcome([[1, 1], [2, 0.5]], [[1, 1]], 'a'), 1, 1);
    const probe = decision([[[1, 1], [5, 1]], [[2, 1], [6, 1]]], [[1, 1], [3, 1]], ['a', 'b']);
    const before = summarize(policy, probe);
    const extra = outcome([[5, 1], [6, 2]], [[3, 1]], 'b');
    policy.update(extra, 2, 1);
    policy.update(extra, 2, -1);
    const after = summarize(policy, probe);
    before.mean.forEach((m, i) => close(after.mean[i]!, m, 1e-12));
    before.sd.forEach((v, i) => close(after.sd[i]!, v, 1e-12));
  });

  test('retracting something never folded throws and changes nothing', () => {
    const policy = createLinearGaussian(config());
    policy.update(outcome([[1, 1]]), 1, 1);
    const before = JSON.stringify(policy.snapshot());
    expect(() => policy.update(outcome([[2, 1]]), 1, -1)).toThrow(/never folded/);
    expect(() => policy.update(outcome([[1, 1]]), 1, -100)).toThrow(/positive definite/);
    expect(JSON.stringify(policy.snapshot())).toBe(before);
  });
});

describe('linear-gaussian: decay', () => {
  test('Λ ← γΛ + (1−γ)Λ₀ and b ← γb, and the NIG statistics likewise', () => {
    const gamma = 0.3;
    const a0 = 2;
    const b0 = 1;
    const policy = createLinearGaussian(config({ noise: 'nig', nigPrior: { a: a0, b: b0 } }));
    foldThree(policy, (x0, x1) => outcome(armOf(x0, x1)));
    const anBefore = (policy.describe()['nig'] as { a: number }).a;
    policy.decay(gamma);
    const h = handPosterior(1, THREE, gamma);
    const nig = policy.describe()['nig'] as { a: number; b: number };
    close(nig.a, gamma * anBefore + (1 - gamma) * a0);
    close(nig.b, b0 + 0.5 * (h.swr2 - h.quad));
    const res = summarize(policy, decision([armOf(1, 0), armOf(0, 1), armOf(1, 1)]));
    close(res.mean[0]!, h.mu0);
    close(res.mean[1]!, h.mu1);
    const s2 = nig.b / nig.a;
    close(res.sd[2]!, Math.sqrt(s2 * (h.i00 + h.i11 + 2 * h.i01)));
  });

  test('hybrid decay refactorizes the coupled blocks exactly', () => {
    const gamma = 0.6;
    const policy = createLinearGaussian(config({ structure: 'hybrid', priorVariance: 2, noiseVariance: 0.5 }));
    foldThree(policy, (x0, x1) => outcome([[9, x1]], [[2, x0]], 'a'));
    policy.decay(gamma);
    const h = handPosterior(0.25, THREE, gamma);
    const res = summarize(policy, decision([[[9, 1]], [[9, 1]]], [[2, 1]], ['a', 'b']));
    close(res.mean[0]!, h.mu0 + h.mu1);
    close(res.sd[0]!, Math.sqrt(0.5 * (h.i00 + h.i11 + 2 * h.i01)));
    close(res.mean[1]!, h.mu1);
  });

  test('γ → 0 returns to the prior; γ = 1 changes nothing; γ outside (0, 1] throws', () => {
    const policy = createLinearGaussian(config({ priorVariance: 3 }));
    foldThree(policy, (x0, x1) => outcome(armOf(x0, x1)));
    const snap = JSON.stringify(policy.snapshot());
    policy.decay(1);
    expect(JSON.stringify(policy.snapshot())).toBe(snap);
    policy.decay(1e-12);
    const res = summarize(policy, decision([armOf(1, 0)]));
    expect(Math.abs(res.mean[0]!)).toBeLessThan(1e-10);
    close(res.sd[0]!, Math.sqrt(3), 1e-9);
    expect(() => policy.decay(0)).toThrow(RangeError);
    expect(() => policy.decay(1.5)).toThrow(RangeError);
  });
});

describe('linear-gaussian: large hashed spaces', () => {
  test('shared over 2^16 dimensions keeps only the dimensions seen', () => {
    const dim = 1 << 16;
    const policy = createLinearGaussian(config({ maxDenseDims: 64 }));
    const rng = createRng('big');
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const pairs: Array<[number, number]> = [[0, 1]];
      for (let j = 0; j < 9; j++) pairs.push([1 + rng.int(dim - 1), 1]);
      for (const [k] of pairs) seen.add(k);
      policy.update({ itemId: 'x', arm: sparseFromPairs(dim, pairs), context: sparseFromPairs(dim, []) }, rng.uniform(), 1);
    }
    const d = policy.describe();
    expect(d['dimsSeen']).toBe(seen.size);
    expect(d['denseDims']).toBe(64);
    const input: DecisionFeatures = {
      dim,
      itemIds: ['p', 'q'],
      context: sparseFromPairs(dim, []),
      arms: [sparseFromPairs(dim, [[0, 1], [dim - 1, 1]]), sparseFromPairs(dim, [[0, 1], [5, 1]])],
    };
    const out = new Float64Array(2);
    policy.sample(input, createRng(1), out, 1);
    expect(out.every(Number.isFinite)).toBe(true);
  });

  test('a never-seen dimension draws one prior value per decision, shared by its candidates', () => {
    const policy = createLinearGaussian(config({ priorVariance: 1 }));
    // Both candidates carry only the unseen dimension 7: identical scores within a decision.
    const out = sample(policy, decision([[[7, 1]], [[7, 1]], [[8, 1]]]), 'prior');
    expect(out[0]).toBe(out[1]);
    expect(out[2]).not.toBe(out[0]);
  });
});

describe('linear-gaussian: sampling', () => {
  const structures = ['shared', 'disjoint', 'hybrid'] as const;
  function trained(structure: (typeof structures)[number], noise: 'known' | 'nig' = 'known') {
    const policy = createLinearGaussian(config({ structure, noise, maxDenseDims: 8 }));
    const rng = createRng(`train-${structure}`);
    for (let i = 0; i < 40; i++) {
      const pairs: Array<[number, number]> = [[0, 1]];
      for (let j = 0; j < 3; j++) pairs.push([1 + rng.int(20), rng.normal()]);
      policy.update(outcome(pairs, pairs, `item${rng.int(4)}`), rng.normal(), 1);
    }
    return policy;
  }
  const probe = decision(
    [
      [[0, 1], [3, 1], [30, 1]],
      [[0, 1], [5, -1]],
      [[0, 1], [3, 1], [30, 1]],
      [[0, 1], [12, 2], [41, 1]],
    ],
    [
      [0, 1],
      [7, 1],
      [44, 1],
    ],
    ['item0', 'item1', 'item0', 'new'],
  );

  test.each(structures)('%s: snapshot → restore gives identical subsequent samples', (structure) => {
    for (const noise of ['known', 'nig'] as const) {
      const a = trained(structure, noise);
      const snap = JSON.parse(JSON.stringify(a.snapshot()));
      const b = createLinearGaussian(config({ structure, noise, maxDenseDims: 8 }), snap);
      expect(sample(b, probe, 's1')).toEqual(sample(a, probe, 's1'));
      const extra = outcome([[0, 1], [3, 2]], [[7, 1]], 'item1');
      a.update(extra, 1, 1);
      b.update(extra, 1, 1);
      a.decay(0.9);
      b.decay(0.9);
      expect(sample(b, probe, 's2')).toEqual(sample(a, probe, 's2'));
      expect(b.describe()).toEqual(a.describe());
    }
  });

  test.each(structures)('%s: temperature 0 returns the posterior mean and uses no randomness', (structure) => {
    const policy = trained(structure, 'nig');
    const rng = createRng('t0');
    const out = new Float64Array(4);
    policy.sample(probe, rng, out, 0);
    const { mean } = summarize(policy, probe);
    mean.forEach((m, i) => close(out[i]!, m, 1e-12));
    expect(rng.uniform()).toBe(createRng('t0').uniform());
  });

  test.each(structures)('%s: one draw per decision — a repeated candidate gets the same score', (structure) => {
    const out = sample(trained(structure), probe, 'dup');
    expect(out[2]).toBe(out[0]);
    expect(out[1]).not.toBe(out[0]);
  });

  test.each(structures)('%s: draws have the variance summarize reports (σ²·xᵀΛ⁻¹x)', (structure) => {
    const policy = trained(structure);
    const { mean, sd } = summarize(policy, probe);
    const rng = createRng(`var-${structure}`);
    const out = new Float64Array(4);
    const n = 20_000;
    const s = [0, 0, 0, 0];
    const s2 = [0, 0, 0, 0];
    for (let t = 0; t < n; t++) {
      policy.sample(probe, rng, out, 1);
      for (let i = 0; i < 4; i++) {
        s[i]! += out[i]!;
        s2[i]! += out[i]! * out[i]!;
      }
    }
    for (let i = 0; i < 4; i++) {
      const m = s[i]! / n;
      const v = s2[i]! / n - m * m;
      const want = sd[i]! * sd[i]!;
      // Gaussian draws: sd of the sample mean √(v/n), of the sample variance v·√(2/n) = 1%.
      expect(Math.abs(m - mean[i]!)).toBeLessThan(5 * Math.sqrt(want / n));
      expect(Math.abs(v / want - 1)).toBeLessThan(0.05);
    }
  });

  test('the draw has the posterior covariance σ²Λ⁻¹ (known noise)', () => {
    const policy = createLinearGaussian(config({ noiseVariance: 0.5, priorVariance: 2 }));
    foldThree(policy, (x0, x1) => outcome(armOf(x0, x1)));
    const h = handPosterior(0.25);
    const input = decision([armOf(1, 1)]);
    const rng = createRng('cov');
    const out = new Float64Array(1);
    const n = 20_000;
    let s = 0;
    let s2 = 0;
    const temperature = 2;
    for (let i = 0; i < n; i++) {
      policy.sample(input, rng, out, temperature);
      s += out[0]!;
      s2 += out[0]! * out[0]!;
    }
    const variance = s2 / n - (s / n) ** 2;
    const expected = temperature * 0.5 * (h.i00 + h.i11 + 2 * h.i01);
    // Gaussian: sd of the sample variance is var·√(2/n) = 1%; allow 4%.
    expect(Math.abs(variance / expected - 1)).toBeLessThan(0.04);
  });

  test('rejects a negative temperature and a too-short output', () => {
    const policy = createLinearGaussian(config());
    expect(() => policy.sample(probe, createRng(1), new Float64Array(4), -1)).toThrow(RangeError);
    expect(() => policy.sample(probe, createRng(1), new Float64Array(2), 1)).toThrow(RangeError);
  });
});

describe('linear-gaussian: snapshots', () => {
  test('are versioned JSON with plain number arrays', () => {
    const policy = createLinearGaussian(config({ structure: 'hybrid' }));
    policy.update(outcome([[1, 1]], [[2, 1]], 'a'), 1, 1);
    const snap = policy.snapshot();
    expect(snap.kind).toBe('linear-gaussian');
    expect(snap.format).toBe(1);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  test('refuse another kind, format, structure or prior', () => {
    const policy = createLinearGaussian(config());
    policy.update(outcome([[1, 1]]), 1, 1);
    const snap = policy.snapshot();
    expect(() => createLinearGaussian(config(), { ...snap, kind: 'linucb' })).toThrow(/kind/);
    expect(() => createLinearGaussian(config(), { ...snap, format: 2 })).toThrow(/format/);
    expect(() => createLinearGaussian(config({ structure: 'hybrid' }), snap)).toThrow(/structure/);
    expect(() => createLinearGaussian(config({ priorVariance: 2 }), snap)).toThrow(/prior/);
    expect(() => createLinearGaussian(config(), { ...snap, state: { bogus: 1 } })).toThrow(/invalid/);
  });
});

describe('linear-gaussian config', () => {
  test('fills every default', () => {
    expect(config()).toEqual({
      kind: 'linear-gaussian',
      structure: 'shared',
      noise: 'known',
      priorVariance: 1,
      noiseVariance: 0.25,
      nigPrior: { a: 1, b: 1 },
      contextBits: 6,
      covariance: 'full',
      maxDenseDims: 256,
    });
  });

  test.each([
    [{ structure: 'tree' }, 'structure'],
    [{ noise: 'laplace' }, 'noise'],
    [{ priorVariance: 0 }, 'priorVariance'],
    [{ priorVariance: Number.POSITIVE_INFINITY }, 'priorVariance'],
    [{ noiseVariance: -1 }, 'noiseVariance'],
    [{ nigPrior: { a: 0 } }, 'a'],
    [{ nigPrior: { b: -2 } }, 'b'],
    [{ contextBits: 0 }, 'contextBits'],
    [{ contextBits: 10 }, 'contextBits'],
    [{ contextBits: 2.5 }, 'contextBits'],
    [{ covariance: 'banded' }, 'covariance'],
    [{ maxDenseDims: 4 }, 'maxDenseDims'],
    [{ maxDenseDims: 4096 }, 'maxDenseDims'],
  ])('rejects %j naming %s', (bad, field) => {
    const res = linearGaussianConfigSchema.safeParse({ kind: 'linear-gaussian', ...bad });
    expect(res.success).toBe(false);
    expect(res.error!.issues.some((i) => i.path.includes(field))).toBe(true);
  });

  test('rejects unknown fields', () => {
    const res = linearGaussianConfigSchema.safeParse({ kind: 'linear-gaussian', alpha: 1 });
    expect(res.success).toBe(false);
    expect(JSON.stringify(res.error!.issues)).toContain('alpha');
  });
});
