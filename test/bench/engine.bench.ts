/**
 * Engine benchmark (`npm run bench:engine`): the whole in-process loop through `Engine` on a
 * `MemoryStore`, without HTTP — what a simulation or an embedding service pays per call.
 *
 * Model: linear-gaussian (`shared`, full covariance over up to 256 seen dimensions, the rest a
 * diagonal tail), `features.bits = 12` with the interactions user×item and session×item,
 * k = 50 candidates with 10 features each in namespace `item` (plus a group), context `user`
 * (3 features) and `session` (3 features), slots = 5, propensity.draws M = 64, default budget
 * (share 0.05, rule `uncertain`, per-user token buckets, floor 0.005), 1,000 users.
 * The posterior is first trained through the engine itself (600 ranks + their 3,000 feedback
 * events, batched), which fills the 256 dense dimensions and a diagonal tail.
 *
 * Reported, medians and p99 per call:
 * - `rank` (validation, fatigue, featurize, posterior sd, the draw, selection, M = 64
 *   propensity draws, the decision record in the store);
 * - the bare policy decision on the same featurized input (`prepare` + one draw + select +
 *   propensities, as in core.bench.ts, on a copy of the same posterior with the same decision
 *   seeds), timed right after each rank so both see the same load, and the ratio rank / bare:
 *   the engine's overhead (featurize and the posterior sd are also timed alone);
 * - `feedback`: single events (click or ignore, each folds an outcome: an O(d²) update), and
 *   batches of 100 events through `feedbackBatch` (per batch and per event).
 *
 * Usage: npm run bench:engine [-- --ranks 1000 --train 600]
 */
import { createRng, decisionSeed } from '../../src/core/rng.js';
import { Engine } from '../../src/engine/engine.js';
import type { FeedbackEvent, RankRequest, RankResponse } from '../../src/engine/model.js';
import { draftFatigue, foldFatigue, foldFatigueDraft, type FatigueState } from '../../src/feedback/fatigue.js';
import { createFeaturizer } from '../../src/features/index.js';
import type { DecisionFeatures } from '../../src/features/types.js';
import { createPropensityEstimator } from '../../src/policies/explore/propensity.js';
import { createSelector, createSlateChoice, type SelectionInput, type SelectionParams } from '../../src/policies/explore/select.js';
import { createPolicy } from '../../src/policies/registry.js';
import { MemoryStore } from '../../src/storage/memory/index.js';
import { quantile, table, time, us, type Timing } from './stats.js';
import { argOf, engineCatalog, engineContext } from './workload.js';


const MODEL = 'bench';
const K = 50;
const SLOTS = 5;
const M = 64;
const RANKS = Number(argOf('--ranks', '1000'));
const TRAIN = Number(argOf('--train', '600'));
const BATCH = 100;
const modelConfig = {
  policy: { kind: 'linear-gaussian', structure: 'shared', covariance: 'full' },
  features: { bits: 12, interactions: [['user', 'item'], ['session', 'item']] },
  propensity: { draws: M },
  slots: SLOTS,
  seed: 1,
};

// ───────────────────────────── workload ─────────────────────────────

const rng = createRng('engine-bench');
const catalog = engineCatalog(rng);

function request(): RankRequest {
  const start = rng.int(catalog.length - K);
  return {
    userId: `user${rng.int(1000)}`,
    context: engineContext(rng),
    candidates: catalog.slice(start, start + K),
    slots: SLOTS,
  };
}

let now = 1_700_000_000_000;
let eventCounter = 0;
const engine = new Engine({
  store: new MemoryStore(),
  clock: () => now,
  newEventId: () => `e${eventCounter++}`,
  snapshotEvery: 0,
});
engine.putModel(MODEL, modelConfig);
const feedbackMix = createRng('feedback-mix');
const kindOf = (): FeedbackEvent['kind'] => (feedbackMix.uniform() < 0.1 ? 'click' : 'ignore');
const eventsOf = (res: RankResponse): FeedbackEvent[] => res.slate.map((s) => ({ eventId: res.eventId, itemId: s.id, kind: kindOf() }));

// ───────────────────────────── training ─────────────────────────────

const tTrain = performance.now();
for (let i = 0; i < TRAIN; i++) {
  now += 1000;
  engine.feedbackBatch(MODEL, eventsOf(engine.rank(MODEL, request())));
}
const trainSeconds = (performance.now() - tTrain) / 1000;
const posterior = engine.model(MODEL).describePosterior();

// ─────────────────────── rank, and the bare policy decision ───────────────────────

/**
 * Each rank is followed by the bare policy decision of the same request — a posterior copied
 * from the engine's (ranks do not change it), the same featurizer, the same decision seed —
 * so both see the same machine load (the machine is shared; interleaving keeps the ratio honest).
 * The engine's input differs only by its fatigue features and cool-downs.
 */
