/**
 * FROZEN REFERENCE — do not optimise or edit. A verbatim copy of src/features/featurizer.ts as it
 * was before the hot-path rewrite (only import paths changed and `createFeaturizer` renamed
 * `createReferenceFeaturizer`), so the property tests and test/bench/featurize.bench.ts can check
 * that the current featurizer gives bit-identical output, errors included.
 */
/**
 * Hashed namespaced features: turns a request's context and candidates into the sparse vectors
 * of {@link DecisionFeatures} (the "hashing trick", Weinberger et al. 2009, with Vowpal-Wabbit
 * style namespaces and quadratic interactions).
 *
 * Naming scheme (every name is hashed with `murmur3` of src/core/hash.ts, seed 0, over its UTF-8
 * bytes; index = hash & (dim − 1)):
 *
 * | input                                   | feature name          | value      |
 * | --------------------------------------- | --------------------- | ---------- |
 * | number `ns.key = v` (v ≠ 0)             | `ns^key`              | v          |
 * | string `ns.key = "s"`                   | `ns^key=s`            | 1          |
 * | boolean `ns.key = true` (false: none)   | `ns^key`              | 1          |
 * | string array `ns.key = ["a", "b"]`      | `ns^key=a`, `ns^key=b`| 1 each     |
 * | bias (every vector)                     | `^bias`               | 1          |
 * | item id (arm vectors, `itemIdFeature`)  | `^item=<id>`          | 1          |
 * | interaction `[A, B]`, a ∈ A, b ∈ B      | `<name a>*<name b>`   | v_a · v_b  |
 *
 * The pseudo-namespace `id` holds the single feature `^item=<id>`, so the interaction
 * `["user", "id"]` gives every item its own copy of the user features. Nested objects are
 * rejected (not flattened): flatten them on the client (`"geo.city"`) or use another namespace.
 * `undefined` values are skipped; `null` is rejected. Duplicate array elements count twice.
 * Namespace names `id` and the extra namespace (`fatigue`) are reserved in requests, and a
 * candidate namespace may not repeat a context namespace (both would be ambiguous in
 * interactions).
 *
 * `context` holds the bias, the context namespaces and interactions between two context
 * namespaces; `arms[i]` adds candidate i's namespaces, its extra (fatigue) namespace, its item
 * id and every interaction with at least one candidate-side namespace. Collisions sum; the
 * output indices are sorted and unique and zero sums are dropped.
 *
 * Performance: the context is hashed once per call and merged into every arm; feature hashes are
 * memoised by their parts ({@link FeatureTable}), so a warm call builds no name strings; all
 * vectors of one call share two typed arrays (views), because allocating a typed array costs
 * far more than filling it. Measured (k = 50 candidates, 11 context + ~9 item features, two
 * interactions, ≈ 134 features per arm; shared 2-core machine under load): ≈ 0.4–0.6 ms CPU per
 * call, down from ≈ 1.6 ms for the first version (string-keyed memo, `TypedArray.sort`, one
 * allocation per vector).
 */
import { ID_NAMESPACE, featuresConfigSchema, type FeaturesConfig, type FeaturesConfigInput } from '../../../src/features/config.js';
import { FeatureError } from '../../../src/features/errors.js';
import { FeatureTable } from '../../../src/features/hash-cache.js';
import type {
  Candidate,
  DecisionFeatures,
  Namespace,
  NamespacedFeatures,
  OutcomeFeatures,
  SparseVector,
} from '../../../src/features/types.js';

/** Name of the bias feature, present (value 1) in every vector. */
export const BIAS_FEATURE = '^bias';

/** Name of the item-id feature of item `id`: `^item=<id>`. */
export function itemFeatureName(id: string): string {
  return `^item=${id}`;
}

/** Features of one namespace of one vector: intern ids and values, in input order. */
interface NsFeatures {
  readonly ids: number[];
  readonly values: number[];
}

