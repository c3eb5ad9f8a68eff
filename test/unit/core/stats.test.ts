import { describe, expect, test } from 'vitest';
import { chiSquarePValue, chiSquareTest, gammaQ, logGamma, mean, meanCi, tQuantile975, variance } from '../../../src/core/stats.js';

describe('stats', () => {
  test('mean, variance and the t interval on a tiny sample', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(variance([1, 2, 3, 4])).toBeCloseTo(5 / 3, 12);
    const ci = meanCi([1, 2, 3, 4]);
    expect(ci.halfWidth).toBeCloseTo(3.182 * Math.sqrt(5 / 3 / 4), 10);
  });

  test('logGamma matches factorials', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });

  test('chi-square p-values match tables', () => {
    // χ²(1) = 3.841 at p = 0.05; χ²(10) = 18.307 at p = 0.05; χ²(2): Q = exp(−x/2)
    expect(chiSquarePValue(3.841459, 1)).toBeCloseTo(0.05, 5);
    expect(chiSquarePValue(18.307038, 10)).toBeCloseTo(0.05, 5);
    expect(chiSquarePValue(3, 2)).toBeCloseTo(Math.exp(-1.5), 12);
    expect(gammaQ(1, 0)).toBe(1);
  });

  test('t quantiles: table and large-ν approximation', () => {
    expect(tQuantile975(19)).toBe(2.093);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
  });

  test('chiSquareTest: perfect fit has p = 1, a bad fit a tiny p', () => {
    expect(chiSquareTest([10, 20, 30], [10, 20, 30]).pValue).toBeCloseTo(1, 10);
    expect(chiSquareTest([50, 10, 0], [20, 20, 20]).pValue).toBeLessThan(1e-6);
  });
});
