/**
 * Small dense reward models for the direct method and doubly robust estimation: ridge
 * regression and L2-regularised logistic regression, fitted on a row-major design matrix with
 * a dense d×d solve (d small, up to a few hundred). Plus the glue that turns a reward model and
 * the target policy's action probabilities into the DM/DR inputs of a {@link LoggedBandit}.
 */
import { OpeInputError } from './errors.js';
import type { LoggedBandit } from './estimators.js';
import { checkFloat64, checkRecord } from './validate.js';

/**
 * A fitted model as a function of one feature row x (length d): ridge returns xᵀβ, logistic
 * σ(xᵀβ). `coefficients` is β (length d; read-only by convention); `iterations` the Newton
 * steps taken (0 for ridge's closed form) and `converged` whether the fit met its tolerance.
 */
export type RewardModel = ((x: Float64Array) => number) & {
  readonly coefficients: Float64Array;
  readonly dimension: number;
  readonly iterations: number;
  readonly converged: boolean;
};

/**
 * Ridge regression: β = argmin ‖y − Xβ‖² + λ‖β‖², solved from the normal equations
 * (XᵀX + λI) β = Xᵀy by Cholesky. There is no separate intercept: add a constant column to X
 * (it is penalised like the others; with a small λ that hardly matters).
 *
 * @param X n×d design matrix, row-major (row i at X[i·d .. i·d + d)); d = X.length / n
 * @param y n finite targets
 * @param lambda λ ≥ 0; λ = 0 is ordinary least squares and needs XᵀX positive definite
 * @returns the predictor x ↦ xᵀβ
 * @throws OpeInputError (fields `X`, `y`, `lambda`) on invalid input or a singular system
 * Reference: A. E. Hoerl & R. W. Kennard, "Ridge regression", Technometrics 1970.
 */
export function fitRidge(X: Float64Array, y: Float64Array, lambda: number): RewardModel {
  const { n, d } = checkDesign(X, y, 'finite');
  checkLambda(lambda);
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  gram(X, n, d, null, a);
  for (let i = 0; i < n; i++) {
    const yi = y[i]!;
    const row = i * d;
    for (let j = 0; j < d; j++) b[j]! += X[row + j]! * yi;
  }
  for (let j = 0; j < d; j++) a[j * d + j]! += lambda;
  if (!choleskyInPlace(a, d)) {
    throw new OpeInputError('lambda', `XᵀX + λI is not positive definite (collinear columns?); use lambda > 0`);
  }
  choleskySolveInPlace(a, d, b);
  return makeModel(b, (eta) => eta, 0, true);
}

/**
 * L2-regularised logistic regression for rewards in [0, 1] (clicks, or click rates):
 * β = argmin Σᵢ [log(1 + e^{ηᵢ}) − yᵢ ηᵢ] + (λ/2)‖β‖², ηᵢ = xᵢᵀβ, by Newton's method
 * (iteratively reweighted least squares): β ← β − s·H⁻¹g with g = Xᵀ(p − y) + λβ,
 * H = Xᵀ diag(p(1 − p)) X + λI, p = σ(η), halving the step s until the objective decreases.
 * Stops when the largest coefficient change is below 1e-10·(1 + max|β|) (`converged`), or after
 * `iters` steps (`converged` false: e.g. separable data with λ = 0, where β diverges).
 *
 * @param X n×d design matrix, row-major; include a constant column for an intercept
 * @param y n targets in [0, 1]
 * @param lambda λ ≥ 0; with separable data the λ = 0 optimum does not exist, so use λ > 0
 * @param iters maximum Newton steps (integer ≥ 1, default 50)
 * @returns the predictor x ↦ σ(xᵀβ) = 1 / (1 + e^{−xᵀβ})
 * @throws OpeInputError (fields `X`, `y`, `lambda`, `iters`) on invalid input or a singular Hessian
 * Reference: P. McCullagh & J. A. Nelder, "Generalized Linear Models" (1989), §2.5 (IRLS).
 */
