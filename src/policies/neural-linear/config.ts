/**
 * Config of the `neural-linear` policy (no tensorflow.js here: the registry imports this file on
 * every start, and tfjs is loaded only when a neural-linear model exists).
 */
import { z } from 'zod';

/** Activation of the encoder's hidden layers. */
export const activationSchema = z.enum(['relu', 'tanh', 'elu', 'sigmoid']);
export type Activation = z.output<typeof activationSchema>;

/**
 * The Bayesian linear head over the encoder's last layer: the `linear-gaussian` posterior in
 * `shared` structure with full covariance over [s·φ(x) ; 1] and, with `rawFeatures`, the arm's
 * hashed features x after them.
 * - `noise`: `known` (σ² = `noiseVariance`) or `nig` (σ² ~ InvGamma(a, b), learned);
 * - `priorVariance` τ²: prior variance of each head weight;
 * - `rawFeatures` (default true): also regress on the hashed arm features themselves,
 *   [s·φ ; 1 ; x] ("wide & deep", Cheng et al. 2016), so the head contains the `linear-gaussian`
 *   shared model (plus a constant) as the special case s = 0; the raw dimensions get a dense
 *   covariance for the first `maxDenseDims` seen, diagonal after;
 * - `embeddingScale` s (default `validated`): a fixed number, or chosen at every retrain on the
 *   held-out share `validationShare` of the training window (./scale.ts: cross-validated
 *   predictive likelihood, two-standard-error rule, grid 0 and 2^−8…2^2). With `validated`, the
 *   untrained encoder of version 0 gets s = 0 with `rawFeatures`, else 1. `rawFeatures: false`
 *   with `embeddingScale: 1` is the NeuralLinear of Riquelme et al. 2018.
 */
export const headConfigSchema = z
  .object({
    noise: z.enum(['known', 'nig']).default('known'),
    priorVariance: z.number().positive().max(1e12).default(1),
    noiseVariance: z.number().positive().max(1e12).default(0.25),
    nigPrior: z
      .object({
        a: z.number().positive().max(1e12).default(1),
        b: z.number().positive().max(1e12).default(1),
      })
      .strict()
      .default({ a: 1, b: 1 }),
    rawFeatures: z.boolean().default(true),
    maxDenseDims: z.number().int().min(8).max(2048).default(256),
    embeddingScale: z.union([z.literal('validated'), z.number().min(0).max(1e6)]).default('validated'),
  })
  .strict();

/**
 * `neural-linear` policy config (Riquelme, Tucker & Snoek 2018, "Deep Bayesian Bandits
 * Showdown", §3 NeuralLinear): an MLP encoder φ learned from the log by weighted regression of the
 * rewards, and Thompson sampling from a Bayesian linear regression on [s·φ(x) ; 1 ; x] (`head`).
 *
 * - `hidden` (1–4 layers of 1–1024 units, default [64, 32]): layer sizes; the last is the head's d;
 * - `activation` (default `relu`);
 * - `inputBits` (4–16, default 12): the hashed arm vector enters the encoder with its indices
 *   masked to `idx & (2^inputBits − 1)` (collisions summed), so the first layer is a
 *   2^inputBits × hidden[0] embedding table whatever the featurizer's `bits`;
 * - `loss` (default `mse`): weighted squared error, or `bce` (weighted binary cross-entropy on a
 *   sigmoid output; rewards clipped to [0, 1]) — the training objective only, the head is Gaussian;
 * - `learningRate` (Adam), `epochs`, `batchSize`: training of one retrain;
 * - `retrainEvery` (outcomes; 0 = only on demand, `liubai train`);
 * - `maxTrainingOutcomes`: the encoder trains on the most recent outcomes of the log, at most this
 *   many (retracted ones removed); the head always covers the whole log;
 * - `validationShare` (0 < share ≤ 0.5, default 0.2): with `head.embeddingScale: 'validated'`, the
 *   share of the training window held out (a seeded draw per outcome) to choose the scale; the
 *   encoder never trains on it (the head still folds it);
 * - `warmStart` (default true): a retrain starts from the current encoder, else from a fresh
 *   seeded initialization;
 * - `seed`: seed of the initial weights and of every retrain's shuffling and holdout draw (with
 *   the retrain's version and data range).
 */
export const neuralLinearConfigSchema = z
  .object({
    kind: z.literal('neural-linear'),
    hidden: z.array(z.number().int().min(1).max(1024)).min(1).max(4).default([64, 32]),
    activation: activationSchema.default('relu'),
    inputBits: z.number().int().min(4).max(16).default(12),
    loss: z.enum(['mse', 'bce']).default('mse'),
    learningRate: z.number().positive().max(1).default(0.003),
    epochs: z.number().int().min(1).max(1000).default(3),
    batchSize: z.number().int().min(1).max(65_536).default(256),
    retrainEvery: z.number().int().min(0).max(100_000_000).default(5000),
    maxTrainingOutcomes: z.number().int().min(1).max(10_000_000).default(50_000),
    validationShare: z.number().gt(0).max(0.5).default(0.2),
    warmStart: z.boolean().default(true),
    head: headConfigSchema.prefault({}),
    seed: z.union([z.number().int(), z.string().min(1).max(128)]).default(0),
  })
  .strict();

/** Parsed `neural-linear` config (every default filled in). */
export type NeuralLinearConfig = z.output<typeof neuralLinearConfigSchema>;
/** `neural-linear` config as callers write it. */
export type NeuralLinearConfigInput = z.input<typeof neuralLinearConfigSchema>;
