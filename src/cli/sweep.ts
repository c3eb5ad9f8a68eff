/**
 * `liubai sweep <scenario.json> --grid budget.share=0,0.02,0.05,0.1 --grid budget.temperature=0.5,1,2
 *  [--policy name] [--metric reward] [--workers n] [--seeds n] [--horizon n] [--out results] [--ope db]`:
 * apply every grid combination to one policy's config, run every setting on every seed in
 * parallel, write `<out>/<scenario>-sweep/<timestamp>/sweep.json` and `sweep.html`, print a
 * table and the best setting with how sure we are. Exit codes: 0 done, 1 a run failed,
 * 2 bad usage, an invalid scenario or grid.
 *
 * `--ope <db> --model <id>` evaluates the grid by off-policy evaluation of that model's logged
 * decisions instead of simulation; the work is done by `sweepOpe` of `src/ope/sweep.ts` (the
 * OPE half), loaded on demand: without that module the command says so and exits 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRng } from '../core/rng.js';
import type { ModelConfigInput } from '../engine/config.js';
import type { SweepOpeReport } from '../ope/sweep.js';
import type { Progress } from '../simulation/parallel.js';
import { formatMeanCi, METRIC_INFO } from '../simulation/report/html.js';
import { toJson } from '../simulation/report/results.js';
import { renderSweepReport, sweepVerdict } from '../simulation/report/sweep-html.js';
import { ScenarioError, type Metric, type Scenario } from '../simulation/scenario.js';
import {
  parseGridSpec,
  runSweep,
  sweepConfigs,
  sweepPolicy,
  SweepError,
  SWEEP_METRICS,
  type GridAxis,
  type SweepResults,
} from '../simulation/sweep.js';
import { checkScenarioUsage, createProgressPrinter, createRunDir, liubaiVersion, loadScenarioWithFlags, textTable, UsageError, type CommandIo } from './simulate.js';

const USAGE = `usage: liubai sweep <scenario.json> --grid <path=v1,v2,…> [--grid …] [options]

Applies every combination of the grid to one policy's config (dotted paths into the model
config), runs every setting on every seed, and reports the best setting and how sure we are.

options:
  --grid <path=values>  e.g. budget.share=0,0.02,0.05,0.1 (repeatable; values are JSON or strings)
  --policy <name>       the scenario policy to start from (default: the first)
  --metric <name>       ${Object.keys(SWEEP_METRICS).join(' | ')} (default: reward)
  --out <dir>           results root (default: results); files go to <dir>/<scenario>-sweep/<timestamp>/
  --workers <n>         worker threads (default: 2; 1 runs in this thread)
  --seeds <n>           run n consecutive seeds from the scenario's first seed
  --horizon <n>         decisions per run (overrides the scenario)
  --ope <db>            evaluate the grid off-policy on the logged decisions in a liubai
                        database instead of simulating (with --model <id>; the base config is
                        the stored model's, or the scenario policy's when --policy is given)
  --model <id>          the model of --ope
  --quiet               no progress output
  -h, --help            this text
`;

/** One row of the OPE sweep (the shape `sweepOpe` of `src/ope/sweep.ts` returns). */
/** What `liubai sweep --ope` needs from the command line. */
interface OpeRequest {
  readonly db: string;
  readonly modelId: string;
  /** The scenario policy's config, when `--policy` names one; else the model's stored config is the base. */
  readonly baseConfig?: ModelConfigInput;
  readonly axes: readonly GridAxis[];
  readonly scenarioName: string;
  readonly out: string;
  readonly quiet: boolean;
  readonly io: CommandIo;
}

/**
 * `--ope <db>`: evaluate the grid off-policy on the logged decisions of model `--model` with
 * `sweepOpeReport` of `src/ope/sweep.ts`; print and save its rows.
 * @returns the exit code (2 when the OPE code rejects the input)
 */
async function runOpeSweep(request: OpeRequest): Promise<number> {
  const { io } = request;
  // Loaded on use: the simulation sweep never needs the OPE code or SQLite.
  const { sweepOpeReport } = await import('../ope/sweep.js');
  const { readModelLogFromDb } = await import('./ope-db.js');
  let output: SweepOpeReport;
  try {
    output = sweepOpeReport({
      log: readModelLogFromDb(request.db, request.modelId),
      modelId: request.modelId,
      ...(request.baseConfig !== undefined ? { baseConfig: request.baseConfig } : {}),
      grid: request.axes.map((a) => ({ path: a.key, values: a.values })),
      rng: createRng('sweep:ope'),
      ...(request.quiet ? {} : { onProgress: (done: number, total: number) => io.stderr.write(`\rope sweep: ${done}/${total}`) }),
    });
  } catch (error) {
    if (!request.quiet) io.stderr.write('\n');
    io.stderr.write(`liubai sweep --ope: ${(error as Error).message}\n`);
    return 2;
  }
  if (!request.quiet) io.stderr.write('\n');
  const rows = output.rows;
  const num = (v: number | null) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(4));
  io.stdout.write(
    textTable(
      [...request.axes.map((a) => a.key), 'scope', 'estimator', 'value', '95% interval', 'ESS', 'n'],
      rows.map((r) => [
        ...request.axes.map((a) => {
          const v = r.setting[a.key];
          return typeof v === 'string' ? v : JSON.stringify(v);
        }),
        r.scope,
        r.estimator,
        num(r.value),
        r.lower === null ? '–' : `[${num(r.lower)}, ${num(r.upper)}]`,
        r.ess === null ? '–' : r.ess.toFixed(0),
        String(r.n),
      ]),
    ),
  );
  const dir = createRunDir(request.out, `${request.scenarioName}-sweep-ope`, (io.now ?? (() => new Date()))());
  writeFileSync(join(dir, 'sweep-ope.json'), `${toJson({ db: request.db, modelId: request.modelId, axes: request.axes.map((a) => ({ key: a.key, values: a.values })), result: output })}\n`);
  io.stdout.write(`\nwrote ${join(dir, 'sweep-ope.json')}\n`);
  return 0;
}

