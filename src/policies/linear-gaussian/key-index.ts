/**
 * Small open-addressing hash tables over non-negative int32 keys, for the hot path: a Map costs
 * tens of nanoseconds per lookup, these a few. Linear probing, power-of-two capacity, load ≤ ½.
 */

/** Value returned by {@link KeyIndex.get} for an absent key. */
export const MISSING = -1;

function slotOf(key: number, mask: number): number {
  // Fibonacci hashing: the high bits of key·⌊2³²/φ⌋ are well mixed even for clustered keys.
  const h = Math.imul(key, 0x9e3779b1);
  return ((h >>> 16) ^ h) & mask;
}

/**
 * A growing map from a non-negative int32 key to an int32 value (values ≠ {@link MISSING}).
 * Keys below `directLimit` live in a plain array indexed by the key (grown to the largest such
 * key seen, so at most 4·directLimit bytes): one load per lookup instead of a hash probe, which
 * is what the per-candidate scoring loop spends its time on. Larger keys go to a hash table.
 */
export class KeyIndex {
  private direct: Int32Array = new Int32Array(0);
  private directSize = 0;
  private readonly directLimit: number;
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  private hashed = 0;

  constructor(initialCapacity = 16, directLimit = 1 << 16) {
    let cap = 8;
    while (cap < initialCapacity * 2) cap *= 2;
    this.keys = new Int32Array(cap).fill(-1);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.directLimit = directLimit;
  }

  /** Number of keys stored. */
  get size(): number {
    let n = this.hashed;
    for (let i = 0; i < this.directSize; i++) if (this.direct[i] !== MISSING) n++;
    return n;
  }

  /**
   * The direct part of the map: `table[key]` is the value of every key < `table.length` (or
   * {@link MISSING}); larger keys need {@link get}. Valid until the next {@link set}; lets a hot
   * loop look keys up with one bounds test and one load.
   */
  get directTable(): Int32Array {
    return this.direct;
  }

  /** The value of `key`, or {@link MISSING}. */
  get(key: number): number {
    if (key < this.directSize) return this.direct[key]!;
    if (this.hashed === 0) return MISSING;
    const keys = this.keys;
    const mask = this.mask;
    let i = slotOf(key, mask);
    for (;;) {
      const k = keys[i]!;
      if (k === key) return this.values[i]!;
      if (k === -1) return MISSING;
      i = (i + 1) & mask;
    }
  }

  /** Insert or overwrite. @throws RangeError when key is not a non-negative int32 */
  set(key: number, value: number): void {
    if (!(key >= 0 && key <= 0x7fffffff && Number.isInteger(key))) {
      throw new RangeError(`feature index must be a non-negative int32, got ${key}`);
    }
    if (key < this.directLimit) {
      if (key >= this.directSize) this.growDirect(key + 1);
      this.direct[key] = value;
      return;
    }
    this.setHashed(key, value);
  }

  private growDirect(atLeast: number): void {
    let size = Math.max(16, this.directSize * 2);
    while (size < atLeast) size *= 2;
    size = Math.min(size, this.directLimit);
    const direct = new Int32Array(size).fill(MISSING);
    direct.set(this.direct);
    this.direct = direct;
    this.directSize = size;
  }

  private setHashed(key: number, value: number): void {
    if ((this.hashed + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    let i = slotOf(key, mask);
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        this.values[i] = value;
        return;
      }
      if (k === -1) {
        keys[i] = key;
        this.values[i] = value;
        this.hashed++;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const cap = oldKeys.length * 2;
    this.keys = new Int32Array(cap).fill(-1);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.hashed = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== -1) this.setHashed(k, oldValues[i]!);
    }
  }
}

/**
 * Per-decision memo of prior draws for never-seen dimensions: `begin()` empties it in O(1)
 * (entries carry the epoch they were written in), so one decision's draws are shared by all
 * its candidates and forgotten by the next.
 */
export class DrawCache {
  private keys: Int32Array;
  private values: Float64Array;
  private stamps: Int32Array;
  private mask: number;
  private epoch = 0;
  private count = 0;

  constructor(initialCapacity = 64) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.keys = new Int32Array(cap);
    this.values = new Float64Array(cap);
    this.stamps = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** Forget every entry (start a new decision). */
  begin(): void {
    this.count = 0;
    if (this.epoch === 0x7fffffff) {
      this.stamps.fill(0);
      this.epoch = 0;
    }
    this.epoch++;
  }

  /** Index of `key`'s entry if present in this decision, else -1. */
  find(key: number): number {
    const mask = this.mask;
    let i = slotOf(key, mask);
    for (;;) {
      if (this.stamps[i] !== this.epoch) return -1;
      if (this.keys[i] === key) return i;
      i = (i + 1) & mask;
    }
  }

  /** The value stored at an index returned by {@link find}. */
  valueAt(i: number): number {
    return this.values[i]!;
  }

  /** Store `value` for `key` (not present in this decision). */
  put(key: number, value: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const mask = this.mask;
    let i = slotOf(key, mask);
    while (this.stamps[i] === this.epoch) i = (i + 1) & mask;
    this.keys[i] = key;
    this.values[i] = value;
    this.stamps[i] = this.epoch;
    this.count++;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const oldStamps = this.stamps;
    const epoch = this.epoch;
    const cap = oldKeys.length * 2;
    this.keys = new Int32Array(cap);
    this.values = new Float64Array(cap);
    this.stamps = new Int32Array(cap);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      if (oldStamps[i] === epoch) this.put(oldKeys[i]!, oldValues[i]!);
    }
  }
}
