/**
 * `liubai simulate <scenario.json> [--out results] [--workers n] [--seeds n] [--horizon n]`:
 * run every (policy, seed) pair of a scenario on worker threads, then write
 * `<out>/<scenario>/<timestamp>/results.json` and `report.html` and print a summary table.
 * Exit codes: 0 done, 1 a run failed, 2 bad usage or an invalid scenario.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runScenario, type Progress } from '../simulation/parallel.js';
import { renderReport } from '../simulation/report/html.js';
import { formatMeanCi, METRIC_INFO } from '../simulation/report/html.js';
import { toJson, type SimulationResults } from '../simulation/report/results.js';
import { loadScenario, ScenarioError, withOverrides, type Scenario } from '../simulation/scenario.js';

/** Where a command writes: stdout for results, stderr for progress and errors. */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  /** Wall clock (for timestamps and progress); default `Date`. */
  readonly now?: () => Date;
}

const defaultIo = (): CommandIo => ({ stdout: process.stdout, stderr: process.stderr });

const USAGE = `usage: liubai simulate <scenario.json> [options]

Runs every (policy, seed) pair of the scenario and writes results.json and report.html.

options:
  --out <dir>        results root (default: results); files go to <dir>/<scenario>/<timestamp>/
  --workers <n>      worker threads (default: 2; 1 runs in this thread)
  --seeds <n>        run n consecutive seeds from the scenario's first seed
  --horizon <n>      decisions per run (overrides the scenario)
  --quiet            no progress output
  -h, --help         this text
`;

