/**
 * neural-linear benchmark (issue "Neural-linear Thompson sampling with tensorflow.js"), on every
 * tensorflow.js backend that initializes here (tensorflow when @tensorflow/tfjs-node is
 * installed, wasm, cpu), next to linear-gaussian at the same settings:
 * - decision: one Thompson draw over k = 50 candidates on a new decision (neural: the batched
 *   embedding of the 50 arms + the head's draw), then the M = 64 Monte-Carlo propensity draws
 *   of that decision (embeddings reused);
 * - update: one outcome folded (neural: buffered, folded in batches of 512 — amortized);
 * - retrain for 100 000 logged outcomes: training (default config: hidden [64, 32], 3 epochs,
 *   batch 256, Adam) and the head rebuild (replaying the 100k outcomes through the new encoder);
 *   for linear-gaussian, the equivalent rebuild is folding the 100k outcomes.
 *
 * Features: bits 12, `user × id` interactions; 6 numeric user features, 3 categorical item
 * features, item id: 19 non-zeros per arm.
 *
 * Run: node bin/run-ts.mjs test/bench/neural.bench.ts [--outcomes 100000] [--epochs 3] [--backends wasm,cpu]
 */
import { performance } from 'node:perf_hooks';
import { createRng, type Rng } from '../../src/core/rng.js';
import { createFeaturizer } from '../../src/features/index.js';
import type { Candidate, DecisionFeatures, OutcomeFeatures } from '../../src/features/types.js';
import { estimatePropensities } from '../../src/policies/explore/propensity.js';
import { selectSlate, type SelectionInput, type SelectionParams } from '../../src/policies/explore/select.js';
import { initNeuralBackend, neuralBackendInfo, type NeuralBackendName } from '../../src/policies/neural-linear/index.js';
import { createPolicy, policyConfigSchema } from '../../src/policies/registry.js';
import type { Policy } from '../../src/policies/types.js';
import type { RetrainablePolicy } from '../../src/policies/neural-linear/retrainable.js';
import { table, time, us } from './stats.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const OUTCOMES = Number(arg('outcomes', '100000'));
const EPOCHS = Number(arg('epochs', '3'));
const BACKENDS = arg('backends', 'tensorflow,wasm,cpu').split(',') as NeuralBackendName[];
const K = 50;
const SLOTS = 5;
const M = 64;

const featurizer = createFeaturizer({ bits: 12, interactions: [['user', 'id']] });
const catalog: Candidate[] = Array.from({ length: 200 }, (_, i) => ({
  id: `item-${i}`,
  features: { item: { topic: `t${i % 7}`, brand: `b${i % 13}`, tier: `r${i % 3}` } },
}));

function context(rng: Rng) {
  return { user: Object.fromEntries(Array.from({ length: 6 }, (_, l) => [`u${l}`, rng.normal()])) };
}

function decisionFeatures(rng: Rng): DecisionFeatures {
  const start = rng.int(catalog.length - K);
  return featurizer.featurize(context(rng), catalog.slice(start, start + K));
}

/** n logged outcomes with a non-linear reward rule. */
function loggedOutcomes(n: number): Array<{ x: OutcomeFeatures; reward: number }> {
  const rng = createRng('log');
  const out: Array<{ x: OutcomeFeatures; reward: number }> = [];
  while (out.length < n) {
    const ctx = context(rng);
    const c = catalog[rng.int(catalog.length)]!;
    const f = featurizer.featurize(ctx, [c]);
    const u = Object.values(ctx.user) as number[];
    const p = 0.1 + 0.6 * (Math.abs(u[0]! + u[1]!) > 1 === (catalog.indexOf(c) % 2 === 0) ? 1 : 0);
    out.push({ x: featurizer.outcomeFeatures(f, 0), reward: rng.uniform() < p ? 1 : 0 });
  }
  return out;
}

interface Row {
  readonly name: string;
  readonly cells: string[];
}

