/**
 * neural-linear: config, backend selection, seeded weights, the sparse encoder (exact values on a
 * tiny net, batch invariance), the training window, the policy (head = linear-gaussian over the
 * scaled embeddings, lazy batching exact, retractions, the scale of version 0), training (with the
 * held-out choice of the head scale), and tensor hygiene. The scale selection itself:
 * neural-linear-scale.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type OutcomeFeatures, type SparseVector } from '../../../src/features/types.js';
import { LinearPosterior } from '../../../src/policies/linear-gaussian/posterior.js';
import {
  createNeuralLinear,
  initNeuralBackend,
  neuralBackendInfo,
  neuralLinearConfigSchema,
  NeuralLinearPolicy,
  type NeuralLinearConfigInput,
} from '../../../src/policies/neural-linear/index.js';
import { Encoder } from '../../../src/policies/neural-linear/encoder.js';
import { Journal } from '../../../src/policies/neural-linear/journal.js';
import { trainEncoder, type RetrainJob } from '../../../src/policies/neural-linear/train.js';
import { checkWeights, initEncoderWeights, weightsChecksum, type EncoderWeights } from '../../../src/policies/neural-linear/weights.js';
import { createPolicy, policyConfigSchema } from '../../../src/policies/registry.js';

const DIM = 1 << 12;
const lines: string[] = [];

beforeAll(async () => {
  await initNeuralBackend({ log: (l) => lines.push(l) });
});

function config(over: Partial<NeuralLinearConfigInput> = {}) {
  return neuralLinearConfigSchema.parse({ kind: 'neural-linear', inputBits: 8, hidden: [16, 8], ...over });
}

function vec(pairs: ReadonlyArray<readonly [number, number]>): SparseVector {
  return sparseFromPairs(DIM, pairs);
}

function outcome(arm: SparseVector, itemId = 'a'): OutcomeFeatures {
  return { itemId, arm, context: vec([]) };
}

function decision(arms: SparseVector[]): DecisionFeatures {
  return { dim: DIM, itemIds: arms.map((_, i) => `i${i}`), context: vec([]), arms };
}

/** A random arm: bias, one of `items` item indicators, 3 numeric user features. */
function randomArm(rng: ReturnType<typeof createRng>, items = 5): SparseVector {
  return vec([
    [0, 1],
    [10 + rng.int(items), 1],
    [100, rng.normal()],
    [101, rng.normal()],
    [102, rng.normal()],
  ]);
}

describe('config', () => {
  test('every field has a default', () => {
    const c = neuralLinearConfigSchema.parse({ kind: 'neural-linear' });
    expect(c).toMatchObject({ hidden: [64, 32], activation: 'relu', inputBits: 12, loss: 'mse', epochs: 3, batchSize: 256, validationShare: 0.2 });
    expect(c.head).toEqual({
      noise: 'known',
      priorVariance: 1,
      noiseVariance: 0.25,
      nigPrior: { a: 1, b: 1 },
      rawFeatures: true,
      maxDenseDims: 256,
      embeddingScale: 'validated',
    });
    expect(policyConfigSchema.parse({ kind: 'neural-linear' }).kind).toBe('neural-linear');
  });
  test.each([
    ['hidden', { hidden: [] }],
    ['hidden', { hidden: [64, 32, 16, 8, 4] }],
    ['inputBits', { inputBits: 20 }],
    ['learningRate', { learningRate: 0 }],
    ['retrainEvery', { retrainEvery: -1 }],
    ['head', { head: { priorVariance: 0 } }],
    ['head', { head: { embeddingScale: -1 } }],
    ['head', { head: { embeddingScale: 'auto' } }],
    ['validationShare', { validationShare: 0 }],
    ['validationShare', { validationShare: 0.6 }],
    ['extra', { extra: 1 }],
  ])('rejects a bad %s', (_field, over) => {
    expect(neuralLinearConfigSchema.safeParse({ kind: 'neural-linear', ...over }).success).toBe(false);
  });
});

