/**
 * Off-policy sweeps: estimate, on one model's logged decisions, the value of every point of a grid
 * of config settings (`budget.share` × `budget.temperature` …), with confidence intervals — the
 * offline half of "researchers tuning exploration". `liubai sweep --ope <db>` calls
 * {@link sweepOpe} with a model log read by the CLI (src/cli/ope-db.ts does the file I/O); the
 * estimation here is pure and also runs on any `Store` passed as `store`.
 */
import type { Rng } from '../core/rng.js';
import { repeatedValue } from '../core/values.js';
import type { ModelConfig } from '../engine/config.js';
import { candidateConfig, evaluateCandidates } from './candidate.js';
import { OpeInputError } from './errors.js';
import {
  readModelLog,
  type ModelLog,
  type ModelLogSource,
  type OnPolicyValue,
  type SlateEstimatorName,
  type SlateRewardModelOptions,
  type SlateScope,
} from './logged.js';

/** One axis of a sweep grid: a dotted path into the model config and the values it takes. */
export interface SweepAxis {
  /** e.g. `budget.share`, `budget.temperature`, `policy.kind`. */
  readonly path: string;
  readonly values: readonly unknown[];
}

/** Options of {@link sweepOpe}. */
export interface SweepOpeOptions {
  /** The model's log, already read (e.g. by `readModelLogFromDb` in src/cli/ope-db.ts); or give `store`. */
  readonly log?: ModelLog;
  /** Any store holding the model (tests, in-process use); `eventIds` lists its decisions when the learning log cannot (clicks-only models). */
  readonly store?: ModelLogSource;
  readonly eventIds?: Iterable<string>;
  readonly modelId: string;
  /**
   * The config the grid settings are applied to (deep-merged, see `mergeConfig`); default: the
   * model's stored config. A partial config is merged over the stored one.
   */
  readonly baseConfig?: unknown;
  /** Axes of the grid; every combination is a candidate (first axis varies slowest). */
  readonly grid: readonly SweepAxis[];
  /** Default: ips, snips, dm, dr, sndr. */
  readonly estimators?: readonly SlateEstimatorName[];
  /** Seeds the Monte-Carlo target probabilities and the bootstrap. */
  readonly rng: Rng;
  /** Default: `['slate']` (expected total reward of a slate); add `'top'` for position 1 alone. */
  readonly scopes?: readonly SlateScope[];
  /** Importance-weight clipping c > 0 (default ∞). */
  readonly clip?: number;
  /** Monte-Carlo runs per decision (default 500). */
  readonly draws?: number;
  readonly interval?: { readonly method?: 'bootstrap' | 'normal' | 'none'; readonly level?: number; readonly resamples?: number };
  readonly rewardModel?: SlateRewardModelOptions;
  readonly onProgress?: (done: number, total: number) => void;
}

/** One row of a sweep: one grid point, one estimator. */
export interface SweepOpeRow {
  /** The grid point: path → value, in axis order, e.g. `{ 'budget.share': 0.1 }`. */
  readonly setting: Readonly<Record<string, unknown>>;
  readonly scope: SlateScope;
  readonly estimator: SlateEstimatorName;
  readonly value: number;
  /** Interval at `interval.level` (default 95 %); null with `interval.method: 'none'`. */
  readonly lower: number | null;
  readonly upper: number | null;
  readonly standardError: number | null;
  /** Kish effective sample size of the importance weights, in rounds; null for DM. */
  readonly ess: number | null;
  /** Logged rounds used. */
  readonly n: number;
}

/** {@link sweepOpe}'s rows plus what they are compared with. */
export interface SweepOpeReport {
  readonly rows: SweepOpeRow[];
  /** The logging policy's on-policy value (mean observed reward) per scope. */
  readonly onPolicy: readonly OnPolicyValue[];
  readonly decisions: { readonly used: number; readonly unexposed: number; readonly unresolved: number };
}

/**
 * Expand a grid into settings (cartesian product; the first axis varies slowest).
 * @throws OpeInputError `grid`, `grid.<i>.path`, `grid.<i>.values`
 */
export function expandGrid(grid: readonly SweepAxis[]): Array<Record<string, unknown>> {
  if (!Array.isArray(grid) || grid.length === 0) throw new OpeInputError('grid', 'needs at least one axis { path, values }');
  const seen = new Set<string>();
  grid.forEach((axis, i) => {
    if (typeof axis?.path !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(axis.path)) {
      throw new OpeInputError(`grid.${i}.path`, `must be a dotted config path like "budget.share", got ${JSON.stringify(axis?.path)}`);
    }
    if (seen.has(axis.path)) throw new OpeInputError(`grid.${i}.path`, `${axis.path} appears twice`);
    seen.add(axis.path);
    if (!Array.isArray(axis.values) || axis.values.length === 0) throw new OpeInputError(`grid.${i}.values`, 'needs at least one value');
    const repeated = repeatedValue(axis.values);
    if (repeated !== undefined) throw new OpeInputError(`grid.${i}.values`, `the value ${JSON.stringify(repeated)} is given twice`);
  });
  let settings: Array<Record<string, unknown>> = [{}];
  for (const axis of grid) {
    const values: readonly unknown[] = axis.values;
    settings = settings.flatMap((s) => values.map((v: unknown) => ({ ...s, [axis.path]: v })));
  }
  return settings;
}

