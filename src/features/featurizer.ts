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
 * Performance: the context is read and hashed once per call and merged into every arm; feature
 * hashes are memoised by their parts ({@link FeatureTable}), so a warm call builds no name
 * strings; a candidate feature's interaction rows with the context are built once per call and
 * reused by every candidate that has it ({@link CrossRows}); features, emitted entries and the
 * output live in preallocated typed arrays (per candidate only `Object.keys` allocates; error
 * paths are built when thrown); the entries of an arm are bucket-sorted and merged with the
 * context in one pass; all vectors of one call are views of two typed arrays, because
 * allocating a typed array costs far more than filling it. Measured with
 * test/bench/featurize.bench.ts against the previous version (frozen in
 * test/unit/features/reference-featurizer.ts) in the same run, CPU-time medians of two runs on
 * the shared 2-core machine: the HTTP rank request (k = 50, 3 item features, user and session
 * context, user×item and session×item) ≈ 120 → 65 µs (×0.54); the engine bench's request
 * (10 item features, fatigue extras) ≈ 275 → 195 µs (×0.69–0.74); one feedback (k = 1 plus
 * `outcomeFeatures`) ≈ 10–12 → 8–11 µs (×0.83–0.87).
 */
import { murmur3 } from '../core/hash.js';
import { ID_NAMESPACE, featuresConfigSchema, type FeaturesConfig, type FeaturesConfigInput } from './config.js';
import { CrossRows } from './cross-rows.js';
import { FeatureError } from './errors.js';
import { FeatureTable } from './hash-cache.js';
import type {
  Candidate,
  DecisionFeatures,
  Namespace,
  NamespacedFeatures,
  OutcomeFeatures,
  SparseVector,
} from './types.js';

/** Name of the bias feature, present (value 1) in every vector. */
export const BIAS_FEATURE = '^bias';

