import { describe, expect, test } from 'vitest';
import { createRng, type Rng } from '../../../../src/core/rng.js';
import {
  createPropensityEstimator,
  estimateAllPropensities,
  estimatePropensities,
  type ScoreSampler,
} from '../../../../src/policies/explore/propensity.js';
import {
  createSlateChoice,
  selectSlate,
  type SelectionInput,
  type SelectionParams,
  type SlateChoice,
} from '../../../../src/policies/explore/select.js';

function input(k: number, over: Partial<SelectionInput> = {}): SelectionInput {
  return {
    groups: new Array<string | undefined>(k).fill(undefined),
    cooledDown: new Uint8Array(k),
    recentGroups: new Set(),
    sd: null,
    ...over,
  };
}

function params(over: Partial<SelectionParams> = {}): SelectionParams {
  return { slots: 3, share: 0, exploreTokens: Infinity, floor: 0, maxGroupShare: 1, rule: 'uniform', ...over };
}

const uniformSampler =
  (k: number): ScoreSampler =>
  (rng, out) => {
    for (let i = 0; i < k; i++) out[i] = rng.uniform();
  };

const fixedSampler =
  (scores: readonly number[]): ScoreSampler =>
  (_rng, out) => {
    for (let i = 0; i < scores.length; i++) out[i] = scores[i]!;
  };

/** A Gaussian "posterior": score_i = mu_i + sigma_i·N(0, 1). */
const gaussianSampler =
  (mu: readonly number[], sigma: readonly number[]): ScoreSampler =>
  (rng, out) => {
    for (let i = 0; i < mu.length; i++) out[i] = mu[i]! + sigma[i]! * rng.normal();
  };

function decide(sampler: ScoreSampler, inp: SelectionInput, p: SelectionParams, rng: Rng): SlateChoice {
  const scores = new Float64Array(inp.groups.length);
  sampler(rng, scores);
  return selectSlate(scores, inp, p, rng);
}

function slateOf(items: number[], floorComponent = false): SlateChoice {
  const c = createSlateChoice(items.length);
  c.length = items.length;
  c.items.set(items);
  c.floorComponent = floorComponent;
  return c;
}

