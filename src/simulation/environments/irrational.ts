/**
 * `irrational`: a population whose clicks do not follow one stable utility — the people the
 * exploration budget leaves room for. Items fall in `groupCount` groups (for concentration
 * metrics); each item has a quality q_i. Users belong to fixed segments (proportions `mix`,
 * assigned deterministically in order of user index), and P(click) at any position is:
 *
 * - `random`: randomRate, whatever the item;
 * - `novelty`: q_i if the item was never shown to this user, else q_i · noveltySeenFactor;
 * - `contrarian`: lo + (hi − lo) · (1 − pop_i / max_j pop_j), with pop_i the clicks item i has
 *   received from everyone so far (hi for every item while nothing has been clicked): they
 *   prefer what is least popular;
 * - `mood`: moodHigh for items of the user's current favourite group, moodLow otherwise; the
 *   favourite flips to another group (uniform) at the events of a Poisson process with mean
 *   interval moodMeanMs, drawn in `arrive` from the user's previous arrival to this one;
 * - `mainstream`: q_i in the mainstream group, q_i · mainstreamOtherFactor elsewhere — their
 *   clicks concentrate on one group.
 *
 * The context is the current situation: `session.lastGroup` (group of this user's last click,
 * `none` before any), plus `user.segment` when `revealSegment` is set.
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Candidate, NamespacedFeatures } from '../../features/types.js';
import type { Arrival, Environment } from './types.js';
import { betaPriorSchema, exponential, positionBasedEnvironment, probabilitySchema, setupRng, itemIndexLookup, userIndexParser } from './common.js';

const DAY_MS = 86_400_000;

/** The segments of an `irrational` population. */
export const IRRATIONAL_SEGMENTS = ['random', 'novelty', 'contrarian', 'mood', 'mainstream'] as const;
/** One segment of an `irrational` population. */
export type IrrationalSegment = (typeof IRRATIONAL_SEGMENTS)[number];

const share = z.number().min(0).max(1e6);

/**
 * Params of an `irrational` environment.
 * - `users` (1..10⁶, default 200); `groupCount` (1..1000, default 4) × `itemsPerGroup`
 *   (1..10 000, default 5) items `item-<n>` in groups `group-<g>` (n = g·itemsPerGroup + j).
 * - `quality` (optional, one value in [0, 1] per item) else drawn from `prior` (default Beta(2, 5)).
 * - `mix` (weights ≥ 0, normalised; default random 0.1, novelty 0.2, contrarian 0.1, mood 0.2,
 *   mainstream 0.4).
 * - `randomRate` 0.1; `noveltySeenFactor` 0.1; `contrarianHigh` 0.3, `contrarianLow` 0.02;
 *   `moodHigh` 0.4, `moodLow` 0.02, `moodMeanMs` (> 0) 1 day; `mainstreamGroup` (group index) 0,
 *   `mainstreamOtherFactor` 0.1; `revealSegment` false.
 */
export const irrationalParamsSchema = z
  .object({
    kind: z.literal('irrational').default('irrational'),
    users: z.number().int().min(1).max(1_000_000).default(200),
    groupCount: z.number().int().min(1).max(1000).default(4),
    itemsPerGroup: z.number().int().min(1).max(10_000).default(5),
    quality: z.array(probabilitySchema).min(1).max(1_000_000).optional(),
    prior: betaPriorSchema.default({ alpha: 2, beta: 5 }),
    mix: z
      .object({
        random: share.default(0.1),
        novelty: share.default(0.2),
        contrarian: share.default(0.1),
        mood: share.default(0.2),
        mainstream: share.default(0.4),
      })
      .strict()
      .prefault({})
      .refine((m) => IRRATIONAL_SEGMENTS.some((s) => m[s] > 0), 'at least one segment needs a positive share'),
    randomRate: probabilitySchema.default(0.1),
    noveltySeenFactor: probabilitySchema.default(0.1),
    contrarianHigh: probabilitySchema.default(0.3),
    contrarianLow: probabilitySchema.default(0.02),
    moodHigh: probabilitySchema.default(0.4),
    moodLow: probabilitySchema.default(0.02),
    moodMeanMs: z.number().positive().max(1e15).default(DAY_MS),
    mainstreamGroup: z.number().int().min(0).max(999).default(0),
    mainstreamOtherFactor: probabilitySchema.default(0.1),
    revealSegment: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.quality && p.quality.length !== p.groupCount * p.itemsPerGroup) {
      ctx.addIssue({
        code: 'custom',
        path: ['quality'],
        message: `expected ${p.groupCount * p.itemsPerGroup} values (groupCount × itemsPerGroup), got ${p.quality.length}`,
      });
    }
    if (p.mainstreamGroup >= p.groupCount) {
      ctx.addIssue({ code: 'custom', path: ['mainstreamGroup'], message: `must be < groupCount (${p.groupCount})` });
    }
  });

/** Parsed `irrational` params. */
export type IrrationalParams = z.output<typeof irrationalParamsSchema>;
/** `irrational` params as written in a scenario. */
export type IrrationalParamsInput = z.input<typeof irrationalParamsSchema>;

