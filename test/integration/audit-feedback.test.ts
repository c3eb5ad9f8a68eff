/**
 * Conformance audit of the feedback side (DESIGN.md "Feedback semantics", src/feedback/*,
 * Model.feedbackMany / tick / expose / fold, the stores' windows and active outcomes, the
 * feedback route). Only what the other suites do not already pin; four regression tests of bugs
 * this audit found (fixed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { ModelConfigInput } from '../../src/engine/config.js';
import { Engine } from '../../src/engine/engine.js';
import type { FeedbackEvent } from '../../src/engine/model.js';
import { fatigueAt, fatigueKey, type FatigueState } from '../../src/feedback/fatigue.js';
import { memoryLogger } from '../../src/server/logger.js';
import { MemoryStore } from '../../src/storage/memory/index.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';
import type { Store } from '../../src/storage/types.js';
import { call, listen, shut } from './http.js';

const T0 = 1_700_000_000_000;
const MIN = 60_000;
const HOUR = 3_600_000;

function setup(config: ModelConfigInput, store: Store = new MemoryStore(), snapshotEvery = 0) {
  let now = T0;
  let n = 0;
  const engine = new Engine({ store, clock: () => now, newEventId: () => `e${++n}`, snapshotEvery });
  engine.putModel('m', config);
  return {
    engine,
    store,
    advance(ms: number) {
      now += ms;
    },
    now: () => now,
    log: () => store.outcomesAfter('m', 0, 1000).map((o) => [o.eventId, o.itemId, o.kind, o.reward, o.weight, o.retracts ?? null]),
  };
}

/** Fatigue memory of user `u` for `key` at time `at` (the same read rank does). */
function fatigueOf(store: Store, key: string, at: number, halfLifeMs: number): number {
  const state = store.getUserState('m', 'u') as { fatigue: FatigueState } | undefined;
  return fatigueAt(state?.fatigue, key, at, halfLifeMs);
}

// Deterministic slates: a context-free policy, no serendipity, no floor.
const beta: ModelConfigInput = { policy: { kind: 'beta-bernoulli' }, budget: { share: 0, floor: 0 } };

