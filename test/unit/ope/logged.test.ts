import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { OpeInputError } from '../../../src/ope/errors.js';
import {
  estimateSlate,
  fitSlateRewardModel,
  impressionReward,
  onPolicyValue,
  readModelLog,
  slateLog,
  slateTarget,
  type SlateLog,
  type SlateRewardModel,
} from '../../../src/ope/logged.js';
import { MemoryStore } from '../../../src/storage/memory/index.js';
import type { DecisionRecord, NewOutcome } from '../../../src/storage/types.js';

const T0 = 1_700_000_000_000;
/** An evaluation time after every reward window of the hand-written logs (default window 1,800 s). */
const LATER = T0 + 3_600_000;

function decision(eventId: string, posteriorSeq: number, items: string[], extra: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    modelId: 'm',
    eventId,
    modelVersion: 1,
    posteriorSeq,
    seed: `s-${eventId}`,
    at: T0 + posteriorSeq,
    context: {},
    candidates: ['a', 'b', 'c'].map((id) => ({ id })),
    slate: items.map((itemId, p) => ({ itemId, position: p + 1, propensity: 0.5, slatePropensity: 0.8, explored: false })),
    draws: 64,
    exposedAt: T0,
    ...extra,
  };
}

function outcome(eventId: string, itemId: string, kind: NewOutcome['kind'], reward: number, ordinal: number, extra: Partial<NewOutcome> = {}): NewOutcome {
  return { modelId: 'm', eventId, itemId, position: 1, kind, reward, weight: 1, ordinal, at: T0, ...extra };
}

/** A hand-written log: every rule of the reward mapping once. */
function fixture(config: unknown = {}) {
  const store = new MemoryStore();
  store.putModel({ modelId: 'm', version: 1, config, createdAt: T0, updatedAt: T0 });
  // e1: click at a, ignored at b.
  store.insertDecision(decision('e1', 0, ['a', 'b']));
  store.appendOutcome(outcome('e1', 'a', 'click', 1, 0)); // seq 1
  store.appendOutcome(outcome('e1', 'b', 'ignored', 0, 1, { position: 2, weight: 0.85 })); // seq 2
  // e2 (posterior at seq 2): ignored at c then a late click retracts it; dismiss at a.
  store.insertDecision(decision('e2', 2, ['c', 'a']));
  const ignored = store.appendOutcome(outcome('e2', 'c', 'ignored', 0, 2)); // seq 3
  store.appendOutcome(outcome('e2', 'c', 'ignored', 0, 2, { weight: -1, retracts: ignored })); // seq 4
  store.appendOutcome(outcome('e2', 'c', 'click', 1, 3)); // seq 5
  store.appendOutcome(outcome('e2', 'a', 'dismiss', -0.5, 4, { position: 2, weight: 3 })); // seq 6
  // e3: never exposed.
  store.insertDecision(decision('e3', 1, ['a'], { exposedAt: null }));
  // e4: one outcome, the other window still open.
  store.insertDecision(decision('e4', 6, ['b', 'c']));
  store.appendOutcome(outcome('e4', 'b', 'click', 1, 5)); // seq 7
  store.openWindows([{ modelId: 'm', eventId: 'e4', itemId: 'c', position: 2, deadline: T0 + 1e9 }]);
  // e5: a convert worth 4 at b; no outcome at a and its window is closed (silence, clicks-only).
  store.insertDecision(decision('e5', 1, ['a', 'b']));
  store.appendOutcome(outcome('e5', 'b', 'convert', 4, 6, { position: 2 })); // seq 8
  return store;
}

describe('impressionReward', () => {
  test('the standing outcome wins; else silence once the window closed; else unresolved', () => {
    let asked = 0;
    const open = (v: boolean) => () => {
      asked++;
      return v;
    };
    expect(impressionReward({ reward: 0.7 }, open(true), 0)).toBe(0.7);
    expect(asked).toBe(0); // the window is only asked about without an outcome
    expect(impressionReward(undefined, open(false), -0.1)).toBe(-0.1);
    expect(impressionReward(undefined, open(true), 0)).toBeNull();
  });
});

