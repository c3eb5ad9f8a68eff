/**
 * Off-policy evaluation: estimators over logged arrays, confidence intervals, and small reward
 * models for the direct method and doubly robust estimation.
 */
export { OpeInputError } from './errors.js';
export {
  dm,
  dr,
  effectiveSampleSize,
  estimatorOptionsSchema,
  importanceWeights,
  ips,
  replay,
  sndr,
  snips,
  validateLoggedBandit,
  type Estimate,
  type EstimatorOptions,
  type EstimatorTerms,
  type LoggedBandit,
  type ReplayInput,
} from './estimators.js';
export { iips, type LoggedSlates } from './slate.js';
export {
  bootstrapEstimate,
  bootstrapInterval,
  bootstrapOptionsSchema,
  normalInterval,
  normalOptionsSchema,
  normalQuantile,
  type BootstrapInterval,
  type BootstrapOptions,
  type Interval,
  type NormalOptions,
} from './intervals.js';
export {
  directMethodInputs,
  fitLogistic,
  fitRidge,
  loggedActionFeatures,
  type ActionFeatureLog,
  type DirectMethodInputs,
  type RewardModel,
} from './linear-model.js';
export {
  ESTIMATOR_NAMES,
  evaluate,
  evaluateOptionsSchema,
  type EstimatorName,
  type EvaluateOptions,
  type EvaluationRow,
} from './evaluate.js';
