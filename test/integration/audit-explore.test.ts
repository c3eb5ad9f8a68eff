/**
 * Conformance audit of the exploration and propensity side (DESIGN.md "Exploration budget",
 * "Propensities", OPE): src/policies/explore/*, src/engine/decide.ts, the rank path of
 * src/engine/model.ts, src/ope/*. Only what the other suites do not already pin; known
 * limitations are `test.fails` (the test states the wanted behaviour; its comment says where and
 * why the code differs). Every tolerance is a binomial / normal bound of 4.5–5 sd derived from the draws, and
 * every stream is seeded, so nothing here is flaky.
 */
import { describe, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import type { ModelConfigInput } from '../../src/engine/config.js';
import { Engine } from '../../src/engine/engine.js';
import type { RankResponse } from '../../src/engine/model.js';
import type { Candidate } from '../../src/features/types.js';
import { dr, ips, normalInterval, snips, type LoggedBandit } from '../../src/ope/index.js';
import { onPolicyValue, readModelLog, slateLog } from '../../src/ope/logged.js';
import { estimateAllPropensities, type ScoreSampler } from '../../src/policies/explore/propensity.js';
import {
  createSlateChoice,
  selectSlate,
  type SelectionInput,
  type SelectionParams,
  type SerendipityRule,
  type SlateChoice,
} from '../../src/policies/explore/select.js';
import { MemoryStore } from '../../src/storage/memory/index.js';

const T0 = 1_700_000_000_000;

function setup(models: Record<string, ModelConfigInput>) {
  let now = T0;
  let n = 0;
  const store = new MemoryStore();
  const engine = new Engine({ store, clock: () => now, newEventId: () => `e${++n}`, snapshotEvery: 0 });
  for (const [id, config] of Object.entries(models)) engine.putModel(id, config);
  return {
    engine,
    store,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Binomial-type bound: 4.5 sd of the difference of two independent frequency estimates, plus a bias allowance. */
function bound(p: number, n1: number, n2: number, bias = 0): number {
  return 4.5 * Math.sqrt(Math.max(p * (1 - p), 1e-4) * (1 / n1 + 1 / n2)) + bias;
}

/** Teach item0 with clicks (slate of item0 alone), so that at temperature 0 it is the unique exploitation choice. */
function teachItem0(engine: Engine, model: string, clicks: number): void {
  for (let j = 0; j < clicks; j++) {
    const r = engine.rank(model, { context: {}, candidates: [{ id: 'item0' }], slots: 1 });
    engine.feedback(model, { eventId: r.eventId, itemId: 'item0', kind: 'click' });
  }
}

describe('propensities of the whole randomized rule, brute force', () => {
  test('engine (linear-gaussian, floor + binding caps + uncertain serendipity + per-user tokens): reported propensities = frequencies of its own decisions', () => {
    // Twin models: same posterior (same logged decisions and clicks), `big` reports propensities
    // with M = 10 000 draws, `small` (M = 1) is sampled N times for the empirical law.
    const budget = { share: 0.3, perUser: { ratePerHour: 1, burst: 1 }, floor: 0.2, maxGroupShare: 0.5, rule: 'uncertain' as const };
    const M = 10_000;
    const N = 20_000;
    const L = 2;
    const { engine } = setup({ big: { budget, propensity: { draws: M } }, small: { budget, propensity: { draws: 1 } } });
    const cands: Candidate[] = [
      { id: 'a0', features: { item: { kind: 'x', w: 1 } }, group: 'a' },
      { id: 'a1', features: { item: { kind: 'y', w: 0.5 } }, group: 'a' },
      { id: 'b0', features: { item: { kind: 'z', w: 2 } }, group: 'b' },
      { id: 'c0', features: { item: { kind: 'u' } } },
    ];
    const context = { user: { age: 3 } };
    const teach = createRng('audit-explore').fork('teach');
    for (let j = 0; j < 30; j++) {
      const id = j % 2 === 1 ? 'c0' : teach.uniform() < 0.6 ? 'a1' : 'b0';
      for (const m of ['big', 'small']) {
        engine.rank(m, { context, candidates: cands, slots: 4, eventId: `t${j}` });
        engine.feedback(m, { eventId: `t${j}`, itemId: id, kind: 'click' });
      }
    }
    // Fresh users: every decision sees one token, no recent groups — the same law each time.
    const reported = new Map<string, number[]>();
    const push = (key: string, v: number) => (reported.get(key) ?? reported.set(key, []).get(key)!).push(v);
    for (let d = 0; d < 30; d++) {
      for (const s of engine.rank('big', { context, candidates: cands, slots: L, userId: `big${d}` }).slate) {
        push(`${s.id}@${s.position}`, s.propensity);
        push(s.id, s.slatePropensity);
      }
    }
    const count = new Map<string, number>();
    const inc = (key: string) => count.set(key, (count.get(key) ?? 0) + 1);
    for (let d = 0; d < N; d++) {
      const r = engine.rank('small', { context, candidates: cands, slots: L, userId: `small${d}` });
      let groupA = 0;
      for (const s of r.slate) {
        inc(`${s.id}@${s.position}`);
        inc(s.id);
        if (s.id.startsWith('a')) groupA++;
      }
      expect(groupA).toBeLessThanOrEqual(1); // cap max(1, ⌊0.5·2⌋) = 1, and b0/c0 always qualify
      expect(r.slate.filter((s) => s.explored).length).toBeLessThanOrEqual(1); // burst 1
    }
    expect(reported.size).toBeGreaterThanOrEqual(10);
    for (const [key, values] of reported) {
      const p = values.reduce((a, b) => a + b, 0) / values.length;
      const f = (count.get(key) ?? 0) / N;
      expect(Math.abs(p - f), key).toBeLessThan(bound(f, N, M, 1 / (M + 1)));
    }
  });

  test('tiny instances (k = 3..4, slots 1..2; ties, cool-down, caps, floor, tokens 0/1/∞, all rules): estimator = brute-force frequencies', () => {
    const cfg = createRng('audit-explore').fork('configs');
    const rules: SerendipityRule[] = ['uniform', 'uncertain', 'outside-recent-groups'];
    const N = 10_000;
    const M = 10_000;
    for (let c = 0; c < 24; c++) {
      const k = 3 + cfg.int(2);
      const pool = ['a', 'b', undefined];
      const groups = Array.from({ length: k }, () => pool[cfg.int(3)]);
      const mu = Array.from({ length: k }, () => cfg.uniform());
      const kind = cfg.int(3); // 0 iid uniform, 1 gaussian, 2 discrete (exact ties)
      const sampler: ScoreSampler = (r, out) => {
        for (let i = 0; i < k; i++) out[i] = kind === 0 ? r.uniform() : kind === 1 ? mu[i]! + 0.3 * r.normal() : Math.round(2 * mu[i]! + r.uniform());
      };
      const params: SelectionParams = {
        slots: 1 + cfg.int(2),
        share: [0, 0.3, 1][cfg.int(3)]!,
        exploreTokens: [0, 1, Infinity][cfg.int(3)]!,
        floor: [0, 0.1, 0.2][cfg.int(3)]!,
        maxGroupShare: [1, 0.5][cfg.int(2)]!,
        rule: rules[cfg.int(3)]!,
      };
      const input: SelectionInput = {
        groups,
        cooledDown: Uint8Array.from({ length: k }, () => (cfg.uniform() < 0.25 ? 1 : 0)),
        recentGroups: new Set(cfg.uniform() < 0.5 ? ['a'] : []),
        sd: Float64Array.from({ length: k }, () => cfg.uniform()),
      };
      const L = Math.min(params.slots, k);
      const rng = cfg.fork(`decisions-${c}`);
      const scores = new Float64Array(k);
      const out = createSlateChoice(L);
      const pos = new Float64Array(k * L);
      let shown: SlateChoice | null = null;
      for (let t = 0; t < N; t++) {
        sampler(rng, scores);
        selectSlate(scores, input, params, rng, out);
        for (let p = 0; p < L; p++) pos[out.items[p]! * L + p]!++;
        if (shown === null) {
          shown = createSlateChoice(L);
          shown.length = L;
          shown.items.set(out.items.subarray(0, L));
          shown.floorComponent = out.floorComponent;
        }
      }
      for (const exchangeable of kind === 0 ? [false, true] : [false]) {
        const all = estimateAllPropensities(sampler, input, params, shown!, k, M, cfg.fork(`propensity-${c}`), { exchangeable });
        for (let j = 0; j < k * L; j++) {
          const f = pos[j]! / N;
          expect(Math.abs(all.position[j]! - f), `config ${c} cell ${j}`).toBeLessThan(bound(f, N, M, 1 / (M + 1)) * (5 / 4.5));
        }
      }
    }
  });
});

describe('per-user token bucket through the engine', () => {
  test('rate 2/h, burst 1: a token comes back exactly 30 min after it was spent (ranks every 10 s in between), and `since` is inclusive', () => {
    const { engine, advance } = setup({ m: { budget: { share: 1, floor: 0, perUser: { ratePerHour: 2, burst: 1 }, rule: 'uniform' } } });
    const cands: Candidate[] = Array.from({ length: 5 }, (_, i) => ({ id: `i${i}`, features: { item: { f: `v${i}` } } }));
    const explored = (r: RankResponse) => r.slate.filter((s) => s.explored).length;
    const STEP = 10_000;
    const trace: number[] = [];
    for (let t = 0; t <= 2 * 360; t++) {
      trace.push(explored(engine.rank('m', { context: {}, candidates: cands, slots: 2, userId: 'u' })));
      advance(STEP);
    }
    const spentAt = trace.flatMap((e, t) => (e > 0 ? [t] : []));
    expect(spentAt).toEqual([0, 180, 360, 540, 720]); // 0, 30, 60, 90, 120 min
    expect(trace.every((e) => e <= 1)).toBe(true);
    expect(engine.userBudget('m', 'u').explored).toBe(5);
    expect(engine.userBudget('m', 'u', T0 + 180 * STEP).explored).toBe(4);
    expect(engine.userBudget('m', 'u', T0 + 180 * STEP + 1).explored).toBe(3);
  });
});

describe('known limitations, documented in the README (tests of the wanted behaviour, marked fails)', () => {
  // select.ts:14-22 and :169-172 take q = min(1, floor·k/L), which gives floor only when every
  // candidate's floor-component inclusion is L/k. With a binding cap the floor component gives the
  // members of a large group less (here 1/3 instead of 1/2), so a1, a2 get q/3 = 0.067 < floor
  // 0.1, although the floor is feasible (group a always holds exactly one of the two slots, so
  // 0.1 each for a1, a2 is reachable, e.g. with q = 0.3). The module documents it ("a binding cap
  // can push a large group's members below the floor"), DESIGN.md does not allow it ("minimum
  // propensity of every eligible candidate"). Fix: q = min(1, floor / min_i P_floor(i in slate)),
  // with P_floor estimated by the same M draws when caps can bind.
  test.fails('the propensity floor holds under a binding group cap when it is feasible', () => {
    const input: SelectionInput = { groups: ['a', 'a', 'a', 'b'], cooledDown: new Uint8Array(4), recentGroups: new Set(), sd: null };
    const params: SelectionParams = { slots: 2, share: 0, exploreTokens: 0, floor: 0.1, maxGroupShare: 0.5, rule: 'uniform' };
    const scores = Float64Array.from([3, 2, 1, 0]);
    const rng = createRng('audit-explore').fork('floor-caps');
    const N = 20_000;
    const inc = new Float64Array(4);
    const out = createSlateChoice(2);
    for (let t = 0; t < N; t++) {
      selectSlate(scores, input, params, rng, out);
      inc[out.items[0]!]!++;
      inc[out.items[1]!]!++;
    }
    for (let i = 0; i < 4; i++) expect(inc[i]! / N, `candidate ${i}`).toBeGreaterThanOrEqual(0.1 - 4.5 * Math.sqrt((0.1 * 0.9) / N));
  });

  // select.ts:14-18/337-339 and model.ts:528-551: with probability q = min(1, floor·k/L) the WHOLE
  // slate is uniformly random, but none of its slots is flagged `explored`, none enters the
  // ledger and none is charged to the per-user bucket. With the DEFAULT floor 0.005 and slots 5,
  // q = 0.4 at k = 400 and q = 1 at k = 1000 (within the default maxCandidates): every slate is
  // then random while the ledger and GET /budget report 0 % explored and `share: 0` was asked.
  // (Now counted by liubai_floor_slates_total and documented; flagging and charging them is a
  // design decision still open: the floor exists for OPE and must not depend on tokens.)
  // DESIGN.md: share = "long-run fraction of slots given to serendipity (items the sampled scores
  // would not have put there)", "the ledger records every exploratory slot", the bucket makes sure
  // "nobody is experimented on constantly". Here item0 is the unique exploitation choice
  // (temperature 0, taught), share is 0, and ~40 % of position-1 slots hold another item unflagged.
  test.fails('with the default floor, every slot that is not the exploitation choice is accounted as exploration', () => {
    const { engine, store } = setup({ m: { policy: { kind: 'beta-bernoulli' }, budget: { temperature: 0, share: 0 } } });
    teachItem0(engine, 'm', 20);
    const cands: Candidate[] = Array.from({ length: 400 }, (_, i) => ({ id: `item${i}` }));
    let unaccounted = 0;
    for (let d = 0; d < 100; d++) {
      const first = engine.rank('m', { context: {}, candidates: cands, userId: 'u' }).slate[0]!;
      if (first.id !== 'item0' && !first.explored) unaccounted++;
    }
    expect(unaccounted).toBe(0);
    expect(store.counts('m').ledger).toBeGreaterThanOrEqual(unaccounted);
  });

  // Regression (fixed in decide.ts): the decision's own draw went through the sampler prepared
  // for M + 1 draws, whose method (and random stream) linear-gaussian picks by M, so the slate of a
  // given (seed, version, eventId) and posterior changed with `propensity.draws` (10 of 10
  // decisions differed between M = 1 and M = 256). DESIGN.md: M draws "on a derived RNG stream
  // (the decision's own draw is unchanged)". The own draw is now `sample` on the decision's stream.
  test('the decision itself does not depend on the number of Monte-Carlo propensity draws', () => {
    const make = (draws: number) => setup({ m: { budget: { share: 0, floor: 0, perUser: null }, propensity: { draws } } }).engine;
    const a = make(1);
    const b = make(256);
    const cands: Candidate[] = Array.from({ length: 30 }, (_, i) => ({ id: `i${i}`, features: { item: { f: `v${i}`, x: i / 10 } } }));
    const context = { user: { age: 3, device: 'ios' } };
    for (const e of [a, b]) {
      for (let t = 0; t < 10; t++) {
        e.rank('m', { context, candidates: cands, slots: 30, eventId: `t${t}` });
        e.feedback('m', { eventId: `t${t}`, itemId: `i${t}`, kind: 'click' });
      }
    }
    const ids = (r: RankResponse) => r.slate.map((s) => s.id);
    for (let d = 0; d < 10; d++) {
      expect(ids(b.rank('m', { context, candidates: cands, eventId: `x${d}` }))).toEqual(ids(a.rank('m', { context, candidates: cands, eventId: `x${d}` })));
    }
  });

  // propensity.ts:17-20/244-253: the shown slate is added as one of the M + 1 draws, so a shown
  // item's logged propensity is (C + 1)/(M + 1) with C ~ Bin(M, p). Its absolute bias is ≤ 1/(M+1)
  // as documented, but E[1/p̂ | shown] = (1 − (1 − p)^(M+1))/p: for p ≪ 1/M the inverse weight
  // is cut by a factor ≈ (M + 1)·p. Here (default M = 64, k = 4, share 0.03, uniform rule) each
  // serendipity cell has p = 0.01 while the logged p̂ averages ≈ 0.025: IPS counts of those cells
  // come out ≈ 1 − 0.99^65 = 0.48 instead of 1, so IPS/DR on engine logs under-value targets that favour
  // rarely logged items. Fix: log an unbiased inverse propensity (geometric resampling, Neu &
  // Bartók 2013: draw until the shown (item, position) recurs, cap at a large M), or raise M
  // adaptively until every shown cell has been drawn a few times.
  test.fails('IPS with the logged propensities is unbiased on a low-propensity cell (default M = 64)', () => {
    const { engine } = setup({ m: { policy: { kind: 'beta-bernoulli' }, budget: { temperature: 0, share: 0.03, floor: 0, perUser: null, rule: 'uniform' } } });
    teachItem0(engine, 'm', 20);
    const cands: Candidate[] = Array.from({ length: 4 }, (_, i) => ({ id: `item${i}` }));
    const N = 12_000;
    let rareIps = 0;
    let shownRare = 0;
    for (let d = 0; d < N; d++) {
      const s = engine.rank('m', { context: {}, candidates: cands, slots: 1 }).slate[0]!;
      if (s.id !== 'item0') {
        rareIps += 1 / s.propensity;
        shownRare++;
      }
    }
    const p = 0.03 / 3;
    // The truth behind the bound: item0 is always the exploitation choice, and each other item
    // is the serendipity pick with probability share/3.
    expect(Math.abs(shownRare / N - 3 * p)).toBeLessThan(4.5 * Math.sqrt((3 * p * (1 - 3 * p)) / N));
    // Σ over the 3 rare cells of 1{shown}/p̂, per cell and decision, has mean 1 and variance (1 − p)/p / (3N).
    const ratio = rareIps / (3 * N);
    expect(Math.abs(ratio - 1)).toBeLessThan(4.5 * Math.sqrt((1 - p) / p / (3 * N)));
  });

  // Regression (fixed in logged.ts): feedback closes an impression's window early, so leaving out
  // the decisions with a window still open kept the recent ones WITH feedback and dropped the
  // recent silent ones — exclusion depended on the reward (click rate 0.3, half the decisions in
  // their 1-h window: the logged value came out ≈ 0.46). Inclusion is now decided by time alone:
  // decisions exposed within a reward window of the evaluation time are left out.
  test('leaving out decisions with open reward windows does not bias the logged value', () => {
    const { engine, store, advance } = setup({
      m: { policy: { kind: 'beta-bernoulli' }, budget: { share: 0, floor: 0, perUser: null }, feedback: { rewardWindowSeconds: 3600 } },
    });
    const clicks = createRng('audit-explore').fork('clicks');
    const cands: Candidate[] = [{ id: 'x' }, { id: 'y' }];
    const eventIds: string[] = [];
    for (let d = 0; d < 1000; d++) {
      const r = engine.rank('m', { context: {}, candidates: cands, slots: 1 });
      eventIds.push(r.eventId);
      if (clicks.uniform() < 0.3) engine.feedback('m', { eventId: r.eventId, itemId: r.slate[0]!.id, kind: 'click' });
      advance(7_200);
      engine.tick();
    }
    const valueOf = () => {
      const log = readModelLog(store, 'm', { eventIds });
      return { value: onPolicyValue(slateLog(log), 'top', { method: 'none' }).value, n: log.rounds.length };
    };
    const now = valueOf();
    // Evaluated as of the latest time in the log, 7,200 s (the silence of decision 500, closed by
    // the last tick at its deadline): the decisions exposed after 3,600 s are left out, whatever
    // their feedback — 499 of 1,000.
    expect(now.n).toBe(501);
    // Control: once every window has closed, the same log gives the click rate.
    advance(3_600_000);
    engine.tick();
    const later = valueOf();
    expect(later.n).toBe(1000);
    // An explicit evaluation time: as of T0 + 3,600 s + 72 s, the decisions exposed by T0 + 72 s (11) have matured.
    expect(readModelLog(store, 'm', { eventIds, asOf: T0 + 3_672_000 }).rounds).toHaveLength(11);
    expect(Math.abs(later.value - 0.3)).toBeLessThan(4.5 * Math.sqrt((0.3 * 0.7) / later.n));
    expect(Math.abs(now.value - 0.3)).toBeLessThan(4.5 * Math.sqrt((0.3 * 0.7) / now.n));
  });
});

describe('OPE on a small problem with known truth (normal intervals, default suite)', () => {
  test('IPS, SNIPS and DR (with a wrong reward model) are unbiased and their 95 % normal intervals cover at the nominal rate', () => {
    const pi0 = [0.5, 0.3, 0.2];
    const piE = [0.1, 0.2, 0.7];
    const mu = [0.2, 0.5, 0.6];
    const qHat = [0.4, 0.4, 0.4]; // a deliberately wrong reward model: DR must stay unbiased
    const truth = piE.reduce((s, p, a) => s + p * mu[a]!, 0); // 0.54
    const qe = piE.reduce((s, p, a) => s + p * qHat[a]!, 0);
    const R = 300;
    const n = 400;
    const rng = createRng('audit-explore').fork('ope');
    const names = ['ips', 'snips', 'dr'] as const;
    const covered = { ips: 0, snips: 0, dr: 0 };
    const sums = { ips: 0, snips: 0, dr: 0 };
    const squares = { ips: 0, snips: 0, dr: 0 };
    for (let rep = 0; rep < R; rep++) {
      const input: LoggedBandit = {
        reward: new Float64Array(n),
        propensity: new Float64Array(n),
        targetProbability: new Float64Array(n),
        estimatedReward: new Float64Array(n),
        estimatedTargetValue: new Float64Array(n).fill(qe),
      };
      for (let i = 0; i < n; i++) {
        const a = rng.categorical(pi0);
        input.reward[i] = rng.uniform() < mu[a]! ? 1 : 0;
        input.propensity[i] = pi0[a]!;
        input.targetProbability[i] = piE[a]!;
        input.estimatedReward![i] = qHat[a]!;
      }
      const estimates = { ips: ips(input), snips: snips(input), dr: dr(input) };
      for (const name of names) {
        const ci = normalInterval(estimates[name]);
        if (ci.lower <= truth && truth <= ci.upper) covered[name]++;
        sums[name] += estimates[name].value;
        squares[name] += estimates[name].value ** 2;
      }
    }
    for (const name of names) {
      const mean = sums[name] / R;
      const sd = Math.sqrt((squares[name] / R - mean * mean) * (R / (R - 1)));
      expect(Math.abs(mean - truth), name).toBeLessThan(4.5 * (sd / Math.sqrt(R)));
      // Coverage ~ Bin(R, 0.95) when the intervals are right: 4.5 sd below and above.
      expect(covered[name], name).toBeGreaterThanOrEqual(0.95 * R - 4.5 * Math.sqrt(R * 0.95 * 0.05));
      expect(covered[name], name).toBeLessThanOrEqual(Math.min(R, 0.95 * R + 4.5 * Math.sqrt(R * 0.95 * 0.05)));
    }
  });
});
