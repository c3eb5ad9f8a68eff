/**
 * Shapes shared by the featurizer and the policies. A hashed feature vector is sparse: sorted,
 * de-duplicated indices in [0, dim) with their values.
 */

/** A sparse vector: `indices` strictly increasing in [0, dim), `values` aligned, `nnz` entries used. */
export interface SparseVector {
  readonly dim: number;
  readonly nnz: number;
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/** Namespaced JSON features: `{ user: { age: 31, device: "ios" }, session: { ... } }`. */
export type FeatureValue = number | string | boolean | readonly string[];
export type Namespace = Readonly<Record<string, FeatureValue>>;
export type NamespacedFeatures = Readonly<Record<string, Namespace>>;

/** Something that can be recommended. */
export interface Candidate {
  readonly id: string;
  readonly features?: NamespacedFeatures;
  readonly group?: string;
}

/**
 * Everything a policy needs to score the candidates of one decision.
 * - `context`: bias + context namespaces only (what `disjoint` per-item posteriors regress on);
 * - `arms[i]`: the full joint vector of candidate i (bias, context, item features, item id,
 *   configured interactions, fatigue features).
 * Both live in the same hashed space of `dim = 2^bits` dimensions.
 */
export interface DecisionFeatures {
  readonly dim: number;
  readonly itemIds: readonly string[];
  readonly context: SparseVector;
  readonly arms: readonly SparseVector[];
}

/** The features one outcome is learned from: what was shown, in which situation. */
export interface OutcomeFeatures {
  readonly itemId: string;
  readonly context: SparseVector;
  readonly arm: SparseVector;
}

/** Dot product of a dense vector with a sparse one. */
export function sparseDot(dense: ArrayLike<number>, x: SparseVector): number {
  let s = 0;
  const idx = x.indices;
  const val = x.values;
  for (let j = 0; j < x.nnz; j++) s += dense[idx[j]!]! * val[j]!;
  return s;
}

/** Build a {@link SparseVector} from index→value pairs (summing duplicates, dropping zeros). */
export function sparseFromPairs(dim: number, pairs: Iterable<readonly [number, number]>): SparseVector {
  const acc = new Map<number, number>();
  for (const [i, v] of pairs) {
    if (!Number.isInteger(i) || i < 0 || i >= dim) throw new RangeError(`index ${i} outside [0, ${dim})`);
    acc.set(i, (acc.get(i) ?? 0) + v);
  }
  const keys = [...acc.keys()].filter((k) => acc.get(k) !== 0).sort((a, b) => a - b);
  const indices = new Int32Array(keys.length);
  const values = new Float64Array(keys.length);
  keys.forEach((k, j) => {
    indices[j] = k;
    values[j] = acc.get(k)!;
  });
  return { dim, nnz: keys.length, indices, values };
}
