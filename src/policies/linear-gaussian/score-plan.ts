/**
 * Score-space Thompson draws for one decision.
 *
 * Under a Gaussian posterior θ ~ N(μ, s²·Λ⁻¹) (s² = T·σ², with σ² known or drawn from its
 * inverse-gamma first), the k candidates' scores x_iᵀθ are jointly Gaussian,
 *
 *   scores ~ N(m, s²·S),   m = Xμ,   S = X·Λ⁻¹·Xᵀ   (k × k),
 *
 * so a decision that needs many draws (its own and M Monte-Carlo propensity draws) can factor
 * S = C·Cᵀ once and then draw `scores = m + s·C·z` with z ~ N(0, I_k): k normals and k²/2
 * multiply-adds per draw, instead of one normal per touched dimension of θ plus a triangular
 * solve of the dense block. The joint law of the scores — hence the argmax, the selection and
 * every propensity — is exactly that of drawing θ (e.g. Rasmussen & Williams 2006, §A.2: an
 * affine map of a Gaussian is Gaussian; the standard "sample the function values, not the
 * weights" of Bayesian linear regression). S is only positive semi-definite (identical
 * candidates, k larger than the dimensions they touch): its factor drops the pivots that vanish
 * to rounding, which leaves C·Cᵀ = S up to that rounding.
 *
 * The dense block enters through Σ_UU = (Λ⁻¹)_UU over the union U of the dense slots the
 * candidates touch: W = X_U·Σ_UU (k·p·|U| multiply-adds for p dense entries per candidate),
 * then S_ij = Σ_a x_ia·W_ja (k²·p/2).
 *
 * The loops are blocked for speed (eight rows of Σ_UU per pass over a row of W, S through Wᵀ,
 * four rows of the factor per pass over a row of C), but every output entry is computed by the
 * same floating-point operations in the same order as the plain loops (JavaScript neither
 * reassociates nor fuses them), so S, C and every draw are bit-identical to theirs for the same
 * inputs and rng state — whatever the order of the positions in U, which is only a layout.
 *
 * Pure numerics over preallocated buffers; the posterior fills Σ_UU, the candidates' dense
 * entries, the extra dimensions and m (see LinearPosterior.prepare).
 */
import type { Rng } from '../../core/rng.js';

/**
 * y[oy, oy + n) += a·x[ox, ox + n). Four-way unrolled in its own small function: V8 then keeps
 * the loop tight (measured about 2–3× faster than the same loop inlined in a larger body).
 */
export function axpy(y: Float64Array, oy: number, a: number, x: Float64Array, ox: number, n: number): void {
  let t = 0;
  for (; t + 3 < n; t += 4) {
    const i = oy + t;
    const j = ox + t;
    y[i] = y[i]! + a * x[j]!;
    y[i + 1] = y[i + 1]! + a * x[j + 1]!;
    y[i + 2] = y[i + 2]! + a * x[j + 2]!;
    y[i + 3] = y[i + 3]! + a * x[j + 3]!;
  }
  for (; t < n; t++) y[oy + t] = y[oy + t]! + a * x[ox + t]!;
}

/**
 * y[oy + t] = b[ob + t] + a0·x[o0 + t] + a1·x[o1 + t] + a2·x[o2 + t] + a3·x[o3 + t] for t < n,
 * added left to right: the same operations as four {@link axpy} calls on y = b, with one pass
 * over y instead of four.
 */
function addRows4From(
  y: Float64Array,
  oy: number,
  b: Float64Array,
  ob: number,
  x: Float64Array,
  a0: number,
  o0: number,
  a1: number,
  o1: number,
  a2: number,
  o2: number,
  a3: number,
  o3: number,
  n: number,
): void {
  for (let t = 0; t < n; t++) {
    y[oy + t] = b[ob + t]! + a0 * x[o0 + t]! + a1 * x[o1 + t]! + a2 * x[o2 + t]! + a3 * x[o3 + t]!;
  }
}

/**
 * {@link addRows4From} with eight rows: coefficients a[at, at + 8) and row offsets o[at, at + 8)
 * (read from arrays, to keep the parameter list short).
 */