export function fitLogistic(X: Float64Array, y: Float64Array, lambda: number, iters = 50): RewardModel {
  const { n, d } = checkDesign(X, y, 'probability');
  checkLambda(lambda);
  if (!Number.isInteger(iters) || iters < 1) throw new OpeInputError('iters', `must be an integer >= 1, got ${iters}`);
  const beta = new Float64Array(d);
  const trial = new Float64Array(d);
  const eta = new Float64Array(n);
  const weight = new Float64Array(n);
  const h = new Float64Array(d * d);
  const g = new Float64Array(d);
  linearPredictors(X, n, d, beta, eta);
  let loss = logisticLoss(eta, y, beta, lambda);
  let iterations = 0;
  let converged = false;
  for (let iter = 0; iter < iters; iter++) {
    g.fill(0);
    for (let i = 0; i < n; i++) {
      const p = sigmoid(eta[i]!);
      weight[i] = p * (1 - p);
      const residual = p - y[i]!;
      const row = i * d;
      for (let j = 0; j < d; j++) g[j]! += X[row + j]! * residual;
    }
    for (let j = 0; j < d; j++) g[j]! += lambda * beta[j]!;
    gram(X, n, d, weight, h);
    for (let j = 0; j < d; j++) h[j * d + j]! += lambda;
    if (!choleskyInPlace(h, d)) {
      throw new OpeInputError('lambda', 'the Hessian is singular (separable data or collinear columns?); use lambda > 0');
    }
    choleskySolveInPlace(h, d, g); // g now holds the Newton direction H⁻¹g
    let step = 1;
    let accepted = false;
    let trialLoss = loss;
    // Step halving: Newton on the logistic loss can overshoot far from the optimum.
    for (let halvings = 0; halvings < 40; halvings++) {
      for (let j = 0; j < d; j++) trial[j] = beta[j]! - step * g[j]!;
      linearPredictors(X, n, d, trial, eta);
      trialLoss = logisticLoss(eta, y, trial, lambda);
      if (trialLoss <= loss + 1e-12 * Math.abs(loss)) {
        accepted = true;
        break;
      }
      step /= 2;
    }
    if (!accepted) {
      // No decrease even for a tiny step: β is optimal to rounding.
      converged = true;
      break;
    }
    iterations++;
    let change = 0;
    let size = 0;
    for (let j = 0; j < d; j++) {
      change = Math.max(change, Math.abs(trial[j]! - beta[j]!));
      size = Math.max(size, Math.abs(trial[j]!));
    }
    beta.set(trial);
    loss = trialLoss;
    if (change <= 1e-10 * (1 + size)) {
      converged = true;
      break;
    }
  }
  return makeModel(beta, sigmoid, iterations, converged);
}

/**
 * The logged rounds of a bandit with K actions per round, described by per-action feature rows.
 *
 * - `actions`: K ≥ 1;
 * - `features`: n×K×d row-major, φ(xᵢ, a) at features[(i·K + a)·d .. + d);
 * - `targetPolicy`: n×K row-major, π_e(a|xᵢ) in [0, 1], each row summing to 1 (±1e-6);
 *   actions unavailable at round i get probability 0;
 * - `loggedAction`: n indices aᵢ in [0, K).
 */
export interface ActionFeatureLog {
  readonly actions: number;
  readonly features: Float64Array;
  readonly targetPolicy: Float64Array;
  readonly loggedAction: Int32Array;
}

/** The reward-model columns of a {@link LoggedBandit}, plus the target probability of the logged action. */
export type DirectMethodInputs = Required<Pick<LoggedBandit, 'estimatedReward' | 'estimatedTargetValue' | 'targetProbability'>>;

/**
 * Evaluate a reward model q̂ on every round's actions:
 *
 *   estimatedReward_i = q̂(φ(xᵢ, aᵢ)),
 *   estimatedTargetValue_i = Σ_a π_e(a|xᵢ) q̂(φ(xᵢ, a)),
 *   targetProbability_i = π_e(aᵢ|xᵢ),
 *
 * ready to spread into a {@link LoggedBandit} with the logged rewards and propensities. Actions
 * with π_e(a|xᵢ) = 0 other than the logged one are not evaluated.
 * @throws OpeInputError (fields `actions`, `loggedAction`, `features`, `targetPolicy`) on invalid
 *   input
 */
export function directMethodInputs(log: ActionFeatureLog, rewardModel: (x: Float64Array) => number): DirectMethodInputs {
  const { n, K, d } = checkActionLog(log);
  const { features, targetPolicy, loggedAction } = log;
  const estimatedReward = new Float64Array(n);
  const estimatedTargetValue = new Float64Array(n);
  const targetProbability = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const logged = loggedAction[i]!;
    let value = 0;
    for (let a = 0; a < K; a++) {
      const pi = targetPolicy[i * K + a]!;
      if (pi === 0 && a !== logged) continue;
      const start = (i * K + a) * d;
      const q = rewardModel(features.subarray(start, start + d));
      if (!Number.isFinite(q)) throw new OpeInputError('rewardModel', `returned ${q} for round ${i}, action ${a}`);
      value += pi * q;
      if (a === logged) estimatedReward[i] = q;
    }
    estimatedTargetValue[i] = value;
    targetProbability[i] = targetPolicy[i * K + logged]!;
  }
  return { estimatedReward, estimatedTargetValue, targetProbability };
}

/**
 * The n×d design matrix of the logged actions' feature rows, φ(xᵢ, aᵢ), to fit a reward model
 * on the logged rewards (`fitRidge(loggedActionFeatures(log), reward, λ)`).
 * @throws OpeInputError as {@link directMethodInputs}
 */
export function loggedActionFeatures(log: ActionFeatureLog): Float64Array {
  const { n, K, d } = checkActionLog(log);
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const start = (i * K + log.loggedAction[i]!) * d;
    out.set(log.features.subarray(start, start + d), i * d);
  }
  return out;
}

