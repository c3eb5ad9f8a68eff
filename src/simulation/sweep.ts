/**
 * Parameter sweeps in simulation: take one policy's config from a scenario, apply every
 * combination of a grid of dotted-path overrides (`budget.share=0,0.02,0.05`), run every
 * setting on every seed, and say which setting is best and how sure we are.
 *
 * Every setting runs on the same seeds, so each seed meets the same population and arrivals
 * under every setting (common random numbers) and comparisons are paired by seed. "How sure":
 * - P(best): the share of bootstrap resamples of the seeds (Efron & Tibshirani 1993, ch. 6;
 *   seeds resampled jointly for all settings, keeping the pairing) in which the setting has
 *   the best mean;
 * - the paired 95% CI (Student t over seeds) of the best setting's difference to the runner-up.
 * Both are about the simulated population; with few seeds P(best) is optimistic for the
 * winner of many settings (the winner's curse), which the paired CI helps put in proportion.
 */
import { createRng, type Rng } from '../core/rng.js';
import { meanCi, type MeanCi } from '../core/stats.js';
import { repeatedValue } from '../core/values.js';
import { modelConfigSchema, type ModelConfigInput } from '../engine/config.js';
import { runJobs, scenarioJobs, type ParallelOptions } from './parallel.js';
import { environmentInfo, type EnvironmentInfo } from './report/results.js';
import type { RunTotals } from './runner.js';
import { dottedPath, METRICS, resolveSeeds, type Metric, type Scenario } from './scenario.js';
import { performance } from 'node:perf_hooks';

/** Format version of `sweep.json`. */
export const SWEEP_FORMAT = 1;

/** Metrics a sweep can optimise, and their direction. */
export const SWEEP_METRICS: Readonly<Partial<Record<Metric, 'higher' | 'lower'>>> = {
  reward: 'higher',
  expectedReward: 'higher',
  clickThrough: 'higher',
  regret: 'lower',
};

/** One axis of a grid: a dotted path into the model config and the values it takes. */
export interface GridAxis {
  /** Dotted path as written (`budget.share`). */
  readonly key: string;
  readonly path: readonly string[];
  readonly values: readonly unknown[];
}

/** A sweep problem in the input (bad grid, unknown policy, invalid setting). */
export class SweepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepError';
  }
}

/** Split on commas that are not inside brackets, braces or a JSON string. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A grid value: JSON when it parses (numbers, booleans, null, arrays, objects), else the bare string. */
export function parseGridValue(text: string): unknown {
  const t = text.trim();
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return t;
  }
}

/**
 * Parse `path=v1,v2,…` (e.g. `budget.share=0,0.02,0.05`, `budget.rule=uniform,uncertain`,
 * `feedback.examination=[1],[1,0.6,0.4]`).
 * @throws SweepError on a missing `=`, an empty path segment, or no values
 */
export function parseGridSpec(spec: string): GridAxis {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new SweepError(`--grid ${JSON.stringify(spec)}: expected path=value1,value2,…`);
  const key = spec.slice(0, eq).trim();
  const path = key.split('.');
  if (path.some((p) => p.length === 0)) throw new SweepError(`--grid ${JSON.stringify(spec)}: empty segment in path ${JSON.stringify(key)}`);
  const raw = spec.slice(eq + 1);
  const values = splitTopLevel(raw).filter((v) => v.trim().length > 0).map(parseGridValue);
  if (values.length === 0) throw new SweepError(`--grid ${JSON.stringify(spec)}: no values`);
  const repeated = repeatedValue(values);
  if (repeated !== undefined) throw new SweepError(`--grid ${JSON.stringify(spec)}: the value ${JSON.stringify(repeated)} is given twice`);
  return { key, path, values };
}

/** One point of the grid: the value of each axis, by key, in axis order. */
export type GridSetting = Readonly<Record<string, unknown>>;

/**
 * Every combination of the axes' values (Cartesian product), the first axis varying slowest.
 * @throws SweepError when two axes share a key
 */
export function gridSettings(axes: readonly GridAxis[]): GridSetting[] {
  const keys = new Set<string>();
  for (const a of axes) {
    if (keys.has(a.key)) throw new SweepError(`--grid ${a.key} given twice`);
    keys.add(a.key);
  }
  let out: Array<Record<string, unknown>> = [{}];
  for (const a of axes) out = out.flatMap((s) => a.values.map((v) => ({ ...s, [a.key]: v })));
  return out;
}

/** A deep copy of JSON-like data. */
function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/**
 * The config with `value` set at the dotted `path` (intermediate objects created as needed;
 * numeric segments index arrays that exist). The input is not modified.
 */
export function setPath(config: ModelConfigInput, path: readonly string[], value: unknown): ModelConfigInput {
  const root = clone(config) as Record<string, unknown>;
  let node: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const next: unknown = Array.isArray(node) ? node[Number(key)] : node[key];
    const child: Record<string, unknown> = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : {};
    if (Array.isArray(node)) node[Number(key)] = child;
    else node[key] = child;
    node = child;
  }
  const last = path[path.length - 1]!;
  if (Array.isArray(node)) node[Number(last)] = clone(value);
  else node[last] = clone(value);
  return root as ModelConfigInput;
}