function addRows8From(y: Float64Array, oy: number, b: Float64Array, ob: number, x: Float64Array, a: Float64Array, o: Int32Array, at: number, n: number): void {
  const a0 = a[at]!;
  const a1 = a[at + 1]!;
  const a2 = a[at + 2]!;
  const a3 = a[at + 3]!;
  const a4 = a[at + 4]!;
  const a5 = a[at + 5]!;
  const a6 = a[at + 6]!;
  const a7 = a[at + 7]!;
  const o0 = o[at]!;
  const o1 = o[at + 1]!;
  const o2 = o[at + 2]!;
  const o3 = o[at + 3]!;
  const o4 = o[at + 4]!;
  const o5 = o[at + 5]!;
  const o6 = o[at + 6]!;
  const o7 = o[at + 7]!;
  for (let t = 0; t < n; t++) {
    y[oy + t] =
      b[ob + t]! +
      a0 * x[o0 + t]! +
      a1 * x[o1 + t]! +
      a2 * x[o2 + t]! +
      a3 * x[o3 + t]! +
      a4 * x[o4 + t]! +
      a5 * x[o5 + t]! +
      a6 * x[o6 + t]! +
      a7 * x[o7 + t]!;
  }
}

/** {@link addRows4From} in place (b = y). */
function addRows4(
  y: Float64Array,
  oy: number,
  x: Float64Array,
  a0: number,
  o0: number,
  a1: number,
  o1: number,
  a2: number,
  o2: number,
  a3: number,
  o3: number,
  n: number,
): void {
  for (let t = 0; t < n; t++) {
    const i = oy + t;
    y[i] = y[i]! + a0 * x[o0 + t]! + a1 * x[o1 + t]! + a2 * x[o2 + t]! + a3 * x[o3 + t]!;
  }
}

/** wt[p·k + j + r] = w[o + r·nu + p] for r < 8, p < nu: eight rows of W into eight columns of Wᵀ. */
function transpose8(w: Float64Array, o: number, nu: number, wt: Float64Array, j: number, k: number): void {
  for (let p = 0; p < nu; p++) {
    const d = p * k + j;
    let at = o + p;
    wt[d] = w[at]!;
    at += nu;
    wt[d + 1] = w[at]!;
    at += nu;
    wt[d + 2] = w[at]!;
    at += nu;
    wt[d + 3] = w[at]!;
    at += nu;
    wt[d + 4] = w[at]!;
    at += nu;
    wt[d + 5] = w[at]!;
    at += nu;
    wt[d + 6] = w[at]!;
    at += nu;
    wt[d + 7] = w[at]!;
  }
}

/** {@link transpose8} with four rows. */
function transpose4(w: Float64Array, o: number, nu: number, wt: Float64Array, j: number, k: number): void {
  const o1 = o + nu;
  const o2 = o1 + nu;
  const o3 = o2 + nu;
  for (let p = 0; p < nu; p++) {
    const d = p * k + j;
    wt[d] = w[o + p]!;
    wt[d + 1] = w[o1 + p]!;
    wt[d + 2] = w[o2 + p]!;
    wt[d + 3] = w[o3 + p]!;
  }
}

/** Whether rows[from + r] = r for every r < k. */
function everyRow(rows: Int32Array, from: number, k: number): boolean {
  for (let r = 0; r < k; r++) if (rows[from + r] !== r) return false;
  return true;
}

/** y[o + rows[b]] += a·vals[b] for b in [from, to). */
function scatterAdd(y: Float64Array, o: number, a: number, rows: Int32Array, vals: Float64Array, from: number, to: number): void {
  for (let b = from; b < to; b++) {
    const i = o + rows[b]!;
    y[i] = y[i]! + a * vals[b]!;
  }
}

/**
 * Rows oi, oi + k, oi + 2k, oi + 3k of column j of the Cholesky factor:
 * c_ij = (s_ij − Σ_{l<j} c_il·c_jl)·inv, each sum in l order (as the plain loop), four at once.
 */
function schur4(c: Float64Array, s: Float64Array, oi: number, k: number, oj: number, j: number, inv: number): void {
  const o1 = oi + k;
  const o2 = o1 + k;
  const o3 = o2 + k;
  let a0 = s[oi + j]!;
  let a1 = s[o1 + j]!;
  let a2 = s[o2 + j]!;
  let a3 = s[o3 + j]!;
  for (let l = 0; l < j; l++) {
    const cj = c[oj + l]!;
    a0 -= c[oi + l]! * cj;
    a1 -= c[o1 + l]! * cj;
    a2 -= c[o2 + l]! * cj;
    a3 -= c[o3 + l]! * cj;
  }
  c[oi + j] = a0 * inv;
  c[o1 + j] = a1 * inv;
  c[o2 + j] = a2 * inv;
  c[o3 + j] = a3 * inv;
}

/**
 * The per-decision state: the candidates' dense entries (CSR over positions in U), Σ_UU
 * (row-major nu × nu, symmetric, full), the extra dimensions (diagonal tail or never seen:
 * independent, variance `exVar`) as entry lists, the means m, the covariance S (lower triangle,
 * row-major k × k) and its factor C. Buffers grow and are reused across decisions.
 */
