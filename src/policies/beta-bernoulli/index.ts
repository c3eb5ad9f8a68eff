/**
 * `beta-bernoulli`: a context-free Thompson-sampling policy with one Beta posterior per item id —
 * the cold-start and sanity baseline.
 *
 * Posterior of item i after weighted outcomes (w_j, r_j):
 *   Beta(α₀ + Σ w_j·r_j, β₀ + Σ w_j·(1 − r_j)),
 * with fractional weights (e.g. the examination probability of a silent impression) and rewards
 * clipped to [0, 1] — the model is of a probability, so a `convert` value of 5 counts as a full
 * success; fractional rewards are the usual "Bernoulli trick" of splitting a unit of evidence.
 * A negative weight retracts an outcome folded earlier with the same reward and |weight|
 * (exact up to floating-point rounding; bit-exact when the sums are representable).
 * Reference: Chapelle & Li 2011, "An empirical evaluation of Thompson sampling".
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { DecisionFeatures, OutcomeFeatures } from '../../features/types.js';
import type { Policy, PolicySnapshot } from '../types.js';

/** Config of a `beta-bernoulli` policy; the prior is Beta(priorAlpha, priorBeta) for every item. */
export const betaBernoulliConfigSchema = z
  .object({
    kind: z.literal('beta-bernoulli'),
    priorAlpha: z.number().positive().max(1e6).default(1),
    priorBeta: z.number().positive().max(1e6).default(1),
  })
  .strict();

/** Parsed `beta-bernoulli` config. */
export type BetaBernoulliConfig = z.output<typeof betaBernoulliConfigSchema>;

/** Format version of the `state` of a per-item Beta snapshot. */
export const BETA_SNAPSHOT_FORMAT = 1;

const betaStateSchema = z
  .object({
    items: z.array(
      z
        .object({
          id: z.string(),
          successes: z.number(),
          failures: z.number(),
        })
        .strict(),
    ),
  })
  .strict();

/** Snapshot state of a {@link BetaPosteriorTable}: decayed weighted success/failure sums per item. */
export type BetaTableState = z.output<typeof betaStateSchema>;

/** Smallest pseudo-count total ν′ a tempered draw may use (keeps Gamma shapes positive). */
const MIN_TEMPERED_NU = 1e-3;
/** Smallest α or β ever handed to a draw, after retractions that overshoot. */
const MIN_SHAPE = 1e-12;

interface ItemStats {
  successes: number;
  failures: number;
}

/**
 * One Beta posterior per item id, stored as the prior plus the weighted sufficient statistics
 * s = Σw·r and f = Σw·(1 − r), so α = α₀ + s, β = β₀ + f. Shared by `beta-bernoulli` and
 * `epsilon-greedy`.
 */
export class BetaPosteriorTable {
  private readonly stats = new Map<string, ItemStats>();

  /** @throws RangeError when a prior parameter is not finite and > 0 */
  constructor(
    readonly priorAlpha: number,
    readonly priorBeta: number,
  ) {
    if (!(priorAlpha > 0) || !Number.isFinite(priorAlpha)) throw new RangeError(`priorAlpha must be > 0, got ${priorAlpha}`);
    if (!(priorBeta > 0) || !Number.isFinite(priorBeta)) throw new RangeError(`priorBeta must be > 0, got ${priorBeta}`);
  }

  /** Number of items with non-zero statistics. */
  get size(): number {
    return this.stats.size;
  }

  /** α of item `id` (the prior for an unseen item), at least 1e-12. */
  alpha(id: string): number {
    return Math.max(MIN_SHAPE, this.priorAlpha + (this.stats.get(id)?.successes ?? 0));
  }

  /** β of item `id` (the prior for an unseen item), at least 1e-12. */
  beta(id: string): number {
    return Math.max(MIN_SHAPE, this.priorBeta + (this.stats.get(id)?.failures ?? 0));
  }

  /** Posterior mean α/(α + β). */
  mean(id: string): number {
    const a = this.alpha(id);
    return a / (a + this.beta(id));
  }