/** A setting applied to a base config. */
export function applySetting(base: ModelConfigInput, axes: readonly GridAxis[], setting: GridSetting): ModelConfigInput {
  let config = base;
  for (const a of axes) config = setPath(config, a.path, setting[a.key]);
  return config;
}

/** `budget.share=0.05 budget.temperature=1` */
export function settingLabel(setting: GridSetting): string {
  return Object.entries(setting)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/**
 * The configs of every setting, each validated against the model config schema.
 * @throws SweepError listing every invalid setting with the offending field path
 */
export function sweepConfigs(base: ModelConfigInput, axes: readonly GridAxis[]): Array<{ setting: GridSetting; config: ModelConfigInput }> {
  const settings = gridSettings(axes);
  const problems: string[] = [];
  const out = settings.map((setting) => {
    const config = applySetting(base, axes, setting);
    const parsed = modelConfigSchema.safeParse(config);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`  ${settingLabel(setting)}: ${dottedPath(issue.path)}: ${issue.message}`);
    }
    return { setting, config };
  });
  if (problems.length > 0) throw new SweepError(`invalid grid settings:\n${[...new Set(problems)].join('\n')}`);
  return out;
}

/** Which setting is best and how sure we are. */
export interface SweepAnalysis {
  /** Mean ± 95% CI over seeds of the metric, per setting. */
  readonly summaries: MeanCi[];
  /** Share of bootstrap resamples in which each setting has the best mean. */
  readonly probabilityBest: number[];
  readonly best: number;
  /** The setting with the second-best mean (−1 with a single setting). */
  readonly runnerUp: number;
  /** Paired by seed: best − runner-up (for `lower` metrics: runner-up − best, so > 0 favours the best). */
  readonly advantageOverRunnerUp: MeanCi | null;
  /** Paired by seed, per setting: this − best, oriented so that < 0 is worse (null for the best). */
  readonly versusBest: Array<MeanCi | null>;
  readonly resamples: number;
}

/**
 * Analyse a sweep: values[s][j] = metric of setting s on seed j (same seeds for every setting).
 * Ties go to the earlier setting.
 * @param direction whether higher or lower values are better
 * @param resamples bootstrap resamples (default 2000)
 * @throws SweepError when there are no settings or the settings have different seed counts
 */
export function analyzeSweep(
  values: ReadonlyArray<readonly number[]>,
  direction: 'higher' | 'lower',
  rng: Rng = createRng('sweep:bootstrap'),
  resamples = 2000,
): SweepAnalysis {
  const k = values.length;
  const n = values[0]?.length ?? 0;
  if (k === 0 || n === 0) throw new SweepError('a sweep needs at least one setting and one seed');
  if (values.some((v) => v.length !== n)) throw new SweepError('every setting needs the same seeds');
  const sign = direction === 'higher' ? 1 : -1;
  const summaries = values.map((v) => meanCi(v));
  const order = summaries.map((_, i) => i).sort((a, b) => sign * (summaries[b]!.mean - summaries[a]!.mean) || a - b);
  const best = order[0]!;
  const runnerUp = order[1] ?? -1;
  const wins = new Float64Array(k);
  const scores = new Float64Array(k);
  const idx = new Int32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let j = 0; j < n; j++) idx[j] = rng.int(n);
    // A resample's win is shared equally among the settings tied for best (by list order, the
    // first would always take it).
    let bv = Number.NEGATIVE_INFINITY;
    let tied = 0;
    for (let s = 0; s < k; s++) {
      const v = values[s]!;
      let sum = 0;
      for (let j = 0; j < n; j++) sum += v[idx[j]!]!;
      const score = (sign * sum) / n;
      scores[s] = score;
      if (score > bv) {
        bv = score;
        tied = 1;
      } else if (score === bv) {
        tied++;
      }
    }
    for (let s = 0; s < k; s++) if (scores[s] === bv) wins[s]! += 1 / tied;
  }
  const paired = (s: number, t: number) => meanCi(values[s]!.map((x, j) => sign * (x - values[t]![j]!)));
  return {
    summaries,
    probabilityBest: Array.from(wins, (w) => w / resamples),
    best,
    runnerUp,
    advantageOverRunnerUp: runnerUp >= 0 ? paired(best, runnerUp) : null,
    versusBest: values.map((_, s) => (s === best ? null : paired(s, best))),
    resamples,
  };
}

/** One setting's results. */
export interface SweepSettingResult {
  readonly setting: GridSetting;
  readonly label: string;
  readonly config: ModelConfigInput;
  readonly summary: Record<Metric, MeanCi>;
  readonly probabilityBest: number;
  /** Paired by seed: this − best on the sweep metric, oriented so < 0 is worse; null for the best. */
  readonly versusBest: MeanCi | null;
  readonly perSeed: Array<{ seed: number; totals: RunTotals }>;
}

