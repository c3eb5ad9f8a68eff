import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import type { ModelConfigInput } from '../../../src/engine/config.js';
import { Engine } from '../../../src/engine/engine.js';
import { LiubaiError } from '../../../src/engine/errors.js';
import type { PolicySnapshot } from '../../../src/policies/types.js';
import {
  candidateConfig,
  computeTargets,
  createPosteriorReplay,
  createSelectionTracker,
  evaluateCandidates,
  mergeConfig,
} from '../../../src/ope/candidate.js';
import { selectSlate } from '../../../src/policies/explore/select.js';
import { OpeInputError } from '../../../src/ope/errors.js';
import { readModelLog, type ModelLog } from '../../../src/ope/logged.js';
import { createBernoulli } from '../../../src/simulation/environments/bernoulli.js';
import { MemoryStore } from '../../../src/storage/memory/index.js';

const T0 = Date.UTC(2026, 0, 1);
const PROBABILITIES = [0.1, 0.5, 0.3, 0.2, 0.6];

interface Checkpoint {
  readonly posteriorSeq: number;
  readonly snapshot: PolicySnapshot;
}

/**
 * Drive an engine over a memory store against a 5-arm Bernoulli population; every third click
 * arrives after its reward window closed (so the log holds retractions). Records the posterior a
 * few decisions sampled.
 */
function run(config: ModelConfigInput, steps: number, seed = 1, groupCount = 0) {
  let now = T0;
  let n = 0;
  const store = new MemoryStore();
  const engine = new Engine({ store, clock: () => now, newEventId: () => `e${++n}`, snapshotEvery: 0 });
  engine.putModel('m', config);
  const env = createBernoulli({ probabilities: PROBABILITIES, users: 4, groupCount });
  const rng = createRng(`env:${seed}`);
  const late: Array<{ at: number; eventId: string; itemId: string }> = [];
  const checkpoints: Checkpoint[] = [];
  for (let s = 0; s < steps; s++) {
    now += 60_000;
    engine.tick(now);
    while (late.length > 0 && late[0]!.at <= now) {
      const x = late.shift()!;
      engine.feedback('m', { eventId: x.eventId, itemId: x.itemId, kind: 'click' });
    }
    const a = env.arrive(now, rng);
    const r = engine.rank('m', { context: a.context, candidates: a.candidates, userId: a.userId });
    if (s % 40 === 17) checkpoints.push({ posteriorSeq: r.posteriorSeq, snapshot: engine.model('m').posteriorSnapshot() });
    const reactions = env.respond(a, r.slate.map((x) => ({ itemId: x.id, position: x.position })), rng);
    reactions.forEach((re, j) => {
      if ((s + j) % 3 === 0) late.push({ at: now + 40 * 60_000, eventId: r.eventId, itemId: re.itemId });
      else engine.feedback('m', { eventId: r.eventId, itemId: re.itemId, kind: 'click' });
    });
  }
  now += 86_400_000;
  engine.tick(now);
  for (const x of late) engine.feedback('m', { eventId: x.eventId, itemId: x.itemId, kind: 'click' });
  return { store, engine, checkpoints };
}

function decisionOf(log: ModelLog) {
  const byId = new Map(log.decisions.map((d) => [d.decision.eventId, d.decision]));
  return (eventId: string) => byId.get(eventId);
}

describe('candidate configs', () => {
  test('mergeConfig merges objects key by key and replaces everything else', () => {
    expect(mergeConfig({ a: { b: 1, c: [1, 2] }, d: 2 }, { a: { c: [3] }, e: null })).toEqual({ a: { b: 1, c: [3] }, d: 2, e: null });
    // A policy of another kind replaces the section (its fields belong to the old kind).
    expect(mergeConfig({ policy: { kind: 'beta-bernoulli', priorAlpha: 2 } }, { policy: { kind: 'uniform' } })).toEqual({ policy: { kind: 'uniform' } });
    expect(mergeConfig({ policy: { kind: 'beta-bernoulli', priorAlpha: 2 } }, { policy: { priorBeta: 3 } })).toEqual({
      policy: { kind: 'beta-bernoulli', priorAlpha: 2, priorBeta: 3 },
    });
  });

  test('candidateConfig applies a patch over the stored config and validates it', () => {
    const base = candidateConfig({ policy: { kind: 'beta-bernoulli' }, budget: { share: 0.1 } }, {});
    const c = candidateConfig(base, { budget: { share: 0.4 } });
    expect(c.budget.share).toBe(0.4);
    expect(c.policy.kind).toBe('beta-bernoulli');
    expect(c.budget.floor).toBe(base.budget.floor);
  });

  test.each([
    [{ budget: { share: 2 } }, 'budget.share'],
    [{ budget: { temperature: -1 } }, 'budget.temperature'],
    [{ budget: { bogus: 1 } }, 'budget.bogus'],
    [{ policy: { kind: 'nope' } }, 'policy.kind'],
    [[1, 2], ''],
  ])('an invalid candidate %j is INVALID_CONFIG naming %s', (patch, field) => {
    try {
      candidateConfig({}, patch);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(LiubaiError);
      expect((error as LiubaiError).code).toBe('INVALID_CONFIG');
      expect((error as LiubaiError).field ?? '').toBe(field);
    }
  });
});

