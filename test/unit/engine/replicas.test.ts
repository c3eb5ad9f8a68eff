/**
 * Policy replicas in worker threads (src/engine/replicas.ts): decisions made on a replica equal
 * the model's own decisions bit for bit; concurrent ranks keep the per-user budget and eventIds
 * exact; a model replaced mid-decision answers NOT_READY; a failed replica falls back to the
 * model's own thread.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { posteriorKey, type ModelConfigInput } from '../../../src/engine/config.js';
import { Engine } from '../../../src/engine/engine.js';
import { LiubaiError } from '../../../src/engine/errors.js';
import type { RankRequest, RankResponse } from '../../../src/engine/model.js';
import { jsonSourceable, sourceOf } from '../../../src/engine/decide.js';
import { rankRequestSchema } from '../../../src/server/schemas.js';
import { PolicyReplicas } from '../../../src/engine/replicas.js';
import type { Candidate } from '../../../src/features/types.js';
import { createRng } from '../../../src/core/rng.js';
import { MemoryStore } from '../../../src/storage/memory/index.js';
import { openSqliteStore } from '../../../src/storage/sqlite/index.js';

const pools: PolicyReplicas[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});
function pool(threads = 1): PolicyReplicas {
  const p = new PolicyReplicas({ threads });
  pools.push(p);
  return p;
}

function engineWith(config: ModelConfigInput, replicas: PolicyReplicas | null) {
  let now = 1_700_000_000_000;
  let n = 0;
  const engine = new Engine({ store: new MemoryStore(), clock: () => now, newEventId: () => `e${++n}`, snapshotEvery: 0 });
  if (replicas) engine.useReplicas(replicas);
  engine.putModel('m', config);
  return {
    engine,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const catalog: Candidate[] = Array.from({ length: 30 }, (_, i) => ({
  id: `item${i}`,
  features: { item: { topic: `t${i % 5}`, price: (i * 7) % 11 } },
  group: `g${i % 4}`,
}));

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LiubaiError) return e.code;
    throw e;
  }
  return undefined;
}

/**
 * The same script of ranks, feedback and silence on two engines: one deciding on a replica
 * (rankAsync), one in its own thread (rank). Returns both answer lists and final posteriors.
 */
async function twin(config: ModelConfigInput, steps: number, viaJson = false) {
  const a = engineWith(config, pool());
  const b = engineWith(config, null);
  expect(a.engine.model('m').replicated).toBe(true);
  expect(b.engine.model('m').replicated).toBe(false);
  const r = createRng('twin-script');
  const answers: Array<[RankResponse, RankResponse]> = [];
  for (let t = 0; t < steps; t++) {
    const start = r.int(catalog.length - 12);
    const request = {
      userId: `u${r.int(6)}`,
      context: { user: { segment: `s${r.int(3)}` }, session: { hour: r.int(24) } },
      candidates: catalog.slice(start, start + 12),
      slots: 3,
    };
    let ra: RankResponse;
    let rb: RankResponse;
    if (viaJson) {
      // As the server does: the body text goes to the replica, the validated object stays here.
      // Every fourth body has no context (the schema's default {} on both sides).
      const { context: _omitted, ...noContext } = request;
      const text = JSON.stringify(t % 4 === 0 ? noContext : request);
      const validated = rankRequestSchema.parse(JSON.parse(text));
      ra = await a.engine.rankAsync('m', validated, text);
      rb = b.engine.rank('m', validated);
    } else {
      ra = await a.engine.rankAsync('m', request);
      rb = b.engine.rank('m', request);
    }
    answers.push([ra, rb]);
    // Feedback on some shown items; the rest falls silent when the window closes.
    const events = ra.slate
      .filter(() => r.uniform() < 0.5)
      .map((s) => ({ eventId: ra.eventId, itemId: s.id, kind: r.uniform() < 0.4 ? ('click' as const) : ('dismiss' as const) }));
    if (events.length > 0) {
      a.engine.feedbackBatch('m', events);
      b.engine.feedbackBatch('m', events);
    }
    a.advance(60_000);
    b.advance(60_000);
    if (t % 5 === 4) {
      a.engine.tick(undefined);
      b.engine.tick(undefined);
    }
  }
  return { answers, a: a.engine.model('m'), b: b.engine.model('m'), stores: [a.engine.store, b.engine.store] as const };
}

