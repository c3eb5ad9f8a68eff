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
  return e ? decayedAt(e, now, halfLifeMs) : 0;
}

/** Entry `e` = [count, at-ms] decayed to `now` (no growth for a `now` before `at`). */
function decayedAt(e: readonly [number, number], now: number, halfLifeMs: number): number {
  return e[0] * Math.pow(2, -Math.max(0, now - e[1]) / halfLifeMs);
}

/**
 * Whether entry `e` = [value, at] is still remembered at `now`: value·2^(−dt/halfLife) ≥
 * {@link FORGOTTEN} with dt = max(0, now − at). Most entries are far from that threshold, so the
 * answer mostly needs no power: with r = dt/halfLife, value ≥ 1 and r ≤ 9.9 leave at least
 * 2^−9.9 ≈ 1.049e-3, value ≥ 0.1 and r ≤ 6.6 at least 0.1·2^−6.6 ≈ 1.031e-3, value ≥ 0.01 and
 * r ≤ 3.3 at least 0.01·2^−3.3 ≈ 1.015e-3 — above 1e-3 by far more than any rounding, so these
 * shortcuts answer exactly as the full test, which decides every other case.
 */
function remembered(e: readonly [number, number], now: number, halfLifeMs: number): boolean {
  const value = e[0];
  const r = Math.max(0, now - e[1]) / halfLifeMs;
  if (value >= 1 ? r <= 9.9 : value >= 0.1 ? r <= 6.6 : value >= 0.01 && r <= 3.3) return true;
  return decayedAt(e, now, halfLifeMs) >= FORGOTTEN;
}

/**
 * Fold one outcome into a user's fatigue state, returning a new state (the input is not mutated).
 * Rejections add `amount` to the item's and the group's count; positives reset both to zero.
 * Outcomes may arrive out of time order: each rejection decays from its own time, and an entry
 * keeps the time of its newest rejection.
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
  event: FatigueEvent,
  halfLifeMs: number,
  maxEntries: number = Number.POSITIVE_INFINITY,
): FatigueState {
  return draftFatigue(state, event, halfLifeMs, maxEntries).entries;
}

/** One outcome as the fatigue memory sees it (see {@link foldFatigue}). */
export interface FatigueEvent {
  readonly itemId: string;
  readonly group?: string;
  readonly rejection: boolean;
  readonly amount: number;
  readonly at: number;
}

/**
 * A fatigue state being folded in place, for several outcomes of one user in one call (e.g. the
 * five ignores of a slate whose reward windows close together): {@link draftFatigue} makes the
 * one O(n) copy, and each {@link foldFatigueDraft} after it changes only the touched keys, plus
 * an O(n) forgetting pass when the outcome's time differs from the last one's. `entries` is a
 * fresh object that the draft owns: it may be handed on (stored) as a state once no more
 * outcomes are folded into it, and must not be folded into after that.
 */
export interface FatigueDraft {
  readonly entries: Record<string, readonly [number, number]>;
  /** Number of keys in `entries`. */
  size: number;
  /** A time at which every entry is remembered (NaN: none known): a fold at it forgets nothing. */
  cleanAt: number;
}

function checkMaxEntries(maxEntries: number): void {
  if (!(maxEntries === Number.POSITIVE_INFINITY || (Number.isInteger(maxEntries) && maxEntries >= 1))) {
    throw new RangeError(`maxEntries must be an integer ≥ 1 or Infinity, got ${maxEntries}`);
  }
}

/**
 * A draft holding the fold of `event` into `state`: its `entries` equal `foldFatigue(state,
 * event, …)` (same keys in the same order, same values). `state` is not mutated.
 * @throws RangeError as {@link foldFatigue}
 */
