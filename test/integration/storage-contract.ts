/**
 * The storage contract: one suite every {@link Store} implementation must pass (run by
 * storage.test.ts against each). The in-memory store is the reference behaviour.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  StoreConflict,
  type DecisionRecord,
  type FeedbackRecord,
  type LedgerEntry,
  type ModelRecord,
  type NewOutcome,
  type OpenImpression,
  type SnapshotRecord,
  type Store,
} from '../../src/storage/types.js';

/** What a store factory hands the suite. `reopen` (durable stores) closes the store and opens the same data. */
export interface StoreHarness {
  store: Store;
  reopen?: () => Store;
  cleanup: () => void;
}

const M = 'news';
const M2 = 'shop';

const model = (modelId = M, over: Partial<ModelRecord> = {}): ModelRecord => ({
  modelId,
  version: 1,
  config: {
    policy: { kind: 'linear-gaussian', priorVariance: 1, noiseVariance: 0.25 },
    features: { bits: 12, interactions: [['user', 'item']] },
    budget: { share: 0.05, perUser: null, enabled: false },
  },
  createdAt: 1_000,
  updatedAt: 1_000,
  ...over,
});

const decision = (eventId: string, over: Partial<DecisionRecord> = {}): DecisionRecord => ({
  modelId: M,
  eventId,
  modelVersion: 3,
  posteriorSeq: 17,
  seed: '9f86d081884c7d65',
  at: 1_000,
  userId: 'u1',
  context: { user: { age: 31, device: 'ios', tags: ['a', 'b'] }, session: { page: 'home', fresh: true } },
  candidates: [
    { id: 'i1', features: { item: { price: 9.5, brand: 'x' } }, group: 'g1', extra: { item: 0.25, group: 0.125 } },
    { id: 'i2' },
    { id: 'i3', group: 'g2' },
  ],
  slate: [
    { itemId: 'i2', position: 1, propensity: 0.7312345678901234, slatePropensity: 0.9, explored: false },
    { itemId: 'i1', position: 2, propensity: 0.1, slatePropensity: 1 / 3, explored: true },
  ],
  draws: 256,
  exposedAt: 1_000,
  ...over,
});

