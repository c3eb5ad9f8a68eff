import { describe, expect, test } from 'vitest';
import { createRng } from '../../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type OutcomeFeatures } from '../../../../src/features/types.js';
import {
  betaBernoulliConfigSchema,
  createBetaBernoulli,
  temperedBeta,
} from '../../../../src/policies/beta-bernoulli/index.js';

const DIM = 16;

function decision(ids: string[]): DecisionFeatures {
  return {
    dim: DIM,
    itemIds: ids,
    context: sparseFromPairs(DIM, [[0, 1]]),
    arms: ids.map((_, i) => sparseFromPairs(DIM, [[0, 1], [i + 1, 1]])),
  };
}

function outcome(itemId: string): OutcomeFeatures {
  return { itemId, context: sparseFromPairs(DIM, [[0, 1]]), arm: sparseFromPairs(DIM, [[0, 1], [1, 1]]) };
}

function policy(priorAlpha = 1, priorBeta = 1) {
  return createBetaBernoulli(betaBernoulliConfigSchema.parse({ kind: 'beta-bernoulli', priorAlpha, priorBeta }));
}

function summary(p: ReturnType<typeof policy>, ids: string[]): { mean: number[]; sd: number[] } {
  const mean = new Float64Array(ids.length);
  const sd = new Float64Array(ids.length);
  p.summarize(decision(ids), mean, sd);
  return { mean: Array.from(mean), sd: Array.from(sd) };
}

function betaSd(a: number, b: number): number {
  return Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
}

describe('beta-bernoulli config', () => {
  test('defaults to a uniform Beta(1, 1) prior', () => {
    expect(betaBernoulliConfigSchema.parse({ kind: 'beta-bernoulli' })).toEqual({ kind: 'beta-bernoulli', priorAlpha: 1, priorBeta: 1 });
  });

  test.each([
    ['priorAlpha', { priorAlpha: 0 }],
    ['priorAlpha', { priorAlpha: -1 }],
    ['priorAlpha', { priorAlpha: 'one' }],
    ['priorBeta', { priorBeta: 0 }],
    ['priorBeta', { priorBeta: Infinity }],
    ['kind', { kind: 'beta' }],
    ['unknownField', { unknownField: 1 }],
  ])('rejects a bad %s', (field, patch) => {
    const r = betaBernoulliConfigSchema.safeParse({ kind: 'beta-bernoulli', ...patch });
    expect(r.success).toBe(false);
    const named = r.error!.issues.some(
      (i) => i.path.includes(field) || ('keys' in i && Array.isArray(i.keys) && i.keys.includes(field)),
    );
    expect(named).toBe(true);
  });
});

describe('beta-bernoulli posterior', () => {
  test('exact posterior on a tiny weighted input: Beta(α₀ + Σw·r, β₀ + Σw·(1 − r))', () => {
    const p = policy(1, 1);
    p.update(outcome('a'), 1, 1);
    p.update(outcome('a'), 0, 0.5);
    p.update(outcome('a'), 0.25, 2);
    // successes 1 + 0 + 0.5 = 1.5, failures 0 + 0.5 + 1.5 = 2 ⇒ Beta(2.5, 3)
    const s = summary(p, ['a', 'new']);
    expect(s.mean[0]).toBeCloseTo(2.5 / 5.5, 15);
    expect(s.sd[0]).toBeCloseTo(betaSd(2.5, 3), 15);
    expect(s.mean[1]).toBe(0.5); // unseen items keep the prior
    expect(s.sd[1]).toBeCloseTo(betaSd(1, 1), 15);
  });

  test('rewards are clipped to [0, 1]', () => {
    const p = policy(1, 1);
    p.update(outcome('a'), 5, 1);
    p.update(outcome('b'), -2, 1);
    const s = summary(p, ['a', 'b']);
    expect(s.mean).toEqual([2 / 3, 1 / 3]);
  });

  test('a negative weight retracts the outcome exactly', () => {
    const p = policy(2, 3);
    p.update(outcome('a'), 1, 0.75);
    const before = p.snapshot();
    p.update(outcome('a'), 0, 0.5);
    p.update(outcome('b'), 1, 2);
    p.update(outcome('a'), 0, -0.5);
    p.update(outcome('b'), 1, -2);
    expect(p.snapshot()).toEqual(before);
    p.update(outcome('a'), 1, -0.75);
    expect(p.snapshot()).toEqual(policy(2, 3).snapshot());
  });

  test('decay pulls α and β toward the prior: α ← γα + (1 − γ)α₀', () => {
    const p = policy(2, 3);
    p.update(outcome('a'), 1, 4);
    p.update(outcome('a'), 0, 6); // Beta(6, 9)
    p.decay(0.5); // Beta(0.5·6 + 0.5·2, 0.5·9 + 0.5·3) = Beta(4, 6)
    const s = summary(p, ['a']);
    expect(s.mean[0]).toBeCloseTo(0.4, 15);
    expect(s.sd[0]).toBeCloseTo(betaSd(4, 6), 15);
    expect(() => p.decay(0)).toThrow(/gamma/);
    expect(() => p.decay(1.5)).toThrow(/gamma/);
  });

  test('non-finite rewards or weights are rejected', () => {
    const p = policy();
    expect(() => p.update(outcome('a'), Number.NaN, 1)).toThrow(/reward/);
    expect(() => p.update(outcome('a'), 1, Infinity)).toThrow(/weight/);
  });

  test('describe lists the top items by posterior mean', () => {
    const p = policy();
    p.update(outcome('low'), 0, 3);
    p.update(outcome('high'), 1, 3);
    p.update(outcome('mid'), 0.5, 2);
    const d = p.describe() as { items: number; top: Array<{ id: string; mean: number }> };
    expect(d.items).toBe(3);
    expect(d.top.map((t) => t.id)).toEqual(['high', 'mid', 'low']);
    expect(d.top[0]!.mean).toBe(0.8);
  });
});

