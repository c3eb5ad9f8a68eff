/**
 * Core benchmark (issue "Foundation"): in-process, for (d, k) = (16, 10), (64, 100), (256, 100):
 * - decision: one posterior draw + slate selection (top-5), as the engine does it (`prepare`
 *   then one draw), and through a plain `sample` call for comparison,
 * - update: one outcome folded into the posterior,
 * - decision with Monte-Carlo propensities (M = 64),
 * median and p99 per operation, and achieved GFLOP/s next to a plain dot-product loop measured
 * in the same run (the machine's practical ceiling for this kind of scalar JS loop).
 *
 * The policy is `linear-gaussian`, `shared` structure, full covariance over d dense seen dims;
 * each candidate's vector has min(d, 16) non-zeros.
 *
 * Then the score-space decision stage by stage, as `rank` runs it, on a different decision each
 * time (so the score plan is rebuilt every time): posterior sd (`summarize`, which builds the
 * plan: Σ_UU, S), `prepare` + the first draw (the factor of S), the selection, and the M = 64
 * propensity draws; the candidates share 4 context entries, as featurized candidates do.
 *
 * Run: npm run bench:core
 */
import { createRng } from '../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type SparseVector } from '../../src/features/types.js';
import { estimatePropensities } from '../../src/policies/explore/propensity.js';
import { createSlateChoice, selectSlate, type SelectionInput, type SelectionParams } from '../../src/policies/explore/select.js';
import { createPolicy } from '../../src/policies/registry.js';
import type { Policy } from '../../src/policies/types.js';
import { policyConfigSchema } from '../../src/policies/registry.js';
import { table, time, us } from './stats.js';

const DIM = 1 << 12;
const SLOTS = 5;
const M = 64;

function randomArm(rng: ReturnType<typeof createRng>, d: number, nnz: number): SparseVector {
  const pairs: Array<[number, number]> = [[0, 1]];
  const used = new Set<number>([0]);
  while (pairs.length < nnz) {
    const j = rng.int(d);
    if (used.has(j)) continue;
    used.add(j);
    pairs.push([j, rng.normal()]);
  }
  return sparseFromPairs(DIM, pairs);
}

/** GFLOP/s of a plain dot product of two Float64Arrays of length n, repeated. */
function dotBaseline(n: number): number {
  const a = new Float64Array(n).map((_, i) => Math.sin(i));
  const b = new Float64Array(n).map((_, i) => Math.cos(i));
  let sink = 0;
  const reps = Math.max(1, Math.floor(5e7 / n));
  const t = time(
    () => {
      let s = 0;
      for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
      sink += s;
    },
    reps,
    { warmup: Math.min(reps, 200) },
  );
  if (sink === 42) console.log('');
  return (2 * n) / (t.median * 1e3); // flops per ns = GFLOP/s
}

function setup(d: number, k: number): { policy: Policy; features: DecisionFeatures; input: SelectionInput; params: SelectionParams } {
  const rng = createRng(`bench-${d}-${k}`);
  const nnz = Math.min(d, 16);
  const config = policyConfigSchema.parse({ kind: 'linear-gaussian', structure: 'shared', covariance: 'full', maxDenseDims: Math.max(256, d) });
  const policy = createPolicy(config);
  // Make every one of the d dims seen, then some more learning.
  for (let j = 0; j < d; j++) {
    const x = sparseFromPairs(DIM, [[j, 1]]);
    policy.update({ itemId: 'warm', context: x, arm: x }, rng.normal(), 1);
  }
  for (let t = 0; t < 200; t++) {
    const x = randomArm(rng, d, nnz);
    policy.update({ itemId: 'warm', context: x, arm: x }, rng.normal(), 1);
  }
  const arms = Array.from({ length: k }, () => randomArm(rng, d, nnz));
  const features: DecisionFeatures = {
    dim: DIM,
    itemIds: arms.map((_, i) => `i${i}`),
    context: sparseFromPairs(DIM, [[0, 1]]),
    arms,
  };
  const input: SelectionInput = { groups: arms.map(() => undefined), cooledDown: new Uint8Array(k), recentGroups: new Set(), sd: null };
  const params: SelectionParams = { slots: SLOTS, share: 0, exploreTokens: Infinity, floor: 0, maxGroupShare: 1, rule: 'uniform' };
  return { policy, features, input, params };
}