/** A copy of `record` without the optional `key` (absent, not undefined). */
function without<T extends object, K extends keyof T>(record: T, key: K): T {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

const win = (eventId: string, itemId: string, deadline: number, modelId = M, position = 1): OpenImpression => ({
  modelId,
  eventId,
  itemId,
  position,
  deadline,
});

const outcome = (eventId: string, itemId: string, over: Partial<NewOutcome> = {}): NewOutcome => ({
  modelId: M,
  eventId,
  itemId,
  position: 1,
  userId: 'u1',
  group: 'g1',
  kind: 'click',
  reward: 1,
  weight: 1,
  ordinal: 0,
  at: 2_000,
  ...over,
});

const feedback = (eventId: string, itemId: string, over: Partial<FeedbackRecord> = {}): FeedbackRecord => ({
  modelId: M,
  eventId,
  itemId,
  kind: 'click',
  at: 2_000,
  ...over,
});

const entry = (eventId: string, over: Partial<LedgerEntry> = {}): LedgerEntry => ({
  modelId: M,
  eventId,
  userId: 'u1',
  itemId: 'i1',
  position: 2,
  rule: 'uncertain',
  cost: 0.5,
  at: 1_000,
  ...over,
});

const snapshot = (configKey: string, seq: number, over: Partial<SnapshotRecord> = {}): SnapshotRecord => ({
  modelId: M,
  seq,
  configKey,
  state: { policy: { kind: 'beta-bernoulli', format: 1, state: { items: [{ id: 'i1', successes: 2, failures: 0.5 }] } }, ordinals: seq },
  at: 5_000,
  ...over,
});

const ZERO_COUNTS = { decisions: 0, feedback: 0, outcomes: 0, ledger: 0, openWindows: 0 };

/**
 * A representative state over two models: models, exposed and deferred decisions, open and closed
 * windows, feedback, outcomes with a replacement and a retraction, snapshots, ledger, user state.
 */
function populate(store: Store): { seqs: number[] } {
  store.putModel(model(M));
  store.putModel(model(M2, { version: 4, config: { policy: { kind: 'beta-bernoulli' } } }));
  store.insertDecision(decision('e1'));
  store.insertDecision(without(decision('e2', { at: 2_000, exposedAt: null }), 'userId'));
  store.insertDecision(decision('e1', { modelId: M2, userId: 'u2', at: 1_500 }));
  store.openWindows([win('e1', 'i2', 3_000), win('e1', 'i1', 2_500, M, 2), win('e1', 'i2', 4_000, M2)]);
  store.insertFeedback(feedback('e1', 'i2'));
  store.insertFeedback(feedback('e1', 'i1', { kind: 'convert', value: 12.5 }));
  store.closeWindow(M, 'e1', 'i2');
  const seqs = [
    store.appendOutcome(outcome('e1', 'i2', { kind: 'ignored', reward: 0, weight: 0.85 })),
    store.appendOutcome(without(without(outcome('e1', 'i1', { ordinal: 1 }), 'userId'), 'group')),
    store.appendOutcome(outcome('e1', 'i2', { modelId: M2, userId: 'u2' })),
  ];
  seqs.push(
    store.appendOutcome(
      outcome('e1', 'i2', { kind: 'ignored', reward: 0, weight: -0.85, retracts: seqs[0]!, ordinal: 0, at: 2_600 }),
    ),
    store.appendOutcome(outcome('e1', 'i2', { ordinal: 2, at: 2_600 })),
  );
  store.saveSnapshot(snapshot('k1', seqs[1]!));
  store.saveSnapshot(snapshot('k1', seqs[2]!, { modelId: M2 }));
  store.appendLedger([entry('e1'), entry('e1', { modelId: M2, userId: 'u2', cost: 0.25 })]);
  store.putUserState(M, 'u1', { fatigue: { items: { i1: { rejections: 1.5, at: 2_000 } } }, bucket: { tokens: 1.25 } });
  store.putUserState(M2, 'u2', { recentGroups: ['g1'] });
  return { seqs };
}

/** Everything a caller can read, deep-copied (so a store that mutates in place cannot hide it). */
function view(store: Store): unknown {
  const impressions: Array<[string, string, string]> = [
    [M, 'e1', 'i1'],
    [M, 'e1', 'i2'],
    [M, 'e2', 'i1'],
    [M, 'e2', 'i2'],
    [M, 'e3', 'i1'],
    [M2, 'e1', 'i2'],
  ];
  return structuredClone({
    models: store.listModels(),
    model: [store.getModel(M), store.getModel(M2), store.getModel('m3')],
    decisions: [store.getDecision(M, 'e1'), store.getDecision(M, 'e2'), store.getDecision(M, 'e3'), store.getDecision(M2, 'e1')],
    windowsOpen: impressions.map(([m, e, i]) => store.isWindowOpen(m, e, i)),
    due: [store.dueWindows(M, Number.MAX_SAFE_INTEGER, 100), store.dueWindows(M2, Number.MAX_SAFE_INTEGER, 100)],
    outcomes: [store.outcomesAfter(M, 0, 100), store.outcomesAfter(M2, 0, 100)],
    active: impressions.map(([m, e, i]) => store.activeOutcome(m, e, i) ?? null),
    lastSeq: [store.lastSeq(M), store.lastSeq(M2), store.lastSeq('m3')],
    snapshots: [store.latestSnapshot(M, 'k1'), store.latestSnapshot(M, 'k2'), store.latestSnapshot(M2, 'k1')],
    budget: [
      store.budgetTotals(M),
      store.budgetTotals(M2),
      store.budgetTotals(M, { since: 1_500 }),
      store.budgetTotals(M, { userId: 'u1' }),
    ],
    users: [store.getUserState(M, 'u1'), store.getUserState(M, 'u2'), store.getUserState(M2, 'u2')],
    counts: [store.counts(), store.counts(M), store.counts(M2), store.counts('m3')],
  });
}

/**
 * Register the contract suite for one implementation. `open` is called before every test and
 * must return an empty store; `cleanup` after it.
 */
export function storageContract(name: string, open: () => StoreHarness): void {
  describe(`storage contract: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;
    beforeEach(() => {
      h = open();
      store = h.store;
    });
    afterEach(() => h.cleanup());

    describe('models', () => {
      test('an empty store has no models', () => {
        expect(store.getModel(M)).toBeUndefined();
        expect(store.listModels()).toStrictEqual([]);
      });

      test('putModel then getModel returns the record with its config JSON intact', () => {
        store.putModel(model(M));
        expect(store.getModel(M)).toStrictEqual(model(M));
      });

      test('putModel of an existing id replaces it', () => {
        store.putModel(model(M));
        const next = model(M, { version: 2, config: { policy: { kind: 'uniform' } }, updatedAt: 9_000 });
        store.putModel(next);
        expect(store.getModel(M)).toStrictEqual(next);
        expect(store.listModels()).toHaveLength(1);
      });

      test('listModels returns every model sorted by id', () => {
        for (const id of ['zeta', 'Alpha', 'beta', '留白']) store.putModel(model(id));
        expect(store.listModels().map((m) => m.modelId)).toStrictEqual(['Alpha', 'beta', 'zeta', '留白']);
      });

      test('deleteModel removes everything of that model and nothing of the others', () => {
        populate(store);
        const other = structuredClone({
          model: store.getModel(M2),
          decision: store.getDecision(M2, 'e1'),
          due: store.dueWindows(M2, 10_000, 10),
          outcomes: store.outcomesAfter(M2, 0, 10),
          active: store.activeOutcome(M2, 'e1', 'i2'),
          lastSeq: store.lastSeq(M2),
          snapshot: store.latestSnapshot(M2, 'k1'),
          budget: store.budgetTotals(M2),
          user: store.getUserState(M2, 'u2'),
          counts: store.counts(M2),
        });
        expect(store.deleteModel(M)).toBe(true);

        expect(store.getModel(M)).toBeUndefined();
        expect(store.listModels().map((m) => m.modelId)).toStrictEqual([M2]);
        expect(store.getDecision(M, 'e1')).toBeUndefined();
        expect(store.getDecision(M, 'e2')).toBeUndefined();
        expect(store.isWindowOpen(M, 'e1', 'i1')).toBe(false);
        expect(store.dueWindows(M, 10_000, 10)).toStrictEqual([]);
        expect(store.outcomesAfter(M, 0, 10)).toStrictEqual([]);
        expect(store.activeOutcome(M, 'e1', 'i2')).toBeUndefined();
        expect(store.lastSeq(M)).toBe(0);
        expect(store.latestSnapshot(M, 'k1')).toBeUndefined();
        expect(store.budgetTotals(M)).toStrictEqual({ decisions: 0, slots: 0, explored: 0, cost: 0 });
        expect(store.getUserState(M, 'u1')).toBeUndefined();
        expect(store.counts(M)).toStrictEqual(ZERO_COUNTS);
        // Feedback is forgotten too: the same feedback is new again.
        expect(store.insertFeedback(feedback('e1', 'i2'))).toBe(true);

        expect(
          structuredClone({
            model: store.getModel(M2),
            decision: store.getDecision(M2, 'e1'),
            due: store.dueWindows(M2, 10_000, 10),
            outcomes: store.outcomesAfter(M2, 0, 10),
            active: store.activeOutcome(M2, 'e1', 'i2'),
            lastSeq: store.lastSeq(M2),
            snapshot: store.latestSnapshot(M2, 'k1'),
            budget: store.budgetTotals(M2),
            user: store.getUserState(M2, 'u2'),
            counts: store.counts(M2),
          }),
        ).toStrictEqual(other);
        expect(store.counts()).toStrictEqual({ ...other.counts, feedback: other.counts.feedback + 1 });
      });

      test('deleteModel returns false for an unknown model, and the second time', () => {
        expect(store.deleteModel('nope')).toBe(false);
        store.putModel(model(M));
        expect(store.deleteModel(M)).toBe(true);
        expect(store.deleteModel(M)).toBe(false);
      });

      test('a deleted model id can be created again from scratch; seq keeps increasing', () => {
        const { seqs } = populate(store);
        store.deleteModel(M);
        store.putModel(model(M, { version: 7 }));
        expect(store.getModel(M)?.version).toBe(7);
        store.insertDecision(decision('e1'));
        expect(store.getDecision(M, 'e1')).toStrictEqual(decision('e1'));
        expect(store.appendOutcome(outcome('e1', 'i1'))).toBeGreaterThan(Math.max(...seqs));
      });
    });

    describe('decisions', () => {
      test('getDecision of an unknown event is undefined', () => {
        expect(store.getDecision(M, 'e1')).toBeUndefined();
      });

      test('insertDecision then getDecision round-trips every field exactly', () => {
        const d = decision('e1');
        store.insertDecision(d);
        expect(store.getDecision(M, 'e1')).toStrictEqual(d);
      });

      test('a decision scored through a learned representation keeps its version; others have none', () => {
        const d = { ...decision('e1'), representationVersion: 3 };
        store.insertDecision(d);
        store.insertDecision(decision('e2'));
        expect(store.getDecision(M, 'e1')).toStrictEqual(d);
        expect(store.getDecision(M, 'e1')!.representationVersion).toBe(3);
        expect('representationVersion' in store.getDecision(M, 'e2')!).toBe(false);
      });

      test('a decision without a user and not yet exposed keeps userId absent and exposedAt null', () => {
        const d = without(decision('e1', { exposedAt: null }), 'userId');
        store.insertDecision(d);
        const got = store.getDecision(M, 'e1')!;
        expect(got).toStrictEqual(d);
        expect('userId' in got).toBe(false);
        expect(got.exposedAt).toBeNull();
      });

      test('a reused eventId throws StoreConflict and keeps the first decision', () => {
        store.insertDecision(decision('e1'));
        expect(() => store.insertDecision(decision('e1', { at: 9_999 }))).toThrow(StoreConflict);
        expect(store.getDecision(M, 'e1')).toStrictEqual(decision('e1'));
        expect(store.counts(M).decisions).toBe(1);
      });

      test('the same eventId in another model is a different decision', () => {
        store.insertDecision(decision('e1'));
        store.insertDecision(decision('e1', { modelId: M2, seed: 'other' }));
        expect(store.getDecision(M2, 'e1')?.seed).toBe('other');
        expect(store.getDecision(M, 'e1')?.seed).toBe(decision('e1').seed);
      });

      test('a conflict inside a transaction rolls back its other writes and surfaces as StoreConflict', () => {
        store.insertDecision(decision('e1'));
        expect(() =>
          store.transaction(() => {
            store.insertDecision(decision('e2'));
            store.insertDecision(decision('e1'));
          }),
        ).toThrow(StoreConflict);
        expect(store.getDecision(M, 'e2')).toBeUndefined();
        expect(store.counts(M).decisions).toBe(1);
      });
    });

    describe('exposure', () => {
      test('exposeDecision sets exposedAt once and opens the windows', () => {
        store.insertDecision(decision('e1', { exposedAt: null }));
        const windows = [win('e1', 'i2', 5_000), win('e1', 'i1', 5_000, M, 2)];
        expect(store.exposeDecision(M, 'e1', 3_000, windows)).toBe(true);
        expect(store.getDecision(M, 'e1')).toStrictEqual(decision('e1', { exposedAt: 3_000 }));
        expect(store.isWindowOpen(M, 'e1', 'i2')).toBe(true);
        expect(store.isWindowOpen(M, 'e1', 'i1')).toBe(true);
        expect(store.dueWindows(M, 5_000, 10)).toStrictEqual(windows);

        expect(store.exposeDecision(M, 'e1', 4_000, [win('e1', 'i3', 6_000)])).toBe(false);
        expect(store.getDecision(M, 'e1')?.exposedAt).toBe(3_000);
        expect(store.isWindowOpen(M, 'e1', 'i3')).toBe(false);
        expect(store.counts(M).openWindows).toBe(2);
      });

      test('exposeDecision of a decision exposed at rank time returns false and opens nothing', () => {
        store.insertDecision(decision('e1'));
        expect(store.exposeDecision(M, 'e1', 3_000, [win('e1', 'i2', 5_000)])).toBe(false);
        expect(store.getDecision(M, 'e1')?.exposedAt).toBe(1_000);
        expect(store.counts(M).openWindows).toBe(0);
      });

      test('exposeDecision of an unknown decision returns false and opens nothing', () => {
        expect(store.exposeDecision(M, 'e9', 3_000, [win('e9', 'i2', 5_000)])).toBe(false);
        expect(store.isWindowOpen(M, 'e9', 'i2')).toBe(false);
        expect(store.counts()).toStrictEqual(ZERO_COUNTS);
      });
    });

    describe('reward windows', () => {
      test('openWindows opens exactly the given impressions', () => {
        store.openWindows([win('e1', 'i1', 100), win('e1', 'i2', 100, M, 2)]);
        expect(store.isWindowOpen(M, 'e1', 'i1')).toBe(true);
        expect(store.isWindowOpen(M, 'e1', 'i2')).toBe(true);
        expect(store.isWindowOpen(M, 'e1', 'i3')).toBe(false);
        expect(store.isWindowOpen(M, 'e2', 'i1')).toBe(false);
        expect(store.isWindowOpen(M2, 'e1', 'i1')).toBe(false);
        expect(store.counts(M).openWindows).toBe(2);
        store.openWindows([]);
        expect(store.counts(M).openWindows).toBe(2);
      });

      test('dueWindows returns only deadline ≤ now, oldest first, ties in opening order', () => {
        store.openWindows([win('a', 'i', 300), win('b', 'i', 100), win('c', 'i', 200), win('d', 'i', 100), win('x', 'i', 50, M2)]);
        expect(store.dueWindows(M, 99, 10)).toStrictEqual([]);
        expect(store.dueWindows(M, 100, 10)).toStrictEqual([win('b', 'i', 100), win('d', 'i', 100)]);
        expect(store.dueWindows(M, 250, 10)).toStrictEqual([win('b', 'i', 100), win('d', 'i', 100), win('c', 'i', 200)]);
        expect(store.dueWindows(M, 1_000, 10).map((w) => w.eventId)).toStrictEqual(['b', 'd', 'c', 'a']);
        expect(store.dueWindows(M2, 1_000, 10)).toStrictEqual([win('x', 'i', 50, M2)]);
        expect(store.dueWindows('unknown', 1_000, 10)).toStrictEqual([]);
      });

      test('dueWindows respects the limit and does not close what it returns', () => {
        store.openWindows([win('a', 'i', 10), win('b', 'i', 20), win('c', 'i', 30)]);
        expect(store.dueWindows(M, 100, 2).map((w) => w.eventId)).toStrictEqual(['a', 'b']);
        expect(store.dueWindows(M, 100, 2).map((w) => w.eventId)).toStrictEqual(['a', 'b']);
        expect(store.dueWindows(M, 100, 0)).toStrictEqual([]);
        expect(store.isWindowOpen(M, 'a', 'i')).toBe(true);
      });

      test('a closed window is not due again; paging by closing walks all due windows', () => {
        store.openWindows([win('a', 'i', 10), win('b', 'i', 20), win('c', 'i', 30), win('d', 'i', 40)]);
        const seen: string[] = [];
        for (let round = 0; round < 5; round++) {
          const due = store.dueWindows(M, 35, 2);
          if (due.length === 0) break;
          for (const w of due) {
            seen.push(w.eventId);
            expect(store.closeWindow(M, w.eventId, w.itemId)).toBe(true);
          }
        }
        expect(seen).toStrictEqual(['a', 'b', 'c']);
        expect(store.isWindowOpen(M, 'a', 'i')).toBe(false);
        expect(store.dueWindows(M, 100, 10)).toStrictEqual([win('d', 'i', 40)]);
      });

      test('closeWindow is true once, then false; false for an unknown window', () => {
        store.openWindows([win('a', 'i', 10)]);
        expect(store.closeWindow(M, 'a', 'i')).toBe(true);
        expect(store.closeWindow(M, 'a', 'i')).toBe(false);
        expect(store.closeWindow(M, 'a', 'other')).toBe(false);
        expect(store.closeWindow(M2, 'a', 'i')).toBe(false);
        expect(store.counts(M).openWindows).toBe(0);
      });

      test('opening a window that is already open keeps the first one', () => {
        store.openWindows([win('a', 'i', 10, M, 1)]);
        store.openWindows([win('a', 'i', 99, M, 3)]);
        expect(store.dueWindows(M, 1_000, 10)).toStrictEqual([win('a', 'i', 10, M, 1)]);
        expect(store.counts(M).openWindows).toBe(1);
      });

      test('a window closed and opened again is due once, at its new deadline', () => {
        store.openWindows([win('a', 'i', 10), win('b', 'i', 15)]);
        store.closeWindow(M, 'a', 'i');
        store.openWindows([win('a', 'i', 10)]);
        expect(store.dueWindows(M, 100, 10)).toStrictEqual([win('a', 'i', 10), win('b', 'i', 15)]);
        store.closeWindow(M, 'a', 'i');
        store.openWindows([win('a', 'i', 20)]);
        expect(store.dueWindows(M, 100, 10)).toStrictEqual([win('b', 'i', 15), win('a', 'i', 20)]);
        expect(store.counts(M).openWindows).toBe(2);
      });

      test('a window whose close was rolled back is open and due again, once', () => {
        store.openWindows([win('a', 'i', 10), win('b', 'i', 20)]);
        expect(() =>
          store.transaction(() => {
            store.closeWindow(M, 'a', 'i');
            expect(store.dueWindows(M, 100, 10)).toStrictEqual([win('b', 'i', 20)]);
            throw new Error('abort');
          }),
        ).toThrow('abort');
        expect(store.isWindowOpen(M, 'a', 'i')).toBe(true);
        expect(store.dueWindows(M, 100, 10)).toStrictEqual([win('a', 'i', 10), win('b', 'i', 20)]);
        expect(store.dueWindows(M, 100, 10)).toStrictEqual([win('a', 'i', 10), win('b', 'i', 20)]);
      });
    });

    describe('feedback', () => {
      test('insertFeedback is idempotent per (eventId, itemId, kind)', () => {
        expect(store.insertFeedback(feedback('e1', 'i1'))).toBe(true);
        expect(store.insertFeedback(feedback('e1', 'i1'))).toBe(false);
        expect(store.insertFeedback(feedback('e1', 'i1', { at: 9_000, value: 3 }))).toBe(false);
        expect(store.insertFeedback(feedback('e1', 'i1', { kind: 'convert', value: 3 }))).toBe(true);
        expect(store.insertFeedback(feedback('e1', 'i2'))).toBe(true);
        expect(store.insertFeedback(feedback('e2', 'i1'))).toBe(true);
        expect(store.insertFeedback(feedback('e1', 'i1', { modelId: M2 }))).toBe(true);
        expect(store.counts(M).feedback).toBe(4);
        expect(store.counts(M2).feedback).toBe(1);
      });

      test('ids that concatenate alike are still different impressions', () => {
        expect(store.insertFeedback(feedback('ab', 'c'))).toBe(true);
        expect(store.insertFeedback(feedback('a', 'bc'))).toBe(true);
        store.openWindows([win('ab', 'c', 10)]);
        expect(store.isWindowOpen(M, 'a', 'bc')).toBe(false);
      });
    });

    describe('learning log', () => {
      test('appendOutcome returns strictly increasing seqs across models', () => {
        const seqs = [
          store.appendOutcome(outcome('e1', 'i1')),
          store.appendOutcome(outcome('e1', 'i1', { modelId: M2 })),
          store.appendOutcome(outcome('e2', 'i1')),
          store.appendOutcome(outcome('e3', 'i1', { modelId: M2 })),
        ];
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
        expect(seqs[0]!).toBeGreaterThan(0);
      });

      test('outcomesAfter returns a model’s outcomes after a seq, in order, at most limit', () => {
        const mine: number[] = [];
        for (let i = 0; i < 5; i++) {
          mine.push(store.appendOutcome(outcome(`e${i}`, 'i1', { ordinal: i })));
          store.appendOutcome(outcome(`e${i}`, 'i1', { modelId: M2 }));
        }
        const all = store.outcomesAfter(M, 0, 100);
        expect(all.map((o) => o.seq)).toStrictEqual(mine);
        expect(all.map((o) => o.eventId)).toStrictEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
        expect(store.outcomesAfter(M, 0, 2).map((o) => o.seq)).toStrictEqual(mine.slice(0, 2));
        expect(store.outcomesAfter(M, mine[1]!, 2).map((o) => o.seq)).toStrictEqual(mine.slice(2, 4));
        expect(store.outcomesAfter(M, mine[3]!, 2).map((o) => o.seq)).toStrictEqual(mine.slice(4));
        expect(store.outcomesAfter(M, mine[4]!, 2)).toStrictEqual([]);
        // afterSeq need not be one of this model's seqs
        expect(store.outcomesAfter(M, mine[1]! + 1, 1).map((o) => o.seq)).toStrictEqual([mine[2]]);
        expect(store.outcomesAfter(M, 0, 0)).toStrictEqual([]);
        expect(store.outcomesAfter('unknown', 0, 10)).toStrictEqual([]);
      });

      test('outcomes round-trip every field; absent optional fields stay absent', () => {
        const full = outcome('e1', 'i1', { kind: 'convert', reward: 12.75, weight: 0.6180339887498949, ordinal: 41, position: 3 });
        const bare = without(without(outcome('e1', 'i2', { kind: 'dismiss', reward: 0, weight: 3 }), 'userId'), 'group');
        const s1 = store.appendOutcome(full);
        const s2 = store.appendOutcome(bare);
        const s3 = store.appendOutcome({ ...full, weight: -full.weight, retracts: s1, at: 9_000 });
        const got = store.outcomesAfter(M, 0, 10);
        expect(got).toStrictEqual([
          { ...full, seq: s1 },
          { ...bare, seq: s2 },
          { ...full, weight: -full.weight, retracts: s1, at: 9_000, seq: s3 },
        ]);
        expect('userId' in got[1]!).toBe(false);
        expect('group' in got[1]!).toBe(false);
        expect('retracts' in got[0]!).toBe(false);
      });

      test('lastSeq is 0 for an empty log, then the model’s own last seq', () => {
        expect(store.lastSeq(M)).toBe(0);
        const a = store.appendOutcome(outcome('e1', 'i1'));
        const b = store.appendOutcome(outcome('e1', 'i1', { modelId: M2 }));
        expect(store.lastSeq(M)).toBe(a);
        expect(store.lastSeq(M2)).toBe(b);
        const c = store.appendOutcome(outcome('e2', 'i1'));
        expect(store.lastSeq(M)).toBe(c);
      });

      test('activeOutcome is undefined until an outcome, then the latest outcome', () => {
        expect(store.activeOutcome(M, 'e1', 'i1')).toBeUndefined();
        const o1 = outcome('e1', 'i1', { kind: 'ignored', reward: 0, weight: 0.7 });
        const s1 = store.appendOutcome(o1);
        expect(store.activeOutcome(M, 'e1', 'i1')).toStrictEqual({ ...o1, seq: s1 });
        const o2 = outcome('e1', 'i1', { kind: 'dismiss', reward: 0, weight: 3, ordinal: 1 });
        const s2 = store.appendOutcome(o2);
        expect(store.activeOutcome(M, 'e1', 'i1')).toStrictEqual({ ...o2, seq: s2 });
        expect(store.activeOutcome(M, 'e1', 'i2')).toBeUndefined();
        expect(store.activeOutcome(M2, 'e1', 'i1')).toBeUndefined();
      });

      test('retracting the active outcome clears it; a new outcome becomes active', () => {
        const o1 = outcome('e1', 'i1', { kind: 'ignored', reward: 0, weight: 0.7 });
        const s1 = store.appendOutcome(o1);
        store.appendOutcome({ ...o1, weight: -0.7, retracts: s1 });
        expect(store.activeOutcome(M, 'e1', 'i1')).toBeUndefined();
        const o3 = outcome('e1', 'i1', { ordinal: 1 });
        const s3 = store.appendOutcome(o3);
        expect(store.activeOutcome(M, 'e1', 'i1')).toStrictEqual({ ...o3, seq: s3 });
      });

      test('retracting a seq that is not the active one leaves the active outcome', () => {
        const s1 = store.appendOutcome(outcome('e1', 'i1', { kind: 'ignored', reward: 0 }));
        const o2 = outcome('e1', 'i1', { ordinal: 1 });
        const s2 = store.appendOutcome(o2);
        store.appendOutcome(outcome('e1', 'i1', { kind: 'ignored', reward: 0, weight: -1, retracts: s1 }));
        expect(store.activeOutcome(M, 'e1', 'i1')).toStrictEqual({ ...o2, seq: s2 });
        // a retraction of another impression's outcome does not touch this one either
        const s4 = store.appendOutcome(outcome('e2', 'i1'));
        store.appendOutcome(outcome('e1', 'i1', { weight: -1, retracts: s4 }));
        expect(store.activeOutcome(M, 'e1', 'i1')).toStrictEqual({ ...o2, seq: s2 });
        expect(store.activeOutcome(M, 'e2', 'i1')?.seq).toBe(s4);
      });

      test('retractions are in the log and in lastSeq', () => {
        const s1 = store.appendOutcome(outcome('e1', 'i1'));
        const s2 = store.appendOutcome(outcome('e1', 'i1', { weight: -1, retracts: s1 }));
        expect(store.lastSeq(M)).toBe(s2);
        expect(store.outcomesAfter(M, s1, 10).map((o) => o.retracts)).toStrictEqual([s1]);
        expect(store.counts(M).outcomes).toBe(2);
      });

      test('after a rolled-back append, the next seq is still above every committed one', () => {
        const s1 = store.appendOutcome(outcome('e1', 'i1'));
        expect(() =>
          store.transaction(() => {
            store.appendOutcome(outcome('e2', 'i1'));
            throw new Error('abort');
          }),
        ).toThrow('abort');
        expect(store.lastSeq(M)).toBe(s1);
        expect(store.outcomesAfter(M, 0, 10).map((o) => o.seq)).toStrictEqual([s1]);
        expect(store.appendOutcome(outcome('e3', 'i1'))).toBeGreaterThan(s1);
      });
    });

    describe('snapshots', () => {
      test('latestSnapshot is the last saved per (model, configKey)', () => {
        expect(store.latestSnapshot(M, 'k1')).toBeUndefined();
        store.saveSnapshot(snapshot('k1', 10));
        store.saveSnapshot(snapshot('k2', 5));
        store.saveSnapshot(snapshot('k1', 20, { at: 6_000 }));
        expect(store.latestSnapshot(M, 'k1')).toStrictEqual(snapshot('k1', 20, { at: 6_000 }));
        expect(store.latestSnapshot(M, 'k2')).toStrictEqual(snapshot('k2', 5));
        expect(store.latestSnapshot(M2, 'k1')).toBeUndefined();
        expect(store.latestSnapshot(M, 'k3')).toBeUndefined();
      });
    });

    describe('budget ledger', () => {
      beforeEach(() => {
        store.insertDecision(decision('d1', { at: 1_000, userId: 'u1' }));
        store.insertDecision(
          decision('d2', {
            at: 2_000,
            userId: 'u2',
            slate: [...decision('x').slate, { itemId: 'i3', position: 3, propensity: 0.2, slatePropensity: 0.3, explored: true }],
          }),
        );
        store.insertDecision(without(decision('d3', { at: 3_000, slate: decision('x').slate.slice(0, 1) }), 'userId'));
        store.insertDecision(decision('d1', { modelId: M2, at: 2_500 }));
        store.appendLedger([entry('d1', { at: 1_000, cost: 0.5 }), entry('d2', { userId: 'u2', at: 2_000, cost: 0.25 })]);
        store.appendLedger([without(entry('d3', { at: 3_000, cost: 0.125 }), 'userId')]);
        store.appendLedger([entry('d1', { modelId: M2, at: 2_500, cost: 4 })]);
        store.appendLedger([]);
      });

      test('budgetTotals counts decisions and slots from decisions, explored and cost from the ledger', () => {
        expect(store.budgetTotals(M)).toStrictEqual({ decisions: 3, slots: 6, explored: 3, cost: 0.875 });
        expect(store.budgetTotals(M2)).toStrictEqual({ decisions: 1, slots: 2, explored: 1, cost: 4 });
        expect(store.budgetTotals('unknown')).toStrictEqual({ decisions: 0, slots: 0, explored: 0, cost: 0 });
        expect(store.counts(M).ledger).toBe(3);
      });

      test('since keeps entries with at ≥ since', () => {
        expect(store.budgetTotals(M, { since: 2_000 })).toStrictEqual({ decisions: 2, slots: 4, explored: 2, cost: 0.375 });
        expect(store.budgetTotals(M, { since: 2_001 })).toStrictEqual({ decisions: 1, slots: 1, explored: 1, cost: 0.125 });
        expect(store.budgetTotals(M, { since: 3_001 })).toStrictEqual({ decisions: 0, slots: 0, explored: 0, cost: 0 });
      });

      test('userId keeps that user only, alone or with since', () => {
        expect(store.budgetTotals(M, { userId: 'u1' })).toStrictEqual({ decisions: 1, slots: 2, explored: 1, cost: 0.5 });
        expect(store.budgetTotals(M, { userId: 'u2', since: 2_000 })).toStrictEqual({ decisions: 1, slots: 3, explored: 1, cost: 0.25 });
        expect(store.budgetTotals(M, { userId: 'u1', since: 2_000 })).toStrictEqual({ decisions: 0, slots: 0, explored: 0, cost: 0 });
        expect(store.budgetTotals(M, { userId: 'nobody' })).toStrictEqual({ decisions: 0, slots: 0, explored: 0, cost: 0 });
      });
    });

    describe('user state', () => {
      test('putUserState then getUserState, replaced by the next put, per model and user', () => {
        expect(store.getUserState(M, 'u1')).toBeUndefined();
        const s1 = { fatigue: { items: { i1: { rejections: 1.5, at: 2_000 } } }, bucket: { tokens: 0.75, at: 1_000 }, recentGroups: ['g1', 'g2'] };
        store.putUserState(M, 'u1', s1);
        expect(store.getUserState(M, 'u1')).toStrictEqual(s1);
        const s2 = { fatigue: { items: {} }, bucket: null, recentGroups: [] };
        store.putUserState(M, 'u1', s2);
        expect(store.getUserState(M, 'u1')).toStrictEqual(s2);
        expect(store.getUserState(M, 'u2')).toBeUndefined();
        expect(store.getUserState(M2, 'u1')).toBeUndefined();
      });

      test('a fatigue memory of [count, at] pairs comes back exactly through folds (keys changed, added, removed), states without one, and reopening', () => {
        const fatigue: Record<string, readonly [number, number]> = {};
        for (let i = 0; i < 300; i++) fatigue[`i:item${i}`] = [1 / (i + 3), 1_000 + i / 4];
        fatigue['g:"quoted" ✓'] = [2.5e-300, 7];
        let state: Record<string, unknown> = { bucket: { tokens: 1, at: 5 }, fatigue, recentGroups: ['a'] };
        store.putUserState(M, 'u1', state);
        expect(store.getUserState(M, 'u1')).toStrictEqual(state);
        // A fold: two counts changed, one key added, one forgotten; every other pair is the same.
        const folded: Record<string, readonly [number, number]> = { ...fatigue, 'i:item7': [3.25, 2_000], 'i:item8': [1 / 3, 2_000], 'i:new': [1, 2_000] };
        delete folded['i:item9'];
        state = { ...state, fatigue: folded };
        store.putUserState(M, 'u1', state);
        expect(store.getUserState(M, 'u1')).toStrictEqual(state);
        // A rank: the same memory passed on with a new bucket; another user's memory alongside.
        state = { ...state, bucket: { tokens: 0.5, at: 9 } };
        store.transaction(() => {
          store.putUserState(M, 'u1', state);
          store.putUserState(M, 'u2', { fatigue: { 'i:item1': [2, 3] } });
        });
        expect(store.getUserState(M, 'u1')).toStrictEqual(state);
        if (h.reopen) {
          store = h.reopen();
          expect(store.getUserState(M, 'u1')).toStrictEqual(state);
          expect(store.getUserState(M, 'u2')).toStrictEqual({ fatigue: { 'i:item1': [2, 3] } });
        }
        // A state without a memory, then one whose memory is not pairs, then pairs again.
        const plain = { bucket: null, recentGroups: [] };
        store.putUserState(M, 'u1', plain);
        expect(store.getUserState(M, 'u1')).toStrictEqual(plain);
        const other = { fatigue: { 'i:x': [1, 2, 3], 'i:y': 'z' } };
        store.putUserState(M, 'u1', other);
        expect(store.getUserState(M, 'u1')).toStrictEqual(other);
        const again = { fatigue: { 'i:x': [0.125, 10] }, bucket: null };
        store.putUserState(M, 'u1', again);
        expect(store.getUserState(M, 'u1')).toStrictEqual(again);
        if (h.reopen) store = h.reopen();
        expect(store.getUserState(M, 'u1')).toStrictEqual(again);
        expect(store.getUserState(M, 'u2')).toStrictEqual({ fatigue: { 'i:item1': [2, 3] } });
        store.putModel(model(M));
        expect(store.deleteModel(M)).toBe(true);
        expect(store.getUserState(M, 'u2')).toBeUndefined();
      });
    });

    describe('counts', () => {
      test('counts per model and in total', () => {
        populate(store);
        expect(store.counts(M)).toStrictEqual({ decisions: 2, feedback: 2, outcomes: 4, ledger: 1, openWindows: 1 });
        expect(store.counts(M2)).toStrictEqual({ decisions: 1, feedback: 0, outcomes: 1, ledger: 1, openWindows: 1 });
        expect(store.counts()).toStrictEqual({ decisions: 3, feedback: 2, outcomes: 5, ledger: 2, openWindows: 2 });
        expect(store.counts('unknown')).toStrictEqual(ZERO_COUNTS);
      });
    });

    describe('transactions', () => {
      test('a committed transaction returns fn’s value and keeps its writes', () => {
        const result = store.transaction(() => {
          store.putModel(model(M));
          store.insertDecision(decision('e1'));
          return 42;
        });
        expect(result).toBe(42);
        expect(store.getDecision(M, 'e1')).toStrictEqual(decision('e1'));
      });

      test('a transaction that writes every kind of record then throws changes nothing', () => {
        populate(store);
        const before = view(store);
        const boom = new Error('boom');
        expect(() =>
          store.transaction(() => {
            store.putModel(model(M, { version: 99 }));
            store.putModel(model('m3'));
            store.insertDecision(decision('e3'));
            expect(store.exposeDecision(M, 'e2', 3_000, [win('e2', 'i1', 4_000)])).toBe(true);
            store.openWindows([win('e3', 'i1', 1_500), win('e3', 'i2', 1_600)]);
            expect(store.closeWindow(M, 'e1', 'i1')).toBe(true);
            expect(store.insertFeedback(feedback('e3', 'i1'))).toBe(true);
            const s = store.appendOutcome(outcome('e3', 'i1'));
            const active = store.activeOutcome(M, 'e1', 'i2')!;
            store.appendOutcome({ ...outcome('e1', 'i2'), weight: -1, retracts: active.seq });
            store.appendOutcome(outcome('e1', 'i1', { ordinal: 5 }));
            store.saveSnapshot(snapshot('k1', s));
            store.saveSnapshot(snapshot('k2', s));
            store.appendLedger([entry('e3'), entry('e3', { userId: 'u2' })]);
            store.putUserState(M, 'u1', { replaced: true });
            store.putUserState(M, 'u2', { fresh: true });
            expect(store.deleteModel(M2)).toBe(true);
            // the transaction sees its own writes
            expect(store.getDecision(M, 'e3')).toBeDefined();
            expect(store.counts(M2)).toStrictEqual(ZERO_COUNTS);
            throw boom;
          }),
        ).toThrow(boom);
        expect(view(store)).toStrictEqual(before);
        // the feedback written inside is forgotten too
        expect(store.insertFeedback(feedback('e3', 'i1'))).toBe(true);
        expect(store.insertFeedback(feedback('e1', 'i2'))).toBe(false);
      });

      test('the error thrown by fn propagates unchanged', () => {
        class Custom extends Error {}
        const error = new Custom('mine');
        let caught: unknown;
        try {
          store.transaction(() => {
            store.insertDecision(decision('e1'));
            throw error;
          });
        } catch (e) {
          caught = e;
        }
        expect(caught).toBe(error);
      });

      test('a nested transaction is part of the outer one: the outer failure undoes it', () => {
        store.putModel(model(M));
        expect(() =>
          store.transaction(() => {
            store.insertDecision(decision('e1'));
            const inner = store.transaction(() => {
              store.insertDecision(decision('e2'));
              store.appendOutcome(outcome('e2', 'i1'));
              store.openWindows([win('e2', 'i1', 10)]);
              return 'inner';
            });
            expect(inner).toBe('inner');
            throw new Error('outer fails');
          }),
        ).toThrow('outer fails');
        expect(store.getDecision(M, 'e1')).toBeUndefined();
        expect(store.getDecision(M, 'e2')).toBeUndefined();
        expect(store.counts()).toStrictEqual(ZERO_COUNTS);
      });

      test('a nested transaction that throws undoes only its own writes; the outer one can go on', () => {
        store.transaction(() => {
          store.insertDecision(decision('e1'));
          expect(() =>
            store.transaction(() => {
              store.insertDecision(decision('e2'));
              store.appendOutcome(outcome('e2', 'i1'));
              store.putUserState(M, 'u1', { inner: true });
              throw new Error('inner fails');
            }),
          ).toThrow('inner fails');
          expect(store.getDecision(M, 'e2')).toBeUndefined();
          store.insertDecision(decision('e3'));
        });
        expect(store.getDecision(M, 'e1')).toBeDefined();
        expect(store.getDecision(M, 'e2')).toBeUndefined();
        expect(store.getDecision(M, 'e3')).toBeDefined();
        expect(store.getUserState(M, 'u1')).toBeUndefined();
        expect(store.counts(M)).toStrictEqual({ ...ZERO_COUNTS, decisions: 2 });
      });

      test('nested transactions that succeed commit with the outer one', () => {
        store.transaction(() => {
          store.transaction(() => store.transaction(() => store.insertDecision(decision('e1'))));
          store.insertDecision(decision('e2'));
        });
        expect(store.counts(M).decisions).toBe(2);
      });

      test('the store works normally after a rolled-back transaction', () => {
        expect(() =>
          store.transaction(() => {
            store.insertDecision(decision('e1'));
            throw new Error('x');
          }),
        ).toThrow('x');
        store.insertDecision(decision('e1'));
        expect(store.getDecision(M, 'e1')).toStrictEqual(decision('e1'));
      });
    });

    describe('close', () => {
      test('close is idempotent', () => {
        store.close();
        expect(() => store.close()).not.toThrow();
      });
    });

    describe('durability (stores that can be reopened)', () => {
      test('everything committed is there after close and reopen', (ctx) => {
        if (!h.reopen) return ctx.skip();
        populate(store);
        const before = view(store);
        store = h.reopen();
        expect(view(store)).toStrictEqual(before);
        expect(store.insertFeedback(feedback('e1', 'i2'))).toBe(false);
      });

      test('outcome order, paging and active outcomes survive reopen, and seq continues above them', (ctx) => {
        if (!h.reopen) return ctx.skip();
        const seqs: number[] = [];
        for (let i = 0; i < 30; i++) seqs.push(store.appendOutcome(outcome(`e${i % 7}`, 'i1', { ordinal: i, weight: i / 8 })));
        const active = store.activeOutcome(M, 'e3', 'i1');
        store = h.reopen();
        const pages: number[] = [];
        let after = 0;
        for (;;) {
          const page = store.outcomesAfter(M, after, 4);
          if (page.length === 0) break;
          pages.push(...page.map((o) => o.seq));
          after = page[page.length - 1]!.seq;
        }
        expect(pages).toStrictEqual(seqs);
        expect(store.activeOutcome(M, 'e3', 'i1')).toStrictEqual(active);
        expect(store.lastSeq(M)).toBe(seqs[seqs.length - 1]);
        expect(store.appendOutcome(outcome('e0', 'i1'))).toBeGreaterThan(seqs[seqs.length - 1]!);
      });

      test('a seq is never reused, even after the model holding the newest ones is deleted', (ctx) => {
        if (!h.reopen) return ctx.skip();
        store.putModel(model(M2));
        store.appendOutcome(outcome('e1', 'i1'));
        const newest = store.appendOutcome(outcome('e1', 'i1', { modelId: M2 }));
        store.deleteModel(M2);
        store = h.reopen();
        expect(store.appendOutcome(outcome('e2', 'i1'))).toBeGreaterThan(newest);
      });

      test('a rolled-back transaction is not there after reopen', (ctx) => {
        if (!h.reopen) return ctx.skip();
        store.insertDecision(decision('e1'));
        expect(() =>
          store.transaction(() => {
            store.insertDecision(decision('e2'));
            store.appendOutcome(outcome('e2', 'i1'));
            throw new Error('abort');
          }),
        ).toThrow('abort');
        store = h.reopen();
        expect(store.getDecision(M, 'e1')).toStrictEqual(decision('e1'));
        expect(store.getDecision(M, 'e2')).toBeUndefined();
        expect(store.counts()).toStrictEqual({ ...ZERO_COUNTS, decisions: 1 });
      });
    });
  });
}
