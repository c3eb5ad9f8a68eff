/**
 * Run many independent simulation runs — (config, seed) pairs — on worker threads.
 *
 * Each run depends only on its job (environment config, model config, seed, lengths): the
 * environment, the arrival and response streams and the engine's decision seeds are all derived
 * from the seed, and every worker builds a fresh environment and engine per job. Results are put
 * back in job order whatever order the workers finish in, so the output is bit-for-bit the same
 * for 1 or n workers. With one worker the runs execute in the calling thread (no worker at all).
 *
 * Workers are started from `parallel-worker.mjs`, which registers tsx and imports the
 * TypeScript worker module — the same trick as `bin/liubai.mjs` — so no build step is needed.
 */
import { parseModelConfig } from '../engine/config.js';
import { preparePolicy } from '../policies/registry.js';
import { neuralBackendPreference } from '../policies/neural-linear/backend.js';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { ModelConfigInput } from '../engine/config.js';
import type { EnvironmentConfig } from './environments/index.js';
import { buildResults, environmentInfo, type SimulationResults } from './report/results.js';
import { runSimulation, type RunSeries, type RunTotals } from './runner.js';
import { environmentForSeed, resolveSeeds, type Scenario } from './scenario.js';

/** One independent run. */
export interface SimulationJob {
  readonly environment: EnvironmentConfig;
  readonly config: ModelConfigInput;
  readonly seed: number;
  readonly horizon: number;
  readonly slots: number;
  readonly stepMs: number;
  readonly points: number;
  /** Items kept in `series.topItemMeans` (0 = skip the posterior probe). */
  readonly topItems: number;
  /** Return the series (false: totals only, e.g. for sweeps). */
  readonly series: boolean;
}

/** What one run returns (structured-clone friendly). */
export interface JobResult {
  readonly seed: number;
  readonly totals: RunTotals;
  readonly series: RunSeries | null;
  readonly tfBackend: string | null;
}

/** Progress over all jobs. */
export interface Progress {
  readonly jobsDone: number;
  readonly jobs: number;
  /** Decisions made so far over all jobs. */
  readonly decisions: number;
  readonly totalDecisions: number;
}

/** Options of {@link runJobs}. */
export interface ParallelOptions {
  /** Worker threads (≥ 1; 1 = run in this thread). */
  readonly workers: number;
  readonly onProgress?: (progress: Progress) => void;
  /** Decisions between progress reports of one run (default 200). */
  readonly progressEvery?: number;
}

/**
 * Run one job in this thread.
 * @param onProgress called with the number of decisions made so far in this run
 * @throws whatever the environment or engine throws (e.g. ZodError, LiubaiError)
 */
/**
 * Load what the job's policy needs before the synchronous run (tensorflow.js and its backend for
 * neural-linear; nothing otherwise).
 */
export async function prepareJob(job: SimulationJob): Promise<void> {
  await preparePolicy(parseModelConfig(job.config).policy);
}

export function runJob(job: SimulationJob, onProgress?: (decisions: number) => void, progressEvery = 200): JobResult {
  const result = runSimulation((seed) => environmentForSeed(job.environment, seed), job.config, {
    horizon: job.horizon,
    slots: job.slots,
    stepMs: job.stepMs,
    seed: job.seed,
    points: job.points,
    topItems: job.series ? job.topItems : 0,
    progressEvery,
    ...(onProgress ? { onProgress } : {}),
  });
  return { seed: result.seed, totals: result.totals, series: job.series ? result.series : null, tfBackend: result.tfBackend };
}

/** Messages from the main thread to a worker. */
export type ToWorker = { readonly type: 'run'; readonly id: number; readonly job: SimulationJob; readonly progressEvery: number };
/** Messages from a worker to the main thread. */
export type FromWorker =
  | { readonly type: 'progress'; readonly id: number; readonly decisions: number }
  | { readonly type: 'result'; readonly id: number; readonly result: JobResult }
  | { readonly type: 'error'; readonly id: number; readonly message: string; readonly stack?: string };

const WORKER_ENTRY = new URL('./parallel-worker.mjs', import.meta.url);

/**
 * Run every job, on `workers` threads, and return the results in job order.
 * Jobs are handed out one at a time to whichever worker is free (long and short runs balance);
 * the first failure stops every worker and rejects with the job's error message.
 * @throws Error from a failed job (message prefixed with the job index and seed)
 */
