/**
 * The `neural-linear` policy: Thompson sampling from a Bayesian linear regression over the last
 * layer of a learned encoder (Riquelme, Tucker & Snoek 2018, "Deep Bayesian Bandits Showdown",
 * NeuralLinear; Snoek et al. 2015 for the Bayesian last layer).
 *
 *   score_i = θᵀ[s·φ(x_i) ; 1 ; x_i],   θ ~ N(μ, σ²·Λ⁻¹)   (one θ per decision)
 *
 * where x_i is candidate i's hashed arm vector (in the head only with `head.rawFeatures`), φ the
 * encoder and s the scale of its block (both fixed between retrains; s chosen on held-out
 * outcomes at each retrain, ./scale.ts), and (μ, Λ) the `linear-gaussian` posterior (shared
 * structure, full covariance over the d + 1 dense dimensions and the first raw ones) of every
 * outcome folded since this encoder was adopted — by construction the whole learning log,
 * replayed by the model at the swap. With s = 0 the head is a linear-gaussian model on [1 ; x].
 *
 * Synchronous like every policy: sample/summarize/update/decay/snapshot use the current encoder.
 * Head updates are buffered and folded in one batched forward pass before the next read (the
 * embeddings are batch-invariant, so the head is exactly that of one-at-a-time folding); a
 * decision's candidates are embedded once, in one batched call, and reused by every Monte-Carlo
 * propensity draw of that decision (cached by the identity of its `DecisionFeatures`).
 */
import { deriveSeed } from '../../core/hash.js';
import { createRng, type Rng } from '../../core/rng.js';
import type { DecisionFeatures, OutcomeFeatures, SparseVector } from '../../features/types.js';
import { LinearPosterior } from '../linear-gaussian/posterior.js';
import type { PolicySnapshot, PreparedSampler } from '../types.js';
import { neuralBackendInfo } from './backend.js';
import type { NeuralLinearConfig } from './config.js';
import { Encoder } from './encoder.js';
import { Journal } from './journal.js';
import type { RetrainablePolicy, RetrainRequest } from './retrainable.js';
import { initialHeadScale } from './scale.js';
import { trainEncoder, type RetrainJob, type RetrainResult } from './train.js';
import { checkWeights, cloneWeights, initEncoderWeights, weightsChecksum, type EncoderWeights } from './weights.js';

const KIND = 'neural-linear';
/** Snapshot format of `neural-linear` (the head's state plus the encoder's fingerprint). */
export const NEURAL_LINEAR_SNAPSHOT_FORMAT = 1;
/** Buffered head updates are folded at the latest when this many are waiting. */
const MAX_PENDING = 512;

/** The seeded initial weights of a config (representation version 0). */
export function initialWeights(config: NeuralLinearConfig): EncoderWeights {
  return initEncoderWeights(config, createRng(deriveSeed('neural-linear-init', config.seed)));
}

interface PendingUpdate {
  readonly arm: SparseVector;
  readonly reward: number;
  readonly weight: number;
}

/** See the module comment. Not thread-safe; one instance per model and encoder version. */
export class NeuralLinearPolicy implements RetrainablePolicy {
  readonly kind = KIND;
  readonly retrainable = true;
  readonly representationVersion: number;
  readonly retrainEvery: number;
  readonly trainingWindow: number;
  readonly config: NeuralLinearConfig;
  private readonly weights: EncoderWeights;
  private readonly checksum: string;
  private readonly encoder: Encoder;
  private readonly head: LinearPosterior;
  private readonly journal: Journal;
  /** Dense head dimensions d + 1 (the embedding and a constant 1); raw features follow. */
  private readonly headDim: number;
  private readonly raw: boolean;
  /** Scale s of the embedding block, [s·φ ; 1 ; x]. */
  readonly headScale: number;
  private readonly headIndices: Int32Array;
  private readonly emptyContext: SparseVector;
  private pending: PendingUpdate[] = [];
  private skipped = 0;
  private embedBuf = new Float64Array(0);
  private cacheInput: DecisionFeatures | null = null;
  private cacheHead: DecisionFeatures | null = null;

