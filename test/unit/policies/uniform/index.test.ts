import { describe, expect, test } from 'vitest';
import { createRng } from '../../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures } from '../../../../src/features/types.js';
import { createUniform, uniformConfigSchema, uniformExchangeable } from '../../../../src/policies/uniform/index.js';

const DIM = 8;

function decision(k: number): DecisionFeatures {
  const ids = Array.from({ length: k }, (_, i) => `item${i}`);
  return {
    dim: DIM,
    itemIds: ids,
    context: sparseFromPairs(DIM, [[0, 1]]),
    arms: ids.map((_, i) => sparseFromPairs(DIM, [[0, 1], [1 + (i % 7), 1]])),
  };
}

describe('uniform', () => {
  test('is flagged exchangeable for the closed-form propensity', () => {
    const p = createUniform(uniformConfigSchema.parse({ kind: 'uniform' }));
    expect(p.exchangeable).toBe(true);
    expect(uniformExchangeable).toBe(true);
  });

  test('rejects unknown config fields', () => {
    const r = uniformConfigSchema.safeParse({ kind: 'uniform', epsilon: 0.1 });
    expect(r.success).toBe(false);
  });

  test('every candidate ranks first with probability 1/k', () => {
    const k = 5;
    const p = createUniform({ kind: 'uniform' });
    const rng = createRng('u');
    const out = new Float64Array(k);
    const first = new Array<number>(k).fill(0);
    const n = 10000;
    for (let t = 0; t < n; t++) {
      p.sample(decision(k), rng, out, 1);
      let best = 0;
      for (let i = 1; i < k; i++) if (out[i]! > out[best]!) best = i;
      first[best]!++;
    }
    for (const c of first) expect(Math.abs(c / n - 1 / k)).toBeLessThan(4.5 * Math.sqrt((0.2 * 0.8) / n));
  });

  test('learns nothing: updates leave draws and snapshot unchanged', () => {
    const p = createUniform({ kind: 'uniform' });
    const before = p.snapshot();
    p.update({ itemId: 'item0', context: sparseFromPairs(DIM, []), arm: sparseFromPairs(DIM, []) }, 1, 5);
    p.decay(0.5);
    expect(p.snapshot()).toEqual(before);
    const a = new Float64Array(3);
    const b = new Float64Array(3);
    p.sample(decision(3), createRng(9), a, 1);
    createUniform({ kind: 'uniform' }, before).sample(decision(3), createRng(9), b, 1);
    expect(Array.from(a)).toEqual(Array.from(b));
    const mean = new Float64Array(3);
    const sd = new Float64Array(3);
    p.summarize(decision(3), mean, sd);
    expect(Array.from(mean)).toEqual([0.5, 0.5, 0.5]);
    expect(sd[0]).toBeCloseTo(Math.sqrt(1 / 12), 15);
  });
});