describe('fatigue memory: one count per rejected impression, in real time', () => {
  const config: ModelConfigInput = { ...beta, feedback: { rewardWindowSeconds: 1800 }, fatigue: { halfLifeSeconds: 3600, coolDownAfter: 3 } };

  // Regression (fixed): when the sweeper had closed the window (tick folds the impression into
  // fatigue as `ignored`, +1), a later `dismiss` retracted the `ignored` outcome, applied
  // `dismiss` and folded +1 again: one impression counted 2 (fatigue.ts: "a count of rejections
  // (ignored and dismissed impressions)"). Model.rejectionCounted now counts it once.
  test('a dismiss after the window closed replaces the provisional ignore in fatigue, it does not add to it', () => {
    const s = setup(config);
    const r = s.engine.rank('m', { context: {}, candidates: [{ id: 'a', group: 'g' }], slots: 1, userId: 'u' });
    s.advance(30 * MIN);
    expect(s.engine.tick()).toBe(1);
    expect(fatigueOf(s.store, fatigueKey.item('a'), s.now(), HOUR)).toBe(1);
    // Same instant as the deadline: no decay in between, so the counts are exact.
    expect(s.engine.feedback('m', { eventId: r.eventId, itemId: 'a', kind: 'dismiss' })).toEqual({ accepted: true, outcomes: 2 });
    expect(s.log()).toEqual([
      ['e1', 'a', 'ignored', 0, 1, null],
      ['e1', 'a', 'ignored', 0, -1, 1],
      ['e1', 'a', 'dismiss', 0, 3, null],
    ]);
    expect(fatigueOf(s.store, fatigueKey.item('a'), s.now(), HOUR)).toBe(1);
    expect(fatigueOf(s.store, fatigueKey.group('g'), s.now(), HOUR)).toBe(1);
  });

  test('clicks-only (silence not learned, so no outcome stands): a dismiss after the silence still counts the impression once; a dismiss of a deferred, never exposed impression counts once', () => {
    const s = setup({ ...config, feedback: { rewardWindowSeconds: 1800, learnSilence: false } });
    const r = s.engine.rank('m', { context: {}, candidates: [{ id: 'a', group: 'g' }], slots: 1, userId: 'u' });
    const deferred = s.engine.rank('m', { context: {}, candidates: [{ id: 'b', group: 'h' }], slots: 1, userId: 'u', deferExposure: true });
    s.advance(30 * MIN);
    expect(s.engine.tick()).toBe(1);
    expect(fatigueOf(s.store, fatigueKey.item('a'), s.now(), HOUR)).toBe(1);
    expect(s.engine.feedback('m', { eventId: r.eventId, itemId: 'a', kind: 'dismiss' })).toEqual({ accepted: true, outcomes: 0 });
    expect(fatigueOf(s.store, fatigueKey.item('a'), s.now(), HOUR)).toBe(1);
    expect(s.engine.feedback('m', { eventId: deferred.eventId, itemId: 'b', kind: 'dismiss' })).toEqual({ accepted: true, outcomes: 0 });
    expect(fatigueOf(s.store, fatigueKey.item('b'), s.now(), HOUR)).toBe(1);
    expect(fatigueOf(s.store, fatigueKey.group('h'), s.now(), HOUR)).toBe(1);
  });

  // Regression (fixed): a rejection folded at a time earlier than the stored entry's took the
  // stored count undecayed and re-stamped the sum with the EARLIER time, so newer rejections were
  // decayed as if they were old — the normal path after downtime, when feedback arrives before
  // the sweeper works off windows whose deadlines are past. Each rejection decays from its own
  // time: at T the count is 1 (dismiss at T) + 3·2^(−1.5) (ignores at T − 1.5 h) = 2.0607.
  test('the sweeper working off a backlog after feedback: each rejection decays from its own time', () => {
    const s = setup(config);
    const ids = [1, 2, 3, 4].map(() => s.engine.rank('m', { context: {}, candidates: [{ id: 'a' }], slots: 1, userId: 'u' }).eventId);
    s.advance(2 * HOUR); // the sweeper was down: four windows are overdue since T0 + 30 min
    s.engine.feedback('m', { eventId: ids[0]!, itemId: 'a', kind: 'dismiss' });
    expect(s.engine.tick()).toBe(3);
    expect(fatigueOf(s.store, fatigueKey.item('a'), s.now(), HOUR)).toBeCloseTo(1 + 3 * Math.pow(2, -1.5), 9);
  });

  // Regression (fixed): a feedback `at` in the future (a client clock off by a month) ran the
  // forgetting pass at that time, erasing every other count of the user (a cooled-down item was
  // forgiven at once). Fatigue is now folded at min(at, now).
  test('a feedback `at` in the future does not erase the user’s other fatigue memory', () => {
    const s = setup(config);
    const ra = [1, 2, 3].map(() => s.engine.rank('m', { context: {}, candidates: [{ id: 'a' }], slots: 1, userId: 'u' }).eventId);
    const rb = s.engine.rank('m', { context: {}, candidates: [{ id: 'b' }], slots: 1, userId: 'u' }).eventId;
    for (const eventId of ra) s.engine.feedback('m', { eventId, itemId: 'a', kind: 'dismiss' });
    expect(fatigueOf(s.store, fatigueKey.item('a'), s.now(), HOUR)).toBe(3); // cooled down (≥ coolDownAfter)
    s.engine.feedback('m', { eventId: rb, itemId: 'b', kind: 'dismiss', at: s.now() + 30 * 24 * HOUR });
    expect(fatigueOf(s.store, fatigueKey.item('a'), s.now(), HOUR)).toBe(3);
  });
});