describe('decisions on a replica', () => {
  const cases: Array<[string, ModelConfigInput]> = [
    ['linear-gaussian (full covariance, NIG noise, forgetting)', {
      policy: { kind: 'linear-gaussian' },
      features: { bits: 10, interactions: [['user', 'item']] },
      decay: { halfLifeOutcomes: 40, every: 3 },
      propensity: { draws: 32 },
      feedback: { rewardWindowSeconds: 120 },
    }],
    ['linear-gaussian (diagonal tail: 8 dense dims)', {
      policy: { kind: 'linear-gaussian', maxDenseDims: 8 },
      features: { bits: 10 },
      propensity: { draws: 16 },
      feedback: { rewardWindowSeconds: 120 },
    }],
    ['beta-bernoulli', { policy: { kind: 'beta-bernoulli' }, propensity: { draws: 16 }, feedback: { rewardWindowSeconds: 120 } }],
    ['logistic', { policy: { kind: 'logistic' }, features: { bits: 10 }, propensity: { draws: 16 }, feedback: { rewardWindowSeconds: 120 } }],
  ];
  test.each(cases)('%s: the same slates, propensities and posteriors as deciding in the model thread', async (_name, config) => {
    const { answers, a, b } = await twin(config, 60);
    for (const [ra, rb] of answers) expect(ra).toEqual(rb);
    // Learning happened (the script is not trivially constant) and both posteriors agree.
    expect(a.posteriorSeq).toBeGreaterThan(20);
    expect(a.posteriorSeq).toBe(b.posteriorSeq);
    expect(JSON.stringify(a.posteriorSnapshot())).toBe(JSON.stringify(b.posteriorSnapshot()));
    expect(a.replicated).toBe(true);
  });

  test('the request as JSON text (the server\'s path): the same slates, propensities and posteriors', async () => {
    const { answers, a, b, stores } = await twin(cases[0]![1], 40, true);
    for (const [ra, rb] of answers) expect(ra).toEqual(rb);
    expect(a.posteriorSeq).toBeGreaterThan(10);
    expect(JSON.stringify(a.posteriorSnapshot())).toBe(JSON.stringify(b.posteriorSnapshot()));
    // The records agree too (the candidates serialized by the replica from the re-parsed text).
    for (const [ra] of answers) {
      const recA = stores[0].getDecision('m', ra.eventId);
      expect(recA).toBeDefined();
      expect(recA).toEqual(stores[1].getDecision('m', ra.eventId));
    }
  });

  test('sourceOf and jsonSourceable', () => {
    const extras = [undefined];
    expect(sourceOf({ json: '{"candidates":[{"id":"a"}]}', extras })).toEqual({ context: {}, candidates: [{ id: 'a' }] });
    const context = { user: { x: 1 } };
    const candidates = [{ id: 'b', features: { item: { t: 'u' } } }];
    const parsed = sourceOf({ context, candidates, extras });
    expect(parsed.context).toBe(context);
    expect(parsed.candidates).toBe(candidates);
    expect(jsonSourceable(undefined)).toBe(false);
    expect(jsonSourceable('{"candidates":[{"id":"a"}]}')).toBe(true);
    expect(jsonSourceable('{"context":{"__proto__":{"a":1}},"candidates":[{"id":"a"}]}')).toBe(false);
  });

  test('snapshots are taken from the replica: a restart from them recovers the same posterior', async () => {
    const config: ModelConfigInput = { policy: { kind: 'linear-gaussian' }, features: { bits: 10 }, decay: { halfLifeOutcomes: 30, every: 2 } };
    const store = new MemoryStore();
    let n = 0;
    const a = new Engine({ store, clock: () => 1_700_000_000_000, newEventId: () => `s${++n}`, snapshotEvery: 7 });
    a.useReplicas(pool());
    a.putModel('m', config);
    const b = engineWith(config, null).engine;
    for (let t = 0; t < 12; t++) {
      const request = { eventId: `s-${t}`, context: { user: { segment: `s${t % 3}` } }, candidates: catalog.slice(t, t + 6) };
      const ra = await a.rankAsync('m', request);
      expect(ra).toEqual(b.rank('m', request));
      const events = ra.slate.map((s, i) => ({ eventId: ra.eventId, itemId: s.id, kind: i === 0 ? ('click' as const) : ('dismiss' as const) }));
      a.feedbackBatch('m', events);
      b.feedbackBatch('m', events);
    }
    await a.settled();
    const snap = store.latestSnapshot('m', posteriorKey(a.model('m').config));
    expect(snap?.seq).toBeGreaterThanOrEqual(28);
    // A restart (no replica) loads that snapshot and replays the rest of the log.
    const restarted = new Engine({ store, clock: () => 1_700_000_000_000, snapshotEvery: 0 });
    expect(restarted.model('m').posteriorSeq).toBe(b.model('m').posteriorSeq);
    expect(JSON.stringify(restarted.model('m').posteriorSnapshot())).toBe(JSON.stringify(b.model('m').posteriorSnapshot()));
  });

  test('the decision record in SQLite: candidates serialized by the replica, fatigue features included', async () => {
    const store = openSqliteStore(':memory:');
    try {
      let n = 0;
      const engine = new Engine({ store, clock: () => 1_700_000_000_000, newEventId: () => `q${++n}`, snapshotEvery: 0 });
      engine.useReplicas(pool());
      engine.putModel('m', { policy: { kind: 'linear-gaussian' }, features: { bits: 10 } });
      const twin = engineWith({ policy: { kind: 'linear-gaussian' }, features: { bits: 10 } }, null).engine;
      const context = { user: { segment: 'a' } };
      const first = await engine.rankAsync('m', { eventId: 'q-a', userId: 'u', context, candidates: catalog.slice(0, 8) });
      twin.rank('m', { eventId: 'q-a', userId: 'u', context, candidates: catalog.slice(0, 8) });
      for (const s of first.slate) {
        engine.feedback('m', { eventId: 'q-a', itemId: s.id, kind: 'dismiss' });
        twin.feedback('m', { eventId: 'q-a', itemId: s.id, kind: 'dismiss' });
      }
      await engine.rankAsync('m', { eventId: 'q-b', userId: 'u', context, candidates: catalog.slice(0, 8) });
      twin.rank('m', { eventId: 'q-b', userId: 'u', context, candidates: catalog.slice(0, 8) });
      const stored = store.getDecision('m', 'q-b')!;
      const expected = twin.store.getDecision('m', 'q-b')!;
      expect(stored.candidates.some((c) => c.extra !== undefined)).toBe(true);
      expect(stored.candidates).toEqual(expected.candidates);
      expect(JSON.stringify(stored.candidates)).toBe(JSON.stringify(expected.candidates));
    } finally {
      store.close();
    }
  });

  test('learnedSeq follows what the replica has applied; it starts at the recovered position', async () => {
    const store = new MemoryStore();
    let n = 0;
    const first = new Engine({ store, clock: () => 1_700_000_000_000, newEventId: () => `l${++n}`, snapshotEvery: 0 });
    first.putModel('m', { policy: { kind: 'linear-gaussian' } });
    const r0 = first.rank('m', { context: {}, candidates: catalog.slice(0, 4), slots: 2 });
    first.feedbackBatch('m', r0.slate.map((s) => ({ eventId: r0.eventId, itemId: s.id, kind: 'click' as const })));
    // A second engine on the same log recovers to seq 2 and attaches its replica there.
    const engine = new Engine({ store, clock: () => 1_700_000_000_000, newEventId: () => `l${++n}`, snapshotEvery: 0 });
    engine.useReplicas(pool());
    const m = engine.model('m');
    expect(m.posteriorSeq).toBe(2);
    expect(m.learnedSeq).toBe(2);
    const r1 = await engine.rankAsync('m', { context: {}, candidates: catalog.slice(0, 4), slots: 2 });
    engine.feedbackBatch('m', r1.slate.map((s) => ({ eventId: r1.eventId, itemId: s.id, kind: 'dismiss' as const })));
    expect(m.posteriorSeq).toBe(4);
    expect(m.learnedSeq).toBe(2); // sent with the next turn, not applied yet
    await engine.rankAsync('m', { context: {}, candidates: catalog.slice(0, 4), slots: 2 });
    expect(m.learnedSeq).toBe(4); // a decision is answered only after the operations before it
  });

  test('learned(): waits until the replica is within maxLearningLag entries, resolves at once without a replica, and when the replica goes away', async () => {
    const store = new MemoryStore();
    let n = 0;
    const engine = new Engine({ store, clock: () => 1_700_000_000_000, newEventId: () => `b${++n}`, snapshotEvery: 0, maxLearningLag: 4 });
    engine.useReplicas(pool());
    engine.putModel('m', { policy: { kind: 'linear-gaussian' } });
    const m = engine.model('m');
    const clickAll = async () => {
      const r = await engine.rankAsync('m', { context: {}, candidates: catalog.slice(0, 8), slots: 5 });
      engine.feedbackBatch('m', r.slate.map((s) => ({ eventId: r.eventId, itemId: s.id, kind: 'click' as const })));
    };
    await clickAll();
    expect(m.posteriorSeq).toBe(5);
    expect(m.learnedSeq).toBe(0); // queued, not applied yet
    await engine.learned('m');
    expect(m.learnedSeq).toBeGreaterThanOrEqual(1); // at most 4 behind
    await clickAll();
    await engine.learned('m');
    expect(m.posteriorSeq - m.learnedSeq).toBeLessThanOrEqual(4);
    // Within the bound already: resolves without waiting for the worker.
    let done = false;
    const p = engine.learned('m').then(() => {
      done = true;
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(done).toBe(m.posteriorSeq - m.learnedSeq <= 4);
    await p;

    // Without a replica the model learns synchronously: never a wait.
    const local = new Engine({ store: new MemoryStore(), clock: () => 1_700_000_000_000, newEventId: () => `c${++n}`, snapshotEvery: 0, maxLearningLag: 0 });
    local.putModel('m', { policy: { kind: 'linear-gaussian' } });
    const r = local.rank('m', { context: {}, candidates: catalog.slice(0, 8), slots: 5 });
    local.feedbackBatch('m', r.slate.map((s) => ({ eventId: r.eventId, itemId: s.id, kind: 'click' as const })));
    expect(local.model('m').learnedSeq).toBe(5);
    await local.learned('m');

    // A waiter whose replica is detached (model reconfigured) is released, not left hanging.
    await clickAll();
    const strict = m.learned(0);
    engine.putModel('m', { policy: { kind: 'linear-gaussian' }, slots: 3 });
    await strict;
    expect(() => new Engine({ store: new MemoryStore(), maxLearningLag: -1 })).toThrow(RangeError);
  });

  test('models created after useReplicas are attached; retrain-free kinds only', () => {
    const { engine } = engineWith({ policy: { kind: 'uniform' } }, pool());
    expect(engine.model('m').replicated).toBe(true);
    engine.putModel('later', { policy: { kind: 'beta-bernoulli' } });
    expect(engine.model('later').replicated).toBe(true);
  });
});

describe('concurrent ranks', () => {
  const budgeted: ModelConfigInput = {
    policy: { kind: 'linear-gaussian' },
    budget: { share: 1, rule: 'uniform', perUser: { ratePerHour: 0.001, burst: 1 }, floor: 0 },
    slots: 4,
  };

  test('one user: the token bucket is spent by one rank at a time (at most `burst` explored slots)', async () => {
    const { engine } = engineWith(budgeted, pool());
    const context = { user: { segment: 'a' } };
    const results = await Promise.all(
      Array.from({ length: 12 }, () => engine.rankAsync('m', { userId: 'same', context, candidates: catalog.slice(0, 10) })),
    );
    const explored = results.reduce((s, r) => s + r.slate.filter((x) => x.explored).length, 0);
    expect(explored).toBe(1);
    // Different users each have their own bucket.
    const others = await Promise.all(
      Array.from({ length: 6 }, (_, i) => engine.rankAsync('m', { userId: `other${i}`, context, candidates: catalog.slice(0, 10) })),
    );
    expect(others.reduce((s, r) => s + r.slate.filter((x) => x.explored).length, 0)).toBe(6);
  });

  test('feedback that arrives while a decision is computed keeps its fatigue when the rank commits', async () => {
    const { engine } = engineWith({ policy: { kind: 'linear-gaussian' } }, pool());
    const first = await engine.rankAsync('m', { eventId: 'f1', userId: 'u', context: {}, candidates: catalog.slice(0, 6) });
    const pending = engine.rankAsync('m', { eventId: 'f2', userId: 'u', context: {}, candidates: catalog.slice(6, 12) });
    engine.feedback('m', { eventId: 'f1', itemId: first.slate[0]!.id, kind: 'dismiss' });
    await pending;
    const state = engine.store.getUserState('m', 'u') as { fatigue: Record<string, unknown>; recentGroups: string[] };
    expect(Object.keys(state.fatigue).some((key) => key.includes(first.slate[0]!.id))).toBe(true);
    expect(state.recentGroups.length).toBeGreaterThan(0);
  });

  test('an eventId in flight is reserved: the second rank with it is DUPLICATE_EVENT', async () => {
    const { engine } = engineWith({ policy: { kind: 'linear-gaussian' } }, pool());
    const first = engine.rankAsync('m', { eventId: 'x1', userId: 'u1', context: {}, candidates: catalog.slice(0, 5) });
    const second = codeOf(engine.rankAsync('m', { eventId: 'x1', userId: 'u2', context: {}, candidates: catalog.slice(0, 5) }));
    expect((await first).eventId).toBe('x1');
    expect(await second).toBe('DUPLICATE_EVENT');
    expect(engine.model('m').counters.decisions).toBe(1);
  });

  test('a model reconfigured while its decision is computed answers NOT_READY and writes nothing', async () => {
    const { engine } = engineWith({ policy: { kind: 'linear-gaussian' } }, pool());
    const pending = codeOf(engine.rankAsync('m', { eventId: 'y1', context: {}, candidates: catalog.slice(0, 5) }));
    engine.putModel('m', { policy: { kind: 'linear-gaussian' }, slots: 2 });
    expect(await pending).toBe('NOT_READY');
    expect(engine.store.getDecision('m', 'y1')).toBeUndefined();
    const again = await engine.rankAsync('m', { eventId: 'y1', context: {}, candidates: catalog.slice(0, 5) });
    expect(again.slate).toHaveLength(2);
    expect(again.modelVersion).toBe(2);
  });

  test('invalid features are found by the replica: the same code, message and path as in the model thread', async () => {
    const a = engineWith({ policy: { kind: 'linear-gaussian' } }, pool()).engine;
    const b = engineWith({ policy: { kind: 'linear-gaussian' } }, null).engine;
    const bad = [
      { context: { user: { age: Number.NaN } }, candidates: catalog.slice(0, 3) },
      { context: {}, candidates: [catalog[0]!, { id: 'odd', features: { item: { nested: { x: 1 } } } }] },
      { context: { user: { tags: ['a', 3] } }, candidates: catalog.slice(0, 2) },
    ] as unknown as RankRequest[];
    for (const request of bad) {
      let fromReplica: LiubaiError | undefined;
      try {
        await a.rankAsync('m', { ...request, userId: 'u' });
      } catch (e) {
        fromReplica = e as LiubaiError;
      }
      let here: LiubaiError | undefined;
      try {
        b.rank('m', { ...request, userId: 'u' });
      } catch (e) {
        here = e as LiubaiError;
      }
      expect(fromReplica).toBeInstanceOf(LiubaiError);
      expect(here?.code).toBe('INVALID_FEATURES');
      expect({ code: fromReplica!.code, message: fromReplica!.message, issues: fromReplica!.issues }).toEqual({ code: here!.code, message: here!.message, issues: here!.issues });
    }
    expect(a.model('m').counters.decisions).toBe(0);
    expect(a.store.getUserState('m', 'u')).toBeUndefined();
    // The eventId and the user are free again.
    expect((await a.rankAsync('m', { eventId: 'ok', userId: 'u', context: {}, candidates: catalog.slice(0, 3) })).eventId).toBe('ok');
  });

  test('validation errors come before any decision and change nothing', async () => {
    const { engine } = engineWith({ policy: { kind: 'linear-gaussian' } }, pool());
    expect(await codeOf(engine.rankAsync('m', { context: {}, candidates: [] }))).toBe('INVALID_REQUEST');
    expect(await codeOf(engine.rankAsync('m', { context: {}, candidates: catalog.slice(0, 3), slots: 0 }))).toBe('INVALID_REQUEST');
    expect(engine.model('m').counters.decisions).toBe(0);
  });
});

describe('failure', () => {
  test('when the workers stop, pending and later ranks are decided in the model thread', async () => {
    const p = new PolicyReplicas({ threads: 1 });
    const { engine } = engineWith({ policy: { kind: 'linear-gaussian' } }, p);
    const twinEngine = engineWith({ policy: { kind: 'linear-gaussian' } }, null).engine;
    const request = { eventId: 'z1', userId: 'u', context: { user: { segment: 'a' } }, candidates: catalog.slice(0, 8) };
    const pending = engine.rankAsync('m', request);
    await p.close();
    const answer = await pending;
    expect(answer).toEqual(twinEngine.rank('m', request));
    expect(engine.model('m').replicated).toBe(false);
    const later = await engine.rankAsync('m', { ...request, eventId: 'z2' });
    expect(later).toEqual(twinEngine.rank('m', { ...request, eventId: 'z2' }));
    expect(engine.model('m').counters.decisions).toBe(2);
  });

  test('a rank of a user whose earlier rank is still on a failing replica waits for it: the bucket is spent by one rank at a time', async () => {
    const p = new PolicyReplicas({ threads: 1 });
    const budgeted: ModelConfigInput = {
      policy: { kind: 'linear-gaussian' },
      budget: { share: 1, rule: 'uniform', perUser: { ratePerHour: 0.001, burst: 1 }, floor: 0 },
      slots: 4,
    };
    const { engine } = engineWith(budgeted, p);
    const context = { user: { segment: 'a' } };
    const first = engine.rankAsync('m', { userId: 'same', context, candidates: catalog.slice(0, 10) });
    const closing = p.close();
    // The replica is gone before the first rank has come back: the second takes the fallback path.
    expect(engine.model('m').replicated).toBe(false);
    const second = engine.rankAsync('m', { userId: 'same', context, candidates: catalog.slice(0, 10) });
    const results = await Promise.all([first, second]);
    await closing;
    expect(results.reduce((s, r) => s + r.slate.filter((x) => x.explored).length, 0)).toBe(1);
  });

  test('after learning on the replica only, a fallback rebuilds the model thread posterior and decides as the twin', async () => {
    const p = new PolicyReplicas({ threads: 1 });
    const config: ModelConfigInput = { policy: { kind: 'linear-gaussian' }, features: { bits: 10 }, propensity: { draws: 16 } };
    const a = engineWith(config, p).engine;
    const b = engineWith(config, null).engine;
    for (let t = 0; t < 15; t++) {
      const request = { userId: `u${t % 3}`, context: { user: { segment: `s${t % 2}` } }, candidates: catalog.slice(t, t + 8) };
      const ra = await a.rankAsync('m', request);
      expect(ra).toEqual(b.rank('m', request));
      const events = ra.slate.map((s, i) => ({ eventId: ra.eventId, itemId: s.id, kind: i % 2 === 0 ? ('click' as const) : ('dismiss' as const) }));
      a.feedbackBatch('m', events);
      b.feedbackBatch('m', events);
    }
    await p.close();
    const request = { eventId: 'after', userId: 'u1', context: { user: { segment: 's1' } }, candidates: catalog.slice(3, 13) };
    expect(await a.rankAsync('m', request)).toEqual(b.rank('m', request));
    expect(a.model('m').replicated).toBe(false);
    expect(JSON.stringify(a.model('m').posteriorSnapshot())).toBe(JSON.stringify(b.model('m').posteriorSnapshot()));
  });

  test('threads must be a positive integer', () => {
    expect(() => new PolicyReplicas({ threads: 0 })).toThrow(RangeError);
    expect(() => new PolicyReplicas({ threads: 1.5 })).toThrow(RangeError);
  });
});