describe('backend', () => {
  test('selects a backend once, reports why the preferred ones were skipped', async () => {
    const info = neuralBackendInfo();
    expect(info).not.toBeNull();
    expect(['tensorflow', 'wasm', 'cpu']).toContain(info!.backend);
    expect(tf.getBackend()).toBe(info!.backend);
    if (info!.backend !== 'tensorflow') expect(info!.fallbacks[0]).toMatch(/^tensorflow: /);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`backend ${info!.backend}`);
    await initNeuralBackend({ log: (l) => lines.push(l) });
    expect(lines).toHaveLength(1);
  });
});

describe('weights', () => {
  test('seeded initialization: same seed same weights, shapes from the config', () => {
    const c = config();
    const a = initEncoderWeights(c, createRng('w'));
    const b = initEncoderWeights(c, createRng('w'));
    const d = initEncoderWeights(c, createRng('other'));
    expect(weightsChecksum(a)).toBe(weightsChecksum(b));
    expect(weightsChecksum(a)).not.toBe(weightsChecksum(d));
    expect(a.layers.map((l) => [l.inputs, l.units])).toEqual([
      [256, 16],
      [16, 8],
    ]);
    expect([a.output.inputs, a.output.units]).toEqual([8, 1]);
    // First layer U(±√(3/16)), deeper layers He uniform U(±√(6/16)) for relu.
    expect(Math.max(...a.layers[0]!.kernel.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(3 / 16));
    expect(Math.max(...a.layers[1]!.kernel.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 16));
    expect(() => checkWeights(config({ hidden: [16, 4] }), a)).toThrow(/layer 1/);
  });
});

/** inputBits 4, one hidden layer of 2 relu units, hand-set weights. */
function tinyWeights(): EncoderWeights {
  const kernel = new Float32Array(16 * 2);
  kernel[1 * 2] = 1;
  kernel[1 * 2 + 1] = -2;
  kernel[3 * 2] = 0.5;
  kernel[3 * 2 + 1] = 4;
  return {
    inputDim: 16,
    activation: 'relu',
    layers: [{ inputs: 16, units: 2, kernel, bias: Float32Array.from([0.5, 0.25]) }],
    output: { inputs: 2, units: 1, kernel: Float32Array.from([1, 1]), bias: Float32Array.from([0]) },
  };
}

describe('encoder', () => {
  test('exact embedding bag on a tiny net: masked indices, collisions summed, relu', () => {
    const enc = new Encoder(tinyWeights());
    const out = new Float64Array(6);
    // Row 0: index 17 masks to 1 and collides with 1: 0.75·W[1] + b = [1.25, −1.25] → relu [1.25, 0].
    // Row 1: W[3]·2 + b = [1.5, 8.25]. Row 2: empty → relu(b) = [0.5, 0.25].
    enc.embed([vec([[1, 0.5], [17, 0.25]]), vec([[3, 2]]), vec([])], 3, out);
    expect(Array.from(out)).toEqual([1.25, 0, 1.5, 8.25, 0.5, 0.25]);
    enc.dispose();
  });

  test('a row embeds the same alone and in any batch (bit for bit)', () => {
    const c = config();
    const enc = new Encoder(initEncoderWeights(c, createRng('batch')));
    const rng = createRng('rows');
    const rows = Array.from({ length: 30 }, () => {
      const n = 1 + rng.int(12);
      return vec(Array.from({ length: n }, () => [rng.int(DIM), rng.normal()] as const));
    });
    const all = new Float64Array(30 * enc.dim);
    enc.embed(rows, 30, all);
    const one = new Float64Array(enc.dim);
    for (let r = 0; r < 30; r++) {
      enc.embed([rows[r]!], 1, one);
      expect(Array.from(one)).toEqual(Array.from(all.subarray(r * enc.dim, (r + 1) * enc.dim)));
    }
    enc.dispose();
  });
});

describe('journal', () => {
  test('keeps the newest `capacity` outcomes with their full indices, and a retraction removes its outcome', () => {
    const j = new Journal(3);
    const x = (i: number) => vec([[i, 1], [300, 0.5]]);
    for (let i = 0; i < 5; i++) j.record(x(i), i, 1);
    let d = j.trainingData();
    expect(d.n).toBe(3);
    expect(Array.from(d.rewards)).toEqual([2, 3, 4]);
    // Not masked here (training masks to the encoder's input; the head-scale selection needs them whole).
    expect(Array.from(d.indices)).toEqual([2, 300, 3, 300, 4, 300]);
    j.record(vec([[3, 1], [44, 0.5]]), 3, -1); // 44 = 300 & 255 but another feature: no match
    j.record(x(3), 3, -0.5); // retraction: weight is ignored, the match is removed
    j.record(x(0), 0, -1); // its outcome left the window: nothing happens
    d = j.trainingData();
    expect(Array.from(d.rewards)).toEqual([2, 4]);
    expect(Array.from(d.offsets)).toEqual([0, 2, 4]);
  });

  test('compaction keeps the window intact over many appends', () => {
    const j = new Journal(7);
    const rng = createRng('journal');
    const kept: number[] = [];
    for (let t = 0; t < 500; t++) {
      const n = 1 + rng.int(9);
      j.record(vec(Array.from({ length: n }, (_, i) => [i * 13 + (t % 11), 1] as const)), t, 1 + (t % 3));
      kept.push(t);
    }
    const d = j.trainingData();
    expect(Array.from(d.rewards)).toEqual(kept.slice(-7));
    expect(Array.from(d.weights)).toEqual(kept.slice(-7).map((t) => 1 + (t % 3)));
  });
});

describe('policy', () => {
  test.each([1, 0.375])('the head is the linear-gaussian posterior over [s·φ(x) ; 1] (s = %s, no raw features)', (s) => {
    const c = config({ head: { noiseVariance: 0.5, priorVariance: 2, rawFeatures: false, embeddingScale: s } });
    const policy = createNeuralLinear(c);
    const reference = new LinearPosterior({
      structure: 'shared',
      noise: 'known',
      priorVariance: 2,
      noiseVariance: 0.5,
      nigA: 1,
      nigB: 1,
      contextBits: 1,
      covariance: 'full',
      maxDenseDims: 9,
    });
    const enc = new Encoder(policy.encoderWeights());
    const e = new Float64Array(8);
    const toHead = (x: SparseVector): SparseVector => {
      enc.embed([x], 1, e);
      return { dim: 9, nnz: 9, indices: Int32Array.from({ length: 9 }, (_, i) => i), values: Float64Array.from([...e.map((v) => s * v), 1]) };
    };
    const rng = createRng('head');
    const arms = Array.from({ length: 20 }, () => randomArm(rng));
    for (let t = 0; t < 20; t++) {
      const r = t % 3 === 0 ? 1 : 0;
      policy.update(outcome(arms[t]!), r, 1 + (t % 2));
      reference.update(outcome(toHead(arms[t]!)), r, 1 + (t % 2));
    }
    const input = decision(arms.slice(0, 6));
    const headInput: DecisionFeatures = { dim: 9, itemIds: input.itemIds, context: vec([]), arms: input.arms.map(toHead) };
    const [m1, s1, m2, s2, o1, o2] = Array.from({ length: 6 }, () => new Float64Array(6));
    policy.summarize(input, m1!, s1!);
    reference.summarize(headInput, m2!, s2!);
    expect(Array.from(m1!)).toEqual(Array.from(m2!));
    expect(Array.from(s1!)).toEqual(Array.from(s2!));
    policy.sample(input, createRng('draw'), o1!, 1);
    reference.sample(headInput, createRng('draw'), o2!, 1);
    expect(Array.from(o1!)).toEqual(Array.from(o2!));
    const prepared = new Float64Array(6);
    policy.prepare(input, 1)(createRng('draw'), prepared);
    expect(Array.from(prepared)).toEqual(Array.from(o1!));
    enc.dispose();
    policy.dispose();
  });

  test('buffered updates give exactly the head of one-at-a-time updates; a retraction restores it', () => {
    const c = config();
    const a = createNeuralLinear(c);
    const b = createNeuralLinear(c);
    const rng = createRng('lazy');
    const stream = Array.from({ length: 700 }, () => ({ x: outcome(randomArm(rng)), r: rng.uniform() }));
    const probe = decision([randomArm(rng), randomArm(rng)]);
    const scratch = new Float64Array(2);
    stream.forEach(({ x, r }, t) => {
      a.update(x, r, 1);
      a.sample(probe, createRng(`s${t}`), scratch, 1); // a read folds the one buffered update
    });
    for (const { x, r } of stream) b.update(x, r, 1); // folded in batches of 512 and 188
    expect(b.snapshot()).toEqual(a.snapshot());
    const before = a.snapshot() as { state: { head: { shared: { y: number[] } } } };
    const x = outcome(randomArm(rng));
    a.update(x, 1, 2);
    a.update(x, 1, -2);
    const after = a.snapshot() as typeof before;
    after.state.head.shared.y.forEach((v, i) => expect(v).toBeCloseTo(before.state.head.shared.y[i]!, 9));
    a.dispose();
    b.dispose();
  });

  test('rawFeatures (default): the head also regresses on the arm features, shifted past [s·φ ; 1]', () => {
    const policy = createNeuralLinear(config());
    const rng = createRng('raw');
    for (let t = 0; t < 50; t++) policy.update(outcome(randomArm(rng, 3)), t % 2, 1);
    // 9 embedding dims, then bias, 3 item indicators and 3 numeric features: 16 dense dims.
    expect(policy.describe()['head']).toMatchObject({ sharedDims: 16, denseDims: 16 });
    const mean = new Float64Array(2);
    const sd = new Float64Array(2);
    policy.summarize(decision([randomArm(rng, 3), vec([[4000, 1]])]), mean, sd);
    // A never-seen raw feature adds its prior variance τ² = 1 (times its value²) to the score's.
    expect(sd[1]! ** 2).toBeGreaterThan(1);
    policy.dispose();
  });

  test('version 0: s = 0 with raw features (the random encoder does not matter), 1 without, or the configured number', () => {
    expect(createNeuralLinear(config()).headScale).toBe(0);
    expect(createNeuralLinear(config({ head: { rawFeatures: false } })).headScale).toBe(1);
    expect(createNeuralLinear(config({ head: { embeddingScale: 0.25 } })).headScale).toBe(0.25);
    // Two different random encoders, the same outcomes: with s = 0 the same posterior scores.
    const a = createNeuralLinear(config({ seed: 1 }));
    const b = createNeuralLinear(config({ seed: 2 }));
    expect(weightsChecksum(a.encoderWeights())).not.toBe(weightsChecksum(b.encoderWeights()));
    const rng = createRng('s0');
    for (let t = 0; t < 40; t++) {
      const x = outcome(randomArm(rng));
      const r = rng.uniform();
      a.update(x, r, 1);
      b.update(x, r, 1);
    }
    const probe = decision([randomArm(rng), randomArm(rng), randomArm(rng)]);
    const [ma, sa, mb, sb] = Array.from({ length: 4 }, () => new Float64Array(3));
    a.summarize(probe, ma!, sa!);
    b.summarize(probe, mb!, sb!);
    expect(Array.from(ma!)).toEqual(Array.from(mb!));
    expect(Array.from(sa!)).toEqual(Array.from(sb!));
    expect(a.describe()).toMatchObject({ headScale: 0 });
    expect(() => new NeuralLinearPolicy(config(), a.encoderWeights(), 0, -1)).toThrow(RangeError);
    a.dispose();
    b.dispose();
  });

  test('registry builds it; it is not restored from a snapshot', () => {
    const p = createPolicy(policyConfigSchema.parse({ kind: 'neural-linear', inputBits: 6, hidden: [4] }));
    expect(p.kind).toBe('neural-linear');
    expect(() => createPolicy(policyConfigSchema.parse({ kind: 'neural-linear' }), p.snapshot())).toThrow(/artifact/);
    (p as NeuralLinearPolicy).dispose();
  });
});

/** A job on data whose reward is an XOR of two binary features (not linear in them). */
function xorJob(c: ReturnType<typeof config>, n: number, seed: string): RetrainJob {
  const rng = createRng(seed);
  const policy = createNeuralLinear(c);
  for (let t = 0; t < n; t++) {
    const a = rng.int(2);
    const b = rng.int(2);
    const x = vec([[0, 1], ...(a ? [[1, 1] as const] : []), ...(b ? [[2, 1] as const] : [])]);
    policy.update(outcome(x), a ^ b, 1);
  }
  const job = policy.prepareRetrain({ seed, range: { fromSeq: 1, toSeq: n, ordinals: n } });
  policy.dispose();
  return job;
}

describe('training', () => {
  test('learns a non-linear target: the weighted MSE falls, deterministically', () => {
    const c = config({ epochs: 30, batchSize: 32, learningRate: 0.02 });
    const r1 = trainEncoder(xorJob(c, 400, 'xor'));
    const r2 = trainEncoder(xorJob(c, 400, 'xor'));
    // 'validated' (default): about validationShare = 20% held out, the encoder trains on the rest.
    const held = r1.metrics.validation!.examples;
    expect(r1.metrics.examples + held).toBe(400);
    expect(held).toBeGreaterThan(400 * 0.2 - 3 * Math.sqrt(400 * 0.2 * 0.8));
    expect(held).toBeLessThan(400 * 0.2 + 3 * Math.sqrt(400 * 0.2 * 0.8));
    expect(r1.metrics.loss).toHaveLength(30);
    // Predicting the mean (0.5) costs 0.25; the XOR is learnable to well below that.
    expect(r1.metrics.loss[29]!).toBeLessThan(0.05);
    expect(weightsChecksum(r1.weights)).toBe(weightsChecksum(r2.weights));
    expect(r1.version).toBe(1);
    // The raw features cannot express an XOR: the held-out outcomes want the embeddings.
    expect(r1.headScale).toBeGreaterThan(0);
    expect(r1.headScale).toBe(r2.headScale);
    expect(r1.metrics.validation!.logLik).toHaveLength(r1.metrics.validation!.grid.length);
    const policy = createNeuralLinear(c);
    const next = policy.withRepresentation(r1);
    expect(next.headScale).toBe(r1.headScale);
    expect(next.describe()).toMatchObject({ headScale: r1.headScale, representationVersion: 1 });
    next.dispose();
    policy.dispose();
  });

  test('a fixed embeddingScale trains on the whole window and keeps that scale', () => {
    const c = config({ epochs: 2, batchSize: 32, head: { embeddingScale: 0.5 } });
    const r = trainEncoder(xorJob(c, 100, 'fixed'));
    expect(r.metrics.examples).toBe(100);
    expect(r.metrics.validation).toBeNull();
    expect(r.headScale).toBe(0.5);
  });

  test('tensor count is unchanged by many decisions, updates and retrains', () => {
    const c = config({ epochs: 2, batchSize: 64 });
    const rng = createRng('memory');
    let policy = createNeuralLinear(c);
    const warm = new Float64Array(20);
    const input = decision(Array.from({ length: 20 }, () => randomArm(rng)));
    policy.sample(input, rng, warm, 1);
    const before = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      for (let t = 0; t < 300; t++) {
        const d = decision(Array.from({ length: 20 }, () => randomArm(rng)));
        policy.sample(d, rng, warm, 1);
        policy.update(outcome(d.arms[t % 20]!), rng.uniform(), 1);
      }
      const job = policy.prepareRetrain({ seed: `r${round}`, range: { fromSeq: 0, toSeq: 0, ordinals: 0 } });
      const next = policy.withRepresentation(policy.retrainNow(job));
      policy.dispose();
      policy = next;
      expect(policy.representationVersion).toBe(round + 1);
    }
    policy.sample(input, rng, warm, 1);
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });
});
