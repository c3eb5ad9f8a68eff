/**
 * Scalar maths of the Laplace-approximated logistic regression: the logistic function, the
 * predictive mean and sd of a click probability under a Gaussian logit (probit approximation),
 * and the one-dimensional Newton step that the online update reduces to.
 */

/** λ² = π/8: σ(z) ≈ Φ(λz) (MacKay 1992; Bishop 2006, §4.5.2). */
const LAMBDA2 = Math.PI / 8;
const LAMBDA = Math.sqrt(LAMBDA2);

/** Simpson panels for the variance integral (even). */
const SIMPSON_PANELS = 32;

/** Logistic function σ(z) = 1/(1 + e^−z), computed without overflow for any finite z. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * Predictive click probability E[σ(z)] for z ~ N(μ, s²), by the probit approximation
 * (MacKay 1992): σ(μ / √(1 + π·s²/8)).
 * @param mu mean of the logit
 * @param s2 variance of the logit, ≥ 0
 */
export function probitMean(mu: number, s2: number): number {
  return sigmoid(mu / Math.sqrt(1 + LAMBDA2 * s2));
}

/**
 * Predictive sd of the click probability, sd[Φ(λz)] for z ~ N(μ, s²), the same approximation
 * σ(z) ≈ Φ(λz) as {@link probitMean}, evaluated without further approximation:
 *
 * With X₁, X₂ iid N(0, 1), E[Φ(λz)²] = P(X₁ ≤ λz, X₂ ≤ λz) = Φ₂(a, a; ρ) where
 * a = λμ/√(1 + λ²s²) and ρ = λ²s²/(1 + λ²s²). Owen's identity Φ₂(h, h; ρ) = Φ(h) − 2T(h, r),
 * r = √((1 − ρ)/(1 + ρ)) = 1/√(1 + 2λ²s²), with T(h, 1) = Φ(h)Φ(−h)/2, gives
 *
 *   Var = Φ(a)Φ(−a) − 2T(a, r) = (1/π) ∫_r^1 exp(−a²(1 + t²)/2) / (1 + t²) dt,
 *
 * a smooth integral over a sub-interval of [0, 1] (Simpson, 32 panels). It is 0 at s = 0 and
 * tends to 1/4 as s → ∞ (a coin), unlike the delta method p(1 − p)·s, which is unbounded.
 * Reference: Owen 1956, "Tables for computing bivariate normal probabilities".
 * @param mu mean of the logit
 * @param s2 variance of the logit, ≥ 0
 * @returns the sd, in [0, 1/2]
 */
export function probitSd(mu: number, s2: number): number {
  if (!(s2 > 0)) return 0;
  const a = (LAMBDA * mu) / Math.sqrt(1 + LAMBDA2 * s2);
  const r = 1 / Math.sqrt(1 + 2 * LAMBDA2 * s2);
  const half = (a * a) / 2;
  const h = (1 - r) / SIMPSON_PANELS;
  let sum = 0;
  for (let k = 0; k <= SIMPSON_PANELS; k++) {
    const t = r + k * h;
    const u = 1 + t * t;
    const f = Math.exp(-half * u) / u;
    sum += k === 0 || k === SIMPSON_PANELS ? f : k % 2 === 1 ? 4 * f : 2 * f;
  }
  const variance = (sum * h) / 3 / Math.PI;
  return Math.sqrt(Math.max(0, Math.min(0.25, variance)));
}

/**
 * The step length of the online Laplace update along the direction Σx.
 *
 * One weighted observation (x, r, w) on a Gaussian prior N(m, Σ) has the MAP objective
 * ½(θ − m)ᵀΣ⁻¹(θ − m) − w[r·log σ(xᵀθ) + (1 − r)·log(1 − σ(xᵀθ))], whose stationarity condition
 * Σ⁻¹(θ − m) = −w(σ(xᵀθ) − r)·x puts the mode on the line θ = m + α·Σx. With μ = xᵀm and
 * v = xᵀΣx the problem is one-dimensional: g(α) = α + w(σ(μ + αv) − r) = 0, g′ = 1 + w·p(1 − p)·v.
 * Newton on g from α = 0 gives exactly the iterates of Newton's method on the full objective.
 * One step: α = −w(σ(μ) − r) / (1 + w·σ(μ)(1 − σ(μ))·v).
 *
 * @param mu xᵀm
 * @param v xᵀΣx ≥ 0
 * @param weight w (> 0 for the forward step)
 * @param reward r in [0, 1]
 * @param steps Newton steps (≥ 1)
 */
export function newtonAlpha(mu: number, v: number, weight: number, reward: number, steps: number): number {
  let alpha = 0;
  for (let k = 0; k < steps; k++) {
    const p = sigmoid(mu + alpha * v);
    const g = alpha + weight * (p - reward);
    const gp = 1 + weight * p * (1 - p) * v;
    alpha -= g / gp;
  }
  return alpha;
}

/**
 * Invert the mean part of a forward step: find μ with μ + v·A(μ) = μ′, where A is
 * {@link newtonAlpha} at (μ, v, w, r, steps), and return that step's α — so the caller can undo
 * `m′ = m + α·Σx` exactly when the step being undone was the last one.
 *
 * Starts from the exact inverse of a converged step, μ₀ = μ′ + v·w(σ(μ′) − r) (at the mode,
 * α = −w(σ(μ′) − r)), and refines by the secant method; returns the starting point's α if the
 * refinement does not converge (the map need not be monotone for large w·v).
 */
export function inverseAlpha(muAfter: number, v: number, weight: number, reward: number, steps: number): number {
  const F = (mu: number): number => mu + v * newtonAlpha(mu, v, weight, reward, steps) - muAfter;
  const tol = 4 * Number.EPSILON * (1 + Math.abs(muAfter));
  const mu0 = muAfter + v * weight * (sigmoid(muAfter) - reward);
  let x0 = mu0;
  let f0 = F(x0);
  if (Math.abs(f0) <= tol) return newtonAlpha(x0, v, weight, reward, steps);
  let x1 = x0 - f0; // F′ ≈ 1 for small w·v
  let f1 = F(x1);
  for (let it = 0; it < 100 && Math.abs(f1) > tol; it++) {
    const den = f1 - f0;
    if (den === 0 || !Number.isFinite(den)) break;
    const x2 = x1 - (f1 * (x1 - x0)) / den;
    x0 = x1;
    f0 = f1;
    x1 = x2;
    f1 = F(x1);
  }
  if (!Number.isFinite(f1) || Math.abs(f1) > Math.max(1e-9, tol)) x1 = mu0;
  return newtonAlpha(x1, v, weight, reward, steps);
}
