/**
 * Property tests of the engine loop: random interleavings of rank, feedback (in time, late,
 * duplicated), expose and the sweeper keep every invariant, and the posterior stays a pure
 * function of config + learning log.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { ModelConfigInput } from '../../src/engine/config.js';
import { MemoryStore } from '../../src/storage/memory/index.js';
import type { Candidate } from '../../src/features/types.js';

type Op =
  | { t: 'rank'; user: number; slots: number; defer: boolean }
  | { t: 'feedback'; decision: number; pos: number; kind: 'click' | 'convert' | 'dismiss' | 'regret' | 'ignore' }
  | { t: 'expose'; decision: number }
  | { t: 'advance'; seconds: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('rank' as const), user: fc.integer({ min: 0, max: 3 }), slots: fc.integer({ min: 1, max: 4 }), defer: fc.boolean() }),
  fc.record({
    t: fc.constant('feedback' as const),
    decision: fc.nat(),
    pos: fc.integer({ min: 0, max: 3 }),
    kind: fc.constantFrom('click' as const, 'convert' as const, 'dismiss' as const, 'regret' as const, 'ignore' as const),
  }),
  fc.record({ t: fc.constant('expose' as const), decision: fc.nat() }),
  fc.record({ t: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 120 }) }),
);

const candidates: Candidate[] = Array.from({ length: 7 }, (_, i) => ({
  id: `i${i}`,
  features: { item: { genre: `g${i % 3}`, price: i } },
  group: `g${i % 3}`,
}));

function run(config: ModelConfigInput, ops: readonly Op[], store: MemoryStore, snapshotEvery: number) {
  let now = 1_750_000_000_000;
  let n = 0;
  const engine = new Engine({ store, clock: () => now, newEventId: () => `e${++n}`, snapshotEvery });
  engine.putModel('m', config);
  const decisions: Array<{ eventId: string; slate: Array<{ id: string; slatePropensity: number; explored: boolean }> }> = [];
  const explored = new Map<string, number>();
  for (const op of ops) {
    switch (op.t) {
      case 'rank': {
        const r = engine.rank('m', { context: { user: { u: op.user } }, candidates, slots: op.slots, userId: `u${op.user}`, deferExposure: op.defer });
        decisions.push({ eventId: r.eventId, slate: [...r.slate] });
        explored.set(`u${op.user}`, (explored.get(`u${op.user}`) ?? 0) + r.slate.filter((s) => s.explored).length);
        break;
      }
      case 'feedback': {
        if (decisions.length === 0) break;
        const d = decisions[op.decision % decisions.length]!;
        const item = d.slate[op.pos % d.slate.length]!;
        engine.feedback('m', { eventId: d.eventId, itemId: item.id, kind: op.kind, ...(op.kind === 'convert' ? { value: 2 } : {}) });
        break;
      }
      case 'expose': {
        if (decisions.length === 0) break;
        engine.expose('m', decisions[op.decision % decisions.length]!.eventId);
        break;
      }
      case 'advance':
        now += op.seconds * 1000;
        engine.tick();
        break;
    }
  }
  return { engine, decisions, explored, now };
}

const config: ModelConfigInput = {
  feedback: { rewardWindowSeconds: 60 },
  budget: { share: 0.3, perUser: { ratePerHour: 1, burst: 2 }, floor: 0.02, maxGroupShare: 0.5 },
  fatigue: { halfLifeSeconds: 600, coolDownAfter: 2 },
  decay: { halfLifeOutcomes: 20, every: 2 },
};

describe('engine invariants under random operation sequences', () => {
  test('slates respect caps and floor; tokens are never exceeded; the posterior is a function of the log', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const store = new MemoryStore();
        const { engine, decisions, explored } = run(config, ops, store, 5);
        for (const d of decisions) {
          const perGroup = new Map<string, number>();
          for (const s of d.slate) {
            const g = candidates.find((c) => c.id === s.id)!.group!;
            perGroup.set(g, (perGroup.get(g) ?? 0) + 1);
            expect(s.slatePropensity).toBeGreaterThan(0);
            expect(s.slatePropensity).toBeLessThanOrEqual(1);
          }
          const cap = Math.max(1, Math.floor(0.5 * d.slate.length));
          for (const c of perGroup.values()) expect(c).toBeLessThanOrEqual(cap);
        }
        // Burst 2 + at most 1 per hour over the (≤ 2 h) sequence.
        for (const e of explored.values()) expect(e).toBeLessThanOrEqual(2 + 2);
        // Every impression has at most one standing outcome: retractions pair with outcomes.
        const log = store.outcomesAfter('m', 0, 100_000);
        const standing = new Map<string, number>();
        for (const o of log) {
          const key = `${o.eventId}|${o.itemId}`;
          standing.set(key, (standing.get(key) ?? 0) + (o.retracts === undefined ? 1 : -1));
          expect(standing.get(key)).toBeGreaterThanOrEqual(0);
          expect(standing.get(key)).toBeLessThanOrEqual(1);
        }
        // Recovery from snapshot + log, and a rebuild from scratch, equal the live posterior.
        const live = JSON.stringify(engine.model('m').posteriorSnapshot());
        const recovered = new Engine({ store, snapshotEvery: 0 });
        expect(JSON.stringify(recovered.model('m').posteriorSnapshot())).toBe(live);
        const rebuilt = run(config, ops, new MemoryStore(), 0);
        expect(JSON.stringify(rebuilt.engine.model('m').posteriorSnapshot())).toBe(live);
      }),
      { numRuns: 40, seed: 20261128 },
    );
  });

  test('duplicate feedback never changes the log', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const store = new MemoryStore();
        const { engine, decisions } = run(config, ops, store, 0);
        if (decisions.length === 0) return;
        const d = decisions[0]!;
        engine.feedback('m', { eventId: d.eventId, itemId: d.slate[0]!.id, kind: 'click' });
        const before = store.counts('m');
        const r = engine.feedback('m', { eventId: d.eventId, itemId: d.slate[0]!.id, kind: 'click' });
        expect(r.accepted).toBe(false);
        expect(store.counts('m')).toEqual(before);
      }),
      { numRuns: 30, seed: 7 },
    );
  });
});
