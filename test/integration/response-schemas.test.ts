/**
 * The zod schemas are the only source of the wire types.
 *
 * At run time: every route of `apiRoutes` is called over real HTTP (createApp on 127.0.0.1, port
 * 0) with valid input, and errors of both status classes are provoked; every JSON answer is parsed
 * with the schema that openapi.ts documents for that route and status (`RouteDoc.responses`, and
 * the Error schema for the statuses in `RouteDoc.errors` plus 500, as `buildOpenApi` does), and
 * checked strictly all the way down: a field in the answer that the schema lacks fails the test.
 *
 * At compile time (`npm run typecheck`): the engine's own wire-shaped interfaces (model.ts,
 * engine.ts) and the types inferred from the schemas must be equal, so that a drift on either side
 * breaks the build.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import type { Engine as EngineType, ModelView } from '../../src/engine/engine.js';
import { Engine } from '../../src/engine/engine.js';
import { modelConfigSchema } from '../../src/engine/config.js';
import type { FeedbackEvent, FeedbackResult, RankedItem, RankRequest, RankResponse } from '../../src/engine/model.js';
import { memoryLogger } from '../../src/server/logger.js';
import { apiRoutes, buildOpenApi, type RouteDoc } from '../../src/server/openapi.js';
import { startServer } from '../../src/server/server.js';
import {
  budgetTotalsSchema,
  deleteModelResponseSchema,
  errorResponseSchema,
  exposeResponseSchema,
  feedbackEventSchema,
  feedbackResponseSchema,
  healthSchema,
  modelListSchema,
  modelViewSchema,
  putModelResponseSchema,
  rankedItemSchema,
  rankRequestSchema,
  rankResponseSchema,
  userBudgetSchema,
} from '../../src/server/schemas.js';
import { MemoryStore } from '../../src/storage/memory/index.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';
import type { BudgetTotals } from '../../src/storage/types.js';
import { call, listen, shut, type Answer } from './http.js';

// ───────────────────────────── the strict check ─────────────────────────────

/**
 * Paths of the fields of `value` that `schema` does not declare, at any depth: what
 * `.strict()` on every object of the schema would reject. Walks the schema alongside the value
 * (object shapes, arrays, optional / nullable / default wrappers, pipes, unions, records); leaves
 * (`z.unknown()`, primitives) end the walk, so deliberately open parts (`config`, `posterior`,
 * `posteriorState`) stay open. Call after the schema itself accepted the value.
 */
function extraFields(schema: z.ZodType, value: unknown, path = ''): string[] {
  const at = (key: string | number) => (path === '' ? String(key) : `${path}.${key}`);
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    return value === undefined || value === null ? [] : extraFields(schema.unwrap() as z.ZodType, value, path);
  }
  if (schema instanceof z.ZodDefault) return extraFields(schema.unwrap() as z.ZodType, value, path);
  if (schema instanceof z.ZodPipe) return extraFields(schema.in as z.ZodType, value, path);
  if (schema instanceof z.ZodUnion) {
    // Strict against the union = strict against one of the options that accept the value.
    const fits = (schema.options as readonly z.ZodType[]).filter((o) => o.safeParse(value).success);
    const perOption = fits.map((o) => extraFields(o, value, path));
    return perOption.find((e) => e.length === 0) ?? perOption[0] ?? [];
  }
  if (schema instanceof z.ZodObject) {
    if (typeof value !== 'object' || value === null) return [];
    const shape = schema.shape as Record<string, z.ZodType>;
    const out: string[] = [];
    for (const [key, v] of Object.entries(value)) {
      const field = shape[key];
      if (field === undefined) out.push(at(key));
      else out.push(...extraFields(field, v, at(key)));
    }
    return out;
  }
  if (schema instanceof z.ZodArray) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((v: unknown, i) => extraFields(schema.element as z.ZodType, v, at(i)));
  }
  if (schema instanceof z.ZodRecord) {
    if (typeof value !== 'object' || value === null) return [];
    return Object.entries(value).flatMap(([k, v]) => extraFields(schema.valueType as z.ZodType, v, at(k)));
  }
  return [];
}

// ───────────────────────────── HTTP helpers ─────────────────────────────

const items = (k: number) =>
  Array.from({ length: k }, (_, i) => ({ id: `item${i}`, features: { item: { price: i, kind: i % 2 === 0 ? 'even' : 'odd' } }, group: `g${i % 3}` }));
const context = { user: { age: 31, device: 'ios' }, session: { hour: 20 } };