/** A featurizer built once from a config; reuse it for every rank call of a model. */
export interface Featurizer {
  /** Hashed space size, 2^bits. */
  readonly dim: number;
  /** The parsed config it was built from. */
  readonly config: FeaturesConfig;
  /**
   * Featurize one decision. The returned vectors are views of two arrays shared by the whole
   * decision; treat them as read-only.
   * @param context namespaced features of the current situation
   * @param candidates the items to score; `arms[i]` belongs to `candidates[i]`
   * @param extra optional per-candidate namespace added as `config.extraNamespace` (e.g. the
   *   engine's fatigue memory); `extra[i]` undefined adds nothing. Length must equal the
   *   candidates' length.
   * @throws FeatureError naming the offending path (see {@link FeatureErrorCode})
   */
  featurize(
    context: NamespacedFeatures,
    candidates: readonly Candidate[],
    extra?: ReadonlyArray<Namespace | undefined>,
  ): DecisionFeatures;
  /**
   * The features of candidate `i` of a featurized decision, for learning its outcome. The
   * vectors are compact copies, so holding an outcome until its reward window closes does not
   * keep the whole decision's buffers alive.
   * @throws RangeError when `i` is not a candidate index
   */
  outcomeFeatures(features: DecisionFeatures, i: number): OutcomeFeatures;
}

type Path = ReadonlyArray<string | number>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function copyVector(v: SparseVector): SparseVector {
  return { dim: v.dim, nnz: v.nnz, indices: v.indices.slice(0, v.nnz), values: v.values.slice(0, v.nnz) };
}

class HashedFeaturizer implements Featurizer {
  readonly dim: number;
  readonly config: FeaturesConfig;
  private readonly mask: number;
  private readonly table = new FeatureTable();
  private readonly pairs: ReadonlyArray<readonly [string, string]>;
  // Scratch, reused by every call (featurize is synchronous and not re-entrant).
  /** Emitted (index, value) pairs of the vector being built, in emission order. */
  private readonly emIdx: Int32Array;
  private readonly emVal: Float64Array;
  private n = 0;
  private readonly partIdx: Int32Array;
  private readonly partVal: Float64Array;
  private outIdx: Int32Array;
  private outVal: Float64Array;
  private used = 0;
  private readonly run: Float64Array;
  private readonly sortIdx: Int32Array;
  private readonly sortVal: Float64Array;
  private readonly counts: Int32Array;
  private readonly bucketShift: number;

  constructor(config: FeaturesConfig) {
    this.config = config;
    this.dim = 2 ** config.bits;
    this.mask = this.dim - 1;
    this.pairs = config.interactions.map(([a, b]) => [a, b] as const);
    const cap = config.maxFeatures;
    this.emIdx = new Int32Array(cap);
    this.emVal = new Float64Array(cap);
    this.partIdx = new Int32Array(cap);
    this.partVal = new Float64Array(cap);
    this.outIdx = new Int32Array(4096);
    this.outVal = new Float64Array(4096);
    this.run = new Float64Array(cap);
    this.sortIdx = new Int32Array(cap);
    this.sortVal = new Float64Array(cap);
    this.bucketShift = Math.max(0, config.bits - 8);
    this.counts = new Int32Array(2 ** (config.bits - this.bucketShift) + 1);
  }