/**
 * Segment of user j of n for the given mix: the segment whose cumulative share interval holds
 * (j + ½)/n, so each segment gets its share of users to within one.
 */
export function irrationalSegmentOf(j: number, n: number, mix: Readonly<Record<IrrationalSegment, number>>): IrrationalSegment {
  const total = IRRATIONAL_SEGMENTS.reduce((s, k) => s + mix[k], 0);
  const u = ((j + 0.5) / n) * total;
  let acc = 0;
  let last: IrrationalSegment = 'mainstream';
  for (const s of IRRATIONAL_SEGMENTS) {
    if (mix[s] <= 0) continue;
    acc += mix[s];
    last = s;
    if (u < acc) return s;
  }
  return last;
}

/**
 * An `irrational` environment.
 * @param rng draws the qualities (when not given) and the mood users' first favourite groups
 *   (default: a stream seeded by the kind)
 * @throws ZodError on invalid params
 */
export function createIrrational(params: IrrationalParamsInput, rng?: Rng): Environment {
  const p = irrationalParamsSchema.parse(params);
  const r = setupRng(rng, 'irrational');
  const nGroups = p.groupCount;
  const k = nGroups * p.itemsPerGroup;
  const n = p.users;
  const qualityRng = r.fork('quality');
  const quality = p.quality ?? Array.from({ length: k }, () => qualityRng.beta(p.prior.alpha, p.prior.beta));
  const groupIndex = new Int32Array(k);
  const itemIndex = new Map<string, number>();
  const groups = new Map<string, string>();
  const candidates: Candidate[] = [];
  for (let i = 0; i < k; i++) {
    const id = `item-${i}`;
    const g = Math.floor(i / p.itemsPerGroup);
    groupIndex[i] = g;
    itemIndex.set(id, i);
    groups.set(id, `group-${g}`);
    candidates.push(Object.freeze({ id, group: `group-${g}` }));
  }
  Object.freeze(candidates);

  const segment: IrrationalSegment[] = Array.from({ length: n }, (_, j) => irrationalSegmentOf(j, n, p.mix));
  const moodRng = r.fork('mood');
  const favourite = Int32Array.from({ length: n }, () => moodRng.int(nGroups));
  const lastSeen = new Float64Array(n).fill(Number.NaN);
  const lastGroup: string[] = new Array<string>(n).fill('none');
  const seen = new Map<number, Uint8Array>();
  const popularity = new Float64Array(k);
  let maxPopularity = 0;

  const userOf = userIndexParser(n);
  const itemOf = itemIndexLookup(itemIndex);

  return positionBasedEnvironment({
    name: 'irrational',
    groups,
    arrive(at: number, arrivalRng: Rng): Arrival {
      const j = arrivalRng.int(n);
      if (segment[j] === 'mood' && nGroups > 1) {
        const since = lastSeen[j]!;
        // Poisson flips in (since, at]: memoryless, so restarting the clock at each visit is exact.
        if (!Number.isNaN(since)) {
          for (let t = since + exponential(arrivalRng, p.moodMeanMs); t <= at; t += exponential(arrivalRng, p.moodMeanMs)) {
            let g = arrivalRng.int(nGroups - 1);
            if (g >= favourite[j]!) g++;
            favourite[j] = g;
          }
        }
      }
      lastSeen[j] = at;
      const context: NamespacedFeatures = p.revealSegment
        ? { user: { segment: segment[j]! }, session: { lastGroup: lastGroup[j]! } }
        : { session: { lastGroup: lastGroup[j]! } };
      return { userId: `user-${j}`, context, candidates, at };
    },
    attraction(arrival, itemId) {
      const i = itemOf(itemId);
      const j = userOf(arrival.userId);
      switch (segment[j]!) {
        case 'random':
          return p.randomRate;
        case 'novelty':
          return seen.get(j)?.[i] ? quality[i]! * p.noveltySeenFactor : quality[i]!;
        case 'contrarian':
          return maxPopularity === 0
            ? p.contrarianHigh
            : p.contrarianLow + (p.contrarianHigh - p.contrarianLow) * (1 - popularity[i]! / maxPopularity);
        case 'mood':
          return groupIndex[i] === favourite[j] ? p.moodHigh : p.moodLow;
        case 'mainstream':
          return groupIndex[i] === p.mainstreamGroup ? quality[i]! : quality[i]! * p.mainstreamOtherFactor;
      }
    },
    settle(arrival, slate, clicked) {
      const j = userOf(arrival.userId);
      let mark = seen.get(j);
      if (!mark && segment[j] === 'novelty') seen.set(j, (mark = new Uint8Array(k)));
      slate.forEach((s, idx) => {
        const i = itemOf(s.itemId);
        if (mark) mark[i] = 1;
        if (clicked[idx]) {
          popularity[i] = popularity[i]! + 1;
          if (popularity[i]! > maxPopularity) maxPopularity = popularity[i]!;
          lastGroup[j] = `group-${groupIndex[i]}`;
        }
      });
    },
  });
}
