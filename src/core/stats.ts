/**
 * Small statistics used by tests, simulations and reports: means with t confidence intervals,
 * the regularized incomplete gamma function (for chi-square p-values) and Welch's t statistic.
 */

/** Arithmetic mean (NaN for an empty array). */
export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

/** Unbiased sample variance (n − 1 in the denominator); 0 for n < 2. */
export function variance(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < n; i++) s += (xs[i]! - m) ** 2;
  return s / (n - 1);
}

/** Two-sided Student-t quantile t_{1−α/2, ν} for α = 0.05 (table up to ν = 30, then normal-ish). */
export function tQuantile975(df: number): number {
  const table = [
    Number.NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
    2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
  ];
  if (df < 1) return Number.NaN;
  if (df <= 30) return table[Math.floor(df)]!;
  // Cornish–Fisher style correction of the normal quantile (accurate to ~1e-3 for ν > 30).
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

/** A mean with its 95% confidence interval (Student t). */
export interface MeanCi {
  readonly mean: number;
  readonly lower: number;
  readonly upper: number;
  readonly halfWidth: number;
  readonly n: number;
}

/** Mean ± t_{0.975, n−1}·s/√n. */
export function meanCi(xs: ArrayLike<number>): MeanCi {
  const n = xs.length;
  const m = mean(xs);
  const h = n >= 2 ? tQuantile975(n - 1) * Math.sqrt(variance(xs) / n) : Number.NaN;
  return { mean: m, lower: m - h, upper: m + h, halfWidth: h, n };
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e-15). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (series / continued fraction, Numerical Recipes §6.2). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    let ap = a;
    for (let n = 0; n < 1000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** P(χ²_df ≥ statistic). */
export function chiSquarePValue(statistic: number, df: number): number {
  return gammaQ(df / 2, statistic / 2);
}

/**
 * Pearson's chi-square goodness of fit of observed counts to expected counts, pooling cells with
 * expected < minExpected into one.
 * @returns the statistic, degrees of freedom (cells − 1 − constraints) and p-value
 */
export function chiSquareTest(
  observed: ArrayLike<number>,
  expected: ArrayLike<number>,
  options: { minExpected?: number; constraints?: number } = {},
): { statistic: number; df: number; pValue: number } {
  const minE = options.minExpected ?? 5;
  let stat = 0;
  let cells = 0;
  let poolO = 0;
  let poolE = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = expected[i]!;
    const o = observed[i]!;
    if (e < minE) {
      poolO += o;
      poolE += e;
      continue;
    }
    stat += (o - e) ** 2 / e;
    cells++;
  }
  if (poolE > 0) {
    stat += (poolO - poolE) ** 2 / poolE;
    cells++;
  }
  const df = Math.max(1, cells - 1 - (options.constraints ?? 0));
  return { statistic: stat, df, pValue: chiSquarePValue(stat, df) };
}