describe('feedback precedence and values (resolve.ts module comment)', () => {
  test('convert supersedes a lower click; nothing supersedes regret; dismiss only supersedes ignored; positives supersede dismiss', () => {
    const s = setup({ ...beta, feedback: { rewardWindowSeconds: 60, rewards: { regret: -1 } } });
    const r = s.engine.rank('m', { context: {}, candidates: [{ id: 'a' }, { id: 'b' }, { id: 'c' }], slots: 3, eventId: 'd' });
    const [a, b, c] = r.slate.map((x) => x.id) as [string, string, string];
    const fb = (itemId: string, kind: FeedbackEvent['kind'], value?: number) =>
      s.engine.feedback('m', { eventId: 'd', itemId, kind, ...(value !== undefined ? { value } : {}) });
    expect(fb(a, 'click')).toEqual({ accepted: true, outcomes: 1 });
    expect(fb(a, 'convert', 0.5)).toEqual({ accepted: true, outcomes: 0 }); // "when its reward is higher"
    expect(fb(a, 'convert', 5)).toEqual({ accepted: false, outcomes: 0 }); // idempotent per (eventId, itemId, kind)
    expect(fb(a, 'regret')).toEqual({ accepted: true, outcomes: 2 }); // regret supersedes positives
    expect(fb(a, 'dismiss')).toEqual({ accepted: true, outcomes: 0 });
    expect(fb(b, 'convert', 4)).toEqual({ accepted: true, outcomes: 1 }); // the value is the reward
    expect(fb(b, 'click')).toEqual({ accepted: true, outcomes: 0 }); // 1 ≤ 4
    expect(fb(c, 'dismiss')).toEqual({ accepted: true, outcomes: 1 });
    expect(fb(c, 'regret')).toEqual({ accepted: true, outcomes: 0 }); // regret supersedes positives and ignored only
    expect(fb(c, 'ignore')).toEqual({ accepted: true, outcomes: 0 }); // the window is closed by the dismiss
    expect(fb(c, 'click')).toEqual({ accepted: true, outcomes: 2 }); // positives supersede dismiss
    s.advance(MIN);
    expect(s.engine.tick()).toBe(0); // every window was closed by its feedback
    expect(s.log()).toEqual([
      ['d', a, 'click', 1, 1, null],
      ['d', a, 'click', 1, -1, 1],
      ['d', a, 'regret', -1, 1, null],
      ['d', b, 'convert', 4, 1, null],
      ['d', c, 'dismiss', 0, 3, null],
      ['d', c, 'dismiss', 0, -3, 5],
      ['d', c, 'click', 1, 1, null],
    ]);
  });

  test('silence weight = weights.ignore × examination[p], the last value holding past the end; ignore uses the same weight', () => {
    const s = setup({ ...beta, feedback: { rewardWindowSeconds: 60, weights: { ignore: 2 } } });
    const candidates = Array.from({ length: 8 }, (_, i) => ({ id: `i${i}` }));
    const r = s.engine.rank('m', { context: {}, candidates, slots: 7 });
    s.engine.feedback('m', { eventId: r.eventId, itemId: r.slate[6]!.id, kind: 'ignore' });
    s.advance(MIN);
    expect(s.engine.tick()).toBe(6);
    const weight = new Map(s.store.outcomesAfter('m', 0, 100).map((o) => [o.position, o.weight]));
    // default examination [1, 0.85, 0.7, 0.6, 0.5]; positions 6 and 7 use 0.5
    expect([1, 2, 3, 4, 5, 6, 7].map((p) => weight.get(p))).toEqual([2, 1.7, 1.4, 1.2, 1, 1, 1]);
  });

  test('deferred exposure: `ignore` before expose yields nothing; a click before expose stands and expose adds no silence for it', () => {
    const s = setup({ ...beta, feedback: { rewardWindowSeconds: 60 } });
    const r = s.engine.rank('m', { context: {}, candidates: [{ id: 'a' }, { id: 'b' }, { id: 'c' }], slots: 3, deferExposure: true });
    const [a, b, c] = r.slate.map((x) => x.id) as [string, string, string];
    expect(s.engine.feedback('m', { eventId: r.eventId, itemId: b, kind: 'ignore' })).toEqual({ accepted: true, outcomes: 0 });
    expect(s.engine.feedback('m', { eventId: r.eventId, itemId: a, kind: 'click' })).toEqual({ accepted: true, outcomes: 1 });
    s.advance(10 * MIN);
    expect(s.engine.expose('m', r.eventId)).toBe(true);
    s.advance(MIN);
    expect(s.engine.tick()).toBe(3);
    expect(s.log().map((o) => [o[1], o[2], o[4]])).toEqual([
      [a, 'click', 1],
      [b, 'ignored', 0.85],
      [c, 'ignored', 0.7],
    ]);
  });

  test('a batch on one impression applies in order in one transaction: ignore, then a click that retracts it, then a duplicate', () => {
    const s = setup({ ...beta, feedback: { rewardWindowSeconds: 60 } });
    const r = s.engine.rank('m', { context: {}, candidates: [{ id: 'a' }, { id: 'b' }], slots: 2 });
    const a = r.slate[1]!.id;
    const ev = (kind: FeedbackEvent['kind']): FeedbackEvent => ({ eventId: r.eventId, itemId: a, kind });
    expect(s.engine.feedbackBatch('m', [ev('ignore'), ev('click'), ev('click')])).toEqual({ accepted: 2, duplicates: 1, outcomes: 3 });
    expect(s.log()).toEqual([
      [r.eventId, a, 'ignored', 0, 0.85, null],
      [r.eventId, a, 'ignored', 0, -0.85, 1],
      [r.eventId, a, 'click', 1, 1, null],
    ]);
  });
});

