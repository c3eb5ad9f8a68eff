import { describe, expect, test } from 'vitest';
import { murmur3 } from '../../../src/core/hash.js';
import {
  createFeaturizer,
  featuresConfigSchema,
  FeatureError,
  FeatureTable,
  Utf8Hasher,
  sparseFromPairs,
  type Candidate,
  type FeatureErrorCode,
  type Namespace,
  type NamespacedFeatures,
  type SparseVector,
} from '../../../src/features/index.js';

/** Index of a documented feature name in a space of 2^bits dims. */
const at = (name: string, bits = 12): number => murmur3(name) & (2 ** bits - 1);

/** The vector the documented scheme gives for these (name, value) pairs. */
function expected(bits: number, pairs: ReadonlyArray<readonly [string, number]>): SparseVector {
  return sparseFromPairs(
    2 ** bits,
    pairs.map(([name, v]) => [at(name, bits), v] as const),
  );
}

function plain(v: SparseVector): { dim: number; entries: [number, number][] } {
  const entries: [number, number][] = [];
  for (let j = 0; j < v.nnz; j++) entries.push([v.indices[j]!, v.values[j]!]);
  return { dim: v.dim, entries };
}

function valueAt(v: SparseVector, index: number): number {
  for (let j = 0; j < v.nnz; j++) if (v.indices[j] === index) return v.values[j]!;
  return 0;
}

function catchFeatureError(fn: () => unknown): FeatureError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FeatureError) return e;
    throw e;
  }
  throw new Error('expected a FeatureError');
}

describe('hashing scheme (golden)', () => {
  // Hard-coded so a change of hash function, seed or naming scheme fails loudly.
  test.each([
    ['^bias', 3179],
    ['user^age', 1334],
    ['user^device=ios', 2048],
    ['^item=i1', 4083],
    ['user^age*item^genre=pop', 1686],
  ])('%s lands at index %d for bits = 12', (name, index) => {
    expect(at(name)).toBe(index);
    const f = createFeaturizer({ interactions: [['user', 'item']] });
    const d = f.featurize({ user: { age: 31, device: 'ios' } }, [
      { id: 'i1', features: { item: { genre: 'pop' } } },
    ]);
    expect(valueAt(d.arms[0]!, index)).not.toBe(0);
  });

  test('the arm vector is exactly the documented features at their murmur3 indices', () => {
    const f = createFeaturizer({ interactions: [['user', 'item']] });
    const d = f.featurize({ user: { age: 31, device: 'ios' } }, [
      { id: 'i1', features: { item: { genre: 'pop' } } },
    ]);
    expect(plain(d.arms[0]!)).toEqual(
      plain(
        expected(12, [
          ['^bias', 1],
          ['user^age', 31],
          ['user^device=ios', 1],
          ['item^genre=pop', 1],
          ['^item=i1', 1],
          ['user^age*item^genre=pop', 31],
          ['user^device=ios*item^genre=pop', 1],
        ]),
      ),
    );
    expect(valueAt(d.arms[0]!, 3179)).toBe(1);
    expect(valueAt(d.arms[0]!, 1334)).toBe(31);
    expect(valueAt(d.arms[0]!, 2048)).toBe(1);
    expect(valueAt(d.arms[0]!, 4083)).toBe(1);
    expect(valueAt(d.arms[0]!, 1686)).toBe(31);
  });
});

