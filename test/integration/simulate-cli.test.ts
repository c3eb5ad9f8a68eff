/**
 * `liubai simulate` end to end: the smoke scenario through the real command in a child process
 * (2 worker threads) into a temp dir — results.json with per-policy means and CIs and series of
 * the expected lengths, report.html with its charts — plus the usage errors, and `liubai sweep`
 * through its command function.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { simulateCommand } from '../../src/cli/simulate.js';
import { sweepCommand } from '../../src/cli/sweep.js';
import type { SimulationResults } from '../../src/simulation/report/results.js';
import type { SweepResults } from '../../src/simulation/sweep.js';
import { captureIo, runDir } from './cli-helpers.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/liubai.mjs');
const SMOKE = join(ROOT, 'simulations/smoke.json');
const dir = mkdtempSync(join(tmpdir(), 'liubai-simulate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('liubai simulate (child process)', () => {
  test('smoke.json → results.json with per-policy means, CIs and series; report.html with the charts', () => {
    const out = join(dir, 'e2e');
    const child = spawnSync(process.execPath, [BIN, 'simulate', SMOKE, '--out', out, '--workers', '2'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(child.status, child.stderr).toBe(0);
    // Not a TTY: plain progress lines, ending with every run done.
    expect(child.stderr).toMatch(/smoke: runs 6\/6 100% · [\d,]+ decisions\/s · done in/);
    expect(child.stderr).not.toContain('\r');
    expect(child.stdout).toMatch(/^policy\s+reward/);
    expect(child.stdout).toContain('no-budget');

    const run = runDir(out, 'smoke');
    expect(run.split('/').pop()).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/);
    const results = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8')) as SimulationResults;
    expect(results.scenario.name).toBe('smoke');
    expect(results.seeds).toEqual([1, 2, 3]);
    expect(results.tfBackend).toBeNull();
    expect(typeof results.liubaiVersion).toBe('string');
    expect(results.run.workers).toBe(2);
    expect(results.policies.map((p) => p.name)).toEqual(['budget', 'no-budget']);
    for (const p of results.policies) {
      for (const m of ['reward', 'regret', 'clickThrough', 'exploredShare', 'topGroupShare', 'groupGini', 'ignoredShare'] as const) {
        const ci = p.summary[m];
        expect(ci.n).toBe(3);
        expect(ci.lower).toBeLessThanOrEqual(ci.mean);
        expect(ci.upper).toBeGreaterThanOrEqual(ci.mean);
      }
      expect(p.perSeed).toHaveLength(3);
      expect(p.series.step).toHaveLength(10); // points: 10
      expect(p.series.cumulativeReward.mean).toHaveLength(10);
      expect(p.series.cumulativeRegret.upper).toHaveLength(10);
      expect(p.series.exploredShare.lower).toHaveLength(10);
      for (const arr of Object.values(p.series.groupShares)) expect(arr).toHaveLength(10);
      expect(Object.keys(p.series.topItemMeans).length).toBeGreaterThanOrEqual(3);
      for (const s of p.perSeed) expect(s.series.cumulativeReward[9]).toBe(s.totals.reward);
    }
    expect(results.policies[1]!.versusFirst!.reward.n).toBe(3);

    const html = readFileSync(join(run, 'report.html'), 'utf8');
    expect(html.split('<svg').length - 1).toBe(8);
    for (const text of ['Cumulative reward', 'Cumulative regret', 'Explored share', 'Group shares — budget', 'Posterior means of the top items — no-budget']) {
      expect(html).toContain(text);
    }
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(/https?:\/\//);
  });
});

describe('simulateCommand usage errors (exit code 2, nothing written)', () => {
  test('an invalid scenario names the field', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ policies: [{ name: 'a' }, { name: 'b', config: { budget: { share: 1.5 } } }] }));
    const io = captureIo();
    expect(await simulateCommand([bad, '--out', join(dir, 'never')], io)).toBe(2);
    expect(io.err()).toContain('policies.1.config.budget.share');
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  test.each([
    [['--workers', '0', SMOKE], /--workers must be a positive integer/],
    [['--seeds', 'x', SMOKE], /--seeds must be a positive integer/],
    [[], /expected one scenario file/],
    [['--bogus', SMOKE], /Unknown option '--bogus'/],
    [[join(dir, 'missing.json')], /cannot read/],
  ])('%j', async (argv, message) => {
    const io = captureIo();
    expect(await simulateCommand(argv, io)).toBe(2);
    expect(io.err()).toMatch(message);
  });

  test('--help prints the usage and exits 0', async () => {
    const io = captureIo();
    expect(await simulateCommand(['--help'], io)).toBe(0);
    expect(io.out()).toContain('usage: liubai simulate');
  });
});

describe('sweepCommand', () => {
  test('a 2 × 2 grid writes sweep.json and sweep.html and prints the table and the verdict', async () => {
    const out = join(dir, 'sweep');
    const io = captureIo();
    const code = await sweepCommand(
      [SMOKE, '--grid', 'budget.share=0,0.3', '--grid', 'budget.temperature=0.5,1', '--horizon', '40', '--seeds', '2', '--workers', '1', '--out', out, '--quiet'],
      io,
    );
    expect(code, io.err()).toBe(0);
    expect(io.out()).toMatch(/budget\.share\s+budget\.temperature\s+reward\s+vs best\s+P\(best\)/);
    expect(io.out()).toContain('← best');
    expect(io.out()).toMatch(/P\(best\) = [<> ]*\d+% \(2000 bootstrap resamples of the seeds\)/);
    const run = runDir(out, 'smoke-sweep');
    const sweep = JSON.parse(readFileSync(join(run, 'sweep.json'), 'utf8')) as SweepResults;
    expect(sweep.policy).toBe('budget');
    expect(sweep.settings.map((s) => s.label)).toEqual([
      'budget.share=0 budget.temperature=0.5',
      'budget.share=0 budget.temperature=1',
      'budget.share=0.3 budget.temperature=0.5',
      'budget.share=0.3 budget.temperature=1',
    ]);
    expect(sweep.settings[2]!.config).toMatchObject({ budget: { share: 0.3, temperature: 0.5, maxGroupShare: 0.5 } });
    expect(sweep.seeds).toEqual([1, 2]);
    const html = readFileSync(join(run, 'sweep.html'), 'utf8');
    expect(html).toContain('Mean reward by budget.share × budget.temperature');
  });

  test('an invalid grid value names the setting and the field; a missing --grid is a usage error', async () => {
    const io = captureIo();
    expect(await sweepCommand([SMOKE, '--grid', 'budget.share=0,3', '--out', join(dir, 'never')], io)).toBe(2);
    expect(io.err()).toContain('budget.share=3: budget.share');
    const io2 = captureIo();
    expect(await sweepCommand([SMOKE], io2)).toBe(2);
    expect(io2.err()).toContain('--grid');
    const io3 = captureIo();
    expect(await sweepCommand([SMOKE, '--grid', 'budget.share=0', '--policy', 'nope'], io3)).toBe(2);
    expect(io3.err()).toContain('no policy "nope"');
  });

  test('--ope hands over to the OPE sweep (exit 2 with a message when it cannot run)', async () => {
    const io = captureIo();
    expect(await sweepCommand([SMOKE, '--grid', 'budget.share=0', '--ope', join(dir, 'missing.db'), '--model', 'm', '--quiet'], io)).toBe(2);
    expect(io.err()).toMatch(/--ope: (not available yet|.*missing\.db)/);
  });
});
