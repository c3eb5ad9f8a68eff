import { describe, expect, test } from 'vitest';
import { solveUpperT } from '../../../../src/core/linalg.js';
import { createRng } from '../../../../src/core/rng.js';
import { backSubstituteT } from '../../../../src/policies/linear-gaussian/solve.js';

describe('backSubstituteT', () => {
  test('solves Lᵀx = v exactly on a 2×2 system', () => {
    // L = [[2, 0], [1, 4]]: Lᵀ = [[2, 1], [0, 4]], v = [5, 8] ⇒ x₁ = 2, x₀ = (5 − 2)/2 = 1.5.
    const L = new Float64Array([2, 0, 1, 4]);
    const x = new Float64Array([5, 8]);
    backSubstituteT(L, 2, x, 2);
    expect(Array.from(x)).toEqual([1.5, 2]);
  });

  test('is bit-identical to core solveUpperT, including zeros, −0 and padded row strides', () => {
    const rng = createRng('back-substitution');
    for (let t = 0; t < 300; t++) {
      const n = rng.int(41);
      const ld = n + rng.int(3);
      const L = new Float64Array(Math.max(1, ld * ld)).fill(Number.NaN); // padding must not be read
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < i; j++) L[i * ld + j] = rng.uniform() < 0.2 ? 0 : rng.normal();
        L[i * ld + i] = 0.1 + 3 * rng.uniform();
      }
      const v = new Float64Array(n);
      const mode = t % 4;
      for (let i = 0; i < n; i++) {
        // Exact zeros (and −0) at the bottom make whole rows of x vanish: the skipped updates.
        const zero = mode === 1 ? i >= n / 2 : mode === 2 ? rng.uniform() < 0.3 : mode === 3 && i % 3 === 0;
        v[i] = zero ? (rng.uniform() < 0.5 ? 0 : -0) : rng.normal() * 10 ** (rng.int(7) - 3);
      }
      const want = v.slice();
      const got = v.slice();
      solveUpperT(L, n, want, want, ld);
      backSubstituteT(L, n, got, ld);
      for (let i = 0; i < n; i++) {
        if (!Object.is(got[i], want[i])) expect.fail(`case ${t} (n = ${n}), x[${i}]: ${got[i]} vs ${want[i]}`);
      }
    }
  });
});