describe('readModelLog', () => {
  test('resolves rewards from the learning log: clicks, late clicks over retracted silence, dismiss, converts', () => {
    const log = readModelLog(fixture(), 'm', { asOf: LATER });
    // e3 never appears in the learning log, so it is not found without eventIds; e4 is unresolved.
    expect(log.decisions.map((d) => d.decision.eventId)).toEqual(['e1', 'e5', 'e2', 'e4']);
    expect(log.rounds.map((r) => r.decision.eventId)).toEqual(['e1', 'e5', 'e2']);
    expect(log.rounds.map((r) => [...r.rewards])).toEqual([[1, 0], [0, 4], [1, -0.5]]);
    expect(log.rounds.map((r) => r.order)).toEqual([0, 1, 2]);
    expect(log.excluded).toEqual({ unexposed: 0, unresolved: 1 });
    expect(log.positions).toBe(2);
    expect(log.versions).toEqual([1]);
    expect(log.outcomes.map((o) => o.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(log.config.policy.kind).toBe('linear-gaussian');
  });

  test('evaluation time: decisions exposed within a reward window of it are left out, with or without feedback; by default the latest time in the log', () => {
    // Every decision of the fixture was exposed at T0, and T0 is also its latest time: nothing has matured.
    expect(() => readModelLog(fixture(), 'm')).toThrow(/exposed within a reward window/);
    // e1 exposed at T0 and clicked, e6 exposed 1,000 s later and clicked too: as of T0 + 1,800 s
    // only e1's window has ended — e6 is left out although its feedback came.
    const store = fixture();
    store.insertDecision(decision('e6', 7, ['a'], { exposedAt: T0 + 1_000_000 }));
    store.appendOutcome(outcome('e6', 'a', 'click', 1, 7, { at: T0 + 1_000_000 }));
    const early = readModelLog(store, 'm', { asOf: T0 + 1_800_000 });
    expect(early.rounds.map((r) => r.decision.eventId)).toEqual(['e1', 'e5', 'e2']);
    expect(early.excluded).toEqual({ unexposed: 0, unresolved: 2 });
    // As of 1,800 s after e6's exposure: e6 is in.
    expect(readModelLog(store, 'm', { asOf: T0 + 2_800_000 }).rounds.map((r) => r.decision.eventId)).toEqual(['e1', 'e5', 'e2', 'e6']);
  });

  test('with eventIds every decision is found: unexposed ones are counted, silence uses rewards.ignore', () => {
    const log = readModelLog(fixture({ feedback: { rewards: { ignore: -0.25 } } }), 'm', { eventIds: ['e1', 'e2', 'e3', 'e4', 'e5', 'e1'], asOf: LATER });
    expect(log.decisions.map((d) => d.decision.eventId)).toEqual(['e1', 'e3', 'e5', 'e2', 'e4']);
    expect(log.excluded).toEqual({ unexposed: 1, unresolved: 1 });
    // e5 position 1 (item a) has no outcome and a closed window: silence.
    expect([...log.rounds.find((r) => r.decision.eventId === 'e5')!.rewards]).toEqual([-0.25, 4]);
  });

  test('a clicks-only model needs the eventIds (its log omits silent decisions)', () => {
    const store = fixture({ feedback: { learnSilence: false } });
    expect(() => readModelLog(store, 'm', { asOf: LATER })).toThrow(/clicks-only/);
    expect(readModelLog(store, 'm', { eventIds: ['e1'], asOf: LATER }).rounds).toHaveLength(1);
  });

  test.each([
    ['an unknown model', (s: MemoryStore) => readModelLog(s, 'nope'), 'modelId'],
    ['an unknown eventId', (s: MemoryStore) => readModelLog(s, 'm', { eventIds: ['zz'], asOf: LATER }), 'eventIds'],
    ['no resolved decision', (s: MemoryStore) => readModelLog(s, 'm', { eventIds: ['e3', 'e4'], asOf: LATER }), 'decisions'],
  ])('%s is an OpeInputError naming the field', (_name, run, field) => {
    const store = fixture();
    try {
      run(store);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OpeInputError);
      expect((error as OpeInputError).field).toBe(field);
    }
  });

  test('slateLog lays the rounds out n×L with padding', () => {
    const store = fixture();
    store.insertDecision(decision('e6', 9, ['c']));
    store.appendOutcome(outcome('e6', 'c', 'click', 1, 7));
    const log = readModelLog(store, 'm', { asOf: LATER });
    const s = slateLog(log);
    expect(s.n).toBe(4);
    expect(s.positions).toBe(2);
    expect([...s.reward]).toEqual([1, 0, 0, 4, 1, -0.5, 1, 0]);
    expect([...s.propensity]).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1]);
    expect([...s.present]).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
  });
});