describe('createPosteriorReplay', () => {
  test.each([
    ['beta-bernoulli with forgetting', { policy: { kind: 'beta-bernoulli' }, decay: { halfLifeOutcomes: 60 }, slots: 2 }],
    ['linear-gaussian with fatigue features', { policy: { kind: 'linear-gaussian' }, features: { bits: 6 }, slots: 2 }],
  ] as const)('%s: folding the log up to posteriorSeq gives the posterior each decision sampled, bit for bit', (_name, config) => {
    const { store, engine, checkpoints } = run(config as ModelConfigInput, 260);
    const log = readModelLog(store, 'm');
    expect(log.outcomes.some((o) => o.retracts !== undefined)).toBe(true);
    const replay = createPosteriorReplay(log.config, log.outcomes, decisionOf(log));
    expect(checkpoints.length).toBeGreaterThan(5);
    for (const cp of checkpoints) {
      replay.advanceTo(cp.posteriorSeq);
      expect(replay.foldedSeq).toBeLessThanOrEqual(cp.posteriorSeq);
      expect(replay.policy.snapshot()).toEqual(cp.snapshot);
    }
    replay.advanceTo(Number.POSITIVE_INFINITY);
    expect(replay.policy.snapshot()).toEqual(engine.model('m').posteriorSnapshot());
  });
});

describe('createSelectionTracker', () => {
  test.each([
    ['outside-recent-groups with a per-user token bucket and cool-down', { share: 0.5, floor: 0.05, rule: 'outside-recent-groups', perUser: { ratePerHour: 1, burst: 1 } }],
    ['uncertain with group caps', { share: 0.4, floor: 0.02, rule: 'uncertain', maxGroupShare: 0.5, perUser: null, temperature: 1.5 }],
  ] as const)('%s: every logged slate is reproduced exactly from its decision seed', (_name, budget) => {
    const config = { policy: { kind: 'beta-bernoulli' }, budget, slots: 3 } as ModelConfigInput;
    const { store } = run(config, 240, 3, 2);
    const log = readModelLog(store, 'm');
    const c = log.config;
    const replay = createPosteriorReplay(c, log.outcomes, decisionOf(log));
    const tracker = createSelectionTracker(c);
    let outOfTokens = 0;
    let cooled = 0;
    let explored = 0;
    for (const { decision: d } of log.decisions) {
      replay.advanceTo(d.posteriorSeq);
      const k = d.candidates.length;
      const features = replay.featurizer.featurize(d.context, d.candidates, d.candidates.map((x) => x.extra));
      let sd: Float64Array | null = null;
      if (c.budget.rule === 'uncertain') {
        sd = new Float64Array(k);
        replay.policy.summarize(features, new Float64Array(k), sd);
      }
      const input = tracker.input(d, sd);
      const params = tracker.params(d);
      if (params.exploreTokens === 0) outOfTokens++;
      cooled += input.cooledDown.reduce((a, b) => a + b, 0);
      // The engine's own draw: the decision seed, one posterior sample, then the rule.
      const rng = createRng(d.seed);
      const scores = new Float64Array(k);
      replay.policy.sample(features, rng, scores, c.budget.temperature);
      const choice = selectSlate(scores, input, params, rng);
      expect(Array.from(choice.items.subarray(0, choice.length), (i) => d.candidates[i]!.id)).toEqual(d.slate.map((x) => x.itemId));
      expect(Array.from(choice.explored.subarray(0, choice.length), (e) => e === 1)).toEqual(d.slate.map((x) => x.explored));
      explored += d.slate.filter((x) => x.explored).length;
      tracker.advance(d);
    }
    // The reconstruction was exercised: serendipity slots, cool-downs, and (with the bucket) empty buckets.
    expect(explored).toBeGreaterThan(0);
    expect(cooled).toBeGreaterThan(0);
    if (budget.perUser) expect(outOfTokens).toBeGreaterThan(0);
  });
});

