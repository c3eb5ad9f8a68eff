/**
 * The wire format of the HTTP API, as zod schemas: the single source of the request and response
 * types (`z.input` for callers, `z.output` inside) and of `GET /openapi.json`. Request bodies are
 * `.strict()`: an unknown field is a 400 naming it.
 *
 * The request bodies parsed on every call (rank, feedback) are compiled with `z.compile`, zod's
 * ahead-of-time compiler (https://zod.dev/compile): zod generates one flat validator for the whole
 * tree (objects, records, the feature-value union, the id refinements, the `at` transform) and
 * runs it first; when it rejects, the input is parsed again by zod's interpreter, so failures
 * carry exactly the interpreter's issues (codes, paths, messages) and successes the same output
 * (zod runs its own test suite in both modes). Compiling only ever applies to these exported
 * clones: a schema derived from one (`.extend`, `.optional`, …) is interpreted again. The
 * interpreted originals stay available as {@link interpretedSchemas}.
 */
import { z } from 'zod';
import { modelConfigSchema } from '../engine/config.js';
import { MAX_FEEDBACK_VALUE } from '../feedback/resolve.js';

/** A feature value: a finite number, a string, a boolean or a list of strings. */
export const featureValueSchema = z.union([z.number(), z.string(), z.boolean(), z.array(z.string())]);

/** One namespace of features: `{ age: 31, device: "ios", tags: ["a", "b"] }`. */
export const namespaceSchema = z.record(z.string(), featureValueSchema);

/** Namespaced features: `{ user: {...}, session: {...} }`. */
export const namespacedFeaturesSchema = z.record(z.string(), namespaceSchema);

/**
 * An id that is a database key: non-empty, bounded, well-formed UTF-16 (a lone surrogate would
 * not survive the round trip through UTF-8 storage and could never be found again).
 */
const idString = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed(), {
      message: 'must be well-formed Unicode (no lone surrogates)',
    });

/** Path and body ids (the featurizer bounds feature strings separately). */
export const modelIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}');
/** A decision's id (client-chosen or a server UUID): 1–256 characters. */
export const eventIdSchema = idString(256);
/** A person's id, for fatigue memory, token buckets and the per-user ledger: 1–256 characters. */
export const userIdSchema = idString(256);
/** A candidate item's id: 1–1024 characters (the featurizer may bound it further). */
export const itemIdSchema = idString(1024);

/** Epoch milliseconds, or an ISO 8601 date-time with a zone (`2024-05-01T12:00:00Z`). */
export const timestampSchema = z
  .union([z.number().min(0).max(8.64e15), z.iso.datetime({ offset: true })])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

/** A candidate item. */
export const candidateSchema = z
  .object({
    id: itemIdSchema,
    features: namespacedFeaturesSchema.optional(),
    group: idString(256).optional(),
  })
  .strict();

const rankRequestObject = z
  .object({
    context: namespacedFeaturesSchema.default({}),
    candidates: z.array(candidateSchema).min(1),
    slots: z.number().int().min(1).optional(),
    userId: userIdSchema.optional(),
    eventId: eventIdSchema.optional(),
    deferExposure: z.boolean().optional(),
  })
  .strict();
/**
 * `POST /v1/models/{modelId}/rank`. The candidate count is bounded by the model's
 * `limits.maxCandidates` (TOO_MANY_CANDIDATES), `slots` by `limits.maxSlots`. Compiled (see the
 * module comment).
 */
export const rankRequestSchema = z.compile(rankRequestObject);

/** One shown item of a slate. */
export const rankedItemSchema = z.object({
  id: z.string(),
  /** 1-based. */
  position: z.number().int().min(1),
  /** P(this item at this position) under the whole randomized rule. */
  propensity: z.number(),
  /** P(this item anywhere in the slate). */
  slatePropensity: z.number(),
  /** Placed by the exploration budget (serendipity), not by the sampled scores. */
  explored: z.boolean(),
});

/** The answer to rank: the decision's id, the model version and the slate (positions 1..L). */
export const rankResponseSchema = z.object({
  eventId: z.string(),
  modelVersion: z.number().int(),
  /** Learning-log position of the posterior that was sampled. */
  posteriorSeq: z.number().int(),
  /** Version of the learned encoder the scores came from (neural-linear only). */
  representationVersion: z.number().int().optional(),
  slate: z.array(rankedItemSchema),
});

const feedbackEventObject = z
  .object({
    eventId: eventIdSchema,
    itemId: itemIdSchema,
    kind: z.enum(['click', 'convert', 'dismiss', 'regret', 'ignore']),
    /** `convert` only: the conversion's value, its reward. */
    value: z.number().min(-MAX_FEEDBACK_VALUE).max(MAX_FEEDBACK_VALUE).optional(),
    at: timestampSchema.optional(),
  })
  .strict();
/** One feedback event. Idempotent per (eventId, itemId, kind). Compiled (see the module comment). */
export const feedbackEventSchema = z.compile(feedbackEventObject);

const feedbackBatchObject = z.object({ events: z.array(feedbackEventObject).min(1) }).strict();
/**
 * `POST /v1/models/{modelId}/feedback` with a batch; the batch size limit is a server setting.
 * Compiled (see the module comment).
 */
export const feedbackBatchSchema = z.compile(feedbackBatchObject);

/** A single event or a batch (describes the route in the OpenAPI document; the handler picks one of the two). */
export const feedbackRequestSchema = z.union([feedbackEventObject, feedbackBatchObject]);

