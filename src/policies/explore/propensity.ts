/**
 * Propensities of the whole randomized selection rule of `select.ts` (TS draw + floor mixture +
 * serendipity budget + caps + cool-down), by Monte-Carlo on a derived rng stream.
 *
 * For each shown position p with item i_p the estimator returns
 *   position[p] ≈ P(rule puts i_p at position p),   slate[p] ≈ P(rule puts i_p in the slate).
 *
 * ## Estimator
 *
 * The floor mixture is integrated analytically: with q = min(1, floor·k/L),
 *   P = q·P_floor + (1 − q)·P_rest.
 * P_floor is exact (1/k per position, L/k inclusion) when no cap can bind — no named group has
 * more members than the cap, so the floor component is a plain uniformly random permutation;
 * otherwise it is estimated by M draws of the floor component. P_rest is estimated by M draws of
 * (sample scores → the non-floor component of the rule).
 *
 * The decision's own slate is one more genuine draw of the component it came from (the
 * component coin is independent of the draw inside the component), so that component's estimate
 * is (count + own)/(M + 1). This keeps every shown item's propensity > 0 — an inverse
 * propensity weight is never infinite — at a bias of at most 1/(M + 1).
 *
 * With `exchangeable` (iid continuous scores, e.g. the `uniform` policy) and a rule that treats
 * every candidate alike (no cool-down, no cap that can bind, and serendipity that is uniform or
 * absent) the rule is invariant under relabelling the candidates, so P = 1/k per position and
 * L/k inclusion exactly; `draws` is then 0. When the flag is set but the rule is not symmetric
 * the estimator falls back to Monte-Carlo (the flag alone is not enough).
 *
 * The estimator consumes only the rng it is given — pass a derived stream such as
 * `decisionRng.fork('propensity')` so the decision's own draw is unchanged.
 */
import type { Rng } from '../../core/rng.js';
import {
  createPreparedSelector,
  createSlateChoice,
  floorMixtureProbability,
  groupCapOf,
  slateLengthOf,
  UNCERTAIN_EPSILON,
  validateSelectionParams,
  type PreparedSelector,
  type SelectionInput,
  type SelectionParams,
  type SlateChoice,
} from './select.js';

/** One posterior draw of scores, written into `out[0, k)` using `rng` (the policy's sample). */
export type ScoreSampler = (rng: Rng, out: Float64Array) => void;

/** Propensities of the shown items, per shown position p (arrays of length L). */
export interface Propensities {
  /** P(the item shown at p is put at position p), in (0, 1]. */
  position: Float64Array;
  /** P(the item shown at p is in the slate), in (0, 1]. */
  slate: Float64Array;
  /** Monte-Carlo draws M per estimated component; 0 when the result is exact (closed form). */
  draws: number;
}

/** Propensities of every candidate (from the same estimator as {@link Propensities}). */
export interface AllPropensities {
  k: number;
  slateLength: number;
  /** k×L row-major: position[i·L + p] = P(candidate i at position p); each column sums to 1. */
  position: Float64Array;
  /** Length k: P(candidate i in the slate); sums to L, and slate[i] = Σ_p position[i·L + p]. */
  slate: Float64Array;
  draws: number;
}

/** Options of the estimator. */
export interface PropensityOptions {
  /** The sampler's scores are iid continuous across candidates (closed form when the rule is symmetric). */
  exchangeable?: boolean;
}

/** A propensity estimator with its own preallocated scratch. */
export interface PropensityEstimator {
  /** See {@link estimatePropensities}. */
  estimate(
    sampleScores: ScoreSampler,
    input: SelectionInput,
    params: SelectionParams,
    shown: SlateChoice,
    k: number,
    draws: number,
    rng: Rng,
    opts?: PropensityOptions,
  ): Propensities;
  /** See {@link estimateAllPropensities}. */
  estimateAll(
    sampleScores: ScoreSampler,
    input: SelectionInput,
    params: SelectionParams,
    shown: SlateChoice,
    k: number,
    draws: number,
    rng: Rng,
    opts?: PropensityOptions,
  ): AllPropensities;
}

class MonteCarloEstimator implements PropensityEstimator {
  private readonly selector: PreparedSelector = createPreparedSelector();
  private sim: SlateChoice = createSlateChoice(0);
  private scores = new Float64Array(0);
  private zeros = new Float64Array(0);
  /** Result, k×L row-major, and inclusion per candidate. */
  private pos = new Float64Array(0);
  private inc = new Float64Array(0);
  /** Counts of the component being estimated. */
  private cntPos = new Float64Array(0);
  private cntInc = new Float64Array(0);
  busy = false;

