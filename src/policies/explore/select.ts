/**
 * Slate selection: the full randomized rule that turns one posterior draw of scores into a slate,
 * with the exploration budget (serendipity slots), per-group caps, cool-down and the propensity
 * floor. This function IS the logging policy: `propensity.ts` estimates the probabilities of
 * exactly this rule, so any change here changes what the logged propensities mean.
 *
 * ## The rule
 *
 * Let k = number of candidates, L = min(slots, k) the slate length and
 * cap = max(1, ⌊maxGroupShare·L⌋) the most slots any one group may take. A candidate whose group
 * is `undefined` is its own singleton group (a cap of ≥ 1 never binds on it). "Within caps"
 * means: the candidate's group holds fewer than `cap` slots of the slate built so far.
 *
 * 1. **Floor mixture.** With probability q = min(1, floor·k/L) (one uniform draw, skipped when
 *    q is 0 or 1) the whole slate comes from the *floor component*: positions are filled one by
 *    one with a candidate drawn uniformly among those not yet in the slate and within caps —
 *    the same law as walking a uniformly random permutation and keeping what the caps allow.
 *    Cool-down is ignored and no slot is a serendipity slot. Under this component a candidate's
 *    inclusion probability is L/k when no cap can bind, so every candidate's overall inclusion
 *    propensity is ≥ q·L/k = floor whenever floor·k ≤ L. (When floor·k > L no rule can give
 *    every candidate `floor`, since inclusions sum to L; q = 1 then gives each the best
 *    possible, L/k.) A binding cap can push a large group's members below the floor.
 *    If the caps exclude every remaining candidate, the position is filled uniformly among all
 *    remaining candidates (caps ignored) so the slate is always full.
 * 2. **Otherwise**, position by position:
 *    a. the *exploitation choice* e: the highest score among candidates not in the slate, not
 *       cooled down and within caps; exact ties are broken uniformly at random (reservoir
 *       sampling: one `rng.int` per tie met). NaN scores count as −∞. If none qualifies, the
 *       highest-scoring remaining candidate within caps ignoring cool-down; if still none, the
 *       highest-scoring remaining candidate ignoring caps too (so the slate is always full);
 *    b. while fewer than ⌊exploreTokens⌋ serendipity slots were used and `share` > 0, the
 *       position is a *serendipity slot* with probability `share` (one uniform draw, skipped
 *       when share ≥ 1). The serendipity item is drawn among the candidates not in the slate,
 *       ≠ e and within caps (cool-down does not exclude it): `uniform` — uniformly;
 *       `uncertain` — with probability ∝ sd_i + ε (ε = 1e-9; non-finite or negative sd count as
 *       0; uniform when `sd` is null); `outside-recent-groups` — uniformly among those whose
 *       group is not in `recentGroups` (a candidate without a group is always outside), or
 *       uniformly among all of them when none is outside. If no candidate qualifies the position
 *       is exploited instead (and no token is used);
 *    c. the slot's cost is scores[e] − scores[chosen] for a serendipity slot, 0 otherwise.
 *
 * Same scores, input, params and rng state ⇒ the same slate (the rng is consumed in a fixed
 * order), so a decision replays exactly from its seed.
 */
import type { Rng } from '../../core/rng.js';

/** How a serendipity slot picks its item (see the module documentation). */
export type SerendipityRule = 'uniform' | 'uncertain' | 'outside-recent-groups';

/** Budget and shape parameters of one selection. */
export interface SelectionParams {
  /** Requested slate length, an integer ≥ 1; the slate has min(slots, k) positions. */
  slots: number;
  /** In [0, 1]: probability that a position is a serendipity slot (while tokens last). */
  share: number;
  /** Max serendipity slots in this slate, ≥ 0; fractional values are floored; Infinity = unlimited. */
  exploreTokens: number;
  /** In [0, 1): minimum slate-inclusion propensity of every candidate (when caps do not bind). */
  floor: number;
  /** In (0, 1]: per-group cap = max(1, ⌊maxGroupShare·slateLength⌋). */
  maxGroupShare: number;
  /** How serendipity slots pick their item. */
  rule: SerendipityRule;
}

