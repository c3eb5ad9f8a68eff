/**
 * The policy registry, keyed by `kind`. Policy configs form a zod discriminated union; adding a
 * policy is one folder plus one line in each of the two lists below.
 */
import { z } from 'zod';
import type { Policy, PolicySnapshot } from './types.js';
import { betaBernoulliConfigSchema, createBetaBernoulli } from './beta-bernoulli/index.js';
import { linearGaussianConfigSchema, createLinearGaussian } from './linear-gaussian/index.js';
import { logisticConfigSchema, createLogistic } from './logistic/index.js';
import { uniformConfigSchema, createUniform } from './uniform/index.js';
import { epsilonGreedyConfigSchema, createEpsilonGreedy } from './epsilon-greedy/index.js';
import { linucbConfigSchema, createLinUcb } from './linucb/index.js';
import { neuralLinearConfigSchema, createNeuralLinear, prepareNeuralLinear } from './neural-linear/index.js';

/** Every policy config, discriminated by `kind`. */
export const policyConfigSchema = z.discriminatedUnion('kind', [
  betaBernoulliConfigSchema,
  linearGaussianConfigSchema,
  logisticConfigSchema,
  uniformConfigSchema,
  epsilonGreedyConfigSchema,
  linucbConfigSchema,
  neuralLinearConfigSchema,
]);

export type PolicyConfig = z.output<typeof policyConfigSchema>;
export type PolicyConfigInput = z.input<typeof policyConfigSchema>;
export type PolicyKind = PolicyConfig['kind'];

/** The policy kinds, in registry order. */
export const policyKinds: readonly PolicyKind[] = policyConfigSchema.options.map(
  (o) => o.shape.kind.value,
) as PolicyKind[];

/**
 * A policy from its (parsed) config, fresh or restored from a snapshot.
 * @throws Error when the snapshot belongs to another kind or format
 */
export function createPolicy(config: PolicyConfig, snapshot?: PolicySnapshot): Policy {
  if (snapshot && snapshot.kind !== config.kind) {
    throw new Error(`snapshot of kind ${snapshot.kind} cannot restore a ${config.kind} policy`);
  }
  switch (config.kind) {
    case 'beta-bernoulli':
      return createBetaBernoulli(config, snapshot);
    case 'linear-gaussian':
      return createLinearGaussian(config, snapshot);
    case 'logistic':
      return createLogistic(config, snapshot);
    case 'uniform':
      return createUniform(config, snapshot);
    case 'epsilon-greedy':
      return createEpsilonGreedy(config, snapshot);
    case 'linucb':
      return createLinUcb(config, snapshot);
    case 'neural-linear':
      return createNeuralLinear(config, snapshot);
    default: {
      const never: never = config;
      throw new Error(`unknown policy kind ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Load what a policy kind needs before {@link createPolicy} can build it synchronously (today:
 * tensorflow.js for `neural-linear`, loaded on first use only). Await it before creating or
 * loading a model with that config; a no-op for the other kinds.
 * @throws Error when the kind's runtime cannot be loaded
 */
export async function preparePolicy(config: PolicyConfig): Promise<void> {
  if (config.kind === 'neural-linear') await prepareNeuralLinear();
}
