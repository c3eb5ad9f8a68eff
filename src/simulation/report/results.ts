/**
 * The machine-readable result of a scenario run (`results.json`): per-seed totals and series,
 * and per policy the mean ± 95% CI across seeds (Student t, {@link meanCi}) of every headline
 * metric and of every series point. Aggregation walks policies and seeds in scenario order, so
 * the same runs give the same bytes whatever the number of workers.
 *
 * Seeds are the unit of replication: each seed is an independent population and arrival stream,
 * and every policy meets the same one (common random numbers), so differences between
 * policies are reported paired by seed — much tighter than comparing two independent CIs.
 */
import { meanCi, type MeanCi } from '../../core/stats.js';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from '../../engine/config.js';
import type { EnvironmentConfig } from '../environments/index.js';
import type { JobResult } from '../parallel.js';
import type { RunSeries, RunTotals } from '../runner.js';
import { environmentForSeed, METRICS, resolveSeeds, type Metric, type Scenario } from '../scenario.js';

/** Format version of `results.json`. */
export const RESULTS_FORMAT = 1;

/** Mean and 95% CI across seeds at each point of a series. */
export interface BandSeries {
  readonly mean: number[];
  readonly lower: number[];
  readonly upper: number[];
}

/** A policy's series aggregated over seeds. */
export interface AggregatedSeries {
  readonly step: number[];
  readonly cumulativeReward: BandSeries;
  readonly cumulativeRegret: BandSeries;
  readonly exploredShare: BandSeries;
  /** Each group's mean share of the shown items per window (absent in a seed = 0). */
  readonly groupShares: Record<string, number[]>;
  /**
   * Mean over seeds (where the item was among that seed's top items) of the posterior mean
   * score of each item, items ordered by their mean at the last point, highest first.
   */
  readonly topItemMeans: Record<string, number[]>;
}

/** One seed's run of one policy. */
export interface SeedRun {
  readonly seed: number;
  readonly totals: RunTotals;
  readonly series: RunSeries;
}

/** Everything about one policy. */
export interface PolicyResults {
  readonly name: string;
  /** The config as written in the scenario. */
  readonly config: ModelConfigInput;
  /** The config the engine ran (every default filled in). */
  readonly effectiveConfig: ModelConfig;
  /** Mean ± 95% CI across seeds of each headline metric (null bounds with a single seed). */
  readonly summary: Record<Metric, MeanCi>;
  /** Paired difference (this policy − the first policy) per seed, mean ± 95% CI; null for the first. */
  readonly versusFirst: Record<Metric, MeanCi> | null;
  /** Paired difference of the cumulative reward to the first policy at each point; null for the first. */
  readonly rewardVersusFirst: BandSeries | null;
  readonly series: AggregatedSeries;
  readonly tfBackend: string | null;
  readonly perSeed: SeedRun[];
}

/** Facts about the environment, for the report header. */
export interface EnvironmentInfo {
  readonly kind: string;
  readonly name: string;
  readonly config: EnvironmentConfig;
  readonly items: number;
  readonly groups: number;
}

/** The environment of the scenario's first seed, described. */
export function environmentInfo(scenario: Scenario): EnvironmentInfo {
  const env = environmentForSeed(scenario.environment, resolveSeeds(scenario.seeds)[0]!);
  return {
    kind: scenario.environment.kind,
    name: env.name,
    config: scenario.environment,
    items: env.groups.size,
    groups: new Set(env.groups.values()).size,
  };
}

/** Timing of the run: the only part of `results.json` that differs between identical runs. */
export interface RunInfo {
  readonly startedAt: string;
  readonly elapsedMs: number;
  readonly workers: number;
  readonly decisions: number;
  readonly decisionsPerSecond: number;
}

/** The whole `results.json`. */
export interface SimulationResults {
  readonly format: number;
  readonly liubaiVersion: string;
  readonly scenario: Scenario;
  readonly environment: EnvironmentInfo;
  readonly seeds: number[];
  /** The first tensorflow.js backend a policy reported, else null. */
  readonly tfBackend: string | null;
  readonly policies: PolicyResults[];
  readonly run: RunInfo;
}

/** Mean and CI at each index of equally long per-seed arrays. */
export function bandOf(perSeed: ReadonlyArray<readonly number[]>): BandSeries {
  const n = perSeed[0]?.length ?? 0;
  const out: BandSeries = { mean: [], lower: [], upper: [] };
  const column = new Float64Array(perSeed.length);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < perSeed.length; s++) column[s] = perSeed[s]![i] ?? Number.NaN;
    const ci = meanCi(column);
    out.mean.push(ci.mean);
    out.lower.push(ci.lower);
    out.upper.push(ci.upper);
  }
  return out;
}

function metricCis(totals: readonly RunTotals[]): Record<Metric, MeanCi> {
  const out = {} as Record<Metric, MeanCi>;
  for (const m of METRICS) out[m] = meanCi(totals.map((t) => t[m]));
  return out;
}

function pairedCis(a: readonly RunTotals[], b: readonly RunTotals[]): Record<Metric, MeanCi> {
  const out = {} as Record<Metric, MeanCi>;
  for (const m of METRICS) out[m] = meanCi(a.map((t, i) => t[m] - b[i]![m]));
  return out;
}

