/**
 * `fatigue`: a recurring population whose interest in an item wears off when they ignore it.
 *
 * For user u and item i at time t, with I_{u,i}(t) the user's ignored exposures of i and
 * C_{u,i}(t) their clicks on i, each counted with exponential decay of half-life h
 * (count(t) = Σ_events 2^(−(t − t_event)/h)):
 *
 *   P(click) = attraction_i · ignoreFactor_i^I(t) · clickFactor_i^C(t),   at every position.
 *
 * So after two ignored exposures at the same instant P = attraction·ignoreFactor² exactly, and
 * it recovers towards `attraction` as the memory decays. "Clickbait" items have a high
 * attraction and a small `clickFactor`: people click them once, then ignore them repeatedly
 * (and the ignores deepen the fatigue). A policy that sees only clicks keeps showing the
 * clickbait (it has the best click rate over fresh users); one that learns from silence and
 * remembers fatigue per user stops after the click and rotates to items the user has not worn
 * out. Every shown item is examined here, so every non-click is an ignored exposure; a share
 * `dismissRate` of them is reported as an explicit `dismiss` (same effect on the state).
 * Reference: the "silence is a signal" section of DESIGN.md; cf. Kapoor et al. 2015 ("I like
 * to explore sometimes": adapting to dynamic user novelty preferences).
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Candidate } from '../../features/types.js';
import type { Arrival, Environment } from './types.js';
import { positionBasedEnvironment, probabilitySchema, itemIndexLookup, userIndexParser } from './common.js';

const HOUR_MS = 3_600_000;

/** One item of a `fatigue` environment. */
export const fatigueItemSchema = z
  .object({
    id: z.string().min(1).max(256).optional(),
    attraction: probabilitySchema,
    /** Multiplier per ignored exposure; defaults to the environment's `ignoreFactor`. */
    ignoreFactor: z.number().gt(0).max(1).optional(),
    /** Multiplier per click (1 = clicking does not wear the item out; small = clickbait). */
    clickFactor: z.number().gt(0).max(1).default(1),
    group: z.string().min(1).max(256).optional(),
  })
  .strict();

/**
 * The default catalogue: 2 clickbait items (0.6 and 0.55, then ×0.05 per click), 8 regular
 * ones (0.30 down to 0.16) and 6 weak fillers (0.05), so rotating blindly is costly too.
 */
export const DEFAULT_FATIGUE_ITEMS: readonly z.input<typeof fatigueItemSchema>[] = [
  { id: 'bait-0', attraction: 0.6, clickFactor: 0.05, group: 'clickbait' },
  { id: 'bait-1', attraction: 0.55, clickFactor: 0.05, group: 'clickbait' },
  ...Array.from({ length: 8 }, (_, i) => ({
    id: `item-${i}`,
    attraction: Math.round((0.3 - 0.02 * i) * 100) / 100,
    group: `regular-${i % 2}`,
  })),
  ...Array.from({ length: 6 }, (_, i) => ({ id: `filler-${i}`, attraction: 0.05, group: 'filler' })),
];

/**
 * Params of a `fatigue` environment.
 * - `users` (1..10⁶, default 50): the recurring population, arrivals uniform.
 * - `items` (1..10 000, default {@link DEFAULT_FATIGUE_ITEMS}): ids default to `item-<i>`,
 *   groups to the id.
 * - `ignoreFactor` (in (0, 1], default 0.5): multiplier per ignored exposure.
 * - `halfLifeMs` (> 0, default 6 h): half-life of both memories.
 * - `dismissRate` (default 0): share of ignored exposures reported as `dismiss`.
 */
