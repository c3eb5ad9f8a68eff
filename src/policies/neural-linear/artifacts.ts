/**
 * Encoder artifacts on disk (I/O edge of this folder: node:fs). One retrain of model `m` adopted
 * as version `v` is the folder `<root>/m/v/`:
 * - `model.json` + `weights.bin`: the encoder and its training output layer as a plain tfjs
 *   layers model (Dense layers on the densified 2^inputBits input — the sparse first layer is that
 *   Dense layer's kernel), so `tf.loadLayersModel` can load it anywhere. Written with
 *   `tf.io.withSaveHandler` and read with a custom `LoadHandler`, both over node:fs (no
 *   tfjs-node needed);
 * - `manifest.json`: the policy config, the learning-log range it was trained on, its seed, the
 *   backend, training metrics (with the held-out log-likelihoods of the head-scale selection),
 *   the weights' checksum, and `headScale`, the scale s of the embedding block in the head
 *   (absent in manifests written before it existed: 1, the head they were used with).
 * A version folder is written under a temporary name and renamed, so a reader never sees half an
 * artifact.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadedTf, neuralBackendInfo } from './backend.js';
import { neuralLinearConfigSchema, type NeuralLinearConfig } from './config.js';
import type { RetrainInfo } from './retrainable.js';
import type { RetrainResult } from './train.js';
import { checkWeights, weightsChecksum, type DenseWeights, type EncoderWeights } from './weights.js';

/** Format tag and version of `manifest.json`. */
export const ARTIFACT_FORMAT = 'liubai-neural-linear';
export const ARTIFACT_FORMAT_VERSION = 1;

const rangeSchema = z
  .object({ fromSeq: z.number().int().min(0), toSeq: z.number().int().min(0), ordinals: z.number().int().min(0) })
  .strict();

/** `manifest.json` of an artifact. */
export const manifestSchema = z
  .object({
    format: z.literal(ARTIFACT_FORMAT),
    formatVersion: z.literal(ARTIFACT_FORMAT_VERSION),
    modelId: z.string().min(1),
    version: z.number().int().min(1),
    modelVersion: z.number().int().min(0),
    config: neuralLinearConfigSchema,
    seed: z.string(),
    range: rangeSchema,
    backend: z.string(),
    metrics: z
      .object({
        examples: z.number().int().min(0),
        epochs: z.number().int().min(0),
        steps: z.number().int().min(0),
        loss: z.array(z.number().nullable()),
        backend: z.string(),
        validation: z
          .object({
            scale: z.number().min(0),
            best: z.number().min(0),
            examples: z.number().int().min(0),
            grid: z.array(z.number().min(0)),
            logLik: z.array(z.number().nullable()),
          })
          .strict()
          .nullable()
          .default(null),
      })
      .strict(),
    headScale: z.number().min(0).max(1e6).default(1),
    checksum: z.string(),
    durationMs: z.number().min(0).nullable(),
    replayed: z.number().int().min(0).nullable(),
    savedAt: z.number().nullable(),
    files: z.object({ model: z.string(), weights: z.string() }).strict(),
  })
  .strict();

export type ArtifactManifest = z.output<typeof manifestSchema>;

/** A loaded artifact: the retrain result it holds and its manifest. */
export interface LoadedArtifact {
  readonly dir: string;
  readonly manifest: ArtifactManifest;
  readonly result: RetrainResult;
}

const MODEL_FILE = 'model.json';
const finiteOrNull = (xs: readonly number[]) => xs.map((x) => (Number.isFinite(x) ? x : null));
const WEIGHTS_FILE = 'weights.bin';
const MANIFEST_FILE = 'manifest.json';

/** `<root>/<modelId>/<version>`. */
export function artifactDir(root: string, modelId: string, version: number): string {
  return join(root, modelId, String(version));
}

/** The equivalent tfjs Sequential model (Dense layers), weights set from `w`. Caller disposes it. */
function layersModel(config: NeuralLinearConfig, w: EncoderWeights): LayersModel {
  const tf = loadedTf();
  const model = tf.sequential();
  const dense = (d: DenseWeights, activation: 'relu' | 'tanh' | 'elu' | 'sigmoid' | 'linear', first: boolean) => {
    const layer = tf.layers.dense({
      units: d.units,
      activation,
      kernelInitializer: 'zeros',
      biasInitializer: 'zeros',
      ...(first ? { inputShape: [d.inputs] } : {}),
    });
    model.add(layer);
    const kernel = tf.tensor2d(d.kernel, [d.inputs, d.units]);
    const bias = tf.tensor1d(d.bias);
    layer.setWeights([kernel, bias]);
    kernel.dispose();
    bias.dispose();
  };
  w.layers.forEach((l, i) => dense(l, config.activation, i === 0));
  dense(w.output, config.loss === 'bce' ? 'sigmoid' : 'linear', false);
  return model;
}