  featurize(
    context: NamespacedFeatures,
    candidates: readonly Candidate[],
    extra?: ReadonlyArray<Namespace | undefined>,
  ): DecisionFeatures {
    const cfg = this.config;
    if (!isPlainObject(context)) {
      throw new FeatureError('UNSUPPORTED_VALUE', ['context'], 'context must be an object of namespaces');
    }
    if (!Array.isArray(candidates)) {
      throw new FeatureError('UNSUPPORTED_VALUE', ['candidates'], 'candidates must be an array');
    }
    if (extra !== undefined && (!Array.isArray(extra) || extra.length !== candidates.length)) {
      throw new FeatureError('INVALID_EXTRA', ['extra'], `extra must have one entry per candidate (${candidates.length})`);
    }
    this.table.reserve();

    // Context: hashed once, shared by every arm.
    const ctxNames = Object.keys(context);
    if (ctxNames.length > cfg.maxNamespaces) {
      throw new FeatureError(
        'TOO_MANY_NAMESPACES',
        ['context'],
        `${ctxNames.length} namespaces, at most ${cfg.maxNamespaces} allowed`,
      );
    }
    const ctx = new Map<string, NsFeatures>();
    let ctxCount = 1;
    for (const ns of ctxNames) {
      const path = ['context', ns];
      this.checkNamespaceName(ns, path);
      const f = this.readNamespace(ns, context[ns], path, ['context'], ctxCount);
      ctx.set(ns, f);
      ctxCount += f.ids.length;
    }
    for (const [a, b] of this.pairs) {
      const A = ctx.get(a);
      const B = ctx.get(b);
      if (A !== undefined && B !== undefined) ctxCount += A.ids.length * B.ids.length;
    }
    if (ctxCount > cfg.maxFeatures) throw this.tooMany(['context'], ctxCount);

    this.n = 0;
    this.emit(this.table.hashOf(this.table.named(BIAS_FEATURE)), 1);
    for (const f of ctx.values()) this.emitAll(f);
    for (const [a, b] of this.pairs) {
      const A = ctx.get(a);
      const B = ctx.get(b);
      if (A !== undefined && B !== undefined) this.emitCross(A, B, ['context']);
    }
    const ctxLen = this.finish(['context']);
    this.used = 0;
    this.reserveOut(ctxLen);
    this.outIdx.set(this.partIdx.subarray(0, ctxLen), 0);
    this.outVal.set(this.partVal.subarray(0, ctxLen), 0);
    this.used = ctxLen;

    const k = candidates.length;
    const itemIds: string[] = new Array<string>(k);
    const offsets = new Array<number>(k + 1);
    offsets[0] = ctxLen;
    for (let i = 0; i < k; i++) {
      itemIds[i] = this.arm(i, candidates[i], extra?.[i], ctx, ctxNames.length, ctxCount, ctxLen);
      offsets[i + 1] = this.used;
    }

    // One allocation per array for the whole decision; every vector is a view.
    const indices = this.outIdx.slice(0, this.used);
    const values = this.outVal.slice(0, this.used);
    const view = (from: number, to: number): SparseVector => ({
      dim: this.dim,
      nnz: to - from,
      indices: indices.subarray(from, to),
      values: values.subarray(from, to),
    });
    const arms: SparseVector[] = new Array<SparseVector>(k);
    for (let i = 0; i < k; i++) arms[i] = view(offsets[i]!, offsets[i + 1]!);
    return { dim: this.dim, itemIds, context: view(0, ctxLen), arms };
  }

  outcomeFeatures(features: DecisionFeatures, i: number): OutcomeFeatures {
    const arm = Number.isInteger(i) ? features.arms[i] : undefined;
    const itemId = Number.isInteger(i) ? features.itemIds[i] : undefined;
    if (arm === undefined || itemId === undefined) {
      throw new RangeError(`candidate index ${i} outside [0, ${features.arms.length})`);
    }
    return { itemId, context: copyVector(features.context), arm: copyVector(arm) };
  }

