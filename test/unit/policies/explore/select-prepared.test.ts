import { describe, expect, test } from 'vitest';
import { createRng, type Rng } from '../../../../src/core/rng.js';
import {
  createPreparedSelector,
  createSelector,
  createSlateChoice,
  groupCapOf,
  type SelectionComponent,
  type SelectionInput,
  type SelectionParams,
  type SerendipityRule,
  type SlateChoice,
} from '../../../../src/policies/explore/select.js';

/** Scores with exact ties (a few distinct values), NaNs and infinities, or all distinct. */
function randomScores(rng: Rng, k: number, style: number): Float64Array {
  return Float64Array.from({ length: k }, () => {
    if (style === 0) return rng.normal();
    const u = rng.uniform();
    if (u < 0.1) return Number.NaN;
    if (u < 0.15) return -Infinity;
    return style === 1 ? rng.int(4) : rng.normal();
  });
}

function randomProblem(rng: Rng): { input: SelectionInput; params: SelectionParams } {
  const k = 1 + rng.int(40);
  const rules: SerendipityRule[] = ['uniform', 'uncertain', 'outside-recent-groups'];
  const input: SelectionInput = {
    groups: Array.from({ length: k }, () => (rng.uniform() < 0.3 ? undefined : `g${rng.int(4)}`)),
    cooledDown: Uint8Array.from({ length: k }, () => (rng.uniform() < 0.2 ? 1 : 0)),
    recentGroups: new Set(rng.uniform() < 0.5 ? ['g0', 'g1'] : []),
    sd:
      rng.uniform() < 0.2
        ? null
        : Float64Array.from({ length: k }, () => {
            const u = rng.uniform();
            return u < 0.1 ? Number.NaN : u < 0.2 ? -1 : u < 0.3 ? 0 : rng.uniform();
          }),
  };
  const params: SelectionParams = {
    slots: 1 + rng.int(7),
    share: [0, 0.3, 1][rng.int(3)]!,
    exploreTokens: [0, 1, 2.5, Infinity][rng.int(4)]!,
    floor: [0, 0.02, 0.3][rng.int(3)]!,
    maxGroupShare: 0.1 + 0.9 * rng.uniform(),
    rule: rules[rng.int(3)]!,
  };
  return { input, params };
}

function snapshot(c: SlateChoice): unknown {
  return {
    items: Array.from(c.items.subarray(0, c.length)),
    explored: Array.from(c.explored.subarray(0, c.length)),
    cost: Array.from(c.cost.subarray(0, c.length)),
    floor: c.floorComponent,
  };
}

describe('prepared selector', () => {
  test('reused over many selections it selects what a fresh selector selects (same slates, costs, rng consumption)', () => {
    const rng = createRng('prepared-reuse');
    const components: Array<SelectionComponent | undefined> = [undefined, 'rest', 'floor'];
    // One selector for every problem: nothing may leak from one selection or input to the next.
    const reused = createPreparedSelector();
    for (let t = 0; t < 150; t++) {
      const { input, params } = randomProblem(rng);
      const k = input.groups.length;
      reused.prepare(input);
      const out = createSlateChoice(8);
      const a = createRng(`draws-${t}`);
      const b = createRng(`draws-${t}`);
      for (let d = 0; d < 25; d++) {
        const scores = randomScores(rng, k, d % 3);
        const component = components[d % 3];
        reused.selectPrepared(scores, input, params, a, out, component);
        const fresh = createSelector().select(scores, input, params, b, undefined, component === undefined ? undefined : { component });
        expect(snapshot(out)).toEqual(snapshot(fresh));
      }
      expect(a.state()).toEqual(b.state());
    }
  });

  test("'uncertain' follows the sd of the input prepared last, even in the same array changed in place", () => {
    const selector = createPreparedSelector();
    const sd = Float64Array.from([0, 1, 0]);
    const input: SelectionInput = { groups: [undefined, undefined, undefined], cooledDown: new Uint8Array(3), recentGroups: new Set(), sd };
    const params: SelectionParams = { slots: 1, share: 1, exploreTokens: 1, floor: 0, maxGroupShare: 1, rule: 'uncertain' };
    const scores = Float64Array.from([3, 2, 1]);
    const out = createSlateChoice(1);
    const rng = createRng('uncertain-in-place');
    // Candidate 0 is the exploitation choice; the serendipity weights are sd + 1e-9.
    selector.prepare(input);
    for (let d = 0; d < 20; d++) expect(selector.selectPrepared(scores, input, params, rng, out, 'rest').items[0]).toBe(1);
    sd[1] = 0;
    sd[2] = 1;
    selector.prepare(input);
    for (let d = 0; d < 20; d++) expect(selector.selectPrepared(scores, input, params, rng, out, 'rest').items[0]).toBe(2);
  });

  test('exploitation without ties is the argmax scan, NaN counting as −∞', () => {
    const rng = createRng('prepared-argmax');
    const selector = createPreparedSelector();
    const out = createSlateChoice(8);
    for (let t = 0; t < 300; t++) {
      const k = 1 + rng.int(30);
      const slots = 1 + rng.int(7);
      // Distinct finite scores; at most one NaN and no −∞, so no exact tie anywhere.
      const scores = Float64Array.from({ length: k }, () => rng.normal());
      if (rng.uniform() < 0.5) scores[rng.int(k)] = Number.NaN;
      const input: SelectionInput = {
        groups: Array.from({ length: k }, () => (rng.uniform() < 0.5 ? undefined : `g${rng.int(3)}`)),
        cooledDown: Uint8Array.from({ length: k }, () => (rng.uniform() < 0.2 ? 1 : 0)),
        recentGroups: new Set(),
        sd: null,
      };
      const params: SelectionParams = { slots, share: 0, exploreTokens: 0, floor: 0, maxGroupShare: 0.1 + 0.9 * rng.uniform(), rule: 'uniform' };
      selector.prepare(input);
      const r = createRng(`argmax-${t}`);
      selector.selectPrepared(scores, input, params, r, out, undefined);
      // No rng is used: no floor coin (floor 0), no serendipity (share 0), no tie.
      expect(r.state()).toEqual(createRng(`argmax-${t}`).state());
      const L = Math.min(slots, k);
      const cap = groupCapOf(params.maxGroupShare, L);
      const value = (i: number): number => (Number.isNaN(scores[i]!) ? -Infinity : scores[i]!);
      const slate: number[] = [];
      const taken = new Map<string, number>();
      for (let pos = 0; pos < L; pos++) {
        let best = -1;
        for (const [cool, caps] of [[true, true], [false, true], [false, false]] as const) {
          for (let i = 0; i < k; i++) {
            if (slate.includes(i) || (cool && input.cooledDown[i] === 1)) continue;
            const g = input.groups[i];
            if (caps && g !== undefined && (taken.get(g) ?? 0) >= cap) continue;
            if (best < 0 || value(i) > value(best)) best = i;
          }
          if (best >= 0) break;
        }
        slate.push(best);
        const g = input.groups[best];
        if (g !== undefined) taken.set(g, (taken.get(g) ?? 0) + 1);
      }
      expect(Array.from(out.items.subarray(0, out.length))).toEqual(slate);
    }
  });
});