// ───────────────────────────── conformance ─────────────────────────────

const routeByOp = new Map<string, RouteDoc>(apiRoutes.map((r) => [r.operationId, r]));
/** `operationId status` of every answer checked. */
const seen = new Set<string>();

/**
 * The schema openapi.ts documents for `status` on `route`: its success schema, or — for the
 * statuses it lists as errors, and 500 on every route — the Error schema (`buildOpenApi` refers
 * every error status to `components.schemas.Error`, built from `errorResponseSchema`; the route
 * table itself does not carry it). `undefined` for a documented non-JSON answer.
 * @throws when the status is not documented for the route at all
 */
function documented(route: RouteDoc, status: number): { schema?: z.ZodType; contentType: string } {
  const ok = route.responses[status];
  if (ok) return { ...(ok.schema ? { schema: ok.schema } : {}), contentType: ok.contentType ?? 'application/json' };
  if ([...route.errors, 500].includes(status)) return { schema: errorResponseSchema, contentType: 'application/json' };
  throw new Error(`${route.method.toUpperCase()} ${route.path} answered ${status}, which openapi.ts does not document for it`);
}

/** Parse `json` with `schema`, then fail on any field the schema does not declare. */
function expectStrict(schema: z.ZodType, json: unknown, what: string): void {
  const parsed = schema.safeParse(json);
  expect(parsed.success ? [] : parsed.error.issues, `${what}: ${JSON.stringify(json)?.slice(0, 300)}`).toEqual([]);
  expect(extraFields(schema, json), `${what}: fields the schema lacks`).toEqual([]);
}

/** Check one answer of `operationId` against what openapi.ts documents; returns the parsed body. */
function conform(operationId: string, a: Answer): unknown {
  const route = routeByOp.get(operationId);
  if (!route) throw new Error(`no route ${operationId} in apiRoutes`);
  const doc = documented(route, a.status);
  const what = `${operationId} ${a.status}`;
  seen.add(what);
  expect(a.headers.get('content-type') ?? '', what).toContain(doc.contentType.split(';')[0]!);
  if (doc.contentType === 'application/json') expect(a.json, `${what}: not JSON: ${a.text.slice(0, 200)}`).toBeDefined();
  if (doc.schema) expectStrict(doc.schema, a.json, what);
  if (doc.schema === errorResponseSchema) {
    expect((a.json as z.output<typeof errorResponseSchema>).error.requestId).toBe(a.headers.get('x-request-id'));
  }
  return a.json;
}

/** An answer from no route of `apiRoutes` (unknown path, known path with another method): the Error schema. */
function conformOffRoute(a: Answer, status: number): void {
  expect(a.status, a.text).toBe(status);
  expectStrict(errorResponseSchema, a.json, `off-route ${status}`);
  seen.add(`(off-route) ${status}`);
}

describe('the strict check', () => {
  test('names a field the schema lacks, at any depth, and passes a conforming value', () => {
    const answer = {
      eventId: 'e',
      modelVersion: 1,
      posteriorSeq: 0,
      slate: [{ id: 'a', position: 1, propensity: 0.5, slatePropensity: 0.9, explored: false }],
    };
    expect(extraFields(rankResponseSchema, answer)).toEqual([]);
    const nested = { ...answer, slate: [{ ...answer.slate[0]!, score: 0.3 }] };
    expect(rankResponseSchema.safeParse(nested).success).toBe(true);
    expect(extraFields(rankResponseSchema, nested)).toEqual(['slate.0.score']);
    expect(extraFields(rankResponseSchema, { ...answer, seed: 'x' })).toEqual(['seed']);
    expect(extraFields(errorResponseSchema, { error: { code: 'X', message: 'm', requestId: 'r', issues: [{ path: 'a', message: 'b', hint: 1 }] } })).toEqual([
      'error.issues.0.hint',
    ]);
    expect(extraFields(userBudgetSchema.shape.since, { ...budgetTotals(), share: 1 })).toEqual(['share']);
  });
});

const budgetTotals = () => ({ decisions: 0, slots: 0, explored: 0, cost: 0, exploredShare: 0 });

