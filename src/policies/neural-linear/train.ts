/**
 * One retrain: the encoder, then the scale of its block in the head.
 *
 * With `head.embeddingScale: 'validated'`, a seeded share (`validationShare`) of the training
 * window is held out first; the encoder trains on the rest, then embeds the whole window and
 * ./scale.ts chooses the head's embedding scale s on the held-out outcomes. Otherwise the encoder
 * trains on the whole window and s is the configured number.
 *
 * The encoder: weighted regression of the logged rewards on the arm vectors,
 * r̂(x) = w_outᵀ·φ(x) + b_out, trained with Adam (Kingma & Ba 2015) on minibatches shuffled by
 * the job's seeded stream. Synchronous: it runs in a worker thread when serving and inline in
 * simulations and `liubai train`; same job, same backend → same weights.
 *
 * Losses, with outcome weights w_i and Σ over the minibatch:
 * - `mse`: Σ w_i (r̂_i − r_i)² / Σ w_i;
 * - `bce`: Σ w_i (softplus(z_i) − y_i·z_i) / Σ w_i with z_i the output logit and y_i = clip(r_i, 0, 1)
 *   (binary cross-entropy with logits).
 * The output layer is trained jointly and kept in the artifact; serving replaces it by the
 * Bayesian head (Riquelme et al. 2018, NeuralLinear).
 *
 * Memory: everything is created inside `tf.tidy` or disposed explicitly (variables, optimizer
 * slots), so a retrain leaves `tf.memory().numTensors` where it found it.
 */
import type { GradSaveFunc, Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { deriveSeed } from '../../core/hash.js';
import { createRng } from '../../core/rng.js';
import { loadedTf, neuralBackendInfo, type Tf } from './backend.js';
import type { NeuralLinearConfig } from './config.js';
import { activate, emptyPacked, Encoder, packRows, type PackedRows } from './encoder.js';
import type { TrainingData } from './journal.js';
import { holdoutMask, initialHeadScale, selectEmbeddingScale, selectRows, type ScaleSelection } from './scale.js';
import type { EncoderWeights } from './weights.js';

/** Where a retrain's data came from (the learning-log range), for the manifest. */
export interface DataRange {
  /** First and last learning-log seq of the training window. */
  readonly fromSeq: number;
  readonly toSeq: number;
  /** Outcomes folded (model ordinals) when the job was prepared. */
  readonly ordinals: number;
}

/** Everything a retrain needs, as plain data (typed arrays can be transferred to a worker). */
export interface RetrainJob {
  readonly config: NeuralLinearConfig;
  /** Version the new encoder will have (current + 1). */
  readonly version: number;
  /** Seed of the minibatch shuffling. */
  readonly seed: string;
  readonly data: TrainingData;
  /** Starting weights: the current encoder (warm start) or a fresh seeded initialization. */
  readonly init: EncoderWeights;
  readonly range: DataRange;
}

/** What a retrain reports. */
export interface RetrainMetrics {
  /** Outcomes the encoder trained on (the window minus the held-out ones). */
  readonly examples: number;
  readonly epochs: number;
  readonly steps: number;
  /** Weighted mean training loss of each epoch (running, over its minibatches). */
  readonly loss: number[];
  /** Backend the training ran on. */
  readonly backend: string;
  /** The embedding-scale selection on the held-out outcomes (null when s is fixed or nothing was held out). */
  readonly validation: ScaleSelection | null;
}

/** A retrained encoder. */
export interface RetrainResult {
  readonly version: number;
  readonly seed: string;
  readonly weights: EncoderWeights;
  /** Scale s of the embedding block in the head, [s·φ ; 1 ; x] (see ./scale.ts). */
  readonly headScale: number;
  readonly metrics: RetrainMetrics;
  readonly range: DataRange;
}

/** Rows `order[from .. from + k)` of CSR data, padded. */
function packBatch(data: TrainingData, order: Int32Array, from: number, k: number, mask: number, out: PackedRows): PackedRows {
  return packRows(
    k,
    (r) => {
      const e = order[from + r]!;
      return data.offsets[e + 1]! - data.offsets[e]!;
    },
    (r, idx, val, at) => {
      const e = order[from + r]!;
      const s = data.offsets[e]!;
      const n = data.offsets[e + 1]! - s;
      for (let j = 0; j < n; j++) {
        idx[at + j] = data.indices[s + j]! & mask;
        val[at + j] = data.values[s + j]!;
      }
    },
    out,
  );
}

/**
 * The sparse first layer with its gradient: forward as in {@link sparseFirstLayer}, and
 * ∂L/∂W₁ = scatter-add over the batch's entries of v_j·∂L/∂h₁[row(j)] into row idx_j
 * (an embedding-bag gradient; duplicates sum).
 */
function trainableFirstLayer(tf: Tf, w1: Variable, packed: PackedRows): Tensor2D {
  const { k, m } = packed;
  const n = k * m;
  const [inputDim, h] = w1.shape as [number, number];
  const idx = tf.tensor1d(packed.idx.subarray(0, n), 'int32');
  const seg = tf.range(0, n, 1, 'int32');
  const v = tf.tensor3d(packed.val.subarray(0, n), [k, 1, m]);
  const layer = tf.customGrad((...args: Array<Tensor | GradSaveFunc>) => {
    const w = args[0] as Tensor2D;
    const save = args[1] as GradSaveFunc;
    save([idx, v]);
    const rows = tf.sparse.sparseSegmentSum(w, idx, seg).reshape([k, m, h]);
    const value = tf.matMul(v, rows as Tensor).reshape([k, h]) as Tensor2D;
    return {
      value,
      gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
        const [savedIdx, savedV] = saved as [Tensor, Tensor];
        // [k, m, 1] · [k, 1, h] → ∂L/∂rows, one row per entry.
        const dRows = tf.matMul(savedV, dy.reshape([k, 1, h]), true, false).reshape([n, h]);
        return tf.scatterND(savedIdx.reshape([n, 1]), dRows, [inputDim, h]);
      },
    };
  });
  return layer(w1) as Tensor2D;
}

