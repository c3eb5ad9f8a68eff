/**
 * The express app: routes of the API (see {@link apiRoutes}), request ids, auth, body limits,
 * validation at the boundary and the one error handler. `createApp` builds; `server.ts` listens.
 *
 * Every write goes through the engine, which validates first and commits its records in one
 * SQLite transaction before returning: an answer is sent only after the commit, so a 2xx means
 * the decision or feedback is durable. The route layer validates everything it can (ids, body
 * shape, batch and candidate counts) before calling the engine, so bad input never reaches a
 * write.
 */
import { neuralBackendInfo } from '../policies/neural-linear/backend.js';
import { randomUUID } from 'node:crypto';
import { ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { modelConfigSchema } from '../engine/config.js';
import type { Engine } from '../engine/engine.js';
import { LiubaiError } from '../engine/errors.js';
import { createAuthenticator, type ApiKeys, type Role } from './auth.js';
import { createJsonBodyReader, isJsonContentType, rawBodyOf } from './body.js';
import { classifyError, errorBody, internalErrorBody, parseWith } from './errors.js';
import { jsonLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { apiRoutes, buildOpenApi } from './openapi.js';
import {
  eventIdSchema,
  exposeRequestSchema,
  exposeResponseSchema,
  feedbackBatchSchema,
  feedbackEventSchema,
  feedbackResponseSchema,
  deleteModelResponseSchema,
  healthSchema,
  modelIdSchema,
  modelListSchema,
  modelQuerySchema,
  modelViewSchema,
  putModelResponseSchema,
  rankRequestSchema,
  rankResponseSchema,
  userBudgetQuerySchema,
  userBudgetSchema,
  userIdSchema,
  type BudgetTotalsBody,
} from './schemas.js';

/** Limits of the HTTP layer (per-model limits such as maxCandidates live in the model config). */
export const appLimitsSchema = z
  .object({
    /** Largest accepted request body, bytes (413 PAYLOAD_TOO_LARGE above). */
    bodyBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(1024 * 1024),
    /** Most feedback events in one `{ events: [...] }` batch. */
    maxFeedbackBatch: z.number().int().min(1).max(1_000_000).default(10_000),
    /**
     * Most ranks in progress at once, counted from the moment a rank request is routed (before
     * its body is read) to the end of its answer. One more is answered 503 OVERLOADED with
     * `Retry-After: 1` at once, without reading its body or changing any state: under overload
     * the server sheds load instead of queueing ranks without bound (and their latency with them).
     */
    maxPendingRanks: z.number().int().min(1).max(1_000_000).default(256),
  })
  .strict();

/** Parsed limits of the HTTP layer. */
export type AppLimits = z.output<typeof appLimitsSchema>;
/** Limits as callers write them (every field optional). */
export type AppLimitsInput = z.input<typeof appLimitsSchema>;

/** What the app needs. */
export interface AppDeps {
  readonly engine: Engine;
  /** API keys; none configured = open API. */
  readonly keys?: ApiKeys;
  readonly limits?: AppLimitsInput;
  /** Default: JSON lines on stderr. */
  readonly logger?: Logger;
  /** Default: a fresh registry for this app. */
  readonly metrics?: Metrics;
  /** `/readyz` answers 200 only while this is true. Default: always ready. */
  readonly isReady?: () => boolean;
  /** While true, answers carry `Connection: close` so keep-alive clients let go. Default: never. */
  readonly isDraining?: () => boolean;
  /**
   * Awaited after every write and before its 2xx (e.g. the group fsync of `openWalSync`, durability.ts).
   * Default: none — the engine's commit is the acknowledgement.
   */
  readonly commitBarrier?: () => Promise<void>;
}

/** A response body typed by its schema; readonly so the engine's frozen results fit. */
type Wire<T> = T extends (infer U)[] ? readonly Wire<U>[] : T extends object ? { readonly [K in keyof T]: Wire<T[K]> } : T;

/**
 * Send a JSON answer. Written directly rather than through `res.json`: the answers are never
 * cacheable (no ETag or freshness checks to run), and this is the hot path of every rank.
 */
function send<S extends z.ZodType>(res: Response, status: number, _schema: S, body: Wire<z.output<S>>): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** A write's answer: sent only after the commit barrier (when there is one) has passed. */
type Acknowledge = <S extends z.ZodType>(res: Response, status: number, schema: S, body: Wire<z.output<S>>) => void | Promise<void>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Whether the request carries a non-empty body (a chunked encoding or a non-zero length). */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '' && length !== '0');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function param(req: Request, name: string): string {
  const v = (req.params as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

function pathParam<S extends z.ZodType<string>>(req: Request, name: string, schema: S): string {
  const r = schema.safeParse(param(req, name));
  if (!r.success) {
    throw new LiubaiError('INVALID_REQUEST', `invalid path parameter ${name}: ${r.error.issues[0]?.message ?? 'invalid'}`, [
      { path: [name], message: r.error.issues[0]?.message ?? 'invalid' },
    ]);
  }
  return r.data;
}

const withShare = (t: { decisions: number; slots: number; explored: number; cost: number }): BudgetTotalsBody => ({
  ...t,
  exploredShare: t.slots > 0 ? t.explored / t.slots : 0,
});

/**
 * Build the app (no listening inside).
 * @throws LiubaiError INVALID_CONFIG when `limits` is invalid
 */
export function createApp(deps: AppDeps): Express {
  const { engine } = deps;
  const limitsParsed = appLimitsSchema.safeParse(deps.limits ?? {});
  if (!limitsParsed.success) throw new LiubaiError('INVALID_CONFIG', `invalid app limits: ${limitsParsed.error.message}`);
  const limits = limitsParsed.data;
  const logger = deps.logger ?? jsonLogger();
  const metrics = deps.metrics ?? createMetrics(engine);
  const isReady = deps.isReady ?? (() => true);
  const isDraining = deps.isDraining ?? (() => false);
  const auth = createAuthenticator(deps.keys);
  const barrier = deps.commitBarrier;
  const ack: Acknowledge = barrier
    ? (res, status, schema, body) => barrier().then(() => send(res, status, schema, body))
    : send;
  let openapi: string | null = null;
  /**
   * Feedback is acknowledged once written and once the model's replica is within the engine's
   * learning-lag bound (backpressure: see Engine.learned).
   */
  const learnedThenAck = (res: Response, modelId: string, body: Wire<z.output<typeof feedbackResponseSchema>>) =>
    engine.learned(modelId).then(() => ack(res, 200, feedbackResponseSchema, body));

  /**
   * ServerResponse.writeHead, plus `Connection: close` while the server drains (Node then ends
   * the connection after this answer). Every head goes through writeHead, including the implicit
   * one of `end()`. One shared function: installing it costs a property per response.
   */
  const writeHead = ServerResponse.prototype.writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
  const writeHeadClosingWhenDraining = function (this: Response, ...args: unknown[]): Response {
    if (isDraining() && !this.headersSent) this.setHeader('Connection', 'close');
    writeHead.apply(this, args);
    return this;
  } as Response['writeHead'];

  const app = express();
  app.disable('x-powered-by');
  // Answers are computed per request; an ETag would only cost a hash of every body.
  app.set('etag', false);

  app.use((req, res, next) => {
    const start = performance.now();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals['requestId'] = requestId;
    res.setHeader('x-request-id', requestId);
    // Decided when the answer's head is written, not when the request arrived: a request already
    // in flight when draining starts still closes its connection, so close() need not wait for
    // the client to let go of it (see server.ts).
    res.writeHead = writeHeadClosingWhenDraining;
    res.on('finish', () => {
      const route = typeof res.locals['route'] === 'string' ? (res.locals['route'] as string) : 'unmatched';
      metrics.observeRequest(route, req.method, res.statusCode, (performance.now() - start) / 1000);
    });
    next();
  });

  /**
   * The size-limited JSON body reader: plain UTF-8 JSON is read by the lean reader (body.ts; the
   * text stays available through `rawBodyOf(req)`); compressed bodies and other charsets go to
   * body-parser, which answers them as it always has.
   */
  const parseJson = createJsonBodyReader({
    limit: limits.bodyBytes,
    fallback: express.json({ limit: limits.bodyBytes, strict: true, type: 'application/json' }),
  });
  /** Ranks routed and not yet answered (admission control, see AppLimits.maxPendingRanks). */
  let ranksInProgress = 0;
  metrics.countRanksInProgress(() => ranksInProgress);

  /**
   * Everything before a handler, in one middleware: the route label for metrics, the key check
   * (before the body is read), admission (rank only: see AppLimits.maxPendingRanks), the
   * content-type check and the size-limited JSON parser.
   */
  const prelude =
    (path: string, role: Role | null, body: 'required' | 'optional' | 'none', admission: boolean): RequestHandler =>
    (req, res, next) => {
      res.locals['route'] = path;
      if (role !== null) auth.authorize(req.headers.authorization, role);
      if (admission) {
        // Before the body is read: a shed request costs no parsing, no decision and no write.
        if (ranksInProgress >= limits.maxPendingRanks) {
          metrics.rankShed();
          res.setHeader('Retry-After', '1');
          return next(new LiubaiError('OVERLOADED', `${limits.maxPendingRanks} ranks are in progress; retry later`));
        }
        ranksInProgress++;
        // 'close' comes once: after the answer is written, or when the connection ends first.
        res.once('close', () => {
          ranksInProgress--;
        });
      }
      if (body === 'none') return next();
      if (!hasBody(req)) {
        if (body === 'required') return next(new LiubaiError('INVALID_REQUEST', 'a JSON body is required'));
        return next();
      }
      // Same answer as req.is('application/json') for a request with a body, without type-is.
      if (!isJsonContentType(req.headers['content-type'])) {
        return next(new LiubaiError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'));
      }
      parseJson(req, res, next);
    };

  /** Model id from the path, checked, and the model (404 when unknown). */
  const modelOf = (req: Request) => {
    const modelId = pathParam(req, 'modelId', modelIdSchema);
    return { modelId, model: engine.model(modelId) };
  };

  const handlers: Readonly<Record<string, (req: Request, res: Response) => void | Promise<void>>> = {
    rank(req, res) {
      const { model } = modelOf(req);
      const body: unknown = req.body;
      const max = model.config.limits.maxCandidates;
      // Before validation: a huge candidate list is refused without walking it.
      if (isRecord(body) && Array.isArray(body['candidates']) && body['candidates'].length > max) {
        throw new LiubaiError('TOO_MANY_CANDIDATES', `at most ${max} candidates per request`, [
          { path: ['candidates'], message: `${body['candidates'].length} > ${max}` },
        ]);
      }
      const request = parseWith(rankRequestSchema, body, 'rank request');
      // The body text goes to the replica as it came (cheaper across threads than the parsed object).
      return model.rankAsync(request, rawBodyOf(req)).then((answer) => ack(res, 200, rankResponseSchema, answer));
    },

    feedback(req, res) {
      const { modelId } = modelOf(req);
      const body: unknown = req.body;
      if (isRecord(body) && 'events' in body) {
        const events = body['events'];
        if (Array.isArray(events) && events.length > limits.maxFeedbackBatch) {
          throw new LiubaiError('INVALID_REQUEST', `at most ${limits.maxFeedbackBatch} events per batch`, [
            { path: ['events'], message: `${events.length} > ${limits.maxFeedbackBatch}` },
          ]);
        }
        const batch = parseWith(feedbackBatchSchema, body, 'feedback batch');
        return learnedThenAck(res, modelId, engine.feedbackBatch(modelId, batch.events));
      }
      const event = parseWith(feedbackEventSchema, body, 'feedback event');
      return learnedThenAck(res, modelId, engine.feedbackBatch(modelId, [event]));
    },

    expose(req, res) {
      const { modelId } = modelOf(req);
      const eventId = pathParam(req, 'eventId', eventIdSchema);
      parseWith(exposeRequestSchema, req.body ?? {}, 'expose request');
      return ack(res, 200, exposeResponseSchema, { eventId, exposed: engine.expose(modelId, eventId) });
    },

    listModels(_req, res) {
      const models = engine.modelIds().map((modelId) => {
        const m = engine.model(modelId);
        const record = engine.store.getModel(modelId);
        return {
          modelId,
          version: m.version,
          policy: m.config.policy.kind,
          createdAt: record?.createdAt ?? 0,
          updatedAt: record?.updatedAt ?? 0,
        };
      });
      send(res, 200, modelListSchema, { models });
    },

    async putModel(req, res) {
      const modelId = pathParam(req, 'modelId', modelIdSchema);
      // The engine validates too; this pass names unknown fields one by one in the answer.
      parseWith(modelConfigSchema, req.body, 'model config', 'INVALID_CONFIG');
      const { model, created } = await engine.putModelPrepared(modelId, req.body);
      if (created) res.setHeader('Location', `/v1/models/${encodeURIComponent(modelId)}`);
      return ack(res, created ? 201 : 200, putModelResponseSchema, { modelId, version: model.version, created });
    },

    getModel(req, res) {
      const { modelId, model } = modelOf(req);
      const query = parseWith(modelQuerySchema, req.query, 'query');
      const view = engine.view(modelId);
      send(res, 200, modelViewSchema, query.posterior === 'full' ? { ...view, posteriorState: model.posteriorSnapshot() } : view);
    },

    deleteModel(req, res) {
      const { modelId } = modelOf(req);
      engine.deleteModel(modelId);
      return ack(res, 200, deleteModelResponseSchema, { modelId, deleted: true });
    },

    userBudget(req, res) {
      const { modelId } = modelOf(req);
      const userId = pathParam(req, 'userId', userIdSchema);
      const query = parseWith(userBudgetQuerySchema, req.query, 'query');
      const now = engine.clock();
      send(res, 200, userBudgetSchema, {
        modelId,
        userId,
        allTime: withShare(engine.userBudget(modelId, userId)),
        lastHour: withShare(engine.userBudget(modelId, userId, now - 3_600_000)),
        lastDay: withShare(engine.userBudget(modelId, userId, now - 86_400_000)),
        ...(query.since !== undefined ? { since: withShare(engine.userBudget(modelId, userId, query.since)) } : {}),
      });
    },

    healthz(_req, res) {
      send(res, 200, healthSchema, { status: 'ok', neuralBackend: neuralBackendInfo()?.backend ?? null });
    },

    readyz(_req, res) {
      if (!isReady()) throw new LiubaiError('NOT_READY', 'not ready (loading or shutting down)');
      send(res, 200, healthSchema, { status: 'ok' });
    },

    async metrics(_req, res) {
      const text = await metrics.render();
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.status(200).send(text);
    },

    openapi(_req, res) {
      openapi ??= JSON.stringify(buildOpenApi());
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.status(200).send(openapi);
    },
  };

  const methodsByPath = new Map<string, string[]>();
  for (const r of apiRoutes) {
    const handler = handlers[r.operationId];
    if (!handler) throw new Error(`no handler for route ${r.operationId}`);
    const body = r.body ? (r.body.required ? 'required' : 'optional') : 'none';
    app[r.method](r.path, prelude(r.path, r.role, body, r.operationId === 'rank'), handler as RequestHandler);
    methodsByPath.set(r.path, [...(methodsByPath.get(r.path) ?? []), r.method.toUpperCase()]);
  }
  // A known path with another method: 405 with the methods it takes.
  for (const [path, methods] of methodsByPath) {
    const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', ');
    app.all(path, (_req, res, next) => {
      res.locals['route'] = path;
      res.setHeader('Allow', allow);
      next(new LiubaiError('METHOD_NOT_ALLOWED', `method not allowed; this path takes ${allow}`));
    });
  }
  app.use((_req, _res, next) => next(new LiubaiError('NOT_FOUND', 'no such route')));

  // The one error handler (four arguments: express recognizes error handlers by arity).
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = typeof res.locals['requestId'] === 'string' ? (res.locals['requestId'] as string) : randomUUID();
    const known = classifyError(error);
    if (res.headersSent) {
      logger.error('error after the answer started', { requestId, route: res.locals['route'], error: describe(error) });
      res.destroy();
      return;
    }
    if (known) {
      if (known.code === 'UNAUTHORIZED') res.setHeader('WWW-Authenticate', 'Bearer');
      res.status(known.status).json(errorBody(known, requestId));
      return;
    }
    logger.error('internal error', { requestId, method: req.method, route: res.locals['route'] ?? 'unmatched', error: describe(error) });
    res.status(500).json(internalErrorBody(requestId));
  });

  return app;
}

/** An error for the log (never for the client). */
function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { value: String(error) };
}
