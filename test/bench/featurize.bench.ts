/**
 * Featurizer benchmark (`node bin/run-ts.mjs test/bench/featurize.bench.ts`). Not a timed test:
 * it prints figures.
 *
 * Times `featurizer.featurize` against the frozen pre-optimisation copy
 * (test/unit/features/reference-featurizer.ts) in the same run, interleaved block by block so
 * both see the same load on this shared 2-core machine, and prints the medians and the ratio
 * new / reference. Every timed output is also checked to be bit-identical to the reference's.
 *
 * Workloads (config `bits: 12, interactions: [user×item, session×item]`, k = 50):
 * - `http`: the rank body of test/bench/http.bench.ts — item `{ topic, brand, price }`, context
 *   `user { age, country, segment }`, `session { hour, device }`; every call gets a freshly
 *   `JSON.parse`d request, as the server does;
 * - `engine`: the heavier request of test/bench/engine.bench.ts — 10 item features, `session`
 *   with 3 features, shared catalog objects, fatigue extras on ~20% of the candidates;
 * - `feedback`: what the engine does per learned outcome — `featurize(context, [c], [extra])`
 *   then `outcomeFeatures(df, 0)`.
 *
 * Usage: node bin/run-ts.mjs test/bench/featurize.bench.ts [--rounds 60 --block 50]
 */
import { createRng } from '../../src/core/rng.js';
import { createFeaturizer, type Featurizer } from '../../src/features/index.js';
import type { Candidate, DecisionFeatures, Namespace, NamespacedFeatures, SparseVector } from '../../src/features/types.js';
import { createReferenceFeaturizer } from '../unit/features/reference-featurizer.js';
import { quantile, table, us } from './stats.js';
import { argOf, engineCatalog as engineWorkloadCatalog, engineContext, servingRankBodies } from './workload.js';

/** Alternating blocks per implementation, and calls per block. */
const ROUNDS = Number(argOf('--rounds', '60'));
const BLOCK = Number(argOf('--block', '50'));
const K = 50;
const config = { bits: 12, interactions: [['user', 'item'], ['session', 'item']] as [string, string][] };

interface Request {
  readonly context: NamespacedFeatures;
  readonly candidates: readonly Candidate[];
  readonly extras?: ReadonlyArray<Namespace | undefined>;
}

const rng = createRng('featurize-bench');

// ── http: the body of http.bench.ts, parsed afresh for every call ──
const httpBodies = servingRankBodies(rng);
const httpRequests = (n: number): Request[] =>
  Array.from({ length: n }, (_, i) => JSON.parse(httpBodies[i % httpBodies.length]!) as Request);

// ── engine: the request of engine.bench.ts, shared catalog objects, some fatigue extras ──
const engineCatalog = engineWorkloadCatalog(rng);
const engineRequests = Array.from({ length: 512 }, (): Request => {
  const start = rng.int(engineCatalog.length - K);
  return {
    context: engineContext(rng),
    candidates: engineCatalog.slice(start, start + K),
    extras: Array.from({ length: K }, () =>
      rng.uniform() < 0.2 ? { item: Math.round(rng.uniform() * 3e6) / 1e6, group: Math.round(rng.uniform() * 2e6) / 1e6 } : undefined,
    ),
  };
});

// ── feedback: one candidate of a decision, with its logged extra ──
const feedbackRequests = engineRequests.map((r, i): Request => {
  const j = i % K;
  return { context: r.context, candidates: [r.candidates[j]!], extras: [r.extras![j]] };
});

function sameVector(a: SparseVector, b: SparseVector): boolean {
  if (a.dim !== b.dim || a.nnz !== b.nnz) return false;
  for (let j = 0; j < a.nnz; j++) {
    if (a.indices[j] !== b.indices[j] || !Object.is(a.values[j], b.values[j])) return false;
  }
  return true;
}

function sameDecision(a: DecisionFeatures, b: DecisionFeatures): boolean {
  return (
    a.dim === b.dim &&
    a.itemIds.length === b.itemIds.length &&
    a.itemIds.every((id, i) => id === b.itemIds[i]) &&
    sameVector(a.context, b.context) &&
    a.arms.length === b.arms.length &&
    a.arms.every((v, i) => sameVector(v, b.arms[i]!))
  );
}

type Call = (f: Featurizer, r: Request) => unknown;
const rank: Call = (f, r) => f.featurize(r.context, r.candidates, r.extras);
const feedback: Call = (f, r) => f.outcomeFeatures(f.featurize(r.context, r.candidates, r.extras), 0);

/**
 * Per-call times (µs) of both implementations, in alternating blocks of BLOCK calls (each block
 * timed as a whole and divided), after a warm-up of both: wall-clock time, and the process's CPU
 * time (user + system), which does not count the time other processes hold the core.
 */
function compare(name: string, pool: () => Request[], call: Call): string[] {
  const cur = createFeaturizer(config);
  const ref = createReferenceFeaturizer(config);
  // Warm-up, and the bit-identity check on every request of the pool.
  const warm = pool();
  for (let pass = 0; pass < 4; pass++) {
    for (const r of warm) {
      const a = cur.featurize(r.context, r.candidates, r.extras);
      const b = ref.featurize(r.context, r.candidates, r.extras);
      if (pass === 0 && !sameDecision(a, b)) throw new Error(`${name}: output differs from the reference`);
    }
  }
  const wall = { cur: [] as number[], ref: [] as number[] };
  const cpu = { cur: [] as number[], ref: [] as number[] };
  const requests = pool();
  let at = 0;
  const block = (f: Featurizer, who: 'cur' | 'ref'): void => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let j = 0; j < BLOCK; j++) call(f, requests[(at + j) % requests.length]!);
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    wall[who].push(((t1 - t0) * 1000) / BLOCK);
    cpu[who].push((c1.user + c1.system) / BLOCK);
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first so neither always runs on a warmer cache.
    if (round % 2 === 0) {
      block(cur, 'cur');
      block(ref, 'ref');
    } else {
      block(ref, 'ref');
      block(cur, 'cur');
    }
    at += BLOCK;
  }
  const med = (xs: number[]): number => quantile(Float64Array.from(xs).sort(), 0.5);
  return [
    name,
    us(med(wall.ref)),
    us(med(wall.cur)),
    (med(wall.cur) / med(wall.ref)).toFixed(3),
    us(med(cpu.ref)),
    us(med(cpu.cur)),
    (med(cpu.cur) / med(cpu.ref)).toFixed(3),
  ];
}

const rows = [
  // Fresh objects per call: the pool holds more requests than the timed calls.
  compare('http (k=50, 3 item feats, parsed)', () => httpRequests(Math.max(512, ROUNDS * BLOCK)), rank),
  compare('engine (k=50, 10 item feats, extras)', () => engineRequests, rank),
  compare('feedback (k=1 + outcomeFeatures)', () => feedbackRequests, feedback),
];
console.log(
  `featurize: median per call, reference vs current, same run (${ROUNDS} alternating blocks of ${BLOCK} calls each)\n`,
);
table(['workload', 'wall ref', 'wall cur', 'cur/ref', 'cpu ref', 'cpu cur', 'cur/ref'], rows);
