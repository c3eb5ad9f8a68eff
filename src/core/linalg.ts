/**
 * Dense linear algebra for the Gaussian posteriors: Cholesky factorization with jitter retry,
 * O(n²) rank-one update and downdate of a factor, triangular solves.
 *
 * Conventions: matrices are row-major `Float64Array`s; `L` is lower triangular with a positive
 * diagonal and `A = L·Lᵀ`. Routines that work on a factor take a leading dimension `ld ≥ n`
 * (the row stride, default `n`), so a factor can live in a larger preallocated buffer and grow
 * by one row and column without being moved. Nothing here allocates, except {@link cholesky}'s
 * result object.
 *
 * The rank-one routines follow the LINPACK algorithms `dchud` (update by Givens rotations) and
 * `dchdd` (downdate by orthogonal rotations derived from `p = L⁻¹x`), which are more stable than
 * hyperbolic rotations. References: Dongarra, Bunch, Moler & Stewart, *LINPACK Users' Guide*
 * (SIAM 1979), ch. 10; Golub & Van Loan, *Matrix Computations* (4th ed.), §6.5.4.
 */

/** Thrown when a matrix (or the result of a downdate) is not numerically positive definite. */
export class NotPositiveDefiniteError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'NotPositiveDefiniteError';
  }
}

/** Options of {@link cholesky}. */
export interface CholeskyOptions {
  /**
   * First jitter, relative to the mean diagonal of `A`: the k-th retry adds
   * `initialJitter · mean(diag A) · 10^(k−1) · I`. Default 1e-10.
   */
  readonly initialJitter?: number;
  /** Number of jittered retries after the plain attempt (default 10, so up to 1e-1·mean diag). */
  readonly maxTries?: number;
}

/** What {@link cholesky} did: the jitter added to the diagonal (0 when none was needed). */
export interface CholeskyResult {
  readonly jitter: number;
}

/**
 * Factor a pivot-by-pivot; returns -1 on success, otherwise the failing pivot's index.
 * A pivot counts as failed when it is not above `n·ε·a_jj`: past that point the factor is
 * numerically singular and its inverse (used to sample) would amplify rounding noise.
 */
function factorOnce(a: Float64Array, n: number, out: Float64Array, jitter: number): number {
  const tol = n * Number.EPSILON;
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j < i; j++) {
      const rj = j * n;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= out[ri + k]! * out[rj + k]!;
      out[ri + j] = s / out[rj + j]!;
    }
    const aii = a[ri + i]! + jitter;
    let s = aii;
    for (let k = 0; k < i; k++) s -= out[ri + k]! * out[ri + k]!;
    if (!(s > tol * aii)) return i;
    out[ri + i] = Math.sqrt(s);
    for (let j = i + 1; j < n; j++) out[ri + j] = 0;
  }
  return -1;
}

/**
 * Cholesky factorization `A = L·Lᵀ` of a symmetric positive definite n×n matrix.
 *
 * Only the lower triangle of `a` is read. When a pivot fails (A is singular or indefinite in
 * floating point), retries with `A + jitter·I`, the jitter starting at
 * `initialJitter · mean(diag A)` and growing ×10 per try.
 *
 * @param a n×n row-major, symmetric; not modified
 * @param n order, ≥ 0
 * @param out n×n row-major output (must not alias `a`); the strict upper triangle is zeroed
 * @returns the jitter added (0 when A factored as is)
 * @throws NotPositiveDefiniteError when A has non-finite entries or still fails at the largest jitter
 * @throws RangeError when buffers are too short or `out` aliases `a`
 */
export function cholesky(a: Float64Array, n: number, out: Float64Array, opts: CholeskyOptions = {}): CholeskyResult {
  if (a.length < n * n || out.length < n * n) throw new RangeError(`cholesky: buffers need ${n * n} entries`);
  if (a === out) throw new RangeError('cholesky: out must not alias a (the jitter retry needs the original)');
  let diagSum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      if (!Number.isFinite(a[i * n + j]!)) {
        throw new NotPositiveDefiniteError(`cholesky: entry (${i}, ${j}) is not finite: ${a[i * n + j]}`);
      }
    }
    diagSum += a[i * n + i]!;
  }
  let failed = factorOnce(a, n, out, 0);
  if (failed < 0) return { jitter: 0 };
  const meanDiag = n > 0 && diagSum > 0 ? diagSum / n : 1;
  const maxTries = opts.maxTries ?? 10;
  let jitter = (opts.initialJitter ?? 1e-10) * meanDiag;
  for (let t = 0; t < maxTries; t++, jitter *= 10) {
    failed = factorOnce(a, n, out, jitter);
    if (failed < 0) return { jitter };
  }
  throw new NotPositiveDefiniteError(
    `cholesky: matrix is not positive definite (pivot ${failed} fails) even with jitter ${jitter / 10} on the diagonal`,
  );
}

