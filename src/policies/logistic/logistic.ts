/**
 * `logistic`: Thompson sampling from an online Laplace-approximated Bayesian logistic regression
 * over the hashed joint vectors `arms[i]` (Chapelle & Li 2011, "An Empirical Evaluation of
 * Thompson Sampling", Algorithm 3; the online Gaussian update in the spirit of Spiegelhalter &
 * Lauritzen 1990).
 *
 * Model: click ~ Bernoulli(σ(xᵀθ)), prior θ ~ N(0, τ²·I). The posterior is kept Gaussian,
 * N(m, P⁻¹), over the dimensions seen in updates only (unseen ones are at the prior, so nothing
 * of size 2^bits — let alone (2^bits)² — is ever allocated):
 *
 * - `diagonal`: P = diag(q). This is Chapelle & Li's Algorithm 3.
 * - `full`: a dense block of P (as its Cholesky factor) over the first `maxDenseDims` dimensions
 *   seen, diagonal beyond. The rank-one terms of an update are applied inside the block and to
 *   the diagonal beyond it; the cross terms between the block and the diagonal dimensions are
 *   dropped (a block-diagonal Laplace approximation).
 *
 * Update with (x, r, w), w > 0, r clipped to [0, 1] (a fractional r is a soft label: the
 * cross-entropy r·log p + (1 − r)·log(1 − p); rewards above 1, e.g. a conversion value, count
 * as a click): Newton's method on the MAP objective from the current mean; its iterates stay on
 * the line m + α·Σx, so each step is scalar (see {@link newtonAlpha}); `newtonSteps` steps.
 * Then, at the new mean m′ and p′ = σ(xᵀm′), the Laplace precision P′ = P + w·p′(1 − p′)·xxᵀ
 * (diagonal: q_j += w·p′(1 − p′)·x_j²).
 *
 * Retraction (w < 0) applies the exact inverse of that step: P = P′ − |w|·p′(1 − p′)·xxᵀ with p′
 * evaluated at the current mean, then the mean that the forward step would have moved to m′
 * (a scalar root-find, {@link inverseAlpha}). It restores the posterior to rounding when the
 * outcome being retracted was the last one folded. Otherwise it is approximate — the Laplace
 * posterior depends on the order of the data, unlike conjugate sufficient statistics — and a
 * diagonal precision that would drop below the prior's q₀ is held there (updates and decay
 * never take it below q₀); a dense downdate that would not stay positive definite is skipped.
 *
 * Scores are click probabilities σ(xᵀθ) for one draw θ per decision (shared by all candidates);
 * `temperature` T scales the posterior covariance of the draw (T = 0: the mean, no draw).
 * `summarize` gives the predictive mean by the probit approximation and its sd (see
 * {@link probitMean}, {@link probitSd}).
 */
import {
  cholDowndate,
  cholesky,
  cholUpdate,
  lowerGram,
  NotPositiveDefiniteError,
  solveLower,
  solveUpperT,
} from '../../core/linalg.js';
import type { Rng } from '../../core/rng.js';
import type { DecisionFeatures, OutcomeFeatures, SparseVector } from '../../features/types.js';
import type { Policy, PolicySnapshot } from '../types.js';
import type { LogisticConfig } from './config.js';
import { inverseAlpha, newtonAlpha, probitMean, probitSd, sigmoid } from './math.js';
import { LOGISTIC_SNAPSHOT_FORMAT, readLogisticState, type LogisticState } from './state.js';

/** The `logistic` policy. Build it with {@link createLogistic}. */
export class LogisticPolicy implements Policy {
  readonly kind = 'logistic';
  private readonly config: LogisticConfig;
  private readonly q0: number;
  private readonly priorSd: number;
  private readonly full: boolean;
  private readonly ld: number;

  // Seen dimensions, one slot each (slot order = first-seen order, kept by snapshots).
  private readonly slotOf = new SlotIndex();
  private size = 0;
  private dims: Int32Array = new Int32Array(64);
  private mean: Float64Array = new Float64Array(64);
  /** Diagonal precision q_j; 0 for dimensions of the dense block. */
  private prec: Float64Array = new Float64Array(64);
  /** Position in the dense block, or −1. */
  private densePos: Int32Array = new Int32Array(64);
  private drawStamp: Int32Array = new Int32Array(64);
  private drawVal: Float64Array = new Float64Array(64);

