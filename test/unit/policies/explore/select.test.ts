import { describe, expect, test } from 'vitest';
import { createRng } from '../../../../src/core/rng.js';
import {
  createSelector,
  createSlateChoice,
  floorMixtureProbability,
  groupCapOf,
  selectSlate,
  type SelectionInput,
  type SelectionParams,
  type SlateChoice,
} from '../../../../src/policies/explore/select.js';

function input(k: number, over: Partial<SelectionInput> = {}): SelectionInput {
  return {
    groups: new Array<string | undefined>(k).fill(undefined),
    cooledDown: new Uint8Array(k),
    recentGroups: new Set(),
    sd: null,
    ...over,
  };
}

function params(over: Partial<SelectionParams> = {}): SelectionParams {
  return { slots: 3, share: 0, exploreTokens: Infinity, floor: 0, maxGroupShare: 1, rule: 'uniform', ...over };
}

function items(c: SlateChoice): number[] {
  return Array.from(c.items.subarray(0, c.length));
}

/** Binomial tolerance: 4.5 standard deviations of a frequency over n trials. */
function tol(p: number, n: number): number {
  return 4.5 * Math.sqrt((p * (1 - p)) / n);
}

describe('selectSlate: exploitation', () => {
  test('with share 0 and floor 0 the slate is the exact score order', () => {
    const scores = Float64Array.from([0.3, 0.9, 0.1, 0.5]);
    const c = selectSlate(scores, input(4), params({ slots: 3 }), createRng(1));
    expect(c.length).toBe(3);
    expect(items(c)).toEqual([1, 3, 0]);
    expect(Array.from(c.explored.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(c.cost.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(c.floorComponent).toBe(false);
  });

  test('the slate length is min(slots, k)', () => {
    const c = selectSlate(Float64Array.from([2, 1]), input(2), params({ slots: 5 }), createRng(1));
    expect(items(c)).toEqual([0, 1]);
  });

  test('NaN scores rank last', () => {
    const c = selectSlate(Float64Array.from([NaN, 0.2, -5]), input(3), params({ slots: 3 }), createRng(1));
    expect(items(c)).toEqual([1, 2, 0]);
  });

  test('exact ties are broken uniformly at random (both orders ≈ 50/50)', () => {
    const rng = createRng('ties');
    const scores = Float64Array.from([1, 1, 0]);
    const out = createSlateChoice(2);
    const n = 4000;
    let first0 = 0;
    for (let t = 0; t < n; t++) {
      selectSlate(scores, input(3), params({ slots: 2 }), rng, out);
      expect(new Set(items(out))).toEqual(new Set([0, 1]));
      if (out.items[0] === 0) first0++;
    }
    expect(Math.abs(first0 / n - 0.5)).toBeLessThan(tol(0.5, n));
  });

  test('three-way ties: each candidate first ≈ 1/3 of the time', () => {
    const rng = createRng('ties3');
    const scores = Float64Array.from([0, 2, 2, 2]);
    const n = 6000;
    const first = [0, 0, 0, 0];
    const out = createSlateChoice(1);
    for (let t = 0; t < n; t++) {
      selectSlate(scores, input(4), params({ slots: 1 }), rng, out);
      first[out.items[0]!]!++;
    }
    expect(first[0]).toBe(0);
    for (const i of [1, 2, 3]) expect(Math.abs(first[i]! / n - 1 / 3)).toBeLessThan(tol(1 / 3, n));
  });

  test('same rng state gives the same slate (replay)', () => {
    const scores = Float64Array.from([0.5, 0.5, 0.4, 0.1, 0.9, 0.2]);
    const p = params({ slots: 4, share: 0.5, floor: 0.1 });
    const a = selectSlate(scores, input(6), p, createRng('replay'));
    const b = createSelector().select(scores, input(6), p, createRng('replay'));
    expect(items(b)).toEqual(items(a));
    expect(Array.from(b.explored.subarray(0, 4))).toEqual(Array.from(a.explored.subarray(0, 4)));
  });

  test('invalid params are rejected, naming the field', () => {
    const s = Float64Array.from([1, 2]);
    expect(() => selectSlate(s, input(2), params({ slots: 0 }), createRng(1))).toThrow(/slots/);
    expect(() => selectSlate(s, input(2), params({ share: 1.5 }), createRng(1))).toThrow(/share/);
    expect(() => selectSlate(s, input(2), params({ floor: 1 }), createRng(1))).toThrow(/floor/);
    expect(() => selectSlate(s, input(2), params({ maxGroupShare: 0 }), createRng(1))).toThrow(/maxGroupShare/);
    expect(() => selectSlate(s, input(2), params({ exploreTokens: -1 }), createRng(1))).toThrow(/exploreTokens/);
    expect(() => selectSlate(Float64Array.from([1]), input(2), params(), createRng(1))).toThrow(/scores/);
    expect(() => selectSlate(s, input(2), params({ slots: 2 }), createRng(1), createSlateChoice(1))).toThrow(/out/);
  });
});

describe('selectSlate: group caps', () => {
  test('the cap max(1, ⌊maxGroupShare·L⌋) holds on every slate of many random draws', () => {
    const groups = ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'c', 'c', undefined, undefined];
    const k = groups.length;
    const p = params({ slots: 5, share: 0.5, floor: 0.2, maxGroupShare: 0.4 });
    const cap = groupCapOf(0.4, 5);
    expect(cap).toBe(2);
    const rng = createRng('caps');
    const scores = new Float64Array(k);
    const out = createSlateChoice(5);
    for (let t = 0; t < 3000; t++) {
      for (let i = 0; i < k; i++) scores[i] = rng.normal() + (groups[i] === 'a' ? 3 : 0);
      selectSlate(scores, input(k, { groups }), p, rng, out);
      const count = new Map<string, number>();
      for (const i of items(out)) {
        const g = groups[i];
        if (g !== undefined) count.set(g, (count.get(g) ?? 0) + 1);
      }
      for (const c of count.values()) expect(c).toBeLessThanOrEqual(cap);
      expect(new Set(items(out)).size).toBe(5);
    }
  });

  test('without the cap the favoured group fills the slate (the check above can fail)', () => {
    const groups = ['a', 'a', 'a', 'b'];
    const c = selectSlate(Float64Array.from([4, 3, 2, 1]), input(4, { groups }), params({ slots: 3 }), createRng(1));
    expect(items(c)).toEqual([0, 1, 2]);
    const capped = selectSlate(
      Float64Array.from([4, 3, 2, 1]),
      input(4, { groups }),
      params({ slots: 3, maxGroupShare: 0.5 }),
      createRng(1),
    );
    // cap = max(1, ⌊1.5⌋) = 1: one 'a', then 'b', then the caps exclude everyone: best remaining 'a'.
    expect(items(capped)).toEqual([0, 3, 1]);
  });
});

describe('selectSlate: exploitation matches a naive greedy reference', () => {
  /** Position by position: best score among remaining, not cooled, within caps; then relax. */
  function reference(scores: number[], groups: Array<string | undefined>, cooled: number[], L: number, cap: number): number[] {
    const slate: number[] = [];
    const count = new Map<string, number>();
    const ok = (i: number, useCool: boolean, useCap: boolean): boolean =>
      !slate.includes(i) &&
      (!useCool || cooled[i] === 0) &&
      (!useCap || groups[i] === undefined || (count.get(groups[i]!) ?? 0) < cap);
    for (let pos = 0; pos < L; pos++) {
      let best = -1;
      for (const [useCool, useCap] of [
        [true, true],
        [false, true],
        [false, false],
      ] as const) {
        for (let i = 0; i < scores.length; i++) if (ok(i, useCool, useCap) && (best < 0 || scores[i]! > scores[best]!)) best = i;
        if (best >= 0) break;
      }
      slate.push(best);
      const g = groups[best];
      if (g !== undefined) count.set(g, (count.get(g) ?? 0) + 1);
    }
    return slate;
  }

  test('top candidates all capped: the selector looks past its short list', () => {
    const groups = ['a', 'a', 'a', 'a', 'a', 'a', undefined, undefined, undefined, undefined];
    const scores = Float64Array.from([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    const c = selectSlate(scores, input(10, { groups }), params({ slots: 3, maxGroupShare: 0.34 }), createRng(1));
    expect(items(c)).toEqual([0, 6, 7]);
  });

  test('random problems: identical to the reference', () => {
    const rng = createRng('reference');
    const out = createSlateChoice(6);
    for (let t = 0; t < 500; t++) {
      const k = 1 + rng.int(30);
      const slots = 1 + rng.int(6);
      const maxGroupShare = 0.1 + 0.9 * rng.uniform();
      const groups = Array.from({ length: k }, () => (rng.uniform() < 0.3 ? undefined : ['a', 'b', 'c'][rng.int(3)]));
      const cooled = Array.from({ length: k }, () => (rng.uniform() < 0.2 ? 1 : 0));
      const scores = Array.from({ length: k }, () => rng.normal());
      selectSlate(Float64Array.from(scores), input(k, { groups, cooledDown: Uint8Array.from(cooled) }), params({ slots, maxGroupShare }), rng, out);
      const L = Math.min(slots, k);
      expect(items(out)).toEqual(reference(scores, groups, cooled, L, groupCapOf(maxGroupShare, L)));
    }
  });
});

describe('selectSlate: cool-down', () => {
  test('cooled-down items never fill exploitation slots but can appear as serendipity', () => {
    const cooledDown = Uint8Array.from([1, 0, 0, 1, 0, 0]);
    const scores = Float64Array.from([9, 1, 2, 8, 3, 0]);
    const p = params({ slots: 3, share: 0.3 });
    const rng = createRng('cool');
    const out = createSlateChoice(3);
    let cooledExplored = 0;
    for (let t = 0; t < 2000; t++) {
      selectSlate(scores, input(6, { cooledDown }), p, rng, out);
      for (let j = 0; j < out.length; j++) {
        const i = out.items[j]!;
        if (out.explored[j] === 0) expect(cooledDown[i]).toBe(0);
        else if (cooledDown[i] === 1) cooledExplored++;
      }
    }
    expect(cooledExplored).toBeGreaterThan(0);
  });

  test('when only cooled-down items remain, the slate is still filled by score', () => {
    const c = selectSlate(Float64Array.from([1, 5, 3]), input(3, { cooledDown: Uint8Array.from([0, 1, 1]) }), params({ slots: 3 }), createRng(1));
    expect(items(c)).toEqual([0, 1, 2]);
  });
});

describe('selectSlate: serendipity budget', () => {
  test('explored count never exceeds ⌊exploreTokens⌋, and reaches it', () => {
    const rng = createRng('tokens');
    const scores = new Float64Array(10);
    const out = createSlateChoice(5);
    for (const [tokens, max] of [
      [0, 0],
      [1.7, 1],
      [2, 2],
    ] as const) {
      let reached = false;
      for (let t = 0; t < 500; t++) {
        for (let i = 0; i < 10; i++) scores[i] = rng.uniform();
        selectSlate(scores, input(10), params({ slots: 5, share: 0.9, exploreTokens: tokens }), rng, out);
        let n = 0;
        for (let j = 0; j < 5; j++) n += out.explored[j]!;
        expect(n).toBeLessThanOrEqual(max);
        if (n === max) reached = true;
      }
      expect(reached).toBe(true);
    }
  });

  test('share 1 with enough tokens explores every position, each away from the greedy choice', () => {
    const scores = Float64Array.from([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]);
    const rng = createRng('share1');
    const out = createSlateChoice(3);
    for (let t = 0; t < 300; t++) {
      selectSlate(scores, input(10), params({ slots: 3, share: 1 }), rng, out);
      expect(Array.from(out.explored.subarray(0, 3))).toEqual([1, 1, 1]);
      expect(out.items[0]).not.toBe(0); // the greedy first item is never the serendipity pick
      for (let j = 0; j < 3; j++) expect(out.cost[j]).toBeGreaterThan(0);
    }
  });

  test('when the only remaining candidate is the greedy one, the position is exploited', () => {
    const c = selectSlate(Float64Array.from([3, 2, 1]), input(3), params({ slots: 3, share: 1 }), createRng(4));
    expect(Array.from(c.explored.subarray(0, 3))).toEqual([1, 1, 0]);
  });

  test('cost is the score gap to the exploitation choice', () => {
    const scores = Float64Array.from([1, 0.25]);
    const c = selectSlate(scores, input(2), params({ slots: 1, share: 1 }), createRng(1));
    expect(items(c)).toEqual([1]);
    expect(c.cost[0]).toBe(0.75);
  });

  test("'outside-recent-groups' picks only candidates outside the recent groups", () => {
    // Four candidates are outside; with 2 slots at least two of them stay eligible at each position.
    const groups = ['news', 'news', 'news', 'sport', 'news', 'music', 'music', undefined, 'art'];
    const recentGroups = new Set(['news', 'sport']);
    const k = groups.length;
    const rng = createRng('outside');
    const scores = new Float64Array(k);
    const out = createSlateChoice(2);
    const seen = new Set<number>();
    for (let t = 0; t < 1000; t++) {
      for (let i = 0; i < k; i++) scores[i] = rng.uniform();
      selectSlate(scores, input(k, { groups, recentGroups }), params({ slots: 2, share: 0.5, rule: 'outside-recent-groups' }), rng, out);
      for (let j = 0; j < 2; j++) {
        if (out.explored[j] === 1) {
          const g = groups[out.items[j]!];
          expect(g === undefined || !recentGroups.has(g)).toBe(true);
          seen.add(out.items[j]!);
        }
      }
    }
    expect(seen).toEqual(new Set([5, 6, 7, 8]));
  });

  test("'outside-recent-groups' falls back to uniform when every candidate is recent", () => {
    const groups = ['a', 'a', 'b', 'b'];
    const rng = createRng('fallback');
    const out = createSlateChoice(1);
    const seen = new Set<number>();
    for (let t = 0; t < 200; t++) {
      selectSlate(Float64Array.from([4, 3, 2, 1]), input(4, { groups, recentGroups: new Set(['a', 'b']) }), params({ slots: 1, share: 1, rule: 'outside-recent-groups' }), rng, out);
      expect(out.explored[0]).toBe(1);
      seen.add(out.items[0]!);
    }
    expect(seen).toEqual(new Set([1, 2, 3]));
  });

  test("'uncertain' picks in proportion to the posterior sd", () => {
    const sd = Float64Array.from([5, 1, 3, 0]);
    const rng = createRng('uncertain');
    const out = createSlateChoice(1);
    const n = 8000;
    const hits = [0, 0, 0, 0];
    for (let t = 0; t < n; t++) {
      // candidate 0 is the greedy choice, so the pick is among 1, 2, 3 with weights 1 : 3 : ~0
      selectSlate(Float64Array.from([9, 1, 1, 1]), input(4, { sd }), params({ slots: 1, share: 1, rule: 'uncertain' }), rng, out);
      hits[out.items[0]!]!++;
    }
    expect(hits[0]).toBe(0);
    expect(hits[3]).toBe(0);
    expect(Math.abs(hits[1]! / n - 0.25)).toBeLessThan(tol(0.25, n));
    expect(Math.abs(hits[2]! / n - 0.75)).toBeLessThan(tol(0.75, n));
  });
});

describe('selectSlate: propensity floor', () => {
  test('q = min(1, floor·k/L)', () => {
    expect(floorMixtureProbability(0.05, 20, 3)).toBeCloseTo(1 / 3, 15);
    expect(floorMixtureProbability(0.5, 20, 3)).toBe(1);
    expect(floorMixtureProbability(0, 20, 3)).toBe(0);
  });

  test("every candidate's empirical inclusion is ≥ floor − tolerance", () => {
    const k = 20;
    const floor = 0.05;
    const scores = Float64Array.from({ length: k }, (_, i) => k - i); // a strict order
    const rng = createRng('floor');
    const out = createSlateChoice(3);
    const n = 20000;
    const inc = new Array<number>(k).fill(0);
    let floorDraws = 0;
    for (let t = 0; t < n; t++) {
      selectSlate(scores, input(k), params({ slots: 3, floor }), rng, out);
      if (out.floorComponent) floorDraws++;
      for (const i of items(out)) inc[i]!++;
    }
    for (let i = 0; i < k; i++) expect(inc[i]! / n).toBeGreaterThanOrEqual(floor - tol(floor, n));
    // The bound is tight: below the top 3, inclusion is exactly q·L/k = floor.
    expect(Math.abs(inc[10]! / n - floor)).toBeLessThan(tol(floor, n));
    expect(Math.abs(floorDraws / n - 1 / 3)).toBeLessThan(tol(1 / 3, n));
  });

  test('without a floor the low-scored candidates are never shown (the check above can fail)', () => {
    const scores = Float64Array.from({ length: 20 }, (_, i) => 20 - i);
    const rng = createRng('nofloor');
    for (let t = 0; t < 200; t++) expect(items(selectSlate(scores, input(20), params({ slots: 3 }), rng))).toEqual([0, 1, 2]);
  });

  test('the floor component ignores cool-down and never marks serendipity', () => {
    const rng = createRng('floor-cool');
    const out = createSlateChoice(2);
    let cooledShown = 0;
    for (let t = 0; t < 500; t++) {
      selectSlate(Float64Array.from([3, 2, 1, 0]), input(4, { cooledDown: Uint8Array.from([1, 1, 0, 0]) }), params({ slots: 2, floor: 0.5, share: 1 }), rng, out);
      expect(out.floorComponent).toBe(true); // q = min(1, 0.5·4/2) = 1
      expect(Array.from(out.explored.subarray(0, 2))).toEqual([0, 0]);
      if (out.items[0]! < 2 || out.items[1]! < 2) cooledShown++;
    }
    expect(cooledShown).toBeGreaterThan(0);
  });
});
