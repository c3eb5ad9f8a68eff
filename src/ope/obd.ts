/**
 * A check of the OPE estimators against real data: the Open Bandit Dataset (OBD) protocol of
 * Saito, Aihara, Matsutani & Narita, "Open Bandit Dataset and Pipeline" (NeurIPS 2021 Datasets
 * and Benchmarks). ZOZOTOWN ran a uniform-random policy and a Bernoulli Thompson sampling (BTS)
 * policy side by side; estimating BTS's click rate off-policy from the **random** log and
 * comparing it with the click rate BTS actually got in its own (**bts**) log is a test of the
 * estimators on a real, known answer.
 *
 * The evaluation policy is BTS with the production Beta priors (`bts_prior/prior_bts.yaml`):
 * each impression, draw θ_a ~ Beta(α_a, β_a) for every item and show the top L draws at
 * positions 1..L. Its position-wise action distribution π_e(a at l) does not depend on the
 * context and is estimated once by Monte Carlo over `draws` rankings (as OBP's
 * `BernoulliTS.compute_batch_action_dist`). Each OBD row is one (item, position) impression, so
 * the estimators are position-wise: the value is the click rate per impression,
 *   V̂_IPS = (1/n) Σ_i π_e(a_i at l_i) / π₀(a_i at l_i) · r_i,  π₀ = 1/K on the random log,
 * and DM/DR use a cross-fitted logistic reward model q̂(x, a, l) of the random log.
 *
 * Pure: the CLI reads the files (`loadObd`, the YAML text) and passes them in.
 */
import { z } from 'zod';
import type { Rng } from '../core/rng.js';
import type { ObdData } from '../simulation/environments/csv.js';
import { OpeInputError } from './errors.js';
import { ESTIMATOR_NAMES, evaluate, type EstimatorName } from './evaluate.js';
import { normalQuantile } from './intervals.js';
import { fitLogistic, type RewardModel } from './linear-model.js';

/** Beta(α_a, β_a) prior parameters of one campaign, indexed by item id. */
export interface BtsPrior {
  readonly alpha: readonly number[];
  readonly beta: readonly number[];
}

/**
 * Parse OBP's `prior_bts.yaml`: top-level campaigns (`all`, `men`, `women`), each with an
 * `alpha:` and a `beta:` list of numbers (`    - 47.0`). Only this shape is accepted — it is
 * checked, not guessed: two-space-indented keys, four-space-indented list items, positive finite
 * numbers, equal lengths.
 * @returns campaign → prior
 * @throws OpeInputError `prior` naming the line of the first problem
 */
export function parseBtsPrior(text: string): Record<string, BtsPrior> {
  const out: Record<string, { alpha: number[]; beta: number[] }> = {};
  let campaign: string | null = null;
  let list: number[] | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/\s+#.*$/, '').replace(/\s+$/, '');
    const where = `line ${i + 1}`;
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    let m: RegExpMatchArray | null;
    if ((m = /^([A-Za-z0-9_-]+):$/.exec(line))) {
      campaign = m[1]!;
      if (out[campaign]) throw new OpeInputError('prior', `${where}: campaign ${campaign} appears twice`);
      out[campaign] = { alpha: [], beta: [] };
      list = null;
    } else if ((m = /^ {2}(alpha|beta):$/.exec(line))) {
      if (campaign === null) throw new OpeInputError('prior', `${where}: ${m[1]} outside a campaign`);
      list = out[campaign]![m[1] as 'alpha' | 'beta'];
      if (list.length > 0) throw new OpeInputError('prior', `${where}: ${campaign}.${m[1]} appears twice`);
    } else if ((m = /^ {4}- (\S+)$/.exec(line))) {
      if (list === null) throw new OpeInputError('prior', `${where}: a list item outside alpha/beta`);
      const v = Number(m[1]);
      if (!(Number.isFinite(v) && v > 0)) throw new OpeInputError('prior', `${where}: ${m[1]} is not a positive number`);
      list.push(v);
    } else {
      throw new OpeInputError('prior', `${where}: unexpected ${JSON.stringify(raw)} (expected campaign:, alpha:/beta:, or - number)`);
    }
  });
  const campaigns = Object.keys(out);
  if (campaigns.length === 0) throw new OpeInputError('prior', 'no campaign found');
  for (const c of campaigns) {
    const { alpha, beta } = out[c]!;
    if (alpha.length === 0 || alpha.length !== beta.length) {
      throw new OpeInputError('prior', `campaign ${c}: alpha has ${alpha.length} values and beta ${beta.length}; they must be equal and non-empty`);
    }
  }
  return out;
}

