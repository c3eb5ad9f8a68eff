/**
 * API keys on every route, over real HTTP (127.0.0.1, port 0) through createApp: each route of
 * {@link apiRoutes} × {no key, unknown key, scoring key, admin key} gets its exact status, and a
 * refused request (401 UNAUTHORIZED / 403 FORBIDDEN) changes nothing. The routes are enumerated
 * from `apiRoutes`, so a route added there without a case here fails the coverage test.
 *
 * Complements test/integration/server.test.ts ("API keys"), which checks PUT and rank by hand.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { errorCatalog } from '../../src/engine/errors.js';
import type { Role } from '../../src/server/auth.js';
import { memoryLogger } from '../../src/server/logger.js';
import { apiRoutes, openApiPath } from '../../src/server/openapi.js';
import { MemoryStore } from '../../src/storage/memory/index.js';
import type { DecisionRecord } from '../../src/storage/types.js';
import { call, listen, shut, type Answer } from './http.js';

// ───────────────────────────── helpers ─────────────────────────────

function clockEngine(store = new MemoryStore()) {
  let n = 0;
  const engine = new Engine({ store, clock: () => 1_700_000_000_000, newEventId: () => `auto${++n}`, snapshotEvery: 0 });
  return { engine, store };
}

const items = (k: number) => Array.from({ length: k }, (_, i) => ({ id: `item${i}`, features: { item: { price: i } }, group: `g${i % 2}` }));
const context = { user: { age: 31 }, session: { hour: 20 } };

function expectRefused(a: Answer, status: 401 | 403, presented: string | undefined): void {
  const code = status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN';
  // The catalog is the source of the status: a change there must show up here.
  expect(errorCatalog[code]).toBe(status);
  expect(a.status, a.text).toBe(status);
  expect(a.json?.error?.code, a.text).toBe(code);
  expect(a.json.error.requestId).toBe(a.headers.get('x-request-id'));
  expect(a.headers.get('www-authenticate')).toBe(status === 401 ? 'Bearer' : null);
  // The answer never echoes what was presented.
  if (presented !== undefined) expect(a.text).not.toContain(presented);
}

// ───────────────────────────── the matrix ─────────────────────────────

const SCORING = 'sk_7Qm2vX9pL4tR8wZ1nB6c';
const SCORING_2 = 'sk_second_0aa1bb2cc3dd4ee';
const ADMIN = 'ak_Hy3Jd8Ks1Lq5Mz0Nx7Pw';
const UNKNOWN = 'ak_not_configured_Hy3Jd8Ks1';
const ALL_KEYS = [SCORING, SCORING_2, ADMIN, UNKNOWN];

type KeyCase = 'none' | 'unknown' | 'scoring' | 'admin';
const KEY_CASES: readonly KeyCase[] = ['none', 'unknown', 'scoring', 'admin'];
/** The Authorization header of each key case (the scoring case uses the second configured scoring key). */
const presented: Record<KeyCase, string | undefined> = { none: undefined, unknown: UNKNOWN, scoring: SCORING_2, admin: ADMIN };

/** What auth.ts says each class of route answers to each key (ok = the route's own success). */
const expected: Record<'scoring' | 'admin' | 'public', Record<KeyCase, 'ok' | 401 | 403>> = {
  scoring: { none: 401, unknown: 401, scoring: 'ok', admin: 'ok' },
  admin: { none: 401, unknown: 401, scoring: 403, admin: 'ok' },
  public: { none: 'ok', unknown: 'ok', scoring: 'ok', admin: 'ok' },
};

/** One request of a route case, built fresh for each key (its own eventId, model, decision…). */
interface Spec {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  /** After a success: the answer and the state it must have produced. */
  readonly accepted: (a: Answer) => Promise<void> | void;
  /** After a refusal: what must still be as before (on top of the whole-state comparison). */
  readonly refused: () => Promise<void> | void;
}

interface RouteCase {
  readonly name: string;
  readonly success: number;
  readonly make: () => Spec;
}