  /** Posterior sd √(αβ / ((α + β)²(α + β + 1))). */
  sd(id: string): number {
    const a = this.alpha(id);
    const b = this.beta(id);
    const n = a + b;
    return Math.sqrt((a * b) / (n * n * (n + 1)));
  }

  /**
   * Fold `weight` units of evidence with reward clip(reward, 0, 1) into item `id`; a negative
   * weight retracts. An item whose sums return to exactly zero is forgotten.
   * @throws RangeError when reward or weight is not finite
   */
  fold(id: string, reward: number, weight: number): void {
    if (!Number.isFinite(reward)) throw new RangeError(`reward must be finite, got ${reward}`);
    if (!Number.isFinite(weight)) throw new RangeError(`weight must be finite, got ${weight}`);
    if (weight === 0) return;
    const r = Math.min(1, Math.max(0, reward));
    let s = this.stats.get(id);
    if (s === undefined) {
      s = { successes: 0, failures: 0 };
      this.stats.set(id, s);
    }
    s.successes += weight * r;
    s.failures += weight * (1 - r);
    if (s.successes === 0 && s.failures === 0) this.stats.delete(id);
  }

  /**
   * Forgetting toward the prior: α ← γα + (1 − γ)α₀ and β ← γβ + (1 − γ)β₀, i.e. s ← γs, f ← γf.
   * @throws RangeError when γ is outside (0, 1]
   */
  decay(gamma: number): void {
    if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`decay gamma must be in (0, 1], got ${gamma}`);
    if (gamma === 1) return;
    for (const s of this.stats.values()) {
      s.successes *= gamma;
      s.failures *= gamma;
    }
  }

  /**
   * One tempered posterior draw for item `id` (see {@link temperedBeta}).
   * @throws RangeError when temperature is negative or not finite
   */
  draw(id: string, rng: Rng, temperature: number): number {
    return temperedBeta(rng, this.alpha(id), this.beta(id), temperature);
  }

  /** Statistics as JSON, sorted by id so equal posteriors give equal snapshots. */
  toState(): BetaTableState {
    const items = [...this.stats.entries()]
      .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
      .map(([id, s]) => ({ id, successes: s.successes, failures: s.failures }));
    return { items };
  }

  /**
   * Replace the statistics by those of a snapshot state.
   * @throws ZodError when `state` is not a {@link BetaTableState}
   */
  loadState(state: unknown): void {
    const parsed = betaStateSchema.parse(state);
    this.stats.clear();
    for (const it of parsed.items) this.stats.set(it.id, { successes: it.successes, failures: it.failures });
  }

  /** The `n` items with the highest posterior mean (ties by id), with their α, β, mean and sd. */
  top(n: number): Array<{ id: string; mean: number; sd: number; alpha: number; beta: number }> {
    return [...this.stats.keys()]
      .map((id) => ({ id, mean: this.mean(id), sd: this.sd(id), alpha: this.alpha(id), beta: this.beta(id) }))
      .sort((x, y) => y.mean - x.mean || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
      .slice(0, n);
  }
}

/**
 * A Beta draw at temperature T that keeps the mean m = α/ν (ν = α + β) and multiplies the
 * variance by T: Var = m(1 − m)/(ν + 1), so using the pseudo-count total ν′ = (ν + 1)/T − 1 gives
 * Var′ = T·Var exactly while T < ν + 1. Hotter than that, ν′ is held at 1e-3, the near-maximal
 * variance m(1 − m)/1.001 (a Beta cannot be wider for its mean). T = 1 is the posterior itself
 * (no rescaling), T = 0 returns the mean without drawing. The draw is X/(X + Y) with
 * X ~ Gamma(mν′), Y ~ Gamma((1 − m)ν′); when both underflow to 0 (tiny shapes) it returns the
 * Bernoulli(m) limit of the Beta.
 * @throws RangeError when temperature is negative or not finite, or α, β ≤ 0
 */