describe('retraction under forgetting', () => {
  test('a late click retracts exactly what is left of the decayed ignore (beta-bernoulli sums by hand)', () => {
    // decay every outcome by γ = 2^(−1/1) = 0.5 (config.ts: "Apply the decay every this many outcomes").
    const s = setup({ ...beta, feedback: { rewardWindowSeconds: 60 }, decay: { halfLifeOutcomes: 1, every: 1 } });
    const d1 = s.engine.rank('m', { context: {}, candidates: [{ id: 'a' }], slots: 1 });
    s.engine.feedback('m', { eventId: d1.eventId, itemId: 'a', kind: 'click' }); // s = 1 → ×0.5 = 0.5
    const d2 = s.engine.rank('m', { context: {}, candidates: [{ id: 'a' }], slots: 1 });
    s.advance(MIN);
    s.engine.tick(); // f = 1; ×0.5: s = 0.25, f = 0.5
    s.engine.feedback('m', { eventId: d2.eventId, itemId: 'a', kind: 'click' }); // f −= 1·0.5 → 0; s += 1 → 1.25; ×0.5
    // The log keeps the undecayed −1 (and the ordinal); the fold applies γ^steps (model.ts:901-904).
    expect(s.log().map((o) => [o[2], o[4], o[5]])).toEqual([
      ['click', 1, null],
      ['ignored', 1, null],
      ['ignored', -1, 2],
      ['click', 1, null],
    ]);
    expect(s.engine.model('m').posteriorSnapshot().state).toEqual({ items: [{ id: 'a', successes: 0.625, failures: 0 }] });
  });
});

