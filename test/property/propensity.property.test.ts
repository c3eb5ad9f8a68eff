import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import { estimateAllPropensities, estimatePropensities, type ScoreSampler } from '../../src/policies/explore/propensity.js';
import { selectSlate, type SelectionInput, type SelectionParams, type SerendipityRule } from '../../src/policies/explore/select.js';

const rules: SerendipityRule[] = ['uniform', 'uncertain', 'outside-recent-groups'];

/** A random decision problem: candidates with groups, cool-down, sd, a Gaussian sampler and budget params. */
const problem = fc
  .integer({ min: 1, max: 8 })
  .chain((k) =>
    fc.record({
      k: fc.constant(k),
      groups: fc.array(fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), { minLength: k, maxLength: k }),
      cooled: fc.array(fc.boolean(), { minLength: k, maxLength: k }),
      mu: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: k, maxLength: k }),
      sigma: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: k, maxLength: k }),
      recent: fc.subarray(['a', 'b', 'c']),
      slots: fc.integer({ min: 1, max: 5 }),
      share: fc.double({ min: 0, max: 1, noNaN: true }),
      exploreTokens: fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 3 })),
      floor: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.3, noNaN: true })),
      maxGroupShare: fc.double({ min: 0.05, max: 1, noNaN: true }),
      rule: fc.constantFrom(...rules),
      seed: fc.integer(),
      draws: fc.integer({ min: 1, max: 24 }),
    }),
  );

type Problem = typeof problem extends fc.Arbitrary<infer T> ? T : never;

function build(pr: Problem) {
  const input: SelectionInput = {
    groups: pr.groups,
    cooledDown: Uint8Array.from(pr.cooled, (c) => (c ? 1 : 0)),
    recentGroups: new Set(pr.recent),
    sd: Float64Array.from(pr.sigma),
  };
  const params: SelectionParams = {
    slots: pr.slots,
    share: pr.share,
    exploreTokens: pr.exploreTokens,
    floor: pr.floor,
    maxGroupShare: pr.maxGroupShare,
    rule: pr.rule,
  };
  const sampler: ScoreSampler = (rng, out) => {
    for (let i = 0; i < pr.k; i++) out[i] = pr.mu[i]! + pr.sigma[i]! * rng.normal();
  };
  return { input, params, sampler };
}

describe('propensities of the whole selection rule (property)', () => {
  test('in (0, 1] for what was shown; columns sum to 1, inclusions to L, rows to the inclusion', () => {
    fc.assert(
      fc.property(problem, (pr) => {
        const { input, params, sampler } = build(pr);
        const decision = createRng(`decision:${pr.seed}`);
        const scores = new Float64Array(pr.k);
        sampler(decision, scores);
        const shown = selectSlate(scores, input, params, decision);
        const L = shown.length;
        expect(L).toBe(Math.min(pr.slots, pr.k));

        const one = estimatePropensities(sampler, input, params, shown, pr.k, pr.draws, decision.fork('propensity'));
        const all = estimateAllPropensities(sampler, input, params, shown, pr.k, pr.draws, decision.fork('propensity'));
        for (let p = 0; p < L; p++) {
          const i = shown.items[p]!;
          expect(one.position[p]!).toBeGreaterThan(0);
          expect(one.position[p]!).toBeLessThanOrEqual(1 + 1e-12);
          expect(one.slate[p]!).toBeGreaterThanOrEqual(one.position[p]! - 1e-12);
          expect(one.slate[p]!).toBeLessThanOrEqual(1 + 1e-12);
          expect(one.position[p]).toBe(all.position[i * L + p]);
          expect(one.slate[p]).toBe(all.slate[i]);
        }
        for (let p = 0; p < L; p++) {
          let col = 0;
          for (let i = 0; i < pr.k; i++) col += all.position[i * L + p]!;
          expect(col).toBeCloseTo(1, 9);
        }
        let total = 0;
        for (let i = 0; i < pr.k; i++) {
          let row = 0;
          for (let p = 0; p < L; p++) {
            const v = all.position[i * L + p]!;
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1 + 1e-12);
            row += v;
          }
          expect(all.slate[i]!).toBeCloseTo(row, 9);
          total += all.slate[i]!;
        }
        expect(total).toBeCloseTo(L, 9);
      }),
      { numRuns: 300 },
    );
  });

  test('same seeds, same propensities (replayable)', () => {
    fc.assert(
      fc.property(problem, (pr) => {
        const { input, params, sampler } = build(pr);
        const run = (): number[] => {
          const decision = createRng(`decision:${pr.seed}`);
          const scores = new Float64Array(pr.k);
          sampler(decision, scores);
          const shown = selectSlate(scores, input, params, decision);
          const r = estimatePropensities(sampler, input, params, shown, pr.k, pr.draws, decision.fork('propensity'));
          return [...Array.from(shown.items.subarray(0, shown.length)), ...r.position, ...r.slate];
        };
        expect(run()).toEqual(run());
      }),
      { numRuns: 100 },
    );
  });
});
