import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type OutcomeFeatures, type SparseVector } from '../../../src/features/types.js';
import {
  createLogistic,
  logisticConfigSchema,
  newtonAlpha,
  probitMean,
  probitSd,
  sigmoid,
  type LogisticConfig,
  type LogisticConfigInput,
  type LogisticState,
} from '../../../src/policies/logistic/index.js';
import type { Policy, PolicySnapshot } from '../../../src/policies/types.js';

const DIM = 64;

function cfg(over: Omit<LogisticConfigInput, 'kind'> = {}): LogisticConfig {
  return logisticConfigSchema.parse({ kind: 'logistic', ...over });
}

function vec(pairs: ReadonlyArray<readonly [number, number]>): SparseVector {
  return sparseFromPairs(DIM, pairs);
}

function outcome(x: SparseVector): OutcomeFeatures {
  return { itemId: 'i', context: x, arm: x };
}

function decision(arms: SparseVector[]): DecisionFeatures {
  return { dim: DIM, itemIds: arms.map((_, i) => `i${i}`), context: vec([]), arms };
}

function state(p: Policy): LogisticState {
  return p.snapshot().state as LogisticState;
}

/** Mean and precision of dimension d as stored in the snapshot (diagonal mode). */
function weight(p: Policy, d: number): { mean: number; precision: number } {
  const st = state(p);
  const i = st.dims.indexOf(d);
  return i < 0 ? { mean: 0, precision: NaN } : { mean: st.mean[i]!, precision: st.precision[i]! };
}

/** The dense block precision P = L·Lᵀ from a snapshot (row-major n×n). */
function blockPrecision(st: LogisticState): number[][] {
  const n = st.dense.length;
  const L = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  let p = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) L[i]![j] = st.chol[p++]!;
  return L.map((ri) => L.map((rj) => ri.reduce((s, v, k) => s + v * rj[k]!, 0)));
}

function summarize(p: Policy, arms: SparseVector[]): { mean: number[]; sd: number[] } {
  const m = new Float64Array(arms.length);
  const s = new Float64Array(arms.length);
  p.summarize(decision(arms), m, s);
  return { mean: [...m], sd: [...s] };
}

function sample(p: Policy, arms: SparseVector[], seed: number, temperature = 1): number[] {
  const out = new Float64Array(arms.length);
  p.sample(decision(arms), createRng(seed), out, temperature);
  return [...out];
}

const logit = (q: number): number => Math.log(q / (1 - q));

