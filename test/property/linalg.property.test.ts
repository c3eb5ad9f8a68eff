import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cholDowndate, cholUpdate, cholesky, lowerGram } from '../../src/core/linalg.js';

/** An SPD matrix A = B·Bᵀ + δ·I of order 1..8 and a vector x. */
const spdCase = fc.integer({ min: 1, max: 8 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    B: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: n * n, maxLength: n * n }),
    x: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n }),
    delta: fc.double({ min: 0.1, max: 2, noNaN: true }),
  }),
);

function spd(n: number, B: number[], delta: number): Float64Array {
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? delta : 0;
      for (let k = 0; k < n; k++) s += B[i * n + k]! * B[j * n + k]!;
      A[i * n + j] = s;
    }
  return A;
}

/** The textbook one-row-at-a-time LINPACK dchud loop: the reference cholUpdate must match bit for bit. */
function cholUpdateOneRow(L: Float64Array, n: number, x: Float64Array, work: Float64Array, ld: number): void {
  let f = 0;
  while (f < n && x[f] === 0) work[f++] = 1;
  for (let j = f; j < n; j++) {
    const r = j * ld;
    let xj = x[j]!;
    for (let i = f; i < j; i++) {
      const lji = L[r + i]!;
      L[r + i] = work[i]! * lji + x[i]! * xj;
      xj = work[i]! * xj - x[i]! * lji;
    }
    if (xj === 0) {
      work[j] = 1;
      x[j] = 0;
      continue;
    }
    const d = L[r + j]!;
    const h = Math.sqrt(d * d + xj * xj);
    work[j] = d / h;
    x[j] = xj / h;
    L[r + j] = h;
  }
}

describe('linalg properties', () => {
  test('cholUpdate (two rows at a time) equals the one-row dchud loop bit for bit: factor, cosines, sines', () => {
    const updateCase = fc.integer({ min: 1, max: 11 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        pad: fc.integer({ min: 0, max: 3 }),
        B: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: n * n, maxLength: n * n }),
        x: fc.array(fc.oneof(fc.constant(0), fc.double({ min: -3, max: 3, noNaN: true })), { minLength: n, maxLength: n }),
      }),
    );
    fc.assert(
      fc.property(updateCase, ({ n, pad, B, x }) => {
        const ld = n + pad;
        const A = spd(n, B, 0.5);
        const L0 = new Float64Array(n * n);
        cholesky(A, n, L0);
        const La = new Float64Array(n * ld);
        for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) La[i * ld + j] = L0[i * n + j]!;
        const Lb = La.slice();
        const xa = Float64Array.from(x);
        const xb = Float64Array.from(x);
        const wa = new Float64Array(n);
        const wb = new Float64Array(n);
        cholUpdate(La, n, xa, wa, ld);
        cholUpdateOneRow(Lb, n, xb, wb, ld);
        for (let i = 0; i < n * ld; i++) if (!Object.is(La[i], Lb[i])) return false;
        for (let i = 0; i < n; i++) if (!Object.is(xa[i], xb[i]) || !Object.is(wa[i], wb[i])) return false;
        return true;
      }),
      { numRuns: 300 },
    );
  });

  test('L·Lᵀ ≈ A for SPD A', () => {
    fc.assert(
      fc.property(spdCase, ({ n, B, delta }) => {
        const A = spd(n, B, delta);
        const L = new Float64Array(n * n);
        expect(cholesky(A, n, L).jitter).toBe(0);
        const back = new Float64Array(n * n);
        lowerGram(L, n, back);
        let scale = 0;
        for (let i = 0; i < n; i++) scale = Math.max(scale, A[i * n + i]!);
        for (let i = 0; i < n * n; i++) expect(Math.abs(back[i]! - A[i]!)).toBeLessThanOrEqual(1e-13 * scale);
      }),
      { numRuns: 200 },
    );
  });

  test('update then downdate with the same x restores L', () => {
    fc.assert(
      fc.property(spdCase, ({ n, B, x, delta }) => {
        const A = spd(n, B, delta);
        const L = new Float64Array(n * n);
        cholesky(A, n, L);
        const L0 = Float64Array.from(L);
        const work = new Float64Array(n);
        cholUpdate(L, n, Float64Array.from(x), work);
        cholDowndate(L, n, Float64Array.from(x), work);
        // Error grows with cond(A + xxᵀ)·|x|²; with δ ≥ 0.1 and |x|² ≤ 72, cond ≤ ~2e3.
        let scale = 0;
        for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(L0[i]!));
        for (let i = 0; i < n * n; i++) expect(Math.abs(L[i]! - L0[i]!)).toBeLessThanOrEqual(1e-9 * scale);
      }),
      { numRuns: 200 },
    );
  });
});
