import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import {
  bootstrapInterval,
  dr,
  effectiveSampleSize,
  ips,
  normalInterval,
  normalQuantile,
  OpeInputError,
  replay,
  snips,
  type LoggedBandit,
} from '../../../src/ope/index.js';

const f64 = (...values: number[]): Float64Array => Float64Array.from(values);

/**
 * A synthetic log: K = 4 actions, logging probabilities [0.4, 0.3, 0.2, 0.1], target
 * probabilities [0.1, 0.2, 0.3, 0.4], Bernoulli rewards with rates [0.2, 0.4, 0.6, 0.8].
 * Reward model: the true rates (so DR has only its weighting noise).
 */
function syntheticLog(n: number, seed: number): LoggedBandit {
  const rng = createRng(seed);
  const logging = [0.4, 0.3, 0.2, 0.1];
  const target = [0.1, 0.2, 0.3, 0.4];
  const rate = [0.2, 0.4, 0.6, 0.8];
  const targetValue = target.reduce((s, p, a) => s + p * rate[a]!, 0);
  const reward = new Float64Array(n);
  const propensity = new Float64Array(n);
  const targetProbability = new Float64Array(n);
  const estimatedReward = new Float64Array(n);
  const estimatedTargetValue = new Float64Array(n).fill(targetValue);
  for (let i = 0; i < n; i++) {
    const a = rng.categorical(logging);
    propensity[i] = logging[a]!;
    targetProbability[i] = target[a]!;
    reward[i] = rng.uniform() < rate[a]! ? 1 : 0;
    estimatedReward[i] = rate[a]!;
  }
  return { reward, propensity, targetProbability, estimatedReward, estimatedTargetValue };
}

/** The same rounds repeated `times` times: the same empirical distribution with times·n rounds. */
function repeated(log: LoggedBandit, times: number): LoggedBandit {
  const rep = (a: Float64Array): Float64Array => {
    const out = new Float64Array(a.length * times);
    for (let t = 0; t < times; t++) out.set(a, t * a.length);
    return out;
  };
  return {
    reward: rep(log.reward),
    propensity: rep(log.propensity),
    targetProbability: rep(log.targetProbability),
  };
}

describe('bootstrapInterval', () => {
  const log = syntheticLog(400, 1);

  test('the same seed gives the same interval, another seed another', () => {
    const a = bootstrapInterval(snips, log, { resamples: 300, rng: createRng(7) });
    const b = bootstrapInterval(snips, log, { resamples: 300, rng: createRng(7) });
    const c = bootstrapInterval(snips, log, { resamples: 300, rng: createRng(8) });
    expect(b).toEqual(a);
    expect(c.lower).not.toBe(a.lower);
  });

  test.each([
    ['ips', (l: LoggedBandit) => ips(l)],
    ['snips', (l: LoggedBandit) => snips(l)],
    ['dr', (l: LoggedBandit) => dr(l)],
    ['clipped ips', (l: LoggedBandit) => ips(l, { clip: 2 })],
  ])('the %s interval contains its point estimate', (_name, fn) => {
    const interval = bootstrapInterval(fn, log, { rng: createRng(3) });
    expect(interval.value).toBe(fn(log).value);
    expect(interval.lower).toBeLessThan(interval.value);
    expect(interval.upper).toBeGreaterThan(interval.value);
    expect(interval).toMatchObject({ method: 'bootstrap', level: 0.95, resamples: 1000, degenerate: 0 });
  });

  test('self-normalized estimators recompute the ratio on each resample', () => {
    // Two rounds, w = [2, 6], r = [1, 0]: SNIPS = 2/8. A resample is {1,1} → 1, {2,2} → 0 or
    // mixed → 1/4 (probabilities 1/4, 1/4, 1/2). Averaging the full-sample contributions
    // n·w·r/Σw = [0.5, 0] instead would top out at 0.5; dividing by n (IPS) at 2.
    const tiny = { reward: f64(1, 0), propensity: f64(0.25, 0.125), targetProbability: f64(0.5, 0.75) };
    const interval = bootstrapInterval(snips, tiny, { resamples: 400, rng: createRng(11) });
    expect(interval.value).toBeCloseTo(0.25, 12);
    // each extreme has probability 1/4 > 2.5%, so the 2.5% and 97.5% quantiles are 0 and 1
    expect(interval.lower).toBe(0);
    expect(interval.upper).toBe(1);
  });

  test('replay drops resamples without a match and reports them', () => {
    // match = [1, 0]: a resample of {2, 2} (probability 1/4) has no matching round.
    const interval = bootstrapInterval(replay, { reward: f64(0.7, 0), match: Uint8Array.from([1, 0]) }, {
      resamples: 400,
      rng: createRng(5),
    });
    expect(interval.lower).toBe(0.7);
    expect(interval.upper).toBe(0.7);
    // Binomial(400, 1/4): mean 100, sd √75 ≈ 8.7, so 60..140 is ± 4.6 sd
    expect(interval.degenerate).toBeGreaterThan(60);
    expect(interval.degenerate).toBeLessThan(140);
  });

  test('width shrinks like 1/√n', () => {
    // Repeating the same rounds 4 times keeps the empirical distribution and quarters the
    // variance of the resampled mean, so the width ratio is 2 up to Monte-Carlo error of the
    // quantiles alone (≈ 2–3 % per width at B = 2000; the tolerance is about 5 sd).
    const base = syntheticLog(300, 2);
    const big = repeated(base, 4);
    const small = bootstrapInterval(ips, base, { resamples: 2000, rng: createRng(21) });
    const large = bootstrapInterval(ips, big, { resamples: 2000, rng: createRng(22) });
    const ratio = (small.upper - small.lower) / (large.upper - large.lower);
    expect(ratio).toBeGreaterThan(2 * 0.85);
    expect(ratio).toBeLessThan(2 * 1.15);
  });

  test.each<[string, string, object]>([
    ['no rng', 'rng', { resamples: 10 }],
    ['zero resamples', 'resamples', { resamples: 0, rng: createRng(1) }],
    ['fractional resamples', 'resamples', { resamples: 10.5, rng: createRng(1) }],
    ['level 1.5', 'level', { level: 1.5, rng: createRng(1) }],
    ['unknown option', 'options', { rng: createRng(1), seed: 3 }],
  ])('%s → %s', (_case, field, options) => {
    expect(() => bootstrapInterval(ips, log, options as never)).toThrow(
      expect.objectContaining({ name: 'OpeInputError', field }),
    );
  });
});