/** The whole `sweep.json`. */
export interface SweepResults {
  readonly format: number;
  readonly liubaiVersion: string;
  readonly scenario: Scenario;
  readonly environment: EnvironmentInfo;
  readonly policy: string;
  readonly baseConfig: ModelConfigInput;
  readonly metric: Metric;
  readonly direction: 'higher' | 'lower';
  readonly axes: ReadonlyArray<{ key: string; values: readonly unknown[] }>;
  readonly seeds: number[];
  readonly settings: SweepSettingResult[];
  readonly best: {
    readonly index: number;
    readonly label: string;
    readonly setting: GridSetting;
    readonly probabilityBest: number;
    readonly runnerUp: { readonly index: number; readonly label: string } | null;
    /** Paired 95% CI of best − runner-up on the metric (oriented: > 0 favours the best). */
    readonly advantageOverRunnerUp: MeanCi | null;
    readonly resamples: number;
  };
  readonly run: { readonly startedAt: string; readonly elapsedMs: number; readonly workers: number; readonly decisions: number; readonly decisionsPerSecond: number };
}

/** Options of {@link runSweep}. */
export interface SweepOptions extends ParallelOptions {
  readonly axes: readonly GridAxis[];
  /** Policy of the scenario to sweep (default: the first). */
  readonly policy?: string;
  /** Metric to optimise (default `reward`). */
  readonly metric?: Metric;
  readonly liubaiVersion: string;
  readonly now?: () => Date;
}

/**
 * The policy a sweep starts from.
 * @throws SweepError when `name` is not a policy of the scenario
 */
export function sweepPolicy(scenario: Scenario, name?: string): Scenario['policies'][number] {
  const p = name === undefined ? scenario.policies[0] : scenario.policies.find((x) => x.name === name);
  if (!p) throw new SweepError(`no policy ${JSON.stringify(name)} in scenario ${scenario.name} (have: ${scenario.policies.map((x) => x.name).join(', ')})`);
  return p;
}

/**
 * Run a sweep: every grid setting × every seed of the scenario, in parallel.
 * @throws SweepError on a bad grid, policy or metric; Error from a failed run
 */
export async function runSweep(scenario: Scenario, options: SweepOptions): Promise<SweepResults> {
  const metric = options.metric ?? 'reward';
  const direction = Object.hasOwn(SWEEP_METRICS, metric) ? SWEEP_METRICS[metric] : undefined;
  if (!direction) throw new SweepError(`--metric must be one of ${Object.keys(SWEEP_METRICS).join(', ')}, got ${metric}`);
  if (options.axes.length === 0) throw new SweepError('a sweep needs at least one --grid path=values');
  const policy = sweepPolicy(scenario, options.policy);
  const configs = sweepConfigs(policy.config, options.axes);
  const seeds = resolveSeeds(scenario.seeds);
  const jobs = configs.flatMap(({ config }) => scenarioJobs({ ...scenario, policies: [{ name: policy.name, config }] }, { series: false }));
  const startedAt = (options.now ?? (() => new Date()))().toISOString();
  const t0 = performance.now();
  const results = await runJobs(jobs, options);
  const elapsedMs = performance.now() - t0;
  const totals = configs.map((_, s) => seeds.map((_, j) => results[s * seeds.length + j]!.totals));
  const analysis = analyzeSweep(
    totals.map((ts) => ts.map((t) => t[metric])),
    direction,
  );
  const settings = configs.map(({ setting, config }, s): SweepSettingResult => {
    const summary = {} as Record<Metric, MeanCi>;
    for (const m of METRICS) summary[m] = meanCi(totals[s]!.map((t) => t[m]));
    return {
      setting,
      label: settingLabel(setting),
      config,
      summary,
      probabilityBest: analysis.probabilityBest[s]!,
      versusBest: analysis.versusBest[s]!,
      perSeed: seeds.map((seed, j) => ({ seed, totals: totals[s]![j]! })),
    };
  });
  const decisions = jobs.reduce((sum, j) => sum + j.horizon, 0);
  const best = settings[analysis.best]!;
  return {
    format: SWEEP_FORMAT,
    liubaiVersion: options.liubaiVersion,
    scenario,
    environment: environmentInfo(scenario),
    policy: policy.name,
    baseConfig: policy.config,
    metric,
    direction,
    axes: options.axes.map((a) => ({ key: a.key, values: a.values })),
    seeds,
    settings,
    best: {
      index: analysis.best,
      label: best.label,
      setting: best.setting,
      probabilityBest: best.probabilityBest,
      runnerUp: analysis.runnerUp >= 0 ? { index: analysis.runnerUp, label: settings[analysis.runnerUp]!.label } : null,
      advantageOverRunnerUp: analysis.advantageOverRunnerUp,
      resamples: analysis.resamples,
    },
    run: {
      startedAt,
      elapsedMs: Math.round(elapsedMs),
      workers: Math.max(1, Math.min(Math.floor(options.workers), jobs.length)),
      decisions,
      decisionsPerSecond: Math.round(decisions / Math.max(1e-3, elapsedMs / 1000)),
    },
  };
}