/** Per-candidate facts the selector needs besides the scores; all arrays have length ≥ k. */
export interface SelectionInput {
  /** Group per candidate (its length is k); `undefined` = the candidate is its own singleton group. */
  groups: ReadonlyArray<string | undefined>;
  /** 1 = excluded from exploitation slots (still allowed as serendipity). */
  cooledDown: Uint8Array;
  /** Groups the person saw recently, for the `outside-recent-groups` rule. */
  recentGroups: ReadonlySet<string>;
  /** Posterior sd per candidate, for the `uncertain` rule (null = treat as uniform). */
  sd: Float64Array | null;
}

/** A selected slate. Arrays have a capacity ≥ `length`; entries past `length` are stale. */
export interface SlateChoice {
  /** Number of positions, min(slots, k). */
  length: number;
  /** Candidate index at each position (0-based here; positions are 1-based on the wire). */
  items: Int32Array;
  /** 1 where the position is a serendipity slot. */
  explored: Uint8Array;
  /** Per position: scores[exploitation choice] − scores[chosen item] for serendipity slots, else 0. */
  cost: Float64Array;
  /** True when this slate came from the floor (uniform) component. */
  floorComponent: boolean;
}

/**
 * Which mixture component to draw from. `undefined` = the full rule (the floor coin is drawn);
 * `'floor'` / `'rest'` force one component without drawing the coin — used by the propensity
 * estimator to integrate the floor mixture analytically.
 * @internal
 */
export type SelectionComponent = 'floor' | 'rest';

/** Extra options of {@link Selector.select}. @internal */
export interface SelectOptions {
  readonly component?: SelectionComponent;
}

/** A reusable selector holding its own scratch memory (one per thread of control). */
export interface Selector {
  /**
   * Run the rule of this module once. Allocation-free when `out` is supplied and k fits the
   * scratch already grown (the scratch grows on demand).
   * @param scores one posterior draw, length ≥ k (k = input.groups.length)
   * @param out reused result; capacity must be ≥ min(slots, k)
   * @throws RangeError on out-of-range params, short arrays or a too-small `out`
   */
  select(
    scores: Float64Array,
    input: SelectionInput,
    params: SelectionParams,
    rng: Rng,
    out?: SlateChoice,
    options?: SelectOptions,
  ): SlateChoice;
}

/**
 * A selector whose per-input preprocessing (group ids, outside-recent flags) can be done once and
 * reused over many draws — the propensity estimator's fast path.
 * @internal
 */
export interface PreparedSelector extends Selector {
  /**
   * Precompute group ids and flags for `input`; valid until the next `prepare`/`select`. Under
   * the `uncertain` rule the sd weights are also computed once, at the first serendipity slot,
   * so `input.sd` must not change in place before the next `prepare`.
   */
  prepare(input: SelectionInput): void;
  /** {@link Selector.select} on the input of the last `prepare` (not re-read). */
  selectPrepared(
    scores: Float64Array,
    input: SelectionInput,
    params: SelectionParams,
    rng: Rng,
    out: SlateChoice,
    component: SelectionComponent | undefined,
  ): SlateChoice;
  /** Size of the largest named group of the prepared input (0 when no candidate has a group). */
  readonly maxGroupSize: number;
  /** Candidates of the prepared input outside the recent groups. */
  readonly outsideCount: number;
}

/** ε added to every sd under the `uncertain` rule, so zero-sd candidates stay possible. */
export const UNCERTAIN_EPSILON = 1e-9;

/** Slate length min(slots, k). */
export function slateLengthOf(slots: number, k: number): number {
  return Math.max(0, Math.min(slots, k));
}

/** Per-group cap max(1, ⌊maxGroupShare·L⌋) for a slate of length L. */
export function groupCapOf(maxGroupShare: number, slateLength: number): number {
  return Math.max(1, Math.floor(maxGroupShare * slateLength));
}

/**
 * Probability q = min(1, floor·k/L) of the floor component (0 for an empty slate).
 * Under the floor component each candidate is in the slate with probability L/k (caps not
 * binding), so q·L/k = floor.
 */
export function floorMixtureProbability(floor: number, k: number, slateLength: number): number {
  if (slateLength <= 0 || floor <= 0) return 0;
  return Math.min(1, (floor * k) / slateLength);
}

/** A result buffer for {@link Selector.select} holding up to `capacity` positions. */
export function createSlateChoice(capacity: number): SlateChoice {
  return {
    length: 0,
    items: new Int32Array(capacity),
    explored: new Uint8Array(capacity),
    cost: new Float64Array(capacity),
    floorComponent: false,
  };
}