describe('update (hand-computed)', () => {
  // Prior N(0, 1); x = (x₀ = 1, x₃ = 2), click r = 1, weight 1.
  // μ = 0, p = 1/2, v = xᵀΣx = 1 + 4 = 5, α = −(1/2 − 1)/(1 + 5/4) = 2/9;
  // m = α·Σx = (2/9, 4/9); p′ = σ(2/9 + 8/9) = σ(10/9); q = 1 + p′(1 − p′)·x².
  const x = vec([
    [0, 1],
    [3, 2],
  ]);
  const pp = sigmoid(10 / 9);

  test('diagonal: one Newton step gives the new mean and precision exactly', () => {
    const p = createLogistic(cfg());
    p.update(outcome(x), 1, 1);
    expect(weight(p, 0).mean).toBeCloseTo(2 / 9, 15);
    expect(weight(p, 3).mean).toBeCloseTo(4 / 9, 15);
    expect(weight(p, 0).precision).toBeCloseTo(1 + pp * (1 - pp), 15);
    expect(weight(p, 3).precision).toBeCloseTo(1 + 4 * pp * (1 - pp), 15);
  });

  test('weight and prior variance enter as in the formula', () => {
    // τ² = 2 (q₀ = 1/2), w = 3, r = 0: v = 2·1 + 2·4 = 10, α = −3·(1/2)/(1 + 3·(1/4)·10) = −1.5/8.5.
    const p = createLogistic(cfg({ priorVariance: 2 }));
    p.update(outcome(x), 0, 3);
    const alpha = -1.5 / 8.5;
    expect(weight(p, 0).mean).toBeCloseTo(alpha * 2, 14);
    expect(weight(p, 3).mean).toBeCloseTo(alpha * 4, 14);
    const p1 = sigmoid(alpha * 2 + 2 * alpha * 4);
    expect(weight(p, 3).precision).toBeCloseTo(0.5 + 3 * p1 * (1 - p1) * 4, 14);
  });

  test('two Newton steps take the scalar Newton iteration one step further, toward the mode', () => {
    const p = createLogistic(cfg({ newtonSteps: 2 }));
    p.update(outcome(x), 1, 1);
    const a1 = 2 / 9;
    const p1 = sigmoid(5 * a1);
    const a2 = a1 - (a1 + (p1 - 1)) / (1 + p1 * (1 - p1) * 5);
    expect(weight(p, 0).mean).toBeCloseTo(a2, 15);
    expect(weight(p, 3).mean).toBeCloseTo(2 * a2, 15);
    const g = (a: number): number => Math.abs(a + (sigmoid(5 * a) - 1));
    expect(g(a2)).toBeLessThan(g(a1));
    expect(newtonAlpha(0, 5, 1, 1, 2)).toBeCloseTo(a2, 15);
  });

  test('full: the first update has the same mean, and precision I + w·p′(1 − p′)·xxᵀ', () => {
    const p = createLogistic(cfg({ covariance: 'full' }));
    p.update(outcome(x), 1, 1);
    const st = state(p);
    expect(st.dense).toEqual([0, 3]);
    expect(st.mean[0]).toBeCloseTo(2 / 9, 15);
    expect(st.mean[1]).toBeCloseTo(4 / 9, 15);
    const c = pp * (1 - pp);
    const P = blockPrecision(st);
    expect(P[0]![0]).toBeCloseTo(1 + c, 14);
    expect(P[0]![1]).toBeCloseTo(2 * c, 14);
    expect(P[1]![1]).toBeCloseTo(1 + 4 * c, 14);
  });

  test('full: a second update moves the mean along P⁻¹x (coupled), unlike diagonal', () => {
    const y = vec([[0, 1]]);
    const full = createLogistic(cfg({ covariance: 'full' }));
    full.update(outcome(x), 1, 1);
    const st0 = state(full);
    const P = blockPrecision(st0);
    const det = P[0]![0]! * P[1]![1]! - P[0]![1]! * P[1]![0]!;
    const Sy = [P[1]![1]! / det, -P[1]![0]! / det]; // Σy for y = e₀
    const mu = st0.mean[0]!;
    const a = newtonAlpha(mu, Sy[0]!, 1, 0, 1);
    full.update(outcome(y), 0, 1);
    const st1 = state(full);
    expect(st1.mean[0]).toBeCloseTo(st0.mean[0]! + a * Sy[0]!, 14);
    expect(st1.mean[1]).toBeCloseTo(st0.mean[1]! + a * Sy[1]!, 14);
    expect(st1.mean[1]).not.toBe(st0.mean[1]);
  });

  test('rewards are clipped to [0, 1]; weight 0 is a no-op', () => {
    const a = createLogistic(cfg());
    const b = createLogistic(cfg());
    a.update(outcome(x), 5, 1);
    b.update(outcome(x), 1, 1);
    a.update(outcome(x), -2, 0.5);
    b.update(outcome(x), 0, 0.5);
    expect(a.snapshot()).toEqual(b.snapshot());
    const before = JSON.stringify(a.snapshot());
    a.update(outcome(x), 1, 0);
    expect(JSON.stringify(a.snapshot())).toBe(before);
  });

  test.each([
    [NaN, 1],
    [Infinity, 1],
    [1, NaN],
    [1, -Infinity],
  ])('rejects reward %d / weight %d', (r, w) => {
    expect(() => createLogistic(cfg()).update(outcome(x), r, w)).toThrow(RangeError);
  });
});

describe('learning', () => {
  test.each(['diagonal', 'full'] as const)('%s: learns the signs of the weights (seeded)', (covariance) => {
    const p = createLogistic(cfg({ covariance }));
    const rng = createRng('logistic-learns');
    for (let t = 0; t < 3000; t++) {
      const f = rng.uniform() < 0.5 ? 1 : -1;
      const g = rng.uniform() < 0.5 ? 1 : -1;
      const x = vec([
        [0, 1],
        [5, f],
        [7, g],
      ]);
      const r = rng.uniform() < sigmoid(-0.5 + 1.5 * f - 1.5 * g) ? 1 : 0;
      p.update(outcome(x), r, 1);
    }
    const st = state(p);
    const m = (d: number): number => st.mean[st.dims.indexOf(d)]!;
    // 3000 draws: the weights' posterior sd is ≈ 0.05, so ±0.5 around the truth is > 5 sd.
    expect(m(5)).toBeGreaterThan(1);
    expect(m(5)).toBeLessThan(2);
    expect(m(7)).toBeLessThan(-1);
    expect(m(7)).toBeGreaterThan(-2);
    expect(m(0)).toBeLessThan(0);
    const s = summarize(p, [vec([[0, 1], [5, 1], [7, -1]]), vec([[0, 1], [5, -1], [7, 1]])]);
    expect(s.mean[0]).toBeGreaterThan(0.9);
    expect(s.mean[1]).toBeLessThan(0.1);
  });
});