describe('feature values', () => {
  const f = createFeaturizer({ bits: 16 });

  test('numbers go to ns^key with their value; zero contributes nothing', () => {
    const d = f.featurize({ user: { age: 31.5, debt: -2, zero: 0 } }, []);
    expect(plain(d.context)).toEqual(
      plain(expected(16, [['^bias', 1], ['user^age', 31.5], ['user^debt', -2]])),
    );
  });

  test('strings are one-hot at ns^key=value', () => {
    const d = f.featurize({ session: { page: 'home', empty: '' } }, []);
    expect(plain(d.context)).toEqual(
      plain(expected(16, [['^bias', 1], ['session^page=home', 1], ['session^empty=', 1]])),
    );
  });

  test('true is 1 at ns^key and false contributes nothing', () => {
    const d = f.featurize({ user: { premium: true, trial: false } }, []);
    expect(plain(d.context)).toEqual(plain(expected(16, [['^bias', 1], ['user^premium', 1]])));
  });

  test('string arrays are multi-hot; a duplicate element counts twice', () => {
    const d = f.featurize({ user: { tags: ['jazz', 'folk', 'jazz'], none: [] } }, []);
    expect(plain(d.context)).toEqual(
      plain(expected(16, [['^bias', 1], ['user^tags=jazz', 2], ['user^tags=folk', 1]])),
    );
  });

  test('every vector has the bias; arms have the item id unless itemIdFeature is false', () => {
    const d = f.featurize({}, [{ id: 'a' }, { id: 'b', features: {} }]);
    expect(plain(d.context)).toEqual(plain(expected(16, [['^bias', 1]])));
    expect(plain(d.arms[0]!)).toEqual(plain(expected(16, [['^bias', 1], ['^item=a', 1]])));
    expect(plain(d.arms[1]!)).toEqual(plain(expected(16, [['^bias', 1], ['^item=b', 1]])));
    const noId = createFeaturizer({ bits: 16, itemIdFeature: false }).featurize({}, [{ id: 'a' }]);
    expect(plain(noId.arms[0]!)).toEqual(plain(expected(16, [['^bias', 1]])));
  });

  test('non-ASCII names hash their UTF-8 bytes', () => {
    const d = f.featurize({ user: { city: '北京' } }, []);
    expect(valueAt(d.context, at('user^city=北京', 16))).toBe(1);
  });

  test('undefined values are skipped like absent keys', () => {
    const ns = { age: 3, gone: undefined } as unknown as Namespace;
    const d = f.featurize({ user: ns }, []);
    expect(plain(d.context)).toEqual(plain(expected(16, [['^bias', 1], ['user^age', 3]])));
  });
});

describe('interactions', () => {
  test('cross every feature of A with every feature of B with the product of values', () => {
    const f = createFeaturizer({ bits: 18, interactions: [['user', 'item'], ['session', 'item']] });
    const d = f.featurize({ user: { age: 3, device: 'ios' }, session: { hour: 0.5 } }, [
      { id: 'x', features: { item: { price: -2, genre: 'pop' } } },
    ]);
    expect(plain(d.arms[0]!)).toEqual(
      plain(
        expected(18, [
          ['^bias', 1],
          ['user^age', 3],
          ['user^device=ios', 1],
          ['session^hour', 0.5],
          ['item^price', -2],
          ['item^genre=pop', 1],
          ['^item=x', 1],
          ['user^age*item^price', -6],
          ['user^age*item^genre=pop', 3],
          ['user^device=ios*item^price', -2],
          ['user^device=ios*item^genre=pop', 1],
          ['session^hour*item^price', -1],
          ['session^hour*item^genre=pop', 0.5],
        ]),
      ),
    );
  });

  test('context × context interactions belong to the context vector (and so to every arm)', () => {
    const f = createFeaturizer({ bits: 18, interactions: [['user', 'session']] });
    const d = f.featurize({ user: { age: 2 }, session: { hour: 3 } }, [{ id: 'x' }]);
    const ctx = expected(18, [
      ['^bias', 1],
      ['user^age', 2],
      ['session^hour', 3],
      ['user^age*session^hour', 6],
    ]);
    expect(plain(d.context)).toEqual(plain(ctx));
    expect(valueAt(d.arms[0]!, at('user^age*session^hour', 18))).toBe(6);
  });

  test('the id pseudo-namespace gives per-item copies of the user features', () => {
    const f = createFeaturizer({ bits: 18, interactions: [['user', 'id']] });
    const d = f.featurize({ user: { age: 2, device: 'ios' } }, [{ id: 'x' }, { id: 'y' }]);
    expect(valueAt(d.arms[0]!, at('user^age*^item=x', 18))).toBe(2);
    expect(valueAt(d.arms[0]!, at('user^device=ios*^item=x', 18))).toBe(1);
    expect(valueAt(d.arms[1]!, at('user^age*^item=y', 18))).toBe(2);
    expect(d.arms[0]!.nnz).toBe(6);
  });

  test('a pair with an absent namespace contributes nothing', () => {
    const f = createFeaturizer({ bits: 18, interactions: [['user', 'item']] });
    const d = f.featurize({ user: { age: 2 } }, [{ id: 'x' }]);
    expect(plain(d.arms[0]!)).toEqual(plain(expected(18, [['^bias', 1], ['user^age', 2], ['^item=x', 1]])));
  });
});