export class ScorePlan {
  /** Identity of the planned decision: its features object and the posterior revision. */
  input: unknown = null;
  revision = -1;
  k = 0;
  /** |U|: dense slots touched by the decision. */
  nu = 0;
  factored = false;
  mean = new Float64Array(0);
  /** Unit-scale variance of each score, S_ii (kept apart from the factor). */
  variance = new Float64Array(0);
  sigmaUU = new Float64Array(0);
  /** Candidate i's dense entries are [dStart[i], dStart[i+1]): position in U and value. */
  dStart = new Int32Array(1);
  dPos = new Int32Array(0);
  dVal = new Float64Array(0);
  w = new Float64Array(0);
  s = new Float64Array(0);
  c = new Float64Array(0);
  z = new Float64Array(0);
  /** Extra-dimension entries: dimension id, candidate row, feature value; one variance per id. */
  exId = new Int32Array(0);
  exRow = new Int32Array(0);
  exVal = new Float64Array(0);
  exVar = new Float64Array(0);
  exCount = 0;
  exDims = 0;
  private exStart = new Int32Array(0);
  /** Per U position: candidates holding it with the first value seen (−1 once values differ). */
  private common = new Int32Array(0);
  private firstValue = new Float64Array(0);
  private wCommon = new Float64Array(0);
  /** Wᵀ (nu × k). */
  private wt = new Float64Array(0);
  /** One candidate's non-common dense entries: value and row offset in Σ_UU. */
  private rowCoef = new Float64Array(0);
  private rowOff = new Int32Array(0);
  /** Extra entries laid out by dimension: candidate row and value. */
  private exSortedRow = new Int32Array(0);
  private exSortedVal = new Float64Array(0);

  /** Size the buffers for k candidates and `entries` feature entries, and start a new plan. */
  reserve(k: number, entries: number): void {
    if (this.mean.length < k) {
      const n = Math.max(k, 2 * this.mean.length);
      this.mean = new Float64Array(n);
      this.variance = new Float64Array(n);
      this.z = new Float64Array(n);
      this.dStart = new Int32Array(n + 1);
    }
    if (this.s.length < k * k) {
      this.s = new Float64Array(k * k);
      this.c = new Float64Array(k * k);
    }
    if (this.exId.length < entries) {
      const n = Math.max(entries, 2 * this.exId.length);
      this.exId = new Int32Array(n);
      this.exRow = new Int32Array(n);
      this.exVal = new Float64Array(n);
      this.exVar = new Float64Array(n);
      this.exSortedRow = new Int32Array(n);
      this.exSortedVal = new Float64Array(n);
      this.exStart = new Int32Array(n + 1);
      this.dPos = new Int32Array(n);
      this.dVal = new Float64Array(n);
    }
    this.k = k;
    this.nu = 0;
    this.exCount = 0;
    this.exDims = 0;
    this.factored = false;
  }

  /** Size Σ_UU and W for |U| = nu (after {@link reserve}). */
  reserveDense(nu: number): void {
    if (this.sigmaUU.length < nu * nu) this.sigmaUU = new Float64Array(Math.max(nu * nu, 2 * this.sigmaUU.length));
    if (this.w.length < this.k * nu) this.w = new Float64Array(Math.max(this.k * nu, 2 * this.w.length));
    this.nu = nu;
  }

  /**
   * S = X_U·Σ_UU·X_Uᵀ + Σ_e var_e·x_e·x_eᵀ (lower triangle), and `variance` = diag S.
   * W = X_U·Σ_UU row by row (sums of Σ_UU rows, up to eight per pass over the row), then
   * S_ij = Σ_a x_ia·W_ja through Wᵀ (row i of S is a sum of rows of Wᵀ, four per pass). Extra
   * entries are grouped by dimension (a counting sort, stable in candidate order) and each
   * dimension adds to every pair it touches.
   *
   * Every S_ij is the same sequence of floating-point operations as the plain loops
   * (W_j = wCommon + x_e₁·Σ_p₁ + x_e₂·Σ_p₂ + … left to right, S_ij = 0 + x_ia₁·W_ja₁ + … in entry
   * order, then the extra dimensions in id order): only the loop order and the memory layout
   * differ, so S — hence every draw — is bit-identical to theirs.
   */
  covariance(): void {
    const { k, s } = this;
    this.denseW();
    const wt = this.transposeW();
    s.fill(0, 0, k * k);
    const { dStart, dPos, dVal } = this;
    for (let i = 0; i < k; i++) {
      // Row i of S (its first i + 1 entries): Σ over i's entries a of x_ia·(row p_a of Wᵀ).
      const si = i * k;
      const n = i + 1;
      const e1 = dStart[i + 1]!;
      let e = dStart[i]!;
      for (; e + 3 < e1; e += 4) {
        addRows4(s, si, wt, dVal[e]!, dPos[e]! * k, dVal[e + 1]!, dPos[e + 1]! * k, dVal[e + 2]!, dPos[e + 2]! * k, dVal[e + 3]!, dPos[e + 3]! * k, n);
      }
      for (; e < e1; e++) axpy(s, si, dVal[e]!, wt, dPos[e]! * k, n);
    }
    if (this.exCount > 0) this.extraCovariance();
    for (let i = 0; i < k; i++) this.variance[i] = s[i * k + i]!;
  }

