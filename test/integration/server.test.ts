/**
 * The HTTP API end to end: real HTTP on 127.0.0.1 (port 0) through createApp, and startServer
 * (SQLite, the sweeper, snapshots, graceful close) on a temporary database.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseModelConfig, posteriorKey } from '../../src/engine/config.js';
import { Engine } from '../../src/engine/engine.js';
import { createApp } from '../../src/server/app.js';
import { openWalSync } from '../../src/server/durability.js';
import { memoryLogger } from '../../src/server/logger.js';
import { apiRoutes, openApiPath } from '../../src/server/openapi.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { MemoryStore } from '../../src/storage/memory/index.js';
import type { DecisionRecord } from '../../src/storage/types.js';
import { call, listen, shut, type Answer } from './http.js';

// ───────────────────────────── helpers ─────────────────────────────

function clockEngine(store = new MemoryStore()) {
  const clock = { now: 1_700_000_000_000 };
  let n = 0;
  const engine = new Engine({ store, clock: () => clock.now, newEventId: () => `ev${++n}`, snapshotEvery: 0 });
  return { engine, store, clock };
}

const items = (k: number) =>
  Array.from({ length: k }, (_, i) => ({ id: `item${i}`, features: { item: { price: i, kind: i % 2 === 0 ? 'even' : 'odd' } }, group: `g${i % 3}` }));
const context = { user: { age: 31, device: 'ios' }, session: { hour: 20 } };

function expectError(a: Answer, status: number, code: string): void {
  expect(a.status, a.text).toBe(status);
  expect(a.json?.error?.code, a.text).toBe(code);
  expect(typeof a.json.error.message).toBe('string');
  expect(a.json.error.requestId).toBe(a.headers.get('x-request-id'));
}

// ───────────────────────────── open API ─────────────────────────────

describe('the API without keys', () => {
  const { engine, store, clock } = clockEngine();
  const logger = memoryLogger();
  let base = '';
  let server: Server;

  beforeAll(async () => {
    ({ base, server } = await listen({ engine, logger, limits: { maxFeedbackBatch: 5 } }));
  });
  afterAll(async () => shut(server));

  test('healthz and readyz answer 200 ok', async () => {
    expect((await call(base, 'GET', '/healthz')).json).toEqual({ status: 'ok', neuralBackend: null });
    const r = await call(base, 'GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok' });
  });

  test('PUT creates a model (201, version 1), a second PUT reconfigures it (200, version 2)', async () => {
    const a = await call(base, 'PUT', '/v1/models/news', { body: { policy: { kind: 'linear-gaussian' }, budget: { share: 0.2 } } });
    expect(a.status, a.text).toBe(201);
    expect(a.json).toEqual({ modelId: 'news', version: 1, created: true });
    expect(a.headers.get('location')).toBe('/v1/models/news');
    const b = await call(base, 'PUT', '/v1/models/news', { body: { policy: { kind: 'linear-gaussian' }, budget: { share: 0.1 } } });
    expect(b.status).toBe(200);
    expect(b.json).toEqual({ modelId: 'news', version: 2, created: false });
    const g = await call(base, 'GET', '/v1/models/news');
    expect(g.status).toBe(200);
    expect(g.json.version).toBe(2);
    expect(g.json.config.budget.share).toBe(0.1);
    expect(g.json.budget.allowedShare).toBe(0.1);
    expect(g.json.posterior).toBeTypeOf('object');
  });

  test('an invalid config is a 400 INVALID_CONFIG naming the field, and creates nothing', async () => {
    const a = await call(base, 'PUT', '/v1/models/bad', { body: { policy: { kind: 'linear-gaussian' }, budget: { share: 2 } } });
    expectError(a, 400, 'INVALID_CONFIG');
    expect(a.json.error.field).toBe('budget.share');
    const u = await call(base, 'PUT', '/v1/models/bad', { body: { polcy: {} } });
    expectError(u, 400, 'INVALID_CONFIG');
    expect(u.json.error.issues.map((i: { path: string }) => i.path)).toContain('polcy');
    expect((await call(base, 'GET', '/v1/models/bad')).status).toBe(404);
  });

  test('GET /v1/models lists the models with version and policy kind', async () => {
    await call(base, 'PUT', '/v1/models/listed', { body: { policy: { kind: 'beta-bernoulli' } } });
    const r = await call(base, 'GET', '/v1/models');
    expect(r.status).toBe(200);
    const listed = r.json.models.find((m: { modelId: string }) => m.modelId === 'listed');
    expect(listed).toMatchObject({ modelId: 'listed', version: 1, policy: 'beta-bernoulli', createdAt: clock.now });
  });

  test('rank answers a slate with 1-based positions and propensities in (0, 1], committed before the answer', async () => {
    await call(base, 'PUT', '/v1/models/r1', { body: { budget: { share: 0.2 } } });
    const before = store.counts('r1').decisions;
    const r = await call(base, 'POST', '/v1/models/r1/rank', { body: { context, candidates: items(8), slots: 3, userId: 'u1' } });
    expect(r.status, r.text).toBe(200);
    expect(r.json.modelVersion).toBe(1);
    expect(r.json.slate.map((s: { position: number }) => s.position)).toEqual([1, 2, 3]);
    for (const s of r.json.slate) {
      expect(s.propensity).toBeGreaterThan(0);
      expect(s.propensity).toBeLessThanOrEqual(1);
      expect(typeof s.explored).toBe('boolean');
    }
    expect(store.counts('r1').decisions).toBe(before + 1);
    expect(store.getDecision('r1', r.json.eventId)).toBeDefined();
  });

  test('a reused eventId is a 409 DUPLICATE_EVENT', async () => {
    await call(base, 'PUT', '/v1/models/dup', { body: {} });
    const body = { context, candidates: items(4), eventId: 'same' };
    expect((await call(base, 'POST', '/v1/models/dup/rank', { body })).status).toBe(200);
    const again = await call(base, 'POST', '/v1/models/dup/rank', { body });
    expectError(again, 409, 'DUPLICATE_EVENT');
    expect(again.json.error.field).toBe('eventId');
  });

  test('rank errors: unknown model 404, bad model id 400, unknown field 400 naming it', async () => {
    expectError(await call(base, 'POST', '/v1/models/nope/rank', { body: { context, candidates: items(2) } }), 404, 'UNKNOWN_MODEL');
    expectError(await call(base, 'POST', '/v1/models/-bad/rank', { body: { context, candidates: items(2) } }), 400, 'INVALID_REQUEST');
    await call(base, 'PUT', '/v1/models/strict', { body: {} });
    const u = await call(base, 'POST', '/v1/models/strict/rank', { body: { context, candidates: items(2), colour: 'red' } });
    expectError(u, 400, 'INVALID_REQUEST');
    expect(u.json.error.field).toBe('colour');
    const nested = await call(base, 'POST', '/v1/models/strict/rank', {
      body: { context, candidates: [{ id: 'a', features: { item: { x: 1 } }, size: 3 }] },
    });
    expect(nested.json.error.field).toBe('candidates.0.size');
    const wrongType = await call(base, 'POST', '/v1/models/strict/rank', { body: { context: { user: { age: { nested: 1 } } }, candidates: items(2) } });
    expectError(wrongType, 400, 'INVALID_REQUEST');
    expect(wrongType.json.error.field).toBe('context.user.age');
    const inf = await call(base, 'POST', '/v1/models/strict/rank', { raw: `{"context":{"user":{"x":1e400}},"candidates":[{"id":"a"}]}` });
    expectError(inf, 400, 'INVALID_REQUEST');
    expect(inf.json.error.field).toBe('context.user.x');
    expect(store.counts('strict').decisions).toBe(0);
  });

  test('too many candidates is a 400 TOO_MANY_CANDIDATES (the model limit), slots over the limit a 400', async () => {
    await call(base, 'PUT', '/v1/models/small', { body: { limits: { maxCandidates: 10, maxSlots: 3 } } });
    const r = await call(base, 'POST', '/v1/models/small/rank', { body: { context, candidates: items(11) } });
    expectError(r, 400, 'TOO_MANY_CANDIDATES');
    expect(r.json.error.field).toBe('candidates');
    expect((await call(base, 'POST', '/v1/models/small/rank', { body: { context, candidates: items(10), slots: 3 } })).status).toBe(200);
    expectError(await call(base, 'POST', '/v1/models/small/rank', { body: { context, candidates: items(10), slots: 4 } }), 400, 'INVALID_REQUEST');
    expect(store.counts('small').decisions).toBe(1);
  });

  test('featurizer limits are a 400 INVALID_FEATURES with the field path', async () => {
    await call(base, 'PUT', '/v1/models/feat', { body: { features: { maxStringLength: 8, maxFeatures: 6 } } });
    const long = await call(base, 'POST', '/v1/models/feat/rank', { body: { context: { user: { city: 'a very long city name' } }, candidates: items(2) } });
    expectError(long, 400, 'INVALID_FEATURES');
    expect(long.json.error.field).toBe('context.user.city');
    const many = await call(base, 'POST', '/v1/models/feat/rank', {
      body: { context: { user: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, i + 1])) }, candidates: items(2) },
    });
    expectError(many, 400, 'INVALID_FEATURES');
    expect(store.counts('feat').decisions).toBe(0);
  });

  test('broken JSON is a 400, a wrong content type a 415, a missing body a 400, a body over the limit a 413', async () => {
    await call(base, 'PUT', '/v1/models/raw', { body: {} });
    expectError(await call(base, 'POST', '/v1/models/raw/rank', { raw: '{"context": {' }), 400, 'INVALID_REQUEST');
    expectError(await call(base, 'POST', '/v1/models/raw/rank', { raw: '"just a string"' }), 400, 'INVALID_REQUEST');
    expectError(await call(base, 'POST', '/v1/models/raw/rank', { raw: 'a=1', contentType: 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await call(base, 'POST', '/v1/models/raw/rank', { raw: '{}', contentType: null }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await call(base, 'POST', '/v1/models/raw/rank'), 400, 'INVALID_REQUEST');
    const big = JSON.stringify({ context, candidates: items(2), pad: 'x'.repeat(1024 * 1024) });
    expectError(await call(base, 'POST', '/v1/models/raw/rank', { raw: big }), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await call(base, 'PUT', '/v1/models/raw', { raw: big }), 413, 'PAYLOAD_TOO_LARGE');
    expect(store.counts('raw').decisions).toBe(0);
  });

  test('feedback is idempotent: the same event twice → the second is a duplicate with no new outcomes', async () => {
    await call(base, 'PUT', '/v1/models/fb', { body: { budget: { share: 0 } } });
    const r = await call(base, 'POST', '/v1/models/fb/rank', { body: { context, candidates: items(5), slots: 2 } });
    const { eventId } = r.json;
    const itemId = r.json.slate[0].id;
    const first = await call(base, 'POST', '/v1/models/fb/feedback', { body: { eventId, itemId, kind: 'click' } });
    expect(first.status, first.text).toBe(200);
    expect(first.json).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
    const outcomes = store.counts('fb').outcomes;
    const second = await call(base, 'POST', '/v1/models/fb/feedback', { body: { eventId, itemId, kind: 'click' } });
    expect(second.json).toEqual({ accepted: 0, duplicates: 1, outcomes: 0 });
    expect(store.counts('fb').outcomes).toBe(outcomes);
  });

  test('feedback batches count accepted, duplicates and outcomes; at may be an ISO string', async () => {
    await call(base, 'PUT', '/v1/models/fbb', { body: { budget: { share: 0 } } });
    const r = await call(base, 'POST', '/v1/models/fbb/rank', { body: { context, candidates: items(5), slots: 3 } });
    const { eventId } = r.json;
    const [a, b] = r.json.slate.map((s: { id: string }) => s.id);
    const batch = await call(base, 'POST', '/v1/models/fbb/feedback', {
      body: {
        events: [
          { eventId, itemId: a, kind: 'click', at: '2023-11-14T22:13:20.000Z' },
          { eventId, itemId: b, kind: 'convert', value: 12.5, at: clock.now },
          { eventId, itemId: a, kind: 'click' },
        ],
      },
    });
    expect(batch.status, batch.text).toBe(200);
    expect(batch.json).toEqual({ accepted: 2, duplicates: 1, outcomes: 2 });
  });

  test('feedback errors: unknown event 404, item not shown 400, bad kind/at 400, batch over the limit 400 — nothing written', async () => {
    await call(base, 'PUT', '/v1/models/fbe', { body: {} });
    const r = await call(base, 'POST', '/v1/models/fbe/rank', { body: { context, candidates: items(5), slots: 2 } });
    const { eventId } = r.json;
    const shown = new Set(r.json.slate.map((s: { id: string }) => s.id));
    const notShown = items(5).find((c) => !shown.has(c.id))!.id;
    const before = store.counts('fbe');
    expectError(await call(base, 'POST', '/v1/models/fbe/feedback', { body: { eventId: 'nope', itemId: 'item0', kind: 'click' } }), 404, 'UNKNOWN_EVENT');
    expectError(await call(base, 'POST', '/v1/models/fbe/feedback', { body: { eventId, itemId: notShown, kind: 'click' } }), 400, 'UNKNOWN_ITEM');
    const kind = await call(base, 'POST', '/v1/models/fbe/feedback', { body: { eventId, itemId: r.json.slate[0].id, kind: 'like' } });
    expectError(kind, 400, 'INVALID_REQUEST');
    expect(kind.json.error.field).toBe('kind');
    const at = await call(base, 'POST', '/v1/models/fbe/feedback', { body: { eventId, itemId: r.json.slate[0].id, kind: 'click', at: 'yesterday' } });
    expect(at.json.error.field).toBe('at');
    const events = Array.from({ length: 6 }, () => ({ eventId, itemId: r.json.slate[0].id, kind: 'click' }));
    const tooMany = await call(base, 'POST', '/v1/models/fbe/feedback', { body: { events } });
    expectError(tooMany, 400, 'INVALID_REQUEST');
    expect(tooMany.json.error.field).toBe('events');
    // One bad event rejects the whole batch.
    const mixed = await call(base, 'POST', '/v1/models/fbe/feedback', {
      body: { events: [{ eventId, itemId: r.json.slate[0].id, kind: 'click' }, { eventId: 'nope', itemId: 'x', kind: 'click' }] },
    });
    expectError(mixed, 404, 'UNKNOWN_EVENT');
    expect(mixed.json.error.field).toBe('events.1.eventId');
    expect(store.counts('fbe')).toEqual(before);
  });

  test('expose starts the reward windows of a deferred decision, once', async () => {
    await call(base, 'PUT', '/v1/models/ex', { body: {} });
    const r = await call(base, 'POST', '/v1/models/ex/rank', { body: { context, candidates: items(5), slots: 3, deferExposure: true } });
    const { eventId } = r.json;
    expect(store.counts('ex').openWindows).toBe(0);
    const e = await call(base, 'POST', `/v1/models/ex/decisions/${eventId}/expose`);
    expect(e.status, e.text).toBe(200);
    expect(e.json).toEqual({ eventId, exposed: true });
    expect(store.counts('ex').openWindows).toBe(3);
    const again = await call(base, 'POST', `/v1/models/ex/decisions/${eventId}/expose`, { body: {} });
    expect(again.json).toEqual({ eventId, exposed: false });
    expect(store.counts('ex').openWindows).toBe(3);
    expectError(await call(base, 'POST', '/v1/models/ex/decisions/nope/expose'), 404, 'UNKNOWN_EVENT');
    expectError(await call(base, 'POST', `/v1/models/ex/decisions/${eventId}/expose`, { body: { now: true } }), 400, 'INVALID_REQUEST');
  });

  test('silence: engine.tick closes due windows into ignored outcomes, visible in the model view and metrics', async () => {
    await call(base, 'PUT', '/v1/models/quiet', { body: { feedback: { rewardWindowSeconds: 60 }, budget: { share: 0 } } });
    await call(base, 'POST', '/v1/models/quiet/rank', { body: { context, candidates: items(4), slots: 2 } });
    expect(store.counts('quiet').openWindows).toBe(2);
    clock.now += 59_000;
    engine.tick();
    expect(store.counts('quiet').openWindows).toBe(2);
    clock.now += 2_000;
    expect(engine.tick()).toBeGreaterThanOrEqual(2);
    expect(store.counts('quiet').openWindows).toBe(0);
    const v = await call(base, 'GET', '/v1/models/quiet');
    expect(v.json.posterior.outcomes).toBe(2);
    const m = await call(base, 'GET', '/metrics');
    expect(m.text).toMatch(/liubai_outcomes_total\{model="quiet",kind="ignored"\} 2/);
    expect(m.text).toMatch(/liubai_ignored_share\{model="quiet"\} 1/);
  });

  test('the per-user ledger counts the user’s decisions and explored slots', async () => {
    await call(base, 'PUT', '/v1/models/led', { body: { budget: { share: 0.5, perUser: null } } });
    for (let i = 0; i < 4; i++) await call(base, 'POST', '/v1/models/led/rank', { body: { context, candidates: items(10), slots: 4, userId: 'ana' } });
    await call(base, 'POST', '/v1/models/led/rank', { body: { context, candidates: items(10), slots: 4, userId: 'bob' } });
    const b = await call(base, 'GET', '/v1/models/led/users/ana/budget');
    expect(b.status, b.text).toBe(200);
    expect(b.json.modelId).toBe('led');
    expect(b.json.userId).toBe('ana');
    expect(b.json.allTime.decisions).toBe(4);
    expect(b.json.allTime.slots).toBe(16);
    expect(b.json.allTime.explored).toBe(engine.userBudget('led', 'ana').explored);
    expect(b.json.lastHour.decisions).toBe(4);
    const since = await call(base, 'GET', `/v1/models/led/users/ana/budget?since=${clock.now + 1}`);
    expect(since.json.since.decisions).toBe(0);
    expectError(await call(base, 'GET', '/v1/models/led/users/ana/budget?since=soon'), 400, 'INVALID_REQUEST');
  });

  test('GET ?posterior=full adds the posterior state; a bad query value is a 400', async () => {
    await call(base, 'PUT', '/v1/models/pf', { body: {} });
    const full = await call(base, 'GET', '/v1/models/pf?posterior=full');
    expect(full.json.posteriorState).toEqual(engine.model('pf').posteriorSnapshot());
    expect((await call(base, 'GET', '/v1/models/pf')).json.posteriorState).toBeUndefined();
    expectError(await call(base, 'GET', '/v1/models/pf?posterior=all'), 400, 'INVALID_REQUEST');
  });

  test('DELETE removes the model and its log; then 404', async () => {
    await call(base, 'PUT', '/v1/models/gone', { body: {} });
    await call(base, 'POST', '/v1/models/gone/rank', { body: { context, candidates: items(3) } });
    const d = await call(base, 'DELETE', '/v1/models/gone');
    expect(d.status).toBe(200);
    expect(d.json).toEqual({ modelId: 'gone', deleted: true });
    expect(store.counts('gone').decisions).toBe(0);
    expectError(await call(base, 'GET', '/v1/models/gone'), 404, 'UNKNOWN_MODEL');
    expectError(await call(base, 'DELETE', '/v1/models/gone'), 404, 'UNKNOWN_MODEL');
  });

  test('unknown routes are 404 NOT_FOUND, a known path with another method 405 with Allow', async () => {
    expectError(await call(base, 'GET', '/v2/nothing'), 404, 'NOT_FOUND');
    const m = await call(base, 'PATCH', '/v1/models/news', { body: {} });
    expectError(m, 405, 'METHOD_NOT_ALLOWED');
    expect(m.headers.get('allow')).toBe('PUT, GET, DELETE, HEAD');
    expectError(await call(base, 'GET', '/v1/models/news/rank'), 405, 'METHOD_NOT_ALLOWED');
    expectError(await call(base, 'GET', '/v1/models/%E0%A4%A/rank'), 400, 'INVALID_REQUEST');
  });

  test('a client x-request-id is echoed in the header and the error body', async () => {
    const a = await call(base, 'GET', '/v1/models/nope', { headers: { 'x-request-id': 'trace-42' } });
    expect(a.headers.get('x-request-id')).toBe('trace-42');
    expect(a.json.error.requestId).toBe('trace-42');
  });

  test('openapi.json is an OpenAPI 3.1 document listing every route with its bodies', async () => {
    const r = await call(base, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.json;
    expect(doc.openapi).toBe('3.1.0');
    for (const route of apiRoutes) {
      const op = doc.paths[openApiPath(route.path)]?.[route.method];
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      expect(Object.keys(op.responses)).toContain('500');
      if (route.body) expect(op.requestBody.content['application/json'].schema.$ref).toMatch(/^#\/components\/schemas\//);
    }
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/healthz',
        '/metrics',
        '/openapi.json',
        '/readyz',
        '/v1/models',
        '/v1/models/{modelId}',
        '/v1/models/{modelId}/decisions/{eventId}/expose',
        '/v1/models/{modelId}/feedback',
        '/v1/models/{modelId}/rank',
        '/v1/models/{modelId}/users/{userId}/budget',
      ].sort(),
    );
    const rank = doc.components.schemas.RankRequest;
    expect(rank.required).toContain('candidates');
    expect(rank.additionalProperties).toBe(false);
    expect(Object.keys(rank.properties).sort()).toEqual(['candidates', 'context', 'deferExposure', 'eventId', 'slots', 'userId']);
    expect(doc.components.schemas.ModelConfig.properties.policy).toBeDefined();
    expect(JSON.stringify(doc)).not.toContain('$defs');
  });

  test('metrics: Prometheus text with request, decision, outcome, budget, lag and window metrics', async () => {
    await call(base, 'PUT', '/v1/models/met', { body: {} });
    for (let i = 0; i < 3; i++) await call(base, 'POST', '/v1/models/met/rank', { body: { context, candidates: items(4), slots: 2 } });
    const r = await call(base, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/plain/);
    for (const name of [
      'liubai_http_requests_total',
      'liubai_http_request_duration_seconds_bucket',
      'liubai_decisions_total',
      'liubai_outcomes_total',
      'liubai_ignored_share',
      'liubai_explored_share',
      'liubai_budget_spent_slots',
      'liubai_budget_spent_cost_total',
      'liubai_unlearnable_outcomes_total',
      'liubai_floor_slates_total',
      'liubai_budget_allowed_share',
      'liubai_learning_log_lag',
      'liubai_open_windows',
      'liubai_models',
    ]) {
      expect(r.text, name).toContain(name);
    }
    expect(r.text).toMatch(/liubai_decisions_total\{model="met"\} 3/);
    // Spent: the ledger's slots and the sum of its cost estimates, as the model view reports them.
    const view = (await call(base, 'GET', '/v1/models/met')).json;
    const spentCost = Number(/liubai_budget_spent_cost_total\{model="met"\} (\S+)/.exec(r.text)![1]);
    expect(spentCost).toBeCloseTo(view.budget.allTime.cost, 9);
    expect(r.text).toContain(`liubai_budget_spent_slots{model="met"} ${view.budget.allTime.explored}`);
    expect(r.text).toMatch(/liubai_open_windows\{model="met"\} 6/);
    expect(r.text).toMatch(/liubai_learning_log_lag\{model="met"\} 0/);
    expect(r.text).toMatch(/liubai_reward_windows_overdue_seconds\{model="met"\} 0\n/);
    expect(r.text).toMatch(/liubai_http_requests_total\{route="\/v1\/models\/:modelId\/rank",method="POST",status="200"\} \d+/);
    // No sweeper runs here: 5 s after the default 1,800 s window ended, the oldest waits 5 s.
    clock.now += 1_805_000;
    try {
      const late = await call(base, 'GET', '/metrics');
      expect(late.text).toMatch(/liubai_reward_windows_overdue_seconds\{model="met"\} 5\n/);
      expect(late.text).toMatch(/liubai_open_windows\{model="met"\} 6/);
    } finally {
      clock.now -= 1_805_000;
    }
  });

  test('nothing was logged for client errors', () => {
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('readiness', () => {
  test('readyz is 503 NOT_READY while not ready, and 200 once ready', async () => {
    let ready = false;
    const { base, server } = await listen({ engine: clockEngine().engine, isReady: () => ready, logger: memoryLogger() });
    try {
      expectError(await call(base, 'GET', '/readyz'), 503, 'NOT_READY');
      expect((await call(base, 'GET', '/healthz')).status).toBe(200);
      ready = true;
      expect((await call(base, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await shut(server);
    }
  });
});

// ───────────────────────────── load shedding ─────────────────────────────

/** A metric's value in exposition text (the first sample of that name, with `labels` as written). */
function sample(text: string, name: string, labels = ''): number {
  const prefix = `${name}${labels} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? NaN : Number(line.slice(prefix.length));
}

/** Poll `read` (every 5 ms, at most 5 s) until it gives `want`. */
async function until(read: () => Promise<number>, want: number): Promise<void> {
  const end = Date.now() + 5000;
  let got = await read();
  while (got !== want) {
    if (Date.now() > end) throw new Error(`still ${got}, waited for ${want}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
    got = await read();
  }
}