  /**
   * @param headScale scale of the embedding block (default: that of version 0, ./scale.ts)
   * @throws RangeError when the weights do not fit the config or the scale is negative or not
   *   finite; Error when tfjs is not initialized
   */
  constructor(config: NeuralLinearConfig, weights: EncoderWeights, version: number, headScale = initialHeadScale(config)) {
    checkWeights(config, weights);
    if (!(headScale >= 0) || !Number.isFinite(headScale)) throw new RangeError(`neural-linear: head scale must be finite and >= 0, got ${headScale}`);
    this.headScale = headScale;
    this.config = config;
    this.weights = weights;
    this.checksum = weightsChecksum(weights);
    this.representationVersion = version;
    this.retrainEvery = config.retrainEvery;
    this.trainingWindow = config.maxTrainingOutcomes;
    this.encoder = new Encoder(weights);
    const d = this.encoder.dim;
    this.headDim = d + 1;
    this.raw = config.head.rawFeatures;
    this.headIndices = new Int32Array(this.headDim);
    for (let i = 0; i < this.headDim; i++) this.headIndices[i] = i;
    this.emptyContext = { dim: this.headDim, nnz: 0, indices: new Int32Array(0), values: new Float64Array(0) };
    const h = config.head;
    this.head = new LinearPosterior({
      structure: 'shared',
      noise: h.noise,
      priorVariance: h.priorVariance,
      noiseVariance: h.noiseVariance,
      nigA: h.nigPrior.a,
      nigB: h.nigPrior.b,
      contextBits: 1,
      covariance: 'full',
      maxDenseDims: Math.max(8, this.headDim + (this.raw ? config.head.maxDenseDims : 0)),
    });
    this.journal = new Journal(config.maxTrainingOutcomes);
  }

  /**
   * Write the head vector of one arm from its embedding `e` (d values): [s·φ ; 1], then with
   * `rawFeatures` the arm's own indices shifted by d + 1 (sorted, so the vector stays sorted).
   */
  private headVector(e: Float64Array, at: number, arm: SparseVector): SparseVector {
    const d = this.encoder.dim;
    const D = this.headDim;
    const nnz = D + (this.raw ? arm.nnz : 0);
    const indices = this.raw ? new Int32Array(nnz) : this.headIndices;
    const values = new Float64Array(nnz);
    const s = this.headScale;
    for (let j = 0; j < d; j++) values[j] = s * e[at + j]!;
    values[d] = 1;
    if (this.raw) {
      indices.set(this.headIndices);
      for (let j = 0; j < arm.nnz; j++) {
        indices[D + j] = D + arm.indices[j]!;
        values[D + j] = arm.values[j]!;
      }
    }
    return { dim: D + (this.raw ? arm.dim : 0), nnz, indices, values };
  }

  /** The head vectors of a decision, its arms embedded in one batched call (cached). */
  private headFeatures(input: DecisionFeatures): DecisionFeatures {
    if (this.cacheInput === input && this.cacheHead) return this.cacheHead;
    const k = input.itemIds.length;
    if (input.arms.length !== k) throw new RangeError(`neural-linear: ${input.arms.length} arms for ${k} items`);
    const d = this.encoder.dim;
    if (this.embedBuf.length < k * d) this.embedBuf = new Float64Array(Math.max(k * d, this.embedBuf.length * 2));
    this.encoder.embed(input.arms, k, this.embedBuf);
    const arms: SparseVector[] = new Array<SparseVector>(k);
    for (let i = 0; i < k; i++) arms[i] = this.headVector(this.embedBuf, i * d, input.arms[i]!);
    this.cacheInput = input;
    this.cacheHead = { dim: arms[0]?.dim ?? this.headDim, itemIds: input.itemIds, context: this.emptyContext, arms };
    return this.cacheHead;
  }

