/**
 * The held-out choice of the neural-linear head's embedding scale (src/policies/neural-linear/
 * scale.ts): the seeded holdout, row selection, the predictive log-likelihoods against closed
 * forms on tiny inputs (known noise and normal-inverse-gamma), and the choice itself — embeddings
 * that carry what the raw features cannot get s > 0, noise embeddings get s = 0.
 */
import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { logGamma } from '../../../src/core/stats.js';
import { neuralLinearConfigSchema, type NeuralLinearConfigInput } from '../../../src/policies/neural-linear/config.js';
import type { TrainingData } from '../../../src/policies/neural-linear/journal.js';
import {
  EMBEDDING_SCALE_GRID,
  holdoutMask,
  initialHeadScale,
  selectEmbeddingScale,
  selectRows,
} from '../../../src/policies/neural-linear/scale.js';

interface Row {
  readonly x: ReadonlyArray<readonly [number, number]>;
  readonly y: number;
  readonly w?: number;
}

function data(rows: readonly Row[]): TrainingData {
  const offsets = new Int32Array(rows.length + 1);
  const pairs = rows.flatMap((r) => r.x);
  let p = 0;
  rows.forEach((r, i) => {
    p += r.x.length;
    offsets[i + 1] = p;
  });
  return {
    n: rows.length,
    offsets,
    indices: Int32Array.from(pairs.map(([j]) => j)),
    values: Float32Array.from(pairs.map(([, v]) => v)),
    rewards: Float32Array.from(rows.map((r) => r.y)),
    weights: Float32Array.from(rows.map((r) => r.w ?? 1)),
  };
}

function head(over: Partial<NonNullable<NeuralLinearConfigInput['head']>> = {}) {
  return neuralLinearConfigSchema.parse({ kind: 'neural-linear', head: over }).head;
}

const gaussLog = (r: number, v: number) => -0.5 * Math.log(2 * Math.PI * v) - (r * r) / (2 * v);

describe('holdout', () => {
  test('one seeded draw per outcome; share 0 holds nothing out; share must be in [0, 1)', () => {
    const a = holdoutMask(1000, 0.2, createRng('h'));
    expect(Array.from(a)).toEqual(Array.from(holdoutMask(1000, 0.2, createRng('h'))));
    const held = a.reduce((s, x) => s + x, 0);
    // Binomial(1000, 0.2): mean 200, sd 12.6.
    expect(Math.abs(held - 200)).toBeLessThan(4 * 12.6);
    expect(holdoutMask(50, 0, createRng('h')).every((x) => x === 0)).toBe(true);
    expect(() => holdoutMask(5, 1, createRng('h'))).toThrow(RangeError);
    expect(() => holdoutMask(5, -0.1, createRng('h'))).toThrow(RangeError);
  });

  test('selectRows keeps the rows of one side, in order', () => {
    const d = data([
      { x: [[1, 1]], y: 0.1, w: 2 },
      { x: [[2, 1], [7, 0.5]], y: 0.2 },
      { x: [], y: 0.3 },
      { x: [[9, -1]], y: 0.4 },
    ]);
    const kept = selectRows(d, Uint8Array.from([0, 1, 0, 1]), 1);
    expect(kept.n).toBe(2);
    expect(Array.from(kept.offsets)).toEqual([0, 2, 3]);
    expect(Array.from(kept.indices)).toEqual([2, 7, 9]);
    expect(Array.from(kept.values)).toEqual([1, 0.5, -1]);
    expect(Array.from(kept.rewards)).toEqual([Math.fround(0.2), Math.fround(0.4)]);
    const rest = selectRows(d, Uint8Array.from([0, 1, 0, 1]), 0);
    expect(Array.from(rest.weights)).toEqual([2, 1]);
    expect(Array.from(rest.offsets)).toEqual([0, 1, 1]);
  });

  test('the scale of version 0', () => {
    const cfg = (h: object) => neuralLinearConfigSchema.parse({ kind: 'neural-linear', head: h });
    expect(initialHeadScale(cfg({}))).toBe(0);
    expect(initialHeadScale(cfg({ rawFeatures: false }))).toBe(1);
    expect(initialHeadScale(cfg({ embeddingScale: 3 }))).toBe(3);
  });
});

