import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import {
  directMethodInputs,
  dm,
  dr,
  fitLogistic,
  fitRidge,
  loggedActionFeatures,
  OpeInputError,
  type ActionFeatureLog,
} from '../../../src/ope/index.js';

const f64 = (...values: number[]): Float64Array => Float64Array.from(values);

describe('fitRidge', () => {
  test('recovers the exact coefficients of noiseless data with λ = 0', () => {
    // y = 0.5 − 2·x1 + 3·x2, with a bias column
    const beta = [0.5, -2, 3];
    const rows = [
      [1, 0, 0],
      [1, 1, 0],
      [1, 0, 1],
      [1, 2, -1],
      [1, -1.5, 0.25],
      [1, 3, 2],
    ];
    const X = f64(...rows.flat());
    const y = f64(...rows.map((r) => r.reduce((s, v, j) => s + v * beta[j]!, 0)));
    const model = fitRidge(X, y, 0);
    expect([model.dimension, model.iterations, model.converged]).toEqual([3, 0, true]);
    beta.forEach((b, j) => expect(model.coefficients[j]).toBeCloseTo(b, 12));
    expect(model(f64(1, 10, -10))).toBeCloseTo(0.5 - 20 - 30, 10);
  });

  test('shrinks as the closed form Σxy / (Σx² + λ) in one dimension', () => {
    // x = [1, 2, 3], y = [1, 2, 2]: Σxy = 11, Σx² = 14 → β = 11 / 15 with λ = 1
    const model = fitRidge(f64(1, 2, 3), f64(1, 2, 2), 1);
    expect(model.coefficients[0]).toBeCloseTo(11 / 15, 12);
  });

  test('collinear columns with λ = 0 are reported, λ > 0 fixes them', () => {
    const X = f64(1, 2, 2, 4, 3, 6); // second column = 2 × first
    const y = f64(1, 2, 3);
    expect(() => fitRidge(X, y, 0)).toThrow(expect.objectContaining({ field: 'lambda' }));
    // the minimum-penalty solution puts β ∝ (1, 2): β = (Σ x·y)(1, 2) / (5 Σx² + λ) with x = first column
    const model = fitRidge(X, y, 0.5);
    expect(model.coefficients[0]).toBeCloseTo(14 / (5 * 14 + 0.5), 12);
    expect(model.coefficients[1]).toBeCloseTo(28 / (5 * 14 + 0.5), 12);
  });

  test.each<[string, string, () => unknown]>([
    ['X not a multiple of n', 'X', () => fitRidge(f64(1, 2, 3), f64(1, 2), 0)],
    ['NaN in X', 'X', () => fitRidge(f64(1, NaN), f64(1, 2), 0)],
    ['NaN target', 'y', () => fitRidge(f64(1, 2), f64(1, NaN), 0)],
    ['negative λ', 'lambda', () => fitRidge(f64(1, 2), f64(1, 2), -1)],
    ['predictor row length', 'x', () => fitRidge(f64(1, 2), f64(1, 2), 0)(f64(1, 2))],
  ])('%s → %s', (_case, field, call) => {
    expect(call).toThrow(expect.objectContaining({ name: 'OpeInputError', field }));
  });
});