  /** Fold the buffered updates into the head, in order, after one batched forward pass. */
  flush(): void {
    const n = this.pending.length;
    if (n === 0) return;
    const batch = this.pending;
    this.pending = [];
    const d = this.encoder.dim;
    if (this.embedBuf.length < n * d) this.embedBuf = new Float64Array(Math.max(n * d, this.embedBuf.length * 2));
    this.encoder.embed(
      batch.map((u) => u.arm),
      n,
      this.embedBuf,
    );
    for (let r = 0; r < n; r++) {
      const u = batch[r]!;
      const outcome: OutcomeFeatures = { itemId: '', context: this.emptyContext, arm: this.headVector(this.embedBuf, r * d, u.arm) };
      try {
        this.head.update(outcome, u.reward, u.weight);
      } catch {
        // A retraction the head cannot apply (never folded here) changes nothing; the same entry
        // is skipped again on every replay, so the state stays a function of the log.
        this.skipped++;
      }
    }
  }

  sample(input: DecisionFeatures, rng: Rng, out: Float64Array, temperature: number): void {
    this.flush();
    this.head.sample(this.headFeatures(input), rng, out, temperature);
  }

  /**
   * {@link sample} with the embeddings and the head's per-decision work done once; `draws` goes
   * to the head, which picks θ-space or score-space draws by cost (LinearPosterior.prepare).
   */
  prepare(input: DecisionFeatures, temperature: number, draws?: number): PreparedSampler {
    this.flush();
    return this.head.prepare(this.headFeatures(input), temperature, draws);
  }

  summarize(input: DecisionFeatures, mean: Float64Array, sd: Float64Array): void {
    this.flush();
    this.head.summarize(this.headFeatures(input), mean, sd);
  }

  /** Buffer one outcome for the head and record it in the training window. @throws RangeError on non-finite input */
  update(x: OutcomeFeatures, reward: number, weight: number): void {
    if (!Number.isFinite(reward) || !Number.isFinite(weight)) {
      throw new RangeError(`update needs a finite reward and weight, got ${reward}, ${weight}`);
    }
    if (weight === 0) return;
    this.journal.record(x.arm, reward, weight);
    this.pending.push({ arm: x.arm, reward, weight });
    if (this.pending.length >= MAX_PENDING) this.flush();
  }

  decay(gamma: number): void {
    this.flush();
    this.head.decay(gamma);
  }

  /** The head's state and the encoder's version and fingerprint (restore = artifact + log replay). */
  snapshot(): PolicySnapshot {
    this.flush();
    return {
      kind: KIND,
      format: NEURAL_LINEAR_SNAPSHOT_FORMAT,
      state: { representationVersion: this.representationVersion, encoder: this.checksum, headScale: this.headScale, head: this.head.toState() },
    };
  }

  describe(): Record<string, unknown> {
    this.flush();
    return {
      kind: KIND,
      representationVersion: this.representationVersion,
      tfBackend: neuralBackendInfo()?.backend ?? null,
      encoder: {
        checksum: this.checksum,
        inputDim: this.weights.inputDim,
        hidden: this.config.hidden,
        activation: this.config.activation,
        backend: neuralBackendInfo()?.backend ?? null,
      },
      headScale: this.headScale,
      trainingWindow: this.journal.size,
      skippedUpdates: this.skipped,
      head: this.head.describe(),
    };
  }

  prepareRetrain(request: RetrainRequest): RetrainJob {
    const version = this.representationVersion + 1;
    const init = this.config.warmStart
      ? cloneWeights(this.weights)
      : initEncoderWeights(this.config, createRng(deriveSeed('neural-linear-init', this.config.seed, version)));
    return { config: this.config, version, seed: request.seed, data: this.journal.trainingData(), init, range: request.range };
  }

  retrainNow(job: RetrainJob): RetrainResult {
    return trainEncoder(job);
  }

  withRepresentation(result: RetrainResult): NeuralLinearPolicy {
    return new NeuralLinearPolicy(this.config, result.weights, result.version, result.headScale);
  }

  /** The encoder's weights (shared, read-only), e.g. to save an artifact. */
  encoderWeights(): EncoderWeights {
    return this.weights;
  }

  dispose(): void {
    this.encoder.dispose();
    this.cacheInput = null;
    this.cacheHead = null;
  }
}