describe('restart on SQLite after every kind of feedback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'liubai-audit-feedback-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('snapshot + replay equals the live posterior, and the SQLite log and fatigue equal the in-memory store’s', () => {
    const config: ModelConfigInput = {
      policy: { kind: 'linear-gaussian' },
      budget: { share: 0.2 },
      feedback: { rewardWindowSeconds: 60, rewards: { regret: -1 } },
      decay: { halfLifeOutcomes: 20, every: 2 },
    };
    const drive = (store: Store) => {
      const s = setup(config, store, 5);
      const kinds: FeedbackEvent['kind'][] = ['click', 'convert', 'dismiss', 'regret', 'ignore'];
      for (let i = 0; i < 30; i++) {
        const r = s.engine.rank('m', {
          context: { user: { age: i % 5 } },
          candidates: Array.from({ length: 5 }, (_, k) => ({ id: `i${k}`, group: `g${k % 2}` })),
          slots: 3,
          userId: `u${i % 3}`,
          deferExposure: i % 4 === 3,
        });
        const ev = (p: number, kind: FeedbackEvent['kind'], value?: number): FeedbackEvent => ({
          eventId: r.eventId,
          itemId: r.slate[p]!.id,
          kind,
          ...(value !== undefined ? { value } : {}),
        });
        s.engine.feedbackBatch('m', [ev(0, kinds[i % 5]!, 2), ev(1, kinds[(i + 2) % 5]!)]);
        if (i % 4 === 3 && i % 8 === 3) s.engine.expose('m', r.eventId);
        s.advance(45_000);
        s.engine.tick();
        // late feedback after the window closed: retracts the ignore, the dismiss or the click
        s.engine.feedback('m', ev(2, kinds[(i + 1) % 5]!, 3));
        s.engine.feedback('m', ev(1, 'regret'));
      }
      return s;
    };
    const sqlite = openSqliteStore(join(dir, 'a.db'));
    const live = drive(sqlite);
    const posterior = JSON.stringify(live.engine.model('m').posteriorSnapshot());
    const log = live.log();
    expect(log.some((o) => o[5] !== null)).toBe(true);
    const fatigue = [0, 1, 2].map((u) => (sqlite.getUserState('m', `u${u}`) as { fatigue: FatigueState }).fatigue);
    sqlite.close();
    const reopened = openSqliteStore(join(dir, 'a.db'));
    try {
      const recovered = new Engine({ store: reopened, clock: live.now, snapshotEvery: 0 });
      expect(JSON.stringify(recovered.model('m').posteriorSnapshot())).toBe(posterior);
    } finally {
      reopened.close();
    }
    const memory = drive(new MemoryStore());
    expect(memory.log()).toEqual(log);
    expect(JSON.stringify(memory.engine.model('m').posteriorSnapshot())).toBe(posterior);
    const memFatigue = [0, 1, 2].map((u) => (memory.store.getUserState('m', `u${u}`) as { fatigue: FatigueState }).fatigue);
    // key order inside a fatigue memory may differ (types.ts UserState)
    const sorted = (f: FatigueState) => Object.fromEntries(Object.keys(f).sort().map((k) => [k, f[k]]));
    expect(memFatigue.map(sorted)).toStrictEqual(fatigue.map(sorted));
  });
});

describe('the feedback route', () => {
  // Regression (fixed): one `convert` with value 1e160 was answered 200 and made the
  // linear-gaussian residual sum of squares Infinity; the next snapshot failed its own schema and
  // the server could not start again. |value| is now bounded (MAX_FEEDBACK_VALUE, resolve.ts):
  // a 400 naming `value`, nothing changed, and the model reloads.
  test('after a convert with a huge value, snapshot + restart still loads the identical posterior', async () => {
    const s = setup({ budget: { share: 0 } });
    const { base, server } = await listen({ engine: s.engine, logger: memoryLogger() });
    try {
      const r = s.engine.rank('m', { context: { user: { a: 1 } }, candidates: [{ id: 'x' }, { id: 'y' }], slots: 1 });
      const a = await call(base, 'POST', '/v1/models/m/feedback', { body: { eventId: r.eventId, itemId: r.slate[0]!.id, kind: 'convert', value: 1e160 } });
      expect(a.status, a.text).toBe(400);
      expect(a.json.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'value' });
      // In-process callers get the same refusal, and nothing is written.
      const outcomes = s.store.counts('m').outcomes;
      expect(() => s.engine.feedback('m', { eventId: r.eventId, itemId: r.slate[0]!.id, kind: 'convert', value: -2e9 })).toThrow(/value/);
      expect(s.store.counts('m').outcomes).toBe(outcomes);
      // The bound itself is accepted.
      const ok = await call(base, 'POST', '/v1/models/m/feedback', { body: { eventId: r.eventId, itemId: r.slate[0]!.id, kind: 'convert', value: 1e9 } });
      expect(ok.status, ok.text).toBe(200);
    } finally {
      await shut(server);
    }
    const live = JSON.stringify(s.engine.model('m').posteriorSnapshot());
    s.engine.snapshotAll();
    const restarted = new Engine({ store: s.store, clock: s.now, snapshotEvery: 0 });
    expect(JSON.stringify(restarted.model('m').posteriorSnapshot())).toBe(live);
  });
});
