/**
 * Bayesian linear regression over sparse hashed features, in precision form, for Thompson
 * sampling (`linear-gaussian`) and UCB (`linucb`).
 *
 * Model (Bishop, PRML §3.3; Murphy 2007, "Conjugate Bayesian analysis of the Gaussian
 * distribution", §§7–8): r = xᵀθ + ε, ε ~ N(0, σ²/w) for an outcome of weight w, and
 *
 *   Λ = Λ₀ + Σ w·x·xᵀ,   b = Σ w·r·x,   θ | data, σ² ~ N(μ = Λ⁻¹b, σ²·Λ⁻¹),   Λ₀ = λ₀·I.
 *
 * - known noise: σ² = `noiseVariance`, λ₀ = σ²/τ² so that the prior is θ ~ N(0, τ²·I)
 *   (Bishop's α = 1/τ², β = 1/σ², with Λ = σ²·S_N⁻¹);
 * - `nig`: θ | σ² ~ N(0, σ²τ²·I), σ² ~ InvGamma(a₀, b₀), λ₀ = 1/τ²; the posterior is
 *   aₙ = a₀ + Σw/2 and bₙ = b₀ + ½(Σw·r² − μᵀΛμ) (μ₀ = 0).
 *
 * State: for each dense block the Cholesky factor L of Λ and `y = L⁻¹b` — the factor of the
 * augmented Gram matrix [[Λ, b], [bᵀ, Σwr²]] is [[L, 0], [yᵀ, ρ]] with ρ² = Σwr² − bᵀΛ⁻¹b, so
 * one O(n²) rank-one update (or downdate, for a retraction) of that augmented factor with
 * [√w·x ; √w·r] maintains L, y and ρ² together (LINPACK `dchud`/`dchdd` with z and rho). The
 * mean is μ = L⁻ᵀy and a draw is θ = L⁻ᵀ(y + √(T·σ²)·z), one back substitution.
 *
 * Structures. Dimensions live in *blocks* of compact slots, created the first time a key appears
 * in an update (never a dense 2^bits matrix):
 * - `shared`: one block keyed by the hashed index of `arms[i]`;
 * - `disjoint`: one block per item, keyed by the masked context index;
 * - `hybrid`: both, as one exact regression over the concatenated [item context ; arm] features
 *   (Li et al. 2010, hybrid model). Item blocks do not interact with each other, only with the
 *   shared block, so Λ is block-arrowhead; ordering item blocks before the shared block, its
 *   factor has no fill-in: [[L_a, 0], [M_a, L_s]] per item, with L_s the factor of the shared
 *   Schur complement Λ_ss − Σ_a M_a·M_aᵀ. An outcome of item a touches L_a, M_a and L_s only.
 *
 * Approximation. Each block keeps a dense factor over its first `maxDenseDims` slots; later
 * slots (all of them with `covariance: 'diagonal'`) keep only their diagonal precision λ_j and
 * b_j: the precision matrix is approximated by dropping their off-diagonal terms, i.e. they are
 * independent one-dimensional regressions (θ_j ~ N(b_j/λ_j, σ²/λ_j)) that ignore co-occurring
 * features. Their statistics stay exact sums (order-invariant, retractable, decayable). The
 * NIG residual ρ² is that of the dense blocks only (a diagonal tail cannot produce a valid one),
 * so the noise estimate ignores what tail dimensions explain: σ² errs on the high side.
 */
import {
  applyDowndateToLower,
  applyDowndateToRow,
  applyUpdateToRow,
  cholInverseLower,
  cholUpdate,
  cholesky,
  downdateRotations,
  lowerGram,
  lowerMatVec,
  NotPositiveDefiniteError,
  solveLower,
  solveUpperT,
} from '../../core/linalg.js';
import type { Rng } from '../../core/rng.js';
import type { DecisionFeatures, OutcomeFeatures, SparseVector } from '../../features/types.js';
import { DrawCache, KeyIndex, MISSING } from './key-index.js';
import { axpy, ScorePlan } from './score-plan.js';
import { backSubstituteT } from './solve.js';
import type { BlockState, ItemBlockState, PosteriorState } from './state.js';

/** Everything the posterior needs from a config (`linear-gaussian` or `linucb`). */
export interface RegressionSettings {
  readonly structure: 'disjoint' | 'shared' | 'hybrid';
  readonly noise: 'known' | 'nig';
  readonly priorVariance: number;
  readonly noiseVariance: number;
  readonly nigA: number;
  readonly nigB: number;
  readonly contextBits: number;
  readonly covariance: 'full' | 'diagonal';
  readonly maxDenseDims: number;
}

const EMPTY = new Float64Array(0);

