/**
 * The training window of a neural-linear policy: the most recent outcomes it folded (arm vector
 * with its full hashed indices — training masks them to the encoder's input, the head-scale
 * selection needs them as the head sees them — reward, weight), at most `capacity` of them. A
 * retraction removes the outcome it retracts (the newest live entry with the same features and
 * reward) instead of being stored. No tensorflow.js here.
 *
 * Storage: one growing pool of (index, value) pairs and parallel per-entry arrays; entries leave
 * from the front, and the dead prefix is compacted away once it is as large as the live part,
 * so appends are amortized O(nnz) and memory stays within ~2× the live window.
 */
import type { SparseVector } from '../../features/types.js';

/** Training examples in compressed-row form (row r: `indices/values[offsets[r] .. offsets[r+1])`). */
export interface TrainingData {
  readonly n: number;
  readonly offsets: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
  readonly rewards: Float32Array;
  readonly weights: Float32Array;
}

/** The bounded window of folded outcomes (see the module comment). */
export class Journal {
  private idx: Int32Array;
  private val: Float32Array;
  private used = 0;
  private start: Int32Array;
  private nnz: Int32Array;
  private reward: Float32Array;
  private weight: Float32Array;
  private first = 0;
  private end = 0;

  /** @param capacity most entries kept (≥ 1) */
  constructor(readonly capacity: number) {
    const entries = Math.min(capacity, 1024);
    this.start = new Int32Array(entries);
    this.nnz = new Int32Array(entries);
    this.reward = new Float32Array(entries);
    this.weight = new Float32Array(entries);
    this.idx = new Int32Array(entries * 16);
    this.val = new Float32Array(entries * 16);
  }

  /** Live entries (including retracted ones not yet evicted, which have weight 0). */
  get size(): number {
    return this.end - this.first;
  }

  /**
   * Record an outcome (weight > 0), or remove the newest live outcome a retraction (weight < 0)
   * names: same indices, same float32 values and reward. A retraction that matches
   * nothing (its outcome already left the window) changes nothing.
   */
  record(arm: SparseVector, reward: number, weight: number): void {
    if (weight === 0) return;
    if (weight < 0) {
      this.retract(arm, reward);
      return;
    }
    if (this.size === this.capacity) this.first++;
    if (this.end === this.start.length) this.makeRoomForEntry();
    if (this.used + arm.nnz > this.idx.length) this.makeRoomForPairs(arm.nnz);
    const e = this.end++;
    this.start[e] = this.used;
    this.nnz[e] = arm.nnz;
    this.reward[e] = reward;
    this.weight[e] = weight;
    for (let j = 0; j < arm.nnz; j++) {
      this.idx[this.used] = arm.indices[j]!;
      this.val[this.used++] = arm.values[j]!;
    }
  }

  private retract(arm: SparseVector, reward: number): void {
    const r32 = Math.fround(reward);
    for (let e = this.end - 1; e >= this.first; e--) {
      if (this.weight[e]! <= 0 || this.reward[e] !== r32 || this.nnz[e] !== arm.nnz) continue;
      const s = this.start[e]!;
      let same = true;
      for (let j = 0; j < arm.nnz && same; j++) {
        same = this.idx[s + j] === arm.indices[j]! && this.val[s + j] === Math.fround(arm.values[j]!);
      }
      if (same) {
        this.weight[e] = 0;
        return;
      }
    }
  }

  /** Drop the dead prefix, or grow the entry arrays. */
  private makeRoomForEntry(): void {
    const live = this.size;
    if (this.first >= live && this.first > 0) {
      this.compact();
      return;
    }
    const cap = Math.max(16, Math.min(this.start.length * 2, Math.max(this.capacity, live + 1) * 2));
    const grow = <T extends Int32Array | Float32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, this.end) as never);
      return b;
    };
    this.start = grow(this.start, (n) => new Int32Array(n));
    this.nnz = grow(this.nnz, (n) => new Int32Array(n));
    this.reward = grow(this.reward, (n) => new Float32Array(n));
    this.weight = grow(this.weight, (n) => new Float32Array(n));
  }

  private makeRoomForPairs(need: number): void {
    const base = this.size > 0 ? this.start[this.first]! : this.used;
    if (base > 0 && base >= this.used - base) {
      this.compact();
      if (this.used + need <= this.idx.length) return;
    }
    let cap = Math.max(64, this.idx.length * 2);
    while (cap < this.used + need) cap *= 2;
    const idx = new Int32Array(cap);
    idx.set(this.idx.subarray(0, this.used));
    const val = new Float32Array(cap);
    val.set(this.val.subarray(0, this.used));
    this.idx = idx;
    this.val = val;
  }

  /** Move the live entries and their pairs to the front of the arrays. */
  private compact(): void {
    const f = this.first;
    const live = this.size;
    const base = live > 0 ? this.start[f]! : this.used;
    this.idx.copyWithin(0, base, this.used);
    this.val.copyWithin(0, base, this.used);
    this.used -= base;
    this.start.copyWithin(0, f, this.end);
    this.nnz.copyWithin(0, f, this.end);
    this.reward.copyWithin(0, f, this.end);
    this.weight.copyWithin(0, f, this.end);
    for (let e = 0; e < live; e++) this.start[e] = this.start[e]! - base;
    this.first = 0;
    this.end = live;
  }

  /** The live outcomes with weight > 0, oldest first, as fresh arrays (safe to transfer). */
  trainingData(): TrainingData {
    let n = 0;
    let pairs = 0;
    for (let e = this.first; e < this.end; e++) {
      if (this.weight[e]! > 0) {
        n++;
        pairs += this.nnz[e]!;
      }
    }
    const offsets = new Int32Array(n + 1);
    const indices = new Int32Array(pairs);
    const values = new Float32Array(pairs);
    const rewards = new Float32Array(n);
    const weights = new Float32Array(n);
    let r = 0;
    let p = 0;
    for (let e = this.first; e < this.end; e++) {
      if (!(this.weight[e]! > 0)) continue;
      const s = this.start[e]!;
      const m = this.nnz[e]!;
      indices.set(this.idx.subarray(s, s + m), p);
      values.set(this.val.subarray(s, s + m), p);
      p += m;
      rewards[r] = this.reward[e]!;
      weights[r] = this.weight[e]!;
      offsets[++r] = p;
    }
    return { n, offsets, indices, values, rewards, weights };
  }
}
