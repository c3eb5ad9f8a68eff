import { describe, expect, test } from 'vitest';
import {
  cholInverseLower,
  applyDowndateToRow,
  applyUpdateToRow,
  cholDowndate,
  cholSolve,
  cholUpdate,
  cholesky,
  dot,
  lowerGram,
  lowerMatVec,
  matVec,
  NotPositiveDefiniteError,
  solveLower,
  solveUpperT,
} from '../../../src/core/linalg.js';
import { createRng, type Rng } from '../../../src/core/rng.js';

/** A = B·Bᵀ + n·I with B ~ N(0, 1): SPD with condition number of order 10. */
function randomSpd(n: number, rng: Rng): Float64Array {
  const B = Float64Array.from({ length: n * n }, () => rng.normal());
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += B[i * n + k]! * B[j * n + k]!;
      A[i * n + j] = s;
    }
  return A;
}

function factor(A: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  cholesky(A, n, L);
  return L;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function addOuter(A: Float64Array, n: number, x: ArrayLike<number>, sign: number): Float64Array {
  const B = Float64Array.from(A);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) B[i * n + j] = B[i * n + j]! + sign * x[i]! * x[j]!;
  return B;
}

// Backward-stable Cholesky: |L·Lᵀ − A| ≲ n·ε·|A|; 1e-13 relative leaves a margin of ~50 at n = 12.
const REL = 1e-13;

describe('cholesky', () => {
  test('factors a 2×2 matrix exactly', () => {
    const L = new Float64Array(4);
    const { jitter } = cholesky(Float64Array.of(4, 2, 2, 3), 2, L);
    expect(jitter).toBe(0);
    expect(Array.from(L)).toEqual([2, 0, 1, Math.SQRT2]);
  });

  test.each([1, 2, 5, 12])('L·Lᵀ reproduces a random SPD matrix of order %i', (n) => {
    const rng = createRng(`spd-${n}`);
    for (let rep = 0; rep < 5; rep++) {
      const A = randomSpd(n, rng);
      const L = factor(A, n);
      const back = new Float64Array(n * n);
      lowerGram(L, n, back);
      expect(maxAbsDiff(back, A)).toBeLessThan(REL * maxAbs(A));
      for (let i = 0; i < n; i++) {
        expect(L[i * n + i]!).toBeGreaterThan(0);
        for (let j = i + 1; j < n; j++) expect(L[i * n + j]).toBe(0);
      }
    }
  });

  test('reports the jitter it needed for a singular PSD matrix', () => {
    const A = Float64Array.of(1, 1, 1, 1); // rank one
    const L = new Float64Array(4);
    const { jitter } = cholesky(A, 2, L);
    expect(jitter).toBeGreaterThan(0);
    expect(jitter).toBeLessThan(1e-3);
    const back = new Float64Array(4);
    lowerGram(L, 2, back);
    expect(maxAbsDiff(back, Float64Array.of(1 + jitter, 1, 1, 1 + jitter))).toBeLessThan(1e-15);
  });

  test('throws NotPositiveDefiniteError for an indefinite or non-finite matrix', () => {
    const L = new Float64Array(4);
    expect(() => cholesky(Float64Array.of(1, 0, 0, -1), 2, L)).toThrow(NotPositiveDefiniteError);
    expect(() => cholesky(Float64Array.of(1, 0, Number.NaN, 1), 2, L)).toThrow(/not finite/);
  });

  test('refuses an output aliasing the input', () => {
    const A = Float64Array.of(4, 2, 2, 3);
    expect(() => cholesky(A, 2, A)).toThrow(RangeError);
  });
});