describe('retraction', () => {
  const history: [SparseVector, number, number][] = [
    [vec([[0, 1], [2, 1]]), 1, 1],
    [vec([[0, 1], [3, -1.5]]), 0, 2],
    [vec([[0, 1], [2, 0.5], [3, 1]]), 1, 0.5],
  ];
  const probe = [vec([[0, 1]]), vec([[2, 1], [3, 1]]), vec([[0, 1], [9, 2]]), vec([[9, 1]])];

  test.each([
    ['diagonal', 1, 0.3],
    ['diagonal', 1, 1],
    ['diagonal', 3, 2],
    ['full', 1, 0.3],
    ['full', 1, 1],
    ['full', 3, 2],
  ] as const)('%s, %d Newton steps: update then retract (weight %d) restores the posterior', (covariance, newtonSteps, w) => {
    const p = createLogistic(cfg({ covariance, newtonSteps }));
    for (const [x, r, wt] of history) p.update(outcome(x), r, wt);
    const before = summarize(p, probe);
    const x = vec([[0, 1], [2, -1], [9, 2]]);
    p.update(outcome(x), 1, w);
    const moved = summarize(p, probe);
    expect(Math.abs(moved.mean[0]! - before.mean[0]!)).toBeGreaterThan(1e-3);
    p.update(outcome(x), 1, -w);
    const after = summarize(p, probe);
    for (let i = 0; i < probe.length; i++) {
      expect(after.mean[i]).toBeCloseTo(before.mean[i]!, 12);
      expect(after.sd[i]).toBeCloseTo(before.sd[i]!, 12);
    }
  });

  test('retracting something never folded keeps the posterior finite and proper', () => {
    const p = createLogistic(cfg({ priorVariance: 2 }));
    const x = vec([[1, 3]]);
    for (let k = 0; k < 3; k++) p.update(outcome(x), 1, -3);
    const st = state(p);
    // Updates and decay never take a precision below the prior's; neither may a retraction.
    expect(st.precision[0]).toBe(0.5);
    expect(Number.isFinite(st.mean[0]!)).toBe(true);
    const s = summarize(p, [x]);
    expect(s.mean[0]).toBeGreaterThan(0);
    expect(s.mean[0]).toBeLessThan(1);
  });
});