/** A config patch from dotted-path settings: `{ 'budget.share': 0.1 }` → `{ budget: { share: 0.1 } }`. */
export function patchOf(setting: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(setting)) {
    const keys = path.split('.');
    let node = patch;
    keys.slice(0, -1).forEach((k) => {
      const child = node[k];
      node = (typeof child === 'object' && child !== null ? child : (node[k] = {})) as Record<string, unknown>;
    });
    node[keys[keys.length - 1]!] = value;
  }
  return patch;
}

/**
 * Off-policy sweep over a grid of config settings on one model's logged decisions.
 *
 * For every grid point the candidate config is `baseConfig` (default: the stored config) with
 * the point's settings deep-merged in; its probability of each logged (item, position) is
 * computed on the posterior as it was at each decision (candidates with another policy re-learn
 * along the log), and the position-wise IPS / SNIPS / DM / DR / SNDR estimates of its value come
 * with percentile-bootstrap intervals and the importance weights' ESS. All grid points use the
 * same Monte-Carlo and bootstrap streams (common random numbers), so differences between points
 * are estimated more tightly than the points themselves.
 *
 * @example
 * sweepOpe({ dbPath: 'data/liubai.db', modelId: 'news', rng: createRng(1),
 *            grid: [{ path: 'budget.share', values: [0, 0.05, 0.2] }] })
 * // [{ setting: { 'budget.share': 0 }, scope: 'slate', estimator: 'ips', value, lower, upper, ess, … }, …]
 * @returns rows in grid order, then estimator order (then scope order)
 * @throws OpeInputError naming the field (`store`, `modelId`, `decisions`, `grid.<i>.path`,
 *   `estimators`, `clip`, `draws`…); LiubaiError INVALID_CONFIG when a grid point gives an invalid
 *   config (its message names the config field and the point)
 */
export function sweepOpe(options: SweepOpeOptions): SweepOpeRow[] {
  return sweepOpeReport(options).rows;
}

/** {@link sweepOpe} with the on-policy baseline and decision counts. @throws as {@link sweepOpe} */
export function sweepOpeReport(options: SweepOpeOptions): SweepOpeReport {
  const settings = expandGrid(options.grid);
  let log: ModelLog;
  if (options.log) {
    log = options.log;
  } else if (options.store) {
    log = readModelLog(options.store, options.modelId, options.eventIds !== undefined ? { eventIds: options.eventIds } : {});
  } else {
    throw new OpeInputError('store', 'give the model log (or a store)');
  }
  const base = options.baseConfig === undefined ? log.config : mergeOver(log.config, options.baseConfig);
  const candidates: ModelConfig[] = settings.map((setting) => {
    try {
      return candidateConfig(base, patchOf(setting));
    } catch (error) {
      if (error instanceof Error) error.message = `grid point ${JSON.stringify(setting)}: ${error.message}`;
      throw error;
    }
  });
  const scopes = options.scopes ?? (['slate'] as const);
  const report = evaluateCandidates(log, candidates, {
    rng: options.rng,
    scopes,
    ...(options.estimators !== undefined ? { estimators: options.estimators } : {}),
    ...(options.clip !== undefined ? { clip: options.clip } : {}),
    ...(options.draws !== undefined ? { draws: options.draws } : {}),
    ...(options.interval !== undefined ? { interval: options.interval } : {}),
    ...(options.rewardModel !== undefined ? { rewardModel: options.rewardModel } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const rows = report.candidates.flatMap((c, j) =>
    c.rows.map((r): SweepOpeRow => ({
      setting: settings[j]!,
      scope: r.scope,
      estimator: r.estimator,
      value: r.value,
      lower: r.lower,
      upper: r.upper,
      standardError: r.standardError,
      ess: r.ess,
      n: r.n,
    })),
  );
  return {
    rows,
    onPolicy: report.onPolicy,
    decisions: { used: log.rounds.length, unexposed: log.excluded.unexposed, unresolved: log.excluded.unresolved },
  };
}

/** A (possibly partial) base config over the stored one, validated. */
function mergeOver(stored: ModelConfig, baseConfig: unknown): ModelConfig {
  return candidateConfig(stored, baseConfig);
}
