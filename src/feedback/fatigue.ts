/**
 * Fatigue memory: per (user, item) and (user, group), a count of rejections (ignored and
 * dismissed impressions) that decays exponentially with a half-life, so people can change their
 * minds. A positive response resets the item's and the group's count ("consecutive" rejections).
 *
 * value(t) = value(t₀) · 2^(−(t − t₀)/halfLife). Pure: time is passed in, state is plain JSON.
 */
import { BinaryHeap } from '../core/heap.js';

/** Serializable fatigue state of one user: key → [value, at-ms]. Keys: `i:<itemId>`, `g:<group>`. */
export type FatigueState = Readonly<Record<string, readonly [number, number]>>;

/** Keys of the memory. */
export const fatigueKey = {
  item: (itemId: string) => `i:${itemId}`,
  group: (group: string) => `g:${group}`,
};

/** Counts below this are dropped when the state is written back (forgotten). */
const FORGOTTEN = 1e-3;

/** The decayed count of `key` at `now` (0 when absent). */
export function fatigueAt(state: FatigueState | undefined, key: string, now: number, halfLifeMs: number): number {
  const e = state?.[key];
  if (!e) return 0;
  const dt = Math.max(0, now - e[1]);
  return e[0] * Math.pow(2, -dt / halfLifeMs);
}

/**
 * Whether a count `value` last written `dt` ms before a fold is still remembered then:
 * value·2^(−dt/halfLife) ≥ {@link FORGOTTEN}. Most entries are far from that threshold, so the
 * answer mostly needs no power: with r = dt/halfLife, value ≥ 1 and r ≤ 9.9 leave at least
 * 2^−9.9 ≈ 1.049e-3, value ≥ 0.1 and r ≤ 6.6 at least 0.1·2^−6.6 ≈ 1.031e-3, value ≥ 0.01 and
 * r ≤ 3.3 at least 0.01·2^−3.3 ≈ 1.015e-3 — above 1e-3 by far more than any rounding, so these
 * shortcuts answer exactly as the full test, which decides every other case.
 */
function remembered(value: number, dt: number, halfLifeMs: number): boolean {
  const r = dt / halfLifeMs;
  if (value >= 1 ? r <= 9.9 : value >= 0.1 ? r <= 6.6 : value >= 0.01 && r <= 3.3) return true;
  return value * Math.pow(2, -dt / halfLifeMs) >= FORGOTTEN;
}

/**
 * Fold one outcome into a user's fatigue state, returning a new state (the input is not mutated).
 * Rejections add `amount` to the item's and the group's count; positives reset both to zero.
 *
 * Bounded memory: when more than `maxEntries` keys remain after the fold, the entries with the
 * smallest decayed count v(event.at) are evicted (ties: older `at` first, then the key in plain
 * UTF-16 string order, so the result does not depend on insertion order). The least fatigued go
 * first because they carry the least information about what the user rejects: a count near zero
 * barely moves the cool-down test (`coolDownAfter`) or the `fatigue` features, and it is the same
 * reason the 1e-3 floor forgets them — the cap raises that floor, for this user only, to the
 * count of the (n − maxEntries)-th least fatigued entry. The key(s) this event just wrote are
 * never evicted: they are the freshest evidence, and evicting them would let a user at the cap
 * whose remembered counts all exceed `amount` never accumulate fatigue on a new item. When the
 * touched keys alone exceed `maxEntries` (a cap of 1 with a grouped rejection) they are all kept.
 *
 * Cost: O(n) for the copy, as before; under the cap nothing more (no sort, no allocation beyond
 * the copy); over it, O(n log e) to select the e = n − maxEntries entries to evict (usually one
 * or two per event) with a bounded max-heap.
 *
 * @param state the user's state (undefined = empty); never mutated
 * @param event the outcome: item, optional group, whether it is a rejection, the amount to add
 *   on a rejection, and its time in ms
 * @param halfLifeMs half-life of the decay, in ms (> 0)
 * @param maxEntries most keys kept: an integer ≥ 1, or +Infinity (no cap, the default)
 * @returns a new state with at most max(maxEntries, number of touched keys) entries
 * @throws RangeError when maxEntries is not an integer ≥ 1 nor +Infinity
 */
export function foldFatigue(
  state: FatigueState | undefined,
  event: { itemId: string; group?: string; rejection: boolean; amount: number; at: number },
  halfLifeMs: number,
  maxEntries: number = Number.POSITIVE_INFINITY,
): FatigueState {
  if (!(maxEntries === Number.POSITIVE_INFINITY || (Number.isInteger(maxEntries) && maxEntries >= 1))) {
    throw new RangeError(`maxEntries must be an integer ≥ 1 or Infinity, got ${maxEntries}`);
  }
  const next: Record<string, readonly [number, number]> = {};
  let size = 0;
  // Carry over what is not yet forgotten, decayed to a common time only when touched.
  if (state) {
    const now = event.at;
    for (const k of Object.keys(state)) {
      const v = state[k]!;
      if (remembered(v[0], Math.max(0, now - v[1]), halfLifeMs)) {
        next[k] = v;
        size++;
      }
    }
  }
  const keys = [fatigueKey.item(event.itemId)];
  if (event.group !== undefined) keys.push(fatigueKey.group(event.group));
  for (const k of keys) {
    const present = Object.hasOwn(next, k);
    if (event.rejection) {
      next[k] = [fatigueAt(state, k, event.at, halfLifeMs) + event.amount, event.at];
      if (!present) size++;
    } else if (present) {
      delete next[k];
      size--;
    }
  }
  if (size > maxEntries) {
    const touched = event.rejection ? keys : [];
    for (const k of leastFatigued(next, touched, size - maxEntries, event.at, halfLifeMs)) delete next[k];
  }
  return next;
}

/** An eviction candidate: its key, decayed count at the event, and last update time. */
interface Candidate {
  readonly key: string;
  readonly value: number;
  readonly at: number;
}

/** True when `a` is less fatigued than `b` (evicted first): smaller value, then older, then key. */
function lessFatigued(a: Candidate, b: Candidate): boolean {
  if (a.value !== b.value) return a.value < b.value;
  if (a.at !== b.at) return a.at < b.at;
  return a.key < b.key;
}

/**
 * The keys of the `count` least fatigued entries of `state` outside `touched` (all of them when
 * there are no more than `count`). A max-heap of size `count` keeps the least fatigued seen so
 * far; its root, the most fatigued of them, is the one a newcomer must beat: O(n log count).
 */
function leastFatigued(
  state: FatigueState,
  touched: readonly string[],
  count: number,
  now: number,
  halfLifeMs: number,
): string[] {
  // The most fatigued of the kept candidates on top: the one a newcomer must beat.
  const heap = new BinaryHeap<Candidate>((a, b) => lessFatigued(b, a));
  for (const [key, e] of Object.entries(state)) {
    if (touched.includes(key)) continue;
    const c: Candidate = { key, value: fatigueAt(state, key, now, halfLifeMs), at: e[1] };
    if (heap.size < count) heap.push(c);
    else if (lessFatigued(c, heap.peek()!)) {
      heap.pop();
      heap.push(c);
    }
  }
  return heap.values().map((c) => c.key);
}
