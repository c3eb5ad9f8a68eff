/**
 * Building blocks shared by the simulation environments: the position-based click model
 * (P(click at p) = examination(p) · attraction(item)), slate checks, the optimal-slate value,
 * and small numeric helpers. Pure: no I/O, every draw takes an injected {@link Rng}.
 */
import { z } from 'zod';
import { createRng, type Rng } from '../../core/rng.js';
import type { Candidate, NamespacedFeatures } from '../../features/types.js';
import type { Arrival, Environment, Reaction, ShownItem } from './types.js';

/** A probability in [0, 1]. */
export const probabilitySchema = z.number().min(0).max(1);

/** Parameters of a Beta(α, β) distribution that item attractions are drawn from. */
export const betaPriorSchema = z
  .object({
    alpha: z.number().positive().max(1e6).default(1),
    beta: z.number().positive().max(1e6).default(1),
  })
  .strict();

/** Logistic function σ(x) = 1 / (1 + e^(−x)), evaluated without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Inverse of {@link sigmoid}: log(p / (1 − p)), p in (0, 1). @throws RangeError outside (0, 1) */
export function logit(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`logit needs p in (0, 1), got ${p}`);
  return Math.log(p / (1 - p));
}

/** An Exponential draw with the given mean (inversion: −mean·ln U, U uniform on (0, 1)). */
export function exponential(rng: Rng, mean: number): number {
  return -mean * Math.log(rng.uniform());
}

/**
 * The group of item `index` of `n`: the item's own id when `groupCount` is 0, else
 * `group-<index mod groupCount>` (round-robin, so groups have equal sizes ±1).
 */
export function roundRobinGroup(itemId: string, index: number, groupCount: number): string {
  return groupCount === 0 ? itemId : `group-${index % groupCount}`;
}

/** @throws RangeError when `position` is not an integer ≥ 1 */
export function checkPosition(position: number): void {
  if (!Number.isInteger(position) || position < 1) {
    throw new RangeError(`slate positions are integers >= 1, got ${position}`);
  }
}

/**
 * Validate a slate: known items, integer positions ≥ 1, no item or position twice.
 * @throws RangeError on the first problem found
 */
export function checkSlate(slate: readonly ShownItem[], isKnown: (itemId: string) => boolean): void {
  const items = new Set<string>();
  const positions = new Set<number>();
  for (const s of slate) {
    if (!isKnown(s.itemId)) throw new RangeError(`unknown item ${JSON.stringify(s.itemId)} in slate`);
    checkPosition(s.position);
    if (items.has(s.itemId)) throw new RangeError(`item ${JSON.stringify(s.itemId)} appears twice in the slate`);
    if (positions.has(s.position)) throw new RangeError(`position ${s.position} appears twice in the slate`);
    items.add(s.itemId);
    positions.add(s.position);
  }
}

/**
 * Value of the best slate of `slots` positions under a position-based model:
 * max over injective assignments of Σ_p examination(p) · attraction(item at p).
 * By the rearrangement inequality the optimum pairs the attractions sorted in decreasing order
 * with the examinations of positions 1..slots sorted in decreasing order.
 * @param attractions one value per candidate, each in [0, 1]
 * @param examination examination probability of a 1-based position
 * @param slots number of positions (integer ≥ 0); more slots than candidates leaves the rest empty
 * @throws RangeError when slots is not an integer ≥ 0
 */
export function bestSlateValue(
  attractions: ArrayLike<number>,
  examination: (position: number) => number,
  slots: number,
): number {
  if (!Number.isInteger(slots) || slots < 0) throw new RangeError(`slots must be an integer >= 0, got ${slots}`);
  const a = Float64Array.from(attractions).sort().reverse();
  const e = new Float64Array(slots);
  for (let p = 0; p < slots; p++) e[p] = examination(p + 1);
  e.sort().reverse();
  const n = Math.min(slots, a.length);
  let total = 0;
  for (let i = 0; i < n; i++) total += a[i]! * e[i]!;
  return total;
}

/** Ingredients of a {@link positionBasedEnvironment}. */
export interface PositionBasedSpec {
  readonly name: string;
  readonly groups: ReadonlyMap<string, string>;
  /** The next arrival; may move exogenous state (drift, mood) with `rng`. */
  arrive(at: number, rng: Rng): Arrival;
  /**
   * P(click | examined) of `itemId` for this arrival in the current state, in [0, 1].
   * @throws RangeError for an unknown item
   */
  attraction(arrival: Arrival, itemId: string): number;
  /** P(examined) of a 1-based position, in [0, 1]; every position is examined when absent. */
  examination?(position: number): number;
  /**
   * Move the state on after the clicks were drawn (fatigue, popularity…), and optionally append
   * non-click reactions (convert, dismiss). Must not change any click probability of this slate
   * retroactively: the clicks were already drawn.
   */
  settle?(arrival: Arrival, slate: readonly ShownItem[], clicked: readonly boolean[], rng: Rng, reactions: Reaction[]): void;
}

/**
 * An {@link Environment} from a position-based click model (Craswell et al. 2008; Chuklin,
 * Markov & de Rijke 2015, "Click Models for Web Search", PBM):
 * P(click on item i at position p) = examination(p) · attraction(i), independently per item.
 *
 * `respond` first computes every shown item's probability from the current state, then draws
 * one uniform per shown item in slate order (click iff U < p), then calls `settle`. So
 * Σ expectedReward over the slate equals the expected number of clicks exactly.
 */