/** Aggregate the per-seed series of one policy (all seeds share the step grid). */
export function aggregateSeries(runs: readonly SeedRun[]): AggregatedSeries {
  const first = runs[0]?.series;
  const len = first?.step.length ?? 0;
  const groups = new Set<string>();
  const items = new Set<string>();
  for (const r of runs) {
    for (const g of Object.keys(r.series.groupShares)) groups.add(g);
    for (const i of Object.keys(r.series.topItemMeans)) items.add(i);
  }
  const groupShares: Record<string, number[]> = {};
  for (const g of [...groups].sort()) {
    const arr: number[] = [];
    for (let i = 0; i < len; i++) {
      let s = 0;
      for (const r of runs) s += r.series.groupShares[g]?.[i] ?? 0;
      arr.push(s / runs.length);
    }
    groupShares[g] = arr;
  }
  const itemMeans: Array<[string, number[]]> = [];
  for (const id of [...items].sort()) {
    const arr: number[] = [];
    for (let i = 0; i < len; i++) {
      let s = 0;
      let n = 0;
      for (const r of runs) {
        const v = r.series.topItemMeans[id]?.[i];
        if (v !== undefined && Number.isFinite(v)) {
          s += v;
          n++;
        }
      }
      arr.push(n > 0 ? s / n : Number.NaN);
    }
    itemMeans.push([id, arr]);
  }
  itemMeans.sort((a, b) => (b[1][len - 1] ?? -Infinity) - (a[1][len - 1] ?? -Infinity) || (a[0] < b[0] ? -1 : 1));
  const topItemMeans: Record<string, number[]> = {};
  for (const [id, arr] of itemMeans) topItemMeans[id] = arr;
  return {
    step: first ? [...first.step] : [],
    cumulativeReward: bandOf(runs.map((r) => r.series.cumulativeReward)),
    cumulativeRegret: bandOf(runs.map((r) => r.series.cumulativeRegret)),
    exploredShare: bandOf(runs.map((r) => r.series.exploredShare)),
    groupShares,
    topItemMeans,
  };
}

/**
 * Assemble `results.json` from the job results of {@link scenarioJobs} (policy-major order:
 * every seed of policy 0, then of policy 1, …).
 * @throws Error when the number of results does not match policies × seeds
 */
export function buildResults(input: {
  scenario: Scenario;
  results: readonly JobResult[];
  environment: EnvironmentInfo;
  liubaiVersion: string;
  run: RunInfo;
}): SimulationResults {
  const { scenario, results } = input;
  const seeds = resolveSeeds(scenario.seeds);
  if (results.length !== scenario.policies.length * seeds.length) {
    throw new Error(`expected ${scenario.policies.length * seeds.length} results, got ${results.length}`);
  }
  const runsOf = (p: number): SeedRun[] =>
    seeds.map((seed, s) => {
      const r = results[p * seeds.length + s]!;
      if (!r.series) throw new Error(`run of policy ${p}, seed ${seed} has no series`);
      return { seed, totals: r.totals, series: r.series };
    });
  const baseline = runsOf(0);
  const policies = scenario.policies.map((policy, p): PolicyResults => {
    const runs = p === 0 ? baseline : runsOf(p);
    const totals = runs.map((r) => r.totals);
    const backend = results.slice(p * seeds.length, (p + 1) * seeds.length).find((r) => r.tfBackend !== null)?.tfBackend ?? null;
    return {
      name: policy.name,
      config: policy.config,
      effectiveConfig: parseModelConfig(policy.config),
      summary: metricCis(totals),
      versusFirst: p === 0 ? null : pairedCis(totals, baseline.map((r) => r.totals)),
      rewardVersusFirst:
        p === 0
          ? null
          : bandOf(runs.map((r, s) => r.series.cumulativeReward.map((v, i) => v - (baseline[s]!.series.cumulativeReward[i] ?? Number.NaN)))),
      series: aggregateSeries(runs),
      tfBackend: backend,
      perSeed: runs,
    };
  });
  return {
    format: RESULTS_FORMAT,
    liubaiVersion: input.liubaiVersion,
    scenario,
    environment: input.environment,
    seeds,
    tfBackend: policies.find((p) => p.tfBackend !== null)?.tfBackend ?? null,
    policies,
    run: input.run,
  };
}

/**
 * JSON with two-space indentation, except that arrays of numbers, strings, booleans or nulls
 * stay on one line: series of 100 points remain readable and the file stays small. Parses back
 * to exactly what `JSON.stringify` would give (NaN and ±Infinity become null).
 */
export function toJson(value: unknown, indent = ''): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) return `[${value.map((v) => JSON.stringify(v) ?? 'null').join(',')}]`;
    return `[\n${value.map((v) => `${inner}${toJson(v, inner)}`).join(',\n')}\n${indent}]`;
  }
  const toJsonMethod = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJsonMethod === 'function') return toJson(toJsonMethod.call(value), indent);
  const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function');
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${toJson(v, inner)}`).join(',\n')}\n${indent}}`;
}
