/**
 * Audit of the researcher workflow (`liubai simulate`, `liubai sweep`, `liubai evaluate`): probes
 * that complement simulate-cli.test.ts and evaluate-cli.test.ts. Reproducibility across worker
 * counts, the statistics of results.json / sweep.json recomputed from their own per-seed data,
 * the sweep grid's cells against plain simulation runs, CLI validation (exit code 2), OPE
 * interval nesting and text/JSON agreement, and the OBD data folder (present or absent).
 * Four regression tests pin bugs the audit found (fixed).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { evaluateCommand, type EvaluateIo } from '../../src/cli/evaluate.js';
import { simulateCommand, summaryText } from '../../src/cli/simulate.js';
import { sweepCommand } from '../../src/cli/sweep.js';
import { createRng } from '../../src/core/rng.js';
import { meanCi, tQuantile975 } from '../../src/core/stats.js';
import { Engine } from '../../src/engine/engine.js';
import { createBernoulli } from '../../src/simulation/environments/bernoulli.js';
import type { SimulationResults } from '../../src/simulation/report/results.js';
import { gini, runSimulation } from '../../src/simulation/runner.js';
import { environmentForSeed, parseScenario } from '../../src/simulation/scenario.js';
import { analyzeSweep, type SweepResults } from '../../src/simulation/sweep.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';
import { captureIo, logTraffic, runDir } from './cli-helpers.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SMOKE = join(REPO, 'simulations/smoke.json');
const dir = mkdtempSync(join(tmpdir(), 'liubai-audit-research-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withoutRun<T extends { run: unknown }>(r: T): Omit<T, 'run'> {
  const { run: _run, ...rest } = r;
  return rest;
}

describe('liubai simulate: reproducibility and the statistics of results.json', () => {
  let one: SimulationResults;
  let three: SimulationResults;
  let printedOne = '';
  let printedThree = '';

  beforeAll(async () => {
    for (const workers of ['1', '3']) {
      const io = captureIo();
      const out = join(dir, `sim-w${workers}`);
      const code = await simulateCommand([SMOKE, '--out', out, '--workers', workers, '--horizon', '30', '--quiet'], io);
      expect(code, io.err()).toBe(0);
      const results = JSON.parse(readFileSync(join(runDir(out, 'smoke'), 'results.json'), 'utf8')) as SimulationResults;
      if (workers === '1') {
        one = results;
        printedOne = io.out();
      } else {
        three = results;
        printedThree = io.out();
      }
    }
  }, 30_000);

  test('--workers 1 and --workers 3 give the same results.json apart from `run`, and the same table', () => {
    expect(one.run.workers).toBe(1);
    expect(three.run.workers).toBe(3);
    expect(one.run.decisions).toBe(2 * 3 * 30);
    expect(withoutRun(three)).toEqual(withoutRun(one));
    const table = (s: string) => s.slice(0, s.indexOf('\n\n'));
    expect(table(printedThree)).toBe(table(printedOne));
  });

  test('the printed table is the summary of results.json (report and table agree)', () => {
    expect(printedOne.startsWith(summaryText(one))).toBe(true);
  });

  test('summary CIs: Student t with n − 1 = 2 df over seeds; versusFirst is paired by seed', () => {
    const t2 = tQuantile975(2);
    expect(t2).toBe(4.303);
    for (const p of one.policies) {
      const xs = p.perSeed.map((s) => s.totals.reward);
      const m = (xs[0]! + xs[1]! + xs[2]!) / 3;
      const sd = Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / 2);
      expect(p.summary.reward.mean).toBeCloseTo(m, 12);
      expect(p.summary.reward.halfWidth).toBeCloseTo((t2 * sd) / Math.sqrt(3), 12);
      expect(p.summary.reward.lower).toBeLessThanOrEqual(p.summary.reward.mean);
    }
    const [a, b] = one.policies;
    const diffs = b!.perSeed.map((s, j) => s.totals.regret - a!.perSeed[j]!.totals.regret);
    expect(b!.versusFirst!.regret).toEqual(meanCi(diffs));
    // Seeds are paired in order: each perSeed entry names its seed.
    expect(a!.perSeed.map((s) => s.seed)).toEqual([1, 2, 3]);
    expect(b!.perSeed.map((s) => s.seed)).toEqual([1, 2, 3]);
    // The last series point is the run's total.
    for (const p of one.policies) for (const s of p.perSeed) expect(s.series.cumulativeRegret.at(-1)).toBe(s.totals.regret);
  });

  test('a grid cell equal to a scenario policy reproduces that policy’s runs seed by seed (no cells or seeds shuffled)', async () => {
    const io = captureIo();
    const out = join(dir, 'sweep-cells');
    const code = await sweepCommand(
      [SMOKE, '--grid', 'budget.share=0,0.2', '--grid', 'budget.temperature=1,2', '--horizon', '30', '--workers', '2', '--out', out, '--quiet'],
      io,
    );
    expect(code, io.err()).toBe(0);
    const sweep = JSON.parse(readFileSync(join(runDir(out, 'smoke-sweep'), 'sweep.json'), 'utf8')) as SweepResults;
    expect(sweep.settings.map((s) => s.label)).toEqual([
      'budget.share=0 budget.temperature=1',
      'budget.share=0 budget.temperature=2',
      'budget.share=0.2 budget.temperature=1',
      'budget.share=0.2 budget.temperature=2',
    ]);
    // budget.share=0.2, temperature=1 (the default) is the smoke "budget" policy itself.
    const cell = sweep.settings[2]!;
    expect(cell.perSeed.map((s) => s.seed)).toEqual([1, 2, 3]);
    expect(cell.perSeed.map((s) => s.totals)).toEqual(one.policies[0]!.perSeed.map((s) => s.totals));
    // Statistics recomputed from sweep.json's own per-seed totals.
    for (const s of sweep.settings) expect(s.summary.reward).toEqual(meanCi(s.perSeed.map((p) => p.totals.reward)));
    const best = sweep.settings[sweep.best.index]!;
    for (const s of sweep.settings) {
      if (s === best) expect(s.versusBest).toBeNull();
      else expect(s.versusBest).toEqual(meanCi(s.perSeed.map((p, j) => p.totals.reward - best.perSeed[j]!.totals.reward)));
      expect(best.summary.reward.mean).toBeGreaterThanOrEqual(s.summary.reward.mean);
    }
    expect(sweep.settings.reduce((t, s) => t + s.probabilityBest, 0)).toBeCloseTo(1, 12);
    // The printed table shows the same numbers, best marked once.
    expect(io.out().split('← best')).toHaveLength(2);
  }, 30_000);
});

describe('liubai sweep: grid and option validation', () => {
  // Regression (fixed): `metric in SWEEP_METRICS` was true for inherited keys, so `--metric
  // toString` ran and crashed while writing the report, leaving a half-written run directory.
  test.each([['toString'], ['constructor']])('--metric %s: exit code 2, nothing written', async (metric) => {
    const io = captureIo();
    const out = join(dir, `metric-${metric}`);
    const code = await sweepCommand([SMOKE, '--grid', 'budget.share=0,0.3', '--metric', metric, '--horizon', '10', '--seeds', '2', '--workers', '1', '--out', out, '--quiet'], io);
    expect(code).toBe(2);
    expect(io.err()).toContain('--metric must be one of');
    expect(existsSync(out)).toBe(false);
  });

  // Regression (fixed): repeated values of one axis (`0.1,0.10` parse to the same number) became
  // duplicate cells running the same config twice, with P(best) 100 % and 0 % for identical data.
  test('repeated grid values: exit code 2 naming the duplicate, not duplicate cells', async () => {
    const io = captureIo();
    const out = join(dir, 'dup');
    const code = await sweepCommand([SMOKE, '--grid', 'budget.share=0.1,0.10', '--horizon', '10', '--seeds', '2', '--workers', '1', '--out', out, '--quiet'], io);
    expect(code).toBe(2);
    expect(io.err()).toMatch(/budget\.share.*(twice|duplicate|repeated)/);
    expect(existsSync(out)).toBe(false);
  });

  // Regression (fixed): each bootstrap resample gave a tie to the setting listed first, so P(best)
  // leaned toward it (ties are common with integer click totals and few seeds). Now split.
  test('P(best) of two identical settings is 1/2 each (exchangeability)', () => {
    const a = analyzeSweep([[3, 5, 4], [3, 5, 4]], 'higher', createRng('audit'), 200);
    expect(a.probabilityBest).toEqual([0.5, 0.5]);
  });

  test('a missing --model with --ope, an unknown flag, a bad --workers: exit code 2 before running', async () => {
    for (const [args, message] of [
      [['--grid', 'budget.share=0', '--ope', join(dir, 'x.db')], /--ope needs --model/],
      [['--grid', 'budget.share=0', '--worker', '2'], /Unknown option '--worker'/],
      [['--grid', 'budget.share=0', '--workers', '1.5'], /--workers must be a positive integer/],
      [['--grid', 'budget.share=0', '--horizon', '0'], /--horizon must be a positive integer/],
      [['--grid', 'budget'], /expected path=value1/],
      [['--grid', 'budget..share=1'], /empty segment/],
    ] as const) {
      const io = captureIo();
      expect(await sweepCommand([SMOKE, ...args, '--out', join(dir, 'never'), '--quiet'], io), args.join(' ')).toBe(2);
      expect(io.err()).toMatch(message);
    }
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});

describe('simulation metrics', () => {
  // Regression (fixed): groupGini was computed over the groups that were shown only, so showing 1
  // of 6 groups scored 0 ("even"). Every group of the environment now counts, with share 0 when
  // never shown: 5/6 there.
  test('groupGini counts the groups that were never shown (share 0)', () => {
    const scenario = parseScenario({ environment: { kind: 'irrational', users: 5, groupCount: 6, itemsPerGroup: 2 } });
    const counts = new Map<string, number>();
    let env: ReturnType<typeof environmentForSeed> | undefined;
    const result = runSimulation(
      (seed) => (env = environmentForSeed(scenario.environment, seed)),
      { policy: { kind: 'beta-bernoulli' } },
      {
        horizon: 2,
        slots: 1,
        stepMs: 60_000,
        seed: 1,
        topItems: 0,
        onDecision: ({ slate }) => {
          for (const s of slate) counts.set(env!.groups.get(s.id)!, (counts.get(env!.groups.get(s.id)!) ?? 0) + 1);
        },
      },
    );
    const allGroups = [...new Set(env!.groups.values())];
    expect(allGroups).toHaveLength(6);
    expect(counts.size).toBeLessThanOrEqual(2);
    const expected = gini(allGroups.map((g) => (counts.get(g) ?? 0) / 2));
    expect(expected).toBeGreaterThanOrEqual(2 / 3 - 1e-12);
    expect(result.totals.groupGini).toBeCloseTo(expected, 12);
  });
});

// ───────────────────────────── liubai evaluate ─────────────────────────────

const db = join(dir, 'audit.db');

/** 400 decisions of 2 slots over 5 Bernoulli arms, clicks delivered at once, every window closed. */
function buildDb(): void {
  const store = openSqliteStore(db, { synchronous: 'NORMAL' });
  const clock = { now: Date.UTC(2026, 0, 1) };
  let n = 0;
  const engine = new Engine({ store, clock: () => clock.now, newEventId: () => `ev-${++n}`, snapshotEvery: 0 });
  engine.putModel('m', { policy: { kind: 'beta-bernoulli' }, budget: { share: 0.3, floor: 0.1, temperature: 2, rule: 'uniform', perUser: null }, slots: 2, seed: 5 });
  const env = createBernoulli({ probabilities: [0.1, 0.3, 0.2, 0.4, 0.05], users: 20 });
  logTraffic(store, engine, 'm', env, createRng('audit-research'), 400, clock);
  store.close();
}