  /** Featurize candidate i and append its merged arm vector to the output buffer. */
  private arm(
    i: number,
    cand: unknown,
    extraNs: Namespace | undefined,
    ctx: ReadonlyMap<string, NsFeatures>,
    ctxNamespaces: number,
    ctxCount: number,
    ctxLen: number,
  ): string {
    const cfg = this.config;
    const cp: Path = ['candidates', i];
    if (!isPlainObject(cand)) throw new FeatureError('UNSUPPORTED_VALUE', cp, 'a candidate must be an object');
    const id = cand['id'];
    if (typeof id !== 'string') {
      throw new FeatureError('UNSUPPORTED_VALUE', [...cp, 'id'], 'the candidate id must be a string');
    }
    this.checkName(id, cp, 'id', 'item id');
    const rawFeatures = cand['features'];
    if (rawFeatures !== undefined && !isPlainObject(rawFeatures)) {
      throw new FeatureError('UNSUPPORTED_VALUE', [...cp, 'features'], 'candidate features must be an object of namespaces');
    }
    const feats: Record<string, unknown> = rawFeatures ?? {};
    const nsNames = Object.keys(feats);
    const nsCount = ctxNamespaces + nsNames.length + (extraNs !== undefined ? 1 : 0);
    if (nsCount > cfg.maxNamespaces) {
      throw new FeatureError(
        'TOO_MANY_NAMESPACES',
        [...cp, 'features'],
        `${nsCount} namespaces with the context's, at most ${cfg.maxNamespaces} allowed`,
      );
    }

    const own = new Map<string, NsFeatures>();
    let count = ctxCount + (cfg.itemIdFeature ? 1 : 0);
    for (const ns of nsNames) {
      const path = [...cp, 'features', ns];
      this.checkNamespaceName(ns, path);
      if (ctx.has(ns)) {
        throw new FeatureError('NAMESPACE_CONFLICT', path, `namespace "${ns}" is already a context namespace`);
      }
      const f = this.readNamespace(ns, feats[ns], path, cp, count);
      own.set(ns, f);
      count += f.ids.length;
    }
    if (extraNs !== undefined) {
      const f = this.readNamespace(cfg.extraNamespace, extraNs, ['extra', i], cp, count);
      own.set(cfg.extraNamespace, f);
      count += f.ids.length;
    }
    const itemId = this.table.item(id);
    const idF: NsFeatures = { ids: [itemId], values: [1] };

    for (const [a, b] of this.pairs) {
      if (ctx.has(a) && ctx.has(b)) continue; // already in the context vector
      const A = ctx.get(a) ?? own.get(a) ?? (a === ID_NAMESPACE ? idF : undefined);
      const B = ctx.get(b) ?? own.get(b) ?? (b === ID_NAMESPACE ? idF : undefined);
      if (A !== undefined && B !== undefined) count += A.ids.length * B.ids.length;
    }
    if (count > cfg.maxFeatures) throw this.tooMany(cp, count);

    this.n = 0;
    for (const f of own.values()) this.emitAll(f);
    if (cfg.itemIdFeature) this.emit(this.table.hashOf(itemId), 1);
    for (const [a, b] of this.pairs) {
      if (ctx.has(a) && ctx.has(b)) continue;
      const A = ctx.get(a) ?? own.get(a) ?? (a === ID_NAMESPACE ? idF : undefined);
      const B = ctx.get(b) ?? own.get(b) ?? (b === ID_NAMESPACE ? idF : undefined);
      if (A !== undefined && B !== undefined) this.emitCross(A, B, cp);
    }
    const partLen = this.finish(cp);
    this.mergeContext(ctxLen, partLen, cp);
    return id;
  }