export function draftFatigue(state: FatigueState | undefined, event: FatigueEvent, halfLifeMs: number, maxEntries = Number.POSITIVE_INFINITY): FatigueDraft {
  checkMaxEntries(maxEntries);
  // Carry over what is not yet forgotten (one filtering pass: measured faster than copying every
  // entry and then deleting the forgotten ones), decayed to a common time only when touched.
  const entries: Record<string, readonly [number, number]> = {};
  let size = 0;
  if (state) {
    for (const k of Object.keys(state)) {
      const v = state[k]!;
      if (remembered(v, event.at, halfLifeMs)) {
        entries[k] = v;
        size++;
      }
    }
  }
  const draft: FatigueDraft = { entries, size, cleanAt: event.at };
  const keys = touchedKeys(event);
  applyOutcome(draft, keys, keys.map((k) => state?.[k]), event, halfLifeMs, maxEntries);
  return draft;
}

/**
 * Fold `event` into `draft` in place. After any sequence of folds, `draft.entries` equals what
 * folding the same events one by one with {@link foldFatigue} gives (same keys in the same order,
 * same values): the forgetting pass is the same test on the same entries, and it is skipped only
 * when the outcome is at `cleanAt`, where it would drop nothing.
 * @throws RangeError as {@link foldFatigue}
 */
export function foldFatigueDraft(draft: FatigueDraft, event: FatigueEvent, halfLifeMs: number, maxEntries = Number.POSITIVE_INFINITY): void {
  checkMaxEntries(maxEntries);
  const entries = draft.entries;
  const keys = touchedKeys(event);
  // The touched counts before the fold: a forgotten one still adds its decayed value (as in foldFatigue).
  const before = keys.map((k) => entries[k]);
  if (event.at !== draft.cleanAt) {
    const now = event.at;
    for (const k of Object.keys(entries)) {
      if (!remembered(entries[k]!, now, halfLifeMs)) {
        delete entries[k];
        draft.size--;
      }
    }
    draft.cleanAt = now;
  }
  applyOutcome(draft, keys, before, event, halfLifeMs, maxEntries);
}

/** The keys an outcome writes: its item's, and its group's when it has one. */
function touchedKeys(event: FatigueEvent): string[] {
  const keys = [fatigueKey.item(event.itemId)];
  if (event.group !== undefined) keys.push(fatigueKey.group(event.group));
  return keys;
}

/**
 * The outcome's own change, after the forgetting pass: a rejection writes each touched key (its
 * count `before`, decayed, plus the amount), a positive deletes them; then the cap's evictions.
 */
function applyOutcome(
  draft: FatigueDraft,
  keys: readonly string[],
  before: ReadonlyArray<readonly [number, number] | undefined>,
  event: FatigueEvent,
  halfLifeMs: number,
  maxEntries: number,
): void {
  const entries = draft.entries;
  for (let j = 0; j < keys.length; j++) {
    const k = keys[j]!;
    const present = Object.hasOwn(entries, k);
    if (event.rejection) {
      // Each rejection decays from its own time: the entry is stamped with the later of the two
      // times, and an outcome older than the entry (a backlog of windows closed after newer
      // feedback, a client `at` in the past) adds its amount already decayed to that time.
      const old = before[j];
      let value = event.amount;
      let at = event.at;
      if (old) {
        if (old[1] > event.at) {
          at = old[1];
          value = old[0] + event.amount * Math.pow(2, -(old[1] - event.at) / halfLifeMs);
        } else {
          value = decayedAt(old, event.at, halfLifeMs) + event.amount;
        }
      }
      entries[k] = [value, at];
      if (!present) draft.size++;
      // Remembered at `at` (hence at every earlier time) only when the count itself reaches the threshold.
      if (!(value >= FORGOTTEN)) draft.cleanAt = Number.NaN;
    } else if (present) {
      delete entries[k];
      draft.size--;
    }
  }
  if (draft.size > maxEntries) {
    const touched = event.rejection ? keys : [];
    for (const k of leastFatigued(entries, touched, draft.size - maxEntries, event.at, halfLifeMs)) {
      delete entries[k];
      draft.size--;
    }
  }
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