// Five outcomes with one embedding dimension (d = 1) and no raw features; the last two held out.
const tiny: Row[] = [
  { x: [], y: 1, w: 1 },
  { x: [], y: 0, w: 2 },
  { x: [], y: 1, w: 1 },
  { x: [], y: 0.5, w: 1 },
  { x: [], y: 0, w: 0.5 },
];
const phi = Float64Array.from([0.5, -1, 2, 1.5, -0.5]);
const heldOut = Uint8Array.from([0, 0, 0, 1, 1]);

describe('held-out predictive log-likelihood (closed forms, d = 1, head [s·φ ; 1])', () => {
  test('known noise: s = 0 is the bias-only model, s = 1 the 2 × 2 regression', () => {
    const h = head({ rawFeatures: false, priorVariance: 2, noiseVariance: 0.5 });
    const sel = selectEmbeddingScale(data(tiny), heldOut, phi, 1, h, [0, 1])!;
    expect(sel.examples).toBe(2);
    const [tau2, s2] = [2, 0.5];
    const train = [0, 1, 2];
    const val = [3, 4];
    // s = 0: precision of the bias 1/τ² + Σw/σ², mean Σwy/σ² / precision.
    const sw = train.reduce((s, i) => s + tiny[i]!.w!, 0);
    const swy = train.reduce((s, i) => s + tiny[i]!.w! * tiny[i]!.y, 0);
    const prec = 1 / tau2 + sw / s2;
    const m0 = swy / s2 / prec;
    const ll0 = val.reduce((s, i) => s + gaussLog(tiny[i]!.y - m0, s2 / tiny[i]!.w! + 1 / prec), 0);
    expect(sel.logLik[0]).toBeCloseTo(ll0, 10);
    // s = 1: A = I/τ² + Σ w z zᵀ / σ², z = (φ, 1).
    let [a11, a12, a22, b1, b2] = [1 / tau2, 0, 1 / tau2, 0, 0];
    for (const i of train) {
      const w = tiny[i]!.w!;
      a11 += (w * phi[i]! * phi[i]!) / s2;
      a12 += (w * phi[i]!) / s2;
      a22 += w / s2;
      b1 += (w * phi[i]! * tiny[i]!.y) / s2;
      b2 += (w * tiny[i]!.y) / s2;
    }
    const det = a11 * a22 - a12 * a12;
    const inv = [a22 / det, -a12 / det, a11 / det];
    const mu = [inv[0]! * b1 + inv[1]! * b2, inv[1]! * b1 + inv[2]! * b2];
    const ll1 = val.reduce((s, i) => {
      const z = [phi[i]!, 1];
      const q = z[0]! * z[0]! * inv[0]! + 2 * z[0]! * z[1]! * inv[1]! + z[1]! * z[1]! * inv[2]!;
      return s + gaussLog(tiny[i]!.y - (z[0]! * mu[0]! + z[1]! * mu[1]!), s2 / tiny[i]!.w! + q);
    }, 0);
    expect(sel.logLik[1]).toBeCloseTo(ll1, 10);
    expect(sel.grid).toEqual([0, 1]);
    expect(sel.best).toBe(sel.logLik[1]! > sel.logLik[0]! ? 1 : 0);
  });

  test('normal-inverse-gamma: Student-t predictive of the bias-only model', () => {
    const h = head({ rawFeatures: false, noise: 'nig', priorVariance: 3, nigPrior: { a: 2, b: 0.5 } });
    const sel = selectEmbeddingScale(data(tiny), heldOut, phi, 1, h, [0, 0.5])!;
    const train = [0, 1, 2];
    const sw = train.reduce((s, i) => s + tiny[i]!.w!, 0);
    const swy = train.reduce((s, i) => s + tiny[i]!.w! * tiny[i]!.y, 0);
    const swyy = train.reduce((s, i) => s + tiny[i]!.w! * tiny[i]!.y ** 2, 0);
    const A = 1 / 3 + sw;
    const mu = swy / A;
    const aN = 2 + sw / 2;
    const bN = 0.5 + (swyy - mu * mu * A) / 2;
    const nu = 2 * aN;
    const t = (r: number, scale2: number) =>
      logGamma((nu + 1) / 2) - logGamma(nu / 2) - 0.5 * Math.log(nu * Math.PI * scale2) - ((nu + 1) / 2) * Math.log1p((r * r) / (nu * scale2));
    const ll0 = [3, 4].reduce((s, i) => s + t(tiny[i]!.y - mu, (bN / aN) * (1 / tiny[i]!.w! + 1 / A)), 0);
    expect(sel.logLik[0]).toBeCloseTo(ll0, 10);
    expect(Number.isFinite(sel.logLik[1]!)).toBe(true);
  });

  test('nothing held out, or nothing left to fit: null; shapes are checked', () => {
    const d = data(tiny);
    expect(selectEmbeddingScale(d, new Uint8Array(5), phi, 1, head())).toBeNull();
    expect(selectEmbeddingScale(d, new Uint8Array(5).fill(1), phi, 1, head())).toBeNull();
    expect(() => selectEmbeddingScale(d, new Uint8Array(4), phi, 1, head())).toThrow(RangeError);
    expect(() => selectEmbeddingScale(d, heldOut, phi, 2, head())).toThrow(RangeError);
  });
});