export async function runJobs(jobs: readonly SimulationJob[], options: ParallelOptions): Promise<JobResult[]> {
  const total = jobs.reduce((s, j) => s + j.horizon, 0);
  const done = new Float64Array(jobs.length);
  let decisions = 0;
  let jobsDone = 0;
  const progressEvery = options.progressEvery ?? 200;
  const report = (id: number, d: number) => {
    decisions += d - done[id]!;
    done[id] = d;
    options.onProgress?.({ jobsDone, jobs: jobs.length, decisions, totalDecisions: total });
  };
  const results: Array<JobResult | undefined> = new Array<JobResult | undefined>(jobs.length);
  const workers = Math.max(1, Math.min(Math.floor(options.workers), jobs.length));

  if (workers <= 1) {
    for (let id = 0; id < jobs.length; id++) {
      const job = jobs[id]!;
      try {
        await prepareJob(job);
        results[id] = runJob(job, (d) => report(id, d), progressEvery);
      } catch (error) {
        throw jobError(id, job, error instanceof Error ? error.message : String(error));
      }
      jobsDone++;
      report(id, job.horizon);
    }
    return results as JobResult[];
  }

  return new Promise<JobResult[]>((resolve, reject) => {
    const pool: Worker[] = [];
    let next = 0;
    let failed = false;
    const stopAll = () => Promise.all(pool.map((w) => w.terminate()));
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      void stopAll().finally(() => reject(error));
    };
    const dispatch = (w: Worker) => {
      if (failed || next >= jobs.length) return;
      const id = next++;
      const msg: ToWorker = { type: 'run', id, job: jobs[id]!, progressEvery };
      w.postMessage(msg);
    };
    for (let i = 0; i < workers; i++) {
      // The process-wide backend preference, which a worker thread does not share.
      const w = new Worker(WORKER_ENTRY, { workerData: { neuralBackends: neuralBackendPreference() } });
      pool.push(w);
      w.on('message', (m: FromWorker) => {
        if (m.type === 'progress') report(m.id, m.decisions);
        else if (m.type === 'result') {
          results[m.id] = m.result;
          jobsDone++;
          report(m.id, jobs[m.id]!.horizon);
          if (jobsDone === jobs.length) void stopAll().then(() => resolve(results as JobResult[]));
          else dispatch(w);
        } else fail(jobError(m.id, jobs[m.id]!, m.message));
      });
      w.on('error', (error) => fail(error));
      w.on('exit', (code) => {
        if (!failed && jobsDone < jobs.length && code !== 0) fail(new Error(`simulation worker exited with code ${code}`));
      });
      dispatch(w);
    }
  });
}

function jobError(id: number, job: SimulationJob, message: string): Error {
  return new Error(`run ${id} (seed ${job.seed}) failed: ${message}`);
}

/**
 * The jobs of a scenario in policy-major order: every seed of policy 0, then of policy 1, …
 * (the order {@link buildResults} expects).
 */
export function scenarioJobs(scenario: Scenario, options: { series?: boolean } = {}): SimulationJob[] {
  const seeds = resolveSeeds(scenario.seeds);
  return scenario.policies.flatMap((policy) =>
    seeds.map(
      (seed): SimulationJob => ({
        environment: scenario.environment,
        config: policy.config,
        seed,
        horizon: scenario.horizon,
        slots: scenario.slots,
        stepMs: scenario.stepMs,
        points: scenario.points,
        topItems: scenario.topItems,
        series: options.series ?? true,
      }),
    ),
  );
}

/**
 * Run a whole scenario (every policy × seed) and assemble its `results.json` content.
 * @param options.liubaiVersion recorded in the results
 * @param options.now the run's start time (ISO string in the results; default the wall clock)
 * @throws Error from a failed run
 */
export async function runScenario(
  scenario: Scenario,
  options: ParallelOptions & { liubaiVersion: string; now?: () => Date },
): Promise<SimulationResults> {
  const jobs = scenarioJobs(scenario);
  const startedAt = (options.now ?? (() => new Date()))().toISOString();
  const t0 = performance.now();
  const results = await runJobs(jobs, options);
  const elapsedMs = performance.now() - t0;
  const decisions = jobs.reduce((s, j) => s + j.horizon, 0);
  return buildResults({
    scenario,
    results,
    environment: environmentInfo(scenario),
    liubaiVersion: options.liubaiVersion,
    run: {
      startedAt,
      elapsedMs: Math.round(elapsedMs),
      workers: Math.max(1, Math.min(Math.floor(options.workers), jobs.length)),
      decisions,
      decisionsPerSecond: Math.round(decisions / Math.max(1e-3, elapsedMs / 1000)),
    },
  });
}
