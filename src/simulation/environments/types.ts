/**
 * The simulated people: the one interface every simulation environment implements.
 *
 * An environment is a stateful, seeded model of a population. The runner asks it who arrives
 * (`arrive`), shows that person a slate chosen by a policy, and asks how they react (`respond`).
 * `expectedReward` and `bestSlateReward` expose the ground truth so the runner can compute
 * expected reward and regret without Monte-Carlo noise.
 *
 * Conventions shared by every environment in this folder:
 * - time is a number of milliseconds passed in (`at`), never read from a clock;
 * - every draw takes the injected {@link Rng}; exogenous dynamics (who arrives, drift, jumps,
 *   mood flips) are drawn in `arrive`, endogenous ones (fatigue, popularity, novelty — what the
 *   policy's slates cause) are applied in `respond`, so two policies run with the same arrival
 *   stream meet the same people in the same situations (common random numbers);
 * - click probabilities of the items of one slate are independent given the state, so
 *   `Σ expectedReward` over a shown slate is exactly the expected number of clicks of `respond`.
 */
import type { Rng } from '../../core/rng.js';
import type { Candidate, NamespacedFeatures } from '../../features/types.js';

/** One person arriving: who, their current situation (context), and what may be shown to them. */
export interface Arrival {
  readonly userId: string;
  readonly context: NamespacedFeatures;
  readonly candidates: readonly Candidate[];
  /** Arrival time in ms (as passed to {@link Environment.arrive}). */
  readonly at: number;
}

/** One item of a shown slate. */
export interface ShownItem {
  readonly itemId: string;
  /** 1-based slate position. */
  readonly position: number;
}

/** What the person did with one shown item. Items with no reaction are absent (silence). */
export interface Reaction {
  readonly itemId: string;
  readonly kind: 'click' | 'convert' | 'dismiss';
  /** Time from the arrival to the reaction, ms, ≥ 0. */
  readonly delayMs: number;
  /** Value of a `convert` (e.g. basket amount); absent for the other kinds. */
  readonly value?: number;
}

/** A simulated population of people (see the module comment for the shared conventions). */
export interface Environment {
  readonly name: string;
  /** Number of distinct groups of items (for concentration metrics), and each item's group. */
  readonly groups: ReadonlyMap<string, string>;
  /** The next person arriving at time `at`: who, their current situation, the candidates. */
  arrive(at: number, rng: Rng): Arrival;
  /** Exact P(click) (or expected reward) if `itemId` were shown at `position` to this arrival, given the environment's current state. */
  expectedReward(arrival: Arrival, itemId: string, position: number): number;
  /** Expected reward of the best possible slate of `slots` items for this arrival (for regret): the sum over positions of the best assignment (items sorted by attractiveness × examination is optimal for position-based models). */
  bestSlateReward(arrival: Arrival, slots: number): number;
  /** The person's reactions to a slate (draws with rng), and the environment's state moves on (fatigue, drift, mood…). */
  respond(arrival: Arrival, slate: readonly ShownItem[], rng: Rng): Reaction[];
}