  /** Read one namespace object into interned features, validating every value. */
  private readNamespace(ns: string, raw: unknown, path: Path, vecPath: Path, already: number): NsFeatures {
    if (!isPlainObject(raw)) {
      throw new FeatureError('UNSUPPORTED_VALUE', path, 'a namespace must be an object of features');
    }
    const table = this.table;
    const keys = table.keysOf(ns);
    const room = this.config.maxFeatures - already;
    const maxLen = this.config.maxStringLength;
    const ids: number[] = [];
    const values: number[] = [];
    for (const key of Object.keys(raw)) {
      this.checkName(key, path, key, 'feature key');
      const v = raw[key];
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) {
          throw new FeatureError('NON_FINITE_NUMBER', [...path, key], `number must be finite, got ${v}`);
        }
        if (v === 0) continue;
        if (ids.length >= room) throw this.tooMany(vecPath, already + ids.length + 1);
        ids.push(table.plain(keys, ns, key));
        values.push(v);
      } else if (typeof v === 'string') {
        if (v.length > maxLen) throw this.tooLong([...path, key], v.length);
        if (ids.length >= room) throw this.tooMany(vecPath, already + ids.length + 1);
        ids.push(table.valued(keys, ns, key, v));
        values.push(1);
      } else if (typeof v === 'boolean') {
        if (!v) continue;
        if (ids.length >= room) throw this.tooMany(vecPath, already + ids.length + 1);
        ids.push(table.plain(keys, ns, key));
        values.push(1);
      } else if (Array.isArray(v)) {
        for (let j = 0; j < v.length; j++) {
          const s: unknown = v[j];
          if (typeof s !== 'string') {
            throw new FeatureError('UNSUPPORTED_VALUE', [...path, key, j], 'array elements must be strings');
          }
          if (s.length > maxLen) throw this.tooLong([...path, key, j], s.length);
          if (ids.length >= room) throw this.tooMany(vecPath, already + ids.length + 1);
          ids.push(table.valued(keys, ns, key, s));
          values.push(1);
        }
      } else if (v !== undefined) {
        throw new FeatureError(
          'UNSUPPORTED_VALUE',
          [...path, key],
          v === null
            ? 'null is not a feature value (omit the key)'
            : 'nested objects are not supported: flatten the key (e.g. "geo.city") or use another namespace',
        );
      }
    }
    return { ids, values };
  }

  /** Reject an empty or over-long name found at `[...parent, last]`. */
  private checkName(name: string, parent: Path, last: string | number, what: string): void {
    if (name === '') throw new FeatureError('EMPTY_NAME', [...parent, last], `${what} must not be empty`);
    if (name.length > this.config.maxStringLength) {
      throw new FeatureError(
        'STRING_TOO_LONG',
        [...parent, last],
        `${what} has ${name.length} characters, at most ${this.config.maxStringLength} allowed`,
      );
    }
  }

  private checkNamespaceName(ns: string, path: Path): void {
    this.checkName(ns, path.slice(0, -1), ns, 'namespace name');
    if (ns === ID_NAMESPACE || ns === this.config.extraNamespace) {
      throw new FeatureError('RESERVED_NAMESPACE', path, `namespace name "${ns}" is reserved`);
    }
  }

  private tooLong(path: Path, length: number): FeatureError {
    return new FeatureError(
      'STRING_TOO_LONG',
      path,
      `string has ${length} characters, at most ${this.config.maxStringLength} allowed`,
    );
  }

  private tooMany(path: Path, count: number): FeatureError {
    return new FeatureError(
      'TOO_MANY_FEATURES',
      path,
      `${count} features (after interactions), at most ${this.config.maxFeatures} allowed`,
    );
  }

  private emit(hash: number, value: number): void {
    const pos = this.n;
    this.emIdx[pos] = hash & this.mask;
    this.emVal[pos] = value;
    this.n = pos + 1;
  }

  private emitAll(f: NsFeatures): void {
    const { ids, values } = f;
    const table = this.table;
    for (let j = 0; j < ids.length; j++) this.emit(table.hashOf(ids[j]!), values[j]!);
  }

  private emitCross(A: NsFeatures, B: NsFeatures, vecPath: Path): void {
    const table = this.table;
    const aIds = A.ids;
    const bIds = B.ids;
    const bVals = B.values;
    for (let a = 0; a < aIds.length; a++) {
      const idA = aIds[a]!;
      const va = A.values[a]!;
      for (let b = 0; b < bIds.length; b++) {
        const v = va * bVals[b]!;
        if (v === 0) continue; // underflow
        if (!Number.isFinite(v)) {
          throw new FeatureError(
            'NON_FINITE_NUMBER',
            vecPath,
            `interaction ${table.nameOf(idA)}*${table.nameOf(bIds[b]!)} overflows`,
          );
        }
        this.emit(table.pairHash(idA, bIds[b]!), v);
      }
    }
  }

  /**
   * Sort the emitted entries by index and sum collisions into partIdx/partVal.
   * Sorting: one counting pass on the top bits of the index (≤ 256 buckets, so a few entries
   * per bucket) then an insertion sort that only fixes order inside buckets — linear in
   * practice, and several times faster than `TypedArray.prototype.sort` on ~100 keys.
   * Colliding values are summed in ascending value order, so the result does not depend on the
   * order of keys in the input (float addition is not associative).
   */
  private finish(vecPath: Path): number {
    const n = this.n;
    const srcIdx = this.emIdx;
    const srcVal = this.emVal;
    const idx = this.sortIdx;
    const val = this.sortVal;
    const counts = this.counts;
    const shift = this.bucketShift;
    counts.fill(0);
    for (let j = 0; j < n; j++) counts[(srcIdx[j]! >>> shift) + 1]!++;
    for (let b = 1; b < counts.length; b++) counts[b]! += counts[b - 1]!;
    for (let j = 0; j < n; j++) {
      const d = srcIdx[j]!;
      const c = counts[d >>> shift]!++;
      idx[c] = d;
      val[c] = srcVal[j]!;
    }
    for (let j = 1; j < n; j++) {
      const d = idx[j]!;
      if (idx[j - 1]! <= d) continue;
      const v = val[j]!;
      let i = j - 1;
      while (i >= 0 && idx[i]! > d) {
        idx[i + 1] = idx[i]!;
        val[i + 1] = val[i]!;
        i--;
      }
      idx[i + 1] = d;
      val[i + 1] = v;
    }

    const outIdx = this.partIdx;
    const outVal = this.partVal;
    const run = this.run;
    let m = 0;
    let j = 0;
    while (j < n) {
      const d = idx[j]!;
      let sum = val[j]!;
      let k = j + 1;
      if (k < n && idx[k] === d) {
        // Collision: sum in ascending value order (insertion sort of a tiny run).
        run[0] = sum;
        let len = 1;
        while (k < n && idx[k] === d) {
          const v = val[k]!;
          let i = len - 1;
          while (i >= 0 && run[i]! > v) {
            run[i + 1] = run[i]!;
            i--;
          }
          run[i + 1] = v;
          len++;
          k++;
        }
        sum = 0;
        for (let r = 0; r < len; r++) sum += run[r]!;
        if (!Number.isFinite(sum)) {
          throw new FeatureError('NON_FINITE_NUMBER', vecPath, `colliding features at index ${d} sum to ${sum}`);
        }
      }
      if (sum !== 0) {
        outIdx[m] = d;
        outVal[m] = sum;
        m++;
      }
      j = k;
    }
    return m;
  }

  /** Append the merge of the context vector (out[0, ctxLen)) and the candidate part. */
  private mergeContext(ctxLen: number, partLen: number, vecPath: Path): void {
    this.reserveOut(ctxLen + partLen);
    const oi = this.outIdx;
    const ov = this.outVal;
    const bi = this.partIdx;
    const bv = this.partVal;
    let a = 0;
    let b = 0;
    let m = this.used;
    while (a < ctxLen && b < partLen) {
      const ia = oi[a]!;
      const ib = bi[b]!;
      let idx: number;
      let v: number;
      if (ia < ib) {
        idx = ia;
        v = ov[a++]!;
      } else if (ib < ia) {
        idx = ib;
        v = bv[b++]!;
      } else {
        idx = ia;
        v = ov[a++]! + bv[b++]!;
        if (!Number.isFinite(v)) {
          throw new FeatureError('NON_FINITE_NUMBER', vecPath, `colliding features at index ${idx} sum to ${v}`);
        }
        if (v === 0) continue;
      }
      oi[m] = idx;
      ov[m] = v;
      m++;
    }
    while (a < ctxLen) {
      oi[m] = oi[a]!;
      ov[m] = ov[a++]!;
      m++;
    }
    while (b < partLen) {
      oi[m] = bi[b]!;
      ov[m] = bv[b++]!;
      m++;
    }
    this.used = m;
  }

  /** Grow the output buffers so `extra` more entries fit after `used`. */
  private reserveOut(extra: number): void {
    const need = this.used + extra;
    if (need <= this.outIdx.length) return;
    const size = Math.max(need, 2 * this.outIdx.length);
    const idx = new Int32Array(size);
    const val = new Float64Array(size);
    idx.set(this.outIdx.subarray(0, this.used));
    val.set(this.outVal.subarray(0, this.used));
    this.outIdx = idx;
    this.outVal = val;
  }
}

/**
 * Build a featurizer from a config (parsed with {@link featuresConfigSchema}; defaults apply).
 * Build it once per model: it owns a bounded hash memo and scratch buffers.
 * @throws ZodError when the config is invalid
 */
export function createReferenceFeaturizer(config: FeaturesConfigInput = {}): Featurizer {
  return new HashedFeaturizer(featuresConfigSchema.parse(config));
}