describe('normalInterval', () => {
  // The 4-round log of estimators.test.ts: IPS terms ψ = w·r = [2, 0, 0.5, 0], mean 0.625,
  // Σ(ψ − ψ̄)² = 1.890625 + 0.390625 + 0.015625 + 0.390625 = 2.6875, SE² = 2.6875 / 3 / 4.
  const log: LoggedBandit = {
    reward: f64(1, 0, 1, 0.5),
    propensity: f64(0.5, 0.25, 0.8, 0.5),
    targetProbability: f64(1, 0.5, 0.4, 0),
  };

  test('z quantile is the standard normal one', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.005)).toBeCloseTo(-2.5758293035489004, 12);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 10);
  });

  test('IPS: value ± z·s/√n with the per-round sample variance', () => {
    const interval = normalInterval(ips(log));
    const se = Math.sqrt(2.6875 / 12);
    expect(interval.standardError).toBeCloseTo(se, 12);
    expect(interval.lower).toBeCloseTo(0.625 - 1.959963984540054 * se, 12);
    expect(interval.upper).toBeCloseTo(0.625 + 1.959963984540054 * se, 12);
  });

  test('SNIPS: delta method on ψ = (w r − R w) / w̄', () => {
    // R = 5/9, w̄ = 9/8: ψ = (8/9)·[8/9, −10/9, 2/9, 0] = [64, −80, 16, 0] / 81, mean 0,
    // s² = (64² + 80² + 16²) / 81² / 3 = 10752 / 19683, SE² = s² / 4.
    const interval = normalInterval(snips(log), { level: 0.9 });
    const se = Math.sqrt(10752 / 19683 / 4);
    expect(interval.standardError).toBeCloseTo(se, 12);
    expect(interval.upper - interval.value).toBeCloseTo(normalQuantile(0.95) * se, 12);
  });

  test('repeating a log 4 times shrinks the standard error by exactly √((4n − 1)/(n − 1))', () => {
    // Repeating n rounds 4 times: SE_n / SE_4n = √((4n − 1)/(n − 1)).
    const base = syntheticLog(50, 4);
    const ratio = normalInterval(ips(base)).standardError / normalInterval(ips(repeated(base, 4))).standardError;
    expect(ratio).toBeCloseTo(Math.sqrt(199 / 49), 12);
  });

  test('agrees with the bootstrap on a large log (within Monte-Carlo error)', () => {
    const big = syntheticLog(2000, 9);
    for (const fn of [ips, snips]) {
      const normal = normalInterval(fn(big));
      const boot = bootstrapInterval(fn, big, { resamples: 1000, rng: createRng(12) });
      expect(boot.standardError / normal.standardError).toBeGreaterThan(0.9);
      expect(boot.standardError / normal.standardError).toBeLessThan(1.1);
    }
  });

  test('needs two rounds', () => {
    const one = { reward: f64(1), propensity: f64(0.5), targetProbability: f64(0.5) };
    expect(() => normalInterval(ips(one))).toThrow(OpeInputError);
  });
});

describe('effective sample size (Kish)', () => {
  test('(Σw)²/Σw² on weights [1, 2, 3] is 36/14', () => {
    expect(effectiveSampleSize(f64(1, 2, 3))).toBeCloseTo(18 / 7, 12);
    // the same weights through IPS: π_e/π₀ = [0.5/0.5, 0.5/0.25, 0.6/0.2]
    const log = { reward: f64(0, 1, 0), propensity: f64(0.5, 0.25, 0.2), targetProbability: f64(0.5, 0.5, 0.6) };
    expect(ips(log).effectiveSampleSize).toBeCloseTo(18 / 7, 12);
  });
});
