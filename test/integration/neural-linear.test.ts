/**
 * neural-linear through the engine: retrains triggered every N outcomes (inline) bump the
 * representation version; a worker-thread retrain gives exactly the inline result while serving
 * goes on with the old encoder; save → load (artifact + log replay) → the same next decision;
 * the artifact is a tfjs layers model that predicts what the sparse encoder computes; and
 * `liubai train` writes versioned artifacts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import { Engine } from '../../src/engine/engine.js';
import type { ModelConfigInput } from '../../src/engine/config.js';
import { trainCommand } from '../../src/cli/train.js';
import { initNeuralBackend } from '../../src/policies/neural-linear/index.js';
import { loadArtifact } from '../../src/policies/neural-linear/artifacts.js';
import { createNeuralRuntime } from '../../src/policies/neural-linear/runtime.js';
import { Encoder } from '../../src/policies/neural-linear/encoder.js';
import { MemoryStore } from '../../src/storage/memory/index.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';
import type { Store } from '../../src/storage/types.js';
import { sparseFromPairs } from '../../src/features/types.js';

const dir = mkdtempSync(join(tmpdir(), 'liubai-neural-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await initNeuralBackend({ log: () => {} });
});

const MODEL = 'nn';
const config = (over: Record<string, unknown> = {}): ModelConfigInput => ({
  policy: { kind: 'neural-linear', inputBits: 8, hidden: [16, 8], epochs: 4, batchSize: 32, retrainEvery: 0, ...over },
  features: { bits: 10, interactions: [['user', 'id']] },
  budget: { share: 0, perUser: null },
  fatigue: { enabled: false },
  feedback: { rewardWindowSeconds: 60 },
  propensity: { draws: 16 },
  slots: 2,
  seed: 5,
});

const candidates = Array.from({ length: 5 }, (_, i) => ({ id: `item-${i}`, group: `g${i % 2}` }));

/** Deterministic traffic: a click when the item matches the sign pattern of the user's features. */
function traffic(engine: Engine, clock: { now: number }, from: number, n: number, eventIds: string[]): void {
  const rng = createRng(`traffic-${from}`);
  for (let t = from; t < from + n; t++) {
    clock.now += 1000;
    const x = [rng.normal(), rng.normal()];
    const best = (x[0]! > 0 ? 1 : 0) + (x[1]! > 0 ? 2 : 0);
    const eventId = `e${t}`;
    const r = engine.rank(MODEL, { eventId, context: { user: { a: x[0]!, b: x[1]! } }, candidates });
    eventIds.push(eventId);
    for (const s of r.slate) if (s.id === `item-${best}` && rng.uniform() < 0.8) engine.feedback(MODEL, { eventId, itemId: s.id, kind: 'click' });
    engine.tick(clock.now - 60_000);
  }
  engine.tick(clock.now + 120_000);
}

/** A new memory store holding the same model, decisions and learning log (same seqs). */
function copyStore(from: Store, eventIds: readonly string[]): MemoryStore {
  const to = new MemoryStore();
  to.putModel(from.getModel(MODEL)!);
  for (const id of eventIds) to.insertDecision(from.getDecision(MODEL, id)!);
  for (const o of from.outcomesAfter(MODEL, 0, 1e9)) {
    const { seq, ...rest } = o;
    expect(to.appendOutcome(rest)).toBe(seq);
  }
  return to;
}

const probe = { context: { user: { a: 0.3, b: -1.2 } }, candidates };

