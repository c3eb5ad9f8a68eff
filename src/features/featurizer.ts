/**
 * Hashed namespaced features: turns a request's context and candidates into the sparse vectors
 * of {@link DecisionFeatures} (the "hashing trick", Weinberger et al. 2009, with Vowpal-Wabbit
 * style namespaces and quadratic interactions).
 *
 * Naming scheme (every name is hashed with {@link murmur3}, index = hash & (dim − 1)):
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
 *
 * `context` holds the bias, the context namespaces and interactions between two context
 * namespaces; `arms[i]` adds candidate i's namespaces, its extra (fatigue) namespace, its item
 * id and every interaction with at least one candidate-side namespace. Collisions sum; the
 * output indices are sorted and unique and zero sums are dropped.
 */
import { ID_NAMESPACE, featuresConfigSchema, type FeaturesConfig, type FeaturesConfigInput } from './config.js';
import { FeatureError } from './errors.js';
import { HashCache } from './hash-cache.js';
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

/** Hashed features of one vector's namespace, in input order. */
interface NsFeatures {
  readonly names: string[];
  readonly hashes: number[];
  readonly values: number[];
}

/** A featurizer built once from a config; reuse it for every rank call of a model. */
export interface Featurizer {
  /** Hashed space size, 2^bits. */
  readonly dim: number;
  /** The parsed config it was built from. */
  readonly config: FeaturesConfig;
  /**
   * Featurize one decision.
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
   * The features of candidate `i` of a featurized decision, for learning its outcome.
   * @throws RangeError when `i` is not a candidate index
   */
  outcomeFeatures(features: DecisionFeatures, i: number): OutcomeFeatures;
}

