/**
 * `liubai evaluate` end to end: a SQLite database written by the engine against a simulated
 * population, then off-policy evaluation of (a) the logging config itself and (b) a candidate
 * with another exploration share, plus the validation errors and the OBD mode.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { evaluateCommand, type EvaluateIo } from '../../src/cli/evaluate.js';
import { createRng } from '../../src/core/rng.js';
import { obdOpeScenarioSchema } from '../../src/ope/obd.js';
import { Engine } from '../../src/engine/engine.js';
import { createBernoulli } from '../../src/simulation/environments/bernoulli.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';
import { logTraffic } from './cli-helpers.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'liubai-evaluate-'));
const db = join(dir, 'liubai.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The logging config: Thompson sampling made uniform-ish by a hot draw, a wide floor and a large share. */
const LOGGING = {
  policy: { kind: 'beta-bernoulli' },
  budget: { share: 0.3, floor: 0.1, temperature: 2, rule: 'uniform', perUser: null },
  slots: 3,
  seed: 11,
};

/**
 * 2 000 decisions of 3 slots over 8 arms, 50 users; clicks are reported at once (as the
 * simulation runner delivers zero-delay reactions) and silence resolves when the 30-minute
 * windows close. The whole run is one transaction (the engine's own transactions nest as
 * savepoints), so the file is written once.
 */
function buildDb(): void {
  const store = openSqliteStore(db, { synchronous: 'NORMAL' });
  const clock = { now: Date.UTC(2026, 0, 1) };
  let n = 0;
  const engine = new Engine({ store, clock: () => clock.now, newEventId: () => `ev-${++n}`, snapshotEvery: 500 });
  engine.putModel('shop', LOGGING);
  engine.putModel('empty', {});
  const env = createBernoulli({ probabilities: [0.05, 0.1, 0.3, 0.15, 0.2, 0.25, 0.1, 0.4], users: 50 });
  logTraffic(store, engine, 'shop', env, createRng('evaluate-cli'), 2000, clock);
  store.close();
}

function capture(): EvaluateIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, cwd: dir };
}

interface Row {
  scope: string;
  estimator: string;
  value: number;
  lower: number;
  upper: number;
  ess: number | null;
}
interface Json {
  decisions: { used: number; unexposed: number; unresolved: number };
  candidate: { changes: Record<string, { logging: unknown; candidate: unknown }> };
  onPolicy: Array<{ scope: string; value: number; lower: number; upper: number; standardError: number }>;
  rows: Row[];
}

async function evaluateJson(args: string[]): Promise<Json> {
  const io = capture();
  const code = await evaluateCommand([...args, '--json'], io);
  expect(io.err.join('\n')).toBe('');
  expect(code).toBe(0);
  return JSON.parse(io.out.join('\n')) as Json;
}

beforeAll(buildDb);