function evalIo(env: Record<string, string | undefined> = {}): EvaluateIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env, cwd: dir };
}

interface Row {
  scope: string;
  estimator: string;
  value: number;
  lower: number;
  upper: number;
}

async function evalJson(args: string[]): Promise<{ rows: Row[]; onPolicy: Row[]; decisions: { used: number } }> {
  const io = evalIo();
  const code = await evaluateCommand(['--db', db, '--model', 'm', ...args, '--json'], io);
  expect(io.err).toEqual([]);
  expect(code).toBe(0);
  return JSON.parse(io.out.join('\n')) as { rows: Row[]; onPolicy: Row[]; decisions: { used: number } };
}

describe('liubai evaluate --db (audit)', () => {
  beforeAll(buildDb);
  const common = ['--estimators', 'ips,snips', '--draws', '40', '--resamples', '200', '--seed', '9'];

  test('same seed → identical JSON; a lower --level gives a nested interval from the same replicates', async () => {
    const a = await evalJson([...common, '--level', '0.95']);
    const b = await evalJson([...common, '--level', '0.95']);
    expect(b).toEqual(a);
    const c = await evalJson([...common, '--level', '0.5']);
    expect(a.decisions.used).toBe(400);
    for (const [i, wide] of [...a.rows, ...a.onPolicy].entries()) {
      const narrow = [...c.rows, ...c.onPolicy][i]!;
      expect(narrow.value).toBe(wide.value);
      expect(narrow.lower).toBeGreaterThanOrEqual(wide.lower);
      expect(narrow.upper).toBeLessThanOrEqual(wide.upper);
      expect(narrow.lower).toBeLessThanOrEqual(narrow.upper);
    }
  });

  test('the text table shows the JSON numbers (4 decimals)', async () => {
    const json = await evalJson(common);
    const io = evalIo();
    expect(await evaluateCommand(['--db', db, '--model', 'm', ...common], io)).toBe(0);
    const text = io.out.join('\n');
    for (const r of json.rows) {
      expect(text).toContain(`${r.value.toFixed(4)}  [${r.lower.toFixed(4)}, ${r.upper.toFixed(4)}]`);
    }
    for (const o of json.onPolicy) expect(text).toContain(`logging (on-policy)  ${o.value.toFixed(4)}  [${o.lower.toFixed(4)}, ${o.upper.toFixed(4)}]`);
  });

  test.each([
    [['--level', '1'], /--level must be a number in \(0, 1\)/],
    [['--level', '0'], /--level must be a number in \(0, 1\)/],
    [['--clip', '0'], /--clip must be a number > 0/],
    [['--resamples', '1'], /--resamples must be an integer/],
    [['--draws', '2.5'], /--draws must be an integer/],
    [['--data', dir], /--data does not apply to --db/],
    [['--seed'], /--seed needs a value/],
  ])('%j: exit code 2, nothing on stdout', async (args, message) => {
    const io = evalIo();
    expect(await evaluateCommand(['--db', db, '--model', 'm', ...args], io)).toBe(2);
    expect(io.err.join('\n')).toMatch(message);
    expect(io.out).toEqual([]);
  });

  test('a file that is not a liubai database: exit code 2 with a message', async () => {
    const io = evalIo();
    expect(await evaluateCommand(['--db', SMOKE, '--model', 'm'], io)).toBe(2);
    expect(io.err.join('\n')).toMatch(/smoke\.json/);
  });
});