function checkActionLog(log: ActionFeatureLog): { n: number; K: number; d: number } {
  const record = checkRecord('log', log);
  const K = record.actions;
  if (typeof K !== 'number' || !Number.isInteger(K) || K < 1) {
    throw new OpeInputError('actions', `must be an integer >= 1, got ${String(K)}`);
  }
  const logged = record.loggedAction;
  if (!(logged instanceof Int32Array)) throw new OpeInputError('loggedAction', 'must be an Int32Array');
  const n = logged.length;
  if (n < 1) throw new OpeInputError('loggedAction', 'needs at least one round');
  for (let i = 0; i < n; i++) {
    const a = logged[i]!;
    if (a < 0 || a >= K) throw new OpeInputError('loggedAction', `must be in [0, ${K}), got ${a}`, i);
  }
  const features = checkFloat64('features', record.features, 'finite');
  if (features.length % (n * K) !== 0) {
    throw new OpeInputError('features', `has length ${features.length}, not a multiple of n·K = ${n * K}`);
  }
  const policy = checkFloat64('targetPolicy', record.targetPolicy, 'probability', n * K);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let a = 0; a < K; a++) s += policy[i * K + a]!;
    if (Math.abs(s - 1) > 1e-6) throw new OpeInputError('targetPolicy', `row ${i} sums to ${s}, not 1`, i * K);
  }
  return { n, K, d: features.length / (n * K) };
}

function checkDesign(X: Float64Array, y: Float64Array, yRange: 'finite' | 'probability'): { n: number; d: number } {
  const n = checkFloat64('y', y, yRange).length;
  const x = checkFloat64('X', X, 'finite');
  if (x.length % n !== 0) throw new OpeInputError('X', `has length ${x.length}, not a multiple of n = ${n}`);
  return { n, d: x.length / n };
}

function checkLambda(lambda: number): void {
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new OpeInputError('lambda', `must be finite and >= 0, got ${lambda}`);
}

function makeModel(
  beta: Float64Array,
  link: (eta: number) => number,
  iterations: number,
  converged: boolean,
): RewardModel {
  const d = beta.length;
  const coefficients = Float64Array.from(beta);
  const predict = (x: Float64Array): number => {
    if (x.length !== d) throw new OpeInputError('x', `has length ${x.length}, expected ${d}`);
    let eta = 0;
    for (let j = 0; j < d; j++) eta += coefficients[j]! * x[j]!;
    return link(eta);
  };
  return Object.assign(predict, { coefficients, dimension: d, iterations, converged });
}

/** out ← Xᵀ diag(w) X (w = null: unit weights), both triangles filled. O(n·d²/2). */
function gram(X: Float64Array, n: number, d: number, w: Float64Array | null, out: Float64Array): void {
  out.fill(0);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    const wi = w ? w[i]! : 1;
    for (let j = 0; j < d; j++) {
      const xj = X[row + j]! * wi;
      if (xj === 0) continue;
      for (let k = j; k < d; k++) out[j * d + k]! += xj * X[row + k]!;
    }
  }
  for (let j = 0; j < d; j++) for (let k = j + 1; k < d; k++) out[k * d + j] = out[j * d + k]!;
}

function linearPredictors(X: Float64Array, n: number, d: number, beta: Float64Array, eta: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const row = i * d;
    for (let j = 0; j < d; j++) s += X[row + j]! * beta[j]!;
    eta[i] = s;
  }
}

/** Σ [softplus(η) − yη] + (λ/2)‖β‖², with softplus(η) = log(1 + e^η) computed without overflow. */
function logisticLoss(eta: Float64Array, y: Float64Array, beta: Float64Array, lambda: number): number {
  let loss = 0;
  for (let i = 0; i < eta.length; i++) {
    const e = eta[i]!;
    const softplus = e > 0 ? e + Math.log1p(Math.exp(-e)) : Math.log1p(Math.exp(e));
    loss += softplus - y[i]! * e;
  }
  let norm = 0;
  for (let j = 0; j < beta.length; j++) norm += beta[j]! * beta[j]!;
  return loss + 0.5 * lambda * norm;
}

function sigmoid(eta: number): number {
  if (eta >= 0) return 1 / (1 + Math.exp(-eta));
  const e = Math.exp(eta);
  return e / (1 + e);
}

/**
 * In-place Cholesky A = LLᵀ of a symmetric d×d matrix (row-major); L is left in the lower
 * triangle. Returns false when a pivot is not safely positive (relative to the largest diagonal
 * entry), i.e. A is not numerically positive definite.
 */
function choleskyInPlace(a: Float64Array, d: number): boolean {
  let maxDiag = 0;
  for (let j = 0; j < d; j++) maxDiag = Math.max(maxDiag, Math.abs(a[j * d + j]!));
  const tiny = maxDiag * d * Number.EPSILON;
  for (let j = 0; j < d; j++) {
    let pivot = a[j * d + j]!;
    for (let k = 0; k < j; k++) pivot -= a[j * d + k]! * a[j * d + k]!;
    if (!(pivot > tiny)) return false;
    const ljj = Math.sqrt(pivot);
    a[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = s / ljj;
    }
  }
  return true;
}

/** Solve (LLᵀ) x = b in place (b becomes x), L from {@link choleskyInPlace}. */
function choleskySolveInPlace(l: Float64Array, d: number, b: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * d + k]! * b[k]!;
    b[i] = s / l[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * b[k]!;
    b[i] = s / l[i * d + i]!;
  }
}
