/**
 * The optimised featurizer against the frozen original (reference-featurizer.ts): on random
 * namespaced requests — valid and invalid — both give bit-identical vectors, item ids and
 * errors (class, code, path, message), call after call on the same instances (the hash memos
 * carry state between calls).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  createFeaturizer,
  FeatureError,
  type Candidate,
  type DecisionFeatures,
  type FeaturesConfigInput,
  type Featurizer,
  type Namespace,
  type NamespacedFeatures,
  type OutcomeFeatures,
  type SparseVector,
} from '../../../src/features/index.js';
import { murmur3 } from '../../../src/core/hash.js';
import { createReferenceFeaturizer } from './reference-featurizer.js';

// ───────────────────────────── generators ─────────────────────────────

/** Namespace names: the usual ones, reserved ones, and odd ones. */
const NAMESPACES = ['user', 'session', 'item', 'meta', 'fatigue', 'extra', 'id', 'ü名', ''] as const;
const nsName = fc.oneof(
  { arbitrary: fc.constantFrom('user', 'session', 'item', 'meta'), weight: 12 },
  { arbitrary: fc.constantFrom(...NAMESPACES), weight: 1 },
);

const text = (maxLength: number, minLength = 0): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.string({ minLength, maxLength }), weight: 6 },
    { arbitrary: fc.string({ unit: 'binary', minLength, maxLength }), weight: 2 }, // any code point, lone surrogates too
    { arbitrary: fc.constantFrom('a', 'b', 'x', 'pop', '北京', 'é', '\ud800', '😀', 'a^b', 'k=v', '*'), weight: 3 },
  );

/** Feature keys; with `junk`, empty and over-long ones too. */
const keyOf = (junk: boolean): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: text(6, junk ? 0 : 1), weight: 10 },
    { arbitrary: fc.constantFrom('age', 'device', 'tags', 'price', '__proto__', 'constructor'), weight: 2 },
    { arbitrary: fc.constant('x'.repeat(12)), weight: junk ? 1 : 0 },
  );

/** Edge numbers: signed zeros, extremes that overflow in products and collision sums, subnormals. */
const edgeNumber = fc.constantFrom(
  0,
  -0,
  1,
  -1,
  0.5,
  -2,
  3,
  1e-200,
  5e-324,
  1e154,
  1e200,
  -1e200,
  1.7976931348623157e308,
  -1.7976931348623157e308,
  2 ** 53,
  -(2 ** 31),
);
const finite = fc.oneof(
  { arbitrary: edgeNumber, weight: 3 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 2 },
  { arbitrary: fc.integer({ min: -5, max: 5 }), weight: 3 },
);
const validValue = fc.oneof(
  { arbitrary: finite, weight: 5 },
  { arbitrary: text(5), weight: 5 },
  { arbitrary: fc.boolean(), weight: 2 },
  { arbitrary: fc.array(text(4), { maxLength: 4 }), weight: 2 },
  { arbitrary: fc.constant(undefined), weight: 1 },
);
/** Values the featurizer rejects (or that hit a limit). */
const invalidValue = fc.oneof(
  fc.constantFrom<unknown>(NaN, Infinity, -Infinity, null, {}, { a: 1 }, [1], ['a', 2], ['a', null], 'y'.repeat(40)),
  fc.array(fc.constant('z'.repeat(40)), { minLength: 1, maxLength: 2 }),
);

const namespaceOf = (key: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>, maxKeys: number): fc.Arbitrary<Namespace> =>
  fc.dictionary(key, value, { maxKeys }) as fc.Arbitrary<Namespace>;

interface Request {
  readonly context: NamespacedFeatures;
  readonly candidates: readonly Candidate[];
  readonly extra: ReadonlyArray<Namespace | undefined> | undefined;
}

/** `base`, or with `junk` > 0 also `bad` at relative weight junk : 60. */
function mixed<T>(junk: number, base: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>, weight = 60): fc.Arbitrary<T> {
  if (junk === 0) return base;
  return fc.oneof({ arbitrary: base, weight }, { arbitrary: bad as fc.Arbitrary<T>, weight: junk });
}