describe('every route answers exactly what its schema documents', () => {
  const clock = { now: 1_700_000_000_000 };
  let n = 0;
  const store = new MemoryStore();
  const engine = new Engine({ store, clock: () => clock.now, newEventId: () => `ev${++n}`, snapshotEvery: 0 });
  let base = '';
  let server: Server;

  beforeAll(async () => {
    ({ base, server } = await listen({ engine, logger: memoryLogger() }));
  });
  afterAll(async () => shut(server));

  test('PUT creates (201) and reconfigures (200); GET, list, DELETE', async () => {
    const created = conform('putModel', await call(base, 'PUT', '/v1/models/news', { body: { policy: { kind: 'linear-gaussian' } } }));
    expect(created).toEqual({ modelId: 'news', version: 1, created: true });
    const again = await call(base, 'PUT', '/v1/models/news', { body: { policy: { kind: 'linear-gaussian' }, feedback: { rewardWindowSeconds: 60 }, budget: { share: 0.3, perUser: null } } });
    expect(conform('putModel', again)).toEqual({ modelId: 'news', version: 2, created: false });
    expect(again.status).toBe(200);
    const view = conform('getModel', await call(base, 'GET', '/v1/models/news')) as z.output<typeof modelViewSchema>;
    expect(view.version).toBe(2);
    expect(view.posteriorState).toBeUndefined();
    const full = conform('getModel', await call(base, 'GET', '/v1/models/news?posterior=full')) as z.output<typeof modelViewSchema>;
    expect(full.posteriorState).toBeDefined();
    conform('putModel', await call(base, 'PUT', '/v1/models/bb', { body: { policy: { kind: 'beta-bernoulli' } } }));
    const list = conform('listModels', await call(base, 'GET', '/v1/models')) as z.output<typeof modelListSchema>;
    expect(list.models.map((m) => m.modelId)).toEqual(['bb', 'news']);
    expect(conform('deleteModel', await call(base, 'DELETE', '/v1/models/bb'))).toEqual({ modelId: 'bb', deleted: true });
  });

  test('rank, feedback (single, batch, a late click retracting an ignore), expose, per-user budget', async () => {
    const r = conform('rank', await call(base, 'POST', '/v1/models/news/rank', { body: { context, candidates: items(6), slots: 3, userId: 'ana' } })) as z.output<
      typeof rankResponseSchema
    >;
    expect(r.slate.map((s) => s.position)).toEqual([1, 2, 3]);
    const [a, b, c] = r.slate.map((s) => s.id) as [string, string, string];

    const single = await call(base, 'POST', '/v1/models/news/feedback', { body: { eventId: r.eventId, itemId: a, kind: 'click' } });
    expect(conform('feedback', single)).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
    const batch = await call(base, 'POST', '/v1/models/news/feedback', {
      body: {
        events: [
          { eventId: r.eventId, itemId: b, kind: 'convert', value: 12.5, at: '2023-11-14T22:13:20.000Z' },
          { eventId: r.eventId, itemId: a, kind: 'click' },
        ],
      },
    });
    expect(conform('feedback', batch)).toEqual({ accepted: 1, duplicates: 1, outcomes: 1 });

    // c got nothing: its 60 s window closes into an ignored outcome; a click after that retracts
    // the ignore and applies the click (two learning-log entries).
    clock.now += 61_000;
    expect(engine.tick()).toBeGreaterThanOrEqual(1);
    const late = await call(base, 'POST', '/v1/models/news/feedback', { body: { eventId: r.eventId, itemId: c, kind: 'click' } });
    expect(conform('feedback', late)).toEqual({ accepted: 1, duplicates: 0, outcomes: 2 });

    const deferred = conform('rank', await call(base, 'POST', '/v1/models/news/rank', { body: { context, candidates: items(4), deferExposure: true, eventId: 'later' } }));
    expect((deferred as { eventId: string }).eventId).toBe('later');
    expect(conform('expose', await call(base, 'POST', '/v1/models/news/decisions/later/expose'))).toEqual({ eventId: 'later', exposed: true });
    expect(conform('expose', await call(base, 'POST', '/v1/models/news/decisions/later/expose', { body: {} }))).toEqual({ eventId: 'later', exposed: false });

    const budget = conform('userBudget', await call(base, 'GET', '/v1/models/news/users/ana/budget')) as z.output<typeof userBudgetSchema>;
    expect(budget.allTime.decisions).toBe(1);
    expect(budget.since).toBeUndefined();
    const since = conform('userBudget', await call(base, 'GET', `/v1/models/news/users/ana/budget?since=${clock.now + 1}`)) as z.output<typeof userBudgetSchema>;
    expect(since.since).toEqual(budgetTotals());
  });

  test('healthz, readyz, openapi.json and metrics', async () => {
    expect(conform('healthz', await call(base, 'GET', '/healthz'))).toEqual({ status: 'ok', neuralBackend: null });
    expect(conform('readyz', await call(base, 'GET', '/readyz'))).toEqual({ status: 'ok' });
    const doc = conform('openapi', await call(base, 'GET', '/openapi.json'));
    expect(doc).toEqual(JSON.parse(JSON.stringify(buildOpenApi())));
    const metrics = await call(base, 'GET', '/metrics');
    conform('metrics', metrics);
    expect(metrics.text).toMatch(/^liubai_decisions_total\{model="news"\} 2$/m);
  });

  test('4xx answers: 400, 404, 409, 413, 415 on their routes, 404 and 405 off the routes', async () => {
    const bad = await call(base, 'POST', '/v1/models/news/rank', { body: { context, candidates: items(2), colour: 'red' } });
    expect(bad.status).toBe(400);
    conform('rank', bad);
    const badConfig = await call(base, 'PUT', '/v1/models/news', { body: { budget: { share: 2 } } });
    expect(badConfig.status).toBe(400);
    conform('putModel', badConfig);
    conform('feedback', await call(base, 'POST', '/v1/models/news/feedback', { body: { eventId: 'x', itemId: 'y', kind: 'like' } }));
    const unknownEvent = await call(base, 'POST', '/v1/models/news/feedback', { body: { eventId: 'nope', itemId: 'y', kind: 'click' } });
    expect(unknownEvent.status).toBe(404);
    conform('feedback', unknownEvent);
    expect(conform('getModel', await call(base, 'GET', '/v1/models/news?posterior=all'))).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    expect(conform('getModel', await call(base, 'GET', '/v1/models/nope'))).toMatchObject({ error: { code: 'UNKNOWN_MODEL' } });
    expect(conform('deleteModel', await call(base, 'DELETE', '/v1/models/nope'))).toMatchObject({ error: { code: 'UNKNOWN_MODEL' } });
    expect(conform('expose', await call(base, 'POST', '/v1/models/news/decisions/nope/expose'))).toMatchObject({ error: { code: 'UNKNOWN_EVENT' } });
    expect(conform('userBudget', await call(base, 'GET', '/v1/models/news/users/ana/budget?since=soon'))).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    conform('rank', await call(base, 'POST', '/v1/models/news/rank', { body: { context, candidates: items(2), eventId: 'dup' } }));
    const dup = await call(base, 'POST', '/v1/models/news/rank', { body: { context, candidates: items(2), eventId: 'dup' } });
    expect(dup.status).toBe(409);
    conform('rank', dup);
    const big = await call(base, 'POST', '/v1/models/news/rank', { body: { context, candidates: items(2), pad: 'x'.repeat(1024 * 1024) } });
    expect(big.status).toBe(413);
    conform('rank', big);
    const type = await call(base, 'POST', '/v1/models/news/feedback', { raw: 'a=1', contentType: 'application/x-www-form-urlencoded' });
    expect(type.status).toBe(415);
    conform('feedback', type);
    conformOffRoute(await call(base, 'GET', '/v2/nothing'), 404);
    conformOffRoute(await call(base, 'PATCH', '/v1/models/news', { body: {} }), 405);
  });
});

