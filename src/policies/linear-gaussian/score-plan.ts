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
 * Pure numerics over preallocated buffers; the posterior fills V, the extra dimensions and m
 * (see LinearPosterior.prepare).
 */
import type { Rng } from '../../core/rng.js';

/**
 * The per-decision state: V (row i = L⁻¹·x_i over the dense block, zero before `lo[i]`), the
 * extra dimensions (diagonal tail or never seen: independent, variance `exVar`) as entry lists,
 * the means m, the covariance S (lower triangle, row-major k × k) and its factor C.
 * Buffers grow and are reused across decisions.
 */
export class ScorePlan {
  /** Identity of the planned decision: its features object and the posterior revision. */
  input: unknown = null;
  revision = -1;
  k = 0;
  ns = 0;
  factored = false;
  mean = new Float64Array(0);
  /** Unit-scale variance of each score, S_ii (kept apart from the factor). */
  variance = new Float64Array(0);
  v = new Float64Array(0);
  lo = new Int32Array(0);
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

  /** Size the buffers for k candidates, ns dense slots and up to `entries` extra entries. */
  reserve(k: number, ns: number, entries: number): void {
    if (this.mean.length < k) {
      const n = Math.max(k, 2 * this.mean.length);
      this.mean = new Float64Array(n);
      this.variance = new Float64Array(n);
      this.lo = new Int32Array(n);
      this.z = new Float64Array(n);
    }
    if (this.s.length < k * k) {
      this.s = new Float64Array(k * k);
      this.c = new Float64Array(k * k);
    }
    if (this.v.length < k * ns) this.v = new Float64Array(Math.max(k * ns, 2 * this.v.length));
    if (this.exId.length < entries) {
      const n = Math.max(entries, 2 * this.exId.length);
      this.exId = new Int32Array(n);
      this.exRow = new Int32Array(n);
      this.exVal = new Float64Array(n);
      this.exVar = new Float64Array(n);
      this.exOrder = new Int32Array(n);
      this.exStart = new Int32Array(n + 1);
    }
    this.k = k;
    this.ns = ns;
    this.exCount = 0;
    this.exDims = 0;
    this.factored = false;
  }

  /**
   * S = V·Vᵀ + Σ_e var_e·x_e·x_eᵀ (lower triangle), and `variance` = diag S. V rows start at
   * `lo[i]`, so S_ij sums from max(lo_i, lo_j). Extra entries are grouped by dimension (a
   * counting sort, stable in candidate order) and each dimension adds to every pair it touches.
   */
  covariance(): void {
    const { k, ns, v, lo, s } = this;
    // Row i against four rows j … j+3 at a time: v_i is read once per four dot products. Rows
    // are zero before their `lo`, so each group sums from max(lo_i, min lo_j…j+3).
    for (let i = 0; i < k; i++) {
      const oi = i * ns;
      const li = lo[i]!;
      const si = i * k;
      let j = 0;
      for (; j + 3 <= i; j += 4) {
        const o0 = j * ns;
        const o1 = o0 + ns;
        const o2 = o1 + ns;
        const o3 = o2 + ns;
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        const from = Math.max(li, Math.min(lo[j]!, lo[j + 1]!, lo[j + 2]!, lo[j + 3]!));
        for (let r = from; r < ns; r++) {
          const x = v[oi + r]!;
          a0 += x * v[o0 + r]!;
          a1 += x * v[o1 + r]!;
          a2 += x * v[o2 + r]!;
          a3 += x * v[o3 + r]!;
        }
        s[si + j] = a0;
        s[si + j + 1] = a1;
        s[si + j + 2] = a2;
        s[si + j + 3] = a3;
      }
      for (; j <= i; j++) {
        const oj = j * ns;
        let acc = 0;
        for (let r = Math.max(li, lo[j]!); r < ns; r++) acc += v[oi + r]! * v[oj + r]!;
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
        const w = exVar[d]!;
        for (let a = begin; a < end; a++) {
          const ea = order[a]!;
          const ra = row[ea]!;
          const va = val[ea]! * w;
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
      let acc = 0;
      for (let j = 0; j <= i; j++) acc += c[oi + j]! * z[j]!;
      out[i] = mean[i]! + scale * acc;
    }
  }
}