describe('load shedding (maxPendingRanks)', () => {
  /** A rank request whose body is sent only in part: routed (in progress) but not finished. */
  function halfSentRank(base: string, body: string): { finish: () => void; abandon: () => void; answer: Promise<{ status: number; text: string }> } {
    const u = new URL(base);
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: '/v1/models/m/rank',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    req.write(body.slice(0, 10));
    return { finish: () => req.end(body.slice(10)), abandon: () => req.destroy(), answer };
  }

  test('a rank over the limit is 503 OVERLOADED with Retry-After, writes nothing, and the slot frees when the answer ends', async () => {
    const { engine } = clockEngine();
    const { base, server } = await listen({ engine, logger: memoryLogger(), limits: { maxPendingRanks: 1 } });
    const metric = async (name: string, labels = '') => sample((await call(base, 'GET', '/metrics')).text, name, labels);
    try {
      expect((await call(base, 'PUT', '/v1/models/m', { body: {} })).status).toBe(201);
      const a = halfSentRank(base, JSON.stringify({ eventId: 'a', context, candidates: items(4) }));
      await until(() => metric('liubai_ranks_in_progress'), 1);

      const b = await call(base, 'POST', '/v1/models/m/rank', { body: { eventId: 'b', context, candidates: items(4) } });
      expectError(b, 503, 'OVERLOADED');
      expect(b.headers.get('retry-after')).toBe('1');
      expect(await metric('liubai_ranks_shed_total')).toBe(1);
      expect(await metric('liubai_decisions_total', '{model="m"}')).toBe(0);
      // Other routes are not limited.
      expect((await call(base, 'GET', '/v1/models/m')).status).toBe(200);

      a.finish();
      const answerA = await a.answer;
      expect(answerA.status, answerA.text).toBe(200);
      await until(() => metric('liubai_ranks_in_progress'), 0);
      // Nothing of the shed request was written: its eventId is still free.
      const again = await call(base, 'POST', '/v1/models/m/rank', { body: { eventId: 'b', context, candidates: items(4) } });
      expect(again.status, again.text).toBe(200);
      expect(again.json.eventId).toBe('b');
      expect(await metric('liubai_decisions_total', '{model="m"}')).toBe(2);
      expect(await metric('liubai_ranks_shed_total')).toBe(1);
    } finally {
      await shut(server);
    }
  });

  test('a client that abandons its rank frees its slot', async () => {
    const { engine } = clockEngine();
    const { base, server } = await listen({ engine, logger: memoryLogger(), limits: { maxPendingRanks: 1 } });
    const inProgress = async () => sample((await call(base, 'GET', '/metrics')).text, 'liubai_ranks_in_progress');
    try {
      expect((await call(base, 'PUT', '/v1/models/m', { body: {} })).status).toBe(201);
      const a = halfSentRank(base, JSON.stringify({ eventId: 'a', context, candidates: items(4) }));
      a.answer.catch(() => undefined);
      await until(inProgress, 1);
      a.abandon();
      await until(inProgress, 0);
      const c = await call(base, 'POST', '/v1/models/m/rank', { body: { eventId: 'c', context, candidates: items(4) } });
      expect(c.status, c.text).toBe(200);
    } finally {
      await shut(server);
    }
  });

  test('maxPendingRanks must be a positive integer', () => {
    expect(() => createApp({ engine: clockEngine().engine, logger: memoryLogger(), limits: { maxPendingRanks: 0 } })).toThrow(/maxPendingRanks/);
  });
});

