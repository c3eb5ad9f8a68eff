/**
 * The scale s of the embedding block of the neural-linear head, chosen on held-out outcomes.
 * No tensorflow.js here: the caller embeds the training window with the new encoder.
 *
 * The head regresses on z(x) = [s·φ(x) ; 1 ; x] (x only with `rawFeatures`) with θ ~ N(0, τ²·I),
 * so s² is the prior variance of the embedding weights relative to the others, i.e. how much the
 * head may lean on the encoder before the data say so. The encoder is fitted to the same outcomes
 * the head then regresses on, so the in-sample fit of φ is optimistic; and every embedding
 * dimension the head uses widens its Thompson draws. Where the truth is linear in x, both make
 * the head worse than the linear-gaussian model it contains, unless s is small.
 *
 * Selection (cross-validation with a k-standard-error rule, k = {@link SE_RULE} = 2, after the
 * one-standard-error rule of Breiman et al. 1984; Hastie,
 * Tibshirani & Friedman, "The Elements of Statistical Learning", §7.10): a seeded share of the
 * training window is held out and the encoder is trained on the rest (see train.ts). For each s
 * of an ascending grid that starts at 0, the head's posterior is fitted to the training part and
 * scores each held-out outcome i by its posterior predictive log density ℓ_s(i):
 * - `known` noise σ²: y_i ~ N(z_iᵀμ, σ²/w_i + z_iᵀA⁻¹z_i), A = I/τ² + ZᵀWZ/σ², μ = A⁻¹ZᵀWy/σ²;
 * - `nig` (θ | σ² ~ N(0, σ²τ²·I), σ² ~ InvGamma(a, b)): A = I/τ² + ZᵀWZ, μ = A⁻¹ZᵀWy,
 *   a_n = a + Σw/2, b_n = b + (yᵀWy − μᵀAμ)/2 and y_i ~ Student-t_{2a_n}(z_iᵀμ, (b_n/a_n)(1/w_i + z_iᵀA⁻¹z_i))
 *   (Bishop 2006, §3.3; Murphy 2012, §7.6.3).
 * With s* the grid value of largest Σ_i ℓ_s(i), the chosen s is the smallest one whose total is
 * within two standard errors of s*'s: Σ_i (ℓ_s*(i) − ℓ_s(i)) ≤ 2·sd_i(ℓ_s*(i) − ℓ_s(i))·√n_val.
 * So the embeddings enter the head only as far as they predict unseen outcomes better, and
 * s = 0 (the head is then exactly a linear-gaussian model on [1 ; x]) when they do not.
 *
 * Cost: one pass over the window for the Gram matrix of the training part (O(n·m²), m = d + 1 +
 * the non-zeros of an arm), then per grid value one Cholesky factorization and inverse (O(p³))
 * and O(m²) per held-out outcome, p = d + 1 + raw dimensions. The raw dimensions are those of the window in order
 * of first appearance, at most the head's `maxDenseDims` (the head's dense block); further raw
 * dimensions are left out of the selection (the head keeps them, with a diagonal covariance).
 */
import { cholesky, cholInverseLower, NotPositiveDefiniteError, solveLower, solveUpperT } from '../../core/linalg.js';
import type { Rng } from '../../core/rng.js';
import { logGamma } from '../../core/stats.js';
import type { NeuralLinearConfig } from './config.js';
import type { TrainingData } from './journal.js';

/**
 * Standard errors within which a smaller s is preferred (2: the embeddings must beat the simpler
 * head by about two standard errors of the paired held-out difference — a guard against the
 * twelve-way grid picking noise, where one SE let s > 0 through on linear worlds).
 */
export const SE_RULE = 2;

/** The scales tried: 0, then 2^−8 … 2^2 (ascending, as the standard-error rule needs). */
export const EMBEDDING_SCALE_GRID: readonly number[] = [0, ...Array.from({ length: 11 }, (_, k) => 2 ** (k - 8))];

/** What a selection found (kept in the retrain's metrics and its artifact manifest). */
export interface ScaleSelection {
  /** The chosen scale s. */
  readonly scale: number;
  /** The grid value of largest held-out log-likelihood. */
  readonly best: number;
  /** Held-out outcomes scored. */
  readonly examples: number;
  readonly grid: readonly number[];
  /** Σ_i ℓ_s(i) for each grid value, nats. */
  readonly logLik: readonly number[];
}

type HeadSettings = NeuralLinearConfig['head'];