describe('liubai evaluate --db', () => {
  test('(a) the logging config itself: every weighted estimate’s interval covers the on-policy value', async () => {
    const report = await evaluateJson(['--db', db, '--model', 'shop', '--draws', '200', '--resamples', '400', '--seed', '3']);
    expect(report.decisions).toMatchObject({ used: 2000, unexposed: 0, unresolved: 0 });
    expect(report.candidate.changes).toEqual({});
    for (const scope of ['slate', 'top']) {
      const on = report.onPolicy.find((o) => o.scope === scope)!;
      expect(on.lower).toBeLessThan(on.value);
      expect(on.upper).toBeGreaterThan(on.value);
      for (const row of report.rows.filter((r) => r.scope === scope)) {
        if (row.estimator === 'dm') {
          // DM's interval holds the reward model fixed, so it is too narrow to be asked to cover;
          // its point must still sit within 3 standard errors of the observed mean.
          expect(Math.abs(row.value - on.value)).toBeLessThan(3 * on.standardError);
          continue;
        }
        expect(row.lower, `${scope} ${row.estimator}`).toBeLessThanOrEqual(on.value);
        expect(row.upper, `${scope} ${row.estimator}`).toBeGreaterThanOrEqual(on.value);
        // Target ≈ logging: the weights are close to 1, so nearly every round counts.
        expect(row.ess!).toBeGreaterThan(0.9 * 2000);
      }
    }
  });

  test('(b) a candidate with another budget.share: runs and reports, as JSON and as a table', async () => {
    const candidate = join(dir, 'more-serendipity.json');
    writeFileSync(candidate, JSON.stringify({ budget: { share: 0.7 } }));
    const report = await evaluateJson(['--db', db, '--model', 'shop', '--candidate', candidate, '--draws', '150', '--resamples', '200']);
    expect(report.candidate.changes).toEqual({ 'budget.share': { logging: 0.3, candidate: 0.7 } });
    expect(report.rows.map((r) => `${r.scope}:${r.estimator}`)).toEqual(
      ['slate', 'top'].flatMap((s) => ['ips', 'snips', 'dm', 'dr', 'sndr'].map((e) => `${s}:${e}`)),
    );
    for (const r of report.rows) {
      expect(Number.isFinite(r.value)).toBe(true);
      expect(r.lower).toBeLessThanOrEqual(r.upper);
    }

    const io = capture();
    const code = await evaluateCommand(['--db', db, '--model', 'shop', '--candidate', 'more-serendipity.json', '--estimators', 'ips,dr', '--draws', '100', '--resamples', '100'], io);
    expect(code).toBe(0);
    const text = io.out.join('\n');
    expect(text).toContain('budget.share 0.3 → 0.7');
    expect(text).toMatch(/^slate\s+logging \(on-policy\)\s+\d\.\d{4}\s+\[\d\.\d{4}, \d\.\d{4}\]/m);
    expect(text).toMatch(/^top\s+dr\s+\d\.\d{4}\s+\[\d\.\d{4}, \d\.\d{4}\]\s+[\d,]+$/m);
    expect(text).not.toMatch(/snips/);
  });

  test.each([
    ['an unknown model', ['--model', 'nope'], /no model "nope"/],
    ['a model without decisions', ['--model', 'empty'], /no decision/],
    ['a candidate config with a bad field', ['--model', 'shop', '--candidate', 'bad.json'], /budget\.share: Too big/],
    ['a candidate that is not JSON', ['--model', 'shop', '--candidate', 'broken.json'], /not valid JSON/],
    ['a missing candidate file', ['--model', 'shop', '--candidate', 'absent.json'], /cannot read/],
    ['no --model', [], /--model is required/],
    ['an unknown estimator', ['--model', 'shop', '--estimators', 'ips,magic'], /unknown magic/],
    ['a bad number', ['--model', 'shop', '--draws', '0'], /--draws must be an integer/],
    ['an unknown flag', ['--model', 'shop', '--frobnicate'], /unknown option --frobnicate/],
  ])('%s: exit code 2 and a clear message', async (_name, args, message) => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ budget: { share: 1.5 } }));
    writeFileSync(join(dir, 'broken.json'), '{ budget: ');
    const io = capture();
    expect(await evaluateCommand(['--db', db, ...args], io)).toBe(2);
    expect(io.err.join('\n')).toMatch(message);
    expect(io.out).toEqual([]);
  });

  test('a missing database file, no mode, two modes: exit code 2; --help: 0', async () => {
    for (const args of [['--db', join(dir, 'none.db'), '--model', 'shop'], [], ['--db', db, '--obd', 'men']]) {
      const io = capture();
      expect(await evaluateCommand(args, io)).toBe(2);
      expect(io.err.length).toBeGreaterThan(0);
    }
    const io = capture();
    expect(await evaluateCommand(['--help'], io)).toBe(0);
    expect(io.out.join('\n')).toContain('usage: liubai evaluate');
  });
});

const dataRoot = process.env.LIUBAI_DATA ?? join(REPO, '..', 'shared', 'data');
const obdPresent = existsSync(join(dataRoot, 'obd', 'random', 'men', 'men.csv'));
if (!obdPresent) console.warn(`OBD CLI tests skipped: no Open Bandit Dataset sample at ${join(dataRoot, 'obd')} (set LIUBAI_DATA)`);

describe.skipIf(!obdPresent)('liubai evaluate --obd / --scenario (Open Bandit Dataset)', () => {
  test('--obd men: BTS estimated from the random log, compared with the bts log (69 clicks)', async () => {
    const io = capture();
    const code = await evaluateCommand(['--obd', 'men', '--data', dataRoot, '--estimators', 'ips,snips', '--draws', '3000', '--resamples', '100', '--json'], io);
    expect(io.err).toEqual([]);
    expect(code).toBe(0);
    const report = JSON.parse(io.out.join('\n')) as {
      campaigns: Array<{ campaign: string; random: { clicks: number }; bts: { clicks: number }; rows: Array<{ estimator: string; value: number }> }>;
    };
    expect(report.campaigns.map((c) => [c.campaign, c.random.clicks, c.bts.clicks])).toEqual([['men', 46, 69]]);
    expect(report.campaigns[0]!.rows.map((r) => r.estimator)).toEqual(['ips', 'snips']);
    for (const r of report.campaigns[0]!.rows) expect(r.value).toBeGreaterThan(0);
  });

  test('simulations/obd-ope.json is a valid obd-ope scenario (men and women)', () => {
    const scenario = obdOpeScenarioSchema.parse(JSON.parse(readFileSync(join(REPO, 'simulations', 'obd-ope.json'), 'utf8')));
    expect(scenario.campaigns).toEqual(['men', 'women']);
  });

  test('--obd with a campaign the sample lacks, or a data folder without OBD: exit code 2', async () => {
    let io = capture();
    expect(await evaluateCommand(['--obd', 'all', '--data', dataRoot, '--draws', '10'], io)).toBe(2);
    expect(io.err.join('\n')).toMatch(/no "all" logs/);
    io = capture();
    expect(await evaluateCommand(['--obd', 'men', '--data', dir], io)).toBe(2);
    expect(io.err.join('\n')).toMatch(/no Open Bandit Dataset/);
  });
});