const dataRoot = process.env.LIUBAI_DATA ?? join(REPO, '..', 'shared', 'data');
const obdPresent = existsSync(join(dataRoot, 'obd', 'random', 'women', 'women.csv'));
if (!obdPresent) console.warn(`OBD audit tests skipped: no Open Bandit Dataset sample at ${join(dataRoot, 'obd')} (set LIUBAI_DATA)`);

describe('liubai evaluate --obd: the data folder', () => {
  test('LIUBAI_DATA pointing at a folder without obd/: exit code 2 naming the folder', async () => {
    const io = evalIo({ LIUBAI_DATA: dir });
    expect(await evaluateCommand(['--obd', 'women'], io)).toBe(2);
    expect(io.err.join('\n')).toContain(`no Open Bandit Dataset at ${join(dir, 'obd')}`);
    expect(io.out).toEqual([]);
  });

  test.skipIf(!obdPresent)('--obd women: counts as in SOURCES.md (46 items, 3 positions, 46 clicks in each log of 10,000)', async () => {
    const io = evalIo({ LIUBAI_DATA: dataRoot });
    const code = await evaluateCommand(['--obd', 'women', '--estimators', 'ips', '--draws', '2000', '--resamples', '50', '--json'], io);
    expect(io.err).toEqual([]);
    expect(code).toBe(0);
    const report = JSON.parse(io.out.join('\n')) as {
      campaigns: Array<{ campaign: string; items: number; positions: number; random: { clicks: number; n: number; value: number }; bts: { clicks: number; n: number; value: number } }>;
    };
    const c = report.campaigns[0]!;
    expect([c.campaign, c.items, c.positions]).toEqual(['women', 46, 3]);
    expect([c.random.clicks, c.random.n, c.bts.clicks, c.bts.n]).toEqual([46, 10_000, 46, 10_000]);
    expect(c.random.value).toBeCloseTo(0.0046, 12);
    expect(c.bts.value).toBeCloseTo(0.0046, 12);
  });
});
