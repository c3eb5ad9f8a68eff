/**
 * Statistical checks of the Thompson-sampling core (npm run test:stat). Seeded, with tolerances
 * from the maths; each can fail.
 */
import { describe, expect, test } from 'vitest';
import { createRng, type Rng } from '../../src/core/rng.js';
import { chiSquareTest, mean, meanCi } from '../../src/core/stats.js';
import { createFeaturizer } from '../../src/features/index.js';
import type { Candidate } from '../../src/features/types.js';
import { estimateAllPropensities, estimatePropensities } from '../../src/policies/explore/propensity.js';
import { selectSlate, type SelectionInput, type SelectionParams } from '../../src/policies/explore/select.js';
import { createPolicy, policyConfigSchema, type PolicyConfigInput } from '../../src/policies/registry.js';

const SEEDS = 20;

/** Single-slot bandit loop on the pure policy: returns cumulative regret at each checkpoint. */
function runBernoulli(policyConfig: PolicyConfigInput, probs: readonly number[], horizon: number, seed: number, checkpoints: readonly number[]): number[] {
  const rng = createRng(`bandit-${seed}`);
  const envRng = rng.fork('env');
  const policy = createPolicy(policyConfigSchema.parse(policyConfig));
  const featurizer = createFeaturizer({ bits: 8 });
  const candidates: Candidate[] = probs.map((_, i) => ({ id: `a${i}` }));
  const features = featurizer.featurize({}, candidates);
  const best = Math.max(...probs);
  const scores = new Float64Array(probs.length);
  let regret = 0;
  const out: number[] = [];
  let c = 0;
  for (let t = 1; t <= horizon; t++) {
    policy.sample(features, rng, scores, 1);
    let a = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[a]!) a = i;
    const reward = envRng.uniform() < probs[a]! ? 1 : 0;
    policy.update(featurizer.outcomeFeatures(features, a), reward, 1);
    regret += best - probs[a]!;
    if (t === checkpoints[c]) {
      out.push(regret);
      c++;
    }
  }
  return out;
}

describe('Thompson sampling on a 10-arm Bernoulli bandit (20 seeds)', () => {
  test('regret grows sub-linearly and stays below epsilon-greedy', () => {
    const horizon = 20000;
    const checkpoints = [5000, 10000, 20000];
    const ts: number[][] = [];
    const eg: number[][] = [];
    for (let s = 0; s < SEEDS; s++) {
      const r = createRng(`arms-${s}`);
      const probs = Array.from({ length: 10 }, () => 0.05 + 0.4 * r.uniform());
      ts.push(runBernoulli({ kind: 'beta-bernoulli' }, probs, horizon, s, checkpoints));
      eg.push(runBernoulli({ kind: 'epsilon-greedy', epsilon: 0.1 }, probs, horizon, s, checkpoints));
    }
    const at = (runs: number[][], c: number) => runs.map((r) => r[c]!);
    // Sub-linear: the regret of the second half is significantly below that of the first half.
    const firstHalf = at(ts, 1);
    const secondHalf = ts.map((r) => r[2]! - r[1]!);
    const growth = meanCi(secondHalf.map((x, i) => x - firstHalf[i]!));
    console.log(`TS regret at 5k/10k/20k: ${[0, 1, 2].map((c) => mean(at(ts, c)).toFixed(1)).join(' / ')}; ` +
      `ε-greedy: ${[0, 1, 2].map((c) => mean(at(eg, c)).toFixed(1)).join(' / ')}; ` +
      `second-half minus first-half TS regret ${growth.mean.toFixed(1)} [${growth.lower.toFixed(1)}, ${growth.upper.toFixed(1)}]`);
    expect(growth.upper).toBeLessThan(0);
    // TS below ε-greedy: paired difference CI below zero.
    const diff = meanCi(at(ts, 2).map((x, i) => x - at(eg, 2)[i]!));
    console.log(`TS − ε-greedy regret at 20k: ${diff.mean.toFixed(1)} [${diff.lower.toFixed(1)}, ${diff.upper.toFixed(1)}]`);
    expect(diff.upper).toBeLessThan(0);
  });
});