export const fatigueParamsSchema = z
  .object({
    kind: z.literal('fatigue').default('fatigue'),
    users: z.number().int().min(1).max(1_000_000).default(50),
    items: z
      .array(fatigueItemSchema)
      .min(1)
      .max(10_000)
      .prefault(DEFAULT_FATIGUE_ITEMS as z.input<typeof fatigueItemSchema>[])
      .refine((items) => new Set(items.map((it, i) => it.id ?? `item-${i}`)).size === items.length, 'item ids must be unique'),
    ignoreFactor: z.number().gt(0).max(1).default(0.5),
    halfLifeMs: z.number().positive().max(1e15).default(6 * HOUR_MS),
    dismissRate: probabilitySchema.default(0),
  })
  .strict();

/** Parsed `fatigue` params. */
export type FatigueParams = z.output<typeof fatigueParamsSchema>;
/** `fatigue` params as written in a scenario. */
export type FatigueParamsInput = z.input<typeof fatigueParamsSchema>;

/**
 * A `fatigue` environment. Users `user-0 …`; the context is empty (the person's history is the
 * only signal, carried by `userId`). State: users × items decayed counts, O(users·items) memory.
 * @param _rng unused (nothing hidden is drawn); accepted for a uniform factory signature
 * @throws ZodError on invalid params
 */
export function createFatigue(params: FatigueParamsInput, _rng?: Rng): Environment {
  const p = fatigueParamsSchema.parse(params);
  const k = p.items.length;
  const n = p.users;
  const ids = p.items.map((it, i) => it.id ?? `item-${i}`);
  const attraction = Float64Array.from(p.items, (it) => it.attraction);
  const ignoreFactor = Float64Array.from(p.items, (it) => it.ignoreFactor ?? p.ignoreFactor);
  const clickFactor = Float64Array.from(p.items, (it) => it.clickFactor);
  const itemIndex = new Map<string, number>(ids.map((id, i) => [id, i]));
  const groups = new Map<string, string>(ids.map((id, i) => [id, p.items[i]!.group ?? id]));
  const candidates: readonly Candidate[] = Object.freeze(ids.map((id) => Object.freeze({ id, group: groups.get(id)! })));
  const context = Object.freeze({});
  // Decayed counts and the time they were last brought up to date, per (user, item).
  const ignored = new Float64Array(n * k);
  const ignoredAt = new Float64Array(n * k);
  const clicks = new Float64Array(n * k);
  const clicksAt = new Float64Array(n * k);
  const decayed = (value: number, since: number, now: number): number =>
    value === 0 ? 0 : value * Math.pow(2, -Math.max(0, now - since) / p.halfLifeMs);

  const userOf = userIndexParser(n);
  const itemOf = itemIndexLookup(itemIndex);

  return positionBasedEnvironment({
    name: 'fatigue',
    groups,
    arrive(at: number, rng: Rng): Arrival {
      return { userId: `user-${rng.int(n)}`, context, candidates, at };
    },
    attraction(arrival, itemId) {
      const i = itemOf(itemId);
      const c = userOf(arrival.userId) * k + i;
      const iCount = decayed(ignored[c]!, ignoredAt[c]!, arrival.at);
      const cCount = decayed(clicks[c]!, clicksAt[c]!, arrival.at);
      return attraction[i]! * Math.pow(ignoreFactor[i]!, iCount) * Math.pow(clickFactor[i]!, cCount);
    },
    settle(arrival, slate, clicked, rng, reactions) {
      const base = userOf(arrival.userId) * k;
      const t = arrival.at;
      slate.forEach((s, idx) => {
        const c = base + itemOf(s.itemId);
        if (clicked[idx]) {
          clicks[c] = decayed(clicks[c]!, clicksAt[c]!, t) + 1;
          clicksAt[c] = t;
        } else {
          ignored[c] = decayed(ignored[c]!, ignoredAt[c]!, t) + 1;
          ignoredAt[c] = t;
          if (p.dismissRate > 0 && rng.uniform() < p.dismissRate) {
            reactions.push({ itemId: s.itemId, kind: 'dismiss', delayMs: 0 });
          }
        }
      });
    },
  });
}