describe('every route × {no key, unknown key, scoring key, admin key}', () => {
  const { engine, store } = clockEngine();
  const logger = memoryLogger();
  let base = '';
  let server: Server;
  let n = 0;
  const fresh = (prefix: string) => `${prefix}-${++n}`;

  /** A decision on model m made in-process (setup, not under test). */
  const decide = (deferExposure = false) => engine.rank('m', { context, candidates: items(5), slots: 3, userId: 'u1', deferExposure });

  /** The class of every route as auth.ts and openapi.ts define it (checked against apiRoutes below). */
  const roleOf: Record<string, Role | null> = {
    rank: 'scoring',
    feedback: 'scoring',
    expose: 'scoring',
    listModels: 'scoring',
    getModel: 'scoring',
    userBudget: 'scoring',
    putModel: 'admin',
    deleteModel: 'admin',
    healthz: null,
    readyz: null,
    metrics: null,
    openapi: null,
  };

  const cases: Record<string, readonly RouteCase[]> = {
    rank: [
      {
        name: 'rank',
        success: 200,
        make: () => {
          const eventId = fresh('rank');
          return {
            method: 'POST',
            path: '/v1/models/m/rank',
            body: { eventId, context, candidates: items(4), slots: 2, userId: 'u1' },
            accepted: (a) => {
              expect(a.json.eventId).toBe(eventId);
              expect(a.json.slate).toHaveLength(2);
              expect(store.getDecision('m', eventId)).toBeDefined();
            },
            refused: () => expect(store.getDecision('m', eventId)).toBeUndefined(),
          };
        },
      },
    ],
    feedback: [
      {
        name: 'feedback (one event)',
        success: 200,
        make: () => {
          const d = decide();
          const itemId = d.slate[0]!.id;
          return {
            method: 'POST',
            path: '/v1/models/m/feedback',
            body: { eventId: d.eventId, itemId, kind: 'click' },
            accepted: (a) => {
              expect(a.json).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
              expect(store.activeOutcome('m', d.eventId, itemId)?.kind).toBe('click');
            },
            refused: () => {
              expect(store.activeOutcome('m', d.eventId, itemId)).toBeUndefined();
              expect(store.isWindowOpen('m', d.eventId, itemId)).toBe(true);
            },
          };
        },
      },
      {
        name: 'feedback (batch)',
        success: 200,
        make: () => {
          const d = decide();
          const [a0, a1] = [d.slate[0]!.id, d.slate[1]!.id];
          return {
            method: 'POST',
            path: '/v1/models/m/feedback',
            body: { events: [{ eventId: d.eventId, itemId: a0, kind: 'click' }, { eventId: d.eventId, itemId: a1, kind: 'dismiss' }] },
            accepted: (a) => {
              expect(a.json).toEqual({ accepted: 2, duplicates: 0, outcomes: 2 });
              expect(store.activeOutcome('m', d.eventId, a0)?.kind).toBe('click');
              expect(store.activeOutcome('m', d.eventId, a1)?.kind).toBe('dismiss');
            },
            refused: () => {
              expect(store.activeOutcome('m', d.eventId, a0)).toBeUndefined();
              expect(store.activeOutcome('m', d.eventId, a1)).toBeUndefined();
            },
          };
        },
      },
    ],
    expose: [
      {
        name: 'expose',
        success: 200,
        make: () => {
          const d = decide(true);
          return {
            method: 'POST',
            path: `/v1/models/m/decisions/${d.eventId}/expose`,
            accepted: (a) => {
              expect(a.json).toEqual({ eventId: d.eventId, exposed: true });
              expect(store.getDecision('m', d.eventId)?.exposedAt).not.toBeNull();
            },
            refused: () => expect(store.getDecision('m', d.eventId)?.exposedAt).toBeNull(),
          };
        },
      },
    ],
    listModels: [
      {
        name: 'list models',
        success: 200,
        make: () => ({
          method: 'GET',
          path: '/v1/models',
          accepted: (a) => expect(a.json.models.map((m: { modelId: string }) => m.modelId)).toContain('m'),
          refused: () => undefined,
        }),
      },
    ],
    getModel: [
      {
        name: 'get model',
        success: 200,
        make: () => ({
          method: 'GET',
          path: '/v1/models/m?posterior=full',
          accepted: (a) => {
            expect(a.json.modelId).toBe('m');
            expect(a.json.posteriorState).toBeDefined();
          },
          refused: () => undefined,
        }),
      },
    ],
    userBudget: [
      {
        name: 'per-user budget',
        success: 200,
        make: () => ({
          method: 'GET',
          path: '/v1/models/m/users/u1/budget',
          accepted: (a) => {
            expect(a.json.userId).toBe('u1');
            expect(a.json.allTime.decisions).toBe(store.budgetTotals('m', { userId: 'u1' }).decisions);
          },
          refused: () => undefined,
        }),
      },
    ],
    putModel: [
      {
        name: 'PUT model (create)',
        success: 201,
        make: () => {
          const modelId = fresh('created');
          return {
            method: 'PUT',
            path: `/v1/models/${modelId}`,
            body: { policy: { kind: 'beta-bernoulli' } },
            accepted: (a) => {
              expect(a.json).toEqual({ modelId, version: 1, created: true });
              expect(engine.has(modelId)).toBe(true);
            },
            refused: () => {
              expect(engine.has(modelId)).toBe(false);
              expect(store.getModel(modelId)).toBeUndefined();
            },
          };
        },
      },
      {
        name: 'PUT model (reconfigure)',
        success: 200,
        make: () => {
          const modelId = fresh('reconf');
          engine.putModel(modelId, { budget: { share: 0 } });
          return {
            method: 'PUT',
            path: `/v1/models/${modelId}`,
            body: { budget: { share: 0.3 } },
            accepted: (a) => {
              expect(a.json).toEqual({ modelId, version: 2, created: false });
              expect(engine.model(modelId).config.budget.share).toBe(0.3);
            },
            refused: () => {
              expect(engine.model(modelId).version).toBe(1);
              expect(engine.model(modelId).config.budget.share).toBe(0);
            },
          };
        },
      },
    ],
    deleteModel: [
      {
        name: 'DELETE model',
        success: 200,
        make: () => {
          const modelId = fresh('doomed');
          engine.putModel(modelId, {});
          const d = engine.rank(modelId, { context, candidates: items(3), slots: 2 });
          engine.feedback(modelId, { eventId: d.eventId, itemId: d.slate[0]!.id, kind: 'click' });
          return {
            method: 'DELETE',
            path: `/v1/models/${modelId}`,
            accepted: async (a) => {
              expect(a.json).toEqual({ modelId, deleted: true });
              // Gone, with everything logged for it.
              expect(engine.has(modelId)).toBe(false);
              expect(store.getModel(modelId)).toBeUndefined();
              expect(store.getDecision(modelId, d.eventId)).toBeUndefined();
              expect(store.counts(modelId)).toEqual({ decisions: 0, feedback: 0, outcomes: 0, ledger: 0, openWindows: 0 });
              const get = await call(base, 'GET', `/v1/models/${modelId}`, { authorization: `Bearer ${ADMIN}` });
              expect(get.status).toBe(404);
              expect(get.json.error.code).toBe('UNKNOWN_MODEL');
              const rank = await call(base, 'POST', `/v1/models/${modelId}/rank`, { body: { context, candidates: items(2) }, authorization: `Bearer ${ADMIN}` });
              expect(rank.json.error.code).toBe('UNKNOWN_MODEL');
              const list = await call(base, 'GET', '/v1/models', { authorization: `Bearer ${ADMIN}` });
              expect(list.json.models.map((m: { modelId: string }) => m.modelId)).not.toContain(modelId);
            },
            refused: () => {
              expect(engine.has(modelId)).toBe(true);
              expect(store.counts(modelId)).toMatchObject({ decisions: 1, feedback: 1, outcomes: 1 });
            },
          };
        },
      },
    ],
    healthz: [{ name: 'healthz', success: 200, make: () => ({ method: 'GET', path: '/healthz', accepted: (a) => expect(a.json.status).toBe('ok'), refused: () => undefined }) }],
    readyz: [{ name: 'readyz', success: 200, make: () => ({ method: 'GET', path: '/readyz', accepted: (a) => expect(a.json).toEqual({ status: 'ok' }), refused: () => undefined }) }],
    metrics: [
      {
        name: 'metrics',
        success: 200,
        make: () => ({
          method: 'GET',
          path: '/metrics',
          accepted: (a) => expect(a.text).toContain('liubai_'),
          refused: () => undefined,
        }),
      },
    ],
    openapi: [
      {
        name: 'openapi.json',
        success: 200,
        make: () => ({ method: 'GET', path: '/openapi.json', accepted: (a) => expect(a.json.openapi).toBe('3.1.0'), refused: () => undefined }),
      },
    ],
  };

  /**
   * Everything a request could change, read through the API (the model view of every model: its
   * version, config, posterior summary and budget ledger with decision counts) and the store.
   */
  const observe = async () => {
    const ids = engine.modelIds();
    const views = await Promise.all(ids.map((id) => call(base, 'GET', `/v1/models/${id}?posterior=full`, { authorization: `Bearer ${ADMIN}` })));
    return {
      ids,
      views: views.map((v) => v.json),
      records: ids.map((id) => store.getModel(id)),
      counts: store.counts(),
      perModel: ids.map((id) => ({ counts: store.counts(id), lastSeq: store.lastSeq(id) })),
      userState: store.getUserState('m', 'u1'),
    };
  };

  beforeAll(async () => {
    engine.putModel('m', { budget: { share: 0 } });
    ({ base, server } = await listen({ engine, logger, keys: { scoring: [SCORING, SCORING_2], admin: [ADMIN] } }));
  });
  afterAll(async () => shut(server));

  test('every route of apiRoutes has a case here, in the class auth.ts gives it', () => {
    expect(apiRoutes.map((r) => r.operationId).sort()).toEqual(Object.keys(cases).sort());
    for (const r of apiRoutes) expect(r.role, r.operationId).toBe(roleOf[r.operationId]);
    expect(apiRoutes.filter((r) => r.role === 'admin').map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`)).toEqual([
      'PUT /v1/models/{modelId}',
      'DELETE /v1/models/{modelId}',
    ]);
    expect(apiRoutes.filter((r) => r.role === null).map((r) => r.path)).toEqual(['/healthz', '/readyz', '/metrics', '/openapi.json']);
  });

  const matrix = apiRoutes.flatMap((r) =>
    (cases[r.operationId] ?? [{ name: `${r.operationId} (no case: add one)`, success: 0, make: () => { throw new Error(`no case for route ${r.operationId}`); } }]).flatMap((c) =>
      KEY_CASES.map((key) => ({ route: `${r.method.toUpperCase()} ${openApiPath(r.path)}`, operationId: r.operationId, role: r.role, c, key })),
    ),
  );

  test.each(matrix)('$c.name ($route) with key: $key', async ({ role, c, key }) => {
    const spec = c.make();
    const want = expected[role ?? 'public'][key];
    const before = want === 'ok' ? null : await observe();
    const shown = presented[key];
    const a = await call(base, spec.method, spec.path, {
      ...(spec.body !== undefined ? { body: spec.body } : {}),
      ...(shown !== undefined ? { authorization: `Bearer ${shown}` } : {}),
    });
    if (want === 'ok') {
      expect(a.status, a.text).toBe(c.success);
      await spec.accepted(a);
    } else {
      expectRefused(a, want, shown);
      await spec.refused();
      expect(await observe()).toEqual(before);
    }
  });

  test('auth comes before the body: a broken body is refused 401/403, not 400, on every route that takes one', async () => {
    for (const r of apiRoutes.filter((x) => x.body !== undefined && x.role !== null)) {
      const path = openApiPath(r.path).replace('{modelId}', 'm').replace('{eventId}', 'no-such-event');
      const method = r.method.toUpperCase();
      expectRefused(await call(base, method, path, { raw: '{"broken', authorization: `Bearer ${UNKNOWN}` }), 401, UNKNOWN);
      if (r.role === 'admin') expectRefused(await call(base, method, path, { raw: '{"broken', authorization: `Bearer ${SCORING}` }), 403, SCORING);
      // With a key that may use the route, the same body gets the route's own 400.
      const ok = await call(base, method, path, { raw: '{"broken', authorization: `Bearer ${ADMIN}` });
      expect(ok.status, `${method} ${path}: ${ok.text}`).toBe(400);
      expect(ok.json.error.code).toBe('INVALID_REQUEST');
    }
    expect(engine.model('m').version).toBe(1);
  });

  test('only "Bearer <exact key>" authenticates: near misses of the admin key are 401 on an admin route, and change nothing', async () => {
    const before = await observe();
    const nearMisses = [
      ADMIN, // no scheme
      `Bearer`,
      `Bearer ${ADMIN} ${ADMIN}`,
      `Bearer ${ADMIN.slice(0, -1)}`,
      `Bearer ${ADMIN}x`,
      `Bearer ${ADMIN.toUpperCase()}`,
      `Token ${ADMIN}`,
      `Bearer ${SCORING},${ADMIN}`,
    ];
    for (const authorization of nearMisses) {
      const a = await call(base, 'PUT', '/v1/models/near-miss', { body: {}, authorization });
      expect(a.status, authorization).toBe(401);
      expect(a.json.error.code).toBe('UNAUTHORIZED');
    }
    expect(await observe()).toEqual(before);
    // The scheme is case-insensitive and spaces around the key are tolerated (RFC 9110 §11.1).
    expect((await call(base, 'PUT', '/v1/models/near-miss', { body: {}, authorization: `bearer   ${ADMIN} ` })).status).toBe(201);
  });

  test('no key value appears in the log, and nothing above failed internally', () => {
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    const text = JSON.stringify(logger.lines);
    for (const k of ALL_KEYS) expect(text).not.toContain(k);
  });
});

// ───────────────────────────── scoring keys only ─────────────────────────────

describe('a server with scoring keys only (no admin key)', () => {
  const { engine, store } = clockEngine();
  let base = '';
  let server: Server;

  beforeAll(async () => {
    engine.putModel('m', {});
    ({ base, server } = await listen({ engine, logger: memoryLogger(), keys: { scoring: [SCORING] } }));
  });
  afterAll(async () => shut(server));

  test('admin routes are closed: the scoring key is 403 FORBIDDEN, anything else 401, and nothing changes', async () => {
    const before = { ids: engine.modelIds(), version: engine.model('m').version, counts: store.counts() };
    for (const [method, path, body] of [
      ['PUT', '/v1/models/new', {}],
      ['PUT', '/v1/models/m', { budget: { share: 0.5 } }],
      ['DELETE', '/v1/models/m', undefined],
    ] as const) {
      expectRefused(await call(base, method, path, { ...(body ? { body } : {}), authorization: `Bearer ${SCORING}` }), 403, SCORING);
      expectRefused(await call(base, method, path, body ? { body } : {}), 401, undefined);
      // The admin key of another deployment is just an unknown key here.
      expectRefused(await call(base, method, path, { ...(body ? { body } : {}), authorization: `Bearer ${ADMIN}` }), 401, ADMIN);
    }
    expect({ ids: engine.modelIds(), version: engine.model('m').version, counts: store.counts() }).toEqual(before);
  });

  test('scoring routes still work with the scoring key', async () => {
    const auth = { authorization: `Bearer ${SCORING}` };
    const r = await call(base, 'POST', '/v1/models/m/rank', { body: { context, candidates: items(3), slots: 2 }, ...auth });
    expect(r.status, r.text).toBe(200);
    const f = await call(base, 'POST', '/v1/models/m/feedback', { body: { eventId: r.json.eventId, itemId: r.json.slate[0].id, kind: 'click' }, ...auth });
    expect(f.json).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
    const g = await call(base, 'GET', '/v1/models/m', auth);
    expect(g.status).toBe(200);
    expect(g.json.budget.allTime.decisions).toBe(1);
    expect(g.json.posterior.outcomes).toBe(1);
  });
});

// ───────────────────────────── logs ─────────────────────────────

/** A store whose decision log fails (a fake: the disk went away), so a rank is logged as an internal error. */
class BrokenDecisionLog extends MemoryStore {
  override insertDecision(_record: DecisionRecord): void {
    throw new Error('disk failed');
  }
}

describe('keys and the log', () => {
  test('an internal error of a keyed request is logged with its request id, never with the key', async () => {
    const { engine } = clockEngine(new BrokenDecisionLog());
    engine.putModel('m', {});
    const logger = memoryLogger();
    const { base, server } = await listen({ engine, logger, keys: { scoring: [SCORING], admin: [ADMIN] } });
    try {
      for (const key of [SCORING, ADMIN]) {
        const a = await call(base, 'POST', '/v1/models/m/rank', { body: { context, candidates: items(3) }, authorization: `Bearer ${key}` });
        expect(a.status, a.text).toBe(500);
        expect(a.json.error.code).toBe('INTERNAL');
        expect(logger.lines.some((l) => l.level === 'error' && l['requestId'] === a.json.error.requestId)).toBe(true);
      }
      // Refusals too, whether or not they are logged.
      expect((await call(base, 'PUT', '/v1/models/x', { body: {}, authorization: `Bearer ${UNKNOWN}` })).status).toBe(401);
      expect((await call(base, 'PUT', '/v1/models/x', { body: {}, authorization: `Bearer ${SCORING}` })).status).toBe(403);
      const text = JSON.stringify(logger.lines);
      for (const k of ALL_KEYS) expect(text).not.toContain(k);
    } finally {
      await shut(server);
    }
  });
});