function rankAndBare(): { rank: Timing; bare: Timing; theta: Timing; featurize: Timing; sd: Timing; responses: RankResponse[] } {
  const model = engine.model(MODEL);
  const config = model.config;
  const policy = createPolicy(config.policy, model.posteriorSnapshot());
  const featurizer = createFeaturizer(config.features);
  const requests = Array.from({ length: RANKS }, (_, i) => ({ ...request(), eventId: `r${i}` }));
  const inputs: DecisionFeatures[] = requests.map((r) => featurizer.featurize(r.context, r.candidates));
  const mean = new Float64Array(K);
  const selections: SelectionInput[] = requests.map((r, i) => {
    const sd = new Float64Array(K);
    policy.summarize(inputs[i]!, mean, sd);
    return { groups: r.candidates.map((c) => c.group), cooledDown: new Uint8Array(K), recentGroups: new Set<string>(), sd };
  });
  const params: SelectionParams = {
    slots: SLOTS,
    share: config.budget.share,
    exploreTokens: config.budget.perUser?.burst ?? Infinity,
    floor: config.budget.floor,
    maxGroupShare: config.budget.maxGroupShare,
    rule: config.budget.rule,
  };
  const temperature = config.budget.temperature;
  const scores = new Float64Array(K);
  const selector = createSelector(K);
  const estimator = createPropensityEstimator();
  const choice = createSlateChoice(SLOTS);
  // draws = M + 1 lets the policy pick its cheaper exact method (score space here); draws = 1
  // forces θ-space draws (one posterior θ per draw): the same-run baseline of the choice.
  const bareOne = (i: number, draws = M + 1): void => {
    const features = inputs[i]!;
    const r = createRng(decisionSeed(config.seed, model.version, requests[i]!.eventId));
    const draw = policy.prepare
      ? policy.prepare(features, temperature, draws)
      : (g: typeof r, out: Float64Array) => policy.sample(features, g, out, temperature);
    draw(r, scores);
    selector.select(scores, selections[i]!, params, r, choice);
    estimator.estimate(draw, selections[i]!, params, choice, K, M, r.fork('propensity'));
  };
  const responses: RankResponse[] = [];
  const rankTimes: number[] = [];
  const bareTimes: number[] = [];
  const thetaTimes: number[] = [];
  for (let i = 0; i < RANKS; i++) {
    now += 1000;
    let t = performance.now();
    responses.push(engine.rank(MODEL, requests[i]!));
    rankTimes.push((performance.now() - t) * 1000);
    t = performance.now();
    bareOne(i);
    bareTimes.push((performance.now() - t) * 1000);
    if (i % 4 === 0) {
      t = performance.now();
      bareOne(i, 1);
      thetaTimes.push((performance.now() - t) * 1000);
    }
  }
  const featurize = time((i) => {
    const r = requests[i % RANKS]!;
    featurizer.featurize(r.context, r.candidates);
  }, RANKS);
  const sdOut = new Float64Array(K);
  const sd = time((i) => policy.summarize(inputs[i % RANKS]!, mean, sdOut), RANKS);
  return { rank: summary(rankTimes), bare: summary(bareTimes), theta: summary(thetaTimes), featurize, sd, responses };
}

/** Median, p99 and mean of per-call times in microseconds. */
function summary(times: number[]): Timing {
  const sorted = Float64Array.from(times).sort();
  return { median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean: times.reduce((a, b) => a + b, 0) / times.length, n: times.length };
}

const { rank, bare, theta, featurize, sd, responses } = rankAndBare();

// ───────────────────────────── feedback ─────────────────────────────

const singles: FeedbackEvent[] = [];
const batches: FeedbackEvent[][] = [];
{
  let b: FeedbackEvent[] = [];
  responses.forEach((res, i) => {
    for (const e of eventsOf(res)) {
      if (i % 2 === 0) singles.push(e);
      else {
        b.push(e);
        if (b.length === BATCH) {
          batches.push(b);
          b = [];
        }
      }
    }
  });
}
now += 1000;
const single = time((i) => engine.feedback(MODEL, singles[i]!), singles.length, { warmup: 0 });
const batch = time((i) => engine.feedbackBatch(MODEL, batches[i]!), batches.length, { warmup: 0 });

// ─────────────────────── fatigue memory of a long-lived user ───────────────────────

/**
 * Every ignored or dismissed impression folds into its user's fatigue memory, which is copied
 * (states are immutable) with its forgotten counts dropped: the cost grows with the user's
 * remembered counts. A new user (a dozen counts) against a long-lived one (800 counts, under the
 * default cap of 1,000), both rejecting items of a 3,000-item catalog once a minute.
 */
