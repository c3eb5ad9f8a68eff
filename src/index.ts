/**
 * liubai's public facade: the engine, its configuration, storage, policies, features, off-policy
 * evaluation and simulation. Everything else is internal.
 */
export { Engine, type EngineOptions, type ModelView } from './engine/engine.js';
export { Model, type RankRequest, type RankResponse, type RankedItem, type FeedbackEvent, type FeedbackResult } from './engine/model.js';
export { modelConfigSchema, parseModelConfig, type ModelConfig, type ModelConfigInput } from './engine/config.js';
export { LiubaiError, errorCatalog, type ErrorCode } from './engine/errors.js';
export { MemoryStore, openSqliteStore, type Store } from './storage/index.js';
export { createRng, restoreRng, decisionSeed, type Rng, type RngState } from './core/rng.js';
export { createPolicy, policyConfigSchema, policyKinds, type PolicyConfig, type PolicyKind } from './policies/registry.js';
export type { Policy, PolicySnapshot } from './policies/types.js';
export { createFeaturizer, featuresConfigSchema, type Featurizer } from './features/index.js';
export type { Candidate, DecisionFeatures, NamespacedFeatures } from './features/types.js';
export * as ope from './ope/index.js';
export { runSimulation, type RunOptions, type RunResult } from './simulation/runner.js';
export { createEnvironment, environmentConfigSchema, type Environment } from './simulation/environments/index.js';
