import { describe, expect, test } from 'vitest';
import { createRng } from '../../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type OutcomeFeatures } from '../../../../src/features/types.js';
import { createEpsilonGreedy, epsilonGreedyConfigSchema } from '../../../../src/policies/epsilon-greedy/index.js';

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
  return { itemId, context: sparseFromPairs(DIM, [[0, 1]]), arm: sparseFromPairs(DIM, [[0, 1]]) };
}

function trained(epsilon: number) {
  const p = createEpsilonGreedy(epsilonGreedyConfigSchema.parse({ kind: 'epsilon-greedy', epsilon }));
  p.update(outcome('a'), 1, 3); // mean 0.8
  p.update(outcome('b'), 0, 3); // mean 0.2
  p.update(outcome('c'), 0.5, 2); // mean 0.5
  return p;
}

describe('epsilon-greedy', () => {
  test('defaults: ε = 0.1 and a Beta(1, 1) prior for the means', () => {
    expect(epsilonGreedyConfigSchema.parse({ kind: 'epsilon-greedy' })).toEqual({
      kind: 'epsilon-greedy',
      epsilon: 0.1,
      priorAlpha: 1,
      priorBeta: 1,
    });
  });

  test.each([
    ['epsilon', { epsilon: 1.5 }],
    ['epsilon', { epsilon: -0.1 }],
    ['priorAlpha', { priorAlpha: 0 }],
    ['priorBeta', { priorBeta: -2 }],
  ])('rejects a bad %s', (field, patch) => {
    const r = epsilonGreedyConfigSchema.safeParse({ kind: 'epsilon-greedy', ...patch });
    expect(r.success).toBe(false);
    expect(r.error!.issues.some((i) => i.path.includes(field))).toBe(true);
  });

  test('ε = 0 always scores by the posterior means', () => {
    const p = trained(0);
    const out = new Float64Array(4);
    const rng = createRng(1);
    for (let t = 0; t < 50; t++) {
      p.sample(decision(['a', 'b', 'c', 'new']), rng, out, 1);
      expect(Array.from(out)).toEqual([0.8, 0.2, 0.5, 0.5]);
    }
  });

  test('random rankings come at rate ε (binomial tolerance)', () => {
    const eps = 0.2;
    const p = trained(eps);
    const means = [0.8, 0.2, 0.5];
    const out = new Float64Array(3);
    const rng = createRng('eps');
    const n = 6000;
    let random = 0;
    for (let t = 0; t < n; t++) {
      p.sample(decision(['a', 'b', 'c']), rng, out, 1);
      const isMeans = out.every((v, i) => v === means[i]);
      if (!isMeans) {
        random++;
        for (const v of out) expect(v > 0 && v < 1).toBe(true);
      }
    }
    expect(Math.abs(random / n - eps)).toBeLessThan(4.5 * Math.sqrt((eps * (1 - eps)) / n));
  });

  test('learns like beta-bernoulli and round-trips its snapshot', () => {
    const p = trained(0.3);
    const mean = new Float64Array(1);
    const sd = new Float64Array(1);
    p.summarize(decision(['a']), mean, sd);
    expect(mean[0]).toBe(0.8);
    expect(sd[0]).toBeCloseTo(Math.sqrt((4 * 1) / (25 * 6)), 15);
    const cfg = epsilonGreedyConfigSchema.parse({ kind: 'epsilon-greedy', epsilon: 0.3 });
    const q = createEpsilonGreedy(cfg, JSON.parse(JSON.stringify(p.snapshot())));
    expect(q.snapshot()).toEqual(p.snapshot());
    expect(() => createEpsilonGreedy(cfg, { kind: 'beta-bernoulli', format: 1, state: { items: [] } })).toThrow(/kind/);
  });
});
