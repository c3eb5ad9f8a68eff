/**
 * The simulation runner: drives the same engine code the server runs (Engine + in-memory store)
 * against a simulated population, on a simulated clock, and records reward, regret, exploration,
 * silence and group concentration over time.
 *
 * Per step: advance the clock to the next arrival; deliver every pending reaction due by then in
 * time order (closing reward windows up to each reaction's time first, so a click that arrives
 * after its window retracts the provisional `ignored` outcome exactly as in production); rank; add
 * the exact expected reward and regret of the slate from the environment's ground truth; draw the
 * person's reactions and schedule them.
 *
 * Randomness: the environment's arrivals and responses use streams forked from the run seed
 * (`arrive`, `respond`), the engine its own decision seeds, so two configs run with the same seed
 * meet the same arrival stream (common random numbers) wherever the environment allows it.
 */
import { TimeHeap } from '../core/heap.js';
import { createRng } from '../core/rng.js';
import { Engine } from '../engine/engine.js';
import type { ModelConfigInput } from '../engine/config.js';
import { MemoryStore } from '../storage/memory/index.js';
import type { RankResponse } from '../engine/model.js';
import type { Arrival, Environment, Reaction } from './environments/types.js';

export interface RunOptions {
  /** Number of arrivals (decisions). */
  readonly horizon: number;
  readonly slots: number;
  /** Time between arrivals (ms). */
  readonly stepMs: number;
  /** Seed of this run (environment streams and the engine's model seed). */
  readonly seed: number;
  /** Number of points in each recorded series (default 100). */
  readonly points?: number;
  /** Called every `progressEvery` steps with the step count (for progress bars). */
  readonly onProgress?: (step: number) => void;
  readonly progressEvery?: number;
  /** Record, per step, whether position 1 holds the best item by exact expected reward (k extra calls per step). */
  readonly trackBest?: boolean;
  /**
   * How many items to keep in `series.topItemMeans` (default 10; 0 = skip the probe): the items
   * with the highest posterior mean at the last point.
   */
  readonly topItems?: number;
  /** Observe each decision (for tests and custom metrics). */
  readonly onDecision?: (info: { step: number; at: number; userId: string; slate: RankResponse['slate'] }) => void;
}

/** Totals of one run. */
export interface RunTotals {
  readonly decisions: number;
  readonly slots: number;
  /** Realised reward: clicks (and conversion values) drawn by the environment. */
  readonly reward: number;
  /** Sum over slates of the exact expected reward. */
  readonly expectedReward: number;
  /** Sum over decisions of (best slate's expected reward − this slate's). */
  readonly regret: number;
  /** Realised clicks per shown impression. */
  readonly clickThrough: number;
  readonly explored: number;
  readonly exploredShare: number;
  /** Shown impressions the person did not react to at all (silence), per shown impression. */
  readonly ignoredShare: number;
  /** Share of the most-shown group among all shown items. */
  readonly topGroupShare: number;
  /** Gini coefficient of the groups' shares of shown items (0 = even, → 1 = one group). */
  readonly groupGini: number;
}

/** Series recorded at `points` evenly spaced steps. */
export interface RunSeries {
  readonly step: number[];
  readonly cumulativeReward: number[];
  readonly cumulativeRegret: number[];
  /** Explored share of the slots since the previous point. */
  readonly exploredShare: number[];
  /** Each group's share of the shown items since the previous point. */
  readonly groupShares: Record<string, number[]>;
  /**
   * Posterior mean score ({@link Model.meanScores}) of the top items (by mean at the last point,
   * highest first) at each point, on a fixed probe: the context and candidates of the first
   * arrival. Scores are on the policy's scale (click probability for `beta-bernoulli`, the
   * linear predictor for `linear-gaussian`).
   */
  readonly topItemMeans: Record<string, number[]>;
}

export interface RunResult {
  readonly seed: number;
  readonly totals: RunTotals;
  readonly series: RunSeries;
  /** For each step, the id of the item shown at position 1 (for recovery analyses). */
  readonly firstItems: string[];
  /** With `trackBest`: 1 where position 1 held an item of maximal expected reward. */
  readonly bestFirst: Uint8Array;
  /** The tensorflow.js backend a policy reports in its posterior summary (`tfBackend`), else null. */
  readonly tfBackend: string | null;
}