  /** W = X_U·Σ_UU (k × nu, row-major) into `w`. */
  private denseW(): void {
    const { k, nu, w, sigmaUU, dStart, dPos, dVal } = this;
    // Entries every candidate has with the same value (the context's own features, in the
    // shared structure) contribute the same Σ_UU·x to every row of W: computed once.
    if (this.common.length < nu) {
      this.common = new Int32Array(Math.max(nu, 2 * this.common.length));
      this.firstValue = new Float64Array(this.common.length);
      this.wCommon = new Float64Array(this.common.length);
    }
    const common = this.common;
    const firstValue = this.firstValue;
    const wCommon = this.wCommon;
    common.fill(0, 0, nu);
    const total = dStart[k]!;
    let widest = 0;
    for (let j = 0; j < k; j++) widest = Math.max(widest, dStart[j + 1]! - dStart[j]!);
    for (let e = 0; e < total; e++) {
      const p = dPos[e]!;
      const c = common[p]!;
      if (c === 0) {
        common[p] = 1;
        firstValue[p] = dVal[e]!;
      } else if (c > 0) {
        common[p] = dVal[e] === firstValue[p] ? c + 1 : -1;
      }
    }
    // Summed in the order the first candidate lists them, which is where each is first met, so
    // wCommon does not depend on the order of the positions in U.
    wCommon.fill(0, 0, nu);
    const first = k > 0 ? dStart[1]! : 0;
    for (let e = 0; e < first; e++) {
      const p = dPos[e]!;
      if (common[p] === k) axpy(wCommon, 0, firstValue[p]!, sigmaUU, p * nu, nu);
    }
    if (this.rowCoef.length < widest) {
      this.rowCoef = new Float64Array(Math.max(widest, 2 * this.rowCoef.length));
      this.rowOff = new Int32Array(this.rowCoef.length);
    }
    const coef = this.rowCoef;
    const off = this.rowOff;
    for (let j = 0; j < k; j++) {
      const oj = j * nu;
      // Candidate j's other entries, in order: W_j = wCommon + Σ_e x_e·(row p_e of Σ_UU).
      let m = 0;
      for (let e = dStart[j]!; e < dStart[j + 1]!; e++) {
        const p = dPos[e]!;
        if (common[p] === k) continue;
        coef[m] = dVal[e]!;
        off[m++] = p * nu;
      }
      // The first pass reads wCommon, later ones the row itself.
      let src = wCommon;
      let os = 0;
      let t = 0;
      for (; t + 7 < m; t += 8) {
        addRows8From(w, oj, src, os, sigmaUU, coef, off, t, nu);
        src = w;
        os = oj;
      }
      for (; t + 3 < m; t += 4) {
        addRows4From(w, oj, src, os, sigmaUU, coef[t]!, off[t]!, coef[t + 1]!, off[t + 1]!, coef[t + 2]!, off[t + 2]!, coef[t + 3]!, off[t + 3]!, nu);
        src = w;
        os = oj;
      }
      if (t === 0) for (let q = 0; q < nu; q++) w[oj + q] = wCommon[q]!;
      for (; t < m; t++) axpy(w, oj, coef[t]!, sigmaUU, off[t]!, nu);
    }
  }

  /** Wᵀ (nu × k, row-major) into `wt`; returns it. */
  private transposeW(): Float64Array {
    const { k, nu, w } = this;
    if (this.wt.length < k * nu) this.wt = new Float64Array(Math.max(k * nu, 2 * this.wt.length));
    const wt = this.wt;
    // Eight (then four) rows of W at a time, so that each position writes a run of consecutive
    // entries of Wᵀ instead of one entry per cache line (measured about 4× faster).
    let j = 0;
    for (; j + 7 < k; j += 8) transpose8(w, j * nu, nu, wt, j, k);
    for (; j + 3 < k; j += 4) transpose4(w, j * nu, nu, wt, j, k);
    for (; j < k; j++) {
      const oj = j * nu;
      for (let p = 0; p < nu; p++) wt[p * k + j] = w[oj + p]!;
    }
    return wt;
  }