describe('linear contextual environment (20 seeds)', () => {
  test('linear-gaussian earns more than context-free beta-bernoulli', () => {
    const horizon = 2500;
    const k = 5;
    const totals: Record<string, number[]> = { lin: [], beta: [] };
    for (let s = 0; s < SEEDS; s++) {
      const envSeed = createRng(`linenv-${s}`);
      const theta = Array.from({ length: k }, () => Array.from({ length: 3 }, () => envSeed.normal() * 0.25));
      for (const [name, cfg] of [
        ['lin', { kind: 'linear-gaussian', structure: 'disjoint', noiseVariance: 0.25 }],
        ['beta', { kind: 'beta-bernoulli' }],
      ] as const) {
        const rng = createRng(`lin-${s}-${name}`);
        const env = createRng(`lin-draws-${s}`);
        const policy = createPolicy(policyConfigSchema.parse(cfg));
        const featurizer = createFeaturizer({ bits: 10 });
        const candidates: Candidate[] = Array.from({ length: k }, (_, i) => ({ id: `a${i}` }));
        const scores = new Float64Array(k);
        let reward = 0;
        for (let t = 0; t < horizon; t++) {
          const x = [env.normal(), env.normal(), env.normal()];
          const f = featurizer.featurize({ user: { x0: x[0]!, x1: x[1]!, x2: x[2]! } }, candidates);
          policy.sample(f, rng, scores, 1);
          let a = 0;
          for (let i = 1; i < k; i++) if (scores[i]! > scores[a]!) a = i;
          const p = Math.min(0.95, Math.max(0.05, 0.5 + theta[a]!.reduce((s2, th, j) => s2 + th * x[j]!, 0)));
          const r = env.uniform() < p ? 1 : 0;
          reward += r;
          policy.update(featurizer.outcomeFeatures(f, a), r, 1);
        }
        totals[name]!.push(reward / horizon);
      }
    }
    const diff = meanCi(totals.lin!.map((x, i) => x - totals.beta![i]!));
    console.log(`click rate linear-gaussian ${mean(totals.lin!).toFixed(4)} vs beta-bernoulli ${mean(totals.beta!).toFixed(4)}; ` +
      `difference ${diff.mean.toFixed(4)} [${diff.lower.toFixed(4)}, ${diff.upper.toFixed(4)}]`);
    expect(diff.lower).toBeGreaterThan(0);
  });
});

describe('Monte-Carlo propensities agree with empirical slate frequencies', () => {
  function fixture(rng: Rng) {
    const k = 8;
    const policy = createPolicy(policyConfigSchema.parse({ kind: 'linear-gaussian', noiseVariance: 1 }));
    const featurizer = createFeaturizer({ bits: 10 });
    const candidates: Candidate[] = Array.from({ length: k }, (_, i) => ({ id: `a${i}`, group: `g${i % 3}` }));
    const f = featurizer.featurize({}, candidates);
    // A posterior with overlapping uncertainty: items differ a little.
    for (let t = 0; t < 40; t++) {
      const a = t % k;
      policy.update(featurizer.outcomeFeatures(f, a), a / k + rng.normal() * 0.5, 1);
    }
    const input: SelectionInput = { groups: candidates.map((c) => c.group), cooledDown: new Uint8Array(k), recentGroups: new Set(['g0']), sd: null };
    const params: SelectionParams = { slots: 3, share: 0.15, exploreTokens: 1, floor: 0.02, maxGroupShare: 0.67, rule: 'outside-recent-groups' };
    return { k, policy, f, input, params };
  }

  test('chi-square of (item, position) counts against the estimated probabilities', () => {
    const { k, policy, f, input, params } = fixture(createRng('fixture'));
    const L = params.slots;
    const n = 20000;
    const observed = new Float64Array(k * L);
    const scores = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const rng = createRng(`decision-${i}`);
      policy.sample(f, rng, scores, 1);
      const choice = selectSlate(scores, input, params, rng);
      for (let p = 0; p < choice.length; p++) observed[choice.items[p]! * L + p]! += 1;
      if (i < 200) {
        // The logged propensity of what was shown is a probability.
        const props = estimatePropensities((r, out) => policy.sample(f, r, out, 1), input, params, choice, k, 64, rng.fork('propensity'));
        for (let p = 0; p < choice.length; p++) {
          expect(props.position[p]).toBeGreaterThan(0);
          expect(props.position[p]).toBeLessThanOrEqual(props.slate[p]! + 1e-12);
        }
      }
    }
    // The estimator's expectation: average the full k×L matrix over many independent estimates.
    const expected = new Float64Array(k * L);
    const reps = 400;
    for (let r = 0; r < reps; r++) {
      const rng = createRng(`estimate-${r}`);
      policy.sample(f, rng, scores, 1);
      const choice = selectSlate(scores, input, params, rng);
      const all = estimateAllPropensities((rr, out) => policy.sample(f, rr, out, 1), input, params, choice, k, 256, rng.fork('p'));
      for (let j = 0; j < k * L; j++) expected[j]! += (all.position[j]! * n) / reps;
    }
    const result = chiSquareTest(observed, expected, { constraints: L - 1 });
    console.log(`chi-square ${result.statistic.toFixed(1)} on ${result.df} df, p = ${result.pValue.toFixed(3)}`);
    expect(result.pValue).toBeGreaterThan(0.001);
  });
});