interface Pending {
  readonly at: number;
  readonly n: number;
  readonly eventId: string;
  readonly reaction: Reaction;
}

/** Gini coefficient of non-negative shares. */
export function gini(values: readonly number[]): number {
  const xs = [...values].sort((a, b) => a - b);
  const n = xs.length;
  const total = xs.reduce((s, x) => s + x, 0);
  if (n === 0 || total === 0) return 0;
  let cum = 0;
  for (let i = 0; i < n; i++) cum += (2 * (i + 1) - n - 1) * xs[i]!;
  return cum / (n * total);
}

/**
 * Run one engine config against a fresh environment for `horizon` decisions.
 * @param createEnvironment builds the environment for this seed (fresh state per run)
 */
export function runSimulation(
  createEnvironment: (seed: number) => Environment,
  config: ModelConfigInput,
  options: RunOptions,
): RunResult {
  const env = createEnvironment(options.seed);
  const root = createRng(`simulation:${options.seed}`);
  const arriveRng = root.fork('arrive');
  const respondRng = root.fork('respond');
  const t0 = Date.UTC(2026, 0, 1);
  let now = t0;
  let eventCounter = 0;
  const store = new MemoryStore();
  const engine = new Engine({ store, clock: () => now, newEventId: () => `e${++eventCounter}`, snapshotEvery: 0 });
  const modelId = 'sim';
  engine.putModel(modelId, { ...config, seed: (config as { seed?: number | string }).seed ?? options.seed });
  const model = engine.model(modelId);

  // Pending reactions, earliest first (ties in the order they were drawn).
  const heap = new TimeHeap<Pending>();
  let pushed = 0;

  const deliverUntil = (t: number) => {
    while (heap.size > 0 && heap.peek()!.at <= t) {
      const p = heap.pop()!;
      engine.tick(p.at - 1); // windows that closed strictly before this reaction
      now = p.at;
      model.feedback({
        eventId: p.eventId,
        itemId: p.reaction.itemId,
        kind: p.reaction.kind,
        ...(p.reaction.value !== undefined ? { value: p.reaction.value } : {}),
      });
    }
    now = t;
    engine.tick(t);
  };

  const points = Math.max(1, Math.min(options.points ?? 100, options.horizon));
  const every = options.horizon / points;
  const series: RunSeries = { step: [], cumulativeReward: [], cumulativeRegret: [], exploredShare: [], groupShares: {}, topItemMeans: {} };
  // Every group of the environment, shown or not: a group never shown is a share of 0 (the Gini
  // of the shown groups alone would call a policy that ignores whole groups "even").
  const groupTotals = new Map<string, number>([...new Set(env.groups.values())].map((g) => [g, 0]));
  let groupWindow = new Map<string, number>();
  let reward = 0;
  let expected = 0;
  let regret = 0;
  let slotsShown = 0;
  let explored = 0;
  let windowSlots = 0;
  let windowExplored = 0;
  let nextPoint = every;
  let reacted = 0;
  const firstItems: string[] = [];
  const bestFirst = new Uint8Array(options.trackBest ? options.horizon : 0);
  const progressEvery = options.progressEvery ?? 1000;
  const topItems = options.topItems ?? 10;
  let probe: Arrival | null = null;
  const itemMeans = new Map<string, number[]>();

  for (let step = 1; step <= options.horizon; step++) {
    deliverUntil(t0 + step * options.stepMs);
    const arrival = env.arrive(now, arriveRng);
    if (probe === null && topItems > 0) probe = arrival;
    const ranked = model.rank({
      context: arrival.context,
      candidates: arrival.candidates,
      slots: options.slots,
      userId: arrival.userId,
    });
    const shown = ranked.slate.map((s) => ({ itemId: s.id, position: s.position }));
    let e = 0;
    for (const s of shown) e += env.expectedReward(arrival, s.itemId, s.position);
    expected += e;
    regret += env.bestSlateReward(arrival, options.slots) - e;
    for (const s of ranked.slate) {
      slotsShown++;
      windowSlots++;
      if (s.explored) {
        explored++;
        windowExplored++;
      }
      const g = env.groups.get(s.id) ?? arrival.candidates.find((c) => c.id === s.id)?.group ?? s.id;
      groupTotals.set(g, (groupTotals.get(g) ?? 0) + 1);
      groupWindow.set(g, (groupWindow.get(g) ?? 0) + 1);
    }
    firstItems.push(ranked.slate[0]?.id ?? '');
    if (options.trackBest && ranked.slate[0]) {
      let best = Number.NEGATIVE_INFINITY;
      for (const c of arrival.candidates) best = Math.max(best, env.expectedReward(arrival, c.id, 1));
      bestFirst[step - 1] = env.expectedReward(arrival, ranked.slate[0].id, 1) >= best - 1e-12 ? 1 : 0;
    }
    options.onDecision?.({ step, at: now, userId: arrival.userId, slate: ranked.slate });
    const reactions = env.respond(arrival, shown, respondRng);
    reacted += new Set(reactions.map((x) => x.itemId)).size;
    for (const reaction of reactions) {
      if (reaction.kind === 'click') reward += 1;
      else if (reaction.kind === 'convert') reward += reaction.value ?? 1;
      heap.push({ at: now + Math.max(0, reaction.delayMs), n: pushed++, eventId: ranked.eventId, reaction });
    }
    if (step >= nextPoint - 1e-9 || step === options.horizon) {
      series.step.push(step);
      series.cumulativeReward.push(reward);
      series.cumulativeRegret.push(regret);
      series.exploredShare.push(windowSlots > 0 ? windowExplored / windowSlots : 0);
      const windowTotal = [...groupWindow.values()].reduce((s, x) => s + x, 0);
      const idx = series.step.length - 1;
      for (const g of new Set([...groupWindow.keys(), ...Object.keys(series.groupShares)])) {
        const arr = (series.groupShares[g] ??= new Array<number>(idx).fill(0));
        while (arr.length < idx) arr.push(0);
        arr.push(windowTotal > 0 ? (groupWindow.get(g) ?? 0) / windowTotal : 0);
      }
      groupWindow = new Map();
      if (probe !== null) {
        const means = model.meanScores(probe.context, probe.candidates);
        probe.candidates.forEach((c, i) => {
          const arr = itemMeans.get(c.id);
          if (arr) arr.push(means[i]!);
          else itemMeans.set(c.id, [means[i]!]);
        });
      }
      windowSlots = 0;
      windowExplored = 0;
      nextPoint += every;
    }
    if (options.onProgress && step % progressEvery === 0) options.onProgress(step);
  }
  // Let every outstanding reaction and window resolve.
  deliverUntil(now + 365 * 86_400_000);

  // Highest final mean first; ties keep the probe's candidate order (sort is stable).
  const ranked = [...itemMeans.entries()].sort((a, b) => b[1][b[1].length - 1]! - a[1][a[1].length - 1]!);
  for (const [id, arr] of ranked.slice(0, topItems)) series.topItemMeans[id] = arr;
  const backend = model.describePosterior().tfBackend;

  const shares = [...groupTotals.values()].map((x) => x / Math.max(1, slotsShown));
  return {
    seed: options.seed,
    totals: {
      decisions: options.horizon,
      slots: slotsShown,
      reward,
      expectedReward: expected,
      regret,
      clickThrough: slotsShown > 0 ? reward / slotsShown : 0,
      explored,
      exploredShare: slotsShown > 0 ? explored / slotsShown : 0,
      ignoredShare: slotsShown > 0 ? (slotsShown - reacted) / slotsShown : 0,
      topGroupShare: shares.length > 0 ? Math.max(...shares) : 0,
      groupGini: gini(shares),
    },
    series,
    firstItems,
    bestFirst,
    tfBackend: typeof backend === 'string' ? backend : null,
  };
}