  /** S += Σ_d var_d·x_d·x_dᵀ over the extra dimensions d (lower triangle), in id order. */
  private extraCovariance(): void {
    const { k, s } = this;
    const count = this.exCount;
    const dims = this.exDims;
    const start = this.exStart;
    const id = this.exId;
    start.fill(0, 0, dims + 1);
    for (let e = 0; e < count; e++) start[id[e]! + 1]!++;
    for (let d = 0; d < dims; d++) start[d + 1]! += start[d]!;
    // Entries laid out by dimension (stable: candidate order within a dimension).
    const row = this.exRow;
    const val = this.exVal;
    const sRow = this.exSortedRow;
    const sVal = this.exSortedVal;
    for (let e = 0; e < count; e++) {
      const at = start[id[e]!]!++;
      sRow[at] = row[e]!;
      sVal[at] = val[e]!;
    }
    // start[d] now ends dimension d's run; dimension d's run begins at start[d − 1] (0 for d = 0).
    const exVar = this.exVar;
    let begin = 0;
    for (let d = 0; d < dims; d++) {
      const end = start[d]!;
      const vd = exVar[d]!;
      if (end - begin === k && everyRow(sRow, begin, k)) {
        // Every candidate has the dimension (a context feature outside the dense block): its rows
        // are 0 … k − 1 in order, so row r of the triangle is one contiguous update.
        for (let r = 0; r < k; r++) axpy(s, r * k, sVal[begin + r]! * vd, sVal, begin, r + 1);
      } else {
        for (let a = begin; a < end; a++) {
          // Entries are in candidate order, so sRow[b] ≤ sRow[a]: the pairs are in the lower triangle.
          scatterAdd(s, sRow[a]! * k, sVal[a]! * vd, sRow, sVal, begin, a + 1);
        }
      }
      begin = end;
    }
  }

  /**
   * C with C·Cᵀ = S (lower, row-major), a Cholesky factorization that zeroes a column whose pivot
   * is below 1e-12·max_i S_ii (rank deficiency: in exact arithmetic that column's entries are 0
   * for a positive semi-definite S, since |S_ij|² ≤ S_ii·S_jj holds for every Schur complement).
   */
  factor(): void {
    const { k, s, c } = this;
    let maxDiag = 0;
    for (let i = 0; i < k; i++) maxDiag = Math.max(maxDiag, s[i * k + i]!);
    const tol = 1e-12 * maxDiag;
    c.fill(0, 0, k * k);
    for (let j = 0; j < k; j++) {
      const oj = j * k;
      let d = s[oj + j]!;
      for (let l = 0; l < j; l++) d -= c[oj + l]! * c[oj + l]!;
      if (!(d > tol)) continue;
      const root = Math.sqrt(d);
      c[oj + j] = root;
      const inv = 1 / root;
      // Column j below the diagonal, four rows at a time: four independent chains of
      // multiply-subtracts sharing the loads of row j (each chain in the order of the plain loop).
      let i = j + 1;
      for (; i + 3 < k; i += 4) schur4(c, s, i * k, k, oj, j, inv);
      for (; i < k; i++) {
        const oi = i * k;
        let acc = s[oi + j]!;
        for (let l = 0; l < j; l++) acc -= c[oi + l]! * c[oj + l]!;
        c[oi + j] = acc * inv;
      }
    }
    this.factored = true;
  }

  /** One draw: out[i] = m_i + scale·(C·z)_i with z ~ N(0, I_k) from `rng` (k normals, in order). */
  draw(scale: number, rng: Rng, out: Float64Array): void {
    const { k, c, z, mean } = this;
    for (let j = 0; j < k; j++) z[j] = rng.normal();
    for (let i = 0; i < k; i++) {
      const oi = i * k;
      // Four partial sums: independent chains of multiply-adds.
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let j = 0;
      for (; j + 3 <= i; j += 4) {
        a0 += c[oi + j]! * z[j]!;
        a1 += c[oi + j + 1]! * z[j + 1]!;
        a2 += c[oi + j + 2]! * z[j + 2]!;
        a3 += c[oi + j + 3]! * z[j + 3]!;
      }
      for (; j <= i; j++) a0 += c[oi + j]! * z[j]!;
      out[i] = mean[i]! + scale * (a0 + a1 + (a2 + a3));
    }
  }
}