/**
 * Check {@link SelectionParams} ranges (slots integer ≥ 1, share ∈ [0, 1], exploreTokens ≥ 0,
 * floor ∈ [0, 1), maxGroupShare ∈ (0, 1], a known rule).
 * @throws RangeError naming the first out-of-range parameter
 */
export function validateSelectionParams(params: SelectionParams): void {
  const { slots, share, exploreTokens, floor, maxGroupShare, rule } = params;
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be an integer >= 1, got ${slots}`);
  if (!(share >= 0 && share <= 1)) throw new RangeError(`share must be in [0, 1], got ${share}`);
  if (!(exploreTokens >= 0)) throw new RangeError(`exploreTokens must be >= 0, got ${exploreTokens}`);
  if (!(floor >= 0 && floor < 1)) throw new RangeError(`floor must be in [0, 1), got ${floor}`);
  if (!(maxGroupShare > 0 && maxGroupShare <= 1)) {
    throw new RangeError(`maxGroupShare must be in (0, 1], got ${maxGroupShare}`);
  }
  if (rule !== 'uniform' && rule !== 'uncertain' && rule !== 'outside-recent-groups') {
    throw new RangeError(`rule must be uniform, uncertain or outside-recent-groups, got ${String(rule)}`);
  }
}

class SlateSelector implements PreparedSelector {
  private capacity = 0;
  private k = 0;
  /** 1 when the candidate is already in the slate being built. */
  private inSlate = new Uint8Array(0);
  /** Dense group id per candidate, −1 for a singleton (no group). */
  private gid = new Int32Array(0);
  /** Slots taken per group id in the slate being built (group sizes during `prepare`). */
  private groupCount = new Int32Array(0);
  /** 1 when the candidate's group is not among the recent groups. */
  private outside = new Uint8Array(0);
  /** Candidate order for the floor component's lazy Fisher–Yates. */
  private perm = new Int32Array(0);
  /** The best not-cooled-down candidates by descending score (exploitation fast path). */
  private topIdx = new Int32Array(0);
  private topScore = new Float64Array(0);
  /**
   * inSlate or groupCount may hold non-zero entries (after `prepare`, which counts group sizes
   * in groupCount, or an interrupted selection); a completed selection clears what it set.
   */
  private dirty = true;
  /** sdWeight of each candidate's sd under the `uncertain` rule, for the sd array `sdWeightsOf`. */
  private sdWeights = new Float64Array(0);
  private sdWeightsOf: Float64Array | null = null;
  private readonly groupIds = new Map<string, number>();
  private nGroups = 0;
  maxGroupSize = 0;
  outsideCount = 0;

  /** Grow the scratch to hold k candidates (never shrinks). */
  reserve(k: number): void {
    if (k <= this.capacity) return;
    const c = Math.max(k, this.capacity * 2, 16);
    this.inSlate = new Uint8Array(c);
    this.gid = new Int32Array(c);
    this.groupCount = new Int32Array(c);
    this.outside = new Uint8Array(c);
    this.perm = new Int32Array(c);
    this.topIdx = new Int32Array(c);
    this.topScore = new Float64Array(c);
    this.sdWeights = new Float64Array(c);
    this.sdWeightsOf = null;
    this.dirty = true;
    this.capacity = c;
  }

  prepare(input: SelectionInput): void {
    const groups = input.groups;
    const k = groups.length;
    this.reserve(k);
    this.k = k;
    const ids = this.groupIds;
    ids.clear();
    let nGroups = 0;
    let maxSize = 0;
    let outsideCount = 0;
    const counts = this.groupCount;
    for (let i = 0; i < k; i++) {
      const g = groups[i];
      if (g === undefined) {
        this.gid[i] = -1;
        this.outside[i] = 1;
        outsideCount++;
        continue;
      }
      let id = ids.get(g);
      if (id === undefined) {
        id = nGroups++;
        ids.set(g, id);
        counts[id] = 0;
      }
      this.gid[i] = id;
      const size = ++counts[id]!;
      if (size > maxSize) maxSize = size;
      const out = input.recentGroups.has(g) ? 0 : 1;
      this.outside[i] = out;
      outsideCount += out;
    }
    this.nGroups = nGroups;
    this.dirty = true;
    this.sdWeightsOf = null;
    this.maxGroupSize = maxSize;
    this.outsideCount = outsideCount;
  }

  select(
    scores: Float64Array,
    input: SelectionInput,
    params: SelectionParams,
    rng: Rng,
    out?: SlateChoice,
    options?: SelectOptions,
  ): SlateChoice {
    this.prepare(input);
    const k = this.k;
    const target = out ?? createSlateChoice(slateLengthOf(params.slots, k));
    return this.selectPrepared(scores, input, params, rng, target, options?.component);
  }

  selectPrepared(
    scores: Float64Array,
    input: SelectionInput,
    params: SelectionParams,
    rng: Rng,
    out: SlateChoice,
    component: SelectionComponent | undefined,
  ): SlateChoice {
    validateSelectionParams(params);
    const k = this.k;
    if (scores.length < k) throw new RangeError(`scores has ${scores.length} entries, need ${k}`);
    if (input.cooledDown.length < k) throw new RangeError(`cooledDown has ${input.cooledDown.length} entries, need ${k}`);
    if (input.sd !== null && input.sd.length < k) throw new RangeError(`sd has ${input.sd.length} entries, need ${k}`);
    const L = slateLengthOf(params.slots, k);
    if (out.items.length < L || out.explored.length < L || out.cost.length < L) {
      throw new RangeError(`out holds ${out.items.length} positions, need ${L}`);
    }
    out.length = L;
    out.floorComponent = false;
    if (L === 0) return out;
    if (this.dirty) {
      this.inSlate.fill(0, 0, k);
      this.groupCount.fill(0, 0, this.nGroups);
    }
    this.dirty = true;
    const cap = groupCapOf(params.maxGroupShare, L);

    let useFloor: boolean;
    if (component !== undefined) {
      useFloor = component === 'floor';
    } else {
      const q = floorMixtureProbability(params.floor, k, L);
      useFloor = q >= 1 ? true : q > 0 ? rng.uniform() < q : false;
    }
    if (useFloor) {
      out.floorComponent = true;
      this.fillFloor(L, cap, rng, out);
    } else {
      this.fillRest(scores, input, params, L, cap, rng, out);
    }
    // Undo what the slate set, so the next selection starts clean without clearing k entries.
    const inSlate = this.inSlate;
    const gid = this.gid;
    const groupCount = this.groupCount;
    for (let p = 0; p < L; p++) {
      const i = out.items[p]!;
      inSlate[i] = 0;
      const g = gid[i]!;
      if (g >= 0) groupCount[g] = 0;
    }
    this.dirty = false;
    return out;
  }

  private withinCap(i: number, cap: number): boolean {
    const g = this.gid[i]!;
    return g < 0 || this.groupCount[g]! < cap;
  }

  private place(i: number, pos: number, explored: number, cost: number, out: SlateChoice): void {
    out.items[pos] = i;
    out.explored[pos] = explored;
    out.cost[pos] = cost;
    this.inSlate[i] = 1;
    const g = this.gid[i]!;
    if (g >= 0) this.groupCount[g]!++;
  }

  /**
   * Lazy Fisher–Yates: perm[0, pos) is the slate, perm[pos, end) the candidates still within
   * caps, perm[end, k) those a cap has excluded for good (caps only tighten as the slate grows).
   */
  private fillFloor(L: number, cap: number, rng: Rng, out: SlateChoice): void {
    const k = this.k;
    const perm = this.perm;
    for (let i = 0; i < k; i++) perm[i] = i;
    let end = k;
    for (let pos = 0; pos < L; pos++) {
      let chosen = -1;
      while (end > pos) {
        const r = pos + rng.int(end - pos);
        const i = perm[r]!;
        if (this.withinCap(i, cap)) {
          perm[r] = perm[pos]!;
          perm[pos] = i;
          chosen = i;
          break;
        }
        end--;
        perm[r] = perm[end]!;
        perm[end] = i;
      }
      if (chosen < 0) {
        // Every remaining candidate is capped out: fill uniformly, ignoring caps.
        const r = pos + rng.int(k - pos);
        chosen = perm[r]!;
        perm[r] = perm[pos]!;
        perm[pos] = chosen;
      }
      this.place(chosen, pos, 0, 0, out);
    }
  }

  private fillRest(
    scores: Float64Array,
    input: SelectionInput,
    params: SelectionParams,
    L: number,
    cap: number,
    rng: Rng,
    out: SlateChoice,
  ): void {
    const tokens = Math.floor(params.exploreTokens);
    const share = params.share;
    const cooledDown = input.cooledDown;
    const n = this.buildTop(scores, cooledDown, Math.min(this.k, L + 1));
    const topIdx = this.topIdx;
    const inSlate = this.inSlate;
    let used = 0;
    for (let pos = 0; pos < L; pos++) {
      let e = -1;
      for (let j = 0; j < n; j++) {
        const i = topIdx[j]!;
        if (inSlate[i] === 0 && this.withinCap(i, cap)) {
          e = i;
          break;
        }
      }
      if (e < 0) e = this.bestScore(scores, cooledDown, cap, true, true, rng);
      if (e < 0) e = this.bestScore(scores, cooledDown, cap, false, true, rng);
      if (e < 0) e = this.bestScore(scores, cooledDown, cap, false, false, rng);
      let chosen = e;
      let explored = 0;
      if (share > 0 && used < tokens && (share >= 1 || rng.uniform() < share)) {
        const s = this.serendipity(e, cap, params.rule, input.sd, rng);
        if (s >= 0) {
          chosen = s;
          explored = 1;
          used++;
        }
      }
      this.place(chosen, pos, explored, explored === 1 ? scores[e]! - scores[chosen]! : 0, out);
    }
  }

  /**
   * The T best candidates that are not cooled down, by descending score, into topIdx; returns
   * how many (≤ T), or 0 when an exact tie makes the order ambiguous. Why this is exact: with no
   * tie among them, every candidate left out scores strictly below all of them, so the first
   * eligible one in this list is the unique exploitation choice — the same candidate, and the
   * same rng consumption (none), as the full scan of {@link bestScore}. Ties (and exhausting the
   * list) fall back to the scan, whose reservoir sampling defines the tie-break.
   */
  private buildTop(scores: Float64Array, cooledDown: Uint8Array, T: number): number {
    const k = this.k;
    const topIdx = this.topIdx;
    const topScore = this.topScore;
    // Fill the list with the first T eligible candidates (insertion sort).
    let n = 0;
    let i = 0;
    for (; i < k && n < T; i++) {
      if (cooledDown[i] === 1) continue;
      const raw = scores[i]!;
      const s = raw === raw ? raw : -Infinity;
      let j = n++;
      while (j > 0 && topScore[j - 1]! < s) {
        topScore[j] = topScore[j - 1]!;
        topIdx[j] = topIdx[j - 1]!;
        j--;
      }
      if (j > 0 && topScore[j - 1] === s) return 0;
      topScore[j] = s;
      topIdx[j] = i;
    }
    if (n < T) return n;
    // Then most candidates stop at one comparison with the list's last score, kept in a
    // register; the rare insertion is out of line. A NaN score counts as −∞: it can only enter
    // (as a tie) when the last score is −∞ itself.
    let last = topScore[T - 1]!;
    for (; i < k; i++) {
      const raw = scores[i]!;
      if (!(raw >= last) && (raw === raw || last !== -Infinity)) continue;
      if (cooledDown[i] === 1) continue;
      const s = raw === raw ? raw : -Infinity;
      if (s === last || !this.insertTop(s, i, T)) return 0;
      last = topScore[T - 1]!;
    }
    return n;
  }

  /** Put candidate i (score s > the last of the full list) in its place; false on an exact tie. */
  private insertTop(s: number, i: number, T: number): boolean {
    const topIdx = this.topIdx;
    const topScore = this.topScore;
    let j = T - 1;
    while (j > 0 && topScore[j - 1]! < s) {
      topScore[j] = topScore[j - 1]!;
      topIdx[j] = topIdx[j - 1]!;
      j--;
    }
    if (j > 0 && topScore[j - 1] === s) return false;
    topScore[j] = s;
    topIdx[j] = i;
    return true;
  }

  /** Argmax of the score over remaining candidates, ties uniform by reservoir sampling; −1 if none. */
  private bestScore(
    scores: Float64Array,
    cooledDown: Uint8Array,
    cap: number,
    respectCoolDown: boolean,
    respectCaps: boolean,
    rng: Rng,
  ): number {
    // Hot loop: fields hoisted into locals, the cap test inlined.
    const k = this.k;
    const inSlate = this.inSlate;
    const gid = this.gid;
    const groupCount = this.groupCount;
    let best = -1;
    let bestScore = -Infinity;
    let ties = 0;
    for (let i = 0; i < k; i++) {
      if (inSlate[i] === 1) continue;
      if (respectCoolDown && cooledDown[i] === 1) continue;
      if (respectCaps) {
        const g = gid[i]!;
        if (g >= 0 && groupCount[g]! >= cap) continue;
      }
      const raw = scores[i]!;
      const s = raw === raw ? raw : -Infinity;
      if (s > bestScore || best < 0) {
        best = i;
        bestScore = s;
        ties = 1;
      } else if (s === bestScore) {
        ties++;
        if (rng.int(ties) === 0) best = i;
      }
    }
    return best;
  }

  /** The serendipity item for a slot whose exploitation choice is `e`; −1 if none qualifies. */
  private serendipity(e: number, cap: number, rule: SerendipityRule, sd: Float64Array | null, rng: Rng): number {
    const k = this.k;
    // Eligible: not e, not in the slate, within caps (the test inlined, fields in locals).
    const inSlate = this.inSlate;
    const gid = this.gid;
    const groupCount = this.groupCount;
    if (rule === 'uncertain' && sd !== null) {
      // The weights of the prepared input, computed once for all of its selections.
      const weight = this.sdWeights;
      if (this.sdWeightsOf !== sd) {
        for (let i = 0; i < k; i++) weight[i] = sdWeight(sd[i]!);
        this.sdWeightsOf = sd;
      }
      let total = 0;
      let last = -1;
      for (let i = 0; i < k; i++) {
        if (i === e || inSlate[i] === 1) continue;
        const g = gid[i]!;
        if (g >= 0 && groupCount[g]! >= cap) continue;
        total += weight[i]!;
        last = i;
      }
      if (last < 0) return -1;
      let r = rng.uniform() * total;
      for (let i = 0; i < k; i++) {
        if (i === e || inSlate[i] === 1) continue;
        const g = gid[i]!;
        if (g >= 0 && groupCount[g]! >= cap) continue;
        r -= weight[i]!;
        if (r < 0) return i;
      }
      return last;
    }
    const outside = this.outside;
    let count = 0;
    let outsideCount = 0;
    const wantOutside = rule === 'outside-recent-groups';
    for (let i = 0; i < k; i++) {
      if (i === e || inSlate[i] === 1) continue;
      const g = gid[i]!;
      if (g >= 0 && groupCount[g]! >= cap) continue;
      count++;
      if (wantOutside) outsideCount += outside[i]!;
    }
    if (count === 0) return -1;
    const onlyOutside = wantOutside && outsideCount > 0;
    let j = rng.int(onlyOutside ? outsideCount : count);
    for (let i = 0; i < k; i++) {
      if (i === e || inSlate[i] === 1) continue;
      const g = gid[i]!;
      if (g >= 0 && groupCount[g]! >= cap) continue;
      if (onlyOutside && outside[i] === 0) continue;
      if (j === 0) return i;
      j--;
    }
    return -1; // unreachable: j < number of qualifying candidates
  }
}

function sdWeight(sd: number): number {
  return (Number.isFinite(sd) && sd > 0 ? sd : 0) + UNCERTAIN_EPSILON;
}

/**
 * A new selector with its own scratch memory (grown on demand to the largest k seen), for
 * callers that want no shared state; same rule and same results as {@link selectSlate}.
 * @param initialCapacity candidates to preallocate for
 */
export function createSelector(initialCapacity = 0): Selector {
  const s = new SlateSelector();
  s.reserve(initialCapacity);
  return s;
}

/** A selector exposing the prepared fast path, for the propensity estimator. @internal */
export function createPreparedSelector(): PreparedSelector {
  return new SlateSelector();
}

const shared = new SlateSelector();

/**
 * Run the selection rule of this module once (see the module documentation for the exact rule:
 * floor mixture, exploitation with random tie-breaks, serendipity slots within the token budget,
 * group caps and cool-down). Uses a module-level scratch, so no array is allocated when `out` is
 * supplied (after the scratch has grown to k; group names are interned in a reused Map); it
 * calls no user code, so sharing the scratch is safe. Cost O(k + L·T) without ties, caps or
 * serendipity (T = L + 1 short list), O(L·k) at worst.
 * @param scores one posterior draw per candidate, length ≥ k = input.groups.length
 * @param out reused result with capacity ≥ min(slots, k); a new one is allocated when omitted
 * @returns `out` (or the new result), with `length` = min(slots, k)
 * @throws RangeError on out-of-range params, short arrays or a too-small `out`
 */
export function selectSlate(
  scores: Float64Array,
  input: SelectionInput,
  params: SelectionParams,
  rng: Rng,
  out?: SlateChoice,
): SlateChoice {
  return shared.select(scores, input, params, rng, out);
}