describe('collisions and output shape', () => {
  // Two keys that share an index in a 2^3 space, found from the documented scheme.
  const keys = 'abcdefghijklmnopqrstuvwxyz'.split('');
  const first = keys.find((k) => keys.some((o) => o !== k && at(`u^${o}`, 3) === at(`u^${k}`, 3)))!;
  const second = keys.find((o) => o !== first && at(`u^${o}`, 3) === at(`u^${first}`, 3))!;

  test('colliding features sum', () => {
    const f = createFeaturizer({ bits: 3 });
    const d = f.featurize({ u: { [first]: 2, [second]: 5 } }, []);
    expect(valueAt(d.context, at(`u^${first}`, 3))).toBe(at('^bias', 3) === at(`u^${first}`, 3) ? 8 : 7);
  });

  test('collisions summing to zero are dropped', () => {
    const f = createFeaturizer({ bits: 3 });
    const d = f.featurize({ u: { [first]: 2, [second]: -2 } }, []);
    const idx = at(`u^${first}`, 3);
    expect(valueAt(d.context, idx)).toBe(at('^bias', 3) === idx ? 1 : 0);
    expect([...d.context.values].every((v) => v !== 0)).toBe(true);
  });

  test('indices are sorted and unique, one arm per candidate, ids aligned', () => {
    const f = createFeaturizer({ bits: 5, interactions: [['user', 'item']] });
    const cands: Candidate[] = ['p', 'q', 'r'].map((id) => ({
      id,
      features: { item: { tags: ['a', 'b', 'c', id] } },
    }));
    const d = f.featurize({ user: { a: 1, b: 2, c: 'x', d: true } }, cands);
    expect(d.dim).toBe(32);
    expect(d.itemIds).toEqual(['p', 'q', 'r']);
    expect(d.arms).toHaveLength(3);
    for (const v of [d.context, ...d.arms]) {
      for (let j = 1; j < v.nnz; j++) expect(v.indices[j]!).toBeGreaterThan(v.indices[j - 1]!);
      expect(v.indices.length).toBe(v.nnz);
      expect(v.values.length).toBe(v.nnz);
    }
  });

  test('the context vector holds no item features and does not depend on the candidates', () => {
    const f = createFeaturizer({ bits: 20, interactions: [['user', 'item']] });
    const context = { user: { age: 4 } };
    const a = f.featurize(context, [{ id: 'x', features: { item: { genre: 'pop' } } }]);
    const b = f.featurize(context, []);
    expect(plain(a.context)).toEqual(plain(b.context));
    expect(plain(a.context)).toEqual(plain(expected(20, [['^bias', 1], ['user^age', 4]])));
  });

  test('the same input gives the same output from a fresh featurizer and after hash-memo churn', () => {
    const ctx = { user: { age: 4, tags: ['a', 'b'] } };
    const cands = [{ id: 'x', features: { item: { genre: 'pop' } } }];
    const a = createFeaturizer({ interactions: [['user', 'item']] });
    const first = a.featurize(ctx, cands);
    for (let i = 0; i < 50; i++) a.featurize({ user: { [`k${i}`]: i + 1 } }, []);
    const again = a.featurize(ctx, cands);
    const fresh = createFeaturizer({ interactions: [['user', 'item']] }).featurize(ctx, cands);
    expect(plain(again.arms[0]!)).toEqual(plain(first.arms[0]!));
    expect(plain(fresh.arms[0]!)).toEqual(plain(first.arms[0]!));
  });
});

