import { describe, expect, test } from 'vitest';
import { createRng, decisionSeed, restoreRng } from '../../../src/core/rng.js';

function draws(seed: string | number, n: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.uniform());
}

describe('Rng', () => {
  test('same seed gives the same sequence, another seed another', () => {
    expect(draws(7, 20)).toEqual(draws(7, 20));
    expect(draws(7, 20)).not.toEqual(draws(8, 20));
  });

  test('uniform stays in the open interval (0, 1)', () => {
    const rng = createRng('u');
    for (let i = 0; i < 10_000; i++) {
      const u = rng.uniform();
      expect(u).toBeGreaterThan(0);
      expect(u).toBeLessThan(1);
    }
  });

  test('state save/restore continues the exact stream, including the cached normal', () => {
    const rng = createRng('state');
    rng.normal(); // leaves a spare normal cached
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const a = [rng.normal(), rng.uniform(), rng.gamma(2.5), rng.beta(2, 3)];
    const again = restoreRng(saved);
    const b = [again.normal(), again.uniform(), again.gamma(2.5), again.beta(2, 3)];
    expect(b).toEqual(a);
  });

  test('fork derives from the seed and label, not from the draws made so far', () => {
    const a = createRng(1);
    const b = createRng(1);
    b.uniform();
    b.uniform();
    expect(a.fork('propensity').uniform()).toBe(b.fork('propensity').uniform());
    expect(a.fork('propensity').uniform()).not.toBe(a.fork('other').uniform());
    expect(a.fork('x').seed).not.toBe(createRng(2).fork('x').seed);
  });

  test('forking does not disturb the parent stream', () => {
    const a = createRng(5);
    const b = createRng(5);
    a.fork('child').uniform();
    expect(a.uniform()).toBe(b.uniform());
  });

  test('int covers [0, n) and rejects n < 1', () => {
    const rng = createRng('int');
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(rng.int(7));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(() => rng.int(0)).toThrow(RangeError);
  });

  test('categorical never returns a zero-weight index and rejects bad weights', () => {
    const rng = createRng('cat');
    for (let i = 0; i < 5000; i++) expect(rng.categorical([0, 2, 0, 1])).not.toBe(0);
    expect(() => rng.categorical([])).toThrow(RangeError);
    expect(() => rng.categorical([0, 0])).toThrow(RangeError);
    expect(() => rng.categorical([1, -1])).toThrow(RangeError);
    expect(() => rng.categorical([1, Number.NaN])).toThrow(RangeError);
  });

  test('gamma and beta reject non-positive parameters', () => {
    const rng = createRng('g');
    expect(() => rng.gamma(0)).toThrow(RangeError);
    expect(() => rng.gamma(1, -1)).toThrow(RangeError);
    expect(() => rng.beta(0, 1)).toThrow(RangeError);
  });

  test('sample moments match: normal, gamma(0.5), gamma(3, 2), beta(2, 5) (tolerance ≈ 5 standard errors)', () => {
    const rng = createRng('moments');
    const n = 40_000;
    const check = (draw: () => number, mean: number, variance: number) => {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const x = draw();
        s += x;
        s2 += x * x;
      }
      const m = s / n;
      const v = s2 / n - m * m;
      expect(Math.abs(m - mean)).toBeLessThan(5 * Math.sqrt(variance / n));
      // var of the sample variance ≈ (μ4 − σ⁴)/n; a loose 10% bound suffices at n = 40k
      expect(Math.abs(v - variance) / variance).toBeLessThan(0.1);
    };
    check(() => rng.normal(), 0, 1);
    check(() => rng.gamma(0.5), 0.5, 0.5);
    check(() => rng.gamma(3, 2), 6, 12);
    check(() => rng.beta(2, 5), 2 / 7, (2 * 5) / (49 * 8));
  });

  test('decisionSeed depends on each of model seed, version and eventId', () => {
    const base = decisionSeed(7, 1, 'e1');
    expect(decisionSeed(7, 1, 'e1')).toBe(base);
    expect(decisionSeed(8, 1, 'e1')).not.toBe(base);
    expect(decisionSeed(7, 2, 'e1')).not.toBe(base);
    expect(decisionSeed(7, 1, 'e2')).not.toBe(base);
  });
});
