import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type SparseVector } from '../../src/features/types.js';
import { createLogistic, logisticConfigSchema, type LogisticConfig } from '../../src/policies/logistic/index.js';
import type { Policy } from '../../src/policies/types.js';

const DIM = 32;

const vector = fc
  .array(fc.tuple(fc.integer({ min: 0, max: DIM - 1 }), fc.double({ min: -1, max: 1, noNaN: true })), {
    maxLength: 6,
  })
  .map((pairs) => sparseFromPairs(DIM, pairs));

const config = fc
  .record({
    priorVariance: fc.double({ min: 0.1, max: 2, noNaN: true }),
    covariance: fc.constantFrom('diagonal' as const, 'full' as const),
    maxDenseDims: fc.integer({ min: 1, max: 8 }),
    newtonSteps: fc.integer({ min: 1, max: 3 }),
  })
  .map((c): LogisticConfig => logisticConfigSchema.parse({ kind: 'logistic', ...c }));

const history = fc.array(
  fc.record({
    x: vector,
    reward: fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })),
    weight: fc.double({ min: 0.05, max: 2, noNaN: true }),
  }),
  { maxLength: 12 },
);

function build(c: LogisticConfig, h: { x: SparseVector; reward: number; weight: number }[]): Policy {
  const p = createLogistic(c);
  for (const { x, reward, weight } of h) p.update({ itemId: 'i', context: x, arm: x }, reward, weight);
  return p;
}

function decision(arms: SparseVector[]): DecisionFeatures {
  return { dim: DIM, itemIds: arms.map((_, i) => `i${i}`), context: sparseFromPairs(DIM, []), arms };
}

describe('logistic policy properties', () => {
  test('same seed, same sample; scores and predictive means in (0, 1), sd in [0, 1/2]', () => {
    fc.assert(
      fc.property(
        config,
        history,
        fc.array(vector, { minLength: 1, maxLength: 5 }),
        fc.integer(),
        fc.double({ min: 0, max: 3, noNaN: true }),
        (c, h, arms, seed, temperature) => {
          const a = build(c, h);
          const b = build(c, h);
          const d = decision(arms);
          const outA = new Float64Array(arms.length);
          const outB = new Float64Array(arms.length);
          const outA2 = new Float64Array(arms.length);
          a.sample(d, createRng(seed), outA, temperature);
          b.sample(d, createRng(seed), outB, temperature);
          a.sample(d, createRng(seed), outA2, temperature);
          expect([...outB]).toEqual([...outA]);
          expect([...outA2]).toEqual([...outA]);
          const mean = new Float64Array(arms.length);
          const sd = new Float64Array(arms.length);
          a.summarize(d, mean, sd);
          for (let i = 0; i < arms.length; i++) {
            expect(outA[i]! > 0 && outA[i]! < 1).toBe(true);
            expect(mean[i]! > 0 && mean[i]! < 1).toBe(true);
            expect(sd[i]! >= 0 && sd[i]! <= 0.5).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test('retracting the last outcome restores the posterior', () => {
    fc.assert(
      fc.property(
        config,
        history,
        vector,
        fc.constantFrom(0, 1),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.array(vector, { minLength: 1, maxLength: 4 }),
        (c, h, x, reward, weight, probes) => {
          const p = build(c, h);
          const d = decision(probes);
          const m0 = new Float64Array(probes.length);
          const s0 = new Float64Array(probes.length);
          p.summarize(d, m0, s0);
          p.update({ itemId: 'i', context: x, arm: x }, reward, weight);
          p.update({ itemId: 'i', context: x, arm: x }, reward, -weight);
          const m1 = new Float64Array(probes.length);
          const s1 = new Float64Array(probes.length);
          p.summarize(d, m1, s1);
          for (let i = 0; i < probes.length; i++) {
            expect(m1[i]).toBeCloseTo(m0[i]!, 9);
            expect(s1[i]).toBeCloseTo(s0[i]!, 9);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