describe('sample', () => {
  const arms = [vec([[0, 1], [1, 1]]), vec([[0, 1], [2, 1]]), vec([[1, 2]])];
  function trained(covariance: 'diagonal' | 'full'): Policy {
    const p = createLogistic(cfg({ covariance, priorVariance: 0.5 }));
    p.update(outcome(vec([[0, 1], [1, 1]])), 1, 1);
    p.update(outcome(vec([[0, 1], [2, 1]])), 0, 2);
    return p;
  }

  test.each(['diagonal', 'full'] as const)('%s: temperature 0 scores σ(xᵀm) and draws nothing', (covariance) => {
    const p = trained(covariance);
    const st = state(p);
    const m = (d: number): number => (st.dims.includes(d) ? st.mean[st.dims.indexOf(d)]! : 0);
    const rng = createRng(5);
    const before = rng.state();
    const out = new Float64Array(3);
    p.sample(decision(arms), rng, out, 0);
    expect(rng.state()).toEqual(before);
    expect(out[0]).toBe(sigmoid(m(0) + m(1)));
    expect(out[1]).toBe(sigmoid(m(0) + m(2)));
    expect(out[2]).toBe(sigmoid(2 * m(1)));
  });

  test('one draw of θ per decision is shared by all candidates', () => {
    const p = trained('diagonal');
    const out = sample(p, [vec([[1, 1], [7, 1]]), vec([[1, 2], [7, 2]]), vec([[1, 1], [7, 1]])], 11);
    expect(out[2]).toBe(out[0]);
    expect(logit(out[1]!)).toBeCloseTo(2 * logit(out[0]!), 10);
  });

  test('unseen dimensions are drawn from the prior, scaled by the temperature', () => {
    // One unseen weight, value 1: logit ~ N(0, T·τ²). Sample variance of n = 4000 draws has a
    // relative sd of √(2/n) ≈ 2.2%, so 10% is > 4 sd.
    for (const [tau2, T] of [
      [1, 1],
      [0.5, 4],
    ] as const) {
      const p = createLogistic(cfg({ priorVariance: tau2 }));
      const rng = createRng(`prior-${T}`);
      const out = new Float64Array(1);
      let s = 0;
      let s2 = 0;
      const n = 4000;
      for (let k = 0; k < n; k++) {
        p.sample(decision([vec([[4, 1]])]), rng, out, T);
        const z = logit(out[0]!);
        s += z;
        s2 += z * z;
      }
      const variance = s2 / n - (s / n) ** 2;
      expect(variance / (tau2 * T)).toBeGreaterThan(0.9);
      expect(variance / (tau2 * T)).toBeLessThan(1.1);
    }
  });

  test.each(['diagonal', 'full'] as const)('%s: the draw has the posterior mean and variance of the logit', (covariance) => {
    const p = trained(covariance);
    const x = vec([[0, 1], [1, 1]]);
    const st = state(p);
    const mu = st.mean[st.dims.indexOf(0)]! + st.mean[st.dims.indexOf(1)]!;
    // s² from summarize's sd is not the logit variance; recover it from the diagonal / block.
    let s2: number;
    if (covariance === 'diagonal') {
      s2 = 1 / st.precision[st.dims.indexOf(0)]! + 1 / st.precision[st.dims.indexOf(1)]!;
    } else {
      const P = blockPrecision(st); // block over dims [0, 1, 2]
      const n = P.length;
      // Solve P·u = x by Gaussian elimination (tiny, test-only).
      const A = P.map((r, i) => [...r, i < 2 ? 1 : 0]);
      for (let c = 0; c < n; c++) {
        for (let r = c + 1; r < n; r++) {
          const f = A[r]![c]! / A[c]![c]!;
          for (let k = c; k <= n; k++) A[r]![k]! -= f * A[c]![k]!;
        }
      }
      const u = new Array<number>(n).fill(0);
      for (let r = n - 1; r >= 0; r--) {
        let s = A[r]![n]!;
        for (let k = r + 1; k < n; k++) s -= A[r]![k]! * u[k]!;
        u[r] = s / A[r]![r]!;
      }
      s2 = u[0]! + u[1]!;
    }
    const rng = createRng(`draws-${covariance}`);
    const out = new Float64Array(1);
    const n = 4000;
    let s = 0;
    let sq = 0;
    for (let k = 0; k < n; k++) {
      p.sample(decision([x]), rng, out, 1);
      const z = logit(out[0]!);
      s += z;
      sq += z * z;
    }
    const m = s / n;
    // Mean within 5 standard errors; variance within 15% (relative sd √(2/n) ≈ 2.2%).
    expect(Math.abs(m - mu)).toBeLessThan(5 * Math.sqrt(s2 / n));
    expect((sq / n - m * m) / s2).toBeGreaterThan(0.85);
    expect((sq / n - m * m) / s2).toBeLessThan(1.15);
  });

  test('rejects a negative temperature and a short output', () => {
    const p = trained('diagonal');
    expect(() => p.sample(decision(arms), createRng(1), new Float64Array(3), -1)).toThrow(RangeError);
    expect(() => p.sample(decision(arms), createRng(1), new Float64Array(3), NaN)).toThrow(RangeError);
    expect(() => p.sample(decision(arms), createRng(1), new Float64Array(2), 1)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  test('a fresh policy predicts σ(0) = 1/2 with the prior sd; an empty vector is certain', () => {
    const p = createLogistic(cfg({ priorVariance: 2 }));
    const s = summarize(p, [vec([[1, 1], [2, 1]]), vec([])]);
    expect(s.mean).toEqual([0.5, 0.5]);
    expect(s.sd[0]).toBe(probitSd(0, 4));
    expect(s.sd[1]).toBe(0);
  });

  test('uses the probit approximation σ(μ/√(1 + πs²/8)) with μ = xᵀm, s² = xᵀΣx', () => {
    const p = createLogistic(cfg());
    p.update(outcome(vec([[0, 1], [3, 2]])), 1, 1);
    const x = vec([[0, 2], [3, -1], [8, 1]]);
    const w0 = weight(p, 0);
    const w3 = weight(p, 3);
    const mu = 2 * w0.mean - w3.mean;
    const s2 = 4 / w0.precision + 1 / w3.precision + 1;
    const s = summarize(p, [x]);
    expect(s.mean[0]).toBeCloseTo(sigmoid(mu / Math.sqrt(1 + (Math.PI * s2) / 8)), 15);
    expect(s.sd[0]).toBeCloseTo(probitSd(mu, s2), 15);
  });

  test.each([
    [0, 1],
    [1.5, 0.3],
    [-2, 4],
    [0.5, 25],
  ])('probitSd(%d, %d) is sd[Φ(λz)] exactly and sd[σ(z)] to 0.01', (mu, s2) => {
    // Brute-force quadrature over z ~ N(μ, s²), with an erf-free Φ by Simpson on [−12, t].
    const Phi = (t: number): number => {
      const lo = -12;
      const n = 2000;
      const h = (t - lo) / n;
      let s = 0;
      for (let k = 0; k <= n; k++) {
        const u = lo + k * h;
        const f = Math.exp((-u * u) / 2);
        s += k === 0 || k === n ? f : k % 2 === 1 ? 4 * f : 2 * f;
      }
      return (s * h) / 3 / Math.sqrt(2 * Math.PI);
    };
    const moments = (f: (z: number) => number): [number, number] => {
      let w = 0;
      let m1 = 0;
      let m2 = 0;
      for (let k = -800; k <= 800; k++) {
        const u = k / 100;
        const g = Math.exp((-u * u) / 2);
        const v = f(mu + Math.sqrt(s2) * u);
        w += g;
        m1 += g * v;
        m2 += g * v * v;
      }
      return [m1 / w, Math.sqrt(m2 / w - (m1 / w) ** 2)];
    };
    const lambda = Math.sqrt(Math.PI / 8);
    const [, sdProbit] = moments((z) => Phi(lambda * z));
    const [meanLogistic, sdLogistic] = moments(sigmoid);
    expect(probitSd(mu, s2)).toBeCloseTo(sdProbit, 6);
    expect(Math.abs(probitSd(mu, s2) - sdLogistic)).toBeLessThan(0.01);
    // The probit mean approximation is within 0.02 of E[σ(z)] (MacKay 1992).
    expect(Math.abs(probitMean(mu, s2) - meanLogistic)).toBeLessThan(0.02);
  });

  test('probitSd is 0 without uncertainty and tends to 1/2 (a coin) with a vague logit', () => {
    expect(probitSd(1, 0)).toBe(0);
    expect(probitSd(0, 1e8)).toBeCloseTo(0.5, 3);
  });
});

describe('decay', () => {
  test('diagonal: q ← γq + (1 − γ)q₀ and m ← γm', () => {
    const p = createLogistic(cfg({ priorVariance: 2 }));
    p.update(outcome(vec([[0, 1], [3, 2]])), 1, 1);
    const before = state(p);
    p.decay(0.5);
    const after = state(p);
    expect(after.dims).toEqual(before.dims);
    after.mean.forEach((m, i) => expect(m).toBe(0.5 * before.mean[i]!));
    after.precision.forEach((q, i) => expect(q).toBe(0.5 * before.precision[i]! + 0.5 * 0.5));
  });

  test('full: P ← γP + (1 − γ)q₀·I', () => {
    const p = createLogistic(cfg({ covariance: 'full' }));
    p.update(outcome(vec([[0, 1], [3, 2]])), 1, 1);
    p.update(outcome(vec([[0, 1], [5, -1]])), 0, 1);
    const before = state(p);
    const P0 = blockPrecision(before);
    p.decay(0.25);
    const after = state(p);
    const P1 = blockPrecision(after);
    for (let i = 0; i < P0.length; i++) {
      for (let j = 0; j < P0.length; j++) {
        expect(P1[i]![j]).toBeCloseTo(0.25 * P0[i]![j]! + (i === j ? 0.75 : 0), 13);
      }
    }
    after.mean.forEach((m, i) => expect(m).toBe(0.25 * before.mean[i]!));
  });

  test('γ = 1 changes nothing; γ outside (0, 1] is rejected', () => {
    const p = createLogistic(cfg());
    p.update(outcome(vec([[0, 1]])), 1, 1);
    const before = JSON.stringify(p.snapshot());
    p.decay(1);
    expect(JSON.stringify(p.snapshot())).toBe(before);
    for (const g of [0, -0.5, 1.5, NaN]) expect(() => p.decay(g)).toThrow(RangeError);
  });
});

describe('snapshot', () => {
  test.each(['diagonal', 'full'] as const)('%s: a JSON round trip restores bit-identical samples and state', (covariance) => {
    const config = cfg({ covariance, maxDenseDims: 3 });
    const p = createLogistic(config);
    const rng = createRng('history');
    for (let t = 0; t < 50; t++) {
      const x = vec([
        [rng.int(8), rng.normal()],
        [8 + rng.int(8), 1],
      ]);
      p.update(outcome(x), rng.uniform() < 0.5 ? 1 : 0, 0.5 + rng.uniform());
    }
    p.decay(0.9);
    const snap = JSON.parse(JSON.stringify(p.snapshot())) as PolicySnapshot;
    const q = createLogistic(config, snap);
    expect(JSON.stringify(q.snapshot())).toBe(JSON.stringify(snap));
    const arms = [vec([[1, 1], [9, 1]]), vec([[2, -1], [12, 1]]), vec([[30, 1], [3, 0.5]])];
    for (const seed of [1, 2, 3]) expect(sample(q, arms, seed)).toEqual(sample(p, arms, seed));
    expect(summarize(q, arms)).toEqual(summarize(p, arms));
    // And they keep learning identically.
    p.update(outcome(arms[0]!), 1, 1);
    q.update(outcome(arms[0]!), 1, 1);
    expect(JSON.stringify(q.snapshot())).toBe(JSON.stringify(p.snapshot()));
    expect(state(p).dense.length).toBe(covariance === 'full' ? 3 : 0);
  });

  test.each<[string, (s: PolicySnapshot) => PolicySnapshot, Partial<LogisticConfigInput>]>([
    ['another kind', (s) => ({ ...s, kind: 'beta-bernoulli' }), {}],
    ['another format', (s) => ({ ...s, format: 2 }), {}],
    ['a covariance mismatch', (s) => s, { covariance: 'full' }],
    ['mismatched lengths', (s) => ({ ...s, state: { ...(s.state as LogisticState), mean: [] } }), {}],
    ['a zero precision', (s) => ({ ...s, state: { ...(s.state as LogisticState), precision: [0] } }), {}],
    ['a malformed state', (s) => ({ ...s, state: { dims: 'x' } }), {}],
  ])('rejects %s', (_name, mutate, over) => {
    const p = createLogistic(cfg());
    p.update(outcome(vec([[4, 1]])), 1, 1);
    const snap = mutate(p.snapshot());
    expect(() => createLogistic(cfg(over), snap)).toThrow();
  });
});

describe('describe', () => {
  test('reports sizes and the largest weights', () => {
    const p = createLogistic(cfg({ covariance: 'full', maxDenseDims: 1 }));
    p.update(outcome(vec([[0, 1], [3, 2]])), 1, 1);
    const d = p.describe();
    expect(d).toMatchObject({ kind: 'logistic', covariance: 'full', seenDims: 2, denseDims: 1 });
    const top = d['topWeights'] as { index: number; mean: number; sd: number }[];
    expect(top.map((t) => t.index)).toEqual([3, 0]);
    expect(top[0]!.sd).toBeCloseTo(1 / Math.sqrt(weight(p, 3).precision), 15);
  });
});

describe('logisticConfigSchema', () => {
  test('defaults', () => {
    expect(logisticConfigSchema.parse({ kind: 'logistic' })).toEqual({
      kind: 'logistic',
      priorVariance: 1,
      covariance: 'diagonal',
      maxDenseDims: 128,
      newtonSteps: 1,
    });
  });

  test.each([
    ['kind', { kind: 'logit' }],
    ['priorVariance', { priorVariance: 0 }],
    ['priorVariance', { priorVariance: -1 }],
    ['priorVariance', { priorVariance: Infinity }],
    ['covariance', { covariance: 'dense' }],
    ['maxDenseDims', { maxDenseDims: 0 }],
    ['maxDenseDims', { maxDenseDims: 2.5 }],
    ['maxDenseDims', { maxDenseDims: 5000 }],
    ['newtonSteps', { newtonSteps: 0 }],
    ['newtonSteps', { newtonSteps: 21 }],
    ['newtonSteps', { newtonSteps: 1.5 }],
  ])('rejects a bad %s', (field, input) => {
    const r = logisticConfigSchema.safeParse({ kind: 'logistic', ...input });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path[0]).toBe(field);
  });

  test('rejects unknown fields', () => {
    const r = logisticConfigSchema.safeParse({ kind: 'logistic', priorVar: 1 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.code).toBe('unrecognized_keys');
  });
});
