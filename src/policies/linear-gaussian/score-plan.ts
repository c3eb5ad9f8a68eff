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
  private exOrder = new Int32Array(0);
  /** Per U position: candidates holding it with the first value seen (−1 once values differ). */
  private common = new Int32Array(0);
  private firstValue = new Float64Array(0);
  private wCommon = new Float64Array(0);

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
      this.exOrder = new Int32Array(n);
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
   * W = X_U·Σ_UU row by row (axpys of Σ_UU rows), then S_ij = Σ_a x_ia·W_ja. Extra entries are
   * grouped by dimension (a counting sort, stable in candidate order) and each dimension adds to
   * every pair it touches.
   */
  covariance(): void {
    const { k, nu, w, s, sigmaUU, dStart, dPos, dVal } = this;
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
    wCommon.fill(0, 0, nu);
    for (let p = 0; p < nu; p++) if (common[p] === k) axpy(wCommon, 0, firstValue[p]!, sigmaUU, p * nu, nu);
    for (let j = 0; j < k; j++) {
      const oj = j * nu;
      w.set(wCommon.subarray(0, nu), oj);
      for (let e = dStart[j]!; e < dStart[j + 1]!; e++) {
        const p = dPos[e]!;
        if (common[p] !== k) axpy(w, oj, dVal[e]!, sigmaUU, p * nu, nu);
      }
    }
    for (let i = 0; i < k; i++) {
      const si = i * k;
      const e0 = dStart[i]!;
      const e1 = dStart[i + 1]!;
      for (let j = 0; j <= i; j++) {
        const oj = j * nu;
        let acc = 0;
        for (let e = e0; e < e1; e++) acc += dVal[e]! * w[oj + dPos[e]!]!;
        s[si + j] = acc;
      }
    }
    const count = this.exCount;
    if (count > 0) {
      const dims = this.exDims;
      const start = this.exStart;
      const order = this.exOrder;
      const id = this.exId;
      start.fill(0, 0, dims + 1);
      for (let e = 0; e < count; e++) start[id[e]! + 1]!++;
      for (let d = 0; d < dims; d++) start[d + 1]! += start[d]!;
      for (let e = 0; e < count; e++) order[start[id[e]!]!++] = e;
      // start[d] now ends dimension d's run; dimension d's run begins at start[d − 1] (0 for d = 0).
      const row = this.exRow;
      const val = this.exVal;
      const exVar = this.exVar;
      let begin = 0;
      for (let d = 0; d < dims; d++) {
        const end = start[d]!;
        const vd = exVar[d]!;
        for (let a = begin; a < end; a++) {
          const ea = order[a]!;
          const ra = row[ea]!;
          const va = val[ea]! * vd;
          for (let b = begin; b <= a; b++) {
            const eb = order[b]!;
            // Entries are in candidate order, so row[eb] ≤ ra: (ra, rb) is in the lower triangle.
            s[ra * k + row[eb]!] = s[ra * k + row[eb]!]! + va * val[eb]!;
          }
        }
        begin = end;
      }
    }
    for (let i = 0; i < k; i++) this.variance[i] = s[i * k + i]!;
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
      for (let i = j + 1; i < k; i++) {
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