/** A request; `junk` > 0 mixes in invalid values, names and shapes at that relative weight. */
function request(junk: number): fc.Arbitrary<Request> {
  const value = mixed(junk, validValue, invalidValue);
  const key = keyOf(junk > 0);
  const ns = namespaceOf(key, value, 5);
  // Valid requests keep context and candidate namespaces apart (a shared name is a conflict).
  const ctxNames = junk > 0 ? nsName : fc.constantFrom('user', 'session', 'other');
  const candNames = junk > 0 ? nsName : fc.constantFrom('item', 'meta');
  const context = fc.dictionary(ctxNames, ns, { maxKeys: 3 }) as fc.Arbitrary<NamespacedFeatures>;
  const id = mixed(junk, text(6, 1), fc.constantFrom<unknown>(3, null, '', 'i'.repeat(40)), 20);
  const candidate = fc.record(
    { id, features: fc.dictionary(candNames, ns, { maxKeys: 2 }), group: fc.string({ maxLength: 2 }) },
    { requiredKeys: ['id'] },
  ) as fc.Arbitrary<Candidate>;
  const anyCandidate = mixed(junk, candidate, fc.constantFrom<unknown>(null, 'c', [], { id: 'x', features: 3 }), 30);
  const extras = fc.infiniteStream(fc.option(namespaceOf(key, value, 3), { freq: 2 }));
  return fc
    .tuple(context, fc.array(anyCandidate, { maxLength: 5 }), fc.integer({ min: 0, max: 9 }), extras)
    .map(([ctx, candidates, extraMode, extras]) => {
      let extra: Array<Namespace | undefined> | undefined;
      if (extraMode >= 5) {
        // One entry per candidate; with junk, sometimes one too many.
        const len = candidates.length + (junk > 0 && extraMode === 9 ? 1 : 0);
        const it = extras[Symbol.iterator]();
        extra = Array.from({ length: len }, () => it.next().value ?? undefined);
      }
      return { context: ctx, candidates, extra };
    });
}

const pairName = fc.oneof(
  { arbitrary: fc.constantFrom('user', 'session', 'item', 'meta', 'id'), weight: 8 },
  { arbitrary: fc.constantFrom('fatigue', 'extra', 'other'), weight: 2 },
);
/** The default `usual` mostly, a tight limit from `tight` with relative weight 1 : `weight`. */
const limit = (usual: number, weight: number, tight: fc.Arbitrary<number>): fc.Arbitrary<number> =>
  fc.oneof({ arbitrary: fc.constant(usual), weight }, { arbitrary: tight, weight: 1 });

/** A config; `junk` makes the limits tight and lets the extra namespace clash with a request's. */
const configOf = (junk: boolean): fc.Arbitrary<FeaturesConfigInput> =>
  fc.record({
    bits: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 16 })),
    interactions: fc.array(fc.tuple(pairName, pairName), { maxLength: 4 }),
    maxFeatures: limit(512, junk ? 2 : 6, fc.integer({ min: 1, max: 40 })),
    maxStringLength: limit(256, junk ? 2 : 8, fc.integer({ min: 1, max: 6 })),
    maxNamespaces: limit(32, junk ? 2 : 8, fc.integer({ min: 1, max: 4 })),
    itemIdFeature: fc.boolean(),
    extraNamespace: junk ? fc.constantFrom('fatigue', 'extra', 'item', 'user') : fc.constantFrom('fatigue', 'extra'),
  });

// ───────────────────────────── comparison ─────────────────────────────

type Outcome = { ok: true; value: DecisionFeatures } | { ok: false; error: unknown };

