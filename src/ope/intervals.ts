/**
 * Confidence intervals for off-policy estimates, computed from the estimators' per-round
 * terms: a percentile bootstrap over rounds, and a normal approximation from the per-round
 * (influence-function) variance.
 */
import { z } from 'zod';
import type { Rng } from '../core/rng.js';
import { OpeInputError, parseOptions } from './errors.js';
import type { Estimate } from './estimators.js';

/** A two-sided confidence interval around an estimate. */
export interface Interval {
  readonly estimator: string;
  /** The point estimate on the full log. */
  readonly value: number;
  readonly lower: number;
  readonly upper: number;
  /** Nominal coverage, e.g. 0.95. */
  readonly level: number;
  /** Bootstrap: standard deviation of the replicates. Normal: the standard error used. */
  readonly standardError: number;
  readonly method: 'bootstrap' | 'normal';
}

/** A percentile-bootstrap interval, with its Monte-Carlo bookkeeping. */
export interface BootstrapInterval extends Interval {
  readonly method: 'bootstrap';
  /** Resamples drawn. */
  readonly resamples: number;
  /**
   * Resamples dropped because a self-normalized denominator summed to 0 there (e.g. replay
   * with no matching round drawn); the percentiles come from the others.
   */
  readonly degenerate: number;
}

/** Bootstrap settings (the `Rng` is passed next to them). */
export const bootstrapOptionsSchema = z
  .object({
    /** Number of bootstrap resamples B. */
    resamples: z.number().int().min(2).max(1_000_000).default(1000),
    /** Two-sided coverage level in (0, 1). */
    level: z.number().gt(0).lt(1).default(0.95),
  })
  .strict();

/** Options of {@link bootstrapInterval}: `{ resamples?: 1000, level?: 0.95, rng }`. */
export type BootstrapOptions = z.input<typeof bootstrapOptionsSchema> & { readonly rng: Rng };

/** Normal-interval settings. */
export const normalOptionsSchema = z
  .object({
    /** Two-sided coverage level in (0, 1). */
    level: z.number().gt(0).lt(1).default(0.95),
  })
  .strict();

/** Options of {@link normalInterval}: `{ level?: 0.95 }`. */
export type NormalOptions = z.input<typeof normalOptionsSchema>;

/**
 * Percentile bootstrap interval of an off-policy estimate (Efron 1979; Efron & Tibshirani,
 * "An Introduction to the Bootstrap", 1993, ch. 13).
 *
 * Runs `estimatorFn(input)` once, then draws B resamples of the n rounds with replacement and
 * re-evaluates the estimate on each from its per-round terms — for self-normalized estimators
 * (SNIPS, SNDR, replay) the ratio (Σ over the resample of u) / (Σ of v) is recomputed on every resample, not the mean of
 * the full-sample contributions. The interval is the (α/2, 1 − α/2) empirical quantiles
 * (linear interpolation between order statistics) of the replicates, α = 1 − level.
 * A reward model behind DM/DR is held fixed across resamples (not refitted).
 *
 * Deterministic given the `rng` state: the same seed gives the same interval. Cost O(B·n).
 *
 * @param estimatorFn e.g. `(log) => snips(log, { clip: 20 })`; any input type works
 * @throws OpeInputError on invalid options, a missing `rng`, or when every resample is degenerate
 */
export function bootstrapInterval<T>(
  estimatorFn: (input: T) => Estimate,
  input: T,
  options: BootstrapOptions,
): BootstrapInterval {
  const { rng, ...rest } = options ?? ({} as Partial<BootstrapOptions>);
  checkRng(rng);
  const settings = parseOptions(bootstrapOptionsSchema, rest);
  return bootstrapEstimate(estimatorFn(input), { ...settings, rng });
}

/**
 * The percentile bootstrap of {@link bootstrapInterval} on an estimate already computed (its
 * `terms` are resampled; the estimator is not called again).
 * @throws OpeInputError on invalid options, a missing `rng`, or when every resample is degenerate
 */
export function bootstrapEstimate(estimate: Estimate, options: BootstrapOptions): BootstrapInterval {
  const { rng, ...rest } = options ?? ({} as Partial<BootstrapOptions>);
  checkRng(rng);
  const { resamples, level } = parseOptions(bootstrapOptionsSchema, rest);
  const { n, direct, numerator, denominator } = estimate.terms;
  const replicates = new Float64Array(resamples);
  let kept = 0;
  for (let b = 0; b < resamples; b++) {
    let sd = 0;
    let su = 0;
    let sv = 0;
    for (let k = 0; k < n; k++) {
      const i = rng.int(n);
      if (direct) sd += direct[i]!;
      su += numerator[i]!;
      if (denominator) sv += denominator[i]!;
    }
    if (denominator) {
      if (!(sv > 0)) continue;
      replicates[kept++] = sd / n + su / sv;
    } else {
      replicates[kept++] = sd / n + su / n;
    }
  }
  if (kept === 0) {
    throw new OpeInputError(
      denominator === null ? 'terms' : 'terms.denominator',
      'every bootstrap resample has a zero self-normalizing denominator',
    );
  }
  const sorted = replicates.subarray(0, kept).sort();
  const alpha = 1 - level;
  return {
    estimator: estimate.estimator,
    value: estimate.value,
    lower: quantileSorted(sorted, alpha / 2),
    upper: quantileSorted(sorted, 1 - alpha / 2),
    level,
    standardError: sampleSd(sorted),
    method: 'bootstrap',
    resamples,
    degenerate: resamples - kept,
  };
}

