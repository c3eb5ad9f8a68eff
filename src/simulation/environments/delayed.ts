/**
 * `delayed`: another environment's people, whose reactions reach the engine late. Click
 * probabilities, best slates and state are exactly the inner environment's; each shown item's
 * reactions are postponed by one draw D ~ Exponential(mean `meanDelayMs`) (a click and its
 * conversion share the draw, so a conversion never precedes its click). With a reward window
 * W, a share P(D > W) = e^(−W/mean) of clicks arrives after the window has closed (e.g. mean
 * 10 min, W = 30 min: e^(−3) ≈ 5 %) and must retract an `ignored` outcome.
 * The inner state moves on at `respond` time: the person acted then; only the report is late.
 * Reference: Chapelle 2014, "Modeling delayed feedback in display advertising" (exponential delays).
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Environment, Reaction } from './types.js';
import { exponential } from './common.js';
import { baseEnvironmentConfigSchema, createBaseEnvironment } from './base.js';

/**
 * Params of a `delayed` environment.
 * - `inner` (default `{ kind: 'bernoulli' }`): any self-contained environment config.
 * - `meanDelayMs` (0..10¹², default 10 min): mean of the exponential delay (0 = no delay).
 */
export const delayedParamsSchema = z
  .object({
    kind: z.literal('delayed').default('delayed'),
    inner: baseEnvironmentConfigSchema.prefault({ kind: 'bernoulli' }),
    meanDelayMs: z.number().min(0).max(1e12).default(10 * 60_000),
  })
  .strict();

/** Parsed `delayed` params. */
export type DelayedParams = z.output<typeof delayedParamsSchema>;
/** `delayed` params as written in a scenario. */
export type DelayedParamsInput = z.input<typeof delayedParamsSchema>;

/**
 * Wrap an environment so its reactions arrive after exponential delays.
 * In `respond`, the inner environment draws first; then one delay per reacting item, in the
 * order of the items' first reactions.
 * @throws RangeError when meanDelayMs is negative or not finite
 */
export function withDelays(inner: Environment, meanDelayMs: number): Environment {
  if (!(meanDelayMs >= 0) || !Number.isFinite(meanDelayMs)) {
    throw new RangeError(`meanDelayMs must be finite and >= 0, got ${meanDelayMs}`);
  }
  return {
    name: `delayed(${inner.name})`,
    groups: inner.groups,
    arrive: (at, rng) => inner.arrive(at, rng),
    expectedReward: (arrival, itemId, position) => inner.expectedReward(arrival, itemId, position),
    bestSlateReward: (arrival, slots) => inner.bestSlateReward(arrival, slots),
    respond(arrival, slate, rng) {
      const reactions = inner.respond(arrival, slate, rng);
      if (meanDelayMs === 0) return reactions;
      const delays = new Map<string, number>();
      return reactions.map((r): Reaction => {
        let d = delays.get(r.itemId);
        if (d === undefined) delays.set(r.itemId, (d = exponential(rng, meanDelayMs)));
        return { ...r, delayMs: r.delayMs + d };
      });
    },
  };
}

/**
 * A `delayed` environment: the inner environment built with `rng`, wrapped by {@link withDelays}.
 * @throws ZodError on invalid params
 */
export function createDelayed(params: DelayedParamsInput, rng?: Rng): Environment {
  const p = delayedParamsSchema.parse(params);
  return withDelays(createBaseEnvironment(p.inner, rng), p.meanDelayMs);
}