describe('computeTargets', () => {
  const logging: ModelConfigInput = { policy: { kind: 'beta-bernoulli' }, budget: { share: 0.2, floor: 0, rule: 'uniform', perUser: null }, slots: 2 };
  const { store } = run(logging, 200);
  const log = readModelLog(store, 'm');
  const cfg = (patch: unknown) => candidateConfig(log.config, patch);
  const k = PROBABILITIES.length;
  const L = 2;

  test('every column is a distribution: entries in [0, 1], each position sums to 1', () => {
    const { matrices } = computeTargets(log, [cfg({ budget: { share: 0.5, floor: 0.05, maxGroupShare: 0.5 } })], { rng: createRng(1), draws: 50 });
    const v = matrices[0]!.values;
    expect(v.length).toBe(log.rounds.length * k * L);
    for (let i = 0; i < log.rounds.length; i++) {
      for (let l = 0; l < L; l++) {
        let s = 0;
        for (let a = 0; a < k; a++) {
          const p = v[i * k * L + a * L + l]!;
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(1);
          s += p;
        }
        expect(s).toBeCloseTo(1, 12);
      }
    }
  });

  test('closed forms: a floor with floor·k/L ≥ 1 and the exchangeable uniform policy give exactly 1/k', () => {
    // (Without cool-down: the fatigue memory of these four users cools some arms down, which
    // breaks the symmetry the closed form needs.)
    const uniform = cfg({ policy: { kind: 'uniform' }, budget: { share: 0 }, fatigue: { enabled: false } });
    const { matrices } = computeTargets(log, [cfg({ budget: { floor: 0.4 } }), uniform], {
      rng: createRng(1),
      draws: 3,
    });
    for (const m of matrices) expect([...new Set(m.values)]).toEqual([1 / k]);
  });

  test('the model’s own config reproduces the logged propensities (unbiased against their own-draw correction)', () => {
    // Logged (floor 0): π₀ = (count + 1)/(M + 1) with M = 64 draws plus the decision's own slate, so
    // (65·π₀ − 1)/64 is unbiased for π; the target estimate is unbiased too. Their mean difference
    // over the logged (item, position) pairs must be within 4 standard errors of 0.
    const { matrices } = computeTargets(log, [log.config], { rng: createRng(2), draws: 400 });
    const diffs: number[] = [];
    log.rounds.forEach((r, i) => {
      r.decision.slate.forEach((e, p) => {
        const a = r.decision.candidates.findIndex((c) => c.id === e.itemId);
        const target = matrices[0]!.values[matrices[0]!.offsets[i]! + a * L + p]!;
        expect(target).toBeGreaterThan(0);
        diffs.push(target - (65 * e.propensity - 1) / 64);
      });
    });
    const mean = diffs.reduce((s, x) => s + x, 0) / diffs.length;
    const sd = Math.sqrt(diffs.reduce((s, x) => s + (x - mean) ** 2, 0) / (diffs.length - 1));
    expect(Math.abs(mean)).toBeLessThan((4 * sd) / Math.sqrt(diffs.length));
  });

  test('same seed, same matrices; candidates share the Monte-Carlo streams (common random numbers)', () => {
    const c = cfg({ budget: { share: 0.4 } });
    const a = computeTargets(log, [c, c], { rng: createRng(5), draws: 20 });
    const b = computeTargets(log, [c], { rng: createRng(5), draws: 20 });
    expect(a.matrices[1]!.values).toEqual(a.matrices[0]!.values);
    expect(b.matrices[0]!.values).toEqual(a.matrices[0]!.values);
    expect(computeTargets(log, [c], { rng: createRng(6), draws: 20 }).matrices[0]!.values).not.toEqual(a.matrices[0]!.values);
  });

  test('the model posterior’s mean scores come back for the reward model', () => {
    const { scores } = computeTargets(log, [], { rng: createRng(1), draws: 1 });
    expect(scores.values.length).toBe(log.rounds.length * k);
    // Beta(1, 1) prior: the first decision sees mean 0.5 for every arm.
    expect([...scores.values.subarray(0, k)]).toEqual(new Array(k).fill(0.5));
    for (const v of scores.values) expect(v > 0 && v < 1).toBe(true);
  });

  test('draws must be a positive integer', () => {
    expect(() => computeTargets(log, [log.config], { rng: createRng(1), draws: 0 })).toThrow(OpeInputError);
  });

  test('evaluateCandidates: on-policy values, one row per scope and estimator, in order', () => {
    const report = evaluateCandidates(log, [log.config, cfg({ budget: { share: 0 } })], {
      rng: createRng(1),
      draws: 30,
      interval: { resamples: 50 },
    });
    expect(report.onPolicy.map((o) => o.scope)).toEqual(['slate', 'top']);
    expect(report.rewardModel).toMatchObject({ kind: 'logistic', folds: 2 });
    for (const c of report.candidates) {
      expect(c.rows.map((r) => `${r.scope}:${r.estimator}`)).toEqual(
        ['slate', 'top'].flatMap((s) => ['ips', 'snips', 'dm', 'dr', 'sndr'].map((e) => `${s}:${e}`)),
      );
      for (const r of c.rows) {
        expect(Number.isFinite(r.value)).toBe(true);
        expect(r.lower!).toBeLessThanOrEqual(r.upper!);
        expect(r.n).toBe(log.rounds.length);
      }
    }
    const only = evaluateCandidates(log, [log.config], { rng: createRng(1), draws: 5, estimators: ['ips'], scopes: ['top'], interval: { method: 'none' } });
    expect(only.rewardModel).toBeNull();
    expect(only.candidates[0]!.rows).toHaveLength(1);
  });

  test.each([
    [{ estimators: ['replay'] }, 'estimators'],
    [{ estimators: [] }, 'estimators'],
    [{ clip: 0 }, 'clip'],
    [{ draws: 1.5 }, 'draws'],
  ])('evaluateCandidates rejects %j naming %s', (options, field) => {
    try {
      evaluateCandidates(log, [log.config], { rng: createRng(1), ...(options as object) });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OpeInputError);
      expect((error as OpeInputError).field).toBe(field);
    }
  });
});