describe('cholInverseLower', () => {
  test('a 2×2 inverse exactly, and A·A⁻¹ = I for a 5×5 with a row stride', () => {
    // A = [[4, 2], [2, 3]] = L·Lᵀ with L = [[2, 0], [1, √2]]; A⁻¹ = [[3, −2], [−2, 4]] / 8.
    const L = Float64Array.from([2, 0, 1, Math.SQRT2]);
    const inv = new Float64Array(4);
    cholInverseLower(L, 2, inv, new Float64Array(4));
    expect(inv[0]).toBeCloseTo(3 / 8, 15);
    expect(inv[2]).toBeCloseTo(-2 / 8, 15);
    expect(inv[3]).toBeCloseTo(4 / 8, 15);
    expect(inv[1]).toBe(0); // the upper triangle is not written
    const n = 5;
    const ld = 7;
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = (i === j ? 3 : 0) + 1 / (1 + i + j);
    const L0 = new Float64Array(n * n);
    cholesky(A, n, L0);
    const Ls = new Float64Array(n * ld);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) Ls[i * ld + j] = L0[i * n + j]!;
    const lower = new Float64Array(n * ld);
    cholInverseLower(Ls, n, lower, new Float64Array(n * ld), ld);
    const at = (i: number, j: number) => (i >= j ? lower[i * ld + j]! : lower[j * ld + i]!);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += A[i * n + k]! * at(k, j);
        expect(s).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    }
  });
});

describe('rank-one update and downdate', () => {
  test.each([1, 3, 8])('update equals refactorizing A + x·xᵀ (n = %i)', (n) => {
    const rng = createRng(`up-${n}`);
    const A = randomSpd(n, rng);
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const L = factor(A, n);
    const direct = factor(addOuter(A, n, x, 1), n);
    cholUpdate(L, n, Float64Array.from(x), new Float64Array(n));
    expect(maxAbsDiff(L, direct)).toBeLessThan(1e-12 * maxAbs(direct));
  });

  test.each([1, 3, 8])('downdate equals refactorizing A − x·xᵀ (n = %i)', (n) => {
    const rng = createRng(`down-${n}`);
    const A = randomSpd(n, rng);
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const L = factor(addOuter(A, n, x, 1), n);
    const direct = factor(A, n);
    cholDowndate(L, n, Float64Array.from(x), new Float64Array(n));
    expect(maxAbsDiff(L, direct)).toBeLessThan(1e-11 * maxAbs(direct));
  });

  test('works inside a larger buffer (row stride > n) and skips leading zeros', () => {
    const n = 4;
    const ld = 7;
    const rng = createRng('stride');
    const A = randomSpd(n, rng);
    const x = Float64Array.of(0, 0, 0.7, -1.2);
    const tight = factor(A, n);
    const wide = new Float64Array(ld * ld).fill(99);
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) wide[r * ld + c] = tight[r * n + c]!;
    cholUpdate(wide, n, Float64Array.from(x), new Float64Array(n), ld);
    const direct = factor(addOuter(A, n, x, 1), n);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) expect(wide[r * ld + c]).toBeCloseTo(direct[r * n + c]!, 12);
      for (let c = n; c < ld; c++) expect(wide[r * ld + c]).toBe(99);
    }
    cholDowndate(wide, n, Float64Array.from(x), new Float64Array(n), ld);
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) expect(wide[r * ld + c]).toBeCloseTo(tight[r * n + c]!, 12);
  });

  test('an infeasible downdate throws and leaves L untouched', () => {
    const n = 3;
    const A = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
    const L = factor(A, n);
    const before = Float64Array.from(L);
    expect(() => cholDowndate(L, n, Float64Array.of(0, 1, 0), new Float64Array(n))).toThrow(NotPositiveDefiniteError);
    expect(() => cholDowndate(L, n, Float64Array.of(0.6, 0.9, 0), new Float64Array(n))).toThrow(NotPositiveDefiniteError);
    expect(Array.from(L)).toEqual(Array.from(before));
  });

  test('the rotations left behind update an augmented row y = L⁻¹b and the residual ρ²', () => {
    // Augmented Gram [[A, b], [bᵀ, s]] has factor [[L, 0], [yᵀ, ρ]], ρ² = s − bᵀA⁻¹b.
    const n = 5;
    const rng = createRng('aug');
    const A = randomSpd(n, rng);
    const b = Float64Array.from({ length: n }, () => rng.normal());
    const s = dot(b, b, n) + 3;
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const eta = 0.8;
    const L = factor(A, n);
    const y = new Float64Array(n);
    solveLower(L, n, b, y);
    const rho2 = s - dot(y, y, n);

    const xs = Float64Array.from(x);
    const c = new Float64Array(n);
    cholUpdate(L, n, xs, c);
    const carry = applyUpdateToRow(y, 0, n, c, xs, eta);
    const b2 = b.map((v, i) => v + eta * x[i]!);
    const y2 = new Float64Array(n);
    solveLower(factor(addOuter(A, n, x, 1), n), n, b2, y2);
    expect(maxAbsDiff(y, y2)).toBeLessThan(1e-12);
    const s2 = s + eta * eta;
    expect(rho2 + carry * carry).toBeCloseTo(s2 - dot(y2, y2, n), 10);

    // Downdating with the same x and η restores y and ρ² (dchdd: β = (η − pᵀy)/α).
    const p = Float64Array.from(x);
    solveLower(L, n, p, p);
    const alpha = Math.sqrt(1 - dot(p, p, n));
    const beta = (eta - dot(p, y, n)) / alpha;
    const xd = Float64Array.from(x);
    cholDowndate(L, n, xd, c);
    const out = applyDowndateToRow(y, 0, n, c, xd, beta);
    expect(out).toBeCloseTo(eta, 12);
    const y0 = new Float64Array(n);
    solveLower(factor(A, n), n, b, y0);
    expect(maxAbsDiff(y, y0)).toBeLessThan(1e-12);
    expect(rho2 + carry * carry - beta * beta).toBeCloseTo(rho2, 10);
  });
});

