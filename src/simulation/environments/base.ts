/**
 * The registry of the self-contained environment kinds (everything except wrappers such as
 * `delayed`, which take one of these as `inner`). Adding a kind = one file + one line in each
 * list below.
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Environment } from './types.js';
import { bernoulliParamsSchema, createBernoulli } from './bernoulli.js';
import { createLinear, linearParamsSchema } from './linear.js';
import { createDrifting, driftingParamsSchema } from './drifting.js';
import { createFatigue, fatigueParamsSchema } from './fatigue.js';
import { createPositionBias, positionBiasParamsSchema } from './position-bias.js';
import { createIrrational, irrationalParamsSchema } from './irrational.js';
import { createSupervised, supervisedParamsSchema } from './supervised.js';
import { createNonlinear, nonlinearParamsSchema } from './nonlinear.js';

/** Config of a self-contained environment, discriminated by `kind`. */
export const baseEnvironmentConfigSchema = z.discriminatedUnion('kind', [
  bernoulliParamsSchema,
  linearParamsSchema,
  driftingParamsSchema,
  fatigueParamsSchema,
  positionBiasParamsSchema,
  irrationalParamsSchema,
  supervisedParamsSchema,
  nonlinearParamsSchema,
]);

/** Parsed config of a self-contained environment. */
export type BaseEnvironmentConfig = z.output<typeof baseEnvironmentConfigSchema>;
/** Config of a self-contained environment as written in a scenario. */
export type BaseEnvironmentConfigInput = z.input<typeof baseEnvironmentConfigSchema>;

/**
 * A self-contained environment from its config.
 * @param rng draws the environment's hidden parameters (attractions, θ, …); default: a stream
 *   seeded by the kind
 * @throws ZodError on invalid params
 */
export function createBaseEnvironment(config: BaseEnvironmentConfig, rng?: Rng): Environment {
  switch (config.kind) {
    case 'bernoulli':
      return createBernoulli(config, rng);
    case 'linear':
      return createLinear(config, rng);
    case 'drifting':
      return createDrifting(config, rng);
    case 'fatigue':
      return createFatigue(config, rng);
    case 'position-bias':
      return createPositionBias(config, rng);
    case 'irrational':
      return createIrrational(config, rng);
    case 'supervised':
      return createSupervised(config, rng);
    case 'nonlinear':
      return createNonlinear(config, rng);
    default: {
      const never: never = config;
      throw new Error(`unknown environment kind ${JSON.stringify(never)}`);
    }
  }
}
