/**
 * `logistic` policy: Thompson sampling from an online Laplace-approximated logistic regression
 * (Chapelle & Li 2011). See {@link LogisticPolicy} for the maths.
 */
import type { Policy, PolicySnapshot } from '../types.js';
import type { LogisticConfig } from './config.js';
import { LogisticPolicy } from './logistic.js';

export { logisticConfigSchema, type LogisticConfig, type LogisticConfigInput } from './config.js';
export { LogisticPolicy } from './logistic.js';
export { sigmoid, probitMean, probitSd, newtonAlpha, inverseAlpha } from './math.js';
export { LOGISTIC_SNAPSHOT_FORMAT, logisticStateSchema, type LogisticState } from './state.js';

/**
 * A `logistic` policy, fresh (every weight at the prior N(0, priorVariance)) or restored from a
 * snapshot of the same kind and covariance.
 * @param config a parsed `logisticConfigSchema`
 * @param snapshot learned state from {@link Policy.snapshot} of a `logistic` policy
 * @throws Error when the snapshot's kind, format or covariance does not match, or it is malformed
 */
export function createLogistic(config: LogisticConfig, snapshot?: PolicySnapshot): Policy {
  const policy = new LogisticPolicy(config);
  if (snapshot !== undefined) policy.restore(snapshot);
  return policy;
}
