/**
 * Per-call memo of interaction rows. Within one featurize call the context is fixed, so a
 * candidate-side feature `x` crossed with a context namespace always gives the same hashed
 * indices — one per context feature — whichever candidate it appears in. Across k candidates the
 * same few item features (topic, brand, price, …) repeat, so the featurizer builds x's rows once
 * per call (one {@link FeatureTable.pairHash} per context feature and interaction) into a block
 * and later reads them back from a flat array: an array read instead of a hash probe per entry.
 *
 * Blocks are indexed by the feature's intern id and valid for one call only ({@link begin}).
 * Memory is bounded: ids from {@link CROSS_ROWS_MAX_IDS} on, and blocks past
 * {@link CROSS_ROWS_MAX_ENTRIES} entries in one call, are not memoised (the caller hashes the
 * pairs directly).
 */

/** Ids below this are memoised: the per-id index takes 8 bytes × (largest id seen + 1), ≤ 2 MiB. */
export const CROSS_ROWS_MAX_IDS = 1 << 18;

/** Most row entries (hashed indices) memoised in one call: 2^18 (1 MiB). */
export const CROSS_ROWS_MAX_ENTRIES = 1 << 18;

/** Generations mark the live blocks, so starting a call clears nothing; wrap well before 2^31. */
const MAX_GENERATION = 0x3fffffff;

/** Feature id → block of row entries, for one call. Not re-entrant. */
export class CrossRows {
  /** Row entries of every block of the call, back to back. */
  data = new Int32Array(1024);
  private used = 0;
  /** `stamp[x] === gen`: feature x has a block at `offset[x]`. */
  private stamp = new Int32Array(256);
  private offset = new Int32Array(256);
  private gen = 1;

  /** Start a call: forget every block. */
  begin(): void {
    if (++this.gen > MAX_GENERATION) {
      this.stamp.fill(0);
      this.gen = 1;
    }
    this.used = 0;
  }

  /** Offset in {@link data} of feature x's block, or −1 when it has none. */
  find(x: number): number {
    return x < this.stamp.length && this.stamp[x] === this.gen ? this.offset[x]! : -1;
  }

  /**
   * Reserve a block of `len` entries for feature x (which has none); the caller fills
   * `data[offset, offset + len)` before it reads {@link data} again.
   * @returns the offset, or −1 when x is not memoised (id or entry bound reached)
   */
  add(x: number, len: number): number {
    const at = this.used;
    if (x >= CROSS_ROWS_MAX_IDS || at + len > CROSS_ROWS_MAX_ENTRIES) return -1;
    if (x >= this.stamp.length) {
      const size = Math.min(CROSS_ROWS_MAX_IDS, Math.max(x + 1, 2 * this.stamp.length));
      const stamp = new Int32Array(size);
      const offset = new Int32Array(size);
      stamp.set(this.stamp);
      offset.set(this.offset);
      this.stamp = stamp;
      this.offset = offset;
    }
    if (at + len > this.data.length) {
      const data = new Int32Array(Math.min(CROSS_ROWS_MAX_ENTRIES, Math.max(at + len, 2 * this.data.length)));
      data.set(this.data.subarray(0, at));
      this.data = data;
    }
    this.stamp[x] = this.gen;
    this.offset[x] = at;
    this.used = at + len;
    return at;
  }
}
