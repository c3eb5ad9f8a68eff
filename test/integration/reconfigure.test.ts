/**
 * Model reconfiguration (`PUT /v1/models/{modelId}` on an existing model) over real HTTP on
 * 127.0.0.1 (port 0): through createApp on an in-memory store with a controlled clock, and through
 * the whole startServer stack (SQLite, a policy replica in a worker thread, restart).
 *
 * What the code defines (engine.ts, Engine.putModel; config.ts, posteriorKey; model.ts, the Model
 * constructor): a PUT builds a new Model at version + 1 whose posterior is the latest snapshot
 * for its posterior key plus a replay of the learning log. The posterior key is (policy, features,
 * decay, fatigue-as-features): a change of anything else keeps the posterior bit for bit; a change
 * of the key rebuilds it — the posterior the new config would have learned from the same log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decisionSeed } from '../../src/core/rng.js';
import { parseModelConfig, type ModelConfigInput } from '../../src/engine/config.js';
import { Engine } from '../../src/engine/engine.js';
import type { RankRequest } from '../../src/engine/model.js';
import { memoryLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { MemoryStore } from '../../src/storage/memory/index.js';
import type { FeedbackKind } from '../../src/storage/types.js';
import { call, listen, shut, type Answer } from './http.js';

// ───────────────────────────── helpers ─────────────────────────────

const T0 = 1_700_000_000_000;

function clockEngine(store = new MemoryStore()) {
  const clock = { now: T0 };
  let n = 0;
  const engine = new Engine({ store, clock: () => clock.now, newEventId: () => `ev${++n}`, snapshotEvery: 0 });
  return { engine, store, clock };
}

/** k candidates item0…item{k-1} in three groups. */
const items = (k: number) =>
  Array.from({ length: k }, (_, i) => ({ id: `item${i}`, features: { item: { price: i, kind: i % 2 === 0 ? 'even' : 'odd' } }, group: `g${i % 3}` }));
/** A context that varies with i (so the posterior learns more than an intercept per item). */
const ctx = (i: number) => ({ user: { age: 20 + 7 * (i % 5), device: i % 2 === 0 ? 'ios' : 'web' }, session: { hour: (5 * i) % 24 } });

function expectError(a: Answer, status: number, code: string): void {
  expect(a.status, a.text).toBe(status);
  expect(a.json?.error?.code, a.text).toBe(code);
  expect(a.json.error.requestId).toBe(a.headers.get('x-request-id'));
}