/**
 * Rank-one update in place: on return `L·Lᵀ` equals the old `L·Lᵀ + x·xᵀ`. O(n²), LINPACK
 * `dchud` by Givens rotations, which keep the diagonal positive.
 *
 * The rotations are left behind so that the caller can apply them to further rows (an
 * augmented right-hand side, a coupled block) with {@link applyUpdateToRow}: on return
 * `work[i] = cᵢ` and `x[i] = sᵢ`.
 *
 * @param L n×n lower factor with row stride `ld`
 * @param x length ≥ n, the update vector; overwritten with the rotation sines
 * @param work length ≥ n; receives the rotation cosines
 * @param ld row stride of L (≥ n)
 */
export function cholUpdate(L: Float64Array, n: number, x: Float64Array, work: Float64Array, ld = n): void {
  // Leading zeros of x give identity rotations; start at the first non-zero.
  let f = 0;
  while (f < n && x[f] === 0) {
    work[f] = 1;
    f++;
  }
  // Row-oriented: row j meets rotations f…j−1 in order, then defines rotation j. Two rows at a
  // time: their chains over the earlier rotations are independent, so they overlap in the CPU
  // (each chain alone is latency-bound); every entry sees the same operations in the same order
  // as one row at a time, so the result is bit-identical.
  let j = f;
  for (; j + 1 < n; j += 2) {
    const r0 = j * ld;
    const r1 = r0 + ld;
    let x0 = x[j]!;
    let x1 = x[j + 1]!;
    for (let i = f; i < j; i++) {
      const c = work[i]!;
      const s = x[i]!;
      const a = L[r0 + i]!;
      const b = L[r1 + i]!;
      L[r0 + i] = c * a + s * x0;
      x0 = c * x0 - s * a;
      L[r1 + i] = c * b + s * x1;
      x1 = c * x1 - s * b;
    }
    rotateDiagonal(L, r0 + j, x0, work, x, j);
    const c = work[j]!;
    const s = x[j]!;
    const b = L[r1 + j]!;
    L[r1 + j] = c * b + s * x1;
    x1 = c * x1 - s * b;
    rotateDiagonal(L, r1 + j + 1, x1, work, x, j + 1);
  }
  if (j < n) {
    const r = j * ld;
    let xj = x[j]!;
    for (let i = f; i < j; i++) {
      const lji = L[r + i]!;
      const c = work[i]!;
      const s = x[i]!;
      L[r + i] = c * lji + s * xj;
      xj = c * xj - s * lji;
    }
    rotateDiagonal(L, r + j, xj, work, x, j);
  }
}

/**
 * The Givens rotation of row j's diagonal d = L[at] with its incoming update entry xj:
 * L[at] = √(d² + xj²), cos → work[j], sin → x[j] (the identity when xj = 0).
 */
function rotateDiagonal(L: Float64Array, at: number, xj: number, work: Float64Array, x: Float64Array, j: number): void {
  if (xj === 0) {
    work[j] = 1;
    x[j] = 0;
    return;
  }
  const d = L[at]!;
  const h = Math.sqrt(d * d + xj * xj);
  work[j] = d / h;
  x[j] = xj / h;
  L[at] = h;
}

/**
 * Apply the rotations left by {@link cholUpdate} (columns 0..n−1, in order) to one more row
 * `row[off..off+n)` whose incoming update entry is `carry`; returns the outgoing carry.
 * With `carry` = the update's right-hand-side entry and `row` = `y = L⁻¹b`, this updates `y`
 * and returns the residual whose square adds to the residual sum of squares (LINPACK `dchud`
 * with `z`, `rho`).
 */
export function applyUpdateToRow(
  row: Float64Array,
  off: number,
  n: number,
  c: Float64Array,
  s: Float64Array,
  carry: number,
): number {
  for (let i = 0; i < n; i++) {
    const si = s[i]!;
    if (si === 0) continue;
    const ci = c[i]!;
    const v = row[off + i]!;
    row[off + i] = ci * v + si * carry;
    carry = ci * carry - si * v;
  }
  return carry;
}

