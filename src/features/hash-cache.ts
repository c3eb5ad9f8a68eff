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
import { murmur3Bytes } from '../core/hash.js';

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
  private pairRows: (Map<number, number> | undefined)[] = [];
  private pairCount = 0;

  /** @param limit entries kept before {@link reserve} clears (≥ 1) */
  constructor(limit = HASH_CACHE_LIMIT) {
    this.limit = Math.max(1, limit);
  }

  /** Memoised entries: names plus interaction pairs. */
  get entries(): number {
    return this.names.length + this.pairCount;
  }

  /** Start a unit of work: clear when over the limit (invalidating earlier ids). */
  reserve(): void {
    if (this.entries <= this.limit) return;
    this.names = [];
    this.hashes = [];
    this.namespaces = new Map();
    this.items = new Map();
    this.others = new Map();
    this.pairRows = [];
    this.pairCount = 0;
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
    let row = this.pairRows[a];
    if (row === undefined) {
      row = new Map();
      this.pairRows[a] = row;
    } else {
      const hit = row.get(b);
      if (hit !== undefined) return hit;
    }
    const h = this.hasher.hash(`${this.names[a]!}*${this.names[b]!}`);
    row.set(b, h);
    this.pairCount++;
    return h;
  }

  private add(name: string): number {
    const id = this.names.length;
    this.names.push(name);
    this.hashes.push(this.hasher.hash(name));
    return id;
  }
}
