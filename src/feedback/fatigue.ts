/**
 * Fatigue memory: per (user, item) and (user, group), a count of rejections (ignored and
 * dismissed impressions) that decays exponentially with a half-life, so people can change their
 * minds. A positive response resets the item's and the group's count ("consecutive" rejections).
 *
 * value(t) = value(t₀) · 2^(−(t − t₀)/halfLife). Pure: time is passed in, state is plain JSON.
 */

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
 * Fold one outcome into a user's fatigue state, returning a new state (the input is not mutated).
 * Rejections add `amount` to the item's and the group's count; positives reset both to zero.
 */
export function foldFatigue(
  state: FatigueState | undefined,
  event: { itemId: string; group?: string; rejection: boolean; amount: number; at: number },
  halfLifeMs: number,
): FatigueState {
  const next: Record<string, readonly [number, number]> = {};
  // Carry over what is not yet forgotten, decayed to a common time only when touched.
  if (state) for (const [k, v] of Object.entries(state)) if (fatigueAt(state, k, event.at, halfLifeMs) >= FORGOTTEN) next[k] = v;
  const keys = [fatigueKey.item(event.itemId)];
  if (event.group !== undefined) keys.push(fatigueKey.group(event.group));
  for (const k of keys) {
    if (event.rejection) next[k] = [fatigueAt(state, k, event.at, halfLifeMs) + event.amount, event.at];
    else delete next[k];
  }
  return next;
}