  // Dense block of `full`: lower Cholesky factor of its precision, row stride ld = maxDenseDims.
  private readonly L: Float64Array;
  private nDense = 0;
  private readonly denseSlot: Int32Array;

  // Scratch.
  private readonly xd: Float64Array;
  private readonly yd: Float64Array;
  private readonly ud: Float64Array;
  private readonly work: Float64Array;
  private gram: Float64Array | undefined;
  private factor: Float64Array | undefined;
  private slots: Int32Array = new Int32Array(64);
  private stamp = 0;
  private readonly unseen = new Map<number, number>();

  constructor(config: LogisticConfig) {
    this.config = config;
    this.q0 = 1 / config.priorVariance;
    this.priorSd = Math.sqrt(config.priorVariance);
    this.full = config.covariance === 'full';
    const n = this.full ? config.maxDenseDims : 0;
    this.ld = n;
    this.L = new Float64Array(n * n);
    this.denseSlot = new Int32Array(n);
    this.xd = new Float64Array(n);
    this.yd = new Float64Array(n);
    this.ud = new Float64Array(n);
    this.work = new Float64Array(n);
  }

  /**
   * One posterior draw θ for the decision, scores σ(xᵀθ) into `out`. Weights of seen diagonal
   * dimensions are drawn lazily, the dense block at once (θ_D = m_D + √T·L⁻ᵀz), unseen
   * dimensions from the prior N(0, T·τ²); each dimension is drawn once per decision, in the
   * order the arms first touch it.
   * @throws RangeError when temperature is negative or not finite, or `out` is too short
   */
  sample(input: DecisionFeatures, rng: Rng, out: Float64Array, temperature: number): void {
    if (!(temperature >= 0) || !Number.isFinite(temperature)) {
      throw new RangeError(`temperature must be finite and >= 0, got ${temperature}`);
    }
    const arms = input.arms;
    if (out.length < arms.length) throw new RangeError(`out has ${out.length} entries, need ${arms.length}`);
    const scale = Math.sqrt(temperature);
    const cold = temperature === 0;
    this.nextStamp();
    const stamp = this.stamp;
    this.unseen.clear();
    const slotOf = this.slotOf;
    const mean = this.mean;
    const prec = this.prec;
    const densePos = this.densePos;
    const drawStamp = this.drawStamp;
    const drawVal = this.drawVal;
    for (let i = 0; i < arms.length; i++) {
      const x = arms[i]!;
      const idx = x.indices;
      const val = x.values;
      let z = 0;
      for (let j = 0; j < x.nnz; j++) {
        const d = idx[j]!;
        const s = slotOf.get(d);
        let theta: number;
        if (s < 0) {
          const t = this.unseen.get(d);
          if (t === undefined) {
            theta = cold ? 0 : scale * this.priorSd * rng.normal();
            this.unseen.set(d, theta);
          } else theta = t;
        } else if (drawStamp[s] === stamp) {
          theta = drawVal[s]!;
        } else if (densePos[s]! >= 0) {
          this.drawBlock(rng, scale, cold);
          theta = drawVal[s]!;
        } else {
          theta = cold ? mean[s]! : mean[s]! + (scale * rng.normal()) / Math.sqrt(prec[s]!);
          drawVal[s] = theta;
          drawStamp[s] = stamp;
        }
        z += theta * val[j]!;
      }
      out[i] = sigmoid(z);
    }
  }

  /**
   * Predictive mean E[σ(xᵀθ)] ≈ σ(μ/√(1 + πs²/8)) and its sd (see {@link probitSd}), with
   * μ = xᵀm and s² = xᵀΣx, per candidate.
   * @throws RangeError when `mean` or `sd` is too short
   */
  summarize(input: DecisionFeatures, mean: Float64Array, sd: Float64Array): void {
    const arms = input.arms;
    if (mean.length < arms.length || sd.length < arms.length) {
      throw new RangeError(`mean/sd have ${Math.min(mean.length, sd.length)} entries, need ${arms.length}`);
    }
    for (let i = 0; i < arms.length; i++) {
      const x = arms[i]!;
      let mu = 0;
      let s2 = 0;
      let dense = false;
      this.clearDenseScratch();
      for (let j = 0; j < x.nnz; j++) {
        const xv = x.values[j]!;
        const s = this.slotOf.get(x.indices[j]!);
        if (s < 0) {
          s2 += xv * xv * this.config.priorVariance;
          continue;
        }
        mu += this.mean[s]! * xv;
        const dp = this.densePos[s]!;
        if (dp >= 0) {
          this.xd[dp] = xv;
          dense = true;
        } else s2 += (xv * xv) / this.prec[s]!;
      }
      if (dense) s2 += this.blockQuadratic();
      mean[i] = probitMean(mu, s2);
      sd[i] = probitSd(mu, s2);
    }
  }

