/**
 * One call for the common case: several estimators with intervals on one log, as a table.
 */
import { z } from 'zod';
import type { Rng } from '../core/rng.js';
import { OpeInputError, parseOptions } from './errors.js';
import { dm, dr, ips, replay, sndr, snips, validateLoggedBandit, type Estimate, type LoggedBandit } from './estimators.js';
import { bootstrapEstimate, normalInterval, type Interval } from './intervals.js';

/** Estimators {@link evaluate} knows, by name. */
export const ESTIMATOR_NAMES = ['ips', 'snips', 'dm', 'dr', 'sndr', 'replay'] as const;
export type EstimatorName = (typeof ESTIMATOR_NAMES)[number];

/** Settings of {@link evaluate} (the `Rng` travels next to them). */
export const evaluateOptionsSchema = z
  .object({
    /** Which estimators, in the order of the rows; repeats are dropped. */
    estimators: z.array(z.enum(ESTIMATOR_NAMES)).min(1).default(['ips', 'snips']),
    /** Weight clipping c for every weighted estimator (∞ = none). */
    clip: z.union([z.number().positive(), z.literal(Infinity)]).default(Infinity),
    interval: z
      .object({
        /** `bootstrap` (percentile; needs `rng`), `normal` (Wald / delta method) or `none`. */
        method: z.enum(['bootstrap', 'normal', 'none']).default('bootstrap'),
        level: z.number().gt(0).lt(1).default(0.95),
        resamples: z.number().int().min(2).max(1_000_000).default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/**
 * Options of {@link evaluate}:
 * `{ estimators?: ['ips','snips'], clip?: ∞, interval?: { method?: 'bootstrap', level?: 0.95,
 * resamples?: 1000 }, rng? }`.
 */
export type EvaluateOptions = z.input<typeof evaluateOptionsSchema> & { readonly rng?: Rng };

/** One row of an evaluation table. */
export interface EvaluationRow {
  readonly estimator: EstimatorName;
  /** Point estimate of the target policy's value. */
  readonly value: number;
  /** Interval bounds; null when `interval.method` is `none`. */
  readonly lower: number | null;
  readonly upper: number | null;
  /** Bootstrap replicate sd or normal standard error; null without an interval. */
  readonly standardError: number | null;
  /** Kish effective sample size of the weights (replay: matches); null for DM. */
  readonly ess: number | null;
  /** Logged rounds. */
  readonly n: number;
}

/**
 * Evaluate a target policy on a log with several estimators and a confidence interval each.
 *
 * `replay` reads the match indicator off `targetProbability`, so it needs a deterministic
 * target (every targetProbability 0 or 1). `dm`, `dr` and `sndr` need the reward-model
 * columns (see {@link directMethodInputs}). Bootstrap streams are forked from `rng` by
 * estimator name (`rng.fork('bootstrap:snips')`), so a row does not depend on which other
 * estimators were requested — and the same `rng` seed gives the same table.
 *
 * @example
 * evaluate(log, { estimators: ['ips', 'snips', 'dr'], clip: 50, rng: createRng(1) })
 * // [{ estimator: 'ips', value, lower, upper, standardError, ess, n }, …]
 * @throws OpeInputError naming the field: invalid log or options, a missing `rng` for the
 *   bootstrap, a missing model column, a non-deterministic target for replay
 */
export function evaluate(input: LoggedBandit, options: EvaluateOptions = {}): EvaluationRow[] {
  const { rng, ...rest } = options;
  const settings = parseOptions(evaluateOptionsSchema, rest);
  const { interval } = settings;
  if (interval.method === 'bootstrap' && (typeof rng !== 'object' || rng === null || typeof rng.fork !== 'function')) {
    throw new OpeInputError('rng', "bootstrap intervals need an injected Rng (or set interval.method to 'normal' or 'none')");
  }
  const names = [...new Set(settings.estimators)];
  return names.map((name): EvaluationRow => {
    const estimate = run(name, input, settings.clip);
    let bounds: Interval | null = null;
    if (interval.method === 'bootstrap') {
      bounds = bootstrapEstimate(estimate, {
        resamples: interval.resamples,
        level: interval.level,
        rng: rng!.fork(`bootstrap:${name}`),
      });
    } else if (interval.method === 'normal') {
      bounds = normalInterval(estimate, { level: interval.level });
    }
    return {
      estimator: name,
      value: estimate.value,
      lower: bounds ? bounds.lower : null,
      upper: bounds ? bounds.upper : null,
      standardError: bounds ? bounds.standardError : null,
      ess: estimate.effectiveSampleSize ?? null,
      n: estimate.n,
    };
  });
}

function run(name: EstimatorName, input: LoggedBandit, clip: number): Estimate {
  switch (name) {
    case 'ips':
      return ips(input, { clip });
    case 'snips':
      return snips(input, { clip });
    case 'dm':
      return dm(input);
    case 'dr':
      return dr(input, { clip });
    case 'sndr':
      return sndr(input, { clip });
    case 'replay':
      validateLoggedBandit(input);
      return replay({ reward: input.reward, match: deterministicMatch(input) });
    default: {
      const unknown: never = name;
      throw new OpeInputError('estimators', `unknown estimator ${String(unknown)}`);
    }
  }
}

function deterministicMatch(input: LoggedBandit): Uint8Array {
  const target = input.targetProbability;
  const match = new Uint8Array(target.length);
  for (let i = 0; i < target.length; i++) {
    const p = target[i]!;
    if (p !== 0 && p !== 1) {
      throw new OpeInputError('targetProbability', `replay needs a deterministic target (0 or 1), got ${p}`, i);
    }
    match[i] = p;
  }
  return match;
}