// ───────────────────────────── auth ─────────────────────────────

describe('API keys', () => {
  const SCORING = 'scoring-key-0123456789';
  const ADMIN = 'admin-key-9876543210';
  const { engine } = clockEngine();
  const logger = memoryLogger();
  let base = '';
  let server: Server;

  beforeAll(async () => {
    ({ base, server } = await listen({ engine, logger, keys: { scoring: [SCORING], admin: [ADMIN] } }));
  });
  afterAll(async () => shut(server));

  test('admin routes need an admin key: none → 401, unknown → 401, scoring → 403, admin → 201', async () => {
    const none = await call(base, 'PUT', '/v1/models/k', { body: {} });
    expectError(none, 401, 'UNAUTHORIZED');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expectError(await call(base, 'PUT', '/v1/models/k', { body: {}, key: 'not-a-key-at-all' }), 401, 'UNAUTHORIZED');
    expectError(await call(base, 'PUT', '/v1/models/k', { body: {}, headers: { authorization: `Basic ${ADMIN}` } }), 401, 'UNAUTHORIZED');
    expectError(await call(base, 'PUT', '/v1/models/k', { body: {}, key: SCORING }), 403, 'FORBIDDEN');
    expect(engine.has('k')).toBe(false);
    expect((await call(base, 'PUT', '/v1/models/k', { body: {}, key: ADMIN })).status).toBe(201);
    expectError(await call(base, 'DELETE', '/v1/models/k', { key: SCORING }), 403, 'FORBIDDEN');
  });

  test('scoring routes take a scoring or an admin key, and refuse a missing one before reading the body', async () => {
    const rank = { context, candidates: items(3) };
    expectError(await call(base, 'POST', '/v1/models/k/rank', { body: rank }), 401, 'UNAUTHORIZED');
    expectError(await call(base, 'POST', '/v1/models/k/rank', { raw: '{broken', key: 'nope-nope-nope' }), 401, 'UNAUTHORIZED');
    const s = await call(base, 'POST', '/v1/models/k/rank', { body: rank, key: SCORING });
    expect(s.status, s.text).toBe(200);
    expect((await call(base, 'POST', '/v1/models/k/rank', { body: rank, key: ADMIN })).status).toBe(200);
    const fb = await call(base, 'POST', '/v1/models/k/feedback', { body: { eventId: s.json.eventId, itemId: s.json.slate[0].id, kind: 'click' }, key: SCORING });
    expect(fb.status).toBe(200);
    expect((await call(base, 'GET', '/v1/models/k', { key: SCORING })).status).toBe(200);
    expect((await call(base, 'GET', '/v1/models', { key: SCORING })).status).toBe(200);
    expectError(await call(base, 'GET', '/v1/models'), 401, 'UNAUTHORIZED');
  });

  test('healthz, readyz, metrics and openapi.json need no key', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) expect((await call(base, 'GET', path)).status, path).toBe(200);
  });

  test('keys never reach the log', () => {
    const text = JSON.stringify(logger.lines);
    expect(text).not.toContain(SCORING);
    expect(text).not.toContain(ADMIN);
  });
});