/**
 * The head's scale at representation version 0 (the seeded, untrained encoder): the configured
 * number; with `validated`, 0 when the head has the raw features (random features carry no
 * information about the rewards, and the head is then the linear model on [1 ; x]) and 1 without
 * them (the random embedding is all the head has).
 */
export function initialHeadScale(config: NeuralLinearConfig): number {
  const s = config.head.embeddingScale;
  if (s !== 'validated') return s;
  return config.head.rawFeatures ? 0 : 1;
}

/**
 * Which outcomes of a window of `n` to hold out: 1 with probability `share`, one uniform draw
 * per outcome from `rng`, in order.
 * @throws RangeError unless 0 ≤ share < 1
 */
export function holdoutMask(n: number, share: number, rng: Rng): Uint8Array {
  if (!(share >= 0 && share < 1)) throw new RangeError(`holdout share must be in [0, 1), got ${share}`);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = rng.uniform() < share ? 1 : 0;
  return mask;
}

/** The outcomes of `data` whose mask entry equals `keep`, in order, as fresh arrays. */
export function selectRows(data: TrainingData, mask: Uint8Array, keep: 0 | 1): TrainingData {
  let n = 0;
  let pairs = 0;
  for (let i = 0; i < data.n; i++) {
    if (mask[i] !== keep) continue;
    n++;
    pairs += data.offsets[i + 1]! - data.offsets[i]!;
  }
  const offsets = new Int32Array(n + 1);
  const indices = new Int32Array(pairs);
  const values = new Float32Array(pairs);
  const rewards = new Float32Array(n);
  const weights = new Float32Array(n);
  let r = 0;
  let p = 0;
  for (let i = 0; i < data.n; i++) {
    if (mask[i] !== keep) continue;
    const from = data.offsets[i]!;
    const to = data.offsets[i + 1]!;
    indices.set(data.indices.subarray(from, to), p);
    values.set(data.values.subarray(from, to), p);
    p += to - from;
    rewards[r] = data.rewards[i]!;
    weights[r] = data.weights[i]!;
    offsets[++r] = p;
  }
  return { n, offsets, indices, values, rewards, weights };
}

/**
 * Choose the embedding scale (see the module comment).
 * @param data the training window (unmasked arm indices), the rows `embeddings` were computed from
 * @param heldOut 1 for the outcomes the encoder did not train on
 * @param embeddings φ of every row of `data`, row-major n × d
 * @param d the embedding dimension
 * @returns null when either part is empty (nothing to fit or to score)
 * @throws RangeError when `embeddings` or `heldOut` do not fit `data`
 */