/**
 * One retrain of a job (see the module comment): the new encoder and the head's embedding scale.
 * With no examples the starting weights are returned unchanged (a new version all the same: the
 * head is rebuilt).
 * @throws Error when tfjs is not initialized
 */
export function trainEncoder(job: RetrainJob): RetrainResult {
  const { config } = job;
  const fixed = config.head.embeddingScale;
  const base = { version: job.version, seed: job.seed, range: job.range };
  if (fixed !== 'validated') {
    const { weights, metrics } = fitEncoder(job, job.data);
    return { ...base, weights, headScale: fixed, metrics: { ...metrics, validation: null } };
  }
  const heldOut = holdoutMask(job.data.n, config.validationShare, createRng(deriveSeed('neural-linear-holdout', job.seed)));
  const { weights, metrics } = fitEncoder(job, selectRows(job.data, heldOut, 0));
  const d = weights.layers[weights.layers.length - 1]!.units;
  const selection = selectEmbeddingScale(job.data, heldOut, embedWindow(weights, job.data), d, config.head);
  // Nothing held out (a tiny window) or nothing left to train on: keep the scale of version 0.
  const headScale = selection?.scale ?? initialHeadScale(config);
  return { ...base, weights, headScale, metrics: { ...metrics, validation: selection } };
}

/** φ of every outcome of `data` under `weights`, row-major n × d (batched forward passes). */
function embedWindow(weights: EncoderWeights, data: TrainingData): Float64Array {
  const encoder = new Encoder(weights);
  try {
    const d = encoder.dim;
    const out = new Float64Array(data.n * d);
    const CHUNK = 1024;
    const order = new Int32Array(Math.min(CHUNK, data.n));
    const buf = new Float64Array(order.length * d);
    const packed = emptyPacked();
    for (let from = 0; from < data.n; from += CHUNK) {
      const k = Math.min(CHUNK, data.n - from);
      for (let r = 0; r < k; r++) order[r] = from + r;
      encoder.forwardPacked(packBatch(data, order, 0, k, encoder.mask, packed), buf);
      out.set(buf.subarray(0, k * d), from * d);
    }
    return out;
  } finally {
    encoder.dispose();
  }
}