const HALF_LIFE = 604_800_000;
function fatigueOf(entries: number): { state: FatigueState; at: number } {
  let at = 1.7e12;
  let state: FatigueState = {};
  for (let i = 0; Object.keys(state).length < entries; i++) {
    state = foldFatigue(state, { itemId: `item${i}`, group: `g${i % 40}`, rejection: true, amount: 1, at: (at += 60_000) }, HALF_LIFE, 1000);
  }
  return { state, at };
}
const rejectionAt = (i: number, at: number) => ({ itemId: `item${(i * 7) % 3000}`, group: `g${i % 40}`, rejection: true, amount: 1, at });
function foldTiming(entries: number): Timing {
  const { state, at } = fatigueOf(entries);
  return time((i) => {
    foldFatigue(state, rejectionAt(i, at + i * 60_000), HALF_LIFE, 1000);
  }, 2000);
}
const foldNew = foldTiming(12);
const foldOld = foldTiming(800);
// A slate's five ignores closing together (one sweep, one deadline): five copying folds against
// one copy and four folds in place (what the engine does within one call).
const longLived = fatigueOf(800);
const fiveCopies = time((i) => {
  let s = longLived.state;
  const at = longLived.at + i * 60_000;
  for (let j = 0; j < 5; j++) s = foldFatigue(s, rejectionAt(5 * i + j, at), HALF_LIFE, 1000);
}, 1000);
const fiveInPlace = time((i) => {
  const at = longLived.at + i * 60_000;
  const draft = draftFatigue(longLived.state, rejectionAt(5 * i, at), HALF_LIFE, 1000);
  for (let j = 1; j < 5; j++) foldFatigueDraft(draft, rejectionAt(5 * i + j, at), HALF_LIFE, 1000);
}, 1000);

// ───────────────────────────── report ─────────────────────────────

const perSecond = (t: Timing, events = 1): string => `${Math.round((events * 1e6) / t.median).toLocaleString('en-US')}/s`;
console.log(
  `liubai engine benchmark — in-process Engine + MemoryStore; linear-gaussian (shared, full covariance ≤ 256 dims), ` +
    `k = ${K}, slots = ${SLOTS}, bits = 12, 2 interactions, M = ${M}`,
);
console.log(
  `node ${process.version}; trained on ${TRAIN.toLocaleString('en-US')} ranks + ${(TRAIN * SLOTS).toLocaleString('en-US')} feedback events in ${trainSeconds.toFixed(1)} s; ` +
    `posterior: ${String(posterior['denseDims'])} dense + ${String(posterior['diagonalDims'])} diagonal dims\n`,
);
table(
  ['operation', 'n', 'p50', 'p99', 'mean', 'throughput (p50)'],
  [
    ['rank (engine)', `${rank.n}`, us(rank.median), us(rank.p99), us(rank.mean), perSecond(rank)],
    ['bare decision (prepare + draw + select + M = 64)', `${bare.n}`, us(bare.median), us(bare.p99), us(bare.mean), perSecond(bare)],
    ['  the same, θ-space draws forced (baseline)', `${theta.n}`, us(theta.median), us(theta.p99), us(theta.mean), perSecond(theta)],
    ['  featurize (in rank)', `${featurize.n}`, us(featurize.median), us(featurize.p99), us(featurize.mean), ''],
    ['  posterior sd for the uncertain rule (in rank)', `${sd.n}`, us(sd.median), us(sd.p99), us(sd.mean), ''],
    ['feedback, single event', `${single.n}`, us(single.median), us(single.p99), us(single.mean), perSecond(single)],
    [`feedback, batch of ${BATCH}`, `${batch.n}`, us(batch.median), us(batch.p99), us(batch.mean), `${perSecond(batch, BATCH)} events`],
    [`  per event in a batch`, '', us(batch.median / BATCH), '', us(batch.mean / BATCH), ''],
    ['fatigue fold, new user (12 counts)', `${foldNew.n}`, us(foldNew.median), us(foldNew.p99), us(foldNew.mean), perSecond(foldNew)],
    ['fatigue fold, long-lived user (800 counts)', `${foldOld.n}`, us(foldOld.median), us(foldOld.p99), us(foldOld.mean), perSecond(foldOld)],
    ['  5 ignores of one slate, a copy per fold (baseline)', `${fiveCopies.n}`, us(fiveCopies.median), us(fiveCopies.p99), us(fiveCopies.mean), ''],
    ['  5 ignores of one slate, 1 copy + 4 in place', `${fiveInPlace.n}`, us(fiveInPlace.median), us(fiveInPlace.p99), us(fiveInPlace.mean), ''],
  ],
);
console.log(
  `\nrank / bare decision (medians): ${(rank.median / bare.median).toFixed(2)}× — the engine's overhead is ` +
    `${us(rank.median - bare.median)} per rank (featurize, fatigue, posterior sd, store, records).\n` +
    `θ-space / chosen draws (bare decision medians, same run): ${(theta.median / bare.median).toFixed(2)}×.\n` +
    `fatigue of a long-lived user, a slate's 5 ignores: copy per fold / in place (medians, same run): ${(fiveCopies.median / fiveInPlace.median).toFixed(2)}×.`,
);