describe('extra per-candidate namespace (fatigue)', () => {
  test('extra[i] is added to candidate i as the fatigue namespace, usable in interactions', () => {
    const f = createFeaturizer({ bits: 18, interactions: [['fatigue', 'item']] });
    const d = f.featurize(
      {},
      [
        { id: 'x', features: { item: { genre: 'pop' } } },
        { id: 'y', features: { item: { genre: 'pop' } } },
      ],
      [{ ignored: 1.5 }, undefined],
    );
    expect(plain(d.arms[0]!)).toEqual(
      plain(
        expected(18, [
          ['^bias', 1],
          ['item^genre=pop', 1],
          ['^item=x', 1],
          ['fatigue^ignored', 1.5],
          ['fatigue^ignored*item^genre=pop', 1.5],
        ]),
      ),
    );
    expect(plain(d.arms[1]!)).toEqual(
      plain(expected(18, [['^bias', 1], ['item^genre=pop', 1], ['^item=y', 1]])),
    );
    expect(plain(d.context)).toEqual(plain(expected(18, [['^bias', 1]])));
  });

  test('the extra namespace name is configurable', () => {
    const f = createFeaturizer({ bits: 18, extraNamespace: 'memory' });
    const d = f.featurize({}, [{ id: 'x' }], [{ dismissed: 2 }]);
    expect(valueAt(d.arms[0]!, at('memory^dismissed', 18))).toBe(2);
  });
});

describe('maxFeatures counts after interactions', () => {
  // bias + 2 user + 2 item + id + 2·2 interactions = 10 features in the arm.
  const ctx = { user: { a: 1, b: 2 } };
  const cands = [{ id: 'x', features: { item: { c: 1, d: 1 } } }];
  test('exactly at the limit is accepted', () => {
    const f = createFeaturizer({ maxFeatures: 10, interactions: [['user', 'item']] });
    expect(f.featurize(ctx, cands).arms[0]!.nnz).toBeLessThanOrEqual(10);
  });
  test('one over the limit is rejected with the candidate path', () => {
    const f = createFeaturizer({ maxFeatures: 9, interactions: [['user', 'item']] });
    const e = catchFeatureError(() => f.featurize(ctx, cands));
    expect(e.code).toBe('TOO_MANY_FEATURES');
    expect(e.path).toEqual(['candidates', 0]);
  });
});