describe('beta-bernoulli snapshot', () => {
  test('round trip through JSON gives the same posterior and the same draws', () => {
    const p = policy(1.5, 2);
    p.update(outcome('a'), 1, 1);
    p.update(outcome('b'), 0.3, 2.5);
    p.decay(0.9);
    const snap = JSON.parse(JSON.stringify(p.snapshot()));
    const q = createBetaBernoulli(betaBernoulliConfigSchema.parse({ kind: 'beta-bernoulli', priorAlpha: 1.5, priorBeta: 2 }), snap);
    expect(q.snapshot()).toEqual(p.snapshot());
    const a = new Float64Array(3);
    const b = new Float64Array(3);
    p.sample(decision(['a', 'b', 'c']), createRng(3), a, 1);
    q.sample(decision(['a', 'b', 'c']), createRng(3), b, 1);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  test('a snapshot of another kind, format or shape is rejected', () => {
    const cfg = betaBernoulliConfigSchema.parse({ kind: 'beta-bernoulli' });
    expect(() => createBetaBernoulli(cfg, { kind: 'uniform', format: 1, state: {} })).toThrow(/kind/);
    expect(() => createBetaBernoulli(cfg, { kind: 'beta-bernoulli', format: 99, state: { items: [] } })).toThrow(/format/);
    expect(() => createBetaBernoulli(cfg, { kind: 'beta-bernoulli', format: 1, state: { items: [{ id: 'a' }] } })).toThrow();
  });
});

describe('beta-bernoulli sampling and temperature', () => {
  function moments(alpha: number, beta: number, T: number, n: number, seed: string): { mean: number; variance: number } {
    const rng = createRng(seed);
    let s = 0;
    let s2 = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = temperedBeta(rng, alpha, beta, T);
      s += x;
      s2 += x * x;
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    const mean = s / n;
    return { mean, variance: (s2 - n * mean * mean) / (n - 1) };
  }

  test('temperature 0 returns the posterior mean without drawing', () => {
    const p = policy();
    p.update(outcome('a'), 1, 3);
    const out = new Float64Array(2);
    const rng = createRng(1);
    p.sample(decision(['a', 'b']), rng, out, 0);
    expect(Array.from(out)).toEqual([0.8, 0.5]);
    expect(rng.uniform()).toBe(createRng(1).uniform());
  });

  test.each([
    [1, 2.5, 3],
    [0.5, 2.5, 3],
    [4, 2.5, 3],
    [2, 20, 5],
  ])('temperature %d keeps the mean and multiplies the variance by T (Beta(%d, %d))', (T, a, b) => {
    const n = 40000;
    const m = a / (a + b);
    const v = (T * m * (1 - m)) / (a + b + 1);
    const r = moments(a, b, T, n, `T${T}`);
    expect(Math.abs(r.mean - m)).toBeLessThan(4.5 * Math.sqrt(v / n));
    expect(Math.abs(r.variance / v - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  test('far too hot: the variance saturates near m(1 − m) and the mean is kept', () => {
    const n = 40000;
    const r = moments(2, 6, 1000, n, 'hot');
    expect(Math.abs(r.mean - 0.25)).toBeLessThan(4.5 * Math.sqrt(0.1875 / n));
    expect(r.variance).toBeGreaterThan(0.18);
    expect(() => temperedBeta(createRng(1), 1, 1, -1)).toThrow(/temperature/);
  });

  test('sample draws one Beta per candidate: a well-supported item wins as often as the maths says', () => {
    const p = policy();
    p.update(outcome('good'), 1, 30);
    p.update(outcome('good'), 0, 10); // Beta(31, 11), mean 0.74
    const rng = createRng('ts');
    const out = new Float64Array(2);
    let wins = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      p.sample(decision(['good', 'new']), rng, out, 1);
      if (out[0]! > out[1]!) wins++;
    }
    // P(Beta(31, 11) > U(0, 1)) = E[X] = 31/42
    const pw = 31 / 42;
    expect(Math.abs(wins / n - pw)).toBeLessThan(4.5 * Math.sqrt((pw * (1 - pw)) / n));
  });
});
