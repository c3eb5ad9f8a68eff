/**
 * The per-user exploration allowance: a token bucket (rate per hour, burst) on plain,
 * JSON-serializable state with injected time. One token = one serendipity slot.
 *
 * Accounting: tokens(t) = min(burst, tokens(t₀) + (t − t₀)·ratePerHour/3 600 000) for t ≥ t₀ in
 * milliseconds; `take` subtracts whole tokens exactly (x − n is exact in binary floating point
 * for an integer 0 ≤ n ≤ x), and the level never leaves [0, burst].
 * Reference: the single-rate token bucket (cf. RFC 2697, one bucket with a rate and a burst size).
 */

/** Serializable bucket state. */
export interface TokenBucketState {
  /** Current level in [0, burst] (fractional between refills). */
  readonly tokens: number;
  /** Time of the last refill, in ms (injected clock). */
  readonly updatedAt: number;
}

/** Result of {@link take}. */
export interface TakeResult {
  readonly state: TokenBucketState;
  /** Whole tokens actually taken: min(n, available(state)). */
  readonly taken: number;
}

const MS_PER_HOUR = 3_600_000;
/** Float slack when counting whole tokens, so 0.9999999999999999 after many refills still counts as 1. */
const WHOLE_TOKEN_SLACK = 1e-9;

function checkRate(ratePerHour: number, burst: number): void {
  if (!(ratePerHour >= 0) || !Number.isFinite(ratePerHour)) {
    throw new RangeError(`ratePerHour must be finite and >= 0, got ${ratePerHour}`);
  }
  if (!(burst >= 0) || !Number.isFinite(burst)) throw new RangeError(`burst must be finite and >= 0, got ${burst}`);
}

/**
 * A full bucket at time `nowMs` (a new person starts with their whole burst).
 * @throws RangeError when burst is negative or not finite, or nowMs is not finite
 */
export function createTokenBucket(burst: number, nowMs: number): TokenBucketState {
  checkRate(0, burst);
  if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be finite, got ${nowMs}`);
  return { tokens: burst, updatedAt: nowMs };
}

/**
 * The bucket at `nowMs`: tokens + (nowMs − updatedAt)·ratePerHour/3.6e6, capped at `burst`.
 * A clock that goes backwards mints nothing and does not move `updatedAt` back; a level above
 * `burst` (after a reconfiguration) is cut to `burst`.
 * @throws RangeError on a negative or non-finite rate or burst, or a non-finite nowMs
 */
export function refill(state: TokenBucketState, nowMs: number, ratePerHour: number, burst: number): TokenBucketState {
  checkRate(ratePerHour, burst);
  if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be finite, got ${nowMs}`);
  const elapsed = nowMs - state.updatedAt;
  if (!(elapsed > 0)) {
    const tokens = Math.min(burst, Math.max(0, state.tokens));
    return tokens === state.tokens ? state : { tokens, updatedAt: state.updatedAt };
  }
  // Multiply before dividing so whole-hour fractions (e.g. 30 min at 2/h) come out exact.
  const tokens = Math.min(burst, Math.max(0, state.tokens) + (elapsed * ratePerHour) / MS_PER_HOUR);
  return { tokens, updatedAt: nowMs };
}

/** Whole tokens available now: ⌊tokens + 1e-9⌋ (call {@link refill} first). */
export function available(state: TokenBucketState): number {
  return Math.max(0, Math.floor(state.tokens + WHOLE_TOKEN_SLACK));
}

/**
 * Spend up to `n` whole tokens: taken = min(n, available(state)); the level drops by exactly
 * `taken` (clamped at 0, which only matters inside the 1e-9 slack).
 * @throws RangeError when n is not a non-negative integer
 */
export function take(state: TokenBucketState, n: number): TakeResult {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`take needs a non-negative integer, got ${n}`);
  const taken = Math.min(n, available(state));
  if (taken === 0) return { state, taken };
  return { state: { tokens: Math.max(0, state.tokens - taken), updatedAt: state.updatedAt }, taken };
}

/** Alias of {@link TokenBucketState} (the engine's name). */
export type BucketState = TokenBucketState;

/** Alias of {@link refill}. */
export const refillBucket = refill;

/** Alias of {@link available}: whole tokens available now. */
export const availableTokens = available;

/**
 * {@link take} returning only the new state (the engine's form): spends min(n, available) tokens.
 * @throws RangeError when n is not a non-negative integer
 */
export function takeTokens(state: TokenBucketState, n: number): TokenBucketState {
  return take(state, n).state;
}