  /**
   * Fold one outcome (see the module comment). A negative weight retracts; weight 0 is a no-op.
   * @throws RangeError when reward or weight is not finite
   */
  update(x: OutcomeFeatures, reward: number, weight: number): void {
    if (!Number.isFinite(reward)) throw new RangeError(`reward must be finite, got ${reward}`);
    if (!Number.isFinite(weight)) throw new RangeError(`weight must be finite, got ${weight}`);
    if (weight === 0) return;
    const r = Math.min(1, Math.max(0, reward));
    const arm = x.arm;
    if (this.slots.length < arm.nnz) this.slots = new Int32Array(Math.max(arm.nnz, 2 * this.slots.length));
    for (let j = 0; j < arm.nnz; j++) this.slots[j] = this.ensureSlot(arm.indices[j]!);
    if (weight > 0) this.forward(arm, r, weight);
    else this.retract(arm, r, -weight);
  }

  /**
   * Forgetting toward the prior: P ← γP + (1 − γ)q₀·I (diagonal: q_j ← γq_j + (1 − γ)q₀) and
   * m ← γm, for every seen dimension. O(size), plus O(n³) to refactor a dense block of n dims.
   * @throws RangeError when γ is outside (0, 1]
   */
  decay(gamma: number): void {
    if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`decay gamma must be in (0, 1], got ${gamma}`);
    if (gamma === 1) return;
    const q0 = this.q0;
    for (let s = 0; s < this.size; s++) {
      this.mean[s] = gamma * this.mean[s]!;
      if (this.densePos[s]! < 0) this.prec[s] = gamma * this.prec[s]! + (1 - gamma) * q0;
    }
    const n = this.nDense;
    if (n === 0) return;
    const cap = this.ld * this.ld;
    this.gram ??= new Float64Array(cap);
    this.factor ??= new Float64Array(cap);
    const G = this.gram;
    const F = this.factor;
    lowerGram(this.L, n, G, this.ld);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) G[i * n + j] = gamma * G[i * n + j]!;
      G[i * n + i] = G[i * n + i]! + (1 - gamma) * q0;
    }
    cholesky(G, n, F);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) this.L[i * this.ld + j] = F[i * n + j]!;
    }
  }

  /** The learned state as JSON (see {@link LogisticState}); restoring it is bit-exact. */
  snapshot(): PolicySnapshot {
    const n = this.nDense;
    const chol: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) chol.push(this.L[i * this.ld + j]!);
    const state: LogisticState = {
      covariance: this.config.covariance,
      dims: Array.from(this.dims.subarray(0, this.size)),
      mean: Array.from(this.mean.subarray(0, this.size)),
      precision: Array.from(this.prec.subarray(0, this.size)),
      dense: Array.from(this.denseSlot.subarray(0, n), (s) => this.dims[s]!),
      chol,
    };
    return { kind: this.kind, format: LOGISTIC_SNAPSHOT_FORMAT, state };
  }

  /** Sizes and the ten weights largest in |mean|, with their posterior sd. */
  describe(): Record<string, unknown> {
    const order = Array.from({ length: this.size }, (_, s) => s).sort(
      (a, b) => Math.abs(this.mean[b]!) - Math.abs(this.mean[a]!) || this.dims[a]! - this.dims[b]!,
    );
    const topWeights = order.slice(0, 10).map((s) => ({
      index: this.dims[s]!,
      mean: this.mean[s]!,
      sd: Math.sqrt(this.weightVariance(s)),
    }));
    return {
      kind: this.kind,
      covariance: this.config.covariance,
      priorVariance: this.config.priorVariance,
      newtonSteps: this.config.newtonSteps,
      seenDims: this.size,
      denseDims: this.nDense,
      topWeights,
    };
  }

  /**
   * Replace the learned state by a snapshot's.
   * @throws Error when the snapshot's kind, format or covariance does not match, or it is malformed
   */
  restore(snapshot: PolicySnapshot): void {
    const st = readLogisticState(snapshot, this.config);
    this.slotOf.clear();
    this.size = 0;
    this.nDense = 0;
    this.L.fill(0);
    const denseAt = new Map<number, number>();
    st.dense.forEach((d, k) => denseAt.set(d, k));
    for (let i = 0; i < st.dims.length; i++) {
      const s = this.newSlot(st.dims[i]!);
      this.mean[s] = st.mean[i]!;
      this.prec[s] = st.precision[i]!;
      const k = denseAt.get(st.dims[i]!);
      this.densePos[s] = k ?? -1;
      if (k !== undefined) this.denseSlot[k] = s;
    }
    const n = st.dense.length;
    let p = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) this.L[i * this.ld + j] = st.chol[p++]!;
    this.nDense = n;
  }

  // --- internals -------------------------------------------------------------------------

  private forward(x: SparseVector, r: number, w: number): void {
    const mu = this.logit(x);
    const v = this.direction(x);
    const alpha = newtonAlpha(mu, v, w, r, this.config.newtonSteps);
    this.moveMean(x, alpha);
    const p = sigmoid(this.logit(x));
    const c = w * p * (1 - p);
    if (!(c > 0)) return;
    const { slots, prec, densePos } = this;
    for (let j = 0; j < x.nnz; j++) {
      const s = slots[j]!;
      if (densePos[s]! < 0) prec[s] = prec[s]! + c * x.values[j]! * x.values[j]!;
    }
    if (this.fillDense(x, Math.sqrt(c))) cholUpdate(this.L, this.nDense, this.xd, this.work, this.ld);
  }

  private retract(x: SparseVector, r: number, w: number): void {
    const muAfter = this.logit(x);
    const p = sigmoid(muAfter);
    const c = w * p * (1 - p);
    if (c > 0) {
      const { slots, prec, densePos } = this;
      // Updates and decay never take q below the prior's q₀, so neither may a retraction.
      const floor = this.q0;
      for (let j = 0; j < x.nnz; j++) {
        const s = slots[j]!;
        if (densePos[s]! < 0) prec[s] = Math.max(floor, prec[s]! - c * x.values[j]! * x.values[j]!);
      }
      if (this.fillDense(x, Math.sqrt(c))) {
        try {
          cholDowndate(this.L, this.nDense, this.xd, this.work, this.ld);
        } catch (e) {
          // Not a retraction of the last update: keep the block's precision (see module comment).
          if (!(e instanceof NotPositiveDefiniteError)) throw e;
        }
      }
    }
    const v = this.direction(x);
    const alpha = inverseAlpha(muAfter, v, w, r, this.config.newtonSteps);
    this.moveMean(x, -alpha);
  }

  /** xᵀm over the slots of x (this.slots filled). */
  private logit(x: SparseVector): number {
    let mu = 0;
    for (let j = 0; j < x.nnz; j++) mu += this.mean[this.slots[j]!]! * x.values[j]!;
    return mu;
  }

  /**
   * v = xᵀΣx; leaves the dense part of the direction Σx in `ud` (when x touches the block).
   * @returns v
   */
  private direction(x: SparseVector): number {
    let v = 0;
    const { slots, prec, densePos } = this;
    for (let j = 0; j < x.nnz; j++) {
      const s = slots[j]!;
      if (densePos[s]! < 0) v += (x.values[j]! * x.values[j]!) / prec[s]!;
    }
    if (this.fillDense(x, 1)) {
      const n = this.nDense;
      solveLower(this.L, n, this.xd, this.yd, this.ld);
      for (let k = 0; k < n; k++) v += this.yd[k]! * this.yd[k]!;
      solveUpperT(this.L, n, this.yd, this.ud, this.ld);
    } else this.ud.fill(0, 0, this.nDense);
    return v;
  }

  /** m ← m + α·Σx (dense part from `ud`, left by {@link direction}). */
  private moveMean(x: SparseVector, alpha: number): void {
    const { slots, prec, densePos, mean } = this;
    for (let j = 0; j < x.nnz; j++) {
      const s = slots[j]!;
      if (densePos[s]! < 0) mean[s] = mean[s]! + (alpha * x.values[j]!) / prec[s]!;
    }
    for (let k = 0; k < this.nDense; k++) {
      const u = this.ud[k]!;
      if (u !== 0) mean[this.denseSlot[k]!] = mean[this.denseSlot[k]!]! + alpha * u;
    }
  }

  /** Write scale·x restricted to the dense block into `xd`; returns whether x touches it. */
  private fillDense(x: SparseVector, scale: number): boolean {
    if (this.nDense === 0) return false;
    this.clearDenseScratch();
    let touched = false;
    for (let j = 0; j < x.nnz; j++) {
      const dp = this.densePos[this.slots[j]!]!;
      if (dp >= 0) {
        this.xd[dp] = scale * x.values[j]!;
        touched = true;
      }
    }
    return touched;
  }

  private clearDenseScratch(): void {
    if (this.nDense > 0) this.xd.fill(0, 0, this.nDense);
  }

  /** ‖L⁻¹·xd‖² = x_Dᵀ P_D⁻¹ x_D. */
  private blockQuadratic(): number {
    const n = this.nDense;
    solveLower(this.L, n, this.xd, this.yd, this.ld);
    let s = 0;
    for (let k = 0; k < n; k++) s += this.yd[k]! * this.yd[k]!;
    return s;
  }

  /** Posterior variance of weight in slot s. */
  private weightVariance(s: number): number {
    const dp = this.densePos[s]!;
    if (dp < 0) return 1 / this.prec[s]!;
    this.xd.fill(0, 0, this.nDense);
    this.xd[dp] = 1;
    return this.blockQuadratic();
  }

  /** Draw the dense block: θ_D = m_D + √T·L⁻ᵀz, z ~ N(0, I). */
  private drawBlock(rng: Rng, scale: number, cold: boolean): void {
    const n = this.nDense;
    if (!cold) {
      for (let k = 0; k < n; k++) this.yd[k] = rng.normal();
      solveUpperT(this.L, n, this.yd, this.ud, this.ld);
    }
    for (let k = 0; k < n; k++) {
      const s = this.denseSlot[k]!;
      this.drawVal[s] = cold ? this.mean[s]! : this.mean[s]! + scale * this.ud[k]!;
      this.drawStamp[s] = this.stamp;
    }
  }

  private nextStamp(): void {
    if (this.stamp >= 0x3fffffff) {
      this.drawStamp.fill(0);
      this.stamp = 0;
    }
    this.stamp++;
  }

  /** The slot of dimension d, created at the prior (in the dense block while it has room). */
  private ensureSlot(d: number): number {
    const s = this.slotOf.get(d);
    if (s >= 0) return s;
    const t = this.newSlot(d);
    this.mean[t] = 0;
    if (this.full && this.nDense < this.ld) {
      const k = this.nDense;
      const row = k * this.ld;
      this.L.fill(0, row, row + k);
      this.L[row + k] = Math.sqrt(this.q0);
      this.denseSlot[k] = t;
      this.densePos[t] = k;
      this.prec[t] = 0;
      this.nDense = k + 1;
    } else {
      this.densePos[t] = -1;
      this.prec[t] = this.q0;
    }
    return t;
  }

  private newSlot(d: number): number {
    if (this.size === this.dims.length) this.grow();
    const s = this.size++;
    this.dims[s] = d;
    this.drawStamp[s] = 0;
    this.slotOf.set(d, s);
    return s;
  }

  private grow(): void {
    const n = this.dims.length * 2;
    const g32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const g64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.dims = g32(this.dims);
    this.densePos = g32(this.densePos);
    this.drawStamp = g32(this.drawStamp);
    this.mean = g64(this.mean);
    this.prec = g64(this.prec);
    this.drawVal = g64(this.drawVal);
  }
}

/**
 * Dimension → slot. Dimensions below 2^16 (every default hashed space) are looked up in a flat
 * Int32Array grown to the largest one seen; larger ones in a Map. A flat read is several times
 * cheaper than a Map probe, and `sample` does one per non-zero of every arm.
 */
class SlotIndex {
  private static readonly FLAT_LIMIT = 65536;
  private flat = new Int32Array(0);
  private readonly map = new Map<number, number>();

  /** The slot of d, or −1. */
  get(d: number): number {
    if (d < this.flat.length) return this.flat[d]!;
    if (d < SlotIndex.FLAT_LIMIT) return -1;
    return this.map.get(d) ?? -1;
  }

  set(d: number, slot: number): void {
    if (d >= SlotIndex.FLAT_LIMIT) {
      this.map.set(d, slot);
      return;
    }
    if (d >= this.flat.length) {
      let n = Math.max(64, this.flat.length);
      while (n <= d) n *= 2;
      const next = new Int32Array(Math.min(n, SlotIndex.FLAT_LIMIT)).fill(-1);
      next.set(this.flat);
      this.flat = next;
    }
    this.flat[d] = slot;
  }

  clear(): void {
    this.flat = new Int32Array(0);
    this.map.clear();
  }
}
