import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createFeaturizer, type Candidate, type Namespace, type SparseVector } from '../../src/features/index.js';

const key = fc.string({ minLength: 1, maxLength: 6 });
const value = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 4 }),
);
const namespace = fc.dictionary(key, value, { maxKeys: 6 }) as fc.Arbitrary<Namespace>;
const input = fc.record({
  bits: fc.integer({ min: 1, max: 14 }),
  user: namespace,
  session: namespace,
  items: fc.array(fc.record({ id: key, item: namespace }), { maxLength: 4 }),
});

function plain(v: SparseVector): [number[], number[]] {
  return [[...v.indices], [...v.values]];
}

function reversedKeys(ns: Namespace): Namespace {
  return Object.fromEntries(Object.entries(ns).reverse());
}

const interactions: [string, string][] = [
  ['user', 'item'],
  ['session', 'item'],
  ['user', 'session'],
];

describe('featurizer properties', () => {
  test('indices are sorted, unique, in [0, dim), values non-zero and finite', () => {
    fc.assert(
      fc.property(input, ({ bits, user, session, items }) => {
        const f = createFeaturizer({ bits, interactions, maxFeatures: 4096 });
        const cands: Candidate[] = items.map(({ id, item }) => ({ id, features: { item } }));
        const d = f.featurize({ user, session }, cands);
        for (const v of [d.context, ...d.arms]) {
          expect(v.dim).toBe(2 ** bits);
          expect(v.indices.length).toBe(v.nnz);
          for (let j = 0; j < v.nnz; j++) {
            const i = v.indices[j]!;
            expect(i >= 0 && i < v.dim).toBe(true);
            if (j > 0) expect(i).toBeGreaterThan(v.indices[j - 1]!);
            expect(v.values[j]).not.toBe(0);
            expect(Number.isFinite(v.values[j]!)).toBe(true);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  test('the same input gives the same output, and permuting keys of a namespace changes nothing', () => {
    fc.assert(
      fc.property(input, ({ bits, user, session, items }) => {
        const f = createFeaturizer({ bits, interactions, maxFeatures: 4096 });
        const g = createFeaturizer({ bits, interactions, maxFeatures: 4096 });
        const cands: Candidate[] = items.map(({ id, item }) => ({ id, features: { item } }));
        const permuted: Candidate[] = items.map(({ id, item }) => ({ id, features: { item: reversedKeys(item) } }));
        const a = f.featurize({ user, session }, cands);
        const b = f.featurize({ user, session }, cands);
        const c = g.featurize({ session: reversedKeys(session), user: reversedKeys(user) }, permuted);
        for (const other of [b, c]) {
          expect(plain(other.context)).toEqual(plain(a.context));
          expect(other.arms.map(plain)).toEqual(a.arms.map(plain));
        }
      }),
      { numRuns: 150 },
    );
  });
});
