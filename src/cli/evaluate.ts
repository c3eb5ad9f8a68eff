/**
 * `liubai evaluate`: off-policy evaluation from the command line.
 *
 * - `--db <file> --model <id> [--candidate <config.json>]`: a candidate config evaluated on a
 *   model's logged decisions (`src/ope/candidate.ts`), next to the logging policy's on-policy
 *   value.
 * - `--obd <campaign>` or `--scenario <obd-ope.json>`: the Open Bandit Dataset check — the
 *   production Bernoulli-TS policy estimated from the random log, against its own log's click
 *   rate (`src/ope/obd.ts`).
 *
 * Exit codes: 0 done; 2 bad usage or input (unknown flag, missing file, unknown model, no
 * decisions, an invalid candidate config — the message names the field); 1 anything else.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '../core/rng.js';
import type { ModelConfig } from '../engine/config.js';
import { LiubaiError } from '../engine/errors.js';
import { candidateConfig, evaluateCandidates, type CandidatesReport } from '../ope/candidate.js';
import { OpeInputError } from '../ope/errors.js';
import { ESTIMATOR_NAMES, type EstimatorName } from '../ope/evaluate.js';
import { SLATE_ESTIMATORS, type ModelLog, type SlateEstimatorName } from '../ope/logged.js';
import { evaluateObdCampaign, obdOpeScenarioSchema, parseBtsPrior, type ObdCampaignResult, type ObdOpeScenario } from '../ope/obd.js';
import { readModelLogFromDb } from './ope-db.js';
import { loadObd } from '../simulation/environments/loaders.js';

export const EVALUATE_USAGE = `usage: liubai evaluate --db <file> --model <id> [--candidate <config.json>] [options]
       liubai evaluate --obd <men|women> [--data <dir>] [options]
       liubai evaluate --scenario <obd-ope.json> [--data <dir>] [options]

Off-policy evaluation of a candidate model config on a model's logged decisions, or of the
ZOZOTOWN Bernoulli-TS policy on the Open Bandit Dataset.

  --db <file>          a liubai SQLite database (as written by liubai serve)
  --model <id>         the model whose logged decisions are used
  --candidate <file>   JSON with the config fields that differ from the model's stored config
                       (deep-merged over it; a policy of another kind replaces the policy);
                       default: the model's own config
  --estimators <list>  comma-separated, default ips,snips,dm,dr,sndr
  --clip <c>           importance-weight clipping, c > 0 (default: none)
  --draws <M>          Monte-Carlo runs per decision (default 500); OBD: rankings (default 100000)
  --resamples <B>      bootstrap resamples (default 1000; OBD 2000)
  --level <p>          interval level in (0, 1) (default 0.95)
  --seed <s>           seed of the Monte Carlo and the bootstrap (default 1; OBD 2024)
  --obd <campaign>     Open Bandit Dataset check of one campaign (men, women; all needs the full logs)
  --scenario <file>    run an obd-ope scenario file (simulations/obd-ope.json)
  --data <dir>         folder holding obd/ (default $LIUBAI_DATA, else ../shared/data beside the package)
  --json               print JSON instead of tables
  -h, --help           this text`;

/** Where the command writes (injectable for tests). */
export interface EvaluateIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

const defaultIo: EvaluateIo = {
  stdout: (t) => process.stdout.write(`${t}\n`),
  stderr: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
  cwd: process.cwd(),
};

const REPO = fileURLToPath(new URL('../..', import.meta.url));

type Flags = Map<string, string | true>;
const VALUE_FLAGS = ['db', 'model', 'candidate', 'estimators', 'clip', 'draws', 'resamples', 'level', 'seed', 'obd', 'scenario', 'data'];
const BOOLEAN_FLAGS = ['json', 'help'];