/** @throws RangeError when the temperature is negative, NaN or infinite */
function checkTemperature(temperature: number): void {
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature must be finite and >= 0, got ${temperature}`);
  }
}

/**
 * out[i] = Σ_m x_im·theta[c_im] for the k rows of a sparse matrix stored by
 * {@link SharedDrawPlan.interleave}: rows in groups of four, the first min(n₀…n₃) entries of the
 * four rows interleaved (entry t of row r at 4t + r), then each row's remaining entries, then the
 * k mod 4 last rows one after the other. Each row is summed left to right from 0, exactly as
 * `sharedScore` sums an arm (then `0 + s`, as `scoreAt` adds it to a zero score), so the result is
 * bit-identical to the plain loop; the four independent add chains overlap, and the four rows
 * are read as one stream of `col`/`val` (≈ 20 % faster than four CSR streams in V8).
 */
function interleavedTimes(rowEnd: Int32Array, col: Int32Array, val: Float64Array, theta: Float64Array, k: number, out: Float64Array): void {
  let w = 0;
  let start = 0;
  let i = 0;
  for (; i + 3 < k; i += 4) {
    const e0 = rowEnd[i]!;
    const e1 = rowEnd[i + 1]!;
    const e2 = rowEnd[i + 2]!;
    const e3 = rowEnd[i + 3]!;
    const n0 = e0 - start;
    const n1 = e1 - e0;
    const n2 = e2 - e1;
    const n3 = e3 - e2;
    const common = Math.min(n0, n1, n2, n3);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < common; t++, w += 4) {
      s0 += val[w]! * theta[col[w]!]!;
      s1 += val[w + 1]! * theta[col[w + 1]!]!;
      s2 += val[w + 2]! * theta[col[w + 2]!]!;
      s3 += val[w + 3]! * theta[col[w + 3]!]!;
    }
    for (let t = common; t < n0; t++, w++) s0 += val[w]! * theta[col[w]!]!;
    for (let t = common; t < n1; t++, w++) s1 += val[w]! * theta[col[w]!]!;
    for (let t = common; t < n2; t++, w++) s2 += val[w]! * theta[col[w]!]!;
    for (let t = common; t < n3; t++, w++) s3 += val[w]! * theta[col[w]!]!;
    out[i] = 0 + s0;
    out[i + 1] = 0 + s1;
    out[i + 2] = 0 + s2;
    out[i + 3] = 0 + s3;
    start = e3;
  }
  for (; i < k; i++) {
    const end = rowEnd[i]!;
    let s = 0;
    for (; w < end; w++) s += val[w]! * theta[col[w]!]!;
    out[i] = 0 + s;
  }
}

/**
 * The resolved per-decision work of a shared-structure draw: candidate i's score is
 * Σ_m arms[i].values[m]·θ̃[col[rowEnd[i−1] + m]] with θ̃ = [θ_dense (ns) ; θ_extra (nx)]
 * (CSR pattern `rowEnd`/`col`, recorded by the first draw);
 * extra e is a never-seen dimension (xRootLam = 0: θ = s·τ₀·z) or a diagonal-tail one
 * (θ = xMean + (s/xRootLam)·z). Buffers grow and are reused across decisions.
 */
class SharedDrawPlan {
  owner = 0;
  revision = -1;
  ns = 0;
  nx = 0;
  rowEnd = new Int32Array(0);
  col = new Int32Array(0);
  /**
   * The same matrix laid out for {@link interleavedTimes} (columns `icol`, values `ival`), built
   * by the second draw: a one-draw decision skips it, and the Monte-Carlo draws then read one
   * contiguous stream instead of k small value arrays and four CSR streams.
   */
  icol = new Int32Array(0);
  ival = new Float64Array(0);
  interleaved = false;
  /** The decision's arms (row i's values are arms[i].values[0, nnz)), until interleaved. */
  arms: readonly SparseVector[] = [];
  xMean = new Float64Array(0);
  xRootLam = new Float64Array(0);
  /** s·τ₀ or s/√λ at the scale of the draw that built the plan; reused while `fixedScale`. */
  xSd = new Float64Array(0);
  /** Known noise: every draw of the owning sampler has the same scale s. */
  fixedScale = false;
  theta = new Float64Array(0);

  /** Lay the k rows (CSR `col` + the arms' values) out for {@link interleavedTimes}; drop the arms. */
  interleave(k: number): void {
    const rowEnd = this.rowEnd;
    const col = this.col;
    const icol = this.icol;
    const ival = this.ival;
    const arms = this.arms;
    let w = 0;
    let start = 0;
    let i = 0;
    for (; i + 3 < k; i += 4) {
      const b0 = start;
      const b1 = rowEnd[i]!;
      const b2 = rowEnd[i + 1]!;
      const b3 = rowEnd[i + 2]!;
      const end = rowEnd[i + 3]!;
      const common = Math.min(b1 - b0, b2 - b1, b3 - b2, end - b3);
      const v0 = arms[i]!.values;
      const v1 = arms[i + 1]!.values;
      const v2 = arms[i + 2]!.values;
      const v3 = arms[i + 3]!.values;
      for (let t = 0; t < common; t++) {
        icol[w] = col[b0 + t]!;
        ival[w++] = v0[t]!;
        icol[w] = col[b1 + t]!;
        ival[w++] = v1[t]!;
        icol[w] = col[b2 + t]!;
        ival[w++] = v2[t]!;
        icol[w] = col[b3 + t]!;
        ival[w++] = v3[t]!;
      }
      w = this.copyRow(w, b0, common, b1 - b0, v0);
      w = this.copyRow(w, b1, common, b2 - b1, v1);
      w = this.copyRow(w, b2, common, b3 - b2, v2);
      w = this.copyRow(w, b3, common, end - b3, v3);
      start = end;
    }
    for (; i < k; i++) {
      const end = rowEnd[i]!;
      w = this.copyRow(w, start, 0, end - start, arms[i]!.values);
      start = end;
    }
    this.arms = [];
    this.interleaved = true;
  }

  /** Entries [from, to) of the row starting at `col[b]` (values `v`) to icol/ival at w; returns the next w. */
  private copyRow(w: number, b: number, from: number, to: number, v: Float64Array): number {
    const icol = this.icol;
    const ival = this.ival;
    const col = this.col;
    for (let t = from; t < to; t++) {
      icol[w] = col[b + t]!;
      ival[w++] = v[t]!;
    }
    return w;
  }

  reserve(k: number, nnz: number, thetaLength: number): void {
    if (this.rowEnd.length < k) this.rowEnd = new Int32Array(Math.max(k, 2 * this.rowEnd.length));
    if (this.col.length < nnz) {
      const n = Math.max(nnz, 2 * this.col.length);
      this.col = new Int32Array(n);
      this.icol = new Int32Array(n);
      this.ival = new Float64Array(n);
      this.xMean = new Float64Array(n);
      this.xRootLam = new Float64Array(n);
      this.xSd = new Float64Array(n);
    }
    if (this.theta.length < thetaLength) this.theta = new Float64Array(Math.max(thetaLength, 2 * this.theta.length));
  }
}

/**
 * Row p of Σ_UU and its mirror column: suu[p, q] = suu[q, p] = S[ra + list[q]] for q ≤ p, where
 * ra is the row offset of slot list[p] in Σ (lower triangle: list is increasing, so list[q] ≤ list[p]).
 */
function gatherRow(S: Float64Array, ra: number, list: Int32Array, p: number, suu: Float64Array, nu: number): void {
  const op = p * nu;
  for (let q = 0; q <= p; q++) {
    const v = S[ra + list[q]!]!;
    suu[op + q] = v;
    suu[q * nu + p] = v;
  }
}

/** Sherman–Morrison steps on Σ before it is recomputed from the factor (bounds rounding drift). */
const SIGMA_RESYNC = 1000;

/**
 * Updates Σ follows without a decision reading it before it is dropped instead (and recomputed
 * by the next decision that needs it). A Sherman–Morrison step costs about n²/2 multiply-adds
 * (plus n per touched entry) and a recomputation from the factor about n³/3, so past ~2n/3
 * updates with no decision in between (a feedback batch, a backlog of closing windows) keeping
 * Σ costs more than rebuilding it once.
 */
function sigmaIdleLimit(n: number): number {
  return Math.max(8, Math.floor((2 * n) / 3));
}

/** Cost of one standard normal draw in multiply-adds (alea + Marsaglia polar: ≈ 40 ns, measured). */
const NORMAL_COST = 30;

/**
 * Whether `draws` draws of a shared-structure decision are cheaper in score space than in θ
 * space, by multiply-add counts (see LinearPosterior.prepare) for n_s dense slots, k candidates,
 * Σnnz entries of which `dense` fall in the dense block: θ space pays per draw n_s²/2 (the back
 * substitution) + (n_s + Σnnz − dense) normals (the extra dimensions counted with repeats) +
 * Σnnz; score space pays once dense·n_s (W) + k·dense/2 (S) + k³/6 (its factor) and per draw
 * k normals + k²/2. A single draw is always θ space.
 */
export function preferScoreSpace(ns: number, k: number, nnz: number, dense: number, draws: number): boolean {
  // One draw in θ space is `sample` itself, with nothing to plan.
  if (draws <= 1) return false;
  const theta = draws * ((ns * ns) / 2 + NORMAL_COST * (ns + nnz - dense) + nnz);
  const score = dense * ns + (k * dense) / 2 + (k * k * k) / 6 + draws * (NORMAL_COST * k + (k * k) / 2);
  return score < theta;
}

/** Slot code of a tail slot t (dense slots are codes ≥ 0, {@link MISSING} is −1). */
function tailCode(t: number): number {
  return -2 - t;
}

/** Compact dimensions of one block: a dense factor and a diagonal tail. */
class Block {
  readonly index: KeyIndex;
  /** Dense slots used and allocated; `L` has row stride `cap`. */
  n = 0;
  cap: number;
  L: Float64Array;
  y: Float64Array;
  keys: Int32Array;
  /** Tail slots. */
  tn = 0;
  tcap: number;
  lam: Float64Array;
  tb: Float64Array;
  tailKeys: Int32Array;
  /** Per-decision draw of each tail slot, valid when `tailStamp[t]` is the current epoch. */
  tailTheta: Float64Array;
  tailStamp: Int32Array;
  /** Hybrid coupling M (rows = shared dense slots, row stride `cap`); rows ≥ mRows are zero. */
  mRows = 0;
  mCap = 0;
  M: Float64Array = new Float64Array(0);

  constructor(
    readonly maxDense: number,
    denseCap: number,
    tailCap: number,
  ) {
    this.index = new KeyIndex(Math.max(8, denseCap + tailCap));
    this.cap = Math.min(denseCap, maxDense);
    this.L = new Float64Array(this.cap * this.cap);
    this.y = new Float64Array(this.cap);
    this.keys = new Int32Array(this.cap);
    this.tcap = tailCap;
    this.lam = new Float64Array(tailCap);
    this.tb = new Float64Array(tailCap);
    this.tailKeys = new Int32Array(tailCap);
    this.tailTheta = new Float64Array(tailCap);
    this.tailStamp = new Int32Array(tailCap);
  }

  /** Slot code of `key`, or {@link MISSING}. */
  slot(key: number): number {
    return this.index.get(key);
  }

  /** Create a slot at the prior (precision λ₀, b = 0); dense while room is left. */
  add(key: number, lambda0: number): number {
    if (this.n < this.maxDense) {
      if (this.n === this.cap) this.growDense(this.n + 1);
      const n = this.n;
      const row = n * this.cap;
      // Λ₀ is diagonal, so appending a dimension appends [0 … 0 √λ₀] to L and 0 to y, and a
      // zero column to M (its entries Λ_s,new·L⁻ᵀ vanish).
      this.L.fill(0, row, row + n);
      this.L[row + n] = Math.sqrt(lambda0);
      this.y[n] = 0;
      for (let k = 0; k < this.mRows; k++) this.M[k * this.cap + n] = 0;
      this.keys[n] = key;
      this.n = n + 1;
      this.index.set(key, n);
      return n;
    }
    if (this.tn === this.tcap) this.growTail(this.tn + 1);
    const t = this.tn++;
    this.lam[t] = lambda0;
    this.tb[t] = 0;
    this.tailKeys[t] = key;
    this.tailStamp[t] = 0;
    const code = tailCode(t);
    this.index.set(key, code);
    return code;
  }

  growDense(atLeast: number): void {
    let cap = Math.max(4, this.cap * 2);
    while (cap < atLeast) cap *= 2;
    cap = Math.min(cap, this.maxDense);
    const old = this.cap;
    const L = new Float64Array(cap * cap);
    for (let r = 0; r < this.n; r++) L.set(this.L.subarray(r * old, r * old + r + 1), r * cap);
    const y = new Float64Array(cap);
    y.set(this.y.subarray(0, this.n));
    const keys = new Int32Array(cap);
    keys.set(this.keys.subarray(0, this.n));
    if (this.mCap > 0) {
      const M = new Float64Array(this.mCap * cap);
      for (let k = 0; k < this.mRows; k++) M.set(this.M.subarray(k * old, k * old + this.n), k * cap);
      this.M = M;
    }
    this.cap = cap;
    this.L = L;
    this.y = y;
    this.keys = keys;
  }

  growTail(atLeast: number): void {
    let cap = Math.max(4, this.tcap * 2);
    while (cap < atLeast) cap *= 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, this.tn) as never);
      return b;
    };
    this.lam = grow(this.lam, (n) => new Float64Array(n));
    this.tb = grow(this.tb, (n) => new Float64Array(n));
    this.tailTheta = grow(this.tailTheta, (n) => new Float64Array(n));
    this.tailKeys = grow(this.tailKeys, (n) => new Int32Array(n));
    this.tailStamp = grow(this.tailStamp, (n) => new Int32Array(n));
    this.tcap = cap;
  }

  /** Materialize zero coupling rows up to `rows` (shared dense slots). */
  ensureMRows(rows: number): void {
    if (rows <= this.mRows) return;
    if (rows > this.mCap) {
      const cap = Math.max(rows, this.mCap * 2, 4);
      const M = new Float64Array(cap * this.cap);
      M.set(this.M.subarray(0, this.mRows * this.cap));
      this.M = M;
      this.mCap = cap;
    }
    this.M.fill(0, this.mRows * this.cap, rows * this.cap);
    this.mRows = rows;
  }

  dims(): number {
    return this.n + this.tn;
  }

  toState(): BlockState {
    const n = this.n;
    const factor: number[] = [];
    for (let r = 0; r < n; r++) for (let c = 0; c <= r; c++) factor.push(this.L[r * this.cap + c]!);
    const coupling: number[] = [];
    for (let k = 0; k < this.mRows; k++) for (let c = 0; c < n; c++) coupling.push(this.M[k * this.cap + c]!);
    return {
      keys: Array.from(this.keys.subarray(0, n)),
      factor,
      y: Array.from(this.y.subarray(0, n)),
      tailKeys: Array.from(this.tailKeys.subarray(0, this.tn)),
      tailPrecision: Array.from(this.lam.subarray(0, this.tn)),
      tailB: Array.from(this.tb.subarray(0, this.tn)),
      couplingRows: this.mRows,
      coupling,
    };
  }

  /** Rebuild from {@link toState}. @throws RangeError on inconsistent arrays */
  static fromState(s: BlockState, maxDense: number, keyLimit: number, sharedRows: number, what: string): Block {
    const n = s.keys.length;
    const bad = (msg: string): never => {
      throw new RangeError(`snapshot ${what}: ${msg}`);
    };
    if (n > maxDense) bad(`${n} dense dimensions exceed maxDenseDims/covariance (${maxDense})`);
    if (s.factor.length !== (n * (n + 1)) / 2 || s.y.length !== n) bad('factor or y has the wrong length');
    const tn = s.tailKeys.length;
    if (s.tailPrecision.length !== tn || s.tailB.length !== tn) bad('tail arrays differ in length');
    if (s.couplingRows > sharedRows || s.coupling.length !== s.couplingRows * n) bad('coupling has the wrong shape');
    const b = new Block(maxDense, Math.max(n, Math.min(4, maxDense)), Math.max(tn, 4));
    b.n = n;
    let p = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c <= r; c++) b.L[r * b.cap + c] = s.factor[p++]!;
      if (!(b.L[r * b.cap + r]! > 0)) bad(`factor diagonal ${r} is not positive`);
    }
    b.y.set(s.y);
    const setKey = (k: number, code: number): void => {
      if (k >= keyLimit) bad(`key ${k} outside [0, ${keyLimit})`);
      if (b.index.get(k) !== MISSING) bad(`key ${k} appears twice`);
      b.index.set(k, code);
    };
    s.keys.forEach((k, i) => {
      b.keys[i] = k;
      setKey(k, i);
    });
    b.tn = tn;
    s.tailKeys.forEach((k, t) => {
      b.tailKeys[t] = k;
      setKey(k, tailCode(t));
    });
    b.lam.set(s.tailPrecision);
    b.tb.set(s.tailB);
    if (s.couplingRows > 0) {
      b.ensureMRows(s.couplingRows);
      for (let k = 0; k < s.couplingRows; k++) {
        for (let c = 0; c < n; c++) b.M[k * b.cap + c] = s.coupling[k * n + c]!;
      }
    }
    return b;
  }
}

/**
 * The posterior of one regression, in any structure. Not thread-safe; reuses its buffers, so
 * `sample`, `summarize` and `update` allocate nothing once the dimensions have been seen
 * (except a per-decision item-id map for `disjoint`/`hybrid`).
 */
export class LinearPosterior {
  readonly settings: RegressionSettings;
  /** Prior precision λ₀ in Λ units (σ²/τ² with known noise, 1/τ² under NIG). */
  readonly lambda0: number;
  private readonly priorSd: number;
  private readonly hasShared: boolean;
  private readonly hasItems: boolean;
  private readonly mask: number;
  private readonly itemMaxDense: number;
  private readonly sharedMaxDense: number;

  private shared: Block | null;
  private readonly items = new Map<string, Block>();
  private rss = 0;
  private weightSum = 0;
  private outcomes = 0;
  private lastJitter = 0;

  // Scratch. Shared-sized (maxDense) and item-sized (min(maxDense, 2^contextBits)).
  private readonly xs: Float64Array;
  private readonly cs: Float64Array;
  private readonly ts: Float64Array;
  private readonly vs: Float64Array;
  private readonly xa: Float64Array;
  private readonly ca: Float64Array;
  private readonly ta: Float64Array;
  private readonly muS: Float64Array;
  private muValid = false;
  /**
   * Σ = Λ_s⁻¹ of the shared block (lower triangle, row stride `sigmaCap`) for score-space plans
   * (shared structure only): recomputed from L when invalid (n³/3), else kept by a
   * Sherman–Morrison step per update (n²/2). Invalidated by decay, restore, snapshot, a
   * re-layout of the block, an ill-conditioned step, every {@link SIGMA_RESYNC} steps, and after
   * {@link sigmaIdleLimit} updates that no decision read — so it is a deterministic function of
   * the state at the last snapshot and the updates and decisions since, and a restored posterior
   * continues bit-identically.
   */
  private sigma = new Float64Array(0);
  private sigmaValid = false;
  private sigmaCap = 0;
  private sigmaN = 0;
  private sigmaSteps = 0;
  /** Updates folded into Σ since a decision last read it (see {@link sigmaIdleLimit}). */
  private sigmaIdle = 0;
  private sigmaU = new Float64Array(0);
  /** Score-plan scratch: position of each dense slot in the decision's union U, by stamp. */
  private uPos = new Int32Array(0);
  private uStamp = new Int32Array(0);
  private uEpoch = 0;
  private uList = new Int32Array(0);
  /** Scratch for recomputing Σ: (L_s⁻¹)ᵀ, row stride = shared cap. */
  private linvT = new Float64Array(0);
  // Masked context of the current call.
  private readonly ctxPos: Int32Array;
  private readonly ctxKeys: Int32Array;
  private readonly ctxVals: Float64Array;
  private ctxN = 0;
  private readonly ctxCodes: Int32Array;
  private armCodes = new Int32Array(64);
  private epoch = 0;
  private readonly drawCache = new DrawCache();
  private readonly firstIndex = new Map<string, number>();
  private itemPart = new Float64Array(64);
  /** Bumped by every change of the learned state; a prepared draw plan is valid for one revision. */
  private revision = 0;
  /**
   * The score-space plan of the last planned decision (one at a time: a sampler whose plan was
   * taken over, or whose posterior changed, rebuilds it) and the extra dimensions it met.
   */
  private readonly plan = new ScorePlan();
  private readonly planKeys = new DrawCache();
  /** The θ-space draw plan of the last θ-planned decision (see {@link prepare}). */
  private readonly thetaPlan = new SharedDrawPlan();
  private planOwner = 0;

  constructor(settings: RegressionSettings) {
    this.settings = settings;
    const known = settings.noise === 'known';
    this.lambda0 = known ? settings.noiseVariance / settings.priorVariance : 1 / settings.priorVariance;
    this.priorSd = 1 / Math.sqrt(this.lambda0);
    this.hasShared = settings.structure !== 'disjoint';
    this.hasItems = settings.structure !== 'shared';
    const ctxDim = 1 << settings.contextBits;
    this.mask = ctxDim - 1;
    const dense = settings.covariance === 'full' ? settings.maxDenseDims : 0;
    this.sharedMaxDense = this.hasShared ? dense : 0;
    this.itemMaxDense = this.hasItems ? Math.min(dense, ctxDim) : 0;
    this.shared = this.hasShared ? new Block(this.sharedMaxDense, 16, 16) : null;
    this.xs = new Float64Array(this.sharedMaxDense);
    this.cs = new Float64Array(this.sharedMaxDense);
    this.ts = new Float64Array(this.sharedMaxDense);
    this.vs = new Float64Array(this.sharedMaxDense);
    this.muS = new Float64Array(this.sharedMaxDense);
    this.xa = new Float64Array(this.itemMaxDense);
    this.ca = new Float64Array(this.itemMaxDense);
    this.ta = new Float64Array(this.itemMaxDense);
    this.ctxPos = new Int32Array(this.hasItems ? ctxDim : 0).fill(-1);
    this.ctxKeys = new Int32Array(this.hasItems ? ctxDim : 0);
    this.ctxVals = new Float64Array(this.hasItems ? ctxDim : 0);
    this.ctxCodes = new Int32Array(this.hasItems ? ctxDim : 0);
  }

  /** NIG shape aₙ = a₀ + Σw/2. */
  get nigShape(): number {
    return this.settings.nigA + this.weightSum / 2;
  }

  /** NIG scale bₙ = b₀ + ½(Σw·r² − μᵀΛμ). */
  get nigScale(): number {
    return this.settings.nigB + this.rss / 2;
  }

  /** The σ² used to report standard deviations: σ² (known) or the Student-t scale bₙ/aₙ (NIG). */
  private pointNoiseVariance(): number {
    return this.settings.noise === 'known' ? this.settings.noiseVariance : this.nigScale / this.nigShape;
  }

  /** Mask the context to `contextBits` (summing collisions, dropping zeros) into ctxKeys/ctxVals. */
  private maskContext(ctx: SparseVector): void {
    const pos = this.ctxPos;
    const keys = this.ctxKeys;
    const vals = this.ctxVals;
    let m = 0;
    for (let j = 0; j < ctx.nnz; j++) {
      const key = ctx.indices[j]! & this.mask;
      const p = pos[key]!;
      if (p < 0) {
        pos[key] = m;
        keys[m] = key;
        vals[m++] = ctx.values[j]!;
      } else {
        vals[p] = vals[p]! + ctx.values[j]!;
      }
    }
    let kept = 0;
    for (let i = 0; i < m; i++) {
      pos[keys[i]!] = -1;
      if (vals[i] !== 0) {
        keys[kept] = keys[i]!;
        vals[kept++] = vals[i]!;
      }
    }
    this.ctxN = kept;
  }

  /**
   * Fold one outcome (weight > 0) or retract one (weight < 0: the same features, reward and
   * |weight| folded earlier). O(n_a² + n_a·n_s + n_s²) for the dense parts, O(nnz) for tails.
   * @throws RangeError on non-finite input, or a retraction naming a dimension or item never folded
   * @throws NotPositiveDefiniteError when a retraction would leave Λ not positive definite
   *   (nothing is changed then)
   */
  update(x: OutcomeFeatures, reward: number, weight: number): void {
    if (!Number.isFinite(reward) || !Number.isFinite(weight)) {
      throw new RangeError(`update needs a finite reward and weight, got ${reward}, ${weight}`);
    }
    if (weight === 0) return;
    // Before any change (slots may be created even if a later step throws): prepared plans go stale.
    this.revision++;
    const retract = weight < 0;
    const w = Math.abs(weight);
    const sw = Math.sqrt(w);
    const eta = sw * reward;
    const l0 = this.lambda0;
    if (retract && this.settings.noise === 'nig' && !(this.nigShape - w / 2 > 0)) {
      throw new RangeError('retraction exceeds the folded weight (NIG shape would not stay positive)');
    }

    // Resolve (or, when folding, create) the slots of every non-zero feature first, so that a
    // failing retraction changes nothing.
    let blk: Block | undefined;
    if (this.hasItems) {
      this.maskContext(x.context);
      if (this.ctxN > 0) {
        blk = this.items.get(x.itemId);
        if (!blk) {
          if (retract) throw new RangeError(`retraction for item ${x.itemId}, which has no outcome`);
          blk = new Block(this.itemMaxDense, 4, 4);
          this.items.set(x.itemId, blk);
        }
        for (let m = 0; m < this.ctxN; m++) {
          let code = blk.slot(this.ctxKeys[m]!);
          if (code === MISSING) {
            if (retract) throw new RangeError(`retraction names context dimension ${this.ctxKeys[m]} never folded`);
            code = blk.add(this.ctxKeys[m]!, l0);
          }
          this.ctxCodes[m] = code;
        }
      }
    }
    const sh = this.shared;
    const arm = x.arm;
    const cap0 = sh ? sh.cap : 0;
    if (sh) {
      if (this.armCodes.length < arm.nnz) this.armCodes = new Int32Array(Math.max(arm.nnz, this.armCodes.length * 2));
      for (let j = 0; j < arm.nnz; j++) {
        let code = sh.slot(arm.indices[j]!);
        if (code === MISSING) {
          if (retract) throw new RangeError(`retraction names feature ${arm.indices[j]} never folded`);
          code = sh.add(arm.indices[j]!, l0);
        }
        this.armCodes[j] = code;
      }
    }
    if (retract) this.checkTailRetraction(blk, arm, w);

    // Dense parts.
    const na = blk ? blk.n : 0;
    const ns = sh ? sh.n : 0;
    const xa = this.xa;
    const xs = this.xs;
    xa.fill(0, 0, na);
    xs.fill(0, 0, ns);
    if (blk) {
      for (let m = 0; m < this.ctxN; m++) {
        const code = this.ctxCodes[m]!;
        if (code >= 0) xa[code] = sw * this.ctxVals[m]!;
      }
    }
    if (sh) {
      for (let j = 0; j < arm.nnz; j++) {
        const code = this.armCodes[j]!;
        if (code >= 0) xs[code] = sw * arm.values[j]!;
      }
    }
    if (blk && na > 0 && ns > 0) blk.ensureMRows(ns);
    if (retract) this.denseDowndate(blk, na, sh, ns, eta);
    else this.denseUpdate(blk, na, sh, ns, eta);
    // After the factor (a retraction the factor refuses must leave Σ as it was).
    if (this.sigmaValid && sh) {
      if (sh.cap !== cap0 || sh.cap !== this.sigmaCap) this.sigmaValid = false;
      else this.sigmaFold(sh, arm, retract ? -w : w);
    }

    // Diagonal tails: plain sums.
    const sw2 = retract ? -w : w;
    if (blk) {
      for (let m = 0; m < this.ctxN; m++) {
        const code = this.ctxCodes[m]!;
        if (code < -1) {
          const t = -2 - code;
          const v = this.ctxVals[m]!;
          blk.lam[t] = blk.lam[t]! + sw2 * v * v;
          blk.tb[t] = blk.tb[t]! + sw2 * reward * v;
        }
      }
    }
    if (sh) {
      for (let j = 0; j < arm.nnz; j++) {
        const code = this.armCodes[j]!;
        if (code < -1) {
          const t = -2 - code;
          const v = arm.values[j]!;
          sh.lam[t] = sh.lam[t]! + sw2 * v * v;
          sh.tb[t] = sh.tb[t]! + sw2 * reward * v;
        }
      }
    }
    this.weightSum += weight;
    this.outcomes += retract ? -1 : 1;
    this.muValid = false;
  }

  /**
   * Σ ← (Λ + w·x·xᵀ)⁻¹ = Σ − w·u·uᵀ/(1 + w·xᵀu) with u = Σx (Sherman–Morrison; w < 0 retracts),
   * over the dense slots of `arm`, after appending the slots this update created (uncoupled,
   * variance 1/λ₀). Leaves Σ invalid instead when 1 + w·xᵀu is not safely positive or after
   * {@link SIGMA_RESYNC} steps since Σ was last recomputed from L.
   */
  private sigmaFold(sh: Block, arm: SparseVector, w: number): void {
    const ns = sh.n;
    const cap = this.sigmaCap;
    const S = this.sigma;
    for (let a = this.sigmaN; a < ns; a++) {
      S.fill(0, a * cap, a * cap + a);
      S[a * cap + a] = 1 / this.lambda0;
    }
    this.sigmaN = ns;
    if (++this.sigmaSteps > SIGMA_RESYNC || ++this.sigmaIdle > sigmaIdleLimit(ns)) {
      this.sigmaValid = false;
      return;
    }
    if (this.sigmaU.length < cap) this.sigmaU = new Float64Array(cap);
    const u = this.sigmaU;
    u.fill(0, 0, ns);
    const codes = this.armCodes;
    let q = 0;
    for (let j = 0; j < arm.nnz; j++) {
      const b = codes[j]!;
      if (b < 0) continue;
      const xb = arm.values[j]!;
      // Row b of the lower triangle, then column b below the diagonal.
      axpy(u, 0, xb, S, b * cap, b + 1);
      for (let a = b + 1; a < ns; a++) u[a] = u[a]! + xb * S[a * cap + b]!;
    }
    for (let j = 0; j < arm.nnz; j++) {
      const b = codes[j]!;
      if (b >= 0) q += arm.values[j]! * u[b]!;
    }
    const denom = 1 + w * q;
    if (!(denom > 1e-6) || !Number.isFinite(denom)) {
      this.sigmaValid = false;
      return;
    }
    const f = w / denom;
    for (let a = 0; a < ns; a++) {
      const ua = u[a]! * f;
      if (ua !== 0) axpy(S, a * cap, -ua, u, 0, a + 1);
    }
  }

  /** Σ = L⁻ᵀL⁻¹ of the shared block (lower triangle), recomputed from L when not valid. */
  private ensureSigma(sh: Block): void {
    if (this.sigmaValid && this.sigmaCap === sh.cap && this.sigmaN === sh.n) return;
    const cap = sh.cap;
    if (this.sigma.length < cap * cap) {
      this.sigma = new Float64Array(cap * cap);
      this.linvT = new Float64Array(cap * cap);
    }
    cholInverseLower(sh.L, sh.n, this.sigma, this.linvT, cap);
    this.sigmaValid = true;
    this.sigmaCap = cap;
    this.sigmaN = sh.n;
    this.sigmaSteps = 0;
  }

  private checkTailRetraction(blk: Block | undefined, arm: SparseVector, w: number): void {
    const fail = (): never => {
      throw new NotPositiveDefiniteError('retraction would make a diagonal precision non-positive: was it folded?');
    };
    if (blk) {
      for (let m = 0; m < this.ctxN; m++) {
        const code = this.ctxCodes[m]!;
        const v = this.ctxVals[m]!;
        if (code < -1 && !(blk.lam[-2 - code]! - w * v * v > 0)) fail();
      }
    }
    const sh = this.shared;
    if (sh) {
      for (let j = 0; j < arm.nnz; j++) {
        const code = this.armCodes[j]!;
        const v = arm.values[j]!;
        if (code < -1 && !(sh.lam[-2 - code]! - w * v * v > 0)) fail();
      }
    }
  }

  /** Givens update of the arrowhead factor [[L_a, 0], [M_a, L_s]] and of y, ρ² (dchud). */
  private denseUpdate(blk: Block | undefined, na: number, sh: Block | null, ns: number, eta: number): void {
    let carry = eta;
    const xa = this.xa;
    const xs = this.xs;
    if (blk && na > 0) {
      const ca = this.ca;
      cholUpdate(blk.L, na, xa, ca, blk.cap);
      // The item block's rotations reach the shared rows through M_a before the shared block
      // rotates; their carries become the shared block's update vector.
      for (let k = 0; k < ns; k++) xs[k] = applyUpdateToRow(blk.M, k * blk.cap, na, ca, xa, xs[k]!);
      carry = applyUpdateToRow(blk.y, 0, na, ca, xa, carry);
    }
    if (sh && ns > 0) {
      cholUpdate(sh.L, ns, xs, this.cs, sh.cap);
      carry = applyUpdateToRow(sh.y, 0, ns, this.cs, xs, carry);
    }
    this.rss += carry * carry;
  }

  /** Orthogonal downdate of the arrowhead factor and of y, ρ² (dchdd), checked before any change. */
  private denseDowndate(blk: Block | undefined, na: number, sh: Block | null, ns: number, eta: number): void {
    const xa = this.xa;
    const xs = this.xs;
    const ca = this.ca;
    const cs = this.cs;
    // p = L⁻¹x for the arrowhead: p_a = L_a⁻¹x_a, p_s = L_s⁻¹(x_s − M_a·p_a).
    let pp = 0;
    let py = 0;
    if (blk && na > 0) {
      solveLower(blk.L, na, xa, xa, blk.cap);
      for (let i = 0; i < na; i++) {
        pp += xa[i]! * xa[i]!;
        py += xa[i]! * blk.y[i]!;
      }
      for (let k = 0; k < ns; k++) {
        const r = k * blk.cap;
        let s = 0;
        for (let i = 0; i < na; i++) s += blk.M[r + i]! * xa[i]!;
        xs[k] = xs[k]! - s;
      }
    }
    if (sh && ns > 0) {
      solveLower(sh.L, ns, xs, xs, sh.cap);
      for (let k = 0; k < ns; k++) {
        pp += xs[k]! * xs[k]!;
        py += xs[k]! * sh.y[k]!;
      }
    }
    const alpha2 = 1 - pp;
    if (!(alpha2 > Number.EPSILON)) {
      throw new NotPositiveDefiniteError(
        `retraction would leave the precision matrix not positive definite (1 − |L⁻¹x|² = ${alpha2}): was this outcome folded?`,
      );
    }
    const alpha = Math.sqrt(alpha2);
    const beta = (eta - py) / alpha;
    // Rotations run from the last column (shared) to the first (item block).
    let a = alpha;
    if (sh && ns > 0) a = downdateRotations(xs, ns, a, cs, xs);
    if (blk && na > 0) {
      downdateRotations(xa, na, a, ca, xa);
      applyDowndateToLower(blk.L, na, ca, xa, blk.cap);
    }
    if (sh && ns > 0) {
      for (let k = 0; k < ns; k++) {
        const carry = applyDowndateToRow(sh.L, k * sh.cap, k + 1, cs, xs, 0);
        if (blk && na > 0) applyDowndateToRow(blk.M, k * blk.cap, na, ca, xa, carry);
      }
    }
    let carry = beta;
    if (sh && ns > 0) carry = applyDowndateToRow(sh.y, 0, ns, cs, xs, carry);
    if (blk && na > 0) applyDowndateToRow(blk.y, 0, na, ca, xa, carry);
    this.rss = Math.max(0, this.rss - beta * beta);
  }

  private beginDecision(): void {
    if (this.epoch === 0x7fffffff) {
      this.epoch = 0;
      if (this.shared) this.shared.tailStamp.fill(0);
      for (const b of this.items.values()) b.tailStamp.fill(0);
    }
    this.epoch++;
    this.drawCache.begin();
  }

  private checkCall(input: DecisionFeatures, out: Float64Array, what: string, noOutput = false): number {
    const k = input.itemIds.length;
    if (input.arms.length !== k) throw new RangeError(`${what}: ${input.arms.length} arms for ${k} items`);
    if (!noOutput && out.length < k) throw new RangeError(`${what}: output has ${out.length} entries for ${k} candidates`);
    if (this.itemPart.length < k) this.itemPart = new Float64Array(Math.max(k, this.itemPart.length * 2));
    return k;
  }

  /**
   * One Thompson draw for the decision: σ² ~ InvGamma(aₙ, bₙ) under NIG, then
   * θ = L⁻ᵀ(y + √(T·σ²)·z) for the shared block and, per distinct candidate item, its block
   * conditional on the shared draw; dimensions never folded draw from the prior once per
   * decision. `out[i] = x_iᵀθ`. With T = 0, no randomness is used and `out` is the mean.
   * @throws RangeError when T is negative or not finite, or the shapes disagree
   */
  sample(input: DecisionFeatures, rng: Rng, out: Float64Array, temperature: number): void {
    checkTemperature(temperature);
    const k = this.checkCall(input, out, 'sample');
    this.scoreAt(input, k, this.drawScale(temperature, rng), rng, out);
  }

  /** √(T·σ²) of one draw: σ² known, or σ² ~ InvGamma(aₙ, bₙ) (one gamma draw) under NIG; 0 when T = 0. */
  private drawScale(temperature: number, rng: Rng): number {
    if (!(temperature > 0)) return 0;
    const s2 = this.settings.noise === 'known' ? this.settings.noiseVariance : 1 / rng.gamma(this.nigShape, 1 / this.nigScale);
    return Math.sqrt(temperature * s2);
  }

  /** The body of {@link sample} once the draw's scale is known. */
  private scoreAt(input: DecisionFeatures, k: number, scale: number, rng: Rng, out: Float64Array): void {
    this.beginDecision();
    const sh = this.shared;
    const ts = this.ts;
    let ns = 0;
    if (sh) {
      ns = sh.n;
      const y = sh.y;
      if (scale > 0) for (let i = 0; i < ns; i++) ts[i] = y[i]! + scale * rng.normal();
      else for (let i = 0; i < ns; i++) ts[i] = y[i]!;
      backSubstituteT(sh.L, ns, ts, sh.cap);
    }
    if (this.hasItems) {
      this.maskContext(input.context);
      this.firstIndex.clear();
    }
    const itemPart = this.itemPart;
    for (let i = 0; i < k; i++) {
      let score = 0;
      if (sh) score += this.sharedScore(sh, input.arms[i]!, scale, rng);
      if (this.hasItems) {
        const id = input.itemIds[i]!;
        const first = this.firstIndex.get(id);
        if (first === undefined) {
          this.firstIndex.set(id, i);
          itemPart[i] = this.itemScore(id, ns, scale, rng);
        } else {
          itemPart[i] = itemPart[first]!;
        }
        score += itemPart[i]!;
      }
      out[i] = score;
    }
  }

  /**
   * {@link sample} with the per-decision work done once, for a decision that draws `draws` times
   * (its own draw and M Monte-Carlo propensity draws): `prepare(input, T, draws)` returns a
   * sampler `(rng, out) => void` whose every call writes one draw of the candidates' scores with
   * the same joint law as `sample(input, rng, out, T)`. `draws` is a hint: it picks the cheaper
   * of two exact ways to draw, never the law.
   *
   * For the `shared` structure, by a flop count of both (deterministic in ns, k, Σnnz, draws):
   * - θ space: the first call draws as `sample` does (bit-identical, same rng consumption) and
   *   resolves each candidate's hashed indices to a CSR matrix X over θ̃ = [θ_dense ; θ_extra]
   *   (θ_extra: never-seen and diagonal-tail dimensions in the order `sample` meets them); each
   *   later call costs n_s + n_x normals, one back substitution θ_dense = L⁻ᵀ(y + s·z) (n_s²/2)
   *   and X·θ̃. Best when the decision touches few dimensions compared with its candidates.
   * - score space (see ./score-plan.ts): the scores are N(m, s²·S) with m = Xμ and
   *   S = X·Λ⁻¹·Xᵀ (dense block through the cached L⁻¹, tail and never-seen dimensions as
   *   independent terms); S is factored once per decision and revision and each call costs
   *   k normals and k²/2 multiply-adds (another random stream than `sample`). Best when the
   *   candidates touch many dimensions (hashed interactions, a large dense block).
   * With T = 0 the sampler writes `sample`'s mean scores (bit-identical), computed once per
   * revision. `disjoint` and `hybrid` get a sampler that calls `sample`.
   *
   * The sampler reads the posterior at call time: after an update, decay or restore (or when
   * another decision's plan took over the one plan buffer) it re-plans on its next call.
   * `input` must not be mutated while the sampler is in use.
   * @throws RangeError when T is negative or not finite, `draws` is not a positive integer or
   *   the shapes disagree (at prepare; a call throws when `out` is shorter than the candidates)
   */
  prepare(input: DecisionFeatures, temperature: number, draws = 1): (rng: Rng, out: Float64Array) => void {
    checkTemperature(temperature);
    if (!(Number.isInteger(draws) && draws >= 1)) throw new RangeError(`prepare: draws must be a positive integer, got ${draws}`);
    const k = this.checkCall(input, EMPTY, 'prepare', true);
    if (this.hasItems || !this.shared) return (rng, out) => this.sample(input, rng, out, temperature);
    const known = this.settings.noise === 'known';
    const knownScale = Math.sqrt(temperature * this.settings.noiseVariance);
    if (!(temperature > 0)) {
      // The mean scores, exactly as `sample` writes them at T = 0, computed once per revision.
      let mean: Float64Array | null = null;
      let meanRevision = -1;
      return (rng, out) => {
        if (out.length < k) throw new RangeError(`sample: output has ${out.length} entries for ${k} candidates`);
        if (mean === null || meanRevision !== this.revision) {
          mean ??= new Float64Array(k);
          this.checkCall(input, mean, 'sample');
          this.scoreAt(input, k, 0, rng, mean);
          meanRevision = this.revision;
        }
        for (let i = 0; i < k; i++) out[i] = mean[i]!;
      };
    }
    // Entries outside the dense block (diagonal tail or never seen): θ space draws one normal per
    // distinct such dimension per draw (counted here with repeats, an upper bound).
    const sh = this.shared;
    let nnz = 0;
    let dense = 0;
    const planned = this.plan;
    if (draws > 1 && planned.input === input && planned.revision === this.revision && planned.k === k) {
      // The decision's score plan is current (`summarize` built it): it has counted both.
      dense = planned.dStart[k]!;
      nnz = dense + planned.exCount;
    } else if (draws > 1) {
      const index = sh.index;
      const direct = index.directTable;
      const directLength = direct.length;
      for (let i = 0; i < k; i++) {
        const arm = input.arms[i]!;
        const idx = arm.indices;
        nnz += arm.nnz;
        for (let e = 0; e < arm.nnz; e++) {
          const key = idx[e]!;
          if ((key < directLength ? direct[key]! : index.get(key)) >= 0) dense++;
        }
      }
    }
    if (!preferScoreSpace(sh.n, k, nnz, dense, draws)) {
      const owner = ++this.planOwner;
      const plan = this.thetaPlan;
      return (rng, out) => {
        if (out.length < k) throw new RangeError(`sample: output has ${out.length} entries for ${k} candidates`);
        const scale = known ? knownScale : this.drawScale(temperature, rng);
        if (!(scale > 0)) {
          // σ² underflowed (or worse): `sample`'s own branches handle it.
          this.scoreAt(input, k, scale, rng, out);
        } else if (plan.owner === owner && plan.revision === this.revision) {
          this.drawPlanned(k, scale, rng, out);
        } else {
          this.drawPlanning(input, k, owner, scale, rng, out);
        }
      };
    }
    return (rng, out) => {
      if (out.length < k) throw new RangeError(`sample: output has ${out.length} entries for ${k} candidates`);
      const plan = this.scorePlan(input, k);
      const scale = known ? knownScale : this.drawScale(temperature, rng);
      if (scale > 0 && Number.isFinite(scale)) {
        if (!plan.factored) plan.factor();
        plan.draw(scale, rng, out);
      } else {
        // σ² underflowed (or worse): the mean, as `sample` gives at scale 0.
        for (let i = 0; i < k; i++) out[i] = plan.mean[i]!;
      }
    };
  }

  /**
   * The score-space plan of `input` at the current revision (shared structure): the union U of
   * the dense slots the candidates touch, Σ_UU gathered from the maintained Σ, the candidates'
   * dense entries over U, the extra dimensions, the means, and S; the factor is left to the
   * first draw.
   */
  private scorePlan(input: DecisionFeatures, k: number): ScorePlan {
    const plan = this.plan;
    if (plan.input === input && plan.revision === this.revision && plan.k === k) return plan;
    const sh = this.shared!;
    const ns = sh.n;
    this.ensureMean(sh);
    if (ns > 0) {
      this.ensureSigma(sh);
      this.sigmaIdle = 0;
    }
    let total = 0;
    for (let i = 0; i < k; i++) total += input.arms[i]!.nnz;
    plan.reserve(k, total);
    if (this.uPos.length < ns) {
      const n = Math.max(ns, 2 * this.uPos.length);
      this.uPos = new Int32Array(n);
      this.uStamp = new Int32Array(n);
      this.uList = new Int32Array(n);
    }
    if (this.uEpoch === 0x7fffffff) {
      this.uStamp.fill(0);
      this.uEpoch = 0;
    }
    const epoch = ++this.uEpoch;
    const uPos = this.uPos;
    const uStamp = this.uStamp;
    const uList = this.uList;
    let nu = 0;
    const mean = plan.mean;
    const muS = this.muS;
    const priorVar = this.priorSd * this.priorSd;
    const seen = this.planKeys;
    seen.begin();
    const index = sh.index;
    const direct = index.directTable;
    const directLength = direct.length;
    const { exId, exRow, exVal, exVar, dStart, dPos, dVal } = plan;
    let entries = 0;
    let dense = 0;
    let dims = 0;
    for (let i = 0; i < k; i++) {
      const arm = input.arms[i]!;
      const idx = arm.indices;
      const vals = arm.values;
      let m = 0;
      dStart[i] = dense;
      for (let e = 0; e < arm.nnz; e++) {
        const key = idx[e]!;
        const x = vals[e]!;
        const code = key < directLength ? direct[key]! : index.get(key);
        if (code >= 0) {
          m += x * muS[code]!;
          if (uStamp[code] !== epoch) {
            uStamp[code] = epoch;
            uList[nu++] = code;
          }
          // The slot for now: mapped to its position in U once U is complete (below).
          dPos[dense] = code;
          dVal[dense++] = x;
          continue;
        }
        let d: number;
        const at = seen.find(key);
        if (at >= 0) {
          d = seen.valueAt(at);
        } else {
          d = dims++;
          seen.put(key, d);
          exVar[d] = code === MISSING ? priorVar : 1 / sh.lam[-2 - code]!;
        }
        if (code !== MISSING) {
          const t = -2 - code;
          m += (x * sh.tb[t]!) / sh.lam[t]!;
        }
        exId[entries] = d;
        exRow[entries] = i;
        exVal[entries] = x;
        entries++;
      }
      mean[i] = m;
    }
    dStart[k] = dense;
    plan.reserveDense(nu);
    plan.exCount = entries;
    plan.exDims = dims;
    // U in increasing slot order, so that row p of Σ_UU's lower triangle is read from one row
    // of Σ, at increasing addresses (the order of U is only a layout: see ScorePlan.covariance).
    if (ns <= 16 * nu) {
      let n = 0;
      for (let c = 0; c < ns; c++) if (uStamp[c] === epoch) uList[n++] = c;
    } else {
      uList.subarray(0, nu).sort();
    }
    for (let p = 0; p < nu; p++) uPos[uList[p]!] = p;
    for (let e = 0; e < dense; e++) dPos[e] = uPos[dPos[e]!]!;
    // Σ_UU, full, from the lower triangle of Σ.
    const S = this.sigma;
    const cap = this.sigmaCap;
    const suu = plan.sigmaUU;
    for (let p = 0; p < nu; p++) gatherRow(S, uList[p]! * cap, uList, p, suu, nu);
    plan.covariance();
    plan.input = input;
    plan.revision = this.revision;
    return plan;
  }

  /** μ_s = L⁻ᵀy of the shared block, once per revision. */
  private ensureMean(sh: Block): void {
    if (this.muValid) return;
    solveUpperT(sh.L, sh.n, sh.y, this.muS, sh.cap);
    this.muValid = true;
  }

  /** θ_dense = L⁻ᵀ(y + s·z) into plan.theta[0, n_s), exactly as `scoreAt` (scale > 0). */
  private drawDense(sh: Block, theta: Float64Array, scale: number, rng: Rng): void {
    const ns = sh.n;
    const y = sh.y;
    for (let i = 0; i < ns; i++) theta[i] = y[i]! + scale * rng.normal();
    backSubstituteT(sh.L, ns, theta, sh.cap);
  }

  /**
   * One draw that also resolves the plan (see {@link prepare}): `sharedScore`'s pass over the
   * arms, recording each entry's θ̃ column and value as it goes, so the first draw of a decision
   * costs about what `sample` costs.
   */
  private drawPlanning(input: DecisionFeatures, k: number, owner: number, scale: number, rng: Rng, out: Float64Array): void {
    const sh = this.shared!;
    const plan = this.thetaPlan;
    const ns = sh.n;
    let total = 0;
    for (let i = 0; i < k; i++) total += input.arms[i]!.nnz;
    plan.reserve(k, total, ns + total);
    const theta = plan.theta;
    this.drawDense(sh, theta, scale, rng);
    const c0 = scale * this.priorSd;
    const seen = this.planKeys;
    seen.begin();
    const rowEnd = plan.rowEnd;
    const col = plan.col;
    const xMean = plan.xMean;
    const xRoot = plan.xRootLam;
    const xSd = plan.xSd;
    const index = sh.index;
    const direct = index.directTable;
    const directLength = direct.length;
    let nx = 0;
    let j = 0;
    for (let i = 0; i < k; i++) {
      const arm = input.arms[i]!;
      const idx = arm.indices;
      const vals = arm.values;
      const nnz = arm.nnz;
      let s = 0;
      for (let m = 0; m < nnz; m++) {
        const key = idx[m]!;
        let c = key < directLength ? direct[key]! : index.get(key);
        if (c < 0) {
          const at = seen.find(key);
          if (at >= 0) {
            c = seen.valueAt(at);
          } else {
            // First meeting in this decision: draw it now, as sharedScore / tailTheta do.
            const code = c;
            c = ns + nx;
            if (code === MISSING) {
              xMean[nx] = 0;
              xRoot[nx] = 0;
              xSd[nx] = c0;
              theta[c] = c0 * rng.normal();
            } else {
              const t = -2 - code;
              const lam = sh.lam[t]!;
              const mean = sh.tb[t]! / lam;
              const root = Math.sqrt(lam);
              const sd = scale / root;
              xMean[nx] = mean;
              xRoot[nx] = root;
              xSd[nx] = sd;
              theta[c] = mean + sd * rng.normal();
            }
            nx++;
            seen.put(key, c);
          }
        }
        col[j++] = c;
        s += vals[m]! * theta[c]!;
      }
      rowEnd[i] = j;
      out[i] = 0 + s;
    }
    plan.arms = input.arms;
    plan.interleaved = false;
    plan.ns = ns;
    plan.nx = nx;
    plan.fixedScale = this.settings.noise === 'known';
    plan.owner = owner;
    plan.revision = this.revision;
  }

  /** One draw through a resolved plan: n_s + n_x normals, one back substitution, X·θ̃. */
  private drawPlanned(k: number, scale: number, rng: Rng, out: Float64Array): void {
    const sh = this.shared!;
    const plan = this.thetaPlan;
    const theta = plan.theta;
    this.drawDense(sh, theta, scale, rng);
    const ns = plan.ns;
    const nx = plan.nx;
    if (nx > 0) {
      const xMean = plan.xMean;
      const xRoot = plan.xRootLam;
      if (plan.fixedScale) {
        // Known noise: the multipliers s·τ₀ and s/√λ were computed once, by the same expressions.
        const xSd = plan.xSd;
        for (let e = 0; e < nx; e++) {
          theta[ns + e] = xRoot[e] === 0 ? xSd[e]! * rng.normal() : xMean[e]! + xSd[e]! * rng.normal();
        }
      } else {
        const c0 = scale * this.priorSd;
        for (let e = 0; e < nx; e++) {
          const r = xRoot[e]!;
          // Same expressions as sharedScore / tailTheta: (s·τ₀)·z, and b/λ + (s/√λ)·z.
          theta[ns + e] = r === 0 ? c0 * rng.normal() : xMean[e]! + (scale / r) * rng.normal();
        }
      }
    }
    if (!plan.interleaved) plan.interleave(k);
    interleavedTimes(plan.rowEnd, plan.icol, plan.ival, theta, k, out);
  }

  private sharedScore(sh: Block, arm: SparseVector, scale: number, rng: Rng): number {
    const ts = this.ts;
    const idx = arm.indices;
    const val = arm.values;
    let s = 0;
    for (let j = 0; j < arm.nnz; j++) {
      const key = idx[j]!;
      const code = sh.index.get(key);
      if (code >= 0) {
        s += val[j]! * ts[code]!;
      } else if (code === MISSING) {
        if (scale === 0) continue;
        const at = this.drawCache.find(key);
        let theta: number;
        if (at >= 0) {
          theta = this.drawCache.valueAt(at);
        } else {
          theta = scale * this.priorSd * rng.normal();
          this.drawCache.put(key, theta);
        }
        s += val[j]! * theta;
      } else {
        s += val[j]! * this.tailTheta(sh, -2 - code, scale, rng);
      }
    }
    return s;
  }

  private tailTheta(b: Block, t: number, scale: number, rng: Rng): number {
    if (b.tailStamp[t] === this.epoch) return b.tailTheta[t]!;
    const lam = b.lam[t]!;
    let theta = b.tb[t]! / lam;
    if (scale > 0) theta += (scale / Math.sqrt(lam)) * rng.normal();
    b.tailTheta[t] = theta;
    b.tailStamp[t] = this.epoch;
    return theta;
  }

  /** Item-specific part x_ctxᵀθ_a for one item, θ_a = L_a⁻ᵀ(y_a + s·z_a − M_aᵀθ_s). */
  private itemScore(id: string, ns: number, scale: number, rng: Rng): number {
    const blk = this.items.get(id);
    const keys = this.ctxKeys;
    const vals = this.ctxVals;
    let s = 0;
    if (!blk) {
      if (scale === 0) return 0;
      for (let m = 0; m < this.ctxN; m++) s += vals[m]! * scale * this.priorSd * rng.normal();
      return s;
    }
    const na = blk.n;
    const ta = this.ta;
    if (na > 0) {
      const y = blk.y;
      if (scale > 0) for (let i = 0; i < na; i++) ta[i] = y[i]! + scale * rng.normal();
      else for (let i = 0; i < na; i++) ta[i] = y[i]!;
      this.subtractCoupling(blk, na, Math.min(blk.mRows, ns), this.ts, ta);
      solveUpperT(blk.L, na, ta, ta, blk.cap);
    }
    for (let m = 0; m < this.ctxN; m++) {
      const code = blk.slot(keys[m]!);
      const v = vals[m]!;
      if (code >= 0) s += v * ta[code]!;
      else if (code === MISSING) {
        if (scale > 0) s += v * scale * this.priorSd * rng.normal();
      } else s += v * this.tailTheta(blk, -2 - code, scale, rng);
    }
    return s;
  }

  /** out[0..na) −= M_aᵀ·theta over the first `rows` shared rows. */
  private subtractCoupling(blk: Block, na: number, rows: number, theta: Float64Array, out: Float64Array): void {
    const M = blk.M;
    for (let k = 0; k < rows; k++) {
      const t = theta[k]!;
      if (t === 0) continue;
      const r = k * blk.cap;
      for (let i = 0; i < na; i++) out[i] = out[i]! - M[r + i]! * t;
    }
  }

  /**
   * Posterior mean and standard deviation of each candidate's score:
   * mean = xᵀμ, sd² = σ²·xᵀΛ⁻¹x (σ² known, or the Student-t scale bₙ/aₙ under NIG).
   */
  summarize(input: DecisionFeatures, mean: Float64Array, sd: Float64Array): void {
    const k = this.checkCall(input, mean, 'summarize');
    if (sd.length < k) throw new RangeError(`summarize: sd has ${sd.length} entries for ${k} candidates`);
    const sigma2 = this.pointNoiseVariance();
    const sh = this.shared;
    const ns = sh ? sh.n : 0;
    const muS = this.muS;
    if (sh) this.ensureMean(sh);
    if (!this.hasItems && sh) {
      this.summarizeShared(input, k, sigma2, mean, sd);
      return;
    }
    if (this.hasItems) this.maskContext(input.context);
    const l0 = this.lambda0;
    const vs = this.vs;
    const xa = this.xa;
    const ta = this.ta;
    for (let i = 0; i < k; i++) {
      let m = 0;
      let q = 0;
      let blk: Block | undefined;
      let na = 0;
      if (this.hasItems) {
        blk = this.items.get(input.itemIds[i]!);
        if (!blk) {
          for (let j = 0; j < this.ctxN; j++) q += (this.ctxVals[j]! * this.ctxVals[j]!) / l0;
        } else {
          na = blk.n;
          xa.fill(0, 0, na);
          if (na > 0) {
            for (let j = 0; j < na; j++) ta[j] = blk.y[j]!;
            this.subtractCoupling(blk, na, Math.min(blk.mRows, ns), muS, ta);
            solveUpperT(blk.L, na, ta, ta, blk.cap);
          }
          for (let j = 0; j < this.ctxN; j++) {
            const code = blk.slot(this.ctxKeys[j]!);
            const v = this.ctxVals[j]!;
            if (code >= 0) {
              xa[code] = v;
              m += v * ta[code]!;
            } else if (code === MISSING) {
              q += (v * v) / l0;
            } else {
              const t = -2 - code;
              m += (v * blk.tb[t]!) / blk.lam[t]!;
              q += (v * v) / blk.lam[t]!;
            }
          }
          if (na > 0) {
            solveLower(blk.L, na, xa, xa, blk.cap);
            for (let j = 0; j < na; j++) q += xa[j]! * xa[j]!;
          }
        }
      }
      if (sh) {
        const arm = input.arms[i]!;
        vs.fill(0, 0, ns);
        for (let j = 0; j < arm.nnz; j++) {
          const code = sh.index.get(arm.indices[j]!);
          const v = arm.values[j]!;
          if (code >= 0) {
            vs[code] = v;
            m += v * muS[code]!;
          } else if (code === MISSING) {
            q += (v * v) / l0;
          } else {
            const t = -2 - code;
            m += (v * sh.tb[t]!) / sh.lam[t]!;
            q += (v * v) / sh.lam[t]!;
          }
        }
        if (blk && na > 0) {
          // Forward substitution through the arrowhead: v_s = L_s⁻¹(x_s − M_a·v_a).
          const rows = Math.min(blk.mRows, ns);
          for (let r = 0; r < rows; r++) {
            const o = r * blk.cap;
            let s = 0;
            for (let j = 0; j < na; j++) s += blk.M[o + j]! * xa[j]!;
            vs[r] = vs[r]! - s;
          }
        }
        if (ns > 0) {
          solveLower(sh.L, ns, vs, vs, sh.cap);
          for (let j = 0; j < ns; j++) q += vs[j]! * vs[j]!;
        }
      }
      mean[i] = m;
      sd[i] = Math.sqrt(sigma2 * q);
    }
  }

  /**
   * `summarize` for the shared structure from the decision's score plan (see {@link prepare}):
   * mean m_i and sd² = σ²·S_ii. The plan is kept, so a decision that summarizes and then draws
   * (the `uncertain` serendipity rule) builds it once.
   */
  private summarizeShared(input: DecisionFeatures, k: number, sigma2: number, mean: Float64Array, sd: Float64Array): void {
    const plan = this.scorePlan(input, k);
    for (let i = 0; i < k; i++) {
      mean[i] = plan.mean[i]!;
      sd[i] = Math.sqrt(sigma2 * plan.variance[i]!);
    }
  }

  /**
   * Forgetting: Λ ← γΛ + (1−γ)Λ₀, b ← γb, Σw ← γΣw, Σwr² ← γΣwr² (so aₙ ← γaₙ + (1−γ)a₀ and
   * bₙ = b₀ + ½(γΣwr² − b'ᵀΛ'⁻¹b')), then a fresh factorization: O(n³) per dense block.
   * @throws RangeError when γ is not in (0, 1]
   */
  decay(gamma: number): void {
    if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`decay needs gamma in (0, 1], got ${gamma}`);
    if (gamma === 1) return;
    this.revision++;
    const g = gamma;
    const h = (1 - gamma) * this.lambda0;
    const sh = this.shared;
    const ns = sh ? sh.n : 0;
    let yyOld = 0;
    let yyNew = 0;
    let jitter = 0;
    // Shared block: Λ_ss = L_s·L_sᵀ + Σ_a M_a·M_aᵀ and b_s = L_s·y_s + Σ_a M_a·y_a (old),
    // less the new Σ_a M'_a·M'_aᵀ and M'_a·y'_a once the items are refactored.
    const lamS = new Float64Array(ns * ns);
    const bS = new Float64Array(ns);
    if (sh && ns > 0) {
      lowerGram(sh.L, ns, lamS, sh.cap);
      lowerMatVec(sh.L, ns, sh.y, bS, sh.cap);
      for (let i = 0; i < ns; i++) yyOld += sh.y[i]! * sh.y[i]!;
    }
    const subS = new Float64Array(ns * ns);
    const subB = new Float64Array(ns);
    for (const blk of this.items.values()) {
      const na = blk.n;
      if (na > 0) {
        const cap = blk.cap;
        const rows = Math.min(blk.mRows, ns);
        for (let i = 0; i < na; i++) yyOld += blk.y[i]! * blk.y[i]!;
        const lamA = new Float64Array(na * na);
        const bA = new Float64Array(na);
        lowerGram(blk.L, na, lamA, cap);
        lowerMatVec(blk.L, na, blk.y, bA, cap);
        // Λ_sa = M_a·L_aᵀ (rows × na), and the old M_a terms of Λ_ss, b_s.
        const lamSA = new Float64Array(rows * na);
        for (let r = 0; r < rows; r++) {
          const o = r * cap;
          for (let j = 0; j < na; j++) {
            let s = 0;
            for (let i = 0; i <= j; i++) s += blk.M[o + i]! * blk.L[j * cap + i]!;
            lamSA[r * na + j] = g * s;
          }
          for (let r2 = 0; r2 <= r; r2++) {
            let s = 0;
            for (let i = 0; i < na; i++) s += blk.M[o + i]! * blk.M[r2 * cap + i]!;
            lamS[r * ns + r2] = lamS[r * ns + r2]! + s;
            if (r2 !== r) lamS[r2 * ns + r] = lamS[r2 * ns + r]! + s;
          }
          let sb = 0;
          for (let i = 0; i < na; i++) sb += blk.M[o + i]! * blk.y[i]!;
          bS[r] = bS[r]! + sb;
        }
        for (let i = 0; i < na * na; i++) lamA[i] = g * lamA[i]!;
        for (let i = 0; i < na; i++) {
          lamA[i * na + i] = lamA[i * na + i]! + h;
          bA[i] = g * bA[i]!;
        }
        const La = new Float64Array(na * na);
        jitter = Math.max(jitter, cholesky(lamA, na, La).jitter);
        for (let r = 0; r < na; r++) {
          blk.L.fill(0, r * cap, r * cap + cap);
          blk.L.set(La.subarray(r * na, r * na + r + 1), r * cap);
        }
        solveLower(blk.L, na, bA, blk.y, cap);
        for (let i = 0; i < na; i++) yyNew += blk.y[i]! * blk.y[i]!;
        // M'_a = Λ'_sa·L'_a⁻ᵀ, row by row: L'_a·m = Λ'_sa[r,:]ᵀ.
        for (let r = 0; r < rows; r++) {
          const o = r * cap;
          solveLower(blk.L, na, lamSA.subarray(r * na, r * na + na), blk.M.subarray(o, o + na), cap);
        }
        for (let r = 0; r < rows; r++) {
          const o = r * cap;
          for (let r2 = 0; r2 <= r; r2++) {
            let s = 0;
            for (let i = 0; i < na; i++) s += blk.M[o + i]! * blk.M[r2 * cap + i]!;
            subS[r * ns + r2] = subS[r * ns + r2]! + s;
            if (r2 !== r) subS[r2 * ns + r] = subS[r2 * ns + r]! + s;
          }
          let sb = 0;
          for (let i = 0; i < na; i++) sb += blk.M[o + i]! * blk.y[i]!;
          subB[r] = subB[r]! + sb;
        }
      }
      this.decayTail(blk, g, h);
    }
    if (sh) {
      if (ns > 0) {
        for (let i = 0; i < ns * ns; i++) lamS[i] = g * lamS[i]! - subS[i]!;
        for (let i = 0; i < ns; i++) {
          lamS[i * ns + i] = lamS[i * ns + i]! + h;
          bS[i] = g * bS[i]! - subB[i]!;
        }
        const Ls = new Float64Array(ns * ns);
        jitter = Math.max(jitter, cholesky(lamS, ns, Ls).jitter);
        for (let r = 0; r < ns; r++) {
          sh.L.fill(0, r * sh.cap, r * sh.cap + sh.cap);
          sh.L.set(Ls.subarray(r * ns, r * ns + r + 1), r * sh.cap);
        }
        solveLower(sh.L, ns, bS, sh.y, sh.cap);
        for (let i = 0; i < ns; i++) yyNew += sh.y[i]! * sh.y[i]!;
      }
      this.decayTail(sh, g, h);
    }
    // Σwr² = ρ² + |y|² over the dense blocks.
    this.rss = Math.max(0, g * (this.rss + yyOld) - yyNew);
    this.weightSum *= g;
    this.lastJitter = jitter;
    this.muValid = false;
    this.sigmaValid = false;
  }

  private decayTail(b: Block, g: number, h: number): void {
    for (let t = 0; t < b.tn; t++) {
      b.lam[t] = g * b.lam[t]! + h;
      b.tb[t] = g * b.tb[t]!;
    }
  }

  /** Learned state, exactly (see {@link PosteriorState}). */
  toState(): PosteriorState {
    // Canonical Σ from here on: a posterior restored from this state recomputes it from L too
    // (and so does the next plan, even of the same decision).
    this.sigmaValid = false;
    this.plan.revision = -1;
    const items: ItemBlockState[] = [];
    for (const [id, b] of this.items) items.push({ id, ...b.toState() });
    return {
      structure: this.settings.structure,
      lambda0: this.lambda0,
      contextBits: this.settings.contextBits,
      outcomes: this.outcomes,
      weightSum: this.weightSum,
      rss: this.rss,
      shared: this.shared ? this.shared.toState() : null,
      items,
    };
  }

  /**
   * Replace the learned state by a snapshot's (validated with `posteriorStateSchema`).
   * @throws RangeError when it was built under another structure, prior or context masking, or
   *   its arrays are inconsistent
   */
  loadState(s: PosteriorState): void {
    const cfg = this.settings;
    if (s.structure !== cfg.structure) throw new RangeError(`snapshot structure ${s.structure} ≠ config ${cfg.structure}`);
    if (s.lambda0 !== this.lambda0) {
      throw new RangeError(`snapshot prior precision ${s.lambda0} ≠ config's ${this.lambda0} (priorVariance/noiseVariance/noise changed)`);
    }
    if (this.hasItems && s.contextBits !== cfg.contextBits) {
      throw new RangeError(`snapshot contextBits ${s.contextBits} ≠ config ${cfg.contextBits}`);
    }
    if ((s.shared !== null) !== this.hasShared) throw new RangeError('snapshot shared block does not match the structure');
    if (!this.hasItems && s.items.length > 0) throw new RangeError('snapshot has item blocks but the structure is shared');
    const shared = s.shared ? Block.fromState(s.shared, this.sharedMaxDense, 0x80000000, 0, 'shared block') : null;
    const sharedRows = shared ? shared.n : 0;
    const items = new Map<string, Block>();
    for (const it of s.items) {
      if (items.has(it.id)) throw new RangeError(`snapshot item ${it.id} appears twice`);
      items.set(it.id, Block.fromState(it, this.itemMaxDense, this.mask + 1, sharedRows, `item ${it.id}`));
    }
    this.shared = shared;
    this.items.clear();
    for (const [id, b] of items) this.items.set(id, b);
    this.outcomes = s.outcomes;
    this.weightSum = s.weightSum;
    this.rss = s.rss;
    this.revision++;
    this.muValid = false;
    this.sigmaValid = false;
    this.lastJitter = 0;
  }

  /** Counts and the noise estimate, for the model API. */
  describe(): Record<string, unknown> {
    const sh = this.shared;
    let itemDims = 0;
    let dense = sh ? sh.n : 0;
    for (const b of this.items.values()) {
      itemDims += b.dims();
      dense += b.n;
    }
    const sharedDims = sh ? sh.dims() : 0;
    const out: Record<string, unknown> = {
      structure: this.settings.structure,
      noise: this.settings.noise,
      outcomes: this.outcomes,
      weightSum: this.weightSum,
      dimsSeen: sharedDims + itemDims,
      sharedDims,
      items: this.items.size,
      itemDims,
      denseDims: dense,
      diagonalDims: sharedDims + itemDims - dense,
      jitter: this.lastJitter,
    };
    if (this.settings.noise === 'known') {
      out['noiseVariance'] = this.settings.noiseVariance;
    } else {
      const a = this.nigShape;
      const b = this.nigScale;
      out['nig'] = { a, b };
      // E[σ²] = bₙ/(aₙ − 1) exists only for aₙ > 1.
      out['noiseVariance'] = a > 1 ? b / (a - 1) : null;
    }
    return out;
  }
}