describe('validation errors name the path', () => {
  const f = createFeaturizer({ maxStringLength: 8, maxNamespaces: 3, maxFeatures: 6 });
  const big = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`k${i}`, i + 1]));
  test.each<[string, unknown, unknown, unknown, FeatureErrorCode, (string | number)[]]>([
    ['NaN number', { user: { age: NaN } }, [], undefined, 'NON_FINITE_NUMBER', ['context', 'user', 'age']],
    ['infinite number', { user: { age: -Infinity } }, [], undefined, 'NON_FINITE_NUMBER', ['context', 'user', 'age']],
    [
      'infinite item number',
      {},
      [{ id: 'a' }, { id: 'b', features: { item: { price: Infinity } } }],
      undefined,
      'NON_FINITE_NUMBER',
      ['candidates', 1, 'features', 'item', 'price'],
    ],
    ['long string', { user: { city: 'Kathmandu!' } }, [], undefined, 'STRING_TOO_LONG', ['context', 'user', 'city']],
    ['long array element', { user: { t: ['ok', 'way too long'] } }, [], undefined, 'STRING_TOO_LONG', ['context', 'user', 't', 1]],
    ['long key', { user: { 'a-very-long-key': 1 } }, [], undefined, 'STRING_TOO_LONG', ['context', 'user', 'a-very-long-key']],
    ['long item id', {}, [{ id: 'item-123456' }], undefined, 'STRING_TOO_LONG', ['candidates', 0, 'id']],
    ['too many context features', { user: big }, [], undefined, 'TOO_MANY_FEATURES', ['context']],
    [
      'too many arm features',
      { user: { a: 1, b: 1 } },
      [{ id: 'x', features: { item: { c: 1, d: 1, e: 1 } } }],
      undefined,
      'TOO_MANY_FEATURES',
      ['candidates', 0],
    ],
    ['too many context namespaces', { a: {}, b: {}, c: {}, d: {} }, [], undefined, 'TOO_MANY_NAMESPACES', ['context']],
    [
      'too many arm namespaces',
      { a: {}, b: {} },
      [{ id: 'x', features: { c: {} } }],
      [{ n: 1 }],
      'TOO_MANY_NAMESPACES',
      ['candidates', 0, 'features'],
    ],
    ['empty key', { user: { '': 1 } }, [], undefined, 'EMPTY_NAME', ['context', 'user', '']],
    ['empty namespace name', { '': { a: 1 } }, [], undefined, 'EMPTY_NAME', ['context', '']],
    ['empty item id', {}, [{ id: '' }], undefined, 'EMPTY_NAME', ['candidates', 0, 'id']],
    ['nested object', { user: { geo: { city: 'x' } } }, [], undefined, 'UNSUPPORTED_VALUE', ['context', 'user', 'geo']],
    ['null value', { user: { age: null } }, [], undefined, 'UNSUPPORTED_VALUE', ['context', 'user', 'age']],
    ['number in an array', { user: { t: ['a', 3] } }, [], undefined, 'UNSUPPORTED_VALUE', ['context', 'user', 't', 1]],
    ['namespace not an object', { user: 3 }, [], undefined, 'UNSUPPORTED_VALUE', ['context', 'user']],
    ['context not an object', [], [], undefined, 'UNSUPPORTED_VALUE', ['context']],
    ['numeric id', {}, [{ id: 7 }], undefined, 'UNSUPPORTED_VALUE', ['candidates', 0, 'id']],
    ['reserved id namespace', { id: { a: 1 } }, [], undefined, 'RESERVED_NAMESPACE', ['context', 'id']],
    [
      'reserved fatigue namespace',
      {},
      [{ id: 'x', features: { fatigue: { a: 1 } } }],
      undefined,
      'RESERVED_NAMESPACE',
      ['candidates', 0, 'features', 'fatigue'],
    ],
    [
      'candidate namespace clashing with the context',
      { user: { a: 1 } },
      [{ id: 'x', features: { user: { b: 1 } } }],
      undefined,
      'NAMESPACE_CONFLICT',
      ['candidates', 0, 'features', 'user'],
    ],
    ['bad extra value', {}, [{ id: 'x' }], [{ n: NaN }], 'NON_FINITE_NUMBER', ['extra', 0, 'n']],
    ['extra of the wrong length', {}, [{ id: 'x' }], [], 'INVALID_EXTRA', ['extra']],
  ])('%s', (_name, context, candidates, extra, code, path) => {
    const e = catchFeatureError(() =>
      f.featurize(
        context as NamespacedFeatures,
        candidates as Candidate[],
        extra as ReadonlyArray<Namespace | undefined> | undefined,
      ),
    );
    expect(e.code).toBe(code);
    expect(e.path).toEqual(path);
    expect(e.message.length).toBeGreaterThan(0);
  });

  test('the message starts with the dotted path', () => {
    const e = catchFeatureError(() => f.featurize({ user: { age: NaN } }, []));
    expect(e.message).toMatch(/^context\.user\.age: /);
  });

  test('an interaction product that overflows is rejected', () => {
    const g = createFeaturizer({ interactions: [['u', 'item']] });
    const e = catchFeatureError(() =>
      g.featurize({ u: { a: 1e200 } }, [{ id: 'x', features: { item: { b: 1e200 } } }]),
    );
    expect(e.code).toBe('NON_FINITE_NUMBER');
    expect(e.path).toEqual(['candidates', 0]);
  });
});

