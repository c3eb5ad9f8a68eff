/**
 * Prometheus metrics of one app, on its own {@link Registry} (never the global one, so tests can
 * build many apps). Request counts and latency come from the HTTP layer; the learning figures
 * are read from the engine at scrape time (collect callbacks): the models' counters since the
 * process started, and row counts from the store.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from '../engine/engine.js';

/** Figures of one model at scrape time. */
interface ModelStats {
  readonly modelId: string;
  readonly version: number;
  readonly decisions: number;
  readonly slots: number;
  readonly explored: number;
  readonly exploredCost: number;
  readonly floorSlates: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly retractions: number;
  readonly unlearnable: number;
  readonly allowedShare: number;
  readonly ledger: number;
  readonly openWindows: number;
  readonly lag: number;
  /** Seconds the oldest due reward window has waited for the sweeper (0: none due). */
  readonly overdue: number;
}

/** The app's metrics. */
export interface Metrics {
  readonly registry: Registry;
  /** Record one answered request (`route` is the route pattern, never the raw URL). */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  /** The exposition text (Prometheus format), reading the engine once. */
  render(): Promise<string>;
  /** Where `liubai_ranks_in_progress` reads the number of ranks in progress (the app's count). */
  countRanksInProgress(read: () => number): void;
  /** Count one rank refused as OVERLOADED (`liubai_ranks_shed_total`). */
  rankShed(): void;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Also export the process metrics of prom-client (CPU, memory, event-loop lag). Default false. */
  readonly processMetrics?: boolean;
}

/**
 * Build the metrics of an app serving `engine`.
 *
 * Shares: `liubai_ignored_share` = ignored / all outcomes folded since start;
 * `liubai_explored_share` = explored slots / shown slots since start. Lag:
 * `liubai_learning_log_lag` = last learning-log seq − seq the serving posterior has learned (with a
 * policy replica, what the replica has applied: it learns asynchronously).
 * `liubai_reward_windows_overdue_seconds` = now − deadline of the oldest reward window still open
 * past its deadline (silence not yet learned; the sweeper closes windows in chunks, sweeper.ts).
 */
