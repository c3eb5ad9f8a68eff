/**
 * Configuration of the hashed, namespaced featurizer (see {@link createFeaturizer}).
 */
import { z } from 'zod';

/** Namespace name reserved for the item-id pseudo-namespace (usable in interactions). */
export const ID_NAMESPACE = 'id';

/** The largest limits a config may set: every decision any config accepted is within them. */
export const FEATURE_LIMITS_MAX = { maxFeatures: 65536, maxStringLength: 65536, maxNamespaces: 1024 } as const;

/**
 * zod schema of the featurizer config. Every field has a default, unknown fields are rejected.
 *
 * - `bits` (1..24, default 12): the hashed space has `dim = 2^bits` dimensions.
 * - `interactions` (default `[]`): pairs `[nsA, nsB]`; each crosses every feature of namespace A
 *   with every feature of namespace B (full cartesian product, ordered). A namespace may come from
 *   the context (`user`, `session`), the candidate (`item`), the extra per-candidate namespace
 *   (`fatigue`) or the item-id pseudo-namespace `id`. A pair whose namespaces are absent from a
 *   request contributes nothing.
 * - `maxFeatures` (1..65536, default 512): most named features one vector may hold, counted
 *   **after** interactions and before hashing (bias, item id, every non-zero feature and every
 *   interaction term count one each; collisions do not reduce the count).
 * - `maxStringLength` (1..65536, default 256): longest string value, key, namespace name or item id.
 * - `maxNamespaces` (1..1024, default 32): most namespaces in one vector (context namespaces plus
 *   the candidate's namespaces plus the extra namespace; the `id` pseudo-namespace is not counted).
 * - `itemIdFeature` (default true): add the one-hot `^item=<id>` feature to every arm vector.
 * - `extraNamespace` (default `"fatigue"`): the namespace name of the engine-supplied
 *   per-candidate features (`featurize(context, candidates, extra)`); reserved in requests.
 */
export const featuresConfigSchema = z
  .object({
    bits: z.number().int().min(1).max(24).default(12),
    interactions: z
      .array(z.tuple([z.string().min(1), z.string().min(1)]))
      .max(256)
      .default([]),
    maxFeatures: z.number().int().min(1).max(FEATURE_LIMITS_MAX.maxFeatures).default(512),
    maxStringLength: z.number().int().min(1).max(FEATURE_LIMITS_MAX.maxStringLength).default(256),
    maxNamespaces: z.number().int().min(1).max(FEATURE_LIMITS_MAX.maxNamespaces).default(32),
    itemIdFeature: z.boolean().default(true),
    extraNamespace: z
      .string()
      .min(1)
      .refine((s) => s !== ID_NAMESPACE, { message: `"${ID_NAMESPACE}" is reserved for the item-id pseudo-namespace` })
      .default('fatigue'),
  })
  .strict();

/** Parsed featurizer config (all defaults applied). */
export type FeaturesConfig = z.output<typeof featuresConfigSchema>;
/** Featurizer config as callers write it (every field optional). */
export type FeaturesConfigInput = z.input<typeof featuresConfigSchema>;
