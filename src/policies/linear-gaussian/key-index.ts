/**
 * Small open-addressing hash tables over non-negative int32 keys, for the hot path: a Map costs
 * tens of nanoseconds per lookup, these a few. Linear probing, power-of-two capacity, load ≤ ½.
 */

/** Value returned by {@link KeyIndex.get} for an absent key. */
export const MISSING = -1;

function slotOf(key: number, mask: number): number {
  let h = Math.imul(key ^ (key >>> 16), 0x45d9f3b);
  h ^= h >>> 16;
  return h & mask;
}

/** A growing map from a non-negative int32 key to an int32 value (values ≠ {@link MISSING}). */
export class KeyIndex {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 16) {
    let cap = 8;
    while (cap < initialCapacity * 2) cap *= 2;
    this.keys = new Int32Array(cap).fill(-1);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** Number of keys stored. */
  get size(): number {
    return this.count;
  }

  /** The value of `key`, or {@link MISSING}. */
  get(key: number): number {
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
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
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
        this.count++;
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
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== -1) this.set(k, oldValues[i]!);
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