function run(f: Featurizer, r: Request): Outcome {
  try {
    return { ok: true, value: f.featurize(r.context, r.candidates, r.extra) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A vector as plain data; values by `Object.is` (so −0 ≠ 0), via their bit patterns. */
function bits(v: SparseVector): { dim: number; nnz: number; indices: number[]; values: string[] } {
  const values: string[] = [];
  const view = new DataView(new ArrayBuffer(8));
  for (let j = 0; j < v.values.length; j++) {
    view.setFloat64(0, v.values[j]!);
    values.push(view.getBigUint64(0).toString(16));
  }
  return { dim: v.dim, nnz: v.nnz, indices: [...v.indices], values };
}

/** How a vector's arrays sit in memory: type, offset, length, buffer size, shared or not. */
function layout(v: SparseVector, shared: SparseVector): unknown {
  return [
    v.indices.constructor.name,
    v.values.constructor.name,
    v.indices.byteOffset,
    v.values.byteOffset,
    v.indices.length,
    v.values.length,
    v.indices.buffer.byteLength,
    v.values.buffer.byteLength,
    v.indices.buffer === shared.indices.buffer,
    v.values.buffer === shared.values.buffer,
    Object.keys(v),
  ];
}

function decision(d: DecisionFeatures): unknown {
  return {
    keys: Object.keys(d),
    dim: d.dim,
    itemIds: [...d.itemIds],
    context: bits(d.context),
    arms: d.arms.map(bits),
    layout: [d.context, ...d.arms].map((v) => layout(v, d.context)),
  };
}

function outcome(o: OutcomeFeatures, from: DecisionFeatures): unknown {
  return {
    keys: Object.keys(o),
    itemId: o.itemId,
    context: bits(o.context),
    arm: bits(o.arm),
    layout: [layout(o.context, from.context), layout(o.arm, from.context), layout(o.arm, o.context)],
  };
}

function errorOf(e: unknown): unknown {
  if (e instanceof FeatureError) return { kind: 'FeatureError', name: e.name, code: e.code, path: e.path, message: e.message };
  if (e instanceof Error) return { kind: e.constructor.name, message: e.message };
  return { kind: 'thrown', e };
}

/** Featurize with both; expect the same result or the same error. @returns whether it succeeded */
function expectSame(cur: Featurizer, ref: Featurizer, r: Request): boolean {
  const a = run(cur, r);
  const b = run(ref, r);
  if (!a.ok || !b.ok) {
    expect(a.ok ? 'ok' : errorOf(a.error)).toEqual(b.ok ? 'ok' : errorOf(b.error));
    return false;
  }
  expect(decision(a.value)).toEqual(decision(b.value));
  for (let i = 0; i < a.value.arms.length; i++) {
    expect(outcome(cur.outcomeFeatures(a.value, i), a.value)).toEqual(outcome(ref.outcomeFeatures(b.value, i), b.value));
  }
  for (const i of [-1, a.value.arms.length, 0.5]) {
    expect(() => cur.outcomeFeatures(a.value, i)).toThrow(`candidate index ${i} outside [0, ${a.value.arms.length})`);
  }
  return true;
}

describe('optimised featurizer equals the frozen reference', () => {
  test('valid requests: identical vectors, item ids and outcome copies, call after call', () => {
    let succeeded = 0;
    fc.assert(
      fc.property(configOf(false), fc.array(request(0), { minLength: 1, maxLength: 4 }), (cfg, requests) => {
        const cur = createFeaturizer(cfg);
        const ref = createReferenceFeaturizer(cfg);
        for (const r of requests) if (expectSame(cur, ref, r)) succeeded++;
        // Again, now that both memos are warm.
        for (const r of requests) expectSame(cur, ref, r);
      }),
      { numRuns: 250 },
    );
    // The limits in `config` reject some; most must go through or the test says little.
    expect(succeeded).toBeGreaterThan(250);
  });

  test('requests with invalid values, names and shapes: identical errors (code, path, message)', () => {
    let failed = 0;
    fc.assert(
      fc.property(configOf(true), fc.array(request(3), { minLength: 1, maxLength: 4 }), (cfg, requests) => {
        const cur = createFeaturizer(cfg);
        const ref = createReferenceFeaturizer(cfg);
        for (const r of requests) if (!expectSame(cur, ref, r)) failed++;
      }),
      { numRuns: 300 },
    );
    expect(failed).toBeGreaterThan(100);
  });

  test('the default config on the serving workload shape, with collisions in a tiny space', () => {
    const item = fc.record({
      topic: fc.constantFrom('t0', 't1', 't2', 't3'),
      brand: fc.constantFrom('b0', 'b1', 'b2'),
      price: fc.integer({ min: 0, max: 100 }),
      tags: fc.array(fc.constantFrom('x', 'y', 'z'), { maxLength: 3 }),
    });
    const body = fc.record({
      user: fc.record({
        age: fc.integer({ min: 18, max: 80 }),
        country: fc.constantFrom('fr', 'de'),
        segment: fc.constantFrom('s0', 's1'),
      }),
      session: fc.record({ hour: fc.integer({ min: 0, max: 23 }), device: fc.constantFrom('ios', 'web') }),
      items: fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), item), { minLength: 1, maxLength: 50 }),
      fatigue: fc.array(fc.option(fc.record({ item: finite, group: finite })), { minLength: 50, maxLength: 50 }),
    });
    fc.assert(
      fc.property(fc.constantFrom(3, 6, 12), fc.array(body, { minLength: 1, maxLength: 3 }), (b, bodies) => {
        const cfg: FeaturesConfigInput = {
          bits: b,
          interactions: [
            ['user', 'item'],
            ['session', 'item'],
            ['fatigue', 'user'],
          ],
        };
        const cur = createFeaturizer(cfg);
        const ref = createReferenceFeaturizer(cfg);
        for (const { user, session, items, fatigue } of bodies) {
          const candidates = items.map(([n, it]) => ({ id: `item${n}`, features: { item: it } }));
          const extra = candidates.map((_, i) => fatigue[i] ?? undefined);
          expectSame(cur, ref, { context: { user, session }, candidates, extra });
          expectSame(cur, ref, { context: { user, session }, candidates, extra: undefined });
        }
      }),
      { numRuns: 100 },
    );
  });

  test('huge values in a 2- to 8-dimensional space: collision sums that overflow or cancel', () => {
    // Few dimensions make collisions certain; these values make sums and products overflow,
    // cancel to zero, or depend on the summation order.
    const big = fc.constantFrom(1.5e308, -1.5e308, 1e308, 1e154, -1e154, 1, -1, 0.1, 0.2, 0.3, -0.3, 2 ** 53, 1e-300);
    const ns = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), big, { maxKeys: 5 }) as fc.Arbitrary<Namespace>;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        ns,
        fc.array(fc.tuple(fc.constantFrom('i', 'j', 'k'), ns), { maxLength: 4 }),
        (b, cross, user, items) => {
          const cfg: FeaturesConfigInput = { bits: b, interactions: cross ? [['user', 'item']] : [] };
          const candidates = items.map(([id, item]) => ({ id, features: { item } }));
          expectSame(createFeaturizer(cfg), createReferenceFeaturizer(cfg), { context: { user }, candidates, extra: undefined });
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** A key `k<n>` whose feature `<ns>^k<n>` lands at `index` of a 2^bits space. */
function keyAt(ns: string, index: number, bits: number, skip: readonly string[] = []): string {
  for (let n = 0; ; n++) {
    const key = `k${n}`;
    if (!skip.includes(key) && (murmur3(`${ns}^${key}`) & (2 ** bits - 1)) === index) return key;
  }
}

describe('error precedence and order (exact cases)', () => {
  /** Both featurizers throw the same error; @returns its message */
  function sameError(cfg: FeaturesConfigInput, r: Request): string {
    const a = run(createFeaturizer(cfg), r);
    const b = run(createReferenceFeaturizer(cfg), r);
    expect(a.ok || b.ok).toBe(false);
    expect(errorOf(a.ok ? undefined : a.error)).toEqual(errorOf(b.ok ? undefined : b.error));
    return (a as { error: FeatureError }).error.message;
  }

  // bits = 1: `^bias` is at index 1 (murmur3 3179 is odd), so the context vector is
  // { 0: 1.5e308, 1: 1 } with one user feature at index 0.
  const cfg: FeaturesConfigInput = { bits: 1, itemIdFeature: false };
  const u0 = keyAt('user', 0, 1);
  const p0 = keyAt('item', 0, 1);
  const q1 = keyAt('item', 1, 1);
  const r1 = keyAt('item', 1, 1, [q1]);
  const context = { user: { [u0]: 1.5e308 } };
  // Enough small features to take the bucket sort (≥ 16 entries) as well as the insertion sort.
  const filler: Record<string, number> = {};
  for (let n = 0; n < 20; n++) filler[`f${n}`] = 2 ** -(n + 1);

  test.each([
    ['few entries', {}],
    ['many entries', filler],
  ])('a colliding part that overflows is reported before a context + part overflow at a lower index (%s)', (_, more) => {
    const item = { [p0]: 1e308, [q1]: 1.5e308, [r1]: 1.5e308, ...more };
    const message = sameError(cfg, { context, candidates: [{ id: 'i', features: { item } }], extra: undefined });
    expect(message).toBe('candidates[0]: colliding features at index 1 sum to Infinity');
  });

  test.each([
    ['few entries', {}],
    ['many entries', filler],
  ])('a context + part overflow alone is reported at its index (%s)', (_, more) => {
    const item = { [p0]: 1e308, [q1]: 1.5e308, ...more };
    const message = sameError(cfg, { context, candidates: [{ id: 'i', features: { item } }], extra: undefined });
    expect(message).toBe('candidates[0]: colliding features at index 0 sum to Infinity');
  });

  test('the first overflowing interaction product is named in the pair order, context side first', () => {
    // Products, pair order (a-major): a·x = 1e20, a·y = ∞ (reported), b·x = ∞, b·y = ∞.
    const r: Request = {
      context: { user: { a: 1e10, b: 1e300 } },
      candidates: [{ id: 'i', features: { item: { x: 1e10, y: 1e300 } } }],
      extra: undefined,
    };
    expect(sameError({ interactions: [['user', 'item']] }, r)).toBe('candidates[0]: interaction user^a*item^y overflows');
    expect(sameError({ interactions: [['item', 'user']] }, r)).toBe('candidates[0]: interaction item^x*user^b overflows');
  });

  test('a row memoised by an earlier candidate still reports the overflow of a later one', () => {
    const r: Request = {
      context: { user: { a: 1e10, b: 2 } },
      candidates: [
        { id: 'i', features: { item: { x: 3 } } },
        { id: 'j', features: { item: { y: 1e300, x: 1e300 } } },
      ],
      extra: undefined,
    };
    expect(sameError({ interactions: [['user', 'item']] }, r)).toBe('candidates[1]: interaction user^a*item^y overflows');
  });
});
