import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { fatigueConfigSchema } from '../../../src/engine/config.js';
import { draftFatigue, fatigueAt, foldFatigue, foldFatigueDraft, type FatigueState } from '../../../src/feedback/fatigue.js';

/** Half-life of 1 s: decays over whole half-lives are exact powers of two. */
const H = 1000;

const reject = (itemId: string, at: number, group?: string, amount = 1) => ({
  itemId,
  ...(group !== undefined ? { group } : {}),
  rejection: true,
  amount,
  at,
});

const positive = (itemId: string, at: number, group?: string) => ({
  itemId,
  ...(group !== undefined ? { group } : {}),
  rejection: false,
  amount: 1,
  at,
});

const sortedKeys = (s: FatigueState) => Object.keys(s).sort();

describe('foldFatigue without a cap', () => {
  test('a rejection adds the amount to the item and the group; one half-life halves the count', () => {
    const s1 = foldFatigue(undefined, reject('a', 0, 'x'), H);
    expect(s1).toEqual({ 'i:a': [1, 0], 'g:x': [1, 0] });
    expect(fatigueAt(s1, 'i:a', H, H)).toBe(0.5);
    expect(fatigueAt(s1, 'i:a', 3 * H, H)).toBe(0.125);
    // Before the write time the count is not inflated.
    expect(fatigueAt(s1, 'i:a', -H, H)).toBe(1);
    const s2 = foldFatigue(s1, reject('a', H, 'x', 2), H);
    expect(s2).toEqual({ 'i:a': [2.5, H], 'g:x': [2.5, H] });
  });

  test('a positive resets the item and its group and leaves other keys alone', () => {
    const s: FatigueState = { 'i:a': [3, 0], 'g:x': [2, 0], 'i:b': [1, 0] };
    expect(foldFatigue(s, positive('a', H, 'x'), H)).toEqual({ 'i:b': [1, 0] });
    expect(foldFatigue(s, positive('a', H), H)).toEqual({ 'g:x': [2, 0], 'i:b': [1, 0] });
  });

  test('counts below 1e-3 are forgotten: 2^-9 survives, 2^-10 does not', () => {
    const s: FatigueState = { 'i:old': [1, 0] };
    expect(foldFatigue(s, reject('b', 9 * H), H)).toEqual({ 'i:old': [1, 0], 'i:b': [1, 9 * H] });
    expect(foldFatigue(s, reject('b', 10 * H), H)).toEqual({ 'i:b': [1, 10 * H] });
    // A rejection on a forgotten key starts from its residue (2^-10), not from a stale count.
    expect(foldFatigue(s, reject('old', 10 * H), H)).toEqual({ 'i:old': [1 + 2 ** -10, 10 * H] });
  });
});

