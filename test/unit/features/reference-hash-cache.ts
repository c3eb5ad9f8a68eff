/**
 * FROZEN REFERENCE — do not optimise or edit. A verbatim copy of src/features/hash-cache.ts as it
 * was before the hot-path rewrite, kept so tests and test/bench/featurize.bench.ts can compare the
 * current featurizer with the original bit for bit.
 */
/**
 * Memoised feature-name hashing. Feature names repeat from request to request (`user^device=ios`,
 * `user^age*item^genre=pop`), so each distinct name is hashed once and later requests look the
 * hash up by its parts — no name string is built on a hit, which matters because building and
 * hashing a fresh string costs several times a lookup.
 *
 * Memory is bounded: when more than `limit` entries are held, {@link FeatureTable.reserve}
 * clears everything and the table refills from the names in use (a cheap stand-in for LRU that
 * keeps the hot set).
 */
import { murmur3Bytes } from '../../../src/core/hash.js';

const encoder = new TextEncoder();

/** Default bound on memoised entries (names plus interaction pairs). */
export const HASH_CACHE_LIMIT = 100_000;

/** Intern entry of one key: the id of `ns^key` (numbers, booleans) and of each `ns^key=value`. */
export interface KeyEntry {
  plain: number;
  values: Map<string, number> | undefined;
}

/**
 * `murmur3` of UTF-8 text through a reused byte buffer. Equal to {@link murmur3} exactly:
 * `encodeInto` writes the same bytes as `encode` (lone surrogates become U+FFFD in both).
 */
export class Utf8Hasher {
  private buf = new Uint8Array(1024);

  /** murmur3 (seed 0) of the UTF-8 bytes of `text`. */
  hash(text: string): number {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    const need = text.length * 3;
    if (need > this.buf.length) this.buf = new Uint8Array(Math.max(need, this.buf.length * 2));
    const { written } = encoder.encodeInto(text, this.buf);
    return murmur3Bytes(this.buf.subarray(0, written));
  }
}

/**
 * An intern table of feature names. Each distinct name gets a small integer id with its hash;
 * interaction hashes are memoised per (id, id) pair.
 *
 * Ids are valid until the next {@link reserve} that clears: callers reserve once at the start
 * of a unit of work (one featurize call) and use the ids only within it.
 */
export class FeatureTable {
  private readonly limit: number;
  private readonly hasher = new Utf8Hasher();
  private names: string[] = [];
  private hashes: number[] = [];
  private namespaces = new Map<string, Map<string, KeyEntry>>();
  private items = new Map<string, number>();
  private others = new Map<string, number>();
  private pairs = new PairTable();

  /** @param limit entries kept before {@link reserve} clears (≥ 1) */
  constructor(limit = HASH_CACHE_LIMIT) {
    this.limit = Math.max(1, limit);
  }

  /** Memoised entries: names plus interaction pairs. */
  get entries(): number {
    return this.names.length + this.pairs.size;
  }

  /** Start a unit of work: clear when over the limit (invalidating earlier ids). */
  reserve(): void {
    if (this.entries <= this.limit) return;
    this.names = [];
    this.hashes = [];
    this.namespaces = new Map();
    this.items = new Map();
    this.others = new Map();
    this.pairs = new PairTable();
  }

  /** The key table of namespace `ns`, to pass to {@link plain} and {@link valued}. */
  keysOf(ns: string): Map<string, KeyEntry> {
    let t = this.namespaces.get(ns);
    if (t === undefined) {
      t = new Map();
      this.namespaces.set(ns, t);
    }
    return t;
  }

  /** Id of `ns^key` (`keys` = {@link keysOf}(ns)). */
  plain(keys: Map<string, KeyEntry>, ns: string, key: string): number {
    let e = keys.get(key);
    if (e === undefined) {
      e = { plain: -1, values: undefined };
      keys.set(key, e);
    }
    if (e.plain < 0) e.plain = this.add(`${ns}^${key}`);
    return e.plain;
  }

  /** Id of `ns^key=value` (`keys` = {@link keysOf}(ns)). */
  valued(keys: Map<string, KeyEntry>, ns: string, key: string, value: string): number {
    let e = keys.get(key);
    if (e === undefined) {
      e = { plain: -1, values: undefined };
      keys.set(key, e);
    }
    let v = e.values;
    if (v === undefined) {
      v = new Map();
      e.values = v;
    }
    let id = v.get(value);
    if (id === undefined) {
      id = this.add(`${ns}^${key}=${value}`);
      v.set(value, id);
    }
    return id;
  }

  /** Id of the item-id feature `^item=<itemId>`, memoised by the raw item id. */
  item(itemId: string): number {
    let id = this.items.get(itemId);
    if (id === undefined) {
      id = this.add(`^item=${itemId}`);
      this.items.set(itemId, id);
    }
    return id;
  }

  /** Id of an arbitrary name (e.g. the bias), memoised by the whole name. */
  named(name: string): number {
    let id = this.others.get(name);
    if (id === undefined) {
      id = this.add(name);
      this.others.set(name, id);
    }
    return id;
  }

  /** The 32-bit hash of feature `id`. */
  hashOf(id: number): number {
    return this.hashes[id]!;
  }

  /** The name of feature `id`. */
  nameOf(id: number): string {
    return this.names[id]!;
  }

  /** murmur3 of `<name a>*<name b>`, memoised per pair of ids. */
  pairHash(a: number, b: number): number {
    const hit = this.pairs.get(a, b);
    if (hit >= 0) return hit;
    const h = this.hasher.hash(`${this.names[a]!}*${this.names[b]!}`);
    this.pairs.set(a, b, h);
    return h;
  }

  private add(name: string): number {
    const id = this.names.length;
    this.names.push(name);
    this.hashes.push(this.hasher.hash(name));
    return id;
  }
}

/**
 * Open-addressing map from a pair of non-negative int32 ids to a 32-bit hash (linear probing,
 * load ≤ 1/2, doubling). A flat typed table: a lookup costs a few array reads instead of two
 * Map probes, which matters because interactions make pairs the most frequent lookup.
 */
class PairTable {
  private ka = new Int32Array(1024).fill(-1);
  private kb = new Int32Array(1024);
  private hv = new Uint32Array(1024);
  private mask = 1023;
  size = 0;

  /** The stored hash, or -1 when absent. */
  get(a: number, b: number): number {
    const ka = this.ka;
    let s = slot(a, b) & this.mask;
    for (;;) {
      const x = ka[s]!;
      if (x === -1) return -1;
      if (x === a && this.kb[s] === b) return this.hv[s]!;
      s = (s + 1) & this.mask;
    }
  }

  set(a: number, b: number, h: number): void {
    if (2 * (this.size + 1) > this.ka.length) this.grow();
    this.insert(a, b, h);
    this.size++;
  }

  private insert(a: number, b: number, h: number): void {
    let s = slot(a, b) & this.mask;
    while (this.ka[s] !== -1) s = (s + 1) & this.mask;
    this.ka[s] = a;
    this.kb[s] = b;
    this.hv[s] = h;
  }

  private grow(): void {
    const { ka, kb, hv } = this;
    const n = ka.length * 2;
    this.ka = new Int32Array(n).fill(-1);
    this.kb = new Int32Array(n);
    this.hv = new Uint32Array(n);
    this.mask = n - 1;
    for (let s = 0; s < ka.length; s++) if (ka[s] !== -1) this.insert(ka[s]!, kb[s]!, hv[s]!);
  }
}

function slot(a: number, b: number): number {
  const h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b);
  return (h ^ (h >>> 15)) >>> 0;
}