function joinBuffers(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  const parts = Array.isArray(data) ? data : [data];
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Write the artifact of an adopted retrain to `<root>/<modelId>/<version>/` (replacing an
 * existing folder of that version).
 * @param savedAt when (ms since the epoch, from the caller's clock), or null
 * @returns the folder written
 * @throws Error on I/O failure (nothing is left under the final name then)
 */
export async function saveArtifact(root: string, result: RetrainResult, info: RetrainInfo, savedAt: number | null): Promise<string> {
  const tf = loadedTf();
  const config = neuralLinearConfigSchema.parse(info.policyConfig);
  checkWeights(config, result.weights);
  const dir = artifactDir(root, info.modelId, result.version);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const model = layersModel(config, result.weights);
  try {
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weights = joinBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
        const json = {
          format: artifacts.format ?? 'layers-model',
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy ?? null,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        };
        writeFileSync(join(tmp, MODEL_FILE), JSON.stringify(json));
        writeFileSync(join(tmp, WEIGHTS_FILE), weights);
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
      }),
    );
  } finally {
    model.dispose();
  }
  const manifest: ArtifactManifest = {
    format: ARTIFACT_FORMAT,
    formatVersion: ARTIFACT_FORMAT_VERSION,
    modelId: info.modelId,
    version: result.version,
    modelVersion: info.modelVersion,
    config,
    seed: result.seed,
    range: result.range,
    backend: neuralBackendInfo()?.backend ?? tf.getBackend(),
    metrics: {
      ...result.metrics,
      loss: finiteOrNull(result.metrics.loss),
      validation: result.metrics.validation ? { ...result.metrics.validation, grid: [...result.metrics.validation.grid], logLik: finiteOrNull(result.metrics.validation.logLik) } : null,
    },
    headScale: result.headScale,
    checksum: weightsChecksum(result.weights),
    durationMs: info.durationMs,
    replayed: info.replayed,
    savedAt,
    files: { model: MODEL_FILE, weights: WEIGHTS_FILE },
  };
  writeFileSync(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/**
 * Read an artifact folder: the manifest (validated), then the encoder through
 * `tf.loadLayersModel` with a LoadHandler over node:fs; the weights must match the manifest's
 * config and checksum.
 * @throws Error naming the file and the problem
 */
export async function loadArtifact(dir: string): Promise<LoadedArtifact> {
  const tf = loadedTf();
  const manifestPath = join(dir, MANIFEST_FILE);
  const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(manifestPath, 'utf8')));
  if (!parsed.success) {
    throw new Error(`${manifestPath}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  const manifest = parsed.data;
  const modelJson = JSON.parse(readFileSync(join(dir, manifest.files.model), 'utf8')) as {
    modelTopology: object;
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    weightsManifest: Array<{ paths: string[]; weights: import('@tensorflow/tfjs').io.WeightsManifestEntry[] }>;
  };
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const bytes = readFileSync(join(dir, manifest.files.weights));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const model = await tf.loadLayersModel({
    load: async () => ({
      modelTopology: modelJson.modelTopology,
      weightSpecs: specs,
      weightData,
      ...(modelJson.format !== undefined ? { format: modelJson.format } : {}),
      ...(modelJson.generatedBy !== undefined ? { generatedBy: modelJson.generatedBy } : {}),
    }),
  });
  let layers: DenseWeights[];
  try {
    const tensors = model.getWeights();
    layers = [];
    for (let i = 0; i + 1 < tensors.length; i += 2) {
      const kernel = tensors[i]!;
      const bias = tensors[i + 1]!;
      const [inputs, units] = kernel.shape as [number, number];
      layers.push({ inputs, units, kernel: Float32Array.from(kernel.dataSync()), bias: Float32Array.from(bias.dataSync()) });
    }
  } finally {
    model.dispose();
  }
  const output = layers.pop();
  if (!output || layers.length === 0) throw new Error(`${dir}: the model has no hidden layer`);
  const weights: EncoderWeights = { inputDim: layers[0]!.inputs, activation: manifest.config.activation, layers, output };
  checkWeights(manifest.config, weights);
  const checksum = weightsChecksum(weights);
  if (checksum !== manifest.checksum) throw new Error(`${dir}: weights checksum ${checksum} ≠ manifest ${manifest.checksum}`);
  const nanForNull = (xs: ReadonlyArray<number | null>) => xs.map((x) => x ?? Number.NaN);
  const v = manifest.metrics.validation;
  return {
    dir,
    manifest,
    result: {
      version: manifest.version,
      seed: manifest.seed,
      weights,
      headScale: manifest.headScale,
      metrics: { ...manifest.metrics, loss: nanForNull(manifest.metrics.loss), validation: v ? { ...v, logLik: nanForNull(v.logLik) } : null },
      range: manifest.range,
    },
  };
}

/** Versions of a model's artifacts present under `root`, ascending (complete folders only). */
export function artifactVersions(root: string, modelId: string): number[] {
  const base = join(root, modelId);
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((name) => /^[1-9]\d*$/.test(name) && existsSync(join(base, name, MANIFEST_FILE)))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The latest artifact of a model, or undefined when it has none.
 * @throws Error when the latest folder is unreadable or inconsistent
 */
export async function loadLatestArtifact(root: string, modelId: string): Promise<LoadedArtifact | undefined> {
  const versions = artifactVersions(root, modelId);
  const v = versions[versions.length - 1];
  return v === undefined ? undefined : loadArtifact(artifactDir(root, modelId, v));
}