/**
 * The orthogonal rotations of a downdate, from `p = L⁻¹x` and `α = √(1 − pᵀp)` (LINPACK `dchdd`,
 * processing i = n−1 … 0). Several blocks of one factor are chained by passing the returned α
 * to the next (earlier) block. `s` may alias `p`.
 * @returns the α left after these rotations (1 when the whole p has been processed)
 */
export function downdateRotations(
  p: Float64Array,
  n: number,
  alpha: number,
  c: Float64Array,
  s: Float64Array,
): number {
  let a = alpha;
  for (let i = n - 1; i >= 0; i--) {
    const pi = p[i]!;
    if (pi === 0) {
      c[i] = 1;
      s[i] = 0;
      continue;
    }
    // Scaling keeps the hypotenuse free of overflow, as in dchdd.
    const scale = a + Math.abs(pi);
    const aa = a / scale;
    const bb = pi / scale;
    const norm = Math.sqrt(aa * aa + bb * bb);
    c[i] = aa / norm;
    s[i] = bb / norm;
    a = scale * norm;
  }
  return a;
}

/**
 * Apply downdate rotations (from {@link downdateRotations}) to one row `row[off..off+n)`,
 * i = n−1 … 0, with incoming carry; returns the outgoing carry. A lower factor's row j is
 * processed with n = j + 1 and carry 0; the augmented row `y = L⁻¹b` with carry
 * `β = (η − pᵀy)/α`, after which it holds `L'⁻¹(b − ηx)` and `ρ'² = ρ² − β²`.
 */
export function applyDowndateToRow(
  row: Float64Array,
  off: number,
  n: number,
  c: Float64Array,
  s: Float64Array,
  carry: number,
): number {
  for (let i = n - 1; i >= 0; i--) {
    const si = s[i]!;
    if (si === 0) continue;
    const ci = c[i]!;
    const v = row[off + i]!;
    row[off + i] = ci * v - si * carry;
    carry = ci * carry + si * v;
  }
  return carry;
}

/**
 * Rank-one downdate in place: on return `L·Lᵀ` equals the old `L·Lᵀ − x·xᵀ`. O(n²), LINPACK
 * `dchdd`. Feasibility is checked before L is touched: with `p = L⁻¹x`, the result is positive
 * definite iff `α² = 1 − pᵀp > 0` (α² = det(A − xxᵀ)/det(A)); below ε it would be
 * numerically singular, so that is refused too.
 *
 * On return `work[i] = cᵢ` and `x[i] = sᵢ` (for {@link applyDowndateToRow}).
 *
 * @param x length ≥ n; overwritten (with p, then the rotation sines) even when this throws
 * @param work length ≥ n
 * @throws NotPositiveDefiniteError when the result would not be positive definite; L is unchanged
 */
export function cholDowndate(L: Float64Array, n: number, x: Float64Array, work: Float64Array, ld = n): void {
  solveLower(L, n, x, x, ld);
  let pp = 0;
  for (let i = 0; i < n; i++) pp += x[i]! * x[i]!;
  const alpha2 = 1 - pp;
  if (!(alpha2 > Number.EPSILON)) {
    throw new NotPositiveDefiniteError(
      `cholDowndate: L·Lᵀ − x·xᵀ is not positive definite (1 − |L⁻¹x|² = ${alpha2})`,
    );
  }
  downdateRotations(x, n, Math.sqrt(alpha2), work, x);
  applyDowndateToLower(L, n, work, x, ld);
}

/** Apply downdate rotations to every row of an n×n lower factor (see {@link cholDowndate}). */
export function applyDowndateToLower(L: Float64Array, n: number, c: Float64Array, s: Float64Array, ld = n): void {
  let f = 0;
  while (f < n && s[f] === 0) f++;
  // Rows above the first non-trivial rotation are untouched.
  for (let j = f; j < n; j++) applyDowndateToRow(L, j * ld, j + 1, c, s, 0);
}

/**
 * Forward substitution: solve `L·y = b`. `out` may alias `b`. O(n²).
 * @param L n×n lower triangular with non-zero diagonal, row stride `ld`
 */
export function solveLower(L: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array, ld = n): void {
  let f = 0;
  while (f < n && b[f] === 0) out[f++] = 0;
  for (let i = f; i < n; i++) {
    const r = i * ld;
    let s = b[i]!;
    for (let k = f; k < i; k++) s -= L[r + k]! * out[k]!;
    out[i] = s / L[r + i]!;
  }
}