/** A metric's value in exposition text (the first sample of that name with these labels). */
function sample(text: string, name: string, labels: string): number {
  const prefix = `${name}${labels} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? NaN : Number(line.slice(prefix.length));
}

/** A parsed config as it travels in JSON (what GET answers). */
const parsedJson = (config: ModelConfigInput): unknown => JSON.parse(JSON.stringify(parseModelConfig(config)));
/** Any engine value as it travels in JSON. */
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/**
 * One script of traffic: ranks with fixed eventIds whose slates show every candidate (slots =
 * candidates), and click/dismiss feedback by item id. Click and dismiss outcomes do not depend on
 * the slate position (only silence does, through examination), so the learning log a script
 * writes has the same content under any config with the default feedback semantics.
 */
interface Script {
  readonly ranks: ReadonlyArray<{ eventId: string; i: number }>;
  readonly feedback: ReadonlyArray<{ eventId: string; itemId: string; kind: FeedbackKind }>;
}

const K = 4;
const rankBody = (eventId: string, i: number) => ({ eventId, context: ctx(i), candidates: items(K), slots: K });

const script: Script = {
  ranks: Array.from({ length: 6 }, (_, i) => ({ eventId: `s${i}`, i })),
  feedback: [
    { eventId: 's0', itemId: 'item1', kind: 'click' },
    { eventId: 's0', itemId: 'item3', kind: 'dismiss' },
    { eventId: 's1', itemId: 'item0', kind: 'click' },
    { eventId: 's2', itemId: 'item1', kind: 'click' },
    { eventId: 's3', itemId: 'item2', kind: 'dismiss' },
    { eventId: 's4', itemId: 'item1', kind: 'click' },
    { eventId: 's5', itemId: 'item3', kind: 'click' },
    { eventId: 's5', itemId: 'item0', kind: 'dismiss' },
  ],
};

async function play(base: string, modelId: string, s: Script): Promise<void> {
  for (const r of s.ranks) {
    const a = await call(base, 'POST', `/v1/models/${modelId}/rank`, { body: rankBody(r.eventId, r.i) });
    expect(a.status, a.text).toBe(200);
  }
  for (const f of s.feedback) {
    const a = await call(base, 'POST', `/v1/models/${modelId}/feedback`, { body: f });
    expect(a.json, a.text).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
  }
}

/** The posterior a config learns from the script from its first outcome: a fresh server, model created with `config`. */
async function freshPosterior(config: ModelConfigInput, s: Script): Promise<{ posterior: Record<string, unknown>; posteriorState: unknown }> {
  const { engine } = clockEngine();
  const { base, server } = await listen({ engine, logger: memoryLogger() });
  try {
    expect((await call(base, 'PUT', '/v1/models/ref', { body: config })).status).toBe(201);
    await play(base, 'ref', s);
    const g = await call(base, 'GET', '/v1/models/ref?posterior=full');
    return { posterior: g.json.posterior, posteriorState: g.json.posteriorState };
  } finally {
    await shut(server);
  }
}

// ───────────────────────── createApp, in-memory store ─────────────────────────

describe('reconfiguration through createApp (in-memory store, controlled clock)', () => {
  const { engine, store, clock } = clockEngine();
  const logger = memoryLogger();
  let base = '';
  let server: Server;

  beforeAll(async () => {
    ({ base, server } = await listen({ engine, logger }));
  });
  afterAll(async () => shut(server));

  const full = async (modelId: string) => {
    const g = await call(base, 'GET', `/v1/models/${modelId}?posterior=full`);
    expect(g.status, g.text).toBe(200);
    return g.json;
  };
  const metrics = async () => (await call(base, 'GET', '/metrics')).text;

  test('after a PUT, ranks carry the new modelVersion (and its decision seed); GET and the list show the new config', async () => {
    const v1: ModelConfigInput = { policy: { kind: 'linear-gaussian' }, budget: { share: 0.2 }, slots: 3, seed: 11 };
    const v2: ModelConfigInput = { policy: { kind: 'linear-gaussian' }, budget: { share: 0, rule: 'uniform' }, slots: 2, seed: 11 };
    const a = await call(base, 'PUT', '/v1/models/ver', { body: v1 });
    expect(a.status, a.text).toBe(201);
    expect(a.json).toEqual({ modelId: 'ver', version: 1, created: true });
    const r1 = await call(base, 'POST', '/v1/models/ver/rank', { body: { context: ctx(0), candidates: items(6) } });
    expect(r1.status, r1.text).toBe(200);
    expect(r1.json.modelVersion).toBe(1);
    expect(r1.json.slate).toHaveLength(3);

    clock.now += 5_000;
    const b = await call(base, 'PUT', '/v1/models/ver', { body: v2 });
    expect(b.status, b.text).toBe(200);
    expect(b.json).toEqual({ modelId: 'ver', version: 2, created: false });
    expect(b.headers.get('location')).toBeNull();

    const r2 = await call(base, 'POST', '/v1/models/ver/rank', { body: { context: ctx(0), candidates: items(6) } });
    expect(r2.status, r2.text).toBe(200);
    expect(r2.json.modelVersion).toBe(2);
    expect(r2.json.slate).toHaveLength(2); // the new default slate length
    expect(r2.json.slate.every((s: { explored: boolean }) => !s.explored)).toBe(true); // share 0
    // The decision seed is derived from (model seed, model version, eventId) (DESIGN: Propensities).
    expect(store.getDecision('ver', r1.json.eventId)!.modelVersion).toBe(1);
    expect(store.getDecision('ver', r1.json.eventId)!.seed).toBe(decisionSeed(11, 1, r1.json.eventId));
    expect(store.getDecision('ver', r2.json.eventId)!.modelVersion).toBe(2);
    expect(store.getDecision('ver', r2.json.eventId)!.seed).toBe(decisionSeed(11, 2, r2.json.eventId));

    const g = await call(base, 'GET', '/v1/models/ver');
    expect(g.status).toBe(200);
    expect(g.json.version).toBe(2);
    expect(g.json.config).toEqual(parsedJson(v2));
    expect(g.json.createdAt).toBe(T0);
    expect(g.json.updatedAt).toBe(T0 + 5_000);
    expect(g.json.budget.allowedShare).toBe(0);
    const list = await call(base, 'GET', '/v1/models');
    expect(list.json.models.find((m: { modelId: string }) => m.modelId === 'ver')).toEqual({
      modelId: 'ver',
      version: 2,
      policy: 'linear-gaussian',
      createdAt: T0,
      updatedAt: T0 + 5_000,
    });
    // The new model version continues its predecessor's counters (engine.ts putModel, continueCounters).
    const m = await metrics();
    expect(sample(m, 'liubai_model_version', '{model="ver"}')).toBe(2);
    expect(sample(m, 'liubai_decisions_total', '{model="ver"}')).toBe(2);
  });

  test('a PUT that changes the policy kind serves the new policy at the next rank', async () => {
    expect((await call(base, 'PUT', '/v1/models/kind', { body: { policy: { kind: 'linear-gaussian' } } })).status).toBe(201);
    expect((await call(base, 'GET', '/v1/models/kind')).json.posterior.kind).toBe('linear-gaussian');
    const b = await call(base, 'PUT', '/v1/models/kind', { body: { policy: { kind: 'beta-bernoulli' } } });
    expect(b.json).toEqual({ modelId: 'kind', version: 2, created: false });
    const g = await call(base, 'GET', '/v1/models/kind');
    expect(g.json.posterior.kind).toBe('beta-bernoulli');
    expect(g.json.config.policy.kind).toBe('beta-bernoulli');
    const r = await call(base, 'POST', '/v1/models/kind/rank', { body: { context: ctx(1), candidates: items(4), slots: 2 } });
    expect(r.status, r.text).toBe(200);
    expect(r.json.modelVersion).toBe(2);
  });

  test('feedback on a decision of the previous version is accepted and learned, under the feedback semantics now configured', async () => {
    // Feedback is joined to its decision by (eventId, itemId) through the store (model.ts,
    // feedbackMany → decision()), whatever version made it; it is resolved with the semantics of
    // the model serving now (this.semantics = config.feedback): "feedback, budget and limit
    // changes apply to what comes next and keep the posterior" (config.ts, posteriorKey). Reward
    // windows keep the deadline set when they opened (model.ts, windows(): at rank time).
    const v1 = { budget: { share: 0 }, feedback: { rewardWindowSeconds: 60 } };
    const v2 = { budget: { share: 0 }, feedback: { rewardWindowSeconds: 3600, rewards: { click: 0.5 } } };
    expect((await call(base, 'PUT', '/v1/models/fb', { body: v1 })).status).toBe(201);
    const r1 = await call(base, 'POST', '/v1/models/fb/rank', { body: { context: ctx(2), candidates: items(3), slots: 3 } });
    expect(r1.json.modelVersion).toBe(1);
    const [a, b, c] = r1.json.slate.map((s: { id: string }) => s.id) as [string, string, string];
    const e1 = r1.json.eventId as string;
    expect((await call(base, 'POST', '/v1/models/fb/feedback', { body: { eventId: e1, itemId: a, kind: 'click' } })).json).toEqual({
      accepted: 1,
      duplicates: 0,
      outcomes: 1,
    });
    const before = await full('fb');
    expect(before.posterior.outcomes).toBe(1);
    const clicksBefore = sample(await metrics(), 'liubai_outcomes_total', '{model="fb",kind="click"}');
    expect(clicksBefore).toBe(1);

    expect((await call(base, 'PUT', '/v1/models/fb', { body: v2 })).json).toEqual({ modelId: 'fb', version: 2, created: false });
    const kept = await full('fb');
    expect(kept.posteriorState).toEqual(before.posteriorState); // feedback semantics only: posterior kept
    expect(kept.posterior).toEqual(before.posterior);
    // The replay at construction is not counted again (model.ts, `counting`).
    expect(sample(await metrics(), 'liubai_outcomes_total', '{model="fb",kind="click"}')).toBe(1);

    const r2 = await call(base, 'POST', '/v1/models/fb/rank', { body: { context: ctx(3), candidates: items(3), slots: 3 } });
    expect(r2.json.modelVersion).toBe(2);

    // A click on the version-1 decision, after the change.
    const late = await call(base, 'POST', '/v1/models/fb/feedback', { body: { eventId: e1, itemId: b, kind: 'click' } });
    expect(late.status, late.text).toBe(200);
    expect(late.json).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
    // The same (eventId, itemId, kind) as before the change is still a duplicate.
    const dup = await call(base, 'POST', '/v1/models/fb/feedback', { body: { eventId: e1, itemId: a, kind: 'click' } });
    expect(dup.json).toEqual({ accepted: 0, duplicates: 1, outcomes: 0 });

    const log = store.outcomesAfter('fb', 0, 100);
    expect(log.map((o) => [o.eventId, o.itemId, o.kind, o.reward, o.weight])).toEqual([
      [e1, a, 'click', 1, 1], // resolved under version 1
      [e1, b, 'click', 0.5, 1], // resolved under version 2's rewards
    ]);
    const after = await full('fb');
    expect(after.version).toBe(2);
    expect(after.posterior.outcomes).toBe(2);
    expect(after.posterior.foldedSeq).toBe(log[1]!.seq);
    expect(after.posteriorState).not.toEqual(before.posteriorState);
    expect(sample(await metrics(), 'liubai_outcomes_total', '{model="fb",kind="click"}')).toBe(2);

    // Learned exactly as a model with version 2's config folds the same log.
    const replayed = new Engine({ store, snapshotEvery: 0 });
    expect(asJson(replayed.model('fb').posteriorSnapshot())).toEqual(after.posteriorState);

    // Silence: the version-1 window of c closes at 60 s (its own deadline), the version-2 windows at 3600 s.
    expect(store.counts('fb').openWindows).toBe(4); // c, and the three of r2
    clock.now += 60_000;
    engine.tick();
    expect(store.counts('fb').openWindows).toBe(3);
    const silence = store.outcomesAfter('fb', log[1]!.seq, 100);
    // Resolved now: rewards.ignore 0, weight weights.ignore × examination[position 3] = 1 × 0.7.
    expect(silence.map((o) => [o.eventId, o.itemId, o.kind, o.reward, o.weight])).toEqual([[e1, c, 'ignored', 0, 0.7]]);
    clock.now += 3_540_000 - 1;
    engine.tick();
    expect(store.counts('fb').openWindows).toBe(3);
    clock.now += 1;
    engine.tick();
    expect(store.counts('fb').openWindows).toBe(0);
    expect((await full('fb')).posterior.outcomes).toBe(6);
  });

  test('a change outside the posterior key keeps the posterior; a policy or feature change rebuilds it from the log', async () => {
    const X: ModelConfigInput = { policy: { kind: 'linear-gaussian' }, budget: { share: 0 } };
    const keep: ModelConfigInput = {
      policy: { kind: 'linear-gaussian' },
      budget: { share: 0.3, floor: 0.01, rule: 'uniform', temperature: 2 },
      feedback: { weights: { dismiss: 5 }, rewardWindowSeconds: 600 },
      fatigue: { halfLifeSeconds: 3600, coolDownAfter: 2 },
      limits: { maxCandidates: 50 },
      propensity: { draws: 16 },
      slots: 2,
      seed: 'other',
    };
    const Y: ModelConfigInput = { policy: { kind: 'linear-gaussian', priorVariance: 4, noiseVariance: 0.5 }, budget: { share: 0 } };
    const Z: ModelConfigInput = { ...Y, features: { interactions: [['user', 'item']], bits: 10 } };

    expect((await call(base, 'PUT', '/v1/models/kr', { body: X })).status).toBe(201);
    await play(base, 'kr', script);
    const postX = await full('kr');
    expect(postX.posterior.outcomes).toBe(script.feedback.length);
    // The live posterior is the one the config learns from this log (a fresh server, same traffic).
    expect(postX.posteriorState).toEqual((await freshPosterior(X, script)).posteriorState);

    const k = await call(base, 'PUT', '/v1/models/kr', { body: keep });
    expect(k.json).toEqual({ modelId: 'kr', version: 2, created: false });
    const postKeep = await full('kr');
    expect(postKeep.version).toBe(2);
    expect(postKeep.posteriorState).toEqual(postX.posteriorState);
    expect(postKeep.posterior).toEqual(postX.posterior);

    const y = await call(base, 'PUT', '/v1/models/kr', { body: Y });
    expect(y.json).toEqual({ modelId: 'kr', version: 3, created: false });
    const postY = await full('kr');
    expect(postY.posteriorState).not.toEqual(postX.posteriorState);
    expect(postY.posterior.outcomes).toBe(script.feedback.length);
    expect(postY.posterior.foldedSeq).toBe(postX.posterior.foldedSeq);
    // Rebuilt: what Y learns from the same log, online, from its first outcome.
    const freshY = await freshPosterior(Y, script);
    expect(postY.posteriorState).toEqual(freshY.posteriorState);
    expect({ ...postY.posterior, foldedSeq: 0 }).toEqual({ ...freshY.posterior, foldedSeq: 0 });

    const z = await call(base, 'PUT', '/v1/models/kr', { body: Z });
    expect(z.json).toEqual({ modelId: 'kr', version: 4, created: false });
    const postZ = await full('kr');
    expect(postZ.posteriorState).not.toEqual(postY.posteriorState);
    expect(postZ.posteriorState).toEqual((await freshPosterior(Z, script)).posteriorState);

    // Back to X: the same posterior as before, bit for bit, rebuilt from the log.
    const x = await call(base, 'PUT', '/v1/models/kr', { body: X });
    expect(x.json).toEqual({ modelId: 'kr', version: 5, created: false });
    expect((await full('kr')).posteriorState).toEqual(postX.posteriorState);
  });

  test('the learned posterior after a rebuild keeps learning: feedback after the change folds into the rebuilt posterior', async () => {
    const X: ModelConfigInput = { budget: { share: 0 } };
    const Y: ModelConfigInput = { policy: { kind: 'linear-gaussian', structure: 'hybrid' }, budget: { share: 0 } };
    const first: Script = { ranks: script.ranks, feedback: script.feedback.slice(0, 4) };
    const rest: Script = { ranks: [], feedback: script.feedback.slice(4) };
    expect((await call(base, 'PUT', '/v1/models/kl', { body: X })).status).toBe(201);
    await play(base, 'kl', first);
    expect((await call(base, 'PUT', '/v1/models/kl', { body: Y })).json.version).toBe(2);
    await play(base, 'kl', rest);
    const live = await full('kl');
    expect(live.posterior.outcomes).toBe(script.feedback.length);
    expect(live.posteriorState).toEqual((await freshPosterior(Y, script)).posteriorState);
  });

  test('a rejected PUT leaves the old model serving, its version, config and posterior unchanged', async () => {
    const X: ModelConfigInput = { policy: { kind: 'linear-gaussian' }, budget: { share: 0.1 }, slots: 3 };
    expect((await call(base, 'PUT', '/v1/models/rej', { body: X })).status).toBe(201);
    const r = await call(base, 'POST', '/v1/models/rej/rank', { body: { context: ctx(4), candidates: items(5) } });
    await call(base, 'POST', '/v1/models/rej/feedback', { body: { eventId: r.json.eventId, itemId: r.json.slate[0].id, kind: 'click' } });
    const before = await full('rej');
    const record = store.getModel('rej')!;
    clock.now += 1_000;

    const bad: Array<[Parameters<typeof call>[3], number, string, string | undefined]> = [
      [{ body: { ...X, budget: { share: 2 } } }, 400, 'INVALID_CONFIG', 'budget.share'],
      [{ body: { policy: { kind: 'linear-gaussian', priorVariance: -1 } } }, 400, 'INVALID_CONFIG', 'policy.priorVariance'],
      [{ body: { policy: { kind: 'no-such-policy' } } }, 400, 'INVALID_CONFIG', undefined],
      [{ body: { ...X, slotz: 3 } }, 400, 'INVALID_CONFIG', 'slotz'],
      [{ body: { features: { bits: 40 } } }, 400, 'INVALID_CONFIG', 'features.bits'],
      [{ body: { features: { interactions: [['user']] } } }, 400, 'INVALID_CONFIG', undefined],
      [{ body: [X] }, 400, 'INVALID_CONFIG', undefined],
      [{ raw: '{"policy": {"kind": "linear-gaussian"' }, 400, 'INVALID_REQUEST', undefined],
      [{ raw: 'policy=linear-gaussian', contentType: 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE', undefined],
    ];
    for (const [options, status, code, field] of bad) {
      const a = await call(base, 'PUT', '/v1/models/rej', options);
      expectError(a, status, code);
      if (field !== undefined) expect(a.json.error.field, a.text).toBe(field);
    }

    const after = await full('rej');
    expect(after.version).toBe(1);
    expect(after.config).toEqual(parsedJson(X));
    expect(after.updatedAt).toBe(record.updatedAt);
    expect(after.posteriorState).toEqual(before.posteriorState);
    expect(after.posterior).toEqual(before.posterior);
    expect(store.getModel('rej')!.version).toBe(1);
    expect(sample(await metrics(), 'liubai_model_version', '{model="rej"}')).toBe(1);
    const again = await call(base, 'POST', '/v1/models/rej/rank', { body: { context: ctx(4), candidates: items(5) } });
    expect(again.status, again.text).toBe(200);
    expect(again.json.modelVersion).toBe(1);
    expect(again.json.slate).toHaveLength(3);
    // The next valid PUT is version 2: rejected ones used no version number.
    expect((await call(base, 'PUT', '/v1/models/rej', { body: { ...X, slots: 2 } })).json).toEqual({ modelId: 'rej', version: 2, created: false });
  });

  test('PUT is idempotent: the same config again (as written, or with its defaults spelled out) answers 200 with the same version and changes nothing', async () => {
    const config: ModelConfigInput = { budget: { share: 0.15 }, slots: 2 };
    expect((await call(base, 'PUT', '/v1/models/idem', { body: config })).status).toBe(201);
    const before = await full('idem');
    const r1 = await call(base, 'POST', '/v1/models/idem/rank', { body: { eventId: 'idem-1', context: ctx(1), candidates: items(5) } });
    clock.now += 1000;
    for (const body of [config, parsedJson(config)]) {
      const again = await call(base, 'PUT', '/v1/models/idem', { body });
      expect(again.status, again.text).toBe(200);
      expect(again.json).toEqual({ modelId: 'idem', version: 1, created: false });
    }
    const after = await full('idem');
    expect(after.version).toBe(1);
    expect(after.updatedAt).toBe(before.updatedAt);
    expect(after.posteriorState).toEqual(before.posteriorState);
    expect(sample(await metrics(), 'liubai_decisions_total', '{model="idem"}')).toBe(1);
    // The same eventId under the same version is the same decision: a duplicate, as before the PUTs.
    const dup = await call(base, 'POST', '/v1/models/idem/rank', { body: { eventId: 'idem-1', context: ctx(1), candidates: items(5) } });
    expectError(dup, 409, 'DUPLICATE_EVENT');
    expect(r1.json.modelVersion).toBe(1);
  });

  test('nothing was logged as an error', () => {
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

// ───────────────────────── a featurizer that rejects the log ─────────────────────────

describe('a reconfigured featurizer that rejects logged decisions', () => {
  // A config may reject decisions made under an earlier one. Its limits (here
  // features.maxStringLength below a string of a logged context) guard requests, not the log:
  // logged decisions over them are learned with the same features as before. A structural
  // conflict (a namespace the new config reserves) cannot be featurized at all: such an entry
  // teaches nothing, is counted, and never breaks feedback, a replay or a restart.
  const long = { user: { city: 'amsterdam-centrum' } }; // 17 characters
  const X: ModelConfigInput = { budget: { share: 0 } };
  const tight: ModelConfigInput = { budget: { share: 0 }, features: { maxStringLength: 8 } };

  async function setup() {
    const { engine, store } = clockEngine();
    const logger = memoryLogger();
    const { base, server } = await listen({ engine, logger });
    return { engine, store, logger, base, server };
  }

  test('tightening a limit below logged decisions: the PUT is accepted, logged outcomes are learned with the same features (before and after it), new requests over the limit are 400, and the model reloads', async () => {
    const { store, base, server, logger } = await setup();
    // The reference: the same traffic under X alone.
    const ref = clockEngine().engine;
    ref.putModel('m', X);
    try {
      expect((await call(base, 'PUT', '/v1/models/m', { body: X })).status).toBe(201);
      const r1 = await call(base, 'POST', '/v1/models/m/rank', { body: { eventId: 'r1', context: long, candidates: items(3), slots: 3 } });
      const r2 = await call(base, 'POST', '/v1/models/m/rank', { body: { eventId: 'r2', context: long, candidates: items(3), slots: 3 } });
      ref.rank('m', { eventId: 'r1', context: long, candidates: items(3), slots: 3 });
      ref.rank('m', { eventId: 'r2', context: long, candidates: items(3), slots: 3 });
      const click1 = { eventId: 'r1', itemId: r1.json.slate[0].id, kind: 'click' as const };
      expect((await call(base, 'POST', '/v1/models/m/feedback', { body: click1 })).status).toBe(200);
      ref.feedback('m', click1);
      const before = (await call(base, 'GET', '/v1/models/m?posterior=full')).json;

      const put = await call(base, 'PUT', '/v1/models/m', { body: tight });
      expect(put.status, put.text).toBe(200);
      expect(put.json).toEqual({ modelId: 'm', version: 2, created: false });
      // Rebuilt from the log under the new config: the same posterior as before the PUT.
      expect((await call(base, 'GET', '/v1/models/m?posterior=full')).json.posteriorState).toEqual(before.posteriorState);
      // The limit applies to requests from now on.
      const over = await call(base, 'POST', '/v1/models/m/rank', { body: { context: long, candidates: items(3) } });
      expect(over.status, over.text).toBe(400);
      expect(over.json.error.field).toBe('context.user.city');
      // Feedback on a decision made before the PUT is accepted and learned.
      const click2 = { eventId: 'r2', itemId: r2.json.slate[1].id, kind: 'click' as const };
      const f = await call(base, 'POST', '/v1/models/m/feedback', { body: click2 });
      expect(f.status, f.text).toBe(200);
      expect(f.json).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
      ref.feedback('m', click2);
      const after = (await call(base, 'GET', '/v1/models/m?posterior=full')).json;
      expect(after.posteriorState).toEqual(asJson(ref.model('m').posteriorSnapshot()));
      expect(sample((await call(base, 'GET', '/metrics')).text, 'liubai_unlearnable_outcomes_total', '{model="m"}')).toBe(0);
      // A restart loads the model, with the same posterior.
      const restarted = new Engine({ store, snapshotEvery: 0 });
      expect(asJson(restarted.model('m').posteriorSnapshot())).toEqual(after.posteriorState);
      expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      await shut(server);
    }
  });

  test('a config that cannot featurize a logged decision (its extra namespace is now a logged context namespace): the entries teach nothing and are counted; feedback is 200; the model reloads', async () => {
    const { store, base, server, logger } = await setup();
    const withSignals = { user: { age: 30 }, signals: { recent: 2 } };
    const reserving: ModelConfigInput = { budget: { share: 0 }, features: { extraNamespace: 'signals' } };
    try {
      await call(base, 'PUT', '/v1/models/m', { body: X });
      const r1 = await call(base, 'POST', '/v1/models/m/rank', { body: { eventId: 's1', context: withSignals, candidates: items(3), slots: 3 } });
      const r2 = await call(base, 'POST', '/v1/models/m/rank', { body: { eventId: 's2', context: withSignals, candidates: items(3), slots: 3 } });
      expect((await call(base, 'POST', '/v1/models/m/feedback', { body: { eventId: 's1', itemId: r1.json.slate[0].id, kind: 'click' } })).status).toBe(200);

      const put = await call(base, 'PUT', '/v1/models/m', { body: reserving });
      expect(put.status, put.text).toBe(200);
      // The replay could learn nothing: the posterior is the new config's prior.
      const prior = clockEngine().engine;
      prior.putModel('m', reserving);
      expect((await call(base, 'GET', '/v1/models/m?posterior=full')).json.posteriorState).toEqual(asJson(prior.model('m').posteriorSnapshot()));
      // Requests using the namespace the config now reserves are refused.
      const refused = await call(base, 'POST', '/v1/models/m/rank', { body: { context: withSignals, candidates: items(3) } });
      expect(refused.status, refused.text).toBe(400);
      // Feedback on the older decision: accepted and logged, not learned, counted.
      const f = await call(base, 'POST', '/v1/models/m/feedback', { body: { eventId: 's2', itemId: r2.json.slate[0].id, kind: 'click' } });
      expect(f.status, f.text).toBe(200);
      expect(f.json).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
      expect(store.counts('m').outcomes).toBe(2);
      expect((await call(base, 'GET', '/v1/models/m?posterior=full')).json.posteriorState).toEqual(asJson(prior.model('m').posteriorSnapshot()));
      expect(sample((await call(base, 'GET', '/metrics')).text, 'liubai_unlearnable_outcomes_total', '{model="m"}')).toBe(1);
      // A restart loads the model and folds the same (nothing).
      const restarted = new Engine({ store, snapshotEvery: 0 });
      expect(asJson(restarted.model('m').posteriorSnapshot())).toEqual(asJson(prior.model('m').posteriorSnapshot()));
      expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      await shut(server);
    }
  });
});

// ───────────────────────── startServer: SQLite, replica, restart ─────────────────────────

describe('reconfiguration through startServer (SQLite, decision threads = 1, restart)', () => {
  let dir = '';
  // Made in beforeAll, not at collection: a filtered run (-t) that skips these tests leaves nothing behind.
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'liubai-reconf-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const A: ModelConfigInput = { policy: { kind: 'linear-gaussian' }, budget: { share: 0.25 }, slots: 3 };
  // A rebuild (policy) and a budget change at once.
  const B: ModelConfigInput = { policy: { kind: 'linear-gaussian', priorVariance: 3 }, budget: { share: 0.1, rule: 'uniform' }, slots: 3 };
  const options = (dbPath: string) => ({
    host: '127.0.0.1',
    port: 0,
    dbPath,
    decisionThreads: 1,
    snapshotIntervalMs: 0,
    sweepIntervalMs: 60_000,
    checkpointIntervalMs: 0,
    processMetrics: false,
  });

  test('ranks on the replica follow the new version and rebuilt posterior; a restart keeps the config, version and posterior', async () => {
    const dbPath = join(dir, 'live.db');
    const logger = memoryLogger();
    // The reference: the same operations on an in-process engine that decides in its own thread.
    // A replica computes the same slate and propensities as the model itself (replicas.ts), and a
    // decision depends only on the posterior, the request and its seed (no user: no budget state).
    const ref = new Engine({ store: new MemoryStore(), snapshotEvery: 0 });
    let s: RunningServer | null = await startServer({ ...options(dbPath), models: { live: A }, logger });
    try {
      expect(s.created).toEqual(['live']);
      ref.putModel('live', A);
      const rank = async (srv: RunningServer, eventId: string, i: number, version: number) => {
        const request: RankRequest = { eventId, context: ctx(i), candidates: items(6) };
        const a = await call(srv.url, 'POST', '/v1/models/live/rank', { body: request });
        expect(a.status, a.text).toBe(200);
        expect(a.json.modelVersion).toBe(version);
        expect(a.json).toEqual(asJson(ref.rank('live', request)));
        return a.json as { posteriorSeq: number; slate: Array<{ id: string }> };
      };
      const feedback = async (srv: RunningServer, eventId: string, itemId: string, kind: FeedbackKind) => {
        const a = await call(srv.url, 'POST', '/v1/models/live/feedback', { body: { eventId, itemId, kind } });
        expect(a.json, a.text).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
        ref.feedback('live', { eventId, itemId, kind });
      };

      expect(s.engine.model('live').replicated).toBe(true);
      const before: Array<{ slate: Array<{ id: string }> }> = [];
      for (let i = 0; i < 4; i++) before.push(await rank(s, `a${i}`, i, 1));
      await feedback(s, 'a0', before[0]!.slate[0]!.id, 'click');
      await feedback(s, 'a1', before[1]!.slate[1]!.id, 'dismiss');
      await feedback(s, 'a2', before[2]!.slate[0]!.id, 'click');

      const put = await call(s.url, 'PUT', '/v1/models/live', { body: B });
      expect(put.status, put.text).toBe(200);
      expect(put.json).toEqual({ modelId: 'live', version: 2, created: false });
      ref.putModel('live', B);
      const m2 = s.engine.model('live');
      expect(m2.version).toBe(2);
      expect(m2.replicated).toBe(true); // the new model decides on a replica too

      const after: Array<{ slate: Array<{ id: string }> }> = [];
      for (let i = 0; i < 3; i++) after.push(await rank(s, `b${i}`, i, 2));
      // Feedback on version-1 decisions after the change, then on a version-2 one.
      await feedback(s, 'a3', before[3]!.slate[2]!.id, 'click');
      await feedback(s, 'a0', before[0]!.slate[1]!.id, 'dismiss');
      await feedback(s, 'b0', after[0]!.slate[0]!.id, 'click');
      // The replica has learned them: its next decision is the reference's, at posteriorSeq 6.
      const next = await rank(s, 'b3', 3, 2);
      expect(next.posteriorSeq).toBe(6);
      const g = await call(s.url, 'GET', '/v1/models/live?posterior=full');
      expect(g.json.version).toBe(2);
      expect(g.json.config).toEqual(parsedJson(B));
      expect(g.json.posteriorState).toEqual(asJson(ref.model('live').posteriorSnapshot()));
      // One more outcome after the read, so the final snapshot at close is serialized by the replica.
      await feedback(s, 'b1', after[1]!.slate[0]!.id, 'click');

      await s.close();
      s = null;

      // Restart on the same database without `models`: what is stored serves.
      s = await startServer({ ...options(dbPath), logger });
      expect(s.created).toEqual([]);
      expect(s.engine.model('live').replicated).toBe(true);
      const r = await call(s.url, 'GET', '/v1/models/live?posterior=full');
      expect(r.json.version).toBe(2);
      expect(r.json.config).toEqual(parsedJson(B));
      expect(r.json.posterior.outcomes).toBe(7);
      expect(r.json.posteriorState).toEqual(asJson(ref.model('live').posteriorSnapshot()));
      await rank(s, 'c0', 5, 2);
      await s.close();
      s = null;

      // A restart whose settings name the same config does not reconfigure (server.ts: equal parsed configs).
      s = await startServer({ ...options(dbPath), decisionThreads: 0, models: { live: B }, logger });
      expect(s.created).toEqual([]);
      expect((await call(s.url, 'GET', '/v1/models/live')).json.version).toBe(2);
    } finally {
      await s?.close();
    }
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  test('ranks in flight on the replica during a PUT: each is answered with the version it was recorded under, or 503 NOT_READY and not recorded', async () => {
    const s = await startServer({ ...options(join(dir, 'race.db')), models: { race: { propensity: { draws: 400 } } }, logger: memoryLogger() });
    try {
      expect(s.engine.model('race').replicated).toBe(true);
      const body = (n: number) => ({ eventId: `r${n}`, context: ctx(n), candidates: items(20), slots: 5 });
      const ranks = Array.from({ length: 8 }, (_, n) => call(s.url, 'POST', '/v1/models/race/rank', { body: body(n) }));
      // Once the replica has answered one, the others are queued behind it or being decided.
      await Promise.race(ranks);
      const put = await call(s.url, 'PUT', '/v1/models/race', { body: { propensity: { draws: 400 }, budget: { share: 0.5 } } });
      expect(put.json).toEqual({ modelId: 'race', version: 2, created: false });
      const answers = await Promise.all(ranks);
      let recorded = 0;
      for (const [n, a] of answers.entries()) {
        const d = s.engine.store.getDecision('race', `r${n}`);
        if (a.status === 200) {
          recorded++;
          expect([1, 2]).toContain(a.json.modelVersion);
          expect(d?.modelVersion, a.text).toBe(a.json.modelVersion);
        } else {
          expectError(a, 503, 'NOT_READY');
          expect(d).toBeUndefined();
          // Nothing was written: the eventId is still free, and the new version serves it.
          const retry = await call(s.url, 'POST', '/v1/models/race/rank', { body: body(n) });
          expect(retry.status, retry.text).toBe(200);
          expect(retry.json.modelVersion).toBe(2);
          recorded++;
        }
      }
      expect(s.engine.store.counts('race').decisions).toBe(recorded);
      const last = await call(s.url, 'POST', '/v1/models/race/rank', { body: body(99) });
      expect(last.json.modelVersion).toBe(2);
    } finally {
      await s.close();
    }
  });
});