/** The liubai version from package.json ("unknown" when it cannot be read). */
export function liubaiVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A positive integer flag value. @throws UsageError */
export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** Bad command-line usage (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A directory name from a time: `2026-01-31T12-00-00-000Z` (sortable, no `:` for Windows). */
export function timestampName(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/**
 * The checks every scenario command makes after parsing its flags: `--help` prints the usage
 * (exit 0); anything but exactly one scenario file is a usage error (exit 2).
 * @returns an exit code to return now, or null to go on
 */
export function checkScenarioUsage(command: string, help: boolean | undefined, positionals: readonly string[], usage: string, io: CommandIo): number | null {
  if (help) {
    io.stdout.write(usage);
    return 0;
  }
  if (positionals.length !== 1) {
    io.stderr.write(`liubai ${command}: expected one scenario file, got ${positionals.length}\n\n${usage}`);
    return 2;
  }
  return null;
}

/**
 * Load a scenario with the `--seeds` / `--horizon` overrides and read `--workers` (default 2).
 * @throws UsageError for a bad flag value; ScenarioError for an invalid scenario
 */
export function loadScenarioWithFlags(path: string, values: { workers?: string; seeds?: string; horizon?: string }): { scenario: Scenario; workers: number } {
  const workers = positiveInt('workers', values.workers) ?? 2;
  const seeds = positiveInt('seeds', values.seeds);
  const horizon = positiveInt('horizon', values.horizon);
  const scenario = withOverrides(loadScenario(path), {
    ...(seeds !== undefined ? { seeds } : {}),
    ...(horizon !== undefined ? { horizon } : {}),
  });
  return { scenario, workers };
}

/** Create `<root>/<name>/<timestamp>` (with a `-2`, `-3`… suffix if it exists) and return it. */
export function createRunDir(root: string, name: string, date: Date): string {
  const base = join(root, name, timestampName(date));
  let dir = base;
  for (let i = 2; existsSync(dir); i++) dir = `${base}-${i}`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

/** A progress display: one updating line on a terminal, plain lines every few seconds otherwise. */
export interface ProgressPrinter {
  update(progress: Progress): void;
  /** Print the final state (and end the updating line). */
  done(progress: Progress | null): void;
}

/**
 * Progress on stderr. On a TTY a single line is rewritten at most 10 times a second
 * (`runs 4/30 ▕████░░░░▏ 27% · 3,120 decisions/s · ETA 0:41`); otherwise a plain line every
 * `intervalMs` (default 5 s).
 */
export function createProgressPrinter(io: CommandIo, label: string, intervalMs = 5000): ProgressPrinter {
  const now = () => (io.now ?? (() => new Date()))().getTime();
  const t0 = now();
  const tty = io.stderr.isTTY === true;
  let last = 0;
  const describe = (p: Progress): string => {
    const elapsed = Math.max(1e-3, (now() - t0) / 1000);
    const rate = p.decisions / elapsed;
    const frac = p.totalDecisions > 0 ? p.decisions / p.totalDecisions : 1;
    const eta = rate > 0 ? (p.totalDecisions - p.decisions) / rate : Number.NaN;
    const width = 20;
    const filled = Math.round(frac * width);
    const bar = tty ? ` ▕${'█'.repeat(filled)}${'░'.repeat(width - filled)}▏` : '';
    return (
      `${label}: runs ${p.jobsDone}/${p.jobs}${bar} ${(frac * 100).toFixed(0)}% · ` +
      `${Math.round(rate).toLocaleString('en-US')} decisions/s · ${p.jobsDone === p.jobs ? `done in ${clock(elapsed)}` : `ETA ${clock(eta)}`}`
    );
  };
  return {
    update(p) {
      const t = now();
      if (tty) {
        if (t - last < 100 && p.jobsDone < p.jobs) return;
        last = t;
        io.stderr.write(`\r\x1b[2K${describe(p)}`);
      } else if (t - last >= intervalMs || last === 0) {
        if (last === 0 && p.decisions === 0) return;
        last = t;
        io.stderr.write(`${describe(p)}\n`);
      }
    },
    done(p) {
      if (p) io.stderr.write(tty ? `\r\x1b[2K${describe(p)}\n` : `${describe(p)}\n`);
      else if (tty) io.stderr.write('\n');
    },
  };
}

/** An aligned text table (first column left-aligned, the rest right-aligned). */
export function textTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/** The summary table printed at the end of a run. */
export function summaryText(results: SimulationResults): string {
  const metrics = results.scenario.metrics;
  return textTable(
    ['policy', ...metrics.map((m) => METRIC_INFO[m].label.toLowerCase())],
    results.policies.map((p) => [p.name, ...metrics.map((m) => formatMeanCi(p.summary[m], METRIC_INFO[m].format))]),
  );
}

/**
 * Run `liubai simulate`.
 * @param argv the arguments after `simulate`
 * @returns the exit code (0 ok, 1 a run failed, 2 bad usage or invalid scenario)
 */
export async function simulateCommand(argv: string[], io: CommandIo = defaultIo()): Promise<number> {
  let values: { out?: string; workers?: string; seeds?: string; horizon?: string; quiet?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string' },
        workers: { type: 'string' },
        seeds: { type: 'string' },
        horizon: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.stderr.write(`liubai simulate: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const early = checkScenarioUsage('simulate', values.help, positionals, USAGE, io);
  if (early !== null) return early;
  let scenario: Scenario;
  let workers: number;
  try {
    ({ scenario, workers } = loadScenarioWithFlags(positionals[0]!, values));
  } catch (error) {
    if (error instanceof ScenarioError || error instanceof UsageError) {
      io.stderr.write(`liubai simulate: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`liubai simulate: cannot read ${positionals[0]}: ${(error as Error).message}\n`);
    return 2;
  }

  const now = io.now ?? (() => new Date());
  const progress = values.quiet ? null : createProgressPrinter(io, scenario.name);
  let lastProgress: Progress | null = null;
  let results: SimulationResults;
  try {
    results = await runScenario(scenario, {
      workers,
      liubaiVersion: liubaiVersion(),
      now,
      onProgress: (p) => {
        lastProgress = p;
        progress?.update(p);
      },
    });
  } catch (error) {
    progress?.done(null);
    io.stderr.write(`liubai simulate: ${(error as Error).message}\n`);
    return 1;
  }
  progress?.done(lastProgress);

  const dir = createRunDir(values.out ?? 'results', scenario.name, new Date(results.run.startedAt));
  writeFileSync(join(dir, 'results.json'), `${toJson(results)}\n`);
  writeFileSync(join(dir, 'report.html'), renderReport(results));
  io.stdout.write(summaryText(results));
  io.stdout.write(
    `\n${results.run.decisions.toLocaleString('en-US')} decisions in ${(results.run.elapsedMs / 1000).toFixed(1)} s ` +
      `(${results.run.decisionsPerSecond.toLocaleString('en-US')} decisions/s, ${results.run.workers} worker${results.run.workers === 1 ? '' : 's'})\n` +
      `wrote ${join(dir, 'results.json')}\n      ${join(dir, 'report.html')}\n`,
  );
  return 0;
}