describe('foldFatigue with a cap', () => {
  // At 2H: a = 4·2^-2 = 1, b = 1·2^-1 = 0.5, c = 8·2^-2 = 2, d = 0.75 (written now).
  const s: FatigueState = { 'i:a': [4, 0], 'i:b': [1, H], 'i:c': [8, 0], 'i:d': [0.75, 2 * H] };

  test('evicts exactly the least fatigued at the event time', () => {
    // The new key i:e = 1 makes 5 entries.
    expect(foldFatigue(s, reject('e', 2 * H), H, 4)).toEqual({
      'i:a': [4, 0],
      'i:c': [8, 0],
      'i:d': [0.75, 2 * H],
      'i:e': [1, 2 * H],
    });
    expect(foldFatigue(s, reject('e', 2 * H), H, 3)).toEqual({ 'i:a': [4, 0], 'i:c': [8, 0], 'i:e': [1, 2 * H] });
    expect(sortedKeys(foldFatigue(s, reject('e', 2 * H), H, 2))).toEqual(['i:c', 'i:e']);
    // Under or at the cap nothing is evicted.
    expect(sortedKeys(foldFatigue(s, reject('e', 2 * H), H, 5))).toEqual(['i:a', 'i:b', 'i:c', 'i:d', 'i:e']);
  });

  test('ranks by the decayed count, not the stored one', () => {
    // Stored, b (1) outranks d (0.75); decayed at 2H, b = 0.5 < d = 0.75, so b goes (c = 2 + 1 is touched).
    expect(sortedKeys(foldFatigue(s, reject('c', 2 * H), H, 3))).toEqual(['i:a', 'i:c', 'i:d']);
  });

  test('the touched keys survive even when they are the least fatigued', () => {
    // i:z and g:q enter at 0.1, below every remembered count (≥ 0.5).
    expect(foldFatigue(s, reject('z', 2 * H, 'q', 0.1), H, 3)).toEqual({
      'i:c': [8, 0],
      'i:z': [0.1, 2 * H],
      'g:q': [0.1, 2 * H],
    });
    expect(foldFatigue(s, reject('z', 2 * H, 'q', 0.1), H, 2)).toEqual({ 'i:z': [0.1, 2 * H], 'g:q': [0.1, 2 * H] });
    // Two touched keys, cap 1: both kept, everything else evicted.
    expect(foldFatigue(s, reject('z', 2 * H, 'q', 0.1), H, 1)).toEqual({ 'i:z': [0.1, 2 * H], 'g:q': [0.1, 2 * H] });
    // A touched key already remembered is kept too (i:b = 0.5 + 0.1 is the smallest).
    expect(sortedKeys(foldFatigue(s, reject('b', 2 * H, undefined, 0.1), H, 2))).toEqual(['i:b', 'i:c']);
  });

  test('a positive over a lowered cap removes its keys, then evicts the least fatigued', () => {
    // After the reset of i:c: a = 1, b = 0.5, d = 0.75; cap 2 evicts b.
    expect(foldFatigue(s, positive('c', 2 * H), H, 2)).toEqual({ 'i:a': [4, 0], 'i:d': [0.75, 2 * H] });
    // The reset alone brings the state under the cap.
    expect(foldFatigue(s, positive('c', 2 * H), H, 3)).toEqual({ 'i:a': [4, 0], 'i:b': [1, H], 'i:d': [0.75, 2 * H] });
  });

  test('ties go older first, then by plain string order of the key', () => {
    // At H: p = 2·2^-1 = 1 and q = 1 (written at H) tie; p is older, so p goes.
    const older: FatigueState = { 'i:p': [2, 0], 'i:q': [1, H], 'i:big': [5, H] };
    expect(sortedKeys(foldFatigue(older, reject('n', H, undefined, 9), H, 3))).toEqual(['i:big', 'i:n', 'i:q']);
    // Same count and time: the smaller key goes; 'i:B' < 'i:a' < 'i:b' in UTF-16 order
    // (a locale comparison would put 'i:a' first).
    const same: FatigueState = { 'i:b': [1, 0], 'i:a': [1, 0], 'i:B': [1, 0] };
    expect(sortedKeys(foldFatigue(same, reject('n', 0, undefined, 9), H, 3))).toEqual(['i:a', 'i:b', 'i:n']);
    expect(sortedKeys(foldFatigue(same, reject('n', 0, undefined, 9), H, 2))).toEqual(['i:b', 'i:n']);
    // The result does not depend on the insertion order of the state.
    const reversed: FatigueState = { 'i:B': [1, 0], 'i:a': [1, 0], 'i:b': [1, 0] };
    expect(foldFatigue(reversed, reject('n', 0, undefined, 9), H, 2)).toEqual(
      foldFatigue(same, reject('n', 0, undefined, 9), H, 2),
    );
  });

  test('the input state is not mutated', () => {
    const input: Record<string, readonly [number, number]> = { 'i:a': [4, 0], 'i:b': [1, H], 'g:x': [2, 0] };
    const before = structuredClone(input);
    Object.freeze(input);
    for (const v of Object.values(input)) Object.freeze(v);
    const out = foldFatigue(input, reject('a', 2 * H, 'x'), H, 2);
    expect(out).toEqual({ 'i:a': [2, 2 * H], 'g:x': [1.5, 2 * H] });
    foldFatigue(input, positive('a', 2 * H, 'x'), H, 1);
    expect(input).toEqual(before);
    expect(out).not.toBe(input);
  });

  test.each([0, -1, 0.5, 1.5, Number.NaN, Number.NEGATIVE_INFINITY])(
    'maxEntries %s is a RangeError',
    (maxEntries) => {
      expect(() => foldFatigue(undefined, reject('a', 0), H, maxEntries)).toThrow(RangeError);
    },
  );

  test('maxEntries 1 and +Infinity are accepted', () => {
    expect(foldFatigue({ 'i:a': [1, 0] }, reject('b', 0), H, 1)).toEqual({ 'i:b': [1, 0] });
    expect(sortedKeys(foldFatigue({ 'i:a': [1, 0] }, reject('b', 0), H, Number.POSITIVE_INFINITY))).toEqual([
      'i:a',
      'i:b',
    ]);
  });
});