describe('fitLogistic', () => {
  test('an intercept-only fit matches the log-odds of the mean exactly', () => {
    // y = [1, 1, 0], λ = 0: p = 2/3, β = log(2)
    const model = fitLogistic(f64(1, 1, 1), f64(1, 1, 0), 0);
    expect(model.coefficients[0]).toBeCloseTo(Math.log(2), 10);
    expect(model(f64(1))).toBeCloseTo(2 / 3, 10);
  });

  test('recovers the sign and size of the coefficients of seeded synthetic data', () => {
    // n = 4000, x ~ N(0, 1)²: the MLE's standard errors are ≈ 1/√(n·E[p(1−p)x²]) ≈ 0.04, so
    // ± 0.25 is about 6 standard errors.
    const truth = [-0.5, 1.5, -1];
    const n = 4000;
    const d = truth.length;
    const rng = createRng('logistic');
    const X = new Float64Array(n * d);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      X[i * d] = 1;
      X[i * d + 1] = rng.normal();
      X[i * d + 2] = rng.normal();
      let eta = 0;
      for (let j = 0; j < d; j++) eta += X[i * d + j]! * truth[j]!;
      y[i] = rng.uniform() < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
    }
    const model = fitLogistic(X, y, 1e-3, 50);
    expect(model.converged).toBe(true);
    expect(model.iterations).toBeLessThan(15); // Newton converges quadratically
    truth.forEach((b, j) => {
      expect(Math.sign(model.coefficients[j]!)).toBe(Math.sign(b));
      expect(Math.abs(model.coefficients[j]! - b)).toBeLessThan(0.25);
    });
    const p = model(f64(1, 0, 0));
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1);
  });

  test('separable data stay finite with λ > 0 and fail clearly with λ = 0', () => {
    const X = f64(1, -2, 1, -1, 1, 1, 1, 2);
    const y = f64(0, 0, 1, 1);
    const model = fitLogistic(X, y, 0.1);
    expect(Number.isFinite(model.coefficients[1]!)).toBe(true);
    expect(model.coefficients[1]!).toBeGreaterThan(0);
    expect(model.converged).toBe(true);
    // λ = 0: the coefficients run off; a short fit says it did not converge, a long one that
    // the Hessian became singular (p(1 − p) underflows).
    const short = fitLogistic(X, y, 0, 10);
    expect(short.converged).toBe(false);
    expect(short.iterations).toBe(10);
    expect(() => fitLogistic(X, y, 0, 200)).toThrow(OpeInputError);
  });

  test.each<[string, string, () => unknown]>([
    ['label above 1', 'y', () => fitLogistic(f64(1, 1), f64(1, 2), 1)],
    ['zero iterations', 'iters', () => fitLogistic(f64(1, 1), f64(1, 0), 1, 0)],
    ['infinite λ', 'lambda', () => fitLogistic(f64(1, 1), f64(1, 0), Infinity)],
  ])('%s → %s', (_case, field, call) => {
    expect(call).toThrow(expect.objectContaining({ name: 'OpeInputError', field }));
  });
});

describe('directMethodInputs', () => {
  // n = 2 rounds, K = 2 actions, d = 1 feature; model q̂(x) = 2x.
  //   features φ(x_i, a): round 0 → [0.1, 0.3], round 1 → [0.2, 0.4]
  //   target π_e: round 0 → [0.25, 0.75], round 1 → [1, 0]; logged actions [1, 1]
  //   q̂: round 0 → [0.2, 0.6], round 1 → [0.4, 0.8]
  //   estimatedReward = [0.6, 0.8]; estimatedTargetValue = [0.25·0.2 + 0.75·0.6, 0.4] = [0.5, 0.4]
  //   targetProbability = [0.75, 0]
  const actionLog: ActionFeatureLog = {
    actions: 2,
    features: f64(0.1, 0.3, 0.2, 0.4),
    targetPolicy: f64(0.25, 0.75, 1, 0),
    loggedAction: Int32Array.from([1, 1]),
  };
  const model = (x: Float64Array): number => 2 * x[0]!;

  test('builds the reward-model columns by hand-computed values', () => {
    const out = directMethodInputs(actionLog, model);
    [0.6, 0.8].forEach((v, i) => expect(out.estimatedReward[i]).toBeCloseTo(v, 12));
    [0.5, 0.4].forEach((v, i) => expect(out.estimatedTargetValue[i]).toBeCloseTo(v, 12));
    expect([...out.targetProbability]).toEqual([0.75, 0]);
  });

  test('feeds DM and DR directly', () => {
    const columns = directMethodInputs(actionLog, model);
    const log = { reward: f64(1, 0), propensity: f64(0.5, 0.5), ...columns };
    // DM = (0.5 + 0.4)/2; DR adds w·(r − q̂) = [1.5·0.4, 0] → (0.9 + 0.6)/2
    expect(dm(log).value).toBeCloseTo(0.45, 12);
    expect(dr(log).value).toBeCloseTo(0.75, 12);
  });

  test('loggedActionFeatures picks the logged rows for fitting', () => {
    expect([...loggedActionFeatures(actionLog)]).toEqual([0.3, 0.4]);
  });

  test.each<[string, string, Partial<ActionFeatureLog>]>([
    ['zero actions', 'actions', { actions: 0 }],
    ['logged action out of range', 'loggedAction', { loggedAction: Int32Array.from([1, 2]) }],
    ['features not a multiple of n·K', 'features', { features: f64(0.1, 0.3, 0.2) }],
    ['policy row not summing to 1', 'targetPolicy', { targetPolicy: f64(0.25, 0.5, 1, 0) }],
    ['policy probability above 1', 'targetPolicy', { targetPolicy: f64(1.5, -0.5, 1, 0) }],
  ])('%s → %s', (_case, field, patch) => {
    expect(() => directMethodInputs({ ...actionLog, ...patch }, model)).toThrow(
      expect.objectContaining({ name: 'OpeInputError', field }),
    );
  });
});
