import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { sparseFromPairs, type DecisionFeatures, type OutcomeFeatures } from '../../src/features/types.js';
import { betaBernoulliConfigSchema, createBetaBernoulli } from '../../src/policies/beta-bernoulli/index.js';

const DIM = 4;
const ids = ['a', 'b', 'c'];
const features: DecisionFeatures = {
  dim: DIM,
  itemIds: ids,
  context: sparseFromPairs(DIM, [[0, 1]]),
  arms: ids.map((_, i) => sparseFromPairs(DIM, [[i + 1, 1]])),
};
const x = (itemId: string): OutcomeFeatures => ({ itemId, context: features.context, arm: features.arms[0]! });

const outcomeArb = fc.record({
  item: fc.constantFrom(...ids),
  reward: fc.double({ min: -0.5, max: 1.5, noNaN: true }),
  weight: fc.double({ min: 0, max: 5, noNaN: true }),
});

function means(outcomes: ReadonlyArray<{ item: string; reward: number; weight: number }>): number[] {
  const p = createBetaBernoulli(betaBernoulliConfigSchema.parse({ kind: 'beta-bernoulli', priorAlpha: 0.5, priorBeta: 2 }));
  for (const o of outcomes) p.update(x(o.item), o.reward, o.weight);
  const mean = new Float64Array(3);
  const sd = new Float64Array(3);
  p.summarize(features, mean, sd);
  return [...mean, ...sd];
}

describe('beta-bernoulli (property)', () => {
  test('conjugate updates are order-invariant', () => {
    fc.assert(
      fc.property(fc.array(outcomeArb, { maxLength: 30 }), fc.integer(), (outcomes, seed) => {
        const shuffled = [...outcomes].sort((u, v) => ((u.weight * 1e6 + seed) % 7) - ((v.weight * 1e6 + seed) % 7));
        const a = means(outcomes);
        const b = means(shuffled);
        a.forEach((v, i) => expect(b[i]!).toBeCloseTo(v, 9));
      }),
    );
  });

  test('retracting outcomes restores the posterior', () => {
    fc.assert(
      fc.property(fc.array(outcomeArb, { maxLength: 20 }), fc.array(outcomeArb, { maxLength: 10 }), (base, extra) => {
        const retracted = [...base, ...extra, ...extra.map((o) => ({ ...o, weight: -o.weight }))];
        const a = means(base);
        const b = means(retracted);
        a.forEach((v, i) => expect(b[i]!).toBeCloseTo(v, 9));
      }),
    );
  });
});
