/**
 * The route table of the API and the OpenAPI 3.1 document generated from it. Request and response
 * bodies are described by the same zod schemas that validate them (`z.toJSONSchema`, JSON Schema
 * 2020-12, which is OpenAPI 3.1's dialect), so the document cannot drift from the code.
 */
import { z } from 'zod';
import { modelConfigSchema } from '../engine/config.js';
import type { Role } from './auth.js';
import {
  deleteModelResponseSchema,
  errorResponseSchema,
  exposeRequestSchema,
  exposeResponseSchema,
  feedbackRequestSchema,
  feedbackResponseSchema,
  healthSchema,
  modelListSchema,
  modelQuerySchema,
  modelViewSchema,
  putModelResponseSchema,
  rankRequestSchema,
  rankResponseSchema,
  userBudgetQuerySchema,
  userBudgetSchema,
} from './schemas.js';

/** The HTTP methods the API uses (lower case, as express and OpenAPI spell them). */
export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/** One route: what the app registers and what the document describes. */
export interface RouteDoc {
  readonly method: HttpMethod;
  /** Express form: `/v1/models/:modelId`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  /** Key needed when keys are configured; null = open. */
  readonly role: Role | null;
  readonly body?: { readonly name: string; readonly schema: z.ZodType; readonly required: boolean };
  readonly query?: z.ZodObject;
  /** Success answers: status → (schema name, schema) or a non-JSON content type. */
  readonly responses: Readonly<Record<number, { readonly description: string; readonly name?: string; readonly schema?: z.ZodType; readonly contentType?: string }>>;
  /** Error statuses this route can answer (besides 500). */
  readonly errors: readonly number[];
}

const guarded = (role: Role | null) => (role === null ? [] : [401, 403]);

/** Every route of the API. */
export const apiRoutes: readonly RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/models/:modelId/rank',
    operationId: 'rank',
    summary: 'Rank candidates for a person in the current situation (logs the decision before answering)',
    role: 'scoring',
    body: { name: 'RankRequest', schema: rankRequestSchema, required: true },
    responses: { 200: { description: 'The slate, committed to the decision log', name: 'RankResponse', schema: rankResponseSchema } },
    errors: [400, ...guarded('scoring'), 404, 409, 413, 415, 503],
  },
  {
    method: 'post',
    path: '/v1/models/:modelId/feedback',
    operationId: 'feedback',
    summary: 'Report feedback: one event or { events: [...] }; idempotent per (eventId, itemId, kind)',
    role: 'scoring',
    body: { name: 'FeedbackRequest', schema: feedbackRequestSchema, required: true },
    responses: { 200: { description: 'Counts; committed before the answer', name: 'FeedbackResponse', schema: feedbackResponseSchema } },
    errors: [400, ...guarded('scoring'), 404, 413, 415],
  },
  {
    method: 'post',
    path: '/v1/models/:modelId/decisions/:eventId/expose',
    operationId: 'expose',
    summary: 'Mark a deferred decision as seen now: its reward windows start',
    role: 'scoring',
    body: { name: 'ExposeRequest', schema: exposeRequestSchema, required: false },
    responses: { 200: { description: 'Whether the decision was exposed now', name: 'ExposeResponse', schema: exposeResponseSchema } },
    errors: [400, ...guarded('scoring'), 404, 413, 415],
  },
  {
    method: 'get',
    path: '/v1/models',
    operationId: 'listModels',
    summary: 'The hosted models',
    role: 'scoring',
    responses: { 200: { description: 'Models', name: 'ModelList', schema: modelListSchema } },
    errors: [...guarded('scoring')],
  },
  {
    method: 'put',
    path: '/v1/models/:modelId',
    operationId: 'putModel',
    summary: 'Create a model (201) or reconfigure it (200); every config field has a default',
    role: 'admin',
    body: { name: 'ModelConfig', schema: modelConfigSchema, required: true },
    responses: {
      200: {
        description: 'Reconfigured (version + 1), or unchanged when the config equals the current one once parsed (same version: PUT is idempotent)',
        name: 'PutModelResponse',
        schema: putModelResponseSchema,
      },
      201: { description: 'Created (version 1)', name: 'PutModelResponse', schema: putModelResponseSchema },
    },
    errors: [400, ...guarded('admin'), 413, 415],
  },
  {
    method: 'get',
    path: '/v1/models/:modelId',
    operationId: 'getModel',
    summary: 'Config, posterior summary and budget ledger of a model (?posterior=full adds the posterior state)',
    role: 'scoring',
    query: modelQuerySchema,
    responses: { 200: { description: 'The model', name: 'ModelView', schema: modelViewSchema } },
    errors: [400, ...guarded('scoring'), 404],
  },
  {
    method: 'delete',
    path: '/v1/models/:modelId',
    operationId: 'deleteModel',
    summary: 'Delete a model and everything logged for it',
    role: 'admin',
    responses: { 200: { description: 'Deleted', name: 'DeleteModelResponse', schema: deleteModelResponseSchema } },
    errors: [400, ...guarded('admin'), 404],
  },
  {
    method: 'get',
    path: '/v1/models/:modelId/users/:userId/budget',
    operationId: 'userBudget',
    summary: "One user's exploration ledger: decisions, slots, explored slots and cost",
    role: 'scoring',
    query: userBudgetQuerySchema,
    responses: { 200: { description: 'Per-user ledger', name: 'UserBudget', schema: userBudgetSchema } },
    errors: [400, ...guarded('scoring'), 404],
  },
  {
    method: 'get',
    path: '/healthz',
    operationId: 'healthz',
    summary: 'Liveness',
    role: null,
    responses: { 200: { description: 'Alive', name: 'Health', schema: healthSchema } },
    errors: [],
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'readyz',
    summary: 'Readiness: 503 NOT_READY until the engine is loaded and while shutting down',
    role: null,
    responses: { 200: { description: 'Ready', name: 'Health', schema: healthSchema } },
    errors: [503],
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    role: null,
    responses: { 200: { description: 'Prometheus text exposition format', contentType: 'text/plain; version=0.0.4' } },
    errors: [],
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    role: null,
    responses: { 200: { description: 'OpenAPI 3.1 document', contentType: 'application/json' } },
    errors: [],
  },
];

