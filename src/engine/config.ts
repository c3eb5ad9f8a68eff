/**
 * A model's configuration: the JSON of DESIGN.md, validated once by zod, with a default for
 * every field, then frozen. `PUT /v1/models/news` with `{ "policy": { "kind": "linear-gaussian" } }`
 * is a complete config.
 */
import { z } from 'zod';
import { policyConfigSchema } from '../policies/registry.js';
import { featuresConfigSchema } from '../features/index.js';
import { fromZodIssues } from './errors.js';

const probability = z.number().min(0).max(1);
const nonNegative = z.number().min(0).finite();

/** Feedback semantics: reward window, rewards and weights per kind, examination by position. */
export const feedbackConfigSchema = z
  .object({
    /** Seconds after exposure during which positive feedback counts; then silence is resolved. */
    rewardWindowSeconds: z.number().positive().max(365 * 86_400).default(1800),
    rewards: z
      .object({
        click: z.number().finite().default(1),
        convert: z.number().finite().default(1),
        ignore: z.number().finite().default(0),
        dismiss: z.number().finite().default(0),
        regret: z.number().finite().default(0),
      })
      .strict()
      .prefault({}),
    weights: z
      .object({
        click: nonNegative.default(1),
        convert: nonNegative.default(1),
        ignore: nonNegative.default(1),
        dismiss: nonNegative.default(3),
        regret: nonNegative.default(1),
      })
      .strict()
      .prefault({}),
    /**
     * P(position p examined), p = 1, 2, …; positions past the end use the last value. The weight
     * of an `ignored` outcome is `weights.ignore × examination[p]`.
     */
    examination: z.array(probability).min(1).max(1000).default([1, 0.85, 0.7, 0.6, 0.5]),
    /**
     * `false` = "clicks-only": silence and dismissals are never learned (a baseline for
     * comparison; fatigue memory still follows the `fatigue` section).
     */
    learnSilence: z.boolean().default(true),
  })
  .strict();

/** Fatigue memory per (user, item) and (user, group). */
export const fatigueConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    halfLifeSeconds: z.number().positive().default(604_800),
    /** Decayed count of consecutive rejections at which the item leaves the exploitation slots. */
    coolDownAfter: z.number().positive().default(3),
    /** Add the decayed counts to each candidate's features (namespace `fatigue`). */
    asFeatures: z.boolean().default(true),
    /** Most remembered (item, group) counts per user; the least fatigued are forgotten first. */
    maxEntries: z.number().int().min(2).max(1_000_000).default(1000),
  })
  .strict();

/** The explicit exploration budget. */
export const budgetConfigSchema = z
  .object({
    share: probability.default(0.05),
    perUser: z
      .object({
        ratePerHour: z.number().positive().default(2),
        burst: z.number().min(1).default(2),
      })
      .strict()
      .nullable()
      .prefault({}),
    floor: z.number().min(0).max(0.5).default(0.005),
    temperature: z.number().min(0).max(100).default(1),
    maxGroupShare: z.number().gt(0).max(1).default(1),
    rule: z.enum(['uniform', 'uncertain', 'outside-recent-groups']).default('uncertain'),
    /** How many recent groups of a user count as "recent" for `outside-recent-groups`. */
    recentGroups: z.number().int().min(1).max(100).default(5),
  })
  .strict();

/** Forgetting. */
export const decayConfigSchema = z
  .object({
    /** Half-life in (positive) outcomes; null = never forget. */
    halfLifeOutcomes: z.number().positive().nullable().default(null),
    /**
     * Apply the decay every this many outcomes (γ^every at once). Keeps full-covariance
     * refactorizations rare; null = max(1, round(halfLife / 100)).
     */
    every: z.number().int().positive().nullable().default(null),
  })
  .strict();

/** Monte-Carlo propensities. */
export const propensityConfigSchema = z
  .object({
    draws: z.number().int().min(1).max(10_000).default(64),
  })
  .strict();

/** Per-request limits. */
export const limitsConfigSchema = z
  .object({
    maxCandidates: z.number().int().min(1).max(100_000).default(1000),
    maxSlots: z.number().int().min(1).max(1000).default(50),
  })
  .strict();

/** A model's whole configuration. */
export const modelConfigSchema = z
  .object({
    policy: policyConfigSchema.prefault({ kind: 'linear-gaussian' }),
    features: featuresConfigSchema.prefault({}),
    feedback: feedbackConfigSchema.prefault({}),
    fatigue: fatigueConfigSchema.prefault({}),
    budget: budgetConfigSchema.prefault({}),
    decay: decayConfigSchema.prefault({}),
    propensity: propensityConfigSchema.prefault({}),
    limits: limitsConfigSchema.prefault({}),
    /** Default slate length when a rank call does not say. */
    slots: z.number().int().min(1).max(1000).default(5),
    seed: z.union([z.number().int(), z.string().min(1).max(128)]).default(0),
  })
  .strict();

export type ModelConfig = z.output<typeof modelConfigSchema>;
export type ModelConfigInput = z.input<typeof modelConfigSchema>;

/** Recursively freeze a parsed config (configs are parsed once and never mutated). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/**
 * Parse and freeze a model config.
 * @throws LiubaiError INVALID_CONFIG naming every offending field
 */
export function parseModelConfig(input: unknown): ModelConfig {
  const parsed = modelConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw fromZodIssues('INVALID_CONFIG', 'model config', parsed.error.issues);
  return deepFreeze(parsed.data);
}

/**
 * The parts of a config that determine the posterior given the learning log: the policy, the
 * features, forgetting, and whether fatigue counts enter the features. Logged outcomes keep the
 * rewards and weights they were resolved with, so feedback, budget and limit changes apply to
 * what comes next and keep the posterior.
 */
export function posteriorKey(c: ModelConfig): string {
  return JSON.stringify({ p: c.policy, f: c.features, d: c.decay, fa: c.fatigue.enabled && c.fatigue.asFeatures });
}

/** Whether a reconfiguration changes what the posterior is (then it is rebuilt from the log). */
export function changesPosterior(before: ModelConfig, after: ModelConfig): boolean {
  return posteriorKey(before) !== posteriorKey(after);
}