describe('outcomeFeatures', () => {
  test('returns the item id, the shared context and the arm of candidate i', () => {
    const f = createFeaturizer();
    const d = f.featurize({ user: { a: 1 } }, [{ id: 'x' }, { id: 'y' }]);
    const o = f.outcomeFeatures(d, 1);
    expect(o.itemId).toBe('y');
    expect(plain(o.context)).toEqual(plain(d.context));
    expect(plain(o.arm)).toEqual(plain(d.arms[1]!));
    // Compact copies, not views of the decision's shared buffers.
    expect(o.arm.indices.buffer).not.toBe(d.arms[1]!.indices.buffer);
    expect(o.arm.indices.length).toBe(o.arm.nnz);
  });
  test.each([-1, 2, 0.5])('rejects index %d', (i) => {
    const f = createFeaturizer();
    const d = f.featurize({}, [{ id: 'x' }, { id: 'y' }]);
    expect(() => f.outcomeFeatures(d, i)).toThrow(RangeError);
  });
});

describe('featuresConfigSchema', () => {
  test('defaults', () => {
    expect(featuresConfigSchema.parse({})).toEqual({
      bits: 12,
      interactions: [],
      maxFeatures: 512,
      maxStringLength: 256,
      maxNamespaces: 32,
      itemIdFeature: true,
      extraNamespace: 'fatigue',
    });
    expect(createFeaturizer().dim).toBe(4096);
  });
  test.each([
    ['bits', { bits: 0 }],
    ['bits', { bits: 25 }],
    ['bits', { bits: 2.5 }],
    ['interactions', { interactions: [['user']] }],
    ['interactions', { interactions: [['user', '']] }],
    ['maxFeatures', { maxFeatures: 0 }],
    ['maxFeatures', { maxFeatures: 70000 }],
    ['maxStringLength', { maxStringLength: 0 }],
    ['maxNamespaces', { maxNamespaces: 0 }],
    ['itemIdFeature', { itemIdFeature: 'yes' }],
    ['extraNamespace', { extraNamespace: 'id' }],
    ['extraNamespace', { extraNamespace: '' }],
  ])('rejects a bad %s', (field, input) => {
    const r = featuresConfigSchema.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path[0]).toBe(field);
  });
  test('rejects unknown fields', () => {
    const r = featuresConfigSchema.safeParse({ bitz: 3 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.code).toBe('unrecognized_keys');
  });
});

describe('FeatureTable', () => {
  test('hashes equal murmur3 of the documented names, and survive clearing', () => {
    const t = new FeatureTable(3);
    const keys = t.keysOf('user');
    const age = t.plain(keys, 'user', 'age');
    const city = t.valued(keys, 'user', 'city', '北京');
    const item = t.item('x');
    const bias = t.named('^bias');
    expect(t.hashOf(age)).toBe(murmur3('user^age'));
    expect(t.hashOf(city)).toBe(murmur3('user^city=北京'));
    expect(t.hashOf(item)).toBe(murmur3('^item=x'));
    expect(t.hashOf(bias)).toBe(murmur3('^bias'));
    expect(t.nameOf(city)).toBe('user^city=北京');
    expect(t.plain(keys, 'user', 'age')).toBe(age);
    expect(t.pairHash(age, city)).toBe(murmur3('user^age*user^city=北京'));
    expect(t.pairHash(age, city)).toBe(murmur3('user^age*user^city=北京'));
    expect(t.pairHash(city, age)).toBe(murmur3('user^city=北京*user^age'));
    expect(t.entries).toBe(6);
    t.reserve();
    expect(t.entries).toBe(0);
    const again = t.plain(t.keysOf('user'), 'user', 'age');
    expect(t.hashOf(again)).toBe(murmur3('user^age'));
  });

  test('the pair table stays exact through growth', () => {
    const t = new FeatureTable();
    const ids = Array.from({ length: 60 }, (_, i) => t.named(`f${i}`));
    for (const a of ids) for (const b of ids) t.pairHash(a, b);
    for (const a of ids) {
      for (const b of ids) expect(t.pairHash(a, b)).toBe(murmur3(`f${a}*f${b}`));
    }
  });

  test('Utf8Hasher equals murmur3 for long and non-ASCII text', () => {
    const h = new Utf8Hasher();
    for (const s of ['', 'a', 'é留白', 'x'.repeat(5000), '\ud800 lone surrogate']) expect(h.hash(s)).toBe(murmur3(s));
  });
});
