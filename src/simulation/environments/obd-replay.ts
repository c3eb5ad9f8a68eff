/**
 * `obd-replay`: the Open Bandit Dataset as logged rounds for the replay method
 * (Li, Chu, Langford & Wang 2011, "Unbiased offline evaluation of contextual-bandit-based news
 * article recommendation algorithms").
 *
 * Why this is not an {@link Environment}: a log cannot answer counterfactual questions. There is
 * no click probability for an item that was not shown (`expectedReward`, `bestSlateReward`) and
 * no reaction to a slate other than the logged one (`respond`). Instead the runner walks the
 * logged rounds in time order:
 *
 * 1. give the policy `round.arrival` (context, candidates, time) and let it rank a slate;
 * 2. `replayMatch(round, slate)`: does the slate hold the logged item at the logged position?
 *    OBD rows are single (position, item) impressions, so matching is per position, as in OBP;
 * 3. only on a match, count `round.click` as the policy's reward and feed that outcome back
 *    (a click, or silence); otherwise discard the round entirely — no reward, no update.
 *
 * The mean reward over matched rounds is an unbiased estimate of the policy's CTR when the
 * logging policy chose uniformly at random (`behaviorPolicy: 'random'`, where
 * `uniformLogging` is true); about one round in nItems matches. On the `bts` logs replay is
 * biased — use the IPS/DR estimators with `round.propensity` instead.
 */
import { z } from 'zod';
import type { Candidate, Namespace } from '../../features/types.js';
import type { Arrival, ShownItem } from './types.js';
import type { ObdData } from './csv.js';

/**
 * Params of an OBD replay (what a scenario writes; the CLI loads the data with `loadObd` from the
 * same `behaviorPolicy`, `campaign` and `limit`).
 * - `behaviorPolicy` (default `random`), `campaign` (default `men`), `limit` (optional, ≥ 1).
 * - `includeAffinity` (default true): add the non-zero `user-item_affinity_<j>` values to the
 *   context as namespace `affinity` (keys: item ids).
 * - `groupBy` (default `item_feature_1`): the item feature naming each item's group, or null for
 *   one group per item.
 */
export const obdReplayParamsSchema = z
  .object({
    kind: z.literal('obd-replay').default('obd-replay'),
    behaviorPolicy: z.enum(['random', 'bts']).default('random'),
    campaign: z.enum(['all', 'men', 'women']).default('men'),
    limit: z.number().int().min(1).max(1e9).optional(),
    includeAffinity: z.boolean().default(true),
    groupBy: z.string().min(1).max(256).nullable().default('item_feature_1'),
  })
  .strict();

/** Parsed OBD replay params. */
export type ObdReplayParams = z.output<typeof obdReplayParamsSchema>;
/** OBD replay params as written in a scenario. */
export type ObdReplayParamsInput = z.input<typeof obdReplayParamsSchema>;

/** What the logging policy showed: one item at one position. */
export interface LoggedItem {
  readonly itemId: string;
  /** 1-based position. */
  readonly position: number;
}

/** One logged round: the situation the policy sees, and what the logging policy did. */
export interface ObdRound extends LoggedItem {
  /** Row index in the log (time order). */
  readonly index: number;
  /**
   * The situation: `userId` `obd-<index>` (OBD has no user ids), context
   * `{ user: { user_feature_k: hash }, affinity?: { <itemId>: value ≠ 0 } }`, every item of the
   * campaign as a candidate, `at` = the logged timestamp (ms).
   */
  readonly arrival: Arrival;
  /** The logged reward: 1 click, 0 none. */
  readonly click: 0 | 1;
  /** The logging policy's probability of this item at this position, in (0, 1]. */
  readonly propensity: number;
}

/** An OBD log prepared for replay (see the module comment for the protocol). */
export interface ObdReplay {
  /** `obd-<behaviorPolicy>-<campaign>`. */
  readonly name: string;
  /** Each item's group (by `groupBy`), as {@link Environment.groups}. */
  readonly groups: ReadonlyMap<string, string>;
  /** The campaign's items (ids `"0"…"nItems-1"`), namespace `item` holding `item_feature_k`. */
  readonly candidates: readonly Candidate[];
  /** The logged rounds, in time order. */
  readonly rounds: readonly ObdRound[];
  /** Largest logged position (3 in OBD): the slate size a policy must rank for replay. */
  readonly slots: number;
  /** True when every propensity is the same (uniform random logging): replay is then unbiased. */
  readonly uniformLogging: boolean;
  /** True when `slate` shows `logged.itemId` at `logged.position` (the round counts). */
  replayMatch(logged: LoggedItem, slate: readonly ShownItem[]): boolean;
}

/**
 * Prepare an OBD log for replay.
 * @param data a log from `loadObd`
 * @param params see {@link obdReplayParamsSchema} (the loading fields are ignored here)
 * @throws ZodError on invalid params; Error when `groupBy` is not an item feature
 */
export function createObdReplay(data: ObdData, params: ObdReplayParamsInput = {}): ObdReplay {
  const p = obdReplayParamsSchema.parse(params);
  if (p.groupBy !== null && !data.itemFeatureNames.includes(p.groupBy)) {
    throw new Error(`groupBy ${JSON.stringify(p.groupBy)} is not an item feature (${data.itemFeatureNames.join(', ')})`);
  }
  const ids = Array.from({ length: data.nItems }, (_, i) => String(i));
  const groups = new Map<string, string>(
    ids.map((id, i) => [id, p.groupBy === null ? id : String(data.itemFeatures[i]?.[p.groupBy] ?? id)]),
  );
  const candidates: readonly Candidate[] = Object.freeze(
    ids.map((id, i) =>
      Object.freeze({ id, group: groups.get(id)!, features: Object.freeze({ item: Object.freeze({ ...data.itemFeatures[i] }) }) }),
    ),
  );
  const n = data.itemIds.length;
  const rounds: ObdRound[] = new Array(n);
  let slots = 0;
  for (let t = 0; t < n; t++) {
    const user: Record<string, string> = {};
    data.userFeatureNames.forEach((name, k) => (user[name] = data.userFeatures[t]![k]!));
    const context: Record<string, Namespace> = { user };
    if (p.includeAffinity) {
      const affinity: Record<string, number> = {};
      data.affinities[t]!.forEach((v, j) => {
        if (v !== 0 && Number.isFinite(v)) affinity[ids[j]!] = v;
      });
      context.affinity = affinity;
    }
    const position = data.positions[t]!;
    slots = Math.max(slots, position);
    rounds[t] = {
      index: t,
      itemId: ids[data.itemIds[t]!]!,
      position,
      click: data.clicks[t] === 1 ? 1 : 0,
      propensity: data.propensities[t]!,
      arrival: { userId: `obd-${t}`, context, candidates, at: data.timestamps[t]! },
    };
  }
  const first = data.propensities[0];
  const uniformLogging = n > 0 && data.propensities.every((q) => Math.abs(q - first!) <= 1e-12);
  return {
    name: `obd-${data.behaviorPolicy}-${data.campaign}`,
    groups,
    candidates,
    rounds,
    slots,
    uniformLogging,
    replayMatch(logged, slate) {
      return slate.some((s) => s.position === logged.position && s.itemId === logged.itemId);
    },
  };
}
