import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type OutcomeFeatures } from '../../../src/features/types.js';
import { createLinUcb, linucbConfigSchema } from '../../../src/policies/linucb/index.js';

const DIM = 16;
type Pairs = ReadonlyArray<readonly [number, number]>;

const config = (over: Record<string, unknown> = {}) => linucbConfigSchema.parse({ kind: 'linucb', ...over });
const outcome = (arm: Pairs, context: Pairs = [], itemId = 'a'): OutcomeFeatures => ({
  itemId,
  arm: sparseFromPairs(DIM, arm),
  context: sparseFromPairs(DIM, context),
});
const decision = (arms: Pairs[], context: Pairs = [], itemIds?: string[]): DecisionFeatures => ({
  dim: DIM,
  itemIds: itemIds ?? arms.map((_, i) => `c${i}`),
  context: sparseFromPairs(DIM, context),
  arms: arms.map((a) => sparseFromPairs(DIM, a)),
});

describe('linucb', () => {
  // d = 1 by hand: λ₀ = σ²/τ² = 0.5/2 = 0.25; outcomes x = 1 (r = 1), x = 2 (r = 0.5), w = 1:
  // Λ = 0.25 + 1 + 4 = 5.25, b = 1 + 1 = 2, mean = 2/5.25, sd = √(0.5/5.25).
  const trained = (alpha: number) => {
    const policy = createLinUcb(config({ alpha, priorVariance: 2, noiseVariance: 0.5 }));
    policy.update(outcome([[4, 1]]), 1, 1);
    policy.update(outcome([[4, 2]]), 0.5, 1);
    return policy;
  };
  const input = decision([[[4, 1]], [[4, 3]], [[5, 1]]]);

  test('scores are mean + alpha·sd, matching the closed form', () => {
    const alpha = 1.7;
    const out = new Float64Array(3);
    trained(alpha).sample(input, createRng(1), out, 1);
    const mean = 2 / 5.25;
    const sd = Math.sqrt(0.5 / 5.25);
    expect(out[0]).toBeCloseTo(mean + alpha * sd, 14);
    expect(out[1]).toBeCloseTo(3 * mean + alpha * 3 * sd, 14);
    // An unseen dimension: prior mean 0, sd τ.
    expect(out[2]).toBeCloseTo(alpha * Math.SQRT2, 14);
  });

  test('scores equal summarize’s mean + alpha·sd exactly', () => {
    const alpha = 0.8;
    const policy = trained(alpha);
    const out = new Float64Array(3);
    const mean = new Float64Array(3);
    const sd = new Float64Array(3);
    policy.sample(input, createRng(1), out, 1);
    policy.summarize(input, mean, sd);
    for (let i = 0; i < 3; i++) expect(out[i]).toBe(mean[i]! + alpha * sd[i]!);
  });

  test('alpha 0 is the posterior mean', () => {
    const out = new Float64Array(3);
    const mean = new Float64Array(3);
    const policy = trained(0);
    policy.sample(input, createRng(1), out, 1);
    policy.summarize(input, mean, new Float64Array(3));
    expect(Array.from(out)).toEqual(Array.from(mean));
  });

  test('does not depend on the rng or the temperature, and draws nothing', () => {
    const policy = trained(1);
    const a = new Float64Array(3);
    const b = new Float64Array(3);
    const rng = createRng('r');
    policy.sample(input, rng, a, 1);
    policy.sample(input, createRng('other'), b, 0);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(rng.uniform()).toBe(createRng('r').uniform());
  });

  test('disjoint: per-item ridge regression on the context', () => {
    const policy = createLinUcb(config({ structure: 'disjoint', alpha: 2, priorVariance: 2, noiseVariance: 0.5 }));
    policy.update(outcome([], [[1, 1]], 'x'), 1, 1);
    policy.update(outcome([], [[1, 2]], 'x'), 0.5, 1);
    const out = new Float64Array(2);
    policy.sample(decision([[], []], [[1, 1]], ['x', 'y']), createRng(1), out, 1);
    expect(out[0]).toBeCloseTo(2 / 5.25 + 2 * Math.sqrt(0.5 / 5.25), 14);
    expect(out[1]).toBeCloseTo(2 * Math.SQRT2, 14);
  });

  test('snapshots restore the same scores and carry kind linucb', () => {
    const policy = trained(1);
    const snap = JSON.parse(JSON.stringify(policy.snapshot()));
    expect(snap.kind).toBe('linucb');
    const again = createLinUcb(config({ alpha: 1, priorVariance: 2, noiseVariance: 0.5 }), snap);
    const a = new Float64Array(3);
    const b = new Float64Array(3);
    policy.sample(input, createRng(1), a, 1);
    again.sample(input, createRng(2), b, 1);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  test.each([
    [{ alpha: -1 }, 'alpha'],
    [{ structure: 'tree' }, 'structure'],
    [{ contextBits: 12 }, 'contextBits'],
    [{ maxDenseDims: 1 }, 'maxDenseDims'],
    [{ noiseVariance: 0 }, 'noiseVariance'],
  ])('rejects %j naming %s', (bad, field) => {
    const res = linucbConfigSchema.safeParse({ kind: 'linucb', ...bad });
    expect(res.success).toBe(false);
    expect(res.error!.issues.some((i) => i.path.includes(field))).toBe(true);
  });

  test('defaults: alpha 1 and the regression defaults', () => {
    expect(config()).toEqual({
      kind: 'linucb',
      alpha: 1,
      structure: 'shared',
      priorVariance: 1,
      noiseVariance: 0.25,
      contextBits: 6,
      covariance: 'full',
      maxDenseDims: 256,
    });
  });
});