class UsageError extends Error {
  constructor(
    readonly problems: readonly string[],
    readonly showUsage = true,
  ) {
    super(problems.join('; '));
    this.name = 'UsageError';
  }
}

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = new Map();
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      flags.set('help', true);
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      problems.push(`unexpected argument ${JSON.stringify(arg)}`);
      continue;
    }
    const name = m[1]!;
    if (BOOLEAN_FLAGS.includes(name)) {
      if (m[2] !== undefined) problems.push(`--${name} takes no value`);
      flags.set(name, true);
    } else if (VALUE_FLAGS.includes(name)) {
      const value = m[2] ?? argv[++i];
      if (value === undefined || (m[2] === undefined && value.startsWith('--'))) {
        problems.push(`--${name} needs a value`);
        if (value !== undefined) i--;
        continue;
      }
      if (flags.has(name)) problems.push(`--${name} is given twice`);
      flags.set(name, value);
    } else {
      problems.push(`unknown option --${name}`);
    }
  }
  if (problems.length > 0) throw new UsageError(problems);
  return flags;
}

function text(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

function numberFlag(flags: Flags, name: string, check: (x: number) => boolean, what: string, problems: string[]): number | undefined {
  const raw = text(flags, name);
  if (raw === undefined) return undefined;
  const x = Number(raw);
  if (raw.trim() === '' || !check(x)) {
    problems.push(`--${name} must be ${what}, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return x;
}

interface CommonSettings {
  estimators: string[] | undefined;
  clip: number | undefined;
  draws: number | undefined;
  resamples: number | undefined;
  level: number | undefined;
  seed: string | undefined;
}

function commonSettings(flags: Flags, known: readonly string[]): CommonSettings {
  const problems: string[] = [];
  let estimators: string[] | undefined;
  const list = text(flags, 'estimators');
  if (list !== undefined) {
    estimators = list.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    const unknown = estimators.filter((e) => !known.includes(e));
    if (estimators.length === 0) problems.push('--estimators needs at least one name');
    if (unknown.length > 0) problems.push(`--estimators: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  }
  const settings: CommonSettings = {
    estimators,
    clip: numberFlag(flags, 'clip', (x) => x > 0, 'a number > 0', problems),
    draws: numberFlag(flags, 'draws', (x) => Number.isInteger(x) && x >= 1 && x <= 10_000_000, 'an integer in [1, 10000000]', problems),
    resamples: numberFlag(flags, 'resamples', (x) => Number.isInteger(x) && x >= 2 && x <= 1_000_000, 'an integer in [2, 1000000]', problems),
    level: numberFlag(flags, 'level', (x) => x > 0 && x < 1, 'a number in (0, 1)', problems),
    seed: text(flags, 'seed'),
  };
  if (problems.length > 0) throw new UsageError(problems);
  return settings;
}

/** A seed flag as a number when it is one (so `--seed 7` and a scenario's `7` agree). */
function seedOf(seed: string | number): string | number {
  if (typeof seed === 'number') return seed;
  return /^-?\d+$/.test(seed) ? Number(seed) : seed;
}

/**
 * Run `liubai evaluate` (see {@link EVALUATE_USAGE}).
 * @param argv the arguments after `evaluate`
 * @param io output and environment (default: the process's)
 * @returns the exit code: 0 done, 2 bad usage or input, 1 unexpected failure
 */
export async function evaluateCommand(argv: string[], io: EvaluateIo = defaultIo): Promise<number> {
  try {
    const flags = parseFlags(argv);
    if (flags.has('help')) {
      io.stdout(EVALUATE_USAGE);
      return 0;
    }
    const modes = ['db', 'obd', 'scenario'].filter((m) => flags.has(m));
    if (modes.length !== 1) {
      throw new UsageError([modes.length === 0 ? 'give --db with --model, or --obd, or --scenario' : `--${modes.join(' and --')} cannot be combined`]);
    }
    if (flags.has('db')) return runDb(flags, io);
    return runObd(flags, io);
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: EvaluateIo): number {
  if (error instanceof UsageError) {
    io.stderr(`liubai evaluate: ${error.problems.length} problem(s):`);
    for (const p of error.problems) io.stderr(`  - ${p}`);
    if (error.showUsage) io.stderr('(liubai evaluate --help for the options)');
    return 2;
  }
  if (error instanceof OpeInputError) {
    io.stderr(`liubai evaluate: ${error.message}`);
    return 2;
  }
  if (error instanceof LiubaiError) {
    io.stderr(`liubai evaluate: ${error.message}`);
    return 2;
  }
  io.stderr(`liubai evaluate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 1;
}

// ───────────────────────────── logged decisions ─────────────────────────────

function runDb(flags: Flags, io: EvaluateIo): number {
  const problems: string[] = [];
  const db = text(flags, 'db')!;
  const modelId = text(flags, 'model');
  if (modelId === undefined) problems.push('--model is required with --db');
  for (const f of ['obd', 'data']) if (flags.has(f)) problems.push(`--${f} does not apply to --db`);
  if (problems.length > 0) throw new UsageError(problems);
  const settings = commonSettings(flags, SLATE_ESTIMATORS);
  const dbPath = resolve(io.cwd, db);
  if (!existsSync(dbPath)) throw new UsageError([`--db: no such file ${dbPath}`]);

  let patch: unknown = {};
  const candidatePath = text(flags, 'candidate');
  if (candidatePath !== undefined) {
    const path = resolve(io.cwd, candidatePath);
    let raw: string;
    try {
      raw = readFileSync(path, 'utf8');
    } catch (error) {
      throw new UsageError([`--candidate: cannot read ${path} (${error instanceof Error ? error.message : String(error)})`]);
    }
    try {
      patch = JSON.parse(raw) as unknown;
    } catch (error) {
      throw new UsageError([`--candidate: ${path} is not valid JSON (${error instanceof Error ? error.message : String(error)})`]);
    }
  }

  const log = readModelLogFromDb(dbPath, modelId!);
  let candidate: ModelConfig;
  try {
    candidate = candidateConfig(log.config, patch);
  } catch (error) {
    if (error instanceof LiubaiError) {
      const fields = error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new UsageError(
        fields.map((f) => `candidate config${candidatePath !== undefined ? ` ${candidatePath}` : ''}: ${f}`),
        false,
      );
    }
    throw error;
  }
  const seed = seedOf(settings.seed ?? 1);
  const draws = settings.draws ?? 500;
  const resamples = settings.resamples ?? 1000;
  const level = settings.level ?? 0.95;
  const result = evaluateCandidates(log, [candidate], {
    rng: createRng(seed),
    draws,
    interval: { method: 'bootstrap', level, resamples },
    ...(settings.estimators ? { estimators: settings.estimators as SlateEstimatorName[] } : {}),
    ...(settings.clip !== undefined ? { clip: settings.clip } : {}),
  });
  const changes = configChanges(log.config, candidate);
  if (flags.has('json')) {
    io.stdout(JSON.stringify(dbReportJson(dbPath, log, candidatePath ?? null, changes, result, { seed, draws, resamples, level, clip: settings.clip ?? null }), null, 2));
  } else {
    io.stdout(dbReportText(log, candidatePath ?? null, changes, result, { draws, level }));
  }
  return 0;
}

/** Leaf paths where two configs differ: `budget.share` → [logging, candidate]. */
export function configChanges(a: unknown, b: unknown, prefix = ''): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])]) {
      Object.assign(out, configChanges(a[key], b[key], prefix ? `${prefix}.${key}` : key));
    }
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out[prefix || '(root)'] = [a, b];
  }
  return out;
}

function dbReportJson(
  dbPath: string,
  log: ModelLog,
  candidate: string | null,
  changes: Record<string, [unknown, unknown]>,
  result: CandidatesReport,
  settings: Record<string, unknown>,
): unknown {
  const slateLengths = log.rounds.map((r) => r.decision.slate.length);
  return {
    mode: 'db',
    db: dbPath,
    modelId: log.modelId,
    decisions: {
      used: log.rounds.length,
      unexposed: log.excluded.unexposed,
      unresolved: log.excluded.unresolved,
      slateLength: { min: Math.min(...slateLengths), max: Math.max(...slateLengths) },
      modelVersions: log.versions,
    },
    candidate: { file: candidate, changes: Object.fromEntries(Object.entries(changes).map(([k, [from, to]]) => [k, { logging: from, candidate: to }])) },
    settings,
    rewardModel: result.rewardModel,
    onPolicy: result.onPolicy,
    rows: result.candidates[0]!.rows,
  };
}

const fmt = (x: number | null, digits = 4): string => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits));
const fmtInt = (x: number | null): string => (x === null ? '-' : Math.round(x).toLocaleString('en-US'));

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, rightAligned: ReadonlySet<number>): string {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, j) => (rightAligned.has(j) ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function dbReportText(
  log: ModelLog,
  candidate: string | null,
  changes: Record<string, [unknown, unknown]>,
  result: CandidatesReport,
  settings: { draws: number; level: number },
): string {
  const out: string[] = [];
  const L = log.positions;
  out.push(
    `model ${log.modelId}: ${log.rounds.length.toLocaleString('en-US')} decisions used` +
      ` (${log.excluded.unexposed} never exposed, ${log.excluded.unresolved} exposed within a reward window of the last logged time), slates of up to ${L} position${L === 1 ? '' : 's'}` +
      (log.versions.length > 1 ? `, model versions ${log.versions.join(', ')}` : ''),
  );
  const changed = Object.entries(changes);
  out.push(
    `candidate: ${candidate ?? "the model's own config"}` +
      (changed.length === 0 ? ' (same as the logging config)' : ` — ${changed.map(([k, [a, b]]) => `${k} ${JSON.stringify(a)} → ${JSON.stringify(b)}`).join(', ')}`),
  );
  out.push(
    `target probabilities: ${settings.draws} Monte-Carlo runs per decision` +
      (result.rewardModel ? `; DM/DR reward model: ${result.rewardModel.kind}, ${result.rewardModel.dimension} features, ${result.rewardModel.folds}-fold cross-fitted` : ''),
  );
  out.push('');
  const pct = `${Math.round(settings.level * 100)}% CI`;
  const rows: string[][] = [];
  for (const scope of ['slate', 'top'] as const) {
    const on = result.onPolicy.find((o) => o.scope === scope);
    if (on) rows.push([scope, 'logging (on-policy)', fmt(on.value), `[${fmt(on.lower)}, ${fmt(on.upper)}]`, '']);
    for (const r of result.candidates[0]!.rows.filter((x) => x.scope === scope)) {
      rows.push([scope, r.estimator, fmt(r.value), `[${fmt(r.lower)}, ${fmt(r.upper)}]`, fmtInt(r.ess)]);
    }
  }
  out.push(table(['scope', 'estimator', 'value', pct, 'ESS'], rows, new Set([2, 4])));
  out.push('');
  out.push('slate = expected total reward of a slate (position-wise estimators); top = position 1 alone.');
  out.push('DM intervals hold the reward model fixed, so they understate its uncertainty.');
  return out.join('\n');
}

// ───────────────────────────── Open Bandit Dataset ─────────────────────────────

function runObd(flags: Flags, io: EvaluateIo): number {
  const problems: string[] = [];
  for (const f of ['model', 'candidate']) if (flags.has(f)) problems.push(`--${f} applies to --db only`);
  if (problems.length > 0) throw new UsageError(problems);
  const settings = commonSettings(flags, ESTIMATOR_NAMES.filter((e) => e !== 'replay'));

  let scenario: ObdOpeScenario;
  const scenarioPath = text(flags, 'scenario');
  if (scenarioPath !== undefined) {
    const path = resolve(io.cwd, scenarioPath);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    } catch (error) {
      throw new UsageError([`--scenario: cannot read ${path} as JSON (${error instanceof Error ? error.message : String(error)})`]);
    }
    const parsed = obdOpeScenarioSchema.safeParse(raw);
    if (!parsed.success) {
      throw new UsageError(
        parsed.error.issues.map((i) => `scenario ${scenarioPath}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`),
        false,
      );
    }
    scenario = parsed.data;
  } else {
    const campaign = text(flags, 'obd')!;
    if (!['men', 'women', 'all'].includes(campaign)) throw new UsageError([`--obd must be men, women or all, got ${JSON.stringify(campaign)}`]);
    scenario = obdOpeScenarioSchema.parse({ kind: 'obd-ope', campaigns: [campaign] });
  }
  // Flags override the scenario.
  const merged: ObdOpeScenario = {
    ...scenario,
    ...(settings.estimators ? { estimators: settings.estimators as EstimatorName[] } : {}),
    ...(settings.clip !== undefined ? { clip: settings.clip } : {}),
    ...(settings.draws !== undefined ? { draws: settings.draws } : {}),
    ...(settings.resamples !== undefined ? { resamples: settings.resamples } : {}),
    ...(settings.level !== undefined ? { level: settings.level } : {}),
    ...(settings.seed !== undefined ? { seed: seedOf(settings.seed) } : {}),
  };

  const dataRoot = resolve(io.cwd, text(flags, 'data') ?? io.env.LIUBAI_DATA ?? join(REPO, '..', 'shared', 'data'));
  const obdRoot = join(dataRoot, 'obd');
  const priorPath = join(obdRoot, 'bts_prior', 'prior_bts.yaml');
  if (!existsSync(priorPath)) {
    throw new UsageError([`no Open Bandit Dataset at ${obdRoot} (missing bts_prior/prior_bts.yaml); set --data or LIUBAI_DATA to the folder holding obd/`]);
  }
  const priors = parseBtsPrior(readFileSync(priorPath, 'utf8'));
  const results: ObdCampaignResult[] = [];
  for (const campaign of merged.campaigns) {
    const prior = priors[campaign];
    if (!prior) throw new UsageError([`${priorPath} has no prior for campaign ${campaign}`]);
    let random;
    let bts;
    try {
      random = loadObd(obdRoot, { behaviorPolicy: 'random', campaign });
      bts = loadObd(obdRoot, { behaviorPolicy: 'bts', campaign });
    } catch (error) {
      throw new UsageError([error instanceof Error ? error.message : String(error)]);
    }
    results.push(
      evaluateObdCampaign(random, bts, prior, {
        rng: createRng(seedOf(merged.seed)).fork(campaign),
        estimators: merged.estimators,
        draws: merged.draws,
        resamples: merged.resamples,
        level: merged.level,
        clip: merged.clip,
        lambda: merged.rewardModel.lambda,
        folds: merged.rewardModel.folds,
      }),
    );
  }
  if (flags.has('json')) {
    io.stdout(JSON.stringify({ mode: 'obd', name: merged.name, data: obdRoot, settings: merged, campaigns: results }, null, 2));
  } else {
    io.stdout(obdReportText(results, merged));
  }
  return 0;
}

const pctOf = (x: number | null, digits = 3): string => (x === null || !Number.isFinite(x) ? '-' : `${(100 * x).toFixed(digits)}%`);

function obdReportText(results: readonly ObdCampaignResult[], s: ObdOpeScenario): string {
  const out: string[] = [];
  out.push(
    `Open Bandit Dataset: Bernoulli TS with the production prior, estimated from the random log (${s.draws.toLocaleString('en-US')} Monte-Carlo rankings, ${s.resamples} bootstrap resamples, seed ${String(s.seed)})`,
  );
  for (const r of results) {
    out.push('');
    out.push(`campaign ${r.campaign}: ${r.items} items, ${r.positions} positions, max weight ${r.maxWeight.toFixed(2)}`);
    out.push(`  random log (logging policy)  CTR ${pctOf(r.random.value)} [${pctOf(r.random.lower)}, ${pctOf(r.random.upper)}]  ${r.random.clicks} clicks / ${r.random.n.toLocaleString('en-US')}`);
    out.push(`  bts log (the answer)         CTR ${pctOf(r.bts.value)} [${pctOf(r.bts.lower)}, ${pctOf(r.bts.upper)}]  ${r.bts.clicks} clicks / ${r.bts.n.toLocaleString('en-US')}`);
    if (r.published) out.push(`  published, full data: random ${pctOf(r.published.random, 2)}, Bernoulli TS ${pctOf(r.published.bts, 2)}`);
    const rows = r.rows.map((x) => [
      x.estimator,
      pctOf(x.value),
      `[${pctOf(x.lower)}, ${pctOf(x.upper)}]`,
      `${x.relativeError >= 0 ? '+' : ''}${(100 * x.relativeError).toFixed(1)}%`,
      x.covers === null ? '-' : x.covers ? 'yes' : 'no',
      x.aboveRandom ? 'yes' : 'no',
      fmtInt(x.ess),
    ]);
    out.push(
      table(
        ['  estimator', 'BTS CTR', `${Math.round(s.level * 100)}% CI`, 'vs bts log', 'covers', '> random', 'ESS'],
        rows.map((row) => [`  ${row[0]}`, ...row.slice(1)]),
        new Set([1, 3, 6]),
      ),
    );
  }
  out.push('');
  out.push('covers = the interval contains the bts log\'s CTR; > random = the estimate exceeds the random log\'s CTR.');
  out.push('DM intervals hold the reward model fixed, so they understate its uncertainty.');
  return out.join('\n');
}