// Packed sort key: index · 2^16 + position (position < maxFeatures ≤ 2^16, index < 2^24, so the
// key stays below 2^40 and is exact in a double).
const POS_SPAN = 65536;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class HashedFeaturizer implements Featurizer {
  readonly dim: number;
  readonly config: FeaturesConfig;
  private readonly mask: number;
  private readonly cache = new HashCache();
  private readonly pairs: ReadonlyArray<readonly [string, string]>;
  // Scratch, reused by every call (single-threaded, featurize is not re-entrant).
  private readonly keys: Float64Array;
  private readonly vals: Float64Array;
  private n = 0;
  private readonly partIdx: Int32Array;
  private readonly partVal: Float64Array;
  private readonly mergeIdx: Int32Array;
  private readonly mergeVal: Float64Array;
  private readonly run: number[] = [];

  constructor(config: FeaturesConfig) {
    this.config = config;
    this.dim = 2 ** config.bits;
    this.mask = this.dim - 1;
    this.pairs = config.interactions.map(([a, b]) => [a, b] as const);
    const cap = config.maxFeatures;
    this.keys = new Float64Array(cap);
    this.vals = new Float64Array(cap);
    this.partIdx = new Int32Array(cap);
    this.partVal = new Float64Array(cap);
    this.mergeIdx = new Int32Array(2 * cap);
    this.mergeVal = new Float64Array(2 * cap);
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
      this.checkNamespaceName(ns, ['context', ns]);
      const f = this.readNamespace(ns, context[ns], ['context', ns], ['context'], ctxCount);
      ctx.set(ns, f);
      ctxCount += f.names.length;
    }
    for (const [a, b] of this.pairs) {
      const A = ctx.get(a);
      const B = ctx.get(b);
      if (A !== undefined && B !== undefined) ctxCount += A.names.length * B.names.length;
    }
    if (ctxCount > cfg.maxFeatures) throw this.tooMany(['context'], ctxCount);

    this.n = 0;
    this.emit(this.cache.hash(BIAS_FEATURE), 1);
    for (const f of ctx.values()) this.emitAll(f);
    for (const [a, b] of this.pairs) {
      const A = ctx.get(a);
      const B = ctx.get(b);
      if (A !== undefined && B !== undefined) this.emitCross(A, B, ['context']);
    }
    const ctxLen = this.finish(['context']);
    const contextVec = this.copyOut(this.partIdx, this.partVal, ctxLen);

    const itemIds: string[] = new Array<string>(candidates.length);
    const arms: SparseVector[] = new Array<SparseVector>(candidates.length);
    for (let i = 0; i < candidates.length; i++) {
      const { id, arm } = this.arm(i, candidates[i], extra?.[i], ctx, ctxNames.length, ctxCount, contextVec);
      itemIds[i] = id;
      arms[i] = arm;
    }
    return { dim: this.dim, itemIds, context: contextVec, arms };
  }

  outcomeFeatures(features: DecisionFeatures, i: number): OutcomeFeatures {
    const arm = Number.isInteger(i) ? features.arms[i] : undefined;
    const itemId = Number.isInteger(i) ? features.itemIds[i] : undefined;
    if (arm === undefined || itemId === undefined) {
      throw new RangeError(`candidate index ${i} outside [0, ${features.arms.length})`);
    }
    return { itemId, context: features.context, arm };
  }

  private arm(
    i: number,
    cand: unknown,
    extraNs: Namespace | undefined,
    ctx: ReadonlyMap<string, NsFeatures>,
    ctxNamespaces: number,
    ctxCount: number,
    contextVec: SparseVector,
  ): { id: string; arm: SparseVector } {
    const cfg = this.config;
    const cp: (string | number)[] = ['candidates', i];
    if (!isPlainObject(cand)) throw new FeatureError('UNSUPPORTED_VALUE', cp, 'a candidate must be an object');
    const id = cand['id'];
    if (typeof id !== 'string') {
      throw new FeatureError('UNSUPPORTED_VALUE', [...cp, 'id'], 'the candidate id must be a string');
    }
    this.checkName(id, [...cp, 'id'], 'item id');
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
      count += f.names.length;
    }
    if (extraNs !== undefined) {
      const f = this.readNamespace(cfg.extraNamespace, extraNs, ['extra', i], cp, count);
      own.set(cfg.extraNamespace, f);
      count += f.names.length;
    }
    const idName = itemFeatureName(id);
    const idHash = this.cache.hash(idName);
    const idF: NsFeatures = { names: [idName], hashes: [idHash], values: [1] };
    const lookup = (ns: string): NsFeatures | undefined =>
      ctx.get(ns) ?? own.get(ns) ?? (ns === ID_NAMESPACE ? idF : undefined);

    for (const [a, b] of this.pairs) {
      if (ctx.has(a) && ctx.has(b)) continue; // already in the context vector
      const A = lookup(a);
      const B = lookup(b);
      if (A !== undefined && B !== undefined) count += A.names.length * B.names.length;
    }
    if (count > cfg.maxFeatures) throw this.tooMany(cp, count);

    this.n = 0;
    for (const f of own.values()) this.emitAll(f);
    if (cfg.itemIdFeature) this.emit(idHash, 1);
    for (const [a, b] of this.pairs) {
      if (ctx.has(a) && ctx.has(b)) continue;
      const A = lookup(a);
      const B = lookup(b);
      if (A !== undefined && B !== undefined) this.emitCross(A, B, cp);
    }
    const partLen = this.finish(cp);
    return { id, arm: this.mergeWith(contextVec, partLen, cp) };
  }

  /** Read one namespace object into hashed features, validating every value. */
  private readNamespace(
    ns: string,
    raw: unknown,
    path: ReadonlyArray<string | number>,
    vecPath: ReadonlyArray<string | number>,
    already: number,
  ): NsFeatures {
    if (!isPlainObject(raw)) {
      throw new FeatureError('UNSUPPORTED_VALUE', path, 'a namespace must be an object of features');
    }
    const cfg = this.config;
    const names: string[] = [];
    const hashes: number[] = [];
    const values: number[] = [];
    const push = (name: string, v: number): void => {
      if (already + names.length >= cfg.maxFeatures) throw this.tooMany(vecPath, already + names.length + 1);
      names.push(name);
      hashes.push(this.cache.hash(name));
      values.push(v);
    };
    for (const key of Object.keys(raw)) {
      this.checkName(key, [...path, key], 'feature key');
      const v = raw[key];
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) {
          throw new FeatureError('NON_FINITE_NUMBER', [...path, key], `number must be finite, got ${v}`);
        }
        if (v !== 0) push(`${ns}^${key}`, v);
      } else if (typeof v === 'string') {
        this.checkString(v, [...path, key]);
        push(`${ns}^${key}=${v}`, 1);
      } else if (typeof v === 'boolean') {
        if (v) push(`${ns}^${key}`, 1);
      } else if (Array.isArray(v)) {
        for (let j = 0; j < v.length; j++) {
          const s: unknown = v[j];
          if (typeof s !== 'string') {
            throw new FeatureError('UNSUPPORTED_VALUE', [...path, key, j], 'array elements must be strings');
          }
          this.checkString(s, [...path, key, j]);
          push(`${ns}^${key}=${s}`, 1);
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
    return { names, hashes, values };
  }

  private checkName(name: string, path: ReadonlyArray<string | number>, what: string): void {
    if (name === '') throw new FeatureError('EMPTY_NAME', path, `${what} must not be empty`);
    if (name.length > this.config.maxStringLength) {
      throw new FeatureError(
        'STRING_TOO_LONG',
        path,
        `${what} has ${name.length} characters, at most ${this.config.maxStringLength} allowed`,
      );
    }
  }

  private checkNamespaceName(ns: string, path: ReadonlyArray<string | number>): void {
    this.checkName(ns, path, 'namespace name');
    if (ns === ID_NAMESPACE || ns === this.config.extraNamespace) {
      throw new FeatureError('RESERVED_NAMESPACE', path, `namespace name "${ns}" is reserved`);
    }
  }

  private checkString(s: string, path: ReadonlyArray<string | number>): void {
    if (s.length > this.config.maxStringLength) {
      throw new FeatureError(
        'STRING_TOO_LONG',
        path,
        `string has ${s.length} characters, at most ${this.config.maxStringLength} allowed`,
      );
    }
  }

  private tooMany(path: ReadonlyArray<string | number>, count: number): FeatureError {
    return new FeatureError(
      'TOO_MANY_FEATURES',
      path,
      `${count} features (after interactions), at most ${this.config.maxFeatures} allowed`,
    );
  }

  private emit(hash: number, value: number): void {
    const pos = this.n;
    this.keys[pos] = (hash & this.mask) * POS_SPAN + pos;
    this.vals[pos] = value;
    this.n = pos + 1;
  }

  private emitAll(f: NsFeatures): void {
    const { hashes, values } = f;
    for (let j = 0; j < hashes.length; j++) this.emit(hashes[j]!, values[j]!);
  }

  private emitCross(A: NsFeatures, B: NsFeatures, vecPath: ReadonlyArray<string | number>): void {
    const cache = this.cache;
    for (let a = 0; a < A.names.length; a++) {
      const nameA = A.names[a]!;
      const va = A.values[a]!;
      for (let b = 0; b < B.names.length; b++) {
        const v = va * B.values[b]!;
        if (!Number.isFinite(v)) {
          throw new FeatureError('NON_FINITE_NUMBER', vecPath, `interaction ${nameA}*${B.names[b]!} overflows`);
        }
        if (v !== 0) this.emit(cache.pairHash(nameA, B.names[b]!), v);
      }
    }
  }

  /**
   * Sort the emitted entries by index and sum collisions into partIdx/partVal.
   * Colliding values are summed in ascending value order, so the result does not depend on
   * the order of keys in the input (float addition is not associative).
   */
  private finish(vecPath: ReadonlyArray<string | number>): number {
    const n = this.n;
    const keys = this.keys.subarray(0, n).sort();
    const vals = this.vals;
    const outIdx = this.partIdx;
    const outVal = this.partVal;
    let m = 0;
    let j = 0;
    while (j < n) {
      const key = keys[j]!;
      const idx = Math.floor(key / POS_SPAN);
      let sum = vals[key - idx * POS_SPAN]!;
      let k = j + 1;
      if (k < n && Math.floor(keys[k]! / POS_SPAN) === idx) {
        const run = this.run;
        run.length = 0;
        run.push(sum);
        while (k < n && Math.floor(keys[k]! / POS_SPAN) === idx) {
          run.push(vals[keys[k]! - idx * POS_SPAN]!);
          k++;
        }
        run.sort((x, y) => x - y);
        sum = 0;
        for (const v of run) sum += v;
      }
      if (!Number.isFinite(sum)) {
        throw new FeatureError('NON_FINITE_NUMBER', vecPath, `colliding features at index ${idx} sum to ${sum}`);
      }
      if (sum !== 0) {
        outIdx[m] = idx;
        outVal[m] = sum;
        m++;
      }
      j = k;
    }
    return m;
  }

  /** Merge the sorted context vector with the sorted candidate part (partIdx/partVal). */
  private mergeWith(ctx: SparseVector, partLen: number, vecPath: ReadonlyArray<string | number>): SparseVector {
    const ai = ctx.indices;
    const av = ctx.values;
    const bi = this.partIdx;
    const bv = this.partVal;
    const oi = this.mergeIdx;
    const ov = this.mergeVal;
    let a = 0;
    let b = 0;
    let m = 0;
    while (a < ctx.nnz || b < partLen) {
      const ia = a < ctx.nnz ? ai[a]! : Infinity;
      const ib = b < partLen ? bi[b]! : Infinity;
      let idx: number;
      let v: number;
      if (ia < ib) {
        idx = ia;
        v = av[a++]!;
      } else if (ib < ia) {
        idx = ib;
        v = bv[b++]!;
      } else {
        idx = ia;
        v = av[a++]! + bv[b++]!;
        if (!Number.isFinite(v)) {
          throw new FeatureError('NON_FINITE_NUMBER', vecPath, `colliding features at index ${idx} sum to ${v}`);
        }
      }
      if (v !== 0) {
        oi[m] = idx;
        ov[m] = v;
        m++;
      }
    }
    return this.copyOut(oi, ov, m);
  }

  private copyOut(idx: Int32Array, val: Float64Array, nnz: number): SparseVector {
    return { dim: this.dim, nnz, indices: idx.slice(0, nnz), values: val.slice(0, nnz) };
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