/**
 * Position-wise action distribution of Bernoulli TS with Beta(α_a, β_a) per item: over `draws`
 * rankings, θ_a ~ Beta(α_a, β_a) independently and the top L items by θ fill positions 1..L;
 * entry [a·L + l] is the share of rankings with item a at position l (each column sums to 1).
 * Monte-Carlo error of an entry p: √(p(1 − p)/draws).
 * Reference: OBP `BernoulliTS.compute_batch_action_dist` (Saito et al. 2021).
 * @returns K×L row-major
 * @throws OpeInputError `positions` (integer in [1, K]), `draws` (integer ≥ 1)
 */
export function btsPositionDistribution(prior: BtsPrior, positions: number, draws: number, rng: Rng): Float64Array {
  const K = prior.alpha.length;
  if (!Number.isInteger(positions) || positions < 1 || positions > K) throw new OpeInputError('positions', `must be an integer in [1, ${K}], got ${positions}`);
  if (!Number.isInteger(draws) || draws < 1) throw new OpeInputError('draws', `must be an integer >= 1, got ${draws}`);
  const L = positions;
  const counts = new Float64Array(K * L);
  const theta = new Float64Array(K);
  const top = new Int32Array(L);
  for (let d = 0; d < draws; d++) {
    for (let a = 0; a < K; a++) theta[a] = rng.beta(prior.alpha[a]!, prior.beta[a]!);
    // Partial selection of the L largest (L is small): continuous draws, so ties have probability 0.
    for (let l = 0; l < L; l++) {
      let best = -1;
      let bestValue = Number.NEGATIVE_INFINITY;
      for (let a = 0; a < K; a++) {
        const v = theta[a]!;
        if (v > bestValue) {
          let taken = false;
          for (let j = 0; j < l; j++) if (top[j] === a) taken = true;
          if (!taken) {
            best = a;
            bestValue = v;
          }
        }
      }
      top[l] = best;
      counts[best * L + l]! += 1;
    }
  }
  for (let j = 0; j < K * L; j++) counts[j]! /= draws;
  return counts;
}

/** Published on-policy click rates (full data, Table 1 of the OBD paper), as fractions. */
export const OBD_PUBLISHED_CTR: Readonly<Record<string, { readonly random: number; readonly bts: number }>> = {
  all: { random: 0.0035, bts: 0.005 },
  men: { random: 0.0051, bts: 0.0067 },
  women: { random: 0.0048, bts: 0.0064 },
};

/** Estimators of the OBD check (replay is left out: BTS is not deterministic). */
export const OBD_ESTIMATORS = ['ips', 'snips', 'dm', 'dr', 'sndr'] as const satisfies readonly EstimatorName[];

/**
 * The scenario file of the OBD check (`simulations/obd-ope.json`), run by
 * `liubai evaluate --scenario simulations/obd-ope.json`.
 */