function benchPolicy(name: string, make: () => Policy, log: ReadonlyArray<{ x: OutcomeFeatures; reward: number }>): Row {
  const policy = make();
  for (let i = 0; i < 2000; i++) policy.update(log[i]!.x, log[i]!.reward, 1);
  const rng = createRng('decisions');
  const pool = Array.from({ length: 64 }, () => decisionFeatures(rng));
  const scores = new Float64Array(K);
  const input: SelectionInput = { groups: new Array(K).fill(undefined), cooledDown: new Uint8Array(K), recentGroups: new Set(), sd: null };
  const params: SelectionParams = { slots: SLOTS, share: 0, exploreTokens: Infinity, floor: 0.005, maxGroupShare: 1, rule: 'uniform' };
  const n = 400;
  // A fresh DecisionFeatures object each time: the neural embedding cache cannot help.
  const decision = time((i) => {
    const f = { ...pool[i % pool.length]! };
    policy.sample(f, rng, scores, 1);
    selectSlate(scores, input, params, rng);
  }, n, { warmup: 50 });
  const withProps = time((i) => {
    const f = { ...pool[i % pool.length]! };
    const draw = policy.prepare ? policy.prepare(f, 1, M + 1) : (r: Rng, out: Float64Array) => policy.sample(f, r, out, 1);
    draw(rng, scores);
    const choice = selectSlate(scores, input, params, rng);
    estimatePropensities(draw, input, params, choice, K, M, rng.fork('p'));
  }, n / 4, { warmup: 20 });
  let u = 0;
  const update = time(() => {
    const e = log[2000 + (u++ % 5000)]!;
    policy.update(e.x, e.reward, 1);
  }, 5000, { warmup: 512 });
  policy.sample({ ...pool[0]! }, rng, scores, 1); // fold what is buffered

  let train = '—';
  let rebuild: number;
  let loss = '—';
  if ((policy as Partial<RetrainablePolicy>).retrainable) {
    // Retrain on OUTCOMES logged outcomes, then rebuild the head by replaying them.
    const fresh = make() as RetrainablePolicy;
    for (const e of log) fresh.update(e.x, e.reward, 1);
    fresh.flush();
    const t0 = performance.now();
    const result = fresh.retrainNow(fresh.prepareRetrain({ seed: 'bench', range: { fromSeq: 1, toSeq: log.length, ordinals: log.length } }));
    train = `${((performance.now() - t0) / 1000).toFixed(1)} s`;
    loss = result.metrics.loss.map((x) => x.toFixed(4)).join(' → ');
    const t1 = performance.now();
    const next = fresh.withRepresentation(result);
    for (const e of log) next.update(e.x, e.reward, 1);
    next.flush();
    rebuild = performance.now() - t1;
    fresh.dispose();
    next.dispose();
    (policy as RetrainablePolicy).dispose();
  } else {
    const t1 = performance.now();
    const fresh = make();
    for (const e of log) fresh.update(e.x, e.reward, 1);
    fresh.sample({ ...pool[0]! }, rng, scores, 1);
    rebuild = performance.now() - t1;
  }
  return {
    name,
    cells: [
      us(decision.median),
      us(decision.p99),
      us(withProps.median),
      us(update.mean),
      train,
      `${(rebuild / 1000).toFixed(2)} s`,
      loss,
    ],
  };
}

const log = loggedOutcomes(OUTCOMES);
const rows: string[][] = [];
const linear = benchPolicy('linear-gaussian', () => createPolicy(policyConfigSchema.parse({ kind: 'linear-gaussian' })), log);
rows.push([linear.name, '—', ...linear.cells]);
const seen = new Set<string>();
for (const wanted of BACKENDS) {
  const info = await initNeuralBackend({ backends: [wanted], log: () => {} });
  if (info.backend !== wanted) {
    rows.push(['neural-linear', wanted, `unavailable: ${info.fallbacks[0] ?? ''}`, '', '', '', '', '', '']);
    continue;
  }
  if (seen.has(wanted)) continue;
  seen.add(wanted);
  const r = benchPolicy(
    'neural-linear',
    () => createPolicy(policyConfigSchema.parse({ kind: 'neural-linear', epochs: EPOCHS, maxTrainingOutcomes: OUTCOMES })),
    log,
  );
  rows.push([r.name, neuralBackendInfo()?.backend ?? wanted, ...r.cells]);
}

console.log(`liubai neural-linear benchmark — k = ${K}, slots = ${SLOTS}, M = ${M}; retrain on ${OUTCOMES} outcomes, ${EPOCHS} epochs`);
console.log(`neural-linear: hidden [64, 32], relu, inputBits 12, batch 256, Adam; linear-gaussian: shared, full covariance; node ${process.version}\n`);
table(['policy', 'backend', 'decision p50', 'p99', 'decision+M=64 p50', 'update (mean)', 'retrain', 'head rebuild', 'epoch loss'], rows);
