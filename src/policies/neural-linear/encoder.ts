/**
 * The encoder φ on tensorflow.js: a forward pass over a batch of sparse hashed vectors, shared by
 * serving (all candidates of a decision in one call), head updates and training.
 *
 * Sparse first layer. Row r of the batch has non-zeros (j, v) with j masked to 2^inputBits; the
 * first layer is the embedding bag h₁[r] = act(Σ_j v_j · W₁[j] + b₁). The rows are padded to the
 * batch's largest non-zero count m (padding: index 0, value 0) and computed as
 *   G = W₁[idx]            (sparseSegmentSum with one segment per entry: a fast row gather,
 *                           `tf.gather` is an order of magnitude slower on the cpu and wasm backends)
 *   h₁ = act(V · G + b₁)   (batched [1 × m] · [m × h] products, one per row)
 * which is O(k·m·h) instead of the O(k·2^bits·h) of a matmul on densified input, and uses only
 * kernels every backend has (UnsortedSegmentSum, the gradient of gather, is missing on wasm).
 * Deeper layers are dense: h_{l+1} = act(h_l·W_l + b_l).
 *
 * Batch invariance: on the cpu and wasm backends a row's embedding does not depend on the other
 * rows of its batch nor on the padding (checked by a unit test), so lazily batched head updates
 * give exactly the head that one-at-a-time updates give — which the exact-replay rule needs.
 */
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import type { SparseVector } from '../../features/types.js';
import { loadedTf, type Tf } from './backend.js';
import type { Activation } from './config.js';
import type { EncoderWeights } from './weights.js';

/** Padded sparse rows of one batch: `k × m` indices (masked) and values. */
export interface PackedRows {
  k: number;
  m: number;
  idx: Int32Array;
  val: Float32Array;
}

/** Reusable scratch for {@link packRows}. */
export function emptyPacked(): PackedRows {
  return { k: 0, m: 0, idx: new Int32Array(256), val: new Float32Array(256) };
}

/**
 * Pad `k` sparse rows into `out` (grown when needed): row r occupies `[r·m, (r+1)·m)`, indices
 * masked by `mask`, padding index 0 with value 0. m ≥ 1.
 */
export function packRows(
  k: number,
  nnzOf: (r: number) => number,
  fill: (r: number, idx: Int32Array, val: Float32Array, at: number) => void,
  out: PackedRows,
): PackedRows {
  let m = 1;
  for (let r = 0; r < k; r++) m = Math.max(m, nnzOf(r));
  const size = k * m;
  if (out.idx.length < size) {
    let cap = out.idx.length;
    while (cap < size) cap *= 2;
    out.idx = new Int32Array(cap);
    out.val = new Float32Array(cap);
  }
  out.idx.fill(0, 0, size);
  out.val.fill(0, 0, size);
  for (let r = 0; r < k; r++) fill(r, out.idx, out.val, r * m);
  out.k = k;
  out.m = m;
  return out;
}

/** Pack sparse vectors (e.g. the arms of a decision). */
export function packVectors(rows: readonly SparseVector[], k: number, mask: number, out: PackedRows): PackedRows {
  return packRows(
    k,
    (r) => rows[r]!.nnz,
    (r, idx, val, at) => {
      const x = rows[r]!;
      for (let j = 0; j < x.nnz; j++) {
        idx[at + j] = x.indices[j]! & mask;
        val[at + j] = x.values[j]!;
      }
    },
    out,
  );
}

/** The activation function of a hidden layer. */
export function activate(tf: Tf, activation: Activation, x: Tensor): Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'elu':
      return tf.elu(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    default: {
      const never: never = activation;
      throw new Error(`unknown activation ${String(never)}`);
    }
  }
}

/** The sparse first layer's pre-activation V·W₁[idx] (+ nothing: the caller adds b₁), k × h. */
export function sparseFirstLayer(tf: Tf, w1: Tensor2D, packed: PackedRows): Tensor2D {
  const { k, m } = packed;
  const h = w1.shape[1];
  const n = k * m;
  const idx = tf.tensor1d(packed.idx.subarray(0, n), 'int32');
  const rows = tf.sparse.sparseSegmentSum(w1, idx, tf.range(0, n, 1, 'int32')).reshape([k, m, h]);
  const v = tf.tensor3d(packed.val.subarray(0, n), [k, 1, m]);
  return tf.matMul(v, rows as Tensor).reshape([k, h]);
}

/** A frozen encoder on the current tfjs backend (serving and head updates; no gradients). */
export class Encoder {
  readonly inputDim: number;
  /** Output size d (the last hidden layer). */
  readonly dim: number;
  readonly mask: number;
  readonly activation: Activation;
  private readonly tf: Tf;
  private readonly kernels: Tensor2D[];
  private readonly biases: Tensor1D[];
  private readonly packed = emptyPacked();
  private disposed = false;

  /** Upload the weights as tensors. @throws Error when tfjs is not initialized */
  constructor(weights: EncoderWeights) {
    this.tf = loadedTf();
    const tf = this.tf;
    this.inputDim = weights.inputDim;
    this.mask = weights.inputDim - 1;
    this.activation = weights.activation;
    this.kernels = weights.layers.map((l) => tf.tensor2d(l.kernel, [l.inputs, l.units]));
    this.biases = weights.layers.map((l) => tf.tensor1d(l.bias));
    this.dim = weights.layers[weights.layers.length - 1]!.units;
  }

  /**
   * φ of `k` sparse rows in one batched forward pass: `out[r·d + c]`, r < k, c < d (float32
   * results widened to float64).
   * @throws RangeError when `out` is too short; Error after {@link dispose}
   */
  embed(rows: readonly SparseVector[], k: number, out: Float64Array): void {
    if (this.disposed) throw new Error('encoder was disposed');
    if (out.length < k * this.dim) throw new RangeError(`embed: output has ${out.length} entries for ${k}×${this.dim}`);
    if (k === 0) return;
    packVectors(rows, k, this.mask, this.packed);
    this.forwardPacked(this.packed, out);
  }

  /** φ of already packed rows (see {@link packRows}). */
  forwardPacked(packed: PackedRows, out: Float64Array): void {
    const tf = this.tf;
    const result = tf.tidy(() => {
      let h: Tensor = activate(tf, this.activation, sparseFirstLayer(tf, this.kernels[0]!, packed).add(this.biases[0]!));
      for (let l = 1; l < this.kernels.length; l++) {
        h = activate(tf, this.activation, tf.matMul(h as Tensor2D, this.kernels[l]!).add(this.biases[l]!));
      }
      return h;
    });
    // Read outside the tidy: returning a typed array from tidy makes tfjs walk every element.
    const data = result.dataSync();
    result.dispose();
    for (let i = 0; i < packed.k * this.dim; i++) out[i] = data[i]!;
  }

  /** Free the tensors (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.kernels, ...this.biases]) t.dispose();
  }
}