/**
 * Normal-approximation (Wald) interval V̂ ± z_{1−α/2} · SE from the per-round variance.
 *
 * Mean-type estimators (IPS, DM, DR, IIPS; V̂ = mean of the terms ψᵢ):
 *   SE² = s²(ψ) / n, with s² the sample variance (divisor n − 1).
 * Self-normalized estimators V̂ = (1/n)Σ dᵢ + Σ uᵢ / Σ vᵢ (SNIPS, SNDR, replay): the delta
 * method, i.e. the same formula on the linearised terms ψᵢ = dᵢ + (uᵢ − R·vᵢ) / v̄, where
 * R = Σu/Σv and v̄ = Σv/n (the influence function of a ratio of means).
 * Reference: A. W. van der Vaart, "Asymptotic Statistics" (1998), §3 (delta method).
 * @throws OpeInputError on invalid options, or (field `n`) when there are fewer than 2 rounds
 */
export function normalInterval(estimate: Estimate, options?: NormalOptions): Interval {
  const { level } = parseOptions(normalOptionsSchema, options);
  const { n, direct, numerator, denominator } = estimate.terms;
  if (n < 2) throw new OpeInputError('n', `a normal interval needs at least 2 rounds, got ${n}`);
  let ratio = 0;
  let meanDen = 1;
  if (denominator) {
    let su = 0;
    let sv = 0;
    for (let i = 0; i < n; i++) {
      su += numerator[i]!;
      sv += denominator[i]!;
    }
    ratio = su / sv;
    meanDen = sv / n;
  }
  const psi = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = direct ? direct[i]! : 0;
    psi[i] = denominator ? d + (numerator[i]! - ratio * denominator[i]!) / meanDen : d + numerator[i]!;
  }
  const standardError = sampleSd(psi) / Math.sqrt(n);
  const z = normalQuantile(1 - (1 - level) / 2);
  return {
    estimator: estimate.estimator,
    value: estimate.value,
    lower: estimate.value - z * standardError,
    upper: estimate.value + z * standardError,
    level,
    standardError,
    method: 'normal',
  };
}

function checkRng(rng: Rng | undefined): asserts rng is Rng {
  if (typeof rng !== 'object' || rng === null || typeof rng.int !== 'function') {
    throw new OpeInputError('rng', 'bootstrap needs an injected Rng (see createRng in src/core/rng.ts)');
  }
}

/** Sample standard deviation (divisor m − 1); 0 for fewer than 2 values. Two-pass for accuracy. */
function sampleSd(x: Float64Array): number {
  const m = x.length;
  if (m < 2) return 0;
  let mean = 0;
  for (let i = 0; i < m; i++) mean += x[i]!;
  mean /= m;
  let ss = 0;
  for (let i = 0; i < m; i++) {
    const d = x[i]! - mean;
    ss += d * d;
  }
  return Math.sqrt(ss / (m - 1));
}

/** Quantile of sorted data by linear interpolation between order statistics (Hyndman–Fan type 7). */
function quantileSorted(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Upper tail Q(x) = 1 − Φ(x) of the standard normal for x ≥ 0, with small relative error:
 * Marsaglia's series Φ(x) = ½ + φ(x)·Σₖ x^{2k+1}/(1·3·…·(2k+1)) below x = 3 (where Q ≥ 0.00135,
 * so the subtraction loses nothing), Laplace's continued fraction
 * Q(x) = φ(x) / (x + 1/(x + 2/(x + 3/(x + …)))) above.
 * References: G. Marsaglia, "Evaluating the normal distribution", J. Stat. Softw. 11(4), 2004;
 * Abramowitz & Stegun 26.2.14.
 */
function normalUpperTail(x: number): number {
  const density = INV_SQRT_2PI * Math.exp(-0.5 * x * x);
  if (x < 3) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let k = 3; ; k += 2) {
      term *= x2 / k;
      const next = sum + term;
      if (next === sum) break;
      sum = next;
    }
    return 0.5 - density * sum;
  }
  let t = x;
  for (let k = 200; k >= 1; k--) t = x + k / t;
  return density / t;
}

/**
 * Standard normal quantile Φ⁻¹(p), p in (0, 1): the Abramowitz & Stegun 26.2.23 rational
 * approximation (|error| < 4.5·10⁻⁴) refined by Newton steps on the upper tail
 * 1 − Φ(|x|) = min(p, 1 − p), so tail quantiles keep their relative accuracy.
 * @throws RangeError when p is not in (0, 1)
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs p in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  const q = Math.min(p, 1 - p);
  const t = Math.sqrt(-2 * Math.log(q));
  let x = t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1 + t * (1.432788 + t * (0.189269 + t * 0.001308)));
  for (let iter = 0; iter < 50; iter++) {
    const density = INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    const step = (normalUpperTail(x) - q) / density;
    x = Math.max(0, x + step);
    if (Math.abs(step) <= 1e-15 * Math.max(1, x)) break;
  }
  return p < 0.5 ? -x : x;
}