/**
 * 600 outcomes: raw features (bias index 0, u at index 5), two embedding dimensions. `target`
 * gives the reward from u, `embed` the two embedding values.
 */
function world(seed: string, target: (u: number) => number, embed: (u: number, rng: ReturnType<typeof createRng>) => [number, number]) {
  const rng = createRng(seed);
  const rows: Row[] = [];
  const emb = new Float64Array(600 * 2);
  for (let i = 0; i < 600; i++) {
    const u = rng.normal();
    rows.push({ x: [[0, 1], [5, u]], y: target(u) + 0.5 * rng.normal() });
    const [e0, e1] = embed(u, rng);
    emb[2 * i] = e0;
    emb[2 * i + 1] = e1;
  }
  return { d: data(rows), emb, mask: holdoutMask(600, 0.2, createRng(`${seed}:holdout`)) };
}

describe('the choice', () => {
  test('an embedding that carries what the raw features cannot (|u|) gets s > 0', () => {
    const w = world('abs', (u) => Math.abs(u), (u, rng) => [Math.abs(u), rng.normal()]);
    const sel = selectEmbeddingScale(w.d, w.mask, w.emb, 2, head())!;
    expect(sel.grid).toEqual(EMBEDDING_SCALE_GRID);
    expect(sel.scale).toBeGreaterThan(0);
    expect(sel.scale).toBeLessThanOrEqual(sel.best);
    const at = (s: number) => sel.logLik[sel.grid.indexOf(s)]!;
    expect(at(sel.scale)).toBeGreaterThan(at(0));
  });

  test('where the truth is linear in the raw features and the embedding is noise: s = 0', () => {
    const w = world('linear', (u) => 0.8 * u, (_u, rng) => [rng.normal(), rng.normal()]);
    const sel = selectEmbeddingScale(w.d, w.mask, w.emb, 2, head())!;
    expect(sel.scale).toBe(0);
  });

  test('the standard-error rule: the smallest s within SE_RULE standard errors of the best, not the best', () => {
    // A weak embedding signal: the best grid value beats s = 0 by less than SE_RULE standard errors.
    const w = world('weak', (u) => 0.8 * u + 0.02 * Math.abs(u), (u, rng) => [Math.abs(u), rng.normal()]);
    const sel = selectEmbeddingScale(w.d, w.mask, w.emb, 2, head())!;
    expect(sel.best).toBeGreaterThan(0);
    expect(sel.scale).toBe(0);
  });
});