export function temperedBeta(rng: Rng, alpha: number, beta: number, temperature: number): number {
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature must be finite and >= 0, got ${temperature}`);
  }
  if (!(alpha > 0) || !(beta > 0)) throw new RangeError(`alpha and beta must be > 0, got ${alpha}, ${beta}`);
  const nu = alpha + beta;
  const m = alpha / nu;
  if (temperature === 0) return m;
  let a = alpha;
  let b = beta;
  if (temperature !== 1) {
    const nu2 = Math.max(MIN_TEMPERED_NU, (nu + 1) / temperature - 1);
    a = m * nu2;
    b = (1 - m) * nu2;
  }
  const x = rng.gamma(a, 1);
  const y = rng.gamma(b, 1);
  const s = x + y;
  if (s > 0) return x / s;
  return rng.uniform() < m ? 1 : 0;
}

/**
 * Check a snapshot's kind and format.
 * @throws Error naming the mismatch
 */
export function checkSnapshot(snapshot: PolicySnapshot, kind: string, format: number): void {
  if (snapshot.kind !== kind) throw new Error(`snapshot is of kind '${snapshot.kind}', expected '${kind}'`);
  if (snapshot.format !== format) throw new Error(`snapshot format ${snapshot.format} of '${kind}' is not supported (expected ${format})`);
}

/**
 * What every policy over a per-item {@link BetaPosteriorTable} shares: posterior summaries,
 * folding (negative weights retract), forgetting and snapshots. Subclasses choose how to sample.
 */
export abstract class BetaTablePolicy implements Policy {
  abstract readonly kind: string;
  protected readonly table: BetaPosteriorTable;

  constructor(priorAlpha: number, priorBeta: number) {
    this.table = new BetaPosteriorTable(priorAlpha, priorBeta);
  }

  abstract sample(input: DecisionFeatures, rng: Rng, out: Float64Array, temperature: number): void;
  abstract describe(): Record<string, unknown>;

  /** Load learned state. @throws Error when the snapshot's kind or format does not match */
  restore(snapshot: PolicySnapshot): void {
    checkSnapshot(snapshot, this.kind, BETA_SNAPSHOT_FORMAT);
    this.table.loadState(snapshot.state);
  }

  summarize(input: DecisionFeatures, mean: Float64Array, sd: Float64Array): void {
    const ids = input.itemIds;
    for (let i = 0; i < ids.length; i++) {
      mean[i] = this.table.mean(ids[i]!);
      sd[i] = this.table.sd(ids[i]!);
    }
  }

  update(x: OutcomeFeatures, reward: number, weight: number): void {
    this.table.fold(x.itemId, reward, weight);
  }

  decay(gamma: number): void {
    this.table.decay(gamma);
  }

  snapshot(): PolicySnapshot {
    return { kind: this.kind, format: BETA_SNAPSHOT_FORMAT, state: this.table.toState() };
  }
}

class BetaBernoulliPolicy extends BetaTablePolicy {
  readonly kind = 'beta-bernoulli';

  constructor(private readonly config: BetaBernoulliConfig) {
    super(config.priorAlpha, config.priorBeta);
  }

  sample(input: DecisionFeatures, rng: Rng, out: Float64Array, temperature: number): void {
    const ids = input.itemIds;
    for (let i = 0; i < ids.length; i++) out[i] = this.table.draw(ids[i]!, rng, temperature);
  }

  describe(): Record<string, unknown> {
    return {
      kind: this.kind,
      prior: { alpha: this.config.priorAlpha, beta: this.config.priorBeta },
      items: this.table.size,
      top: this.table.top(10),
    };
  }
}

/**
 * A `beta-bernoulli` policy: `sample` draws one tempered Beta per candidate (see
 * {@link temperedBeta}); unseen items draw from the prior. `decay(γ)` pulls α, β toward the prior.
 * @param config a parsed {@link betaBernoulliConfigSchema}
 * @param snapshot learned state from {@link Policy.snapshot} of a policy of this kind
 * @throws Error when the snapshot's kind or format does not match; ZodError when its state is malformed
 */
export function createBetaBernoulli(config: BetaBernoulliConfig, snapshot?: PolicySnapshot): Policy {
  const policy = new BetaBernoulliPolicy(config);
  if (snapshot !== undefined) policy.restore(snapshot);
  return policy;
}