export const obdOpeScenarioSchema = z
  .object({
    kind: z.literal('obd-ope'),
    name: z.string().min(1).max(200).default('obd-ope'),
    /** Campaigns with both logs in the data folder (the small sample has men and women). */
    campaigns: z.array(z.enum(['all', 'men', 'women'])).min(1).default(['men', 'women']),
    estimators: z.array(z.enum(ESTIMATOR_NAMES)).min(1).default([...OBD_ESTIMATORS]),
    /** Monte-Carlo rankings for BTS's action distribution. */
    draws: z.number().int().min(1).max(10_000_000).default(100_000),
    /** Bootstrap resamples of each interval. */
    resamples: z.number().int().min(2).max(100_000).default(2000),
    level: z.number().gt(0).lt(1).default(0.95),
    /** Importance-weight clipping (null = none). */
    clip: z.number().positive().nullable().default(null),
    seed: z.union([z.number().int(), z.string().min(1)]).default(2024),
    rewardModel: z
      .object({
        /** L2 penalty of the logistic reward model. */
        lambda: z.number().min(0).max(1e6).default(1),
        /** Cross-fitting folds. */
        folds: z.number().int().min(1).max(20).default(3),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ObdOpeScenario = z.output<typeof obdOpeScenarioSchema>;
export type ObdOpeScenarioInput = z.input<typeof obdOpeScenarioSchema>;

/** Options of {@link evaluateObdCampaign}. */
export interface ObdOpeOptions {
  readonly estimators?: readonly EstimatorName[];
  readonly draws?: number;
  readonly resamples?: number;
  readonly level?: number;
  readonly clip?: number | null;
  readonly lambda?: number;
  readonly folds?: number;
  readonly rng: Rng;
}

/** A click rate with its normal (Wald) interval. */
export interface ClickRate {
  readonly n: number;
  readonly clicks: number;
  readonly value: number;
  readonly lower: number;
  readonly upper: number;
}

/** One estimator's estimate of BTS's click rate from the random log, against the bts log's. */
export interface ObdEstimateRow {
  readonly estimator: EstimatorName;
  readonly value: number;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly standardError: number | null;
  readonly ess: number | null;
  /** (estimate − bts on-policy CTR) / bts on-policy CTR. */
  readonly relativeError: number;
  /** Whether the interval covers the bts log's on-policy CTR (point value). */
  readonly covers: boolean | null;
  /** Whether the estimate is above the random log's CTR (the sign of BTS − random). */
  readonly aboveRandom: boolean;
}

/** The OBD check of one campaign. */
export interface ObdCampaignResult {
  readonly campaign: string;
  readonly items: number;
  readonly positions: number;
  /** On-policy click rate of the random log (the logging policy). */
  readonly random: ClickRate;
  /** On-policy click rate of the bts log: the answer the estimates are compared with. */
  readonly bts: ClickRate;
  readonly published: { readonly random: number; readonly bts: number } | null;
  readonly rows: readonly ObdEstimateRow[];
  /** Monte-Carlo rankings behind π_e. */
  readonly draws: number;
  /** The largest importance weight max π_e/π₀ on the random log. */
  readonly maxWeight: number;
  readonly rewardModel: { readonly kind: 'logistic'; readonly dimension: number; readonly folds: number; readonly lambda: number };
}

/** Wald interval of a click rate, p ± z·√(p(1 − p)/n). */
export function clickRate(clicks: readonly number[], level = 0.95): ClickRate {
  const n = clicks.length;
  let c = 0;
  for (const x of clicks) c += x;
  const p = n > 0 ? c / n : 0;
  const half = normalQuantile(1 - (1 - level) / 2) * Math.sqrt((p * (1 - p)) / Math.max(1, n));
  return { n, clicks: c, value: p, lower: p - half, upper: p + half };
}

/**
 * Estimate the Bernoulli-TS policy's click rate from the random log of a campaign with IPS,
 * SNIPS, DM, DR and SNDR (position-wise, see the module documentation), each with a percentile
 * bootstrap interval and the weights' ESS, and compare with the bts log's on-policy click rate.
 *
 * Reward model (DM, DR, SNDR): L2-regularised logistic regression on
 * φ(x, a, l) = [1, 1{a = j} (j < K), 1{l = 2}, 1{l = 3}, one-hot user features, log(1 + affinity(x, a))],
 * cross-fitted over `folds` folds of the rows (row i predicted by the model fitted without fold i mod K).
 *
 * @param random the campaign's random log (`loadObd(root, { behaviorPolicy: 'random', campaign })`)
 * @param bts the campaign's bts log (only its clicks are used: the on-policy answer)
 * @param prior the campaign's BTS prior ({@link parseBtsPrior})
 * @throws OpeInputError when the prior's item count differs from the log's, or on invalid options
 */
export function evaluateObdCampaign(random: ObdData, bts: ObdData, prior: BtsPrior, options: ObdOpeOptions): ObdCampaignResult {
  const K = random.nItems;
  if (prior.alpha.length !== K) throw new OpeInputError('prior', `has ${prior.alpha.length} items, the ${random.campaign} log has ${K}`);
  const n = random.itemIds.length;
  if (n === 0) throw new OpeInputError('random', 'the random log is empty');
  const L = Math.max(...random.positions);
  const draws = options.draws ?? 100_000;
  const level = options.level ?? 0.95;
  const lambda = options.lambda ?? 1;
  const folds = options.folds ?? 3;
  if (!Number.isInteger(folds) || folds < 1 || folds > n) throw new OpeInputError('folds', `must be an integer in [1, ${n}], got ${folds}`);
  const rng = options.rng;

  const dist = btsPositionDistribution(prior, L, draws, rng.fork('bts-action-distribution'));
  const reward = Float64Array.from(random.clicks);
  const propensity = Float64Array.from(random.propensities);
  const targetProbability = new Float64Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    targetProbability[i] = dist[random.itemIds[i]! * L + random.positions[i]! - 1]!;
    maxWeight = Math.max(maxWeight, targetProbability[i]! / propensity[i]!);
  }

  // Reward model design.
  const userValues = random.userFeatureNames.map((_, f) => [...new Set(random.userFeatures.map((u) => u[f]!))].sort());
  const userIndex = userValues.map((values) => new Map(values.map((v, j) => [v, j])));
  const userOffset: number[] = [];
  let d = 1 + (K - 1) + (L - 1);
  for (const values of userValues) {
    userOffset.push(d);
    d += values.length - 1;
  }
  const affinityColumn = d++;
  const fill = (x: Float64Array, at: number, i: number, a: number, l: number): void => {
    x.fill(0, at, at + d);
    x[at] = 1;
    if (a > 0) x[at + a] = 1;
    if (l > 0) x[at + K - 1 + l] = 1;
    random.userFeatures[i]!.forEach((v, f) => {
      const j = userIndex[f]!.get(v) ?? 0;
      if (j > 0) x[at + userOffset[f]! + j - 1] = 1;
    });
    x[at + affinityColumn] = Math.log1p(Math.max(0, random.affinities[i]![a] ?? 0));
  };
  const models: RewardModel[] = [];
  for (let f = 0; f < folds; f++) {
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (folds === 1 || i % folds !== f) rows.push(i);
    const X = new Float64Array(rows.length * d);
    const y = new Float64Array(rows.length);
    rows.forEach((i, r) => {
      fill(X, r * d, i, random.itemIds[i]!, random.positions[i]! - 1);
      y[r] = random.clicks[i]!;
    });
    models.push(fitLogistic(X, y, lambda));
  }
  const x = new Float64Array(d);
  const estimatedReward = new Float64Array(n);
  const estimatedTargetValue = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const model = models[folds === 1 ? 0 : i % folds]!;
    const l = random.positions[i]! - 1;
    let v = 0;
    for (let a = 0; a < K; a++) {
      const pi = dist[a * L + l]!;
      if (pi === 0 && a !== random.itemIds[i]) continue;
      fill(x, 0, i, a, l);
      const q = model(x);
      v += pi * q;
      if (a === random.itemIds[i]) estimatedReward[i] = q;
    }
    estimatedTargetValue[i] = v;
  }

  const truth = clickRate(bts.clicks, level);
  const base = clickRate(random.clicks, level);
  const rows = evaluate(
    { reward, propensity, targetProbability, estimatedReward, estimatedTargetValue },
    {
      estimators: [...(options.estimators ?? OBD_ESTIMATORS)],
      clip: options.clip ?? Number.POSITIVE_INFINITY,
      interval: { method: 'bootstrap', level, resamples: options.resamples ?? 2000 },
      rng: rng.fork('bootstrap'),
    },
  ).map(
    (r): ObdEstimateRow => ({
      estimator: r.estimator,
      value: r.value,
      lower: r.lower,
      upper: r.upper,
      standardError: r.standardError,
      ess: r.ess,
      relativeError: (r.value - truth.value) / truth.value,
      covers: r.lower === null || r.upper === null ? null : r.lower <= truth.value && truth.value <= r.upper,
      aboveRandom: r.value > base.value,
    }),
  );
  return {
    campaign: random.campaign,
    items: K,
    positions: L,
    random: base,
    bts: truth,
    published: OBD_PUBLISHED_CTR[random.campaign] ?? null,
    rows,
    draws,
    maxWeight,
    rewardModel: { kind: 'logistic', dimension: d, folds, lambda },
  };
}