// ───────────────────────────── internal errors ─────────────────────────────

/** A store whose decision log is broken (a fake: the disk failed). */
class BrokenStore extends MemoryStore {
  override insertDecision(_record: DecisionRecord): void {
    throw new Error('disk /dev/sda3 failed: secret-internal-detail');
  }
}

describe('internal errors', () => {
  test('are a generic 500 INTERNAL that never echoes the message, logged once with the request id', async () => {
    const logger = memoryLogger();
    const { engine } = clockEngine(new BrokenStore());
    engine.putModel('m', {});
    const { base, server } = await listen({ engine, logger });
    try {
      const r = await call(base, 'POST', '/v1/models/m/rank', { body: { context, candidates: items(3) } });
      expectError(r, 500, 'INTERNAL');
      expect(r.text).not.toContain('secret');
      expect(r.text).not.toContain('sda3');
      const errors = logger.lines.filter((l) => l.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.requestId).toBe(r.json.error.requestId);
      expect(JSON.stringify(errors[0])).toContain('secret-internal-detail');
      const m = await call(base, 'GET', '/metrics');
      expect(m.text).toMatch(/liubai_http_requests_total\{route="\/v1\/models\/:modelId\/rank",method="POST",status="500"\} 1/);
    } finally {
      await shut(server);
    }
  });
});

