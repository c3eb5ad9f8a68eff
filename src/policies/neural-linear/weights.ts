/**
 * The encoder's weights as plain typed arrays — what a retrain produces, what crosses the worker
 * boundary (transferable buffers) and what an artifact stores. No tensorflow.js here.
 *
 * Layout: layer l maps n_l inputs to n_{l+1} units, `kernel` row-major n_l × n_{l+1} (the tfjs
 * Dense-layer kernel layout, so an artifact is a plain tfjs layers model), `bias` n_{l+1}.
 * Layer 0 is the 2^inputBits × hidden[0] embedding table of the sparse input; `output` maps the
 * last hidden layer to the scalar reward prediction used in training (the Bayesian head replaces
 * it when scoring).
 */
import { murmur3Bytes } from '../../core/hash.js';
import type { Rng } from '../../core/rng.js';
import type { Activation, NeuralLinearConfig } from './config.js';

/** One dense layer: `kernel` inputs × units (row-major), `bias` units. */
export interface DenseWeights {
  readonly inputs: number;
  readonly units: number;
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
}

/** Every weight of an encoder and its training output layer. */
export interface EncoderWeights {
  readonly inputDim: number;
  readonly activation: Activation;
  /** Hidden layers, first (the embedding table) to last (φ, d = its units). */
  readonly layers: readonly DenseWeights[];
  /** Last hidden layer → 1 (the training head). */
  readonly output: DenseWeights;
}

/**
 * Active input features the first layer's initial scale assumes: the sparse input is an
 * embedding bag, so its fan-in is the number of non-zeros, not 2^inputBits.
 */
export const TYPICAL_ACTIVE_FEATURES = 16;

/**
 * Seeded initial weights (never tfjs initializers, so every machine and backend starts alike).
 * - layer 0: U(±√(3/16)) — variance 1/16, so a sum of ~16 unit features has unit variance;
 * - deeper layers and the output: He uniform U(±√(6/n_in)) for `relu`/`elu`, Glorot uniform
 *   U(±√(6/(n_in + n_out))) for `tanh`/`sigmoid` (He et al. 2015; Glorot & Bengio 2010);
 * - biases 0.
 * Draws come from `rng` in layer order, kernel before bias, row-major.
 */
export function initEncoderWeights(config: NeuralLinearConfig, rng: Rng): EncoderWeights {
  const inputDim = 2 ** config.inputBits;
  const he = config.activation === 'relu' || config.activation === 'elu';
  const dense = (inputs: number, units: number, limit: number): DenseWeights => {
    const kernel = new Float32Array(inputs * units);
    for (let i = 0; i < kernel.length; i++) kernel[i] = limit * (2 * rng.uniform() - 1);
    return { inputs, units, kernel, bias: new Float32Array(units) };
  };
  const layers: DenseWeights[] = [];
  let inputs = inputDim;
  config.hidden.forEach((units, l) => {
    const limit = l === 0 ? Math.sqrt(3 / TYPICAL_ACTIVE_FEATURES) : he ? Math.sqrt(6 / inputs) : Math.sqrt(6 / (inputs + units));
    layers.push(dense(inputs, units, limit));
    inputs = units;
  });
  const output = dense(inputs, 1, Math.sqrt(6 / (inputs + 1)));
  return { inputDim, activation: config.activation, layers, output };
}

/**
 * Check that weights fit a config (input size, layer sizes, activation, array lengths, finite).
 * @throws RangeError naming the first mismatch
 */
export function checkWeights(config: NeuralLinearConfig, w: EncoderWeights): void {
  const bad = (msg: string): never => {
    throw new RangeError(`encoder weights do not fit the config: ${msg}`);
  };
  if (w.inputDim !== 2 ** config.inputBits) bad(`input size ${w.inputDim} ≠ 2^inputBits = ${2 ** config.inputBits}`);
  if (w.activation !== config.activation) bad(`activation ${w.activation} ≠ ${config.activation}`);
  if (w.layers.length !== config.hidden.length) bad(`${w.layers.length} hidden layers ≠ ${config.hidden.length}`);
  let inputs = w.inputDim;
  const check = (d: DenseWeights, units: number, what: string) => {
    if (d.inputs !== inputs || d.units !== units) bad(`${what} is ${d.inputs}×${d.units}, expected ${inputs}×${units}`);
    if (d.kernel.length !== inputs * units || d.bias.length !== units) bad(`${what} arrays have the wrong length`);
    for (let i = 0; i < d.kernel.length; i++) if (!Number.isFinite(d.kernel[i]!)) bad(`${what} kernel has a non-finite weight`);
    for (let i = 0; i < d.bias.length; i++) if (!Number.isFinite(d.bias[i]!)) bad(`${what} bias has a non-finite weight`);
    inputs = units;
  };
  config.hidden.forEach((units, l) => check(w.layers[l]!, units, `layer ${l}`));
  check(w.output, 1, 'output layer');
}

/**
 * A stable fingerprint of the weights: MurmurHash3 of every float32's bytes, two seeds, hex.
 * Equal weights, equal fingerprint (on every machine: float32 bytes are little-endian views).
 */
export function weightsChecksum(w: EncoderWeights): string {
  let h1 = 0x2f3c_1a77;
  let h2 = 0x51ed_270b;
  const mix = (a: Float32Array) => {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    h1 = murmur3Bytes(bytes, h1);
    h2 = murmur3Bytes(bytes, h2 ^ 0x5bd1_e995);
  };
  for (const l of [...w.layers, w.output]) {
    mix(l.kernel);
    mix(l.bias);
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** Deep copy (fresh buffers, e.g. before transferring them to a worker). */
export function cloneWeights(w: EncoderWeights): EncoderWeights {
  const copy = (d: DenseWeights): DenseWeights => ({ inputs: d.inputs, units: d.units, kernel: d.kernel.slice(), bias: d.bias.slice() });
  return { inputDim: w.inputDim, activation: w.activation, layers: w.layers.map(copy), output: copy(w.output) };
}

/** The underlying buffers of the weights (to list as transferables). */
export function weightBuffers(w: EncoderWeights): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const l of [...w.layers, w.output]) out.push(l.kernel.buffer as ArrayBuffer, l.bias.buffer as ArrayBuffer);
  return out;
}
