import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures } from '../../src/features/types.js';
import { createLinearGaussian, linearGaussianConfigSchema } from '../../src/policies/linear-gaussian/index.js';

const DIM = 64;

const pairs = (maxIndex: number, minLength: number) =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: maxIndex }), fc.double({ min: -2, max: 2, noNaN: true })), {
    minLength,
    maxLength: 6,
  });

const scenario = fc.record({
  structure: fc.constantFrom('shared', 'disjoint', 'hybrid'),
  noise: fc.constantFrom('known', 'nig'),
  // 8 dense slots: later dimensions fall in the diagonal tail.
  maxDenseDims: fc.constantFrom(8, 256),
  covariance: fc.constantFrom('full', 'diagonal'),
  temperature: fc.constantFrom(0, 0.25, 1, 3),
  outcomes: fc.array(
    fc.record({ arm: pairs(20, 1), ctx: pairs(20, 1), item: fc.integer({ min: 0, max: 3 }), reward: fc.double({ min: -2, max: 2, noNaN: true }) }),
    { maxLength: 25 },
  ),
  // Arms reach dimensions never folded (21…40), and may be empty.
  arms: fc.array(pairs(40, 0), { minLength: 1, maxLength: 9 }),
  seed: fc.string({ maxLength: 6 }),
});

describe('prepared sampler (property)', () => {
  // disjoint/hybrid: prepare drives sample, so every draw is bit-identical with the same rng
  // consumption. shared: prepare draws in score space (same law, another stream; the law itself
  // is checked by moments in test/unit/policies/linear-gaussian/prepare.test.ts): T = 0 gives
  // sample's mean, every draw is finite, and two samplers on the same state and seed agree.
  test('prepare(input, T) draws what sample draws (disjoint/hybrid: bit for bit; shared: the same mean, deterministic)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const policy = createLinearGaussian(
          linearGaussianConfigSchema.parse({
            kind: 'linear-gaussian',
            structure: s.structure,
            noise: s.noise,
            covariance: s.covariance,
            maxDenseDims: s.maxDenseDims,
          }),
        );
        for (const o of s.outcomes) {
          policy.update({ itemId: `i${o.item}`, arm: sparseFromPairs(DIM, o.arm), context: sparseFromPairs(DIM, o.ctx) }, o.reward, 1);
        }
        const k = s.arms.length;
        const input: DecisionFeatures = {
          dim: DIM,
          itemIds: s.arms.map((_, i) => `i${i % 4}`),
          context: sparseFromPairs(DIM, s.outcomes[0]?.ctx ?? []),
          arms: s.arms.map((a) => sparseFromPairs(DIM, a)),
        };
        const prepared = policy.prepare!(input, s.temperature);
        const a = createRng(s.seed);
        const b = createRng(s.seed);
        const outA = new Float64Array(k);
        const outB = new Float64Array(k);
        if (s.structure === 'shared') {
          const again = policy.prepare!(input, s.temperature);
          for (let d = 0; d < 3; d++) {
            prepared(a, outA);
            again(b, outB);
            for (let i = 0; i < k; i++) if (!Object.is(outA[i], outB[i]) || !Number.isFinite(outA[i]!)) return false;
          }
          policy.prepare!(input, 0)(a, outA);
          policy.sample(input, b, outB, 0);
          for (let i = 0; i < k; i++) if (Math.abs(outA[i]! - outB[i]!) > 1e-9 * (1 + Math.abs(outB[i]!))) return false;
          return true;
        }
        for (let d = 0; d < 3; d++) {
          prepared(a, outA);
          policy.sample(input, b, outB, s.temperature);
          for (let i = 0; i < k; i++) if (!Object.is(outA[i], outB[i])) return false;
        }
        expect(a.state()).toEqual(b.state());
        return true;
      }),
      { numRuns: 150 },
    );
  });
});
