import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import { bootstrapInterval, dr, importanceWeights, ips, snips } from '../../src/ope/index.js';

const reward = fc.double({ min: -5, max: 5, noNaN: true, noDefaultInfinity: true });
const propensity = fc.double({ min: 1e-3, max: 1, noNaN: true });
const probability = fc.double({ min: 0, max: 1, noNaN: true });

/** Rounds of (reward, propensity, target probability). */
const rounds = fc.array(fc.tuple(reward, propensity, probability), { minLength: 1, maxLength: 60 });

function toLog(rows: ReadonlyArray<readonly [number, number, number]>, targetIsLogging: boolean) {
  return {
    reward: Float64Array.from(rows, (r) => r[0]),
    propensity: Float64Array.from(rows, (r) => r[1]),
    targetProbability: Float64Array.from(rows, (r) => (targetIsLogging ? r[1] : r[2])),
  };
}

const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;

describe('OPE properties', () => {
  test('when target = logging policy every weight is 1 and IPS = SNIPS = mean reward', () => {
    fc.assert(
      fc.property(rounds, (rows) => {
        const log = toLog(rows, true);
        expect([...importanceWeights(log)].every((w) => w === 1)).toBe(true);
        const m = mean(log.reward);
        expect(ips(log).value).toBeCloseTo(m, 12);
        expect(snips(log).value).toBeCloseTo(m, 12);
        expect(ips(log).effectiveSampleSize).toBeCloseTo(rows.length, 9);
      }),
      { numRuns: 200 },
    );
  });

  test('SNIPS stays within [min reward, max reward]', () => {
    fc.assert(
      fc.property(rounds, fc.integer({ min: 0, max: 59 }), (rows, k) => {
        const log = toLog(rows, false);
        const i = k % rows.length;
        log.targetProbability[i] = Math.max(log.targetProbability[i]!, 0.5); // at least one weight > 0
        const value = snips(log).value;
        const lo = Math.min(...log.reward);
        const hi = Math.max(...log.reward);
        const slack = 1e-12 * Math.max(1, Math.abs(lo), Math.abs(hi)); // rounding of a convex combination
        expect(value).toBeGreaterThanOrEqual(lo - slack);
        expect(value).toBeLessThanOrEqual(hi + slack);
      }),
      { numRuns: 200 },
    );
  });

  test('clipping never increases a weight, and a clip above every weight changes nothing', () => {
    fc.assert(
      fc.property(rounds, fc.double({ min: 0.1, max: 10, noNaN: true }), (rows, clip) => {
        const log = toLog(rows, false);
        const w = importanceWeights(log);
        const clipped = importanceWeights(log, { clip });
        clipped.forEach((c, i) => expect(c).toBe(Math.min(w[i]!, clip)));
        const above = Math.max(...w) + 1;
        expect(ips(log, { clip: above }).value).toBe(ips(log).value);
      }),
      { numRuns: 100 },
    );
  });

  test('DR with a perfect reward model on deterministic rewards equals DM', () => {
    // r_i = q̂_i exactly, so the correction w·(r − q̂) vanishes whatever the weights.
    fc.assert(
      fc.property(rounds, fc.array(reward, { minLength: 60, maxLength: 60 }), (rows, targetValues) => {
        const log = toLog(rows, false);
        const estimatedTargetValue = Float64Array.from(rows, (_, i) => targetValues[i]!);
        const value = dr({ ...log, estimatedReward: log.reward, estimatedTargetValue }).value;
        expect(value).toBeCloseTo(mean(estimatedTargetValue), 12);
      }),
      { numRuns: 100 },
    );
  });

  test('the same seed gives the same bootstrap interval, which brackets the replicates', () => {
    fc.assert(
      fc.property(rounds, fc.integer({ min: 0, max: 1000 }), (rows, seed) => {
        const log = toLog(rows, true);
        const a = bootstrapInterval(ips, log, { resamples: 50, rng: createRng(seed) });
        const b = bootstrapInterval(ips, log, { resamples: 50, rng: createRng(seed) });
        expect(b).toEqual(a);
        expect(a.lower).toBeLessThanOrEqual(a.upper);
        expect(a.lower).toBeGreaterThanOrEqual(Math.min(...log.reward) - 1e-12);
        expect(a.upper).toBeLessThanOrEqual(Math.max(...log.reward) + 1e-12);
      }),
      { numRuns: 50 },
    );
  });
});
