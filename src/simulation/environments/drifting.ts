/**
 * `drifting`: non-stationary tastes. Users belong to segments; each segment s has a logit
 * a_{s,i} per item and P(click | segment s, item i) = σ(a_{s,i}), at every position.
 *
 * - Gradual drift: between consecutive arrivals every a_{s,i} takes a Gaussian random-walk step,
 *   a ← a + volatility · ε, ε ~ N(0, 1) (so after n arrivals the sd of the change is
 *   volatility·√n).
 * - Abrupt change: at each arrival index in `changeAt` (0-based; that arrival is the first to
 *   see the new tastes) every segment's tastes jump: `swap-best` swaps the best item's logit
 *   with that of another item drawn uniformly (so the best item always changes), `reverse`
 *   reverses the ranking (the best becomes the worst, the worst the best).
 *
 * Both are exogenous: they are drawn in `arrive` and do not depend on what was shown.
 * Reference: Garivier & Moulines 2011 (abruptly changing bandits, discounted/sliding-window UCB).
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Candidate, NamespacedFeatures } from '../../features/types.js';
import type { Arrival, Environment } from './types.js';
import { logit, positionBasedEnvironment, roundRobinGroup, setupRng, sigmoid, itemIndexLookup, userIndexParser } from './common.js';

/**
 * Params of a `drifting` environment.
 * - `initial` (optional, segments × items probabilities in (0, 1)): the starting tastes; else
 *   `segments` (1..1000, default 3) × `items` (1..10 000, default 10) logits are drawn as
 *   logit(`baseRate`) + `spread`·N(0, 1) (defaults 0.1 and 1).
 * - `users` (1..10⁷, default 300): user j belongs to segment j mod segments.
 * - `volatility` (0..10, default 0.02): sd of each logit's step per arrival.
 * - `changeAt` (default []): arrival indices of abrupt changes; `jump` (default `swap-best`).
 * - `revealSegment` (default true): the context carries `user.segment`.
 * - `groupCount` (default 0 = each item its own group).
 */
export const driftingParamsSchema = z
  .object({
    kind: z.literal('drifting').default('drifting'),
    initial: z
      .array(z.array(z.number().gt(0).lt(1)).min(1).max(10_000))
      .min(1)
      .max(1000)
      .refine((m) => m.every((row) => row.length === m[0]!.length), 'every segment needs the same number of items')
      .optional(),
    segments: z.number().int().min(1).max(1000).default(3),
    items: z.number().int().min(1).max(10_000).default(10),
    baseRate: z.number().gt(0).lt(1).default(0.1),
    spread: z.number().min(0).max(100).default(1),
    users: z.number().int().min(1).max(1e7).default(300),
    volatility: z.number().min(0).max(10).default(0.02),
    changeAt: z.array(z.number().int().min(0)).max(10_000).default([]),
    jump: z.enum(['swap-best', 'reverse']).default('swap-best'),
    revealSegment: z.boolean().default(true),
    groupCount: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();

/** Parsed `drifting` params. */
export type DriftingParams = z.output<typeof driftingParamsSchema>;
/** `drifting` params as written in a scenario. */
export type DriftingParamsInput = z.input<typeof driftingParamsSchema>;

function argmax(a: Float64Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[from + i]! > a[from + best]!) best = i;
  return best;
}

/**
 * A `drifting` environment. Users `user-0 …`, items `item-0 …`, segments `segment-0 …`.
 * @param rng draws the initial logits when `initial` is absent (default: a stream seeded by the kind)
 * @throws ZodError on invalid params
 */
export function createDrifting(params: DriftingParamsInput, rng?: Rng): Environment {
  const p = driftingParamsSchema.parse(params);
  const nSeg = p.initial?.length ?? p.segments;
  const k = p.initial?.[0]?.length ?? p.items;
  const logits = new Float64Array(nSeg * k);
  if (p.initial) {
    p.initial.forEach((row, s) => row.forEach((q, i) => (logits[s * k + i] = logit(q))));
  } else {
    const r = setupRng(rng, 'drifting');
    const b = logit(p.baseRate);
    for (let j = 0; j < logits.length; j++) logits[j] = b + p.spread * r.normal();
  }
  const changes = new Set(p.changeAt);
  const order = new Int32Array(k);
  const sortedValues = new Float64Array(k);

  const jump = (rng2: Rng): void => {
    for (let s = 0; s < nSeg; s++) {
      const o = s * k;
      if (p.jump === 'swap-best') {
        if (k < 2) continue;
        const best = argmax(logits, o, k);
        let other = rng2.int(k - 1);
        if (other >= best) other++;
        const t = logits[o + best]!;
        logits[o + best] = logits[o + other]!;
        logits[o + other] = t;
      } else {
        // The item of rank r (ascending) takes the value of rank k−1−r.
        for (let i = 0; i < k; i++) order[i] = i;
        order.sort((x, y) => logits[o + x]! - logits[o + y]! || x - y);
        for (let r = 0; r < k; r++) sortedValues[r] = logits[o + order[r]!]!;
        for (let r = 0; r < k; r++) logits[o + order[r]!] = sortedValues[k - 1 - r]!;
      }
    }
  };

  const itemIndex = new Map<string, number>();
  const groups = new Map<string, string>();
  const candidates: Candidate[] = [];
  for (let i = 0; i < k; i++) {
    const id = `item-${i}`;
    itemIndex.set(id, i);
    groups.set(id, roundRobinGroup(id, i, p.groupCount));
    candidates.push(Object.freeze({ id, group: groups.get(id)! }));
  }
  Object.freeze(candidates);
  const contexts = Array.from({ length: nSeg }, (_, s): NamespacedFeatures => {
    const context: Record<string, Record<string, string>> = p.revealSegment ? { user: { segment: `segment-${s}` } } : {};
    return Object.freeze(context);
  });
  const userOf = userIndexParser(p.users);
  const itemOf = itemIndexLookup(itemIndex);
  let arrivals = 0;

  return positionBasedEnvironment({
    name: 'drifting',
    groups,
    arrive(at: number, rng2: Rng): Arrival {
      if (arrivals > 0 && p.volatility > 0) {
        for (let j = 0; j < logits.length; j++) logits[j] = logits[j]! + p.volatility * rng2.normal();
      }
      if (changes.has(arrivals)) jump(rng2);
      arrivals++;
      const j = rng2.int(p.users);
      return { userId: `user-${j}`, context: contexts[j % nSeg]!, candidates, at };
    },
    attraction(arrival, itemId) {
      return sigmoid(logits[(userOf(arrival.userId) % nSeg) * k + itemOf(itemId)]!);
    },
  });
}