// ───────────────────────────── startServer ─────────────────────────────

describe('startServer (SQLite, sweeper, snapshots, graceful close)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'liubai-server-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the sweeper closes reward windows with the real clock; close() snapshots and a restart recovers the posterior', async () => {
    const dbPath = join(dir, 'sweep.db');
    const logger = memoryLogger();
    // A window long enough that the click lands inside it even on a loaded machine (a late click
    // would retract a silence instead: 3 silences + 1 click).
    const config = { feedback: { rewardWindowSeconds: 1 }, budget: { share: 0 } };
    const a: RunningServer = await startServer({
      host: '127.0.0.1',
      port: 0,
      dbPath,
      models: { quiet: config },
      sweepIntervalMs: 50,
      snapshotIntervalMs: 0,
      logger,
      processMetrics: false,
    });
    expect(a.created).toEqual(['quiet']);
    const r = await call(a.url, 'POST', '/v1/models/quiet/rank', { body: { context, candidates: items(5), slots: 3 } });
    expect(r.status, r.text).toBe(200);
    await call(a.url, 'POST', '/v1/models/quiet/feedback', { body: { eventId: r.json.eventId, itemId: r.json.slate[0].id, kind: 'click' } });
    const deadline = Date.now() + 6000;
    while (a.engine.store.counts('quiet').openWindows > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
    expect(a.engine.store.counts('quiet').openWindows).toBe(0);
    const view = (await call(a.url, 'GET', '/v1/models/quiet?posterior=full')).json;
    expect(view.posterior.outcomes).toBe(3); // one click + two silences
    await a.close();
    await a.close(); // idempotent

    const b = await startServer({ host: '127.0.0.1', port: 0, dbPath, models: { quiet: config }, logger, processMetrics: false });
    try {
      expect(b.created).toEqual([]);
      const again = (await call(b.url, 'GET', '/v1/models/quiet?posterior=full')).json;
      expect(again.version).toBe(1); // same config: not reconfigured
      expect(again.posteriorState).toEqual(view.posteriorState);
    } finally {
      await b.close();
    }
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  test('periodic snapshots: every snapshotIntervalMs, a model whose posterior moved is snapshotted at its learned position; one that did not is not', async () => {
    const config = { budget: { share: 0 } };
    const key = posteriorKey(parseModelConfig(config));
    const s = await startServer({
      host: '127.0.0.1',
      port: 0,
      dbPath: join(dir, 'periodic.db'),
      models: { moving: config, still: config },
      snapshotEvery: 0,
      snapshotIntervalMs: 40,
      decisionThreads: 1,
      logger: memoryLogger(),
      processMetrics: false,
    });
    try {
      const store = s.engine.store;
      const waitFor = async (ok: () => boolean) => {
        const deadline = Date.now() + 8000;
        while (!ok() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
        return ok();
      };
      for (let round = 1; round <= 2; round++) {
        const r = await call(s.url, 'POST', '/v1/models/moving/rank', { body: { context, candidates: items(4), slots: 2 } });
        expect((await call(s.url, 'POST', '/v1/models/moving/feedback', { body: { eventId: r.json.eventId, itemId: r.json.slate[0].id, kind: 'click' } })).status).toBe(200);
        const seq = store.lastSeq('moving');
        // Taken by the timer alone (snapshotEvery is 0), at the position the replica learned.
        expect(await waitFor(() => store.latestSnapshot('moving', key)?.seq === seq)).toBe(true);
        const snap = store.latestSnapshot('moving', key)!;
        expect(JSON.stringify((snap.state as { policy: unknown }).policy)).toBe(JSON.stringify(s.engine.model('moving').posteriorSnapshot()));
        expect(snap.state).toMatchObject({ ordinals: round });
      }
      // The other model never moved: no snapshot, however many intervals passed.
      expect(store.latestSnapshot('still', key)).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  test('backpressure: feedback is acknowledged only once the replica lags at most maxLearningLag entries', async () => {
    // Bound 0: the 2xx of a large batch waits until the replica has applied every entry (without
    // the wait, the replica is still learning when the answer arrives: the operations leave after
    // the answer, with the next turn of the event loop).
    const s = await startServer({ host: '127.0.0.1', port: 0, dbPath: join(dir, 'bp0.db'), models: { bp: {} }, maxLearningLag: 0, decisionThreads: 1, logger: memoryLogger() });
    try {
      const events: Array<{ eventId: string; itemId: string; kind: string }> = [];
      for (let round = 0; round < 10; round++) {
        const answers = await Promise.all(
          Array.from({ length: 10 }, () => call(s.url, 'POST', '/v1/models/bp/rank', { body: { context, candidates: items(6), slots: 5 } })),
        );
        for (const r of answers) {
          expect(r.status, r.text).toBe(200);
          for (const x of r.json.slate as Array<{ id: string }>) events.push({ eventId: r.json.eventId, itemId: x.id, kind: 'click' });
        }
      }
      const m = s.engine.model('bp');
      expect(m.replicated).toBe(true);
      const f = await call(s.url, 'POST', '/v1/models/bp/feedback', { body: { events } });
      expect(f.status, f.text).toBe(200);
      expect(m.posteriorSeq).toBe(500);
      expect(m.learnedSeq).toBe(500);
      expect((await call(s.url, 'GET', '/metrics')).text).toMatch(/liubai_learning_log_lag\{model="bp"\} 0\n/);
    } finally {
      await s.close();
    }
  });

  test('a fallback (demo) model is created only in an empty store; a changed configured model is reconfigured', async () => {
    const dbPath = join(dir, 'fallback.db');
    const a = await startServer({ host: '127.0.0.1', port: 0, dbPath, fallbackModel: { modelId: 'demo', config: {} }, logger: memoryLogger(), processMetrics: false });
    expect(a.created).toEqual(['demo']);
    await a.close();
    const b = await startServer({
      host: '127.0.0.1',
      port: 0,
      dbPath,
      models: { demo: { slots: 2 } },
      fallbackModel: { modelId: 'other', config: {} },
      logger: memoryLogger(),
      processMetrics: false,
    });
    try {
      expect(b.created).toEqual([]);
      expect(b.engine.modelIds()).toEqual(['demo']);
      expect(b.engine.model('demo').version).toBe(2);
    } finally {
      await b.close();
    }
  });

  test('durability "power": every write waits for a shared WAL fsync before its 2xx', async () => {
    const dbPath = join(dir, 'power.db');
    const s = await startServer({ host: '127.0.0.1', port: 0, dbPath, models: { p: {} }, durability: 'power', logger: memoryLogger(), processMetrics: false });
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => call(s.url, 'POST', '/v1/models/p/rank', { body: { context, candidates: items(4), slots: 2 } })),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(s.engine.store.counts('p').decisions).toBe(20);
    } finally {
      await s.close();
    }
  });

  test('openWalSync: concurrent barriers share fsyncs (group commit), and a later barrier waits for a later fsync', async () => {
    const dbPath = join(dir, 'wal.db');
    const s = await startServer({ host: '127.0.0.1', port: 0, dbPath, logger: memoryLogger(), processMetrics: false });
    const wal = await openWalSync(dbPath);
    try {
      await Promise.all(Array.from({ length: 50 }, () => wal.barrier()));
      // The first barrier starts an fsync; the 49 others all wait for the single next one.
      expect(wal.syncs).toBe(2);
      await wal.barrier();
      expect(wal.syncs).toBe(3);
    } finally {
      await wal.close();
      await s.close();
    }
  });

  test('the checkpointer worker copies the WAL into the database file off the event loop', async () => {
    const run = async (name: string, checkpointIntervalMs: number) => {
      const dbPath = join(dir, name);
      const s = await startServer({ host: '127.0.0.1', port: 0, dbPath, models: { c: {} }, checkpointIntervalMs, logger: memoryLogger(), processMetrics: false });
      try {
        const before = statSync(dbPath).size;
        for (let i = 0; i < 30; i++) await call(s.url, 'POST', '/v1/models/c/rank', { body: { context, candidates: items(20), slots: 3 } });
        await new Promise((res) => setTimeout(res, 150));
        // Far below SQLite's own 1,000-page threshold: only the worker can have grown the file.
        return statSync(dbPath).size - before;
      } finally {
        await s.close();
      }
    };
    expect(await run('ckpt-off.db', 0)).toBe(0);
    expect(await run('ckpt-on.db', 20)).toBeGreaterThan(0);
  });

  test('a port in use is a startup error and leaves the database closed', async () => {
    const a = await startServer({ host: '127.0.0.1', port: 0, dbPath: join(dir, 'a.db'), logger: memoryLogger(), processMetrics: false });
    try {
      await expect(startServer({ host: '127.0.0.1', port: a.port, dbPath: join(dir, 'b.db'), logger: memoryLogger(), processMetrics: false })).rejects.toThrow(
        /EADDRINUSE/,
      );
    } finally {
      await a.close();
    }
  });
});

describe('neural-linear through the API', () => {
  test('PUT of a neural-linear model loads tensorflow.js and /healthz names its backend', async () => {
    const { Engine } = await import('../../src/engine/engine.js');
    const { MemoryStore } = await import('../../src/storage/memory/index.js');
    const { createApp } = await import('../../src/server/app.js');
    const engine = new Engine({ store: new MemoryStore(), snapshotEvery: 0 });
    const app = createApp({ engine });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const put = await call(url, 'PUT', '/v1/models/deep', { body: { policy: { kind: 'neural-linear', hidden: [8] } } });
      expect(put.status).toBe(201);
      const health = await call(url, 'GET', '/healthz');
      expect(['tensorflow', 'wasm', 'cpu']).toContain((health.json as { neuralBackend: string }).neuralBackend);
      const rank = await call(url, 'POST', '/v1/models/deep/rank', {
        body: { context: { user: { a: 1 } }, candidates: [{ id: 'x' }, { id: 'y' }, { id: 'z' }], slots: 2 },
      });
      expect(rank.status).toBe(200);
      expect((rank.json as { slate: unknown[] }).slate).toHaveLength(2);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      engine.model('deep').close();
    }
  });
});