const statusText: Readonly<Record<number, string>> = {
  400: 'Invalid request (code names the problem; field and issues name the offending paths)',
  401: 'UNAUTHORIZED: missing or unknown API key',
  403: 'FORBIDDEN: the key may not use this route',
  404: 'UNKNOWN_MODEL / UNKNOWN_EVENT / NOT_FOUND',
  409: 'DUPLICATE_EVENT: the eventId was used before',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE: send application/json',
  500: 'INTERNAL: generic message; details are in the server log under requestId',
  503: 'NOT_READY (loading, shutting down, or the model changed during the call) / OVERLOADED (too many ranks in progress: retry after the Retry-After seconds)',
};

/** `:name` → `{name}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

/** The OpenAPI 3.1 document of {@link apiRoutes}. */
export function buildOpenApi(info: { readonly version?: string } = {}): Record<string, unknown> {
  const schemas: Record<string, unknown> = { Error: jsonSchema(errorResponseSchema, 'output') };
  const ref = (name: string, schema: z.ZodType, io: 'input' | 'output') => {
    if (!(name in schemas)) schemas[name] = jsonSchema(schema, io);
    return { $ref: `#/components/schemas/${name}` };
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of apiRoutes) {
    const parameters: unknown[] = [];
    for (const m of r.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
      parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    }
    if (r.query) {
      const q = jsonSchema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      const contentType = resp.contentType ?? 'application/json';
      const schema = resp.schema && resp.name ? ref(resp.name, resp.schema, 'output') : contentType === 'application/json' ? { type: 'object' } : { type: 'string' };
      responses[status] = { description: resp.description, content: { [contentType]: { schema } } };
    }
    for (const status of [...r.errors, 500]) {
      responses[String(status)] = {
        description: statusText[status] ?? 'error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.body
        ? { requestBody: { required: r.body.required, content: { 'application/json': { schema: ref(r.body.name, r.body.schema, 'input') } } } }
        : {}),
      responses,
      security: r.role === null ? [] : [{ bearer: [] }],
      ...(r.role !== null ? { 'x-liubai-role': r.role } : {}),
    };
    const p = openApiPath(r.path);
    paths[p] = { ...paths[p], [r.method]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'liubai',
      version: info.version ?? '1',
      description: 'Contextual-bandit recommendation engine: Thompson sampling, silence as a signal, an accounted exploration budget.',
    },
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Scoring or admin API key (when keys are configured)' } },
    },
  };
}