/** Name of the item-id feature of item `id`: `^item=<id>`. */
export function itemFeatureName(id: string): string {
  return `^item=${id}`;
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

/** The vector being built, for error paths: the context, or candidate `i ≥ 0`. */
const CONTEXT = -1;

/** The namespace names of a candidate without features (shared, never written). */
const NO_NAMES: readonly string[] = [];

/**
 * Fewest emitted entries for which {@link HashedFeaturizer.sortEmitted} sorts by buckets: below
 * it a plain insertion sort is cheaper than clearing and summing the bucket counts.
 */
const BUCKET_SORT_MIN = 16;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function copyVector(v: SparseVector): SparseVector {
  return { dim: v.dim, nnz: v.nnz, indices: v.indices.slice(0, v.nnz), values: v.values.slice(0, v.nnz) };
}

/** Path of vector `vec`: `["context"]` or `["candidates", vec]`. Built only to throw. */
function vectorPath(vec: number): Path {
  return vec === CONTEXT ? ['context'] : ['candidates', vec];
}

/** Path of namespace `ns` of vector `vec` (`extra`: the extra namespace of candidate `vec`). */
function namespacePath(vec: number, ns: string, extra: boolean): Path {
  if (extra) return ['extra', vec];
  return vec === CONTEXT ? ['context', ns] : ['candidates', vec, 'features', ns];
}

class HashedFeaturizer implements Featurizer {
  readonly dim: number;
  readonly config: FeaturesConfig;
  private readonly bits: number;
  private readonly mask: number;
  private readonly table = new FeatureTable();
  private readonly rows = new CrossRows();
  private readonly biasHash: number;
  /** Interactions as parallel arrays of namespace names. */
  private readonly pairA: readonly string[];
  private readonly pairB: readonly string[];
  // Scratch, reused by every call (featurize is synchronous and not re-entrant).
  /** Per call: the context-namespace index of each interaction side, or -1. */
  private readonly pairCtxA: Int32Array;
  private readonly pairCtxB: Int32Array;
  /** Per arm: feature span [start, end) of each interaction side (start −1: absent). */
  private readonly pairSpan: Int32Array;
  /**
   * Per call, the interactions of a context namespace with a candidate namespace ("mixed"),
   * whose rows {@link CrossRows} memoises: `mixCtx[p]` the context side's namespace index (−1:
   * not mixed), `mixFirst[p]` 1 when it is the first side. The rows of one candidate feature
   * for every mixed pair of its namespace (a "group") form one block: pair p's row starts at
   * `rowShift[p]`, the block has `blockLen[p]` entries, and `groupHead`/`groupNext` list the
   * group's pairs in order.
   */
  private readonly mixCtx: Int32Array;
  private readonly mixFirst: Uint8Array;
  private readonly rowShift: Int32Array;
  private readonly blockLen: Int32Array;
  private readonly groupHead: Int32Array;
  private readonly groupNext: Int32Array;
  /**
   * The features read from the request (intern id, value), flat: the context namespaces from 0,
   * then the current candidate's namespaces, then its item-id feature. Namespace `j` of the
   * context holds `[ctxStart[j], ctxStart[j + 1])`, and likewise `ownStart` for the candidate.
   * The count checks keep every position below `maxFeatures`.
   */
  private readonly featId: Int32Array;
  private readonly featVal: Float64Array;
  private readonly ctxStart: Int32Array;
  private readonly ctxIndex = new Map<string, number>();
  private readonly ownNames: string[] = [];
  private readonly ownStart: Int32Array;
  /** Emitted (index, value) pairs of the vector being built, in emission order. */
  private readonly emIdx: Int32Array;
  private readonly emVal: Float64Array;
  private n = 0;
  private readonly partIdx: Int32Array;
  private readonly partVal: Float64Array;
  private outIdx: Int32Array;
  private outVal: Float64Array;
  private used = 0;
  private offsets = new Int32Array(64);
  private readonly run: Float64Array;
  private readonly sortIdx: Int32Array;
  private readonly sortVal: Float64Array;
  private readonly counts: Int32Array;

  constructor(config: FeaturesConfig) {
    this.config = config;
    this.bits = config.bits;
    this.dim = 2 ** config.bits;
    this.mask = this.dim - 1;
    this.biasHash = murmur3(BIAS_FEATURE);
    this.pairA = config.interactions.map(([a]) => a);
    this.pairB = config.interactions.map(([, b]) => b);
    const np = this.pairA.length;
    this.pairCtxA = new Int32Array(np);
    this.pairCtxB = new Int32Array(np);
    this.pairSpan = new Int32Array(4 * np);
    this.mixCtx = new Int32Array(np);
    this.mixFirst = new Uint8Array(np);
    this.rowShift = new Int32Array(np);
    this.blockLen = new Int32Array(np);
    this.groupHead = new Int32Array(np);
    this.groupNext = new Int32Array(np);
    const cap = config.maxFeatures;
    this.featId = new Int32Array(cap + 1);
    this.featVal = new Float64Array(cap + 1);
    this.ctxStart = new Int32Array(config.maxNamespaces + 1);
    this.ownStart = new Int32Array(config.maxNamespaces + 2);
    this.emIdx = new Int32Array(cap);
    this.emVal = new Float64Array(cap);
    this.partIdx = new Int32Array(cap);
    this.partVal = new Float64Array(cap);
    this.outIdx = new Int32Array(4096);
    this.outVal = new Float64Array(4096);
    this.run = new Float64Array(cap);
    this.sortIdx = new Int32Array(cap);
    this.sortVal = new Float64Array(cap);
    // One bucket per entry at most: ⌈log2 cap⌉ bits of the index, never more than it has.
    const bucketBits = Math.min(config.bits, 32 - Math.clz32(Math.max(2, cap) - 1));
    this.counts = new Int32Array(2 ** bucketBits + 1);
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
    this.rows.begin();

    // Context: read and hashed once, shared by every arm.
    const ctxNames = Object.keys(context);
    if (ctxNames.length > cfg.maxNamespaces) {
      throw new FeatureError(
        'TOO_MANY_NAMESPACES',
        ['context'],
        `${ctxNames.length} namespaces, at most ${cfg.maxNamespaces} allowed`,
      );
    }
    const ctxIndex = this.ctxIndex;
    const ctxStart = this.ctxStart;
    ctxIndex.clear();
    let pos = 0;
    let ctxCount = 1;
    for (let j = 0; j < ctxNames.length; j++) {
      const ns = ctxNames[j]!;
      this.checkNamespaceName(ns, CONTEXT);
      const end = this.readNamespace(ns, context[ns], CONTEXT, false, pos, ctxCount);
      ctxIndex.set(ns, j);
      ctxCount += end - pos;
      pos = end;
      ctxStart[j + 1] = end;
    }
    const pairA = this.pairA;
    const pairB = this.pairB;
    const pairCtxA = this.pairCtxA;
    const pairCtxB = this.pairCtxB;
    const np = pairA.length;
    for (let p = 0; p < np; p++) {
      const a = ctxIndex.get(pairA[p]!) ?? -1;
      const b = ctxIndex.get(pairB[p]!) ?? -1;
      pairCtxA[p] = a;
      pairCtxB[p] = b;
      if (a >= 0 && b >= 0) ctxCount += (ctxStart[a + 1]! - ctxStart[a]!) * (ctxStart[b + 1]! - ctxStart[b]!);
    }
    if (ctxCount > cfg.maxFeatures) throw this.tooMany(CONTEXT, ctxCount);
    this.layoutRows();

    this.emIdx[0] = this.biasHash & this.mask;
    this.emVal[0] = 1;
    this.n = 1;
    this.emitFeatures(0, pos);
    for (let p = 0; p < np; p++) {
      const a = pairCtxA[p]!;
      const b = pairCtxB[p]!;
      if (a >= 0 && b >= 0) this.emitCross(ctxStart[a]!, ctxStart[a + 1]!, ctxStart[b]!, ctxStart[b + 1]!, CONTEXT);
    }
    const ctxLen = this.finish(CONTEXT);
    this.used = 0;
    this.reserveOut(ctxLen);
    this.outIdx.set(this.partIdx.subarray(0, ctxLen), 0);
    this.outVal.set(this.partVal.subarray(0, ctxLen), 0);
    this.used = ctxLen;

    const k = candidates.length;
    const itemIds: string[] = new Array<string>(k);
    if (this.offsets.length < k + 1) this.offsets = new Int32Array(Math.max(k + 1, 2 * this.offsets.length));
    const offsets = this.offsets;
    offsets[0] = ctxLen;
    for (let i = 0; i < k; i++) {
      itemIds[i] = this.arm(i, candidates[i], extra?.[i], ctxNames.length, ctxCount, ctxLen, pos);
      offsets[i + 1] = this.used;
    }

    // One allocation per array for the whole decision; every vector is a view.
    const dim = this.dim;
    const indices = this.outIdx.slice(0, this.used);
    const values = this.outVal.slice(0, this.used);
    // Views built with the constructors: `subarray` would give the same views, slower.
    const ib = indices.buffer;
    const vb = values.buffer;
    const arms: SparseVector[] = new Array<SparseVector>(k);
    for (let i = 0; i < k; i++) {
      const from = offsets[i]!;
      const nnz = offsets[i + 1]! - from;
      arms[i] = { dim, nnz, indices: new Int32Array(ib, 4 * from, nnz), values: new Float64Array(vb, 8 * from, nnz) };
    }
    const ctxVector: SparseVector = {
      dim,
      nnz: ctxLen,
      indices: new Int32Array(ib, 0, ctxLen),
      values: new Float64Array(vb, 0, ctxLen),
    };
    return { dim, itemIds, context: ctxVector, arms };
  }

  outcomeFeatures(features: DecisionFeatures, i: number): OutcomeFeatures {
    const arm = Number.isInteger(i) ? features.arms[i] : undefined;
    const itemId = Number.isInteger(i) ? features.itemIds[i] : undefined;
    if (arm === undefined || itemId === undefined) {
      throw new RangeError(`candidate index ${i} outside [0, ${features.arms.length})`);
    }
    return { itemId, context: copyVector(features.context), arm: copyVector(arm) };
  }

  /**
   * Featurize candidate i and append its merged arm vector to the output buffer. The context's
   * features are at feat[0, base); the candidate's go after them.
   */
  private arm(
    i: number,
    cand: unknown,
    extraNs: Namespace | undefined,
    ctxNamespaces: number,
    ctxCount: number,
    ctxLen: number,
    base: number,
  ): string {
    const cfg = this.config;
    if (!isPlainObject(cand)) {
      throw new FeatureError('UNSUPPORTED_VALUE', ['candidates', i], 'a candidate must be an object');
    }
    const id = cand['id'];
    if (typeof id !== 'string') {
      throw new FeatureError('UNSUPPORTED_VALUE', ['candidates', i, 'id'], 'the candidate id must be a string');
    }
    if (!this.nameOk(id)) throw this.badName(id, ['candidates', i, 'id'], 'item id');
    const rawFeatures = cand['features'];
    if (rawFeatures !== undefined && !isPlainObject(rawFeatures)) {
      throw new FeatureError(
        'UNSUPPORTED_VALUE',
        ['candidates', i, 'features'],
        'candidate features must be an object of namespaces',
      );
    }
    const nsNames = rawFeatures === undefined ? NO_NAMES : Object.keys(rawFeatures);
    const nsCount = ctxNamespaces + nsNames.length + (extraNs !== undefined ? 1 : 0);
    if (nsCount > cfg.maxNamespaces) {
      throw new FeatureError(
        'TOO_MANY_NAMESPACES',
        ['candidates', i, 'features'],
        `${nsCount} namespaces with the context's, at most ${cfg.maxNamespaces} allowed`,
      );
    }

    const ownNames = this.ownNames;
    const ownStart = this.ownStart;
    let own = 0;
    let pos = base;
    ownStart[0] = base;
    let count = ctxCount + (cfg.itemIdFeature ? 1 : 0);
    for (let j = 0; j < nsNames.length; j++) {
      const ns = nsNames[j]!;
      this.checkNamespaceName(ns, i);
      if (this.ctxIndex.has(ns)) {
        throw new FeatureError(
          'NAMESPACE_CONFLICT',
          namespacePath(i, ns, false),
          `namespace "${ns}" is already a context namespace`,
        );
      }
      const end = this.readNamespace(ns, rawFeatures![ns], i, false, pos, count);
      count += end - pos;
      pos = end;
      ownNames[own++] = ns;
      ownStart[own] = end;
    }
    if (extraNs !== undefined) {
      const end = this.readNamespace(cfg.extraNamespace, extraNs, i, true, pos, count);
      count += end - pos;
      pos = end;
      ownNames[own++] = cfg.extraNamespace;
      ownStart[own] = end;
    }
    const table = this.table;
    const itemId = table.item(id);
    // The `id` pseudo-namespace: one feature, right after the candidate's own.
    const idPos = pos;
    this.featId[idPos] = itemId;
    this.featVal[idPos] = 1;

    // Resolve each interaction side (context, then own, then `id`) once for counting and emitting.
    const pairA = this.pairA;
    const pairB = this.pairB;
    const pairCtxA = this.pairCtxA;
    const pairCtxB = this.pairCtxB;
    const span = this.pairSpan;
    const ctxStart = this.ctxStart;
    const np = pairA.length;
    for (let p = 0; p < np; p++) {
      const ca = pairCtxA[p]!;
      const cb = pairCtxB[p]!;
      const s = 4 * p;
      if (ca >= 0 && cb >= 0) {
        span[s] = -1; // already in the context vector
        continue;
      }
      if (ca >= 0) {
        span[s] = ctxStart[ca]!;
        span[s + 1] = ctxStart[ca + 1]!;
      } else {
        this.ownSpan(pairA[p]!, own, idPos, s);
      }
      if (cb >= 0) {
        span[s + 2] = ctxStart[cb]!;
        span[s + 3] = ctxStart[cb + 1]!;
      } else {
        this.ownSpan(pairB[p]!, own, idPos, s + 2);
      }
      if (span[s]! >= 0 && span[s + 2]! >= 0) count += (span[s + 1]! - span[s]!) * (span[s + 3]! - span[s + 2]!);
    }
    if (count > cfg.maxFeatures) throw this.tooMany(i, count);

    this.n = 0;
    this.emitFeatures(base, pos);
    if (cfg.itemIdFeature) {
      this.emIdx[this.n] = table.hashOf(itemId) & this.mask;
      this.emVal[this.n++] = 1;
    }
    for (let p = 0; p < np; p++) {
      const s = 4 * p;
      const aFrom = span[s]!;
      const bFrom = span[s + 2]!;
      if (aFrom < 0 || bFrom < 0) continue;
      const aTo = span[s + 1]!;
      const bTo = span[s + 3]!;
      if (this.mixCtx[p]! < 0) this.emitCross(aFrom, aTo, bFrom, bTo, i);
      else if (this.mixFirst[p] === 1) this.emitRows(p, aFrom, aTo, bFrom, bTo, i);
      else this.emitRows(p, bFrom, bTo, aFrom, aTo, i);
    }
    this.finishArm(ctxLen, i);
    return id;
  }

  /**
   * Write into pairSpan[s, s + 2) the features of candidate-side namespace `ns`: one of the
   * candidate's `own` namespaces, else the `id` pseudo-namespace at `idPos`, else absent (−1).
   */
  private ownSpan(ns: string, own: number, idPos: number, s: number): void {
    const span = this.pairSpan;
    const names = this.ownNames;
    for (let q = 0; q < own; q++) {
      if (names[q] === ns) {
        span[s] = this.ownStart[q]!;
        span[s + 1] = this.ownStart[q + 1]!;
        return;
      }
    }
    if (ns === ID_NAMESPACE) {
      span[s] = idPos;
      span[s + 1] = idPos + 1;
    } else {
      span[s] = -1;
    }
  }

  /**
   * Read one namespace object into interned features at feat[pos, …), validating every value.
   * `already` features of the vector come before it. @returns the end position
   */
  private readNamespace(ns: string, raw: unknown, vec: number, extra: boolean, pos: number, already: number): number {
    if (!isPlainObject(raw)) {
      throw new FeatureError('UNSUPPORTED_VALUE', namespacePath(vec, ns, extra), 'a namespace must be an object of features');
    }
    const table = this.table;
    const keys = table.keysOf(ns);
    const featId = this.featId;
    const featVal = this.featVal;
    const end = pos + this.config.maxFeatures - already;
    const maxLen = this.config.maxStringLength;
    let p = pos;
    for (const key of Object.keys(raw)) {
      if (!this.nameOk(key)) throw this.badName(key, [...namespacePath(vec, ns, extra), key], 'feature key');
      const v = raw[key];
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) {
          throw new FeatureError('NON_FINITE_NUMBER', [...namespacePath(vec, ns, extra), key], `number must be finite, got ${v}`);
        }
        if (v === 0) continue;
        if (p >= end) throw this.tooMany(vec, already + (p - pos) + 1);
        featId[p] = table.plain(keys, ns, key);
        featVal[p++] = v;
      } else if (typeof v === 'string') {
        if (v.length > maxLen) throw this.tooLong([...namespacePath(vec, ns, extra), key], v.length);
        if (p >= end) throw this.tooMany(vec, already + (p - pos) + 1);
        featId[p] = table.valued(keys, ns, key, v);
        featVal[p++] = 1;
      } else if (typeof v === 'boolean') {
        if (!v) continue;
        if (p >= end) throw this.tooMany(vec, already + (p - pos) + 1);
        featId[p] = table.plain(keys, ns, key);
        featVal[p++] = 1;
      } else if (Array.isArray(v)) {
        for (let j = 0; j < v.length; j++) {
          const s: unknown = v[j];
          if (typeof s !== 'string') {
            throw new FeatureError(
              'UNSUPPORTED_VALUE',
              [...namespacePath(vec, ns, extra), key, j],
              'array elements must be strings',
            );
          }
          if (s.length > maxLen) throw this.tooLong([...namespacePath(vec, ns, extra), key, j], s.length);
          if (p >= end) throw this.tooMany(vec, already + (p - pos) + 1);
          featId[p] = table.valued(keys, ns, key, s);
          featVal[p++] = 1;
        }
      } else if (v !== undefined) {
        throw new FeatureError(
          'UNSUPPORTED_VALUE',
          [...namespacePath(vec, ns, extra), key],
          v === null
            ? 'null is not a feature value (omit the key)'
            : 'nested objects are not supported: flatten the key (e.g. "geo.city") or use another namespace',
        );
      }
    }
    return p;
  }

  /** Whether a name is non-empty and at most `maxStringLength` long. */
  private nameOk(name: string): boolean {
    return name !== '' && name.length <= this.config.maxStringLength;
  }

  /** The error for a name that failed {@link nameOk}, found at `path`. */
  private badName(name: string, path: Path, what: string): FeatureError {
    if (name === '') return new FeatureError('EMPTY_NAME', path, `${what} must not be empty`);
    return new FeatureError(
      'STRING_TOO_LONG',
      path,
      `${what} has ${name.length} characters, at most ${this.config.maxStringLength} allowed`,
    );
  }

  private checkNamespaceName(ns: string, vec: number): void {
    if (!this.nameOk(ns)) throw this.badName(ns, namespacePath(vec, ns, false), 'namespace name');
    if (ns === ID_NAMESPACE || ns === this.config.extraNamespace) {
      throw new FeatureError('RESERVED_NAMESPACE', namespacePath(vec, ns, false), `namespace name "${ns}" is reserved`);
    }
  }

  private tooLong(path: Path, length: number): FeatureError {
    return new FeatureError(
      'STRING_TOO_LONG',
      path,
      `string has ${length} characters, at most ${this.config.maxStringLength} allowed`,
    );
  }

  private tooMany(vec: number, count: number): FeatureError {
    return new FeatureError(
      'TOO_MANY_FEATURES',
      vectorPath(vec),
      `${count} features (after interactions), at most ${this.config.maxFeatures} allowed`,
    );
  }

  /** Emit the read features feat[from, to) with their own hashes. */
  private emitFeatures(from: number, to: number): void {
    const table = this.table;
    const featId = this.featId;
    const featVal = this.featVal;
    const emIdx = this.emIdx;
    const emVal = this.emVal;
    const mask = this.mask;
    let n = this.n;
    for (let j = from; j < to; j++) {
      emIdx[n] = table.hashOf(featId[j]!) & mask;
      emVal[n++] = featVal[j]!;
    }
    this.n = n;
  }

  /** Emit the interaction of the read features feat[aFrom, aTo) × feat[bFrom, bTo), a-major. */
  private emitCross(aFrom: number, aTo: number, bFrom: number, bTo: number, vec: number): void {
    const table = this.table;
    const featId = this.featId;
    const featVal = this.featVal;
    const emIdx = this.emIdx;
    const emVal = this.emVal;
    const mask = this.mask;
    let n = this.n;
    for (let a = aFrom; a < aTo; a++) {
      const idA = featId[a]!;
      const va = featVal[a]!;
      for (let b = bFrom; b < bTo; b++) {
        const v = va * featVal[b]!;
        if (v === 0) continue; // underflow
        if (!Number.isFinite(v)) {
          throw new FeatureError(
            'NON_FINITE_NUMBER',
            vectorPath(vec),
            `interaction ${table.nameOf(idA)}*${table.nameOf(featId[b]!)} overflows`,
          );
        }
        emIdx[n] = table.pairHash(idA, featId[b]!) & mask;
        emVal[n++] = v;
      }
    }
    this.n = n;
  }

  /**
   * Lay out this call's memoised rows (see {@link mixCtx}): which interactions cross a context
   * namespace with a candidate namespace, and where each one's row sits in a feature's block.
   * The `id` pseudo-namespace is not memoised: its one feature is unique to the candidate.
   */
  private layoutRows(): void {
    const { pairA, pairB, pairCtxA, pairCtxB, mixCtx, mixFirst, rowShift, blockLen, groupHead, groupNext, ctxStart } =
      this;
    const np = pairA.length;
    for (let p = 0; p < np; p++) {
      const a = pairCtxA[p]!;
      const b = pairCtxB[p]!;
      mixCtx[p] = -1;
      if ((a >= 0) === (b >= 0)) continue; // both context (context vector) or neither
      const own = a >= 0 ? pairB[p]! : pairA[p]!;
      if (own === ID_NAMESPACE) continue;
      const c = a >= 0 ? a : b;
      mixCtx[p] = c;
      mixFirst[p] = a >= 0 ? 1 : 0;
      rowShift[p] = 0;
      groupHead[p] = p;
      groupNext[p] = -1;
      for (let q = p - 1; q >= 0; q--) {
        const cq = mixCtx[q]!;
        if (cq < 0 || (mixFirst[q] === 1 ? pairB[q] : pairA[q]) !== own) continue;
        rowShift[p] = rowShift[q]! + ctxStart[cq + 1]! - ctxStart[cq]!;
        groupHead[p] = groupHead[q]!;
        groupNext[q] = p;
        break;
      }
    }
    for (let p = np - 1; p >= 0; p--) {
      const c = mixCtx[p]!;
      if (c < 0) continue;
      const next = groupNext[p]!;
      blockLen[p] = next >= 0 ? blockLen[next]! : rowShift[p]! + ctxStart[c + 1]! - ctxStart[c]!;
    }
  }

  /**
   * Emit mixed interaction `p` between the context features feat[ctxFrom, ctxTo) and the
   * candidate's features feat[from, to), feature-major, reading each candidate feature's row
   * from its memoised block (built on the feature's first use in the call). Entries and values
   * equal {@link emitCross}'s — only their order differs, which sorting removes, and products
   * commute exactly in IEEE 754. On a non-finite product it defers to {@link emitCross}, which
   * throws the error of the first overflowing product in the original order.
   */
  private emitRows(p: number, ctxFrom: number, ctxTo: number, from: number, to: number, vec: number): void {
    const len = ctxTo - ctxFrom;
    if (len === 0) return;
    const shift = this.rowShift[p]!;
    const rows = this.rows;
    const featId = this.featId;
    const featVal = this.featVal;
    const emIdx = this.emIdx;
    const emVal = this.emVal;
    let n = this.n;
    for (let o = from; o < to; o++) {
      const x = featId[o]!;
      const vx = featVal[o]!;
      let at = rows.find(x);
      if (at < 0) at = this.fillBlock(p, x);
      const data = rows.data;
      for (let j = 0; j < len; j++) {
        const v = featVal[ctxFrom + j]! * vx;
        if (v === 0) continue; // underflow
        if (!Number.isFinite(v)) {
          this.n = n;
          if (this.mixFirst[p] === 1) this.emitCross(ctxFrom, ctxTo, from, to, vec);
          else this.emitCross(from, to, ctxFrom, ctxTo, vec);
          throw new Error('unreachable: emitCross accepted a non-finite interaction');
        }
        emIdx[n] = at >= 0 ? data[at + shift + j]! : this.crossIndex(p, featId[ctxFrom + j]!, x);
        emVal[n++] = v;
      }
    }
    this.n = n;
  }

  /**
   * Build feature x's block: its rows for every mixed pair of pair p's group.
   * @returns the block's offset, or −1 when {@link CrossRows} is full (x is then not memoised)
   */
  private fillBlock(p: number, x: number): number {
    const at = this.rows.add(x, this.blockLen[p]!);
    if (at < 0) return -1;
    const data = this.rows.data;
    const featId = this.featId;
    for (let q = this.groupHead[p]!; q >= 0; q = this.groupNext[q]!) {
      const c = this.mixCtx[q]!;
      const from = this.ctxStart[c]!;
      const len = this.ctxStart[c + 1]! - from;
      const base = at + this.rowShift[q]!;
      for (let j = 0; j < len; j++) data[base + j] = this.crossIndex(q, featId[from + j]!, x);
    }
    return at;
  }

  /** Masked index of mixed pair p's interaction of context feature c with candidate feature x. */
  private crossIndex(p: number, c: number, x: number): number {
    return (this.mixFirst[p] === 1 ? this.table.pairHash(c, x) : this.table.pairHash(x, c)) & this.mask;
  }

  /**
   * Sort the emitted entries emIdx/emVal[0, n) by index: a plain insertion sort in place for a
   * few entries; otherwise one counting pass on the top ⌈log2 n⌉ bits of the index (about one
   * entry per bucket) into sortIdx/sortVal, then an insertion sort that only fixes order inside
   * buckets — linear in practice, and several times faster than `TypedArray.prototype.sort` on
   * ~100 keys. Any correct sort gives the same vectors: entries with equal indices are then
   * summed in ascending value order, so the result does not depend on the order of emission
   * (float addition is not associative).
   * @returns true when the sorted entries are in sortIdx/sortVal, false when in emIdx/emVal
   */
  private sortEmitted(): boolean {
    const n = this.n;
    let idx: Int32Array;
    let val: Float64Array;
    const bucketed = n >= BUCKET_SORT_MIN;
    if (!bucketed) {
      idx = this.emIdx;
      val = this.emVal;
    } else {
      const srcIdx = this.emIdx;
      const srcVal = this.emVal;
      idx = this.sortIdx;
      val = this.sortVal;
      const counts = this.counts;
      const bucketBits = Math.min(this.bits, 32 - Math.clz32(n - 1));
      const shift = this.bits - bucketBits;
      const buckets = 1 << bucketBits;
      counts.fill(0, 0, buckets + 1);
      for (let j = 0; j < n; j++) counts[(srcIdx[j]! >>> shift) + 1]!++;
      for (let b = 1; b <= buckets; b++) counts[b]! += counts[b - 1]!;
      for (let j = 0; j < n; j++) {
        const d = srcIdx[j]!;
        const c = counts[d >>> shift]!++;
        idx[c] = d;
        val[c] = srcVal[j]!;
      }
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
    return bucketed;
  }

  /**
   * Sum of the sorted entries val[j, k) (one index, k − j ≥ 2) in ascending value order, as an
   * insertion sort of the tiny run into `run`.
   */
  private runSum(val: Float64Array, j: number, k: number): number {
    const run = this.run;
    run[0] = val[j]!;
    let len = 1;
    for (let q = j + 1; q < k; q++) {
      const v = val[q]!;
      let i = len - 1;
      while (i >= 0 && run[i]! > v) {
        run[i + 1] = run[i]!;
        i--;
      }
      run[i + 1] = v;
      len++;
    }
    let sum = 0;
    for (let r = 0; r < len; r++) sum += run[r]!;
    return sum;
  }

  /** The context vector: sort the emitted entries and sum collisions into partIdx/partVal. */
  private finish(vec: number): number {
    const n = this.n;
    const sorted = this.sortEmitted();
    const idx = sorted ? this.sortIdx : this.emIdx;
    const val = sorted ? this.sortVal : this.emVal;
    const outIdx = this.partIdx;
    const outVal = this.partVal;
    let m = 0;
    let j = 0;
    while (j < n) {
      const d = idx[j]!;
      let sum = val[j]!;
      let k = j + 1;
      if (k < n && idx[k] === d) {
        while (k < n && idx[k] === d) k++;
        sum = this.runSum(val, j, k);
        if (!Number.isFinite(sum)) throw this.collisionError(vec, d, sum);
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

  /**
   * An arm: sort the candidate's emitted entries, sum collisions, and append them merged with
   * the context vector (out[0, ctxLen)) in one pass. The result and the error are those of
   * summing the whole candidate part first, then merging: a part sum that is not finite throws
   * at once (the lowest such index); a context + part sum that is not finite throws only once
   * the part is known to be finite (the lowest such index).
   */
  private finishArm(ctxLen: number, vec: number): void {
    const n = this.n;
    const sorted = this.sortEmitted();
    const idx = sorted ? this.sortIdx : this.emIdx;
    const val = sorted ? this.sortVal : this.emVal;
    this.reserveOut(ctxLen + n);
    const oi = this.outIdx;
    const ov = this.outVal;
    let m = this.used;
    let a = 0;
    let badAt = -1;
    let badSum = 0;
    let j = 0;
    while (j < n) {
      const d = idx[j]!;
      let sum = val[j]!;
      let k = j + 1;
      if (k < n && idx[k] === d) {
        while (k < n && idx[k] === d) k++;
        sum = this.runSum(val, j, k);
        if (!Number.isFinite(sum)) throw this.collisionError(vec, d, sum);
      }
      j = k;
      if (sum === 0) continue;
      while (a < ctxLen && oi[a]! < d) {
        oi[m] = oi[a]!;
        ov[m++] = ov[a++]!;
      }
      if (a < ctxLen && oi[a] === d) {
        const v = ov[a++]! + sum;
        if (!Number.isFinite(v)) {
          if (badAt < 0) {
            badAt = d;
            badSum = v;
          }
        } else if (v !== 0) {
          oi[m] = d;
          ov[m++] = v;
        }
      } else {
        oi[m] = d;
        ov[m++] = sum;
      }
    }
    if (badAt >= 0) throw this.collisionError(vec, badAt, badSum);
    while (a < ctxLen) {
      oi[m] = oi[a]!;
      ov[m++] = ov[a++]!;
    }
    this.used = m;
  }

  private collisionError(vec: number, index: number, sum: number): FeatureError {
    return new FeatureError('NON_FINITE_NUMBER', vectorPath(vec), `colliding features at index ${index} sum to ${sum}`);
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
export function createFeaturizer(config: FeaturesConfigInput = {}): Featurizer {
  return new HashedFeaturizer(featuresConfigSchema.parse(config));
}