/**
 * Back substitution with the transpose: solve `Lᵀ·x = y`. `out` may alias `y`. O(n²); walks L
 * by rows (column-oriented back substitution), so it reads memory contiguously.
 */
export function solveUpperT(L: Float64Array, n: number, y: ArrayLike<number>, out: Float64Array, ld = n): void {
  if (out !== y) for (let i = 0; i < n; i++) out[i] = y[i]!;
  for (let i = n - 1; i >= 0; i--) {
    const r = i * ld;
    const xi = out[i]! / L[r + i]!;
    out[i] = xi;
    if (xi === 0) continue;
    for (let k = 0; k < i; k++) out[k] = out[k]! - L[r + k]! * xi;
  }
}

/** Solve `A·x = b` given the factor `A = L·Lᵀ`. `out` may alias `b`. */
export function cholSolve(L: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array, ld = n): void {
  solveLower(L, n, b, out, ld);
  solveUpperT(L, n, out, out, ld);
}

/** Dot product of the first n entries. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
  return s;
}

/** `out = A·x` for a rows×cols row-major A with row stride `ld`. `out` must not alias `x`. */
export function matVec(
  A: Float64Array,
  rows: number,
  cols: number,
  x: ArrayLike<number>,
  out: Float64Array,
  ld = cols,
): void {
  for (let i = 0; i < rows; i++) {
    const r = i * ld;
    let s = 0;
    for (let j = 0; j < cols; j++) s += A[r + j]! * x[j]!;
    out[i] = s;
  }
}

/** `out = L·x` for an n×n lower triangular L. `out` must not alias `x`. */
export function lowerMatVec(L: Float64Array, n: number, x: ArrayLike<number>, out: Float64Array, ld = n): void {
  for (let i = 0; i < n; i++) {
    const r = i * ld;
    let s = 0;
    for (let k = 0; k <= i; k++) s += L[r + k]! * x[k]!;
    out[i] = s;
  }
}

/** `out = L·Lᵀ` (n×n, row stride n) from a lower factor with row stride `ld`. */
export function lowerGram(L: Float64Array, n: number, out: Float64Array, ld = n): void {
  for (let i = 0; i < n; i++) {
    const ri = i * ld;
    for (let j = 0; j <= i; j++) {
      const rj = j * ld;
      let s = 0;
      for (let k = 0; k <= j; k++) s += L[ri + k]! * L[rj + k]!;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
}

/**
 * The inverse A⁻¹ = L⁻ᵀ·L⁻¹ of A = L·Lᵀ from its lower Cholesky factor: the lower triangle
 * (row-major, stride `ld`) of A⁻¹ into `out`. Column j of L⁻¹ comes by forward substitution
 * from row j on (rows above are 0) into row j of `work` (so `work` holds (L⁻¹)ᵀ), then
 * (A⁻¹)_ab = Σ_{r ≥ a} (L⁻¹)_ra·(L⁻¹)_rb for b ≤ a: n³/3 multiply-adds in all.
 * @param work n rows of stride `ld` (scratch)
 * @param out n rows of stride `ld`; only the lower triangle is written
 */
export function cholInverseLower(L: Float64Array, n: number, out: Float64Array, work: Float64Array, ld = n): void {
  for (let j = 0; j < n; j++) {
    const o = j * ld;
    work[o + j] = 1 / L[j * ld + j]!;
    for (let r = j + 1; r < n; r++) {
      const lr = r * ld;
      let a0 = 0;
      let a1 = 0;
      let l = j;
      for (; l + 1 < r; l += 2) {
        a0 += L[lr + l]! * work[o + l]!;
        a1 += L[lr + l + 1]! * work[o + l + 1]!;
      }
      if (l < r) a0 += L[lr + l]! * work[o + l]!;
      work[o + r] = -(a0 + a1) / L[lr + r]!;
    }
  }
  for (let a = 0; a < n; a++) {
    const oa = a * ld;
    for (let b = 0; b <= a; b++) {
      const ob = b * ld;
      let a0 = 0;
      let a1 = 0;
      let r = a;
      for (; r + 1 < n; r += 2) {
        a0 += work[oa + r]! * work[ob + r]!;
        a1 += work[oa + r + 1]! * work[ob + r + 1]!;
      }
      if (r < n) a0 += work[oa + r]! * work[ob + r]!;
      out[oa + b] = a0 + a1;
    }
  }
}
