/**
 * Features: namespaced JSON → hashed sparse vectors for the policies.
 */
export { createFeaturizer, itemFeatureName, BIAS_FEATURE, type Featurizer } from './featurizer.js';
export { featuresConfigSchema, FEATURE_LIMITS_MAX, ID_NAMESPACE, type FeaturesConfig, type FeaturesConfigInput } from './config.js';
export { FeatureError, formatPath, type FeatureErrorCode } from './errors.js';
export { FeatureTable, Utf8Hasher, HASH_CACHE_LIMIT, type KeyEntry } from './hash-cache.js';
export {
  sparseDot,
  sparseFromPairs,
  type Candidate,
  type DecisionFeatures,
  type FeatureValue,
  type Namespace,
  type NamespacedFeatures,
  type OutcomeFeatures,
  type SparseVector,
} from './types.js';