/**
 * The compiled request schemas' interpreted originals: the same definitions on zod's interpreter.
 * The reference that the equivalence tests and the boundary benchmark compare the compiled ones with.
 */
export const interpretedSchemas = {
  rankRequest: rankRequestObject,
  feedbackEvent: feedbackEventObject,
  feedbackBatch: feedbackBatchObject,
} as const;

/** The answer to feedback (single or batch): accepted + duplicates = events sent. */
export const feedbackResponseSchema = z.object({
  /** Events applied now. */
  accepted: z.number().int(),
  /** Events received before (nothing changed). */
  duplicates: z.number().int(),
  /** Learning-log entries written (outcomes and retractions). */
  outcomes: z.number().int(),
});

/** `POST .../decisions/{eventId}/expose` takes no body (or `{}`). */
export const exposeRequestSchema = z.object({}).strict();

/** The answer to expose. */
export const exposeResponseSchema = z.object({
  eventId: z.string(),
  /** true when the decision was exposed now, false when it had been exposed before. */
  exposed: z.boolean(),
});

/** The answer to PUT model: 201 with version 1 when created, 200 with version + 1 when reconfigured. */
export const putModelResponseSchema = z.object({
  modelId: z.string(),
  version: z.number().int(),
  created: z.boolean(),
});

/** The answer to DELETE model. */
export const deleteModelResponseSchema = z.object({ modelId: z.string(), deleted: z.literal(true) });

/** Exploration-budget totals over a window: exploredShare = explored / slots (0 when no slots). */
export const budgetTotalsSchema = z.object({
  decisions: z.number().int(),
  slots: z.number().int(),
  explored: z.number().int(),
  cost: z.number(),
  exploredShare: z.number(),
});

/** `GET /v1/models/{modelId}`: `?posterior=full` adds the whole posterior state. */
export const modelQuerySchema = z.object({ posterior: z.enum(['summary', 'full']).default('summary') });

/** `GET /v1/models/{modelId}`: config, posterior summary and budget ledger (all time, last hour, last day). */
export const modelViewSchema = z.object({
  modelId: z.string(),
  version: z.number().int(),
  /** The config in force, every default filled in (what the PUT body parsed to). */
  config: modelConfigSchema,
  createdAt: z.number(),
  updatedAt: z.number(),
  posterior: z.record(z.string(), z.unknown()),
  budget: z.object({
    allowedShare: z.number(),
    allTime: budgetTotalsSchema,
    lastHour: budgetTotalsSchema,
    lastDay: budgetTotalsSchema,
  }),
  /** Only with `?posterior=full`: the policy snapshot (equal JSON = equal posterior). */
  posteriorState: z.unknown().optional(),
});

/** `GET /v1/models`: the hosted models, sorted by id. */
export const modelListSchema = z.object({
  models: z.array(
    z.object({
      modelId: z.string(),
      version: z.number().int(),
      policy: z.string(),
      createdAt: z.number(),
      updatedAt: z.number(),
    }),
  ),
});

/** `GET .../users/{userId}/budget`: `?since=` (epoch ms or ISO) adds a custom window. */
export const userBudgetQuerySchema = z.object({
  since: z
    .union([z.string().regex(/^\d{1,16}$/).transform(Number), z.iso.datetime({ offset: true }).transform((v) => Date.parse(v))])
    .optional(),
});

/** One user's exploration ledger (`since` only when the query asked for it). */
export const userBudgetSchema = z.object({
  modelId: z.string(),
  userId: z.string(),
  allTime: budgetTotalsSchema,
  lastHour: budgetTotalsSchema,
  lastDay: budgetTotalsSchema,
  since: budgetTotalsSchema.optional(),
});

/** `GET /healthz` and `GET /readyz` when ready. */
export const healthSchema = z.object({
  status: z.literal('ok'),
  /** The tensorflow.js backend of neural-linear models (`tensorflow`, `wasm`, `cpu`), null when none is loaded. */
  neuralBackend: z.string().nullable().optional(),
});

/** Every error answer. `requestId` matches the `x-request-id` header and the server log. */
export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    requestId: z.string(),
  }),
});

/** Wire types, inferred from the schemas (`z.output`: what the server holds after parsing). */
export type RankRequestBody = z.output<typeof rankRequestSchema>;
/** @see the schema of the same name. */
export type RankResponseBody = z.output<typeof rankResponseSchema>;
/** @see the schema of the same name. */
export type FeedbackEventBody = z.output<typeof feedbackEventSchema>;
/** @see the schema of the same name. */
export type FeedbackResponseBody = z.output<typeof feedbackResponseSchema>;
/** @see the schema of the same name. */
export type ExposeResponseBody = z.output<typeof exposeResponseSchema>;
/** @see the schema of the same name. */
export type PutModelResponseBody = z.output<typeof putModelResponseSchema>;
/** @see the schema of the same name. */
export type DeleteModelResponseBody = z.output<typeof deleteModelResponseSchema>;
/** @see the schema of the same name. */
export type ModelViewBody = z.output<typeof modelViewSchema>;
/** @see the schema of the same name. */
export type ModelListBody = z.output<typeof modelListSchema>;
/** @see the schema of the same name. */
export type UserBudgetBody = z.output<typeof userBudgetSchema>;
/** @see the schema of the same name. */
export type ErrorResponseBody = z.output<typeof errorResponseSchema>;
/** @see the schema of the same name. */
export type BudgetTotalsBody = z.output<typeof budgetTotalsSchema>;