describe('triangular solves', () => {
  const n = 6;
  const rng = createRng('solve');
  const A = randomSpd(n, rng);
  const L = factor(A, n);
  const b = Float64Array.from({ length: n }, () => rng.normal());

  test('solveLower solves L·y = b, in place too', () => {
    const y = new Float64Array(n);
    solveLower(L, n, b, y);
    const back = new Float64Array(n);
    lowerMatVec(L, n, y, back);
    expect(maxAbsDiff(back, b)).toBeLessThan(1e-13);
    const inPlace = Float64Array.from(b);
    solveLower(L, n, inPlace, inPlace);
    expect(Array.from(inPlace)).toEqual(Array.from(y));
  });

  test('solveUpperT solves Lᵀ·x = y, in place too', () => {
    const x = new Float64Array(n);
    solveUpperT(L, n, b, x);
    // Lᵀ·x computed by hand.
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = i; k < n; k++) s += L[k * n + i]! * x[k]!;
      expect(s).toBeCloseTo(b[i]!, 12);
    }
    const inPlace = Float64Array.from(b);
    solveUpperT(L, n, inPlace, inPlace);
    expect(Array.from(inPlace)).toEqual(Array.from(x));
  });

  test('cholSolve solves A·x = b', () => {
    const x = new Float64Array(n);
    cholSolve(L, n, b, x);
    const back = new Float64Array(n);
    matVec(A, n, n, x, back);
    expect(maxAbsDiff(back, b)).toBeLessThan(1e-12);
  });

  test('solveLower handles leading zeros of b', () => {
    const b0 = Float64Array.of(0, 0, 1, 2, 0, 3);
    const y = new Float64Array(n).fill(7);
    solveLower(L, n, b0, y);
    expect(y[0]).toBe(0);
    expect(y[1]).toBe(0);
    const back = new Float64Array(n);
    lowerMatVec(L, n, y, back);
    expect(maxAbsDiff(back, b0)).toBeLessThan(1e-13);
  });
});
