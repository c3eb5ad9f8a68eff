/**
 * Simulation environments: the simulated people the runner drives policies against.
 * Every kind is a zod-validated config (`environmentConfigSchema`, discriminated by `kind`,
 * every field defaulted except the data of `supervised`) and `createEnvironment` builds it.
 * The OBD log replay is separate (`createObdReplay`): a log cannot answer counterfactual
 * questions, so it is not an {@link Environment}. File loaders live in `loaders.ts`.
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Environment } from './types.js';
import { baseEnvironmentConfigSchema, createBaseEnvironment } from './base.js';
import { createDelayed, delayedParamsSchema } from './delayed.js';

export type { Arrival, Environment, Reaction, ShownItem } from './types.js';
export { baseEnvironmentConfigSchema, createBaseEnvironment } from './base.js';
export type { BaseEnvironmentConfig, BaseEnvironmentConfigInput } from './base.js';
export { bernoulliParamsSchema, createBernoulli } from './bernoulli.js';
export type { BernoulliParams, BernoulliParamsInput } from './bernoulli.js';
export { linearParamsSchema, createLinear } from './linear.js';
export type { LinearParams, LinearParamsInput } from './linear.js';
export { driftingParamsSchema, createDrifting } from './drifting.js';
export type { DriftingParams, DriftingParamsInput } from './drifting.js';
export { fatigueParamsSchema, fatigueItemSchema, createFatigue, DEFAULT_FATIGUE_ITEMS } from './fatigue.js';
export type { FatigueParams, FatigueParamsInput } from './fatigue.js';
export { positionBiasParamsSchema, createPositionBias } from './position-bias.js';
export type { PositionBiasParams, PositionBiasParamsInput } from './position-bias.js';
export { irrationalParamsSchema, createIrrational, IRRATIONAL_SEGMENTS } from './irrational.js';
export type { IrrationalParams, IrrationalParamsInput, IrrationalSegment } from './irrational.js';
export { supervisedParamsSchema, createSupervised } from './supervised.js';
export type { SupervisedParams, SupervisedParamsInput } from './supervised.js';
export { nonlinearParamsSchema, createNonlinear } from './nonlinear.js';
export type { NonlinearParams, NonlinearParamsInput } from './nonlinear.js';
export { delayedParamsSchema, createDelayed, withDelays } from './delayed.js';
export type { DelayedParams, DelayedParamsInput } from './delayed.js';
export { obdReplayParamsSchema, createObdReplay } from './obd-replay.js';
export type { LoggedItem, ObdReplay, ObdReplayParams, ObdReplayParamsInput, ObdRound } from './obd-replay.js';
export { parseCsv, classificationFromCsv, obdFromCsv } from './csv.js';
export type { ClassificationData, ClassificationCsvOptions, ObdData, ObdOptions, ObdBehaviorPolicy, ObdCampaign } from './csv.js';
export { bestSlateValue, positionBasedEnvironment } from './common.js';
export type { PositionBasedSpec } from './common.js';

/** Every environment config, discriminated by `kind`. */
export const environmentConfigSchema = z.discriminatedUnion('kind', [
  ...baseEnvironmentConfigSchema.options,
  delayedParamsSchema,
]);

/** Parsed environment config. */
export type EnvironmentConfig = z.output<typeof environmentConfigSchema>;
/** Environment config as written in a scenario file. */
export type EnvironmentConfigInput = z.input<typeof environmentConfigSchema>;
/** The environment kinds, in registry order. */
export type EnvironmentKind = EnvironmentConfig['kind'];

/** The environment kinds, in registry order. */
export const environmentKinds: readonly EnvironmentKind[] = environmentConfigSchema.options.map(
  (o) => o.shape.kind.def.innerType.value,
) as EnvironmentKind[];

/**
 * An environment from its (parsed) config.
 * @param rng draws the environment's hidden parameters; derive it from the scenario seed
 *   (e.g. `rng.fork('environment')`), apart from the arrival and response streams
 * @throws ZodError on invalid params
 */
export function createEnvironment(config: EnvironmentConfig, rng: Rng): Environment {
  switch (config.kind) {
    case 'delayed':
      return createDelayed(config, rng);
    default:
      return createBaseEnvironment(config, rng);
  }
}