describe('estimatePropensities: closed forms and the own draw', () => {
  test('exchangeable scores with a symmetric rule give exactly 1/k and L/k, with draws 0', () => {
    const k = 7;
    const inp = input(k);
    const p = params({ slots: 3, share: 0.2, floor: 0.01 });
    const shown = decide(uniformSampler(k), inp, p, createRng('d'));
    const r = estimatePropensities(uniformSampler(k), inp, p, shown, k, 64, createRng('x'), { exchangeable: true });
    expect(Array.from(r.position)).toEqual([1 / 7, 1 / 7, 1 / 7]);
    expect(Array.from(r.slate)).toEqual([3 / 7, 3 / 7, 3 / 7]);
    expect(r.draws).toBe(0);
  });

  test('the exchangeable flag is ignored when cool-down makes the rule asymmetric', () => {
    const k = 5;
    const inp = input(k, { cooledDown: Uint8Array.from([1, 0, 0, 0, 0]) });
    const p = params({ slots: 2 });
    const shown = decide(uniformSampler(k), inp, p, createRng('d'));
    const a = estimatePropensities(uniformSampler(k), inp, p, shown, k, 200, createRng('x'), { exchangeable: true });
    const b = estimatePropensities(uniformSampler(k), inp, p, shown, k, 200, createRng('x'));
    expect(a.draws).toBe(200);
    expect(Array.from(a.position)).toEqual(Array.from(b.position));
  });

  test('the Monte-Carlo estimate of an exchangeable policy agrees with the closed form', () => {
    const k = 6;
    const M = 20000;
    const inp = input(k);
    const p = params({ slots: 2 });
    const shown = decide(uniformSampler(k), inp, p, createRng('d'));
    const all = estimateAllPropensities(uniformSampler(k), inp, p, shown, k, M, createRng('x'));
    const t = 4.5 * Math.sqrt(((1 / k) * (1 - 1 / k)) / M) + 1 / (M + 1);
    for (const v of all.position) expect(Math.abs(v - 1 / k)).toBeLessThan(t);
  });

  test('deterministic scores: the greedy item has propensity exactly 1', () => {
    const r = estimatePropensities(fixedSampler([3, 2, 1]), input(3), params({ slots: 2 }), slateOf([0, 1]), 3, 16, createRng('x'));
    expect(Array.from(r.position)).toEqual([1, 1]);
    expect(Array.from(r.slate)).toEqual([1, 1]);
  });

  test('the own draw counts as one sample: (count + 1)/(M + 1) for a slate the other draws never give', () => {
    const r = estimatePropensities(fixedSampler([3, 2, 1]), input(3), params({ slots: 1 }), slateOf([2]), 3, 9, createRng('x'));
    expect(r.position[0]).toBeCloseTo(1 / 10, 15);
    expect(r.slate[0]).toBeCloseTo(1 / 10, 15);
  });

  test('the floor mixture is analytic: q/k + (1 − q)·P_rest', () => {
    // k = 3, L = 1, floor 0.1 ⇒ q = 0.3; the rest component always picks item 0.
    const sampler = fixedSampler([3, 2, 1]);
    const p = params({ slots: 1, floor: 0.1 });
    const fromRest = estimatePropensities(sampler, input(3), p, slateOf([0]), 3, 32, createRng('x'));
    expect(fromRest.position[0]).toBeCloseTo(0.3 / 3 + 0.7, 14);
    const fromFloor = estimatePropensities(sampler, input(3), p, slateOf([2], true), 3, 32, createRng('x'));
    expect(fromFloor.position[0]).toBeCloseTo(0.1, 14); // exactly the floor
  });

  test('the decision draw is unchanged by estimating on a derived stream', () => {
    const k = 10;
    const mu = Array.from({ length: k }, (_, i) => i / k);
    const sigma = new Array<number>(k).fill(0.3);
    const sampler = gaussianSampler(mu, sigma);
    const inp = input(k);
    const p = params({ slots: 4, share: 0.3, floor: 0.02 });

    const decisionRng = createRng('decision-seed');
    const shown = decide(sampler, inp, p, decisionRng);
    const before = { items: Array.from(shown.items), explored: Array.from(shown.explored), floor: shown.floorComponent };
    estimatePropensities(sampler, inp, p, shown, k, 64, decisionRng.fork('propensity'));
    const next = decisionRng.uniform();

    const replayRng = createRng('decision-seed');
    const replay = decide(sampler, inp, p, replayRng);
    expect(Array.from(replay.items)).toEqual(before.items);
    expect(Array.from(shown.items)).toEqual(before.items);
    expect(Array.from(shown.explored)).toEqual(before.explored);
    expect(shown.floorComponent).toBe(before.floor);
    expect(replayRng.uniform()).toBe(next);
  });

  test('estimate equals the shown entries of estimateAll for the same rng state', () => {
    const k = 8;
    const sampler = gaussianSampler([1, 0.9, 0.8, 0.5, 0.5, 0.2, 0.1, 0], new Array<number>(8).fill(0.4));
    const inp = input(k, { groups: ['a', 'a', 'a', 'b', 'b', 'c', undefined, undefined] });
    const p = params({ slots: 3, share: 0.3, floor: 0.05, maxGroupShare: 0.4 });
    const shown = decide(sampler, inp, p, createRng('d'));
    const est = createPropensityEstimator();
    const one = est.estimate(sampler, inp, p, shown, k, 100, createRng('x'));
    const all = est.estimateAll(sampler, inp, p, shown, k, 100, createRng('x'));
    for (let j = 0; j < 3; j++) {
      expect(one.position[j]).toBe(all.position[shown.items[j]! * 3 + j]);
      expect(one.slate[j]).toBe(all.slate[shown.items[j]!]);
    }
  });

  test('invalid arguments are rejected', () => {
    const s = fixedSampler([1, 2]);
    expect(() => estimatePropensities(s, input(2), params({ slots: 1 }), slateOf([0]), 2, 0, createRng(1))).toThrow(/draws/);
    expect(() => estimatePropensities(s, input(2), params({ slots: 1 }), slateOf([0]), 3, 8, createRng(1))).toThrow(/k = 3/);
    expect(() => estimatePropensities(s, input(2), params({ slots: 2 }), slateOf([0]), 2, 8, createRng(1))).toThrow(/positions/);
    expect(() => estimatePropensities(s, input(2), params({ slots: 1 }), slateOf([0], true), 2, 8, createRng(1))).toThrow(/floorComponent/);
    expect(() => estimatePropensities(s, input(2), params({ slots: 1 }), slateOf([5]), 2, 8, createRng(1))).toThrow(/outside/);
  });
});