export function positionBasedEnvironment(spec: PositionBasedSpec): Environment {
  const exam = spec.examination ?? (() => 1);
  const expectedReward = (arrival: Arrival, itemId: string, position: number): number => {
    checkPosition(position);
    const a = spec.attraction(arrival, itemId);
    const e = exam(position);
    return e === 0 ? 0 : e * a;
  };
  return {
    name: spec.name,
    groups: spec.groups,
    arrive: (at, rng) => spec.arrive(at, rng),
    expectedReward,
    bestSlateReward(arrival, slots) {
      const attractions = arrival.candidates.map((c) => spec.attraction(arrival, c.id));
      return bestSlateValue(attractions, exam, slots);
    },
    respond(arrival, slate, rng) {
      checkSlate(slate, (id) => spec.groups.has(id));
      const p = slate.map((s) => expectedReward(arrival, s.itemId, s.position));
      const clicked = p.map((pi) => rng.uniform() < pi);
      const reactions: Reaction[] = [];
      slate.forEach((s, i) => {
        if (clicked[i]) reactions.push({ itemId: s.itemId, kind: 'click', delayMs: 0 });
      });
      spec.settle?.(arrival, slate, clicked, rng, reactions);
      return reactions;
    },
  };
}

/**
 * The stream a factory draws its hidden parameters from: `rng` when given, else a stream seeded
 * by the environment kind, so `createX(params)` without an rng is reproducible too.
 */
export function setupRng(rng: Rng | undefined, kind: string): Rng {
  return rng ?? createRng(`environment:${kind}`);
}

/** What {@link userItemTableEnvironment} needs: users' numeric features and a P(click) table. */
export interface UserItemTableSpec {
  readonly name: string;
  /** Users' feature vectors (context namespace `user`, keys `u0`, `u1`, …). */
  readonly users: readonly (readonly number[])[];
  /** Items' feature vectors (candidate namespace `item`, keys `v0`, …), or null for items without features. */
  readonly items: readonly (readonly number[])[] | null;
  /** Number of items (ids `item-<i>`). */
  readonly itemCount: number;
  readonly groupCount: number;
  /** prob[j·k + i] = attraction of item i for user j. */
  readonly prob: Float64Array;
}

/**
 * A recurring population of fixed users with a fixed users × items attraction table, shown under
 * the position-based click model: arrivals draw a user uniformly.
 */
export function userItemTableEnvironment(spec: UserItemTableSpec): Environment {
  const k = spec.itemCount;
  const n = spec.users.length;
  const itemIndex = new Map<string, number>();
  const groups = new Map<string, string>();
  const candidates: Candidate[] = Array.from({ length: k }, (_, i) => {
    const id = `item-${i}`;
    itemIndex.set(id, i);
    groups.set(id, roundRobinGroup(id, i, spec.groupCount));
    const v = spec.items?.[i];
    if (!v) return Object.freeze({ id, group: groups.get(id)! });
    const item = Object.fromEntries(v.map((x, l) => [`v${l}`, x]));
    return Object.freeze({ id, group: groups.get(id)!, features: Object.freeze({ item: Object.freeze(item) }) });
  });
  Object.freeze(candidates);
  const userIndex = new Map<string, number>();
  const contexts: NamespacedFeatures[] = spec.users.map((u, j) => {
    userIndex.set(`user-${j}`, j);
    return Object.freeze({ user: Object.freeze(Object.fromEntries(u.map((x, l) => [`u${l}`, x]))) });
  });
  const prob = spec.prob;
  return positionBasedEnvironment({
    name: spec.name,
    groups,
    arrive(at: number, rng: Rng): Arrival {
      const j = rng.int(n);
      return { userId: `user-${j}`, context: contexts[j]!, candidates, at };
    },
    attraction(arrival, itemId) {
      const i = itemIndex.get(itemId);
      if (i === undefined) throw new RangeError(`unknown item ${JSON.stringify(itemId)}`);
      const j = userIndex.get(arrival.userId);
      if (j === undefined) throw new RangeError(`unknown user ${JSON.stringify(arrival.userId)}`);
      return prob[j * k + i]!;
    },
  });
}

/**
 * `user-<j>` → j for a population of n users, caching the last id (an arrival is queried once
 * per candidate). @throws RangeError for an unknown user
 */
export function userIndexParser(n: number): (userId: string) => number {
  let lastUserId = '';
  let lastUser = -1;
  return (userId) => {
    if (userId === lastUserId) return lastUser;
    const m = /^user-(\d+)$/.exec(userId);
    const j = m ? Number(m[1]) : NaN;
    if (!(j < n)) throw new RangeError(`unknown user ${JSON.stringify(userId)}`);
    lastUserId = userId;
    lastUser = j;
    return j;
  };
}

/** Item id → index through `itemIndex`. @throws RangeError for an unknown item */
export function itemIndexLookup(itemIndex: ReadonlyMap<string, number>): (itemId: string) => number {
  return (itemId) => {
    const i = itemIndex.get(itemId);
    if (i === undefined) throw new RangeError(`unknown item ${JSON.stringify(itemId)}`);
    return i;
  };
}