export function createMetrics(engine: Engine, options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry, prefix: 'liubai_' });

  let cache: { at: number; stats: ModelStats[] } | null = null;
  const stats = (): ModelStats[] => {
    // Every collect callback of one scrape reads the same figures (one pass over the store).
    const now = performance.now();
    if (cache && now - cache.at < 100) return cache.stats;
    const out: ModelStats[] = [];
    for (const modelId of engine.modelIds()) {
      const m = engine.model(modelId);
      const c = engine.store.counts(modelId);
      const at = engine.clock();
      const due = engine.store.dueWindows(modelId, at, 1)[0];
      out.push({
        modelId,
        version: m.version,
        decisions: m.counters.decisions,
        slots: m.counters.slots,
        explored: m.counters.explored,
        exploredCost: m.counters.exploredCost,
        floorSlates: m.counters.floorSlates,
        outcomes: { ...m.counters.outcomes },
        retractions: m.counters.retractions,
        unlearnable: m.counters.unlearnable,
        allowedShare: m.config.budget.share,
        ledger: c.ledger,
        openWindows: c.openWindows,
        lag: Math.max(0, engine.store.lastSeq(modelId) - m.learnedSeq),
        overdue: due ? Math.max(0, at - due.deadline) / 1000 : 0,
      });
    }
    cache = { at: now, stats: out };
    return out;
  };

  const requests = new Counter({
    name: 'liubai_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'liubai_http_request_duration_seconds',
    help: 'HTTP request latency (first byte read to last byte written), by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  /** Label children by `route method status` (a bounded set: route patterns × methods × statuses). */
  const children = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();

  /** A counter read from the engine: reset, then set to the current totals. */
  const engineCounter = (name: string, help: string, value: (s: ModelStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['model'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of stats()) this.inc({ model: s.modelId }, value(s));
      },
    });
  const engineGauge = (name: string, help: string, value: (s: ModelStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['model'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of stats()) this.set({ model: s.modelId }, value(s));
      },
    });

  new Gauge({
    name: 'liubai_models',
    help: 'Models hosted',
    registers: [registry],
    collect() {
      this.set(engine.modelIds().length);
    },
  });
  engineGauge('liubai_model_version', 'Config version of each model', (s) => s.version);
  engineCounter('liubai_decisions_total', 'Rank decisions since the process started', (s) => s.decisions);
  engineCounter('liubai_slots_total', 'Slate slots shown since the process started', (s) => s.slots);
  engineCounter('liubai_explored_slots_total', 'Slots given to the exploration budget since the process started', (s) => s.explored);
  new Counter({
    name: 'liubai_outcomes_total',
    help: 'Outcomes folded into the posterior since the process started, by kind (ignored = silence)',
    labelNames: ['model', 'kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of stats()) {
        for (const [kind, n] of Object.entries(s.outcomes)) this.inc({ model: s.modelId, kind }, n);
      }
    },
  });
  engineCounter('liubai_retractions_total', 'Retracted outcomes (late positive feedback) since the process started', (s) => s.retractions);
  engineCounter(
    'liubai_unlearnable_outcomes_total',
    'Learning-log entries folded without an update since the process started: the current config cannot featurize their decision (e.g. a namespace it now reserves)',
    (s) => s.unlearnable,
  );
  engineGauge('liubai_ignored_share', 'Share of outcomes that were silence (ignored) since the process started', (s) => {
    let total = 0;
    for (const n of Object.values(s.outcomes)) total += n;
    return total > 0 ? (s.outcomes['ignored'] ?? 0) / total : 0;
  });
  engineGauge('liubai_explored_share', 'Share of shown slots placed by the exploration budget since the process started', (s) =>
    s.slots > 0 ? s.explored / s.slots : 0,
  );
  engineGauge('liubai_budget_allowed_share', 'Configured long-run exploration share (budget.share)', (s) => s.allowedShare);
  engineGauge('liubai_budget_spent_slots', 'Exploratory slots in the budget ledger (all time)', (s) => s.ledger);
  engineCounter(
    'liubai_floor_slates_total',
    'Decisions whose whole slate was drawn uniformly by the propensity floor (probability min(1, floor·k/slots)) since the process started: exploration outside the budget share, tokens and ledger',
    (s) => s.floorSlates,
  );
  engineCounter(
    'liubai_budget_spent_cost_total',
    'Estimated score given up by exploratory slots since the process started (sum of the ledger cost estimates)',
    (s) => s.exploredCost,
  );
  engineGauge('liubai_learning_log_lag', 'Learning-log entries not yet folded into the serving posterior', (s) => s.lag);
  engineGauge('liubai_open_windows', 'Exposed impressions whose reward window is open', (s) => s.openWindows);
  engineGauge(
    'liubai_reward_windows_overdue_seconds',
    'How long the oldest due reward window has waited to be closed as silence (0 = none due): the sweeper falling behind',
    (s) => s.overdue,
  );

  let ranksInProgress: () => number = () => 0;
  new Gauge({
    name: 'liubai_ranks_in_progress',
    help: 'Rank requests routed and not yet answered (the app sheds ranks above its maxPendingRanks)',
    registers: [registry],
    collect() {
      this.set(ranksInProgress());
    },
  });
  const shed = new Counter({
    name: 'liubai_ranks_shed_total',
    help: 'Rank requests answered 503 OVERLOADED at once because maxPendingRanks were in progress',
    registers: [registry],
  });

  return {
    registry,
    countRanksInProgress(read) {
      ranksInProgress = read;
    },
    rankShed() {
      shed.inc();
    },
    observeRequest(route, method, status, seconds) {
      // The label children of each (route, method, status), resolved once: prom-client would
      // otherwise hash the label set twice per request.
      const key = `${route} ${method} ${status}`;
      let child = children.get(key);
      if (!child) {
        const labels = { route, method, status: String(status) };
        child = { count: requests.labels(labels), time: latency.labels(labels) };
        children.set(key, child);
      }
      child.count.inc();
      child.time.observe(seconds);
    },
    async render() {
      cache = null;
      return registry.metrics();
    },
  };
}