  private reserve(k: number, L: number): void {
    if (this.scores.length < k) {
      this.scores = new Float64Array(k);
      this.zeros = new Float64Array(k);
      this.inc = new Float64Array(k);
      this.cntInc = new Float64Array(k);
    }
    if (this.sim.items.length < L) this.sim = createSlateChoice(L);
    if (this.pos.length < k * L) {
      this.pos = new Float64Array(k * L);
      this.cntPos = new Float64Array(k * L);
    }
  }

  /** Fill this.pos / this.inc for all candidates; returns the draws M used (0 = exact). */
  private run(
    sampleScores: ScoreSampler,
    input: SelectionInput,
    params: SelectionParams,
    shown: SlateChoice,
    k: number,
    draws: number,
    rng: Rng,
    opts: PropensityOptions | undefined,
  ): number {
    validateSelectionParams(params);
    if (k !== input.groups.length) throw new RangeError(`k = ${k} but input has ${input.groups.length} candidates`);
    if (!Number.isInteger(draws) || draws < 1) throw new RangeError(`draws must be an integer >= 1, got ${draws}`);
    const L = slateLengthOf(params.slots, k);
    if (shown.length !== L) throw new RangeError(`shown slate has ${shown.length} positions, the rule gives ${L}`);
    for (let p = 0; p < L; p++) {
      const i = shown.items[p]!;
      if (!(i >= 0 && i < k)) throw new RangeError(`shown item ${i} at position ${p} is outside [0, ${k})`);
    }
    const q = floorMixtureProbability(params.floor, k, L);
    if ((q >= 1 && !shown.floorComponent) || (q === 0 && shown.floorComponent)) {
      throw new RangeError(`shown.floorComponent = ${shown.floorComponent} is impossible with floor component probability ${q}`);
    }
    this.reserve(k, L);
    const sel = this.selector;
    sel.prepare(input);
    const capsCanBind = sel.maxGroupSize > groupCapOf(params.maxGroupShare, L);
    const pos = this.pos;
    const inc = this.inc;
    pos.fill(0, 0, k * L);
    inc.fill(0, 0, k);
    if (L === 0) return 0;

    if (opts?.exchangeable === true && this.symmetric(input, params, k, L, capsCanBind)) {
      pos.fill(1 / k, 0, k * L);
      inc.fill(L / k, 0, k);
      return 0;
    }

    let used = 0;
    if (q > 0) {
      if (!capsCanBind) {
        this.addUniform(q, k, L);
      } else {
        this.monteCarlo(null, input, params, shown, k, L, draws, rng, 'floor', shown.floorComponent, q);
        used = draws;
      }
    }
    if (q < 1) {
      this.monteCarlo(sampleScores, input, params, shown, k, L, draws, rng, 'rest', !shown.floorComponent, 1 - q);
      used = draws;
    }
    return used;
  }

  /** True when the rule treats all candidates alike (so iid scores give the closed form). */
  private symmetric(input: SelectionInput, params: SelectionParams, k: number, L: number, capsCanBind: boolean): boolean {
    if (capsCanBind) return false;
    for (let i = 0; i < k; i++) if (input.cooledDown[i] === 1) return false;
    const noSerendipity =
      params.share === 0 || Math.floor(params.exploreTokens) === 0 || floorMixtureProbability(params.floor, k, L) >= 1;
    if (noSerendipity || params.rule === 'uniform') return true;
    if (params.rule === 'outside-recent-groups') {
      const n = this.selector.outsideCount;
      return n === 0 || n === k;
    }
    const sd = input.sd;
    if (sd === null) return true;
    const w0 = sdWeightOf(sd[0]!);
    for (let i = 1; i < k; i++) if (sdWeightOf(sd[i]!) !== w0) return false;
    return true;
  }

  private addUniform(weight: number, k: number, L: number): void {
    const a = weight / k;
    const b = (weight * L) / k;
    const pos = this.pos;
    const inc = this.inc;
    for (let j = 0; j < k * L; j++) pos[j]! += a;
    for (let i = 0; i < k; i++) inc[i]! += b;
  }

  /** Estimate one component by M draws (+ the shown slate when it came from it), weighted into the result. */
  private monteCarlo(
    sampleScores: ScoreSampler | null,
    input: SelectionInput,
    params: SelectionParams,
    shown: SlateChoice,
    k: number,
    L: number,
    M: number,
    rng: Rng,
    component: 'floor' | 'rest',
    includeShown: boolean,
    weight: number,
  ): void {
    const cntPos = this.cntPos;
    const cntInc = this.cntInc;
    cntPos.fill(0, 0, k * L);
    cntInc.fill(0, 0, k);
    const sel = this.selector;
    const sim = this.sim;
    // The floor component ignores the scores: skip the sampler there.
    const scores = sampleScores === null ? this.zeros : this.scores;
    for (let d = 0; d < M; d++) {
      if (sampleScores !== null) sampleScores(rng, scores);
      sel.selectPrepared(scores, input, params, rng, sim, component);
      const items = sim.items;
      for (let p = 0; p < L; p++) {
        const i = items[p]!;
        cntPos[i * L + p]! += 1;
        cntInc[i]! += 1;
      }
    }
    let n = M;
    if (includeShown) {
      for (let p = 0; p < L; p++) {
        const i = shown.items[p]!;
        cntPos[i * L + p]! += 1;
        cntInc[i]! += 1;
      }
      n += 1;
    }
    const f = weight / n;
    const pos = this.pos;
    const inc = this.inc;
    for (let j = 0; j < k * L; j++) pos[j]! += f * cntPos[j]!;
    for (let i = 0; i < k; i++) inc[i]! += f * cntInc[i]!;
  }