/**
 * Plain reference of the fold: carry over the unforgotten, write or reset the touched keys, then
 * sort every untouched entry by (decayed count, at, key) and drop the first `size − cap`.
 */
function referenceFold(
  state: FatigueState,
  e: { itemId: string; group?: string; rejection: boolean; amount: number; at: number },
  cap: number,
): { next: Record<string, readonly [number, number]>; touched: string[]; evicted: string[] } {
  const decayed = (v: readonly [number, number]) => v[0] * Math.pow(2, -Math.max(0, e.at - v[1]) / H);
  const next: Record<string, readonly [number, number]> = {};
  for (const k of Object.keys(state)) if (decayed(state[k]!) >= 1e-3) next[k] = state[k]!;
  const keys = ['i:' + e.itemId];
  if (e.group !== undefined) keys.push('g:' + e.group);
  for (const k of keys) {
    if (e.rejection) next[k] = [(state[k] ? decayed(state[k]) : 0) + e.amount, e.at];
    else delete next[k];
  }
  const touched = e.rejection ? keys : [];
  const evicted: string[] = [];
  const excess = Object.keys(next).length - cap;
  if (excess > 0) {
    const order = Object.keys(next)
      .filter((k) => !touched.includes(k))
      .sort((a, b) => {
        const va = decayed(next[a]!);
        const vb = decayed(next[b]!);
        if (va !== vb) return va - vb;
        if (next[a]![1] !== next[b]![1]) return next[a]![1] - next[b]![1];
        return a < b ? -1 : a > b ? 1 : 0;
      });
    for (const k of order.slice(0, excess)) {
      evicted.push(k);
      delete next[k];
    }
  }
  return { next, touched, evicted };
}

test('5,000 random events with cap 50: never more than 50 entries, kept ≥ evicted, same as the reference', () => {
  const rng = createRng('fatigue-cap');
  const cap = 50;
  let state: FatigueState = {};
  let at = 0;
  let evictions = 0;
  let eventsOverCap = 0;
  for (let n = 0; n < 5000; n++) {
    // ~40 events per half-life over 400 items and 30 groups: far more live keys than the cap.
    at += rng.int(50);
    const e = {
      itemId: `it${rng.int(400)}`,
      ...(rng.uniform() < 0.7 ? { group: `gr${rng.int(30)}` } : {}),
      rejection: rng.uniform() < 0.85,
      amount: rng.uniform() < 0.5 ? 1 : 0.25 + rng.uniform(),
      at,
    };
    const ref = referenceFold(state, e, cap);
    const next = foldFatigue(state, e, H, cap);
    expect(next).toEqual(ref.next);
    expect(Object.keys(next).length).toBeLessThanOrEqual(cap);
    if (ref.evicted.length > 0) {
      eventsOverCap++;
      evictions += ref.evicted.length;
      // Touched keys are exempt: only the remembered ones compete with the evicted.
      const kept = Object.keys(next).filter((k) => !ref.touched.includes(k));
      const minKept = Math.min(...kept.map((k) => fatigueAt(next, k, at, H)));
      const maxEvicted = Math.max(...ref.evicted.map((k) => fatigueAt(state, k, at, H)));
      expect(minKept).toBeGreaterThanOrEqual(maxEvicted);
    }
    state = next;
  }
  // The cap must actually bind for the checks above to mean anything.
  expect(eventsOverCap).toBeGreaterThan(2000);
  expect(evictions).toBeGreaterThanOrEqual(eventsOverCap);
});