/** Two rounds of two positions, the second round with one position only. */
const tiny: SlateLog = {
  n: 2,
  positions: 2,
  reward: Float64Array.from([1, 0, 0, 0]),
  propensity: Float64Array.from([0.5, 0.25, 0.2, 1]),
  present: Uint8Array.from([1, 1, 1, 0]),
};
const tinyTarget = {
  targetProbability: Float64Array.from([0.25, 0.5, 0.4, 0]),
  estimatedReward: Float64Array.from([0.6, 0.2, 0.1, 0]),
  estimatedTargetValue: Float64Array.from([0.5, 0.3, 0.2, 0]),
};

describe('estimateSlate', () => {
  // Weights: w00 = 0.5, w01 = 2, w10 = 2, pad w11 = 1 (π₀ = π_e = 1, r = q̂ = 0).
  test('slate scope sums the position-wise estimators (hand-computed)', () => {
    const rows = estimateSlate(tiny, tinyTarget, { estimators: ['ips', 'snips', 'dm', 'dr', 'sndr'], scope: 'slate', method: 'none' });
    const value = Object.fromEntries(rows.map((r) => [r.estimator, r.value]));
    // IPS: position 1 (0.5·1 + 2·0)/2 = 0.25; position 2 (2·0 + 1·0)/2 = 0.
    expect(value.ips).toBeCloseTo(0.25, 15);
    // SNIPS: 0.5/(0.5 + 2) + 0/(2 + 1) = 0.2.
    expect(value.snips).toBeCloseTo(0.2, 15);
    // DM: (0.5 + 0.2)/2 + (0.3 + 0)/2 = 0.5.
    expect(value.dm).toBeCloseTo(0.5, 15);
    // DR: position 1 [0.5 + 0.5(1 − 0.6) + 0.2 + 2(0 − 0.1)]/2 = 0.35; position 2 [0.3 + 2(0 − 0.2) + 0]/2 = −0.05.
    expect(value.dr).toBeCloseTo(0.3, 15);
    // SNDR: 0.35 + (0.2 − 0.2)/2.5 → position 1: 0.35 + (0.5·0.4 + 2·(−0.1))/2.5 = 0.35; position 2: 0.15 + (2·(−0.2))/3.
    expect(value.sndr).toBeCloseTo(0.35 + 0.15 - 0.4 / 3, 15);
    for (const r of rows) {
      expect(r).toMatchObject({ scope: 'slate', n: 2, lower: null, upper: null, standardError: null });
    }
    // ESS per position over real weights only: (0.5 + 2)²/(0.25 + 4) and 1 (one weight), averaged.
    expect(rows[0]!.ess).toBeCloseTo((6.25 / 4.25 + 1) / 2, 12);
    expect(rows.find((r) => r.estimator === 'dm')!.ess).toBeNull();
  });

  test('top scope is position 1 alone', () => {
    const rows = estimateSlate(tiny, tinyTarget, { estimators: ['ips', 'dr'], scope: 'top', method: 'none' });
    expect(rows.map((r) => r.value)).toEqual([0.25, 0.35].map((v) => expect.closeTo(v, 15)));
    expect(rows[0]!.ess).toBeCloseTo(6.25 / 4.25, 12);
  });

  test('clipping caps the weights', () => {
    const [row] = estimateSlate(tiny, tinyTarget, { estimators: ['ips'], scope: 'slate', clip: 0.25, method: 'none' });
    expect(row!.value).toBeCloseTo((0.25 * 1) / 2, 15);
  });

  test('normal interval of a mean-type sum: value ± z·sd(per-round sums)/√n', () => {
    const [row] = estimateSlate(tiny, tinyTarget, { estimators: ['ips'], scope: 'slate', method: 'normal', level: 0.95 });
    // Per-round IPS sums: 0.5 and 0; sd = √0.125; SE = 0.25.
    expect(row!.standardError).toBeCloseTo(0.25, 15);
    expect(row!.lower).toBeCloseTo(0.25 - 1.959963984540054 * 0.25, 9);
    expect(row!.upper).toBeCloseTo(0.25 + 1.959963984540054 * 0.25, 9);
  });

  test('bootstrap: needs an rng, is reproducible, brackets the value', () => {
    expect(() => estimateSlate(tiny, tinyTarget, { estimators: ['ips'], scope: 'slate' })).toThrow(OpeInputError);
    const a = estimateSlate(tiny, tinyTarget, { estimators: ['ips', 'snips'], scope: 'slate', rng: createRng(3), resamples: 200 });
    const b = estimateSlate(tiny, tinyTarget, { estimators: ['snips'], scope: 'slate', rng: createRng(3), resamples: 200 });
    expect(b[0]).toEqual(a[1]); // a row does not depend on the other estimators requested
    // With 2 rounds, IPS replicates are 0, 0.25 or 0.5.
    expect(a[0]!.lower).toBeGreaterThanOrEqual(0);
    expect(a[0]!.upper).toBeLessThanOrEqual(0.5);
  });

  test('DM without a reward model names the missing field', () => {
    expect(() => estimateSlate(tiny, { targetProbability: tinyTarget.targetProbability }, { estimators: ['dm'], scope: 'slate', method: 'none' })).toThrow(
      /estimatedTargetValue/,
    );
  });
});