const rows: string[][] = [];
const dot64 = dotBaseline(64 * 64);
for (const [d, k] of [
  [16, 10],
  [64, 100],
  [256, 100],
] as const) {
  const { policy, features, input, params } = setup(d, k);
  const scores = new Float64Array(k);
  const choice = createSlateChoice(SLOTS);
  const rng = createRng('decisions');
  const nnz = Math.min(d, 16);
  const n = d >= 256 ? 3000 : 20000;

  // The engine's path: prepare the decision once (Policy.prepare), draw, select.
  const decision = time(() => {
    policy.prepare!(features, 1)(rng, scores);
    selectSlate(scores, input, params, rng, choice);
  }, n);
  // The plain path, for comparison: one `sample` call (same draw, bit for bit).
  const sampled = time(() => {
    policy.sample(features, rng, scores, 1);
    selectSlate(scores, input, params, rng, choice);
  }, n);

  const updRng = createRng('updates');
  const xs = Array.from({ length: 512 }, () => randomArm(updRng, d, nnz));
  const update = time((i) => {
    const x = xs[i % xs.length]!;
    policy.update({ itemId: 'u', context: x, arm: x }, 0.5, 1);
  }, n);

  const propRng = createRng('prop');
  const floored = { ...params, floor: 0.005 };
  const withProps = time(() => {
    const draw = policy.prepare!(features, 1, M + 1);
    draw(propRng, scores);
    selectSlate(scores, input, floored, propRng, choice);
    estimatePropensities(draw, input, floored, choice, k, M, propRng.fork('p'));
  }, Math.max(200, Math.floor(n / 20)));

  // Flops: the draw is a triangular solve (d² multiply-adds) plus k sparse dots (2·k·nnz).
  const sampleFlops = 2 * d * d + 2 * k * nnz;
  // The update: rank-one Cholesky update (~4·d²) plus two triangular solves for the mean (2·d² each).
  const updateFlops = 8 * d * d;
  rows.push([
    `${d}`,
    `${k}`,
    us(decision.median),
    us(decision.p99),
    us(sampled.median),
    us(update.median),
    us(update.p99),
    us(withProps.median),
    us(withProps.p99),
    (sampleFlops / (decision.median * 1e3)).toFixed(2),
    (updateFlops / (update.median * 1e3)).toFixed(2),
  ]);
}

/** Per-stage medians of score-space decisions over distinct inputs (a fresh plan each time). */
function freshDecisions(d: number, k: number): string[] {
  const { policy } = setup(d, k);
  const rng = createRng(`fresh-${d}-${k}`);
  const decisions = Array.from({ length: 64 }, () => {
    const context: Array<[number, number]> = [[1, 1], [2, 1], [3, 0.5], [4, 1]];
    const arms = Array.from({ length: k }, () => {
      const own = randomArm(rng, d, 16);
      const pairs: Array<[number, number]> = [...context];
      for (let e = 0; e < own.nnz; e++) if (own.indices[e]! > 4) pairs.push([own.indices[e]!, own.values[e]!]);
      return sparseFromPairs(DIM, pairs);
    });
    const features: DecisionFeatures = { dim: DIM, itemIds: arms.map((_, i) => `i${i}`), context: sparseFromPairs(DIM, context), arms };
    const input: SelectionInput = {
      groups: arms.map((_, i) => `g${i % 20}`),
      cooledDown: new Uint8Array(k),
      recentGroups: new Set(),
      sd: new Float64Array(k),
    };
    return { features, input };
  });
  const params: SelectionParams = { slots: SLOTS, share: 0.05, exploreTokens: 2, floor: 0.005, maxGroupShare: 1, rule: 'uncertain' };
  const mean = new Float64Array(k);
  const scores = new Float64Array(k);
  const choice = createSlateChoice(SLOTS);
  const stages = [[], [], [], []] as number[][];
  const reps = 20;
  for (let r = 0; r < reps; r++) {
    decisions.forEach(({ features, input }, i) => {
      const decisionRng = createRng(`fresh-${r}-${i}`);
      const t0 = performance.now();
      policy.summarize(features, mean, input.sd!);
      const t1 = performance.now();
      const draw = policy.prepare!(features, 1, M + 1);
      draw(decisionRng, scores);
      const t2 = performance.now();
      selectSlate(scores, input, params, decisionRng, choice);
      const t3 = performance.now();
      estimatePropensities(draw, input, params, choice, k, M, decisionRng.fork('propensity'));
      const t4 = performance.now();
      // The first pass warms up.
      if (r === 0) return;
      stages[0]!.push((t1 - t0) * 1000);
      stages[1]!.push((t2 - t1) * 1000);
      stages[2]!.push((t3 - t2) * 1000);
      stages[3]!.push((t4 - t3) * 1000);
    });
  }
  const median = (xs: number[]): number => Float64Array.from(xs).sort()[Math.floor(xs.length / 2)]!;
  const m = stages.map(median);
  return [`${d}`, `${k}`, ...m.map(us), us(m.reduce((a, b) => a + b, 0))];
}

console.log(`liubai core benchmark — linear-gaussian (shared, full covariance), slots = ${SLOTS}, M = ${M}`);
console.log(`node ${process.version}; plain dot-product loop (n = 4096): ${dot64.toFixed(2)} GFLOP/s\n`);
table(
  ['d', 'k', 'decision p50', 'p99', 'via sample p50', 'update p50', 'p99', 'decision+M=64 p50', 'p99', 'decision GFLOP/s', 'update GFLOP/s'],
  rows,
);
console.log('\nTargets at d = 64, k = 100: decision ≤ 20 µs, update ≤ 15 µs, decision with propensities ≤ 500 µs (medians).');

console.log(`\nscore-space decisions, a fresh plan each time (medians; rule uncertain, share 0.05, floor 0.005):\n`);
table(
  ['d', 'k', 'sd (plan) p50', 'prepare + draw p50', 'select p50', 'M = 64 propensities p50', 'sum'],
  [freshDecisions(256, 50), freshDecisions(256, 100)],
);
