/**
 * `neural-linear`: Thompson sampling from a Bayesian linear head on a tensorflow.js encoder
 * learned from the log (Riquelme, Tucker & Snoek 2018). See ./policy.ts for the maths,
 * ./retrainable.ts for the retraining protocol, ./backend.ts for backend selection and
 * ./artifacts.ts for the artifact format.
 *
 * Importing this module does not load tensorflow.js: `initNeuralBackend()` (or
 * `preparePolicy` in the registry) must have completed before a policy is created.
 */
import type { PolicySnapshot } from '../types.js';
import type { NeuralLinearConfig } from './config.js';
import { initialWeights, NeuralLinearPolicy } from './policy.js';
import { initNeuralBackend } from './backend.js';

export {
  neuralLinearConfigSchema,
  headConfigSchema,
  activationSchema,
  type Activation,
  type NeuralLinearConfig,
  type NeuralLinearConfigInput,
} from './config.js';
export {
  initNeuralBackend,
  neuralBackendInfo,
  DEFAULT_BACKENDS,
  type NeuralBackendInfo,
  type NeuralBackendName,
  type NeuralBackendOptions,
} from './backend.js';
export { NeuralLinearPolicy, initialWeights, NEURAL_LINEAR_SNAPSHOT_FORMAT } from './policy.js';
export {
  isRetrainable,
  type DataRange,
  type RetrainablePolicy,
  type RetrainInfo,
  type RetrainJob,
  type RetrainMetrics,
  type RetrainRequest,
  type RetrainResult,
  type RetrainRuntime,
} from './retrainable.js';
export type { EncoderWeights, DenseWeights } from './weights.js';
export { EMBEDDING_SCALE_GRID, initialHeadScale, selectEmbeddingScale, type ScaleSelection } from './scale.js';

/**
 * A `neural-linear` policy at representation version 0: the seeded initial encoder and a prior
 * head. There is no restore from a snapshot: the state is rebuilt from the latest encoder
 * artifact and a replay of the learning log (the engine does both).
 * @throws Error when a snapshot is given, or tensorflow.js is not initialized
 */
export function createNeuralLinear(config: NeuralLinearConfig, snapshot?: PolicySnapshot): NeuralLinearPolicy {
  if (snapshot) {
    throw new Error('neural-linear is restored from its encoder artifact and the learning log, not from a snapshot');
  }
  return new NeuralLinearPolicy(config, initialWeights(config), 0);
}

/** Load tensorflow.js and select its backend (what a neural-linear policy needs before creation). */
export async function prepareNeuralLinear(): Promise<void> {
  await initNeuralBackend();
}