describe('onPolicyValue', () => {
  test('mean of the per-round reward sums (slate) or of position 1 (top)', () => {
    expect(onPolicyValue(tiny, 'slate', { method: 'none' }).value).toBe(0.5);
    expect(onPolicyValue(tiny, 'top', { method: 'none' }).value).toBe(0.5);
    const normal = onPolicyValue({ ...tiny, reward: Float64Array.from([1, 1, 0, 0]) }, 'slate', { method: 'normal' });
    expect(normal.value).toBe(1);
    expect(normal.standardError).toBeCloseTo(Math.sqrt(2) / Math.sqrt(2), 15);
  });
});

describe('reward model and target arrays', () => {
  const store = new MemoryStore();
  store.putModel({ modelId: 'm', version: 1, config: {}, createdAt: T0, updatedAt: T0 });
  // 40 decisions showing [a, b] or [b, c]; a is always clicked, b and c never.
  for (let i = 0; i < 40; i++) {
    const items = i % 2 === 0 ? ['a', 'b'] : ['b', 'c'];
    store.insertDecision(decision(`d${i}`, 2 * i, items));
    items.forEach((item, p) => store.appendOutcome(outcome(`d${i}`, item, item === 'a' ? 'click' : 'ignored', item === 'a' ? 1 : 0, 2 * i + p, { position: p + 1 })));
  }
  const log = readModelLog(store, 'm', { asOf: LATER });
  const k = 3;
  const scores = { offsets: Int32Array.from({ length: 41 }, (_, i) => i * k), values: new Float64Array(40 * k) };

  test('the cross-fitted logistic model ranks the always-clicked item first', () => {
    const model = fitSlateRewardModel(log, scores, { lambda: 0.1, folds: 2, maxItems: 3 });
    expect(model.kind).toBe('logistic');
    expect(model.dimension).toBe(2 + 1 + 3);
    for (const i of [0, 1]) {
      expect(model.predict(i, 0, 0)).toBeGreaterThan(0.8);
      expect(model.predict(i, 1, 0)).toBeLessThan(0.2);
    }
    expect(() => fitSlateRewardModel(log, scores, { folds: 0 })).toThrow(OpeInputError);
  });

  test('slateTarget reads π_e of each logged (item, position) and Σ_a π_e q̂', () => {
    const L = 2;
    const offsets = Int32Array.from({ length: 41 }, (_, i) => i * k * L);
    const values = new Float64Array(40 * k * L);
    // Every round: a at 1 w.p. 0.5, b at 1 w.p. 0.5; c at 2 w.p. 1.
    for (let i = 0; i < 40; i++) values.set([0.5, 0, 0.5, 0, 0, 1], i * k * L);
    const constant: SlateRewardModel = { kind: 'ridge', dimension: 1, folds: 1, predict: (_i, a, l) => (a === 0 ? 0.9 : 0.1) + l };
    const t = slateTarget(log, { offsets, values }, constant);
    // Round 0 shows [a, b]; round 1 shows [b, c].
    expect([...t.targetProbability.subarray(0, 4)]).toEqual([0.5, 0, 0.5, 1]);
    expect([...t.estimatedReward!.subarray(0, 4)]).toEqual([0.9, 1.1, 0.1, 1.1]);
    expect(t.estimatedTargetValue![0]).toBeCloseTo(0.5 * 0.9 + 0.5 * 0.1, 15);
    expect(t.estimatedTargetValue![1]).toBeCloseTo(1.1, 15);
  });
});