describe('estimateAllPropensities: agreement with the empirical frequencies of the rule', () => {
  const k = 8;
  const mu = [1.0, 0.9, 0.85, 0.6, 0.55, 0.5, 0.3, 0.1];
  const sigma = [0.1, 0.3, 0.2, 0.4, 0.1, 0.5, 0.3, 0.2];
  const sampler = gaussianSampler(mu, sigma);
  const cases: Array<[string, SelectionInput, SelectionParams, boolean]> = [
    [
      'binding caps (floor component by Monte-Carlo), cool-down, outside-recent serendipity',
      input(k, {
        groups: ['a', 'a', 'a', 'b', 'b', undefined, 'c', 'c'],
        cooledDown: Uint8Array.from([0, 1, 0, 0, 0, 0, 0, 0]),
        recentGroups: new Set(['a']),
      }),
      params({ slots: 3, share: 0.35, exploreTokens: 1, floor: 0.04, maxGroupShare: 0.5, rule: 'outside-recent-groups' }),
      false,
    ],
    [
      'caps that cannot bind (analytic floor), uncertain serendipity',
      input(k, { groups: ['a', 'a', 'b', 'b', 'c', 'c', 'd', 'd'], sd: Float64Array.from(sigma) }),
      params({ slots: 3, share: 0.25, exploreTokens: 2, floor: 0.05, maxGroupShare: 0.7, rule: 'uncertain' }),
      true,
    ],
  ];

  test.each(cases)('%s', (_name, inp, p, floorGuaranteed) => {
    const L = 3;
    const N = 20000;
    const M = 20000;
    const rng = createRng('decisions');
    const scores = new Float64Array(k);
    const out = createSlateChoice(L);
    const pos = new Float64Array(k * L);
    const inc = new Float64Array(k);
    for (let t = 0; t < N; t++) {
      sampler(rng, scores);
      selectSlate(scores, inp, p, rng, out);
      for (let j = 0; j < L; j++) {
        pos[out.items[j]! * L + j]!++;
        inc[out.items[j]!]!++;
      }
    }
    const shown = decide(sampler, inp, p, createRng('shown'));
    const all = estimateAllPropensities(sampler, inp, p, shown, k, M, createRng('propensity'));
    expect(all.draws).toBe(M);
    const tolerance = (q: number): number => 4.5 * Math.sqrt(q * (1 - q) * (1 / N + 1 / M)) + 1 / (M + 1);
    for (let j = 0; j < k * L; j++) {
      const emp = pos[j]! / N;
      expect(Math.abs(all.position[j]! - emp)).toBeLessThan(tolerance(emp));
    }
    for (let i = 0; i < k; i++) {
      const emp = inc[i]! / N;
      expect(Math.abs(all.slate[i]! - emp)).toBeLessThan(tolerance(emp));
      // q·L/k = floor exactly when no cap can bind; the rest component only adds.
      if (floorGuaranteed) expect(all.slate[i]!).toBeGreaterThanOrEqual(p.floor - 1e-12);
    }
  });
});