export function selectEmbeddingScale(
  data: TrainingData,
  heldOut: Uint8Array,
  embeddings: Float64Array,
  d: number,
  head: HeadSettings,
  grid: readonly number[] = EMBEDDING_SCALE_GRID,
): ScaleSelection | null {
  const n = data.n;
  if (heldOut.length !== n || embeddings.length < n * d) throw new RangeError('embedding scale: masks or embeddings do not fit the data');
  let nVal = 0;
  for (let i = 0; i < n; i++) nVal += heldOut[i]!;
  if (nVal === 0 || nVal === n) return null;

  // Columns: φ (0..d−1), the constant (d), raw dimensions in order of first appearance.
  const columns = new Map<number, number>();
  if (head.rawFeatures) {
    for (let k = 0; k < data.indices.length && columns.size < head.maxDenseDims; k++) {
      const j = data.indices[k]!;
      if (!columns.has(j)) columns.set(j, d + 1 + columns.size);
    }
  }
  const p = d + 1 + columns.size;
  const cols = new Int32Array(p);
  const vals = new Float64Array(p);
  /** Row i as (column, value) pairs, unscaled; returns the count. */
  const row = (i: number): number => {
    for (let j = 0; j < d; j++) {
      cols[j] = j;
      vals[j] = embeddings[i * d + j]!;
    }
    cols[d] = d;
    vals[d] = 1;
    let m = d + 1;
    for (let k = data.offsets[i]!; k < data.offsets[i + 1]!; k++) {
      const c = columns.get(data.indices[k]!);
      if (c === undefined) continue;
      cols[m] = c;
      vals[m++] = data.values[k]!;
    }
    return m;
  };

  // Sufficient statistics of the training part: ZᵀWZ, ZᵀWy, yᵀWy, Σw.
  const gram = new Float64Array(p * p);
  const zy = new Float64Array(p);
  let yy = 0;
  let wSum = 0;
  for (let i = 0; i < n; i++) {
    if (heldOut[i]) continue;
    const w = data.weights[i]!;
    const y = data.rewards[i]!;
    yy += w * y * y;
    wSum += w;
    const m = row(i);
    for (let a = 0; a < m; a++) {
      const wa = w * vals[a]!;
      const ca = cols[a]!;
      zy[ca] = zy[ca]! + wa * y;
      for (let b = 0; b < m; b++) {
        const at = ca * p + cols[b]!;
        gram[at] = gram[at]! + wa * vals[b]!;
      }
    }
  }

  const known = head.noise === 'known';
  const s2 = known ? head.noiseVariance : 1;
  const tau2 = head.priorVariance;
  const lgRatio = (nu: number) => logGamma((nu + 1) / 2) - logGamma(nu / 2);
  const A = new Float64Array(p * p);
  const L = new Float64Array(p * p);
  const rhs = new Float64Array(p);
  const tmp = new Float64Array(p);
  const mu = new Float64Array(p);
  const lInv = new Float64Array(p * p);
  const cov = new Float64Array(p * p);
  const perPoint = grid.map(() => new Float64Array(nVal));
  const totals: number[] = [];
  grid.forEach((s, g) => {
    const scaleOf = (c: number) => (c < d ? s : 1);
    for (let a = 0; a < p; a++) {
      const sa = scaleOf(a);
      rhs[a] = (sa * zy[a]!) / s2;
      for (let b = 0; b < p; b++) A[a * p + b] = (sa * scaleOf(b) * gram[a * p + b]!) / s2 + (a === b ? 1 / tau2 : 0);
    }
    try {
      cholesky(A, p, L, { maxTries: 0 });
    } catch (error) {
      if (error instanceof NotPositiveDefiniteError) throw new RangeError('embedding scale: the head precision is not positive definite');
      throw error;
    }
    solveLower(L, p, rhs, tmp);
    solveUpperT(L, p, tmp, mu);
    cholInverseLower(L, p, cov, lInv);
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) cov[b * p + a] = cov[a * p + b]!;
    // nig: b_n = b + (yᵀWy − μᵀAμ)/2, and μᵀAμ = ‖L⁻¹·rhs‖² = ‖tmp‖².
    let fit = 0;
    for (let a = 0; a < p; a++) fit += tmp[a]! * tmp[a]!;
    const aN = head.nigPrior.a + wSum / 2;
    const bN = head.nigPrior.b + Math.max(0, yy - fit) / 2;
    const nu = 2 * aN;
    const lg = known ? 0 : lgRatio(nu);
    let v = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (!heldOut[i]) continue;
      // z_i is sparse in the raw block: mean and q = z_iᵀA⁻¹z_i over its non-zeros only.
      const m = row(i);
      let mean = 0;
      for (let k = 0; k < m; k++) {
        vals[k] = scaleOf(cols[k]!) * vals[k]!;
        mean += vals[k]! * mu[cols[k]!]!;
      }
      let q = 0;
      for (let a = 0; a < m; a++) {
        const ra = cols[a]! * p;
        let t = 0;
        for (let b = 0; b < m; b++) t += cov[ra + cols[b]!]! * vals[b]!;
        q += vals[a]! * t;
      }
      const w = data.weights[i]!;
      const r = data.rewards[i]! - mean;
      let ll: number;
      if (known) {
        const variance = s2 / w + q;
        ll = -0.5 * Math.log(2 * Math.PI * variance) - (r * r) / (2 * variance);
      } else {
        const scale2 = (bN / aN) * (1 / w + q);
        ll = lg - 0.5 * Math.log(nu * Math.PI * scale2) - ((nu + 1) / 2) * Math.log1p((r * r) / (nu * scale2));
      }
      perPoint[g]![v++] = ll;
      total += ll;
    }
    totals.push(total);
  });

  let best = 0;
  for (let g = 1; g < grid.length; g++) if (totals[g]! > totals[best]!) best = g;
  let chosen = best;
  for (let g = 0; g < best; g++) {
    const a = perPoint[best]!;
    const b = perPoint[g]!;
    let mean = 0;
    for (let i = 0; i < nVal; i++) mean += a[i]! - b[i]!;
    mean /= nVal;
    let ss = 0;
    for (let i = 0; i < nVal; i++) ss += (a[i]! - b[i]! - mean) ** 2;
    const se = nVal > 1 ? Math.sqrt(ss / (nVal - 1)) * Math.sqrt(nVal) : 0;
    if (mean * nVal <= SE_RULE * se) {
      chosen = g;
      break;
    }
  }
  return { scale: grid[chosen]!, best: grid[best]!, examples: nVal, grid: [...grid], logLik: totals };
}
