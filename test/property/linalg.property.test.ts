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

describe('linalg properties', () => {
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