describe('errors of guarded and loaded servers follow the Error schema', () => {
  const store = new MemoryStore();
  const engine = new Engine({ store, snapshotEvery: 0 });
  const keys = { scoring: ['s-key'], admin: ['a-key'] };
  let ready = true;
  /** While held, every write's acknowledgement waits here (the commitBarrier of AppDeps). */
  let held = false;
  const waiting: Array<() => void> = [];
  let base = '';
  let server: Server;

  beforeAll(async () => {
    engine.putModel('m', {});
    ({ base, server } = await listen({
      engine,
      keys,
      logger: memoryLogger(),
      isReady: () => ready,
      limits: { maxPendingRanks: 1 },
      commitBarrier: () => (held ? new Promise<void>((resolve) => waiting.push(resolve)) : Promise.resolve()),
    }));
  });
  afterAll(async () => shut(server));

  test('401 without a key, 403 with a scoring key on an admin route', async () => {
    expect(conform('listModels', await call(base, 'GET', '/v1/models'))).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    expect(conform('rank', await call(base, 'POST', '/v1/models/m/rank', { body: { context, candidates: items(2) }, key: 'wrong' }))).toMatchObject({
      error: { code: 'UNAUTHORIZED' },
    });
    expect(conform('putModel', await call(base, 'PUT', '/v1/models/m', { body: {}, key: 's-key' }))).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect(conform('deleteModel', await call(base, 'DELETE', '/v1/models/m', { key: 's-key' }))).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect(conform('listModels', await call(base, 'GET', '/v1/models', { key: 's-key' }))).toMatchObject({ models: [{ modelId: 'm' }] });
  });

  test('503: readyz while not ready, a rank over maxPendingRanks', async () => {
    ready = false;
    const notReady = await call(base, 'GET', '/readyz');
    ready = true;
    expect(notReady.status).toBe(503);
    expect(conform('readyz', notReady)).toMatchObject({ error: { code: 'NOT_READY' } });

    held = true;
    const first = call(base, 'POST', '/v1/models/m/rank', { body: { context, candidates: items(3) }, key: 's-key' });
    // The first rank is in progress once its acknowledgement waits at the barrier.
    for (let i = 0; i < 500 && waiting.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(waiting).toHaveLength(1);
    const shed = await call(base, 'POST', '/v1/models/m/rank', { body: { context, candidates: items(3) }, key: 's-key' });
    held = false;
    for (const release of waiting.splice(0)) release();
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(conform('rank', shed)).toMatchObject({ error: { code: 'OVERLOADED' } });
    const answered = await first;
    expect(answered.status).toBe(200);
    conform('rank', answered);
  });

  test('500: an internal error is the generic Error answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'liubai-schemas-'));
    const sqlite = openSqliteStore(join(dir, 'broken.db'));
    const broken = new Engine({ store: sqlite, snapshotEvery: 0 });
    broken.putModel('m', {});
    const logger = memoryLogger();
    const app = await listen({ engine: broken, logger });
    try {
      // The store goes away under the engine: every read of it throws a non-catalog error.
      sqlite.close();
      const r = await call(app.base, 'GET', '/v1/models/m');
      expect(r.status).toBe(500);
      expect(conform('getModel', r)).toMatchObject({ error: { code: 'INTERNAL' } });
      expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    } finally {
      await shut(app.server);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the production composition (startServer: SQLite, group commit, a decision thread)', () => {
  test('rank decided on a policy replica, feedback, the model view and readiness answer their schemas', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'liubai-schemas-serve-'));
    const logger = memoryLogger();
    const running = await startServer({
      host: '127.0.0.1',
      port: 0,
      dbPath: join(dir, 'serve.db'),
      models: { live: { budget: { share: 0.5, perUser: null } } },
      decisionThreads: 1,
      snapshotIntervalMs: 0,
      logger,
      processMetrics: false,
    });
    try {
      const base = running.url;
      expect(conform('readyz', await call(base, 'GET', '/readyz'))).toEqual({ status: 'ok' });
      const r = conform('rank', await call(base, 'POST', '/v1/models/live/rank', { body: { context, candidates: items(6), slots: 3, userId: 'ana' } })) as z.output<
        typeof rankResponseSchema
      >;
      const itemId = r.slate[0]!.id;
      conform('feedback', await call(base, 'POST', '/v1/models/live/feedback', { body: { events: [{ eventId: r.eventId, itemId, kind: 'click' }] } }));
      conform('getModel', await call(base, 'GET', '/v1/models/live?posterior=full'));
      conform('userBudget', await call(base, 'GET', '/v1/models/live/users/ana/budget'));
      conform('listModels', await call(base, 'GET', '/v1/models'));
      // No replica failure: the rank was decided on the worker thread, not in the fallback.
      expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('coverage of the route table', () => {
  test('every route and every documented success status was answered and checked; both error classes too', () => {
    const missing: string[] = [];
    for (const r of apiRoutes) for (const status of Object.keys(r.responses)) if (!seen.has(`${r.operationId} ${status}`)) missing.push(`${r.operationId} ${status}`);
    expect(missing).toEqual([]);
    const classes = new Set([...seen].map((s) => `${s.split(' ').at(-1)!.charAt(0)}xx`));
    expect([...classes].sort()).toEqual(['2xx', '4xx', '5xx']);
    for (const status of [400, 401, 403, 404, 405, 409, 413, 415, 500, 503]) {
      expect([...seen].some((s) => s.endsWith(` ${status}`)), String(status)).toBe(true);
    }
  });
});

// ───────────────────────────── compile time ─────────────────────────────

/** Exact type equality (the conditional-type identity trick: no `any` leaks, no one-way assignability). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * `readonly` removed at every depth. The engine declares its results readonly (they may be
 * frozen) and z.output is mutable; readonly is no property of the wire, so both sides are
 * compared without it. Intersections come out as one flat object.
 */
type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;

/** Mutual assignability: holds when A and B are equal after {@link Mutable}. */
const same = <A, B>(_proof: Equals<Mutable<A>, Mutable<B>>) => undefined;

describe('the engine’s wire interfaces are the schemas’ types', () => {
  test('rank: request (z.output), ranked item and response', () => {
    expectTypeOf<Mutable<RankRequest>>().toEqualTypeOf<Mutable<z.output<typeof rankRequestSchema>>>();
    expectTypeOf<Mutable<RankedItem>>().toEqualTypeOf<Mutable<z.output<typeof rankedItemSchema>>>();
    expectTypeOf<Mutable<RankResponse>>().toEqualTypeOf<Mutable<z.output<typeof rankResponseSchema>>>();
    same<RankRequest, z.output<typeof rankRequestSchema>>(true);
    same<RankResponse, z.output<typeof rankResponseSchema>>(true);
    // Callers write z.input: `context` may be left out there (it defaults to {}), so the engine's
    // request, where it is required, is assignable one way only.
    expectTypeOf<Mutable<RankRequest>>().toExtend<z.input<typeof rankRequestSchema>>();
    same<Omit<RankRequest, 'context'>, Omit<z.input<typeof rankRequestSchema>, 'context'>>(true);
  });

  test('feedback: event (z.output) and the answer', () => {
    expectTypeOf<Mutable<FeedbackEvent>>().toEqualTypeOf<Mutable<z.output<typeof feedbackEventSchema>>>();
    same<FeedbackEvent, z.output<typeof feedbackEventSchema>>(true);
    // The answer is what Engine.feedbackBatch returns. FeedbackResult is the per-event result
    // (`accepted: boolean`, no `duplicates`), not a wire shape; its `outcomes` is the answer's.
    expectTypeOf<Mutable<ReturnType<EngineType['feedbackBatch']>>>().toEqualTypeOf<Mutable<z.output<typeof feedbackResponseSchema>>>();
    expectTypeOf<FeedbackResult['outcomes']>().toEqualTypeOf<z.output<typeof feedbackResponseSchema>['outcomes']>();
  });

  test('model view and budget totals', () => {
    // `posteriorState` is not in ModelView: the route adds it for ?posterior=full. The config is
    // the output of the same schema (modelConfigSchema) on both sides; the strict identity check
    // tells apart shapes that are mutually assignable (its deep defaults), so it is checked both ways.
    same<Omit<ModelView, 'config'>, Omit<z.output<typeof modelViewSchema>, 'config' | 'posteriorState'>>(true);
    expectTypeOf<Mutable<ModelView['config']>>().toExtend<Mutable<z.output<typeof modelViewSchema>['config']>>();
    expectTypeOf<Mutable<z.output<typeof modelViewSchema>['config']>>().toExtend<Mutable<ModelView['config']>>();
    expectTypeOf<Mutable<BudgetTotals & { exploredShare: number }>>().toEqualTypeOf<Mutable<z.output<typeof budgetTotalsSchema>>>();
  });

  test('response schemas have no transforms or defaults: what the server writes is what clients read', () => {
    const io = <S extends z.ZodType>(_proof: Equals<z.input<S>, z.output<S>>) => undefined;
    io<typeof rankResponseSchema>(true);
    io<typeof feedbackResponseSchema>(true);
    io<typeof exposeResponseSchema>(true);
    io<typeof putModelResponseSchema>(true);
    io<typeof deleteModelResponseSchema>(true);
    // Except the model view's config: modelConfigSchema's output (every default filled in), whose
    // input type has the defaults optional. Parsing a parsed config again changes nothing:
    const rest = <A, B>(_proof: Equals<A, B>) => undefined;
    rest<Omit<z.input<typeof modelViewSchema>, 'config'>, Omit<z.output<typeof modelViewSchema>, 'config'>>(true);
    const parsed = modelConfigSchema.parse({ policy: { kind: 'logistic' }, features: { bits: 10 }, budget: { share: 0.2 } });
    expect(modelConfigSchema.parse(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed);
    io<typeof modelListSchema>(true);
    io<typeof userBudgetSchema>(true);
    io<typeof healthSchema>(true);
    io<typeof errorResponseSchema>(true);
  });
});
