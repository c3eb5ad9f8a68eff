/**
 * Simulation runs are exact functions of (scenario, seed): the same job gives the same bytes,
 * and a scenario's results.json is identical with 1 or 2 worker threads apart from the `run`
 * field (start time, elapsed time, speed). And the shipped silence scenario shows what its
 * description claims, with 95% paired CIs over its 10 seeds.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { simulateCommand } from '../../src/cli/simulate.js';
import { runJob, runScenario, scenarioJobs } from '../../src/simulation/parallel.js';
import { toJson } from '../../src/simulation/report/results.js';
import { loadScenario, withOverrides } from '../../src/simulation/scenario.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'liubai-simstat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quiet = { stdout: { write: () => true }, stderr: { write: () => true, isTTY: false } };

/** results.json of the single run under `<root>/<name>/`, without its `run` field. */
function resultsWithoutRun(root: string, name: string): string {
  const runs = readdirSync(join(root, name));
  expect(runs).toHaveLength(1);
  const parsed = JSON.parse(readFileSync(join(root, name, runs[0]!, 'results.json'), 'utf8')) as Record<string, unknown>;
  expect(parsed.run).toBeDefined();
  delete parsed.run;
  return JSON.stringify(parsed);
}

describe('reproducibility', () => {
  test('a run is bit-for-bit reproducible for a seed (totals, series, posterior means) and differs across seeds', () => {
    const scenario = withOverrides(loadScenario(join(ROOT, 'simulations/irrational.json')), { seeds: 2, horizon: 600 });
    const [a, b] = scenarioJobs(scenario) as [ReturnType<typeof scenarioJobs>[number], ReturnType<typeof scenarioJobs>[number]];
    const first = toJson(runJob(a));
    const again = toJson(runJob(a));
    expect(again).toBe(first);
    expect(toJson(runJob(b))).not.toBe(first);
  });

  test('results.json is identical with 1 and 2 workers, apart from the run timing', async () => {
    const scenario = join(ROOT, 'simulations/silence.json');
    const args = ['--seeds', '4', '--horizon', '800', '--quiet'];
    const one = join(dir, 'one');
    const two = join(dir, 'two');
    expect(await simulateCommand([scenario, ...args, '--workers', '1', '--out', one], quiet)).toBe(0);
    expect(await simulateCommand([scenario, ...args, '--workers', '2', '--out', two], quiet)).toBe(0);
    const a = resultsWithoutRun(one, 'silence');
    const b = resultsWithoutRun(two, 'silence');
    expect(a.length).toBeGreaterThan(10_000);
    expect(b).toBe(a);
  });
});

describe('the shipped silence scenario (10 seeds × 3,000 decisions, 2 workers)', () => {
  test('the default engine earns more than clicks-only and than no-fatigue (paired 95% CIs above 0)', async () => {
    const scenario = loadScenario(join(ROOT, 'simulations/silence.json'));
    const results = await runScenario(scenario, { workers: 2, liubaiVersion: 'test' });
    const [def, clicksOnly, noFatigue] = results.policies;
    const fmt = (c: { mean: number; lower: number; upper: number }) => `${c.mean.toFixed(1)} [${c.lower.toFixed(1)}, ${c.upper.toFixed(1)}]`;
    console.log(
      `silence: reward default ${fmt(def!.summary.reward)}, clicks-only ${fmt(clicksOnly!.summary.reward)}, no-fatigue ${fmt(noFatigue!.summary.reward)}; ` +
        `clicks-only − default ${fmt(clicksOnly!.versusFirst!.reward)}, no-fatigue − default ${fmt(noFatigue!.versusFirst!.reward)}; ` +
        `${results.run.decisionsPerSecond} decisions/s`,
    );
    expect(clicksOnly!.name).toBe('clicks-only');
    expect(clicksOnly!.versusFirst!.reward.upper).toBeLessThan(0);
    expect(noFatigue!.versusFirst!.reward.upper).toBeLessThan(0);
    // Regret is the exact counterpart: both alternatives lose more expected reward.
    expect(clicksOnly!.versusFirst!.regret.lower).toBeGreaterThan(0);
    expect(noFatigue!.versusFirst!.regret.lower).toBeGreaterThan(0);
  });
});