describe('neural-linear in the engine', () => {
  test('retrains every N outcomes inline and bumps the representation version', () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const engine = new Engine({ store: new MemoryStore(), clock: () => clock.now, snapshotEvery: 0 });
    engine.putModel(MODEL, config({ retrainEvery: 100 }));
    traffic(engine, clock, 0, 120, []);
    const model = engine.model(MODEL);
    const outcomes = model.describePosterior()['outcomes'] as number;
    expect(outcomes).toBeGreaterThanOrEqual(200);
    expect(model.representationVersion).toBe(Math.floor(outcomes / 100));
    expect(model.describePosterior()).toMatchObject({ kind: 'neural-linear', representationVersion: model.representationVersion });
    // Every decision records the encoder version it was scored with.
    const ids: string[] = [];
    const scoredWith = model.representationVersion;
    traffic(engine, clock, 120, 1, ids);
    const logged = engine.store.getDecision(MODEL, ids[0]!)!;
    expect(logged.representationVersion).toBe(scoredWith);
    expect(engine.rank(MODEL, { ...probe, eventId: 'probe' }).representationVersion).toBe(model.representationVersion);
    expect(scoredWith).toBeGreaterThanOrEqual(2);
    engine.deleteModel(MODEL);
  });

  test('a worker-thread retrain equals the inline one; serving continues on the old encoder meanwhile', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const store = new MemoryStore();
    const engine = new Engine({ store, clock: () => clock.now, snapshotEvery: 0 });
    engine.putModel(MODEL, config());
    const ids: string[] = [];
    traffic(engine, clock, 0, 80, ids);

    const runtime = await createNeuralRuntime({ worker: true, log: () => {} });
    const viaWorker = new Engine({ store: copyStore(store, ids), clock: () => clock.now, snapshotEvery: 0, retrain: runtime });
    const inline = new Engine({ store: copyStore(store, ids), clock: () => clock.now, snapshotEvery: 0 });
    try {
      const pending = viaWorker.model(MODEL).retrain();
      // Still serving (and learning) with version 0 while the worker trains.
      const during = viaWorker.rank(MODEL, { ...probe, eventId: 'during' });
      expect(during.slate).toHaveLength(2);
      expect(viaWorker.model(MODEL).representationVersion).toBe(0);
      const a = await pending;
      expect(a.version).toBe(1);
      expect(viaWorker.model(MODEL).representationVersion).toBe(1);
      // The same decision, and the same outcomes, in the inline copy.
      inline.rank(MODEL, { ...probe, eventId: 'during' });
      const b = await inline.model(MODEL).retrain();
      expect(b.metrics.examples).toBe(a.metrics.examples);
      expect(b.metrics.loss).toEqual(a.metrics.loss);
      expect(inline.model(MODEL).posteriorSnapshot()).toEqual(viaWorker.model(MODEL).posteriorSnapshot());
    } finally {
      await runtime.close();
      viaWorker.deleteModel(MODEL);
      inline.deleteModel(MODEL);
      engine.deleteModel(MODEL);
    }
  });

  test('save → load → the same next decision (artifact + log replay); tensors do not pile up', async () => {
    const modelsDir = join(dir, 'models');
    const clock = { now: Date.UTC(2026, 0, 1) };
    const store = new MemoryStore();
    const saver = await createNeuralRuntime({ worker: false, modelsDir, clock: () => 0, log: () => {} });
    const engine = new Engine({ store, clock: () => clock.now, snapshotEvery: 0, retrain: saver });
    engine.putModel(MODEL, config());
    const ids: string[] = [];
    traffic(engine, clock, 0, 60, ids);
    const summary = await engine.model(MODEL).retrain();
    expect(summary.artifact).toBe(join(modelsDir, MODEL, '1'));
    traffic(engine, clock, 60, 30, ids); // the head keeps learning after the switch

    const tensors = tf.memory().numTensors;
    const loader = await createNeuralRuntime({ worker: false, modelsDir, log: () => {} });
    await loader.preload([MODEL]);
    const restored = new Engine({ store: copyStore(store, ids), clock: () => clock.now, snapshotEvery: 0, retrain: loader });
    expect(restored.model(MODEL).representationVersion).toBe(1);
    expect(restored.model(MODEL).posteriorSnapshot()).toEqual(engine.model(MODEL).posteriorSnapshot());
    const original = engine.rank(MODEL, { ...probe, eventId: 'next' });
    const again = restored.rank(MODEL, { ...probe, eventId: 'next' });
    expect(again).toEqual(original);
    restored.deleteModel(MODEL);
    expect(tf.memory().numTensors).toBe(tensors);
    engine.deleteModel(MODEL);

    // The manifest says what the encoder was trained on.
    const manifest = JSON.parse(readFileSync(join(modelsDir, MODEL, '1', 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ modelId: MODEL, version: 1, seed: expect.any(String), range: summary.range });
    expect(manifest['metrics']).toMatchObject({ examples: summary.metrics.examples, epochs: 4 });
  });

  test('the artifact is a tfjs layers model predicting what the sparse encoder computes', async () => {
    const artifact = await loadArtifact(join(dir, 'models', MODEL, '1'));
    const w = artifact.result.weights;
    const modelJson = JSON.parse(readFileSync(join(artifact.dir, 'model.json'), 'utf8')) as {
      modelTopology: object;
      weightsManifest: Array<{ weights: tf.io.WeightsManifestEntry[] }>;
    };
    const bytes = readFileSync(join(artifact.dir, 'weights.bin'));
    const layers = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0]!.weights,
        weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      }),
    );
    const x = sparseFromPairs(1024, [
      [3, 1],
      [700, -0.5],
      [259, 2], // 259 & 255 = 3: collides with index 3
    ]);
    const dense = new Float32Array(256);
    for (let j = 0; j < x.nnz; j++) dense[x.indices[j]! & 255] = dense[x.indices[j]! & 255]! + x.values[j]!;
    const predicted = tf.tidy(() => (layers.predict(tf.tensor2d(dense, [1, 256])) as tf.Tensor).dataSync()[0]!);
    layers.dispose();
    const enc = new Encoder(w);
    const phi = new Float64Array(enc.dim);
    enc.embed([x], 1, phi);
    enc.dispose();
    let ours = w.output.bias[0]!;
    for (let c = 0; c < enc.dim; c++) ours += phi[c]! * w.output.kernel[c]!;
    expect(predicted).toBeCloseTo(ours, 4);
  });
});

describe('liubai train', () => {
  test('retrains from the database and writes versioned artifacts', async () => {
    const db = join(dir, 'train.db');
    const modelsDir = join(dir, 'cli-models');
    const store = openSqliteStore(db);
    const clock = { now: Date.UTC(2026, 0, 1) };
    const engine = new Engine({ store, clock: () => clock.now, snapshotEvery: 0 });
    engine.putModel(MODEL, config());
    traffic(engine, clock, 0, 40, []);
    store.close();

    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
    const args = ['--model', MODEL, '--db', db, '--models-dir', modelsDir];
    expect(await trainCommand(args, io, {})).toBe(0);
    expect(await trainCommand(args, io, {})).toBe(0);
    const [first, second] = out.map((l) => JSON.parse(l) as { version: number; artifact: string; metrics: { examples: number } });
    expect(first!.version).toBe(1);
    expect(second!.version).toBe(2);
    expect(second!.artifact).toBe(join(modelsDir, MODEL, '2'));
    expect(first!.metrics.examples).toBeGreaterThan(0);
    expect(await trainCommand(['--model', 'missing', '--db', db], io, {})).toBe(2);
    expect(await trainCommand(['--db', db], io, {})).toBe(2);
    expect(err.join('')).toMatch(/no model "missing"/);
  });
});