  estimate(
    sampleScores: ScoreSampler,
    input: SelectionInput,
    params: SelectionParams,
    shown: SlateChoice,
    k: number,
    draws: number,
    rng: Rng,
    opts?: PropensityOptions,
  ): Propensities {
    const used = this.run(sampleScores, input, params, shown, k, draws, rng, opts);
    const L = shown.length;
    const position = new Float64Array(L);
    const slate = new Float64Array(L);
    for (let p = 0; p < L; p++) {
      const i = shown.items[p]!;
      position[p] = this.pos[i * L + p]!;
      slate[p] = this.inc[i]!;
    }
    return { position, slate, draws: used };
  }

  estimateAll(
    sampleScores: ScoreSampler,
    input: SelectionInput,
    params: SelectionParams,
    shown: SlateChoice,
    k: number,
    draws: number,
    rng: Rng,
    opts?: PropensityOptions,
  ): AllPropensities {
    const used = this.run(sampleScores, input, params, shown, k, draws, rng, opts);
    const L = shown.length;
    return {
      k,
      slateLength: L,
      position: this.pos.slice(0, k * L),
      slate: this.inc.slice(0, k),
      draws: used,
    };
  }
}

function sdWeightOf(sd: number): number {
  return (Number.isFinite(sd) && sd > 0 ? sd : 0) + UNCERTAIN_EPSILON;
}

/** A new estimator with its own scratch (grown on demand). */
export function createPropensityEstimator(): PropensityEstimator {
  return new MonteCarloEstimator();
}

const shared = new MonteCarloEstimator();

function withShared<T>(fn: (e: MonteCarloEstimator) => T): T {
  // A sampler that itself estimates propensities would re-enter: give it a fresh estimator.
  if (shared.busy) return fn(new MonteCarloEstimator());
  shared.busy = true;
  try {
    return fn(shared);
  } finally {
    shared.busy = false;
  }
}

/**
 * Monte-Carlo propensities of the whole selection rule for the items of the shown slate.
 *
 * P(i_p at p) and P(i_p in slate) = q·P_floor + (1 − q)·P̂_rest, where q = min(1, floor·k/L),
 * P_floor is closed form when no cap can bind (else M draws), and P̂_rest = (count + own)/(M + 1)
 * over M draws of (sampleScores → non-floor selection) plus the decision's own slate when it
 * came from that component (see the module documentation for why). Exact 1/k and L/k with
 * `exchangeable` when the rule is symmetric.
 *
 * Cost: M·(sampler + O(L·k)) — k = 100, L = 5, M = 64 runs in well under a millisecond.
 * @param sampleScores one posterior draw (the same sampler the decision used)
 * @param shown the decision's slate (its `floorComponent` says which component it came from)
 * @param k number of candidates (= input.groups.length)
 * @param draws M ≥ 1
 * @param rng a DERIVED stream, e.g. `decisionRng.fork('propensity')`; only this stream is consumed
 * @returns per shown position, values in (0, 1]
 * @throws RangeError on invalid params, draws < 1, a slate inconsistent with the params, or k mismatch
 */
export function estimatePropensities(
  sampleScores: ScoreSampler,
  input: SelectionInput,
  params: SelectionParams,
  shown: SlateChoice,
  k: number,
  draws: number,
  rng: Rng,
  opts?: PropensityOptions,
): Propensities {
  return withShared((e) => e.estimate(sampleScores, input, params, shown, k, draws, rng, opts));
}

/**
 * The same estimator as {@link estimatePropensities} for every candidate and position: a k×L
 * matrix whose columns sum to 1 and whose row sums are the inclusion propensities (summing to L).
 * With the same rng state, `position[shown.items[p]·L + p]` equals `estimatePropensities(…).position[p]`.
 * @throws RangeError as {@link estimatePropensities}
 */
export function estimateAllPropensities(
  sampleScores: ScoreSampler,
  input: SelectionInput,
  params: SelectionParams,
  shown: SlateChoice,
  k: number,
  draws: number,
  rng: Rng,
  opts?: PropensityOptions,
): AllPropensities {
  return withShared((e) => e.estimateAll(sampleScores, input, params, shown, k, draws, rng, opts));
}