/** The table printed at the end of a sweep. */
export function sweepTable(results: SweepResults): string {
  const info = METRIC_INFO[results.metric];
  return textTable(
    [...results.axes.map((a) => a.key), info.label.toLowerCase(), 'vs best', 'P(best)', ''],
    results.settings.map((r, i) => [
      ...results.axes.map((a) => {
        const v = r.setting[a.key];
        return typeof v === 'string' ? v : JSON.stringify(v);
      }),
      formatMeanCi(r.summary[results.metric], info.format),
      r.versusBest ? `${r.versusBest.mean > 0 ? '+' : ''}${formatMeanCi(r.versusBest, info.format)}` : '–',
      `${Math.round(r.probabilityBest * 100)}%`,
      i === results.best.index ? '← best' : '',
    ]),
  );
}

/**
 * Run `liubai sweep`.
 * @param argv the arguments after `sweep`
 * @returns the exit code (0 ok, 1 a run failed, 2 bad usage, invalid scenario or grid)
 */
export async function sweepCommand(argv: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let values: {
    grid?: string[];
    policy?: string;
    metric?: string;
    out?: string;
    workers?: string;
    seeds?: string;
    horizon?: string;
    ope?: string;
    model?: string;
    quiet?: boolean;
    help?: boolean;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        grid: { type: 'string', multiple: true },
        policy: { type: 'string' },
        metric: { type: 'string' },
        out: { type: 'string' },
        workers: { type: 'string' },
        seeds: { type: 'string' },
        horizon: { type: 'string' },
        ope: { type: 'string' },
        model: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.stderr.write(`liubai sweep: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const early = checkScenarioUsage('sweep', values.help, positionals, USAGE, io);
  if (early !== null) return early;
  const scenarioPath = positionals[0]!;
  let scenario: Scenario;
  let axes: GridAxis[];
  let workers: number;
  let metric: Metric;
  try {
    metric = (values.metric ?? 'reward') as Metric;
    if (!Object.hasOwn(SWEEP_METRICS, metric)) throw new UsageError(`--metric must be one of ${Object.keys(SWEEP_METRICS).join(', ')}, got ${JSON.stringify(values.metric)}`);
    axes = (values.grid ?? []).map(parseGridSpec);
    if (axes.length === 0) throw new UsageError('give at least one --grid path=value1,value2,…');
    ({ scenario, workers } = loadScenarioWithFlags(scenarioPath, values));
    const policy = sweepPolicy(scenario, values.policy);
    if (values.ope !== undefined) {
      if (values.model === undefined) throw new UsageError('--ope needs --model <id>: the model whose logged decisions are evaluated');
      return await runOpeSweep({
        db: values.ope,
        modelId: values.model,
        ...(values.policy !== undefined ? { baseConfig: policy.config } : {}),
        axes,
        scenarioName: scenario.name,
        out: values.out ?? 'results',
        quiet: values.quiet === true,
        io,
      });
    }
    sweepConfigs(policy.config, axes);
  } catch (error) {
    if (error instanceof ScenarioError || error instanceof UsageError || error instanceof SweepError) {
      io.stderr.write(`liubai sweep: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`liubai sweep: ${(error as Error).message}\n`);
    return 2;
  }

  const progress = values.quiet ? null : createProgressPrinter(io, `${scenario.name} sweep`);
  let lastProgress: Progress | null = null;
  let results: SweepResults;
  try {
    results = await runSweep(scenario, {
      axes,
      ...(values.policy !== undefined ? { policy: values.policy } : {}),
      metric,
      workers,
      liubaiVersion: liubaiVersion(),
      ...(io.now ? { now: io.now } : {}),
      onProgress: (p) => {
        lastProgress = p;
        progress?.update(p);
      },
    });
  } catch (error) {
    progress?.done(null);
    io.stderr.write(`liubai sweep: ${(error as Error).message}\n`);
    return 1;
  }
  progress?.done(lastProgress);
  const dir = createRunDir(values.out ?? 'results', `${scenario.name}-sweep`, new Date(results.run.startedAt));
  writeFileSync(join(dir, 'sweep.json'), `${toJson(results)}\n`);
  writeFileSync(join(dir, 'sweep.html'), renderSweepReport(results));
  io.stdout.write(sweepTable(results));
  io.stdout.write(`\n${sweepVerdict(results)}\n\nwrote ${join(dir, 'sweep.json')}\n      ${join(dir, 'sweep.html')}\n`);
  return 0;
}