test('forgetting keeps exactly the counts whose decayed value is ≥ 1e-3, at and around every shortcut bound', () => {
  // foldFatigue decides most entries without a power (value tiers 1, 0.1, 0.01 against 9.9, 6.6
  // and 3.3 half-lives): the kept set must be the plain test's, also just inside, at and just
  // past each tier's bound and around each value's own forgetting time.
  const values = [0.0009, 0.001, 0.0011, 0.005, 0.00999, 0.01, 0.0101, 0.0999, 0.1, 0.1001, 0.5, 0.999, 1, 1.0001, 7, 1000];
  const halfLives = new Set<number>([0, 1, 3.2999, 3.3, 3.3001, 6.5999, 6.6, 6.6001, 9.8999, 9.9, 9.9001, 12, 25]);
  for (const v of values) {
    const own = Math.log2(v / 1e-3);
    if (own > 0) for (const d of [-1e-9, -1e-12, 0, 1e-12, 1e-9]) halfLives.add(own + d);
  }
  const at = 10_000_000;
  let cases = 0;
  let kept = 0;
  for (const v of values) {
    for (const r of halfLives) {
      if (!(r >= 0)) continue;
      const written = at - r * H;
      const state: FatigueState = { 'i:old': [v, written] };
      // An unrelated rejection: the fold only decides whether i:old is still remembered.
      const next = foldFatigue(state, reject('new', at), H);
      const exact = v * Math.pow(2, -Math.max(0, at - written) / H) >= 1e-3;
      expect('i:old' in next, `value ${v}, ${r} half-lives`).toBe(exact);
      if (exact) expect(next['i:old']).toBe(state['i:old']);
      cases++;
      if (exact) kept++;
    }
  }
  // Both outcomes occur many times (the grid is not one-sided).
  expect(kept).toBeGreaterThan(50);
  expect(cases - kept).toBeGreaterThan(50);
});

describe('folding in place (draftFatigue, foldFatigueDraft)', () => {
  test('any sequence of outcomes gives, after each one, the text foldFatigue gives one by one', () => {
    // Outcomes at repeated times (a slate's windows close together), earlier times, tiny
    // amounts (counts written below the forgetting threshold), positives and caps.
    for (const [seed, cap] of [['draft-a', Infinity], ['draft-b', 12], ['draft-c', 3]] as const) {
      const rng = createRng(seed);
      let at = 0;
      let state: FatigueState = { 'i:seeded': [0.002, 0], 'g:seeded': [5, -30_000] };
      let draft = draftFatigue(state, reject('first', at, 'gf'), H, cap);
      state = foldFatigue(state, reject('first', at, 'gf'), H, cap);
      let skipped = 0;
      for (let n = 0; n < 3000; n++) {
        const u = rng.uniform();
        // Same time as before (about half), later, or a little earlier.
        at = u < 0.5 ? at : u < 0.9 ? at + rng.int(3 * H) : at - rng.int(H);
        const e = {
          itemId: `it${rng.int(60)}`,
          ...(rng.uniform() < 0.6 ? { group: `gr${rng.int(8)}` } : {}),
          rejection: rng.uniform() < 0.8,
          amount: rng.uniform() < 0.1 ? 0.0004 : rng.uniform() < 0.5 ? 1 : 0.01 + rng.uniform(),
          at,
        };
        if (e.at === draft.cleanAt) skipped++;
        if (rng.uniform() < 0.05) {
          // A new call: the stored state starts a new draft.
          draft = draftFatigue(state, e, H, cap);
        } else {
          foldFatigueDraft(draft, e, H, cap);
        }
        const before = JSON.stringify(state);
        const next = foldFatigue(state, e, H, cap);
        expect(JSON.stringify(state)).toBe(before); // foldFatigue never mutates its input
        state = next;
        expect(JSON.stringify(draft.entries), `${seed} #${n}`).toBe(JSON.stringify(state));
        expect(draft.size).toBe(Object.keys(state).length);
      }
      // The shortcut (no forgetting pass) was taken often, so it was tested.
      expect(skipped).toBeGreaterThan(1000);
    }
  });

  test('a draft never mutates the state it starts from', () => {
    const state: FatigueState = { 'i:a': [2, 0], 'g:x': [1, 0] };
    const text = JSON.stringify(state);
    const draft = draftFatigue(state, reject('a', 100, 'x'), H);
    foldFatigueDraft(draft, reject('b', 100, 'x'), H);
    foldFatigueDraft(draft, positive('a', 200), H);
    expect(JSON.stringify(state)).toBe(text);
    expect(draft.entries).not.toBe(state);
    expect(Object.keys(draft.entries)).toEqual(['g:x', 'i:b']);
  });
});

describe('fatigueConfigSchema.maxEntries', () => {
  test('defaults to 1000', () => {
    expect(fatigueConfigSchema.parse({}).maxEntries).toBe(1000);
  });

  test.each([1, 1.5, 0, 1_000_001])('rejects %s', (maxEntries) => {
    expect(fatigueConfigSchema.safeParse({ maxEntries }).success).toBe(false);
  });

  test.each([2, 1_000_000])('accepts %s', (maxEntries) => {
    expect(fatigueConfigSchema.parse({ maxEntries }).maxEntries).toBe(maxEntries);
  });
});