/** Adam on the weighted loss over `data`, from the job's starting weights (see the module comment). */
function fitEncoder(job: RetrainJob, data: TrainingData): { weights: EncoderWeights; metrics: Omit<RetrainMetrics, 'validation'> } {
  const tf = loadedTf();
  const { config, init } = job;
  const backend = neuralBackendInfo()?.backend ?? tf.getBackend();
  const mask = init.inputDim - 1;
  // Inside tidy: a variable shares its initial tensor's data, and the initial tensor itself must
  // not outlive this call.
  const variable = (make: () => Tensor, name: string): Variable => tf.tidy(() => tf.variable(make(), true, name));
  const kernels = init.layers.map((l, i) => variable(() => tf.tensor2d(l.kernel, [l.inputs, l.units]), `k${i}`));
  const biases = init.layers.map((l, i) => variable(() => tf.tensor1d(l.bias), `b${i}`));
  const outK = variable(() => tf.tensor2d(init.output.kernel, [init.output.inputs, 1]), 'out_k');
  const outB = variable(() => tf.tensor1d(init.output.bias), 'out_b');
  const vars: Variable[] = [...kernels, ...biases, outK, outB];
  const optimizer = tf.train.adam(config.learningRate);
  const rng = createRng(job.seed);
  const order = new Int32Array(data.n);
  for (let i = 0; i < data.n; i++) order[i] = i;
  const packed = emptyPacked();
  const B = config.batchSize;
  const y = new Float32Array(B);
  const w = new Float32Array(B);
  const epochLoss: number[] = [];
  let steps = 0;
  try {
    if (data.n > 0) {
      for (let epoch = 0; epoch < config.epochs; epoch++) {
        rng.shuffle(order);
        let lossSum = 0;
        let weightSum = 0;
        for (let from = 0; from < data.n; from += B) {
          const k = Math.min(B, data.n - from);
          packBatch(data, order, from, k, mask, packed);
          let sw = 0;
          for (let r = 0; r < k; r++) {
            const e = order[from + r]!;
            const reward = data.rewards[e]!;
            y[r] = config.loss === 'bce' ? Math.min(1, Math.max(0, reward)) : reward;
            w[r] = data.weights[e]!;
            sw += w[r]!;
          }
          if (!(sw > 0)) continue;
          const cost: Scalar | null = tf.tidy((): Scalar => {
            const yT = tf.tensor2d(y.subarray(0, k), [k, 1]);
            const wT = tf.tensor2d(w.subarray(0, k), [k, 1]);
            return optimizer.minimize(
              () => {
                let h: Tensor = activate(tf, config.activation, trainableFirstLayer(tf, kernels[0]!, packed).add(biases[0]!));
                for (let l = 1; l < kernels.length; l++) {
                  h = activate(tf, config.activation, tf.matMul(h as Tensor2D, kernels[l]!).add(biases[l]!));
                }
                const z = tf.matMul(h as Tensor2D, outK).add(outB);
                const perExample =
                  config.loss === 'bce' ? tf.softplus(z).sub(yT.mul(z)) : tf.squaredDifference(z, yT);
                return perExample.mul(wT).sum().div(sw) as Scalar;
              },
              true,
              vars,
            ) as Scalar;
          });
          if (cost) {
            lossSum += cost.dataSync()[0]! * sw;
            cost.dispose();
          }
          weightSum += sw;
          steps++;
        }
        epochLoss.push(weightSum > 0 ? lossSum / weightSum : Number.NaN);
      }
    }
    const read = (v: Variable): Float32Array => Float32Array.from(v.dataSync());
    const weights: EncoderWeights = {
      inputDim: init.inputDim,
      activation: init.activation,
      layers: init.layers.map((l, i) => ({ inputs: l.inputs, units: l.units, kernel: read(kernels[i]!), bias: read(biases[i]!) })),
      output: { inputs: init.output.inputs, units: 1, kernel: read(outK), bias: read(outB) },
    };
    return { weights, metrics: { examples: data.n, epochs: data.n > 0 ? config.epochs : 0, steps, loss: epochLoss, backend } };
  } finally {
    optimizer.dispose();
    for (const v of vars) v.dispose();
  }
}
