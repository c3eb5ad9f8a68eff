/**
 * Scenario files: every shipped scenario parses; defaults; every invalid field is reported with
 * its dotted path; seeds, overrides and per-seed environments; grid parsing for sweeps.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import {
  environmentForSeed,
  loadScenario,
  METRICS,
  parseScenario,
  resolveSeeds,
  ScenarioError,
  withOverrides,
} from '../../../src/simulation/scenario.js';
import {
  analyzeSweep,
  gridSettings,
  parseGridSpec,
  setPath,
  SweepError,
  sweepConfigs,
} from '../../../src/simulation/sweep.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const SIMULATIONS = join(ROOT, 'simulations');
const dir = mkdtempSync(join(tmpdir(), 'liubai-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The issues of an invalid scenario (fails the test when it parses). */
function issuesOf(input: unknown): Array<{ path: string; message: string }> {
  try {
    parseScenario(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return [...(error as ScenarioError).issues];
  }
  throw new Error(`expected ${JSON.stringify(input)} to be invalid`);
}

describe('shipped scenarios', () => {
  // obd-ope.json belongs to the OPE half and is not a simulation scenario.
  const files = readdirSync(SIMULATIONS).filter((f) => f.endsWith('.json') && f !== 'obd-ope.json');

  test('the required scenarios are shipped', () => {
    for (const name of ['silence', 'irrational', 'drifting-people', 'position-bias', 'smoke']) expect(files).toContain(`${name}.json`);
  });

  test.each(files)('%s parses, its name matches the file, and each policy config is valid', (file) => {
    const s = loadScenario(join(SIMULATIONS, file));
    expect(s.name).toBe(file.replace(/\.json$/, ''));
    expect(s.policies.length).toBeGreaterThanOrEqual(file === 'smoke.json' ? 2 : 2);
    // Modest defaults: at most ~300k decisions per scenario (each runs in < 2 min on 2 cores).
    expect(s.horizon * resolveSeeds(s.seeds).length * s.policies.length).toBeLessThanOrEqual(300_000);
  });

  test('silence compares the default engine with clicks-only and no-fatigue', () => {
    const s = loadScenario(join(SIMULATIONS, 'silence.json'));
    expect(s.environment.kind).toBe('fatigue');
    const byName = Object.fromEntries(s.policies.map((p) => [p.name, p.config]));
    expect(byName['clicks-only']).toMatchObject({ feedback: { learnSilence: false }, fatigue: { enabled: false } });
    expect(byName['no-fatigue']).toMatchObject({ fatigue: { enabled: false } });
  });
});

describe('parseScenario', () => {
  test('an empty object is a complete scenario (every field has a default)', () => {
    const s = parseScenario({});
    expect(s).toMatchObject({ name: 'scenario', seeds: { count: 10, start: 1 }, horizon: 2000, slots: 3, stepMs: 60_000, points: 100, topItems: 5 });
    expect(s.environment.kind).toBe('bernoulli');
    expect(s.policies).toEqual([{ name: 'default', config: {} }]);
    expect(s.metrics).toEqual([...METRICS]);
  });

  test('a policy config is kept as written (not filled with defaults)', () => {
    const s = parseScenario({ policies: [{ name: 'a', config: { budget: { share: 0.1 } } }] });
    expect(s.policies[0]!.config).toEqual({ budget: { share: 0.1 } });
  });

  test.each([
    ['a policy config field', { policies: [{ name: 'a' }, { name: 'b', config: { budget: { share: 2 } } }] }, 'policies.1.config.budget.share', /<=1/],
    ['an unknown policy kind', { policies: [{ name: 'a', config: { policy: { kind: 'nope' } } }] }, 'policies.0.config.policy.kind', /discriminator/],
    ['an unknown field inside a policy config', { policies: [{ name: 'a', config: { budgett: {} } }] }, 'policies.0.config', /budgett/],
    ['a config that is not an object', { policies: [{ name: 'a', config: 3 }] }, 'policies.0.config', /object/],
    ['a duplicate policy name', { policies: [{ name: 'a' }, { name: 'a' }] }, 'policies.1.name', /duplicate/],
    ['a policy name with a slash', { policies: [{ name: 'a/b' }] }, 'policies.0.name', /letters/],
    ['no policies', { policies: [] }, 'policies', /1/],
    ['an unknown top-level field', { horizn: 10 }, '', /horizn/],
    ['a zero horizon', { horizon: 0 }, 'horizon', />=1/],
    ['a fractional slot count', { slots: 1.5 }, 'slots', /int/],
    ['repeated seeds', { seeds: [1, 1] }, 'seeds', /distinct/],
    ['a zero seed count', { seeds: { count: 0 } }, 'seeds.count', />=1/],
    ['seeds of the wrong type', { seeds: 'many' }, 'seeds', /count/],
    ['an unknown environment kind', { environment: { kind: 'nope' } }, 'environment.kind', /discriminator/],
    ['an environment parameter', { environment: { kind: 'fatigue', users: 0 } }, 'environment.users', />=1/],
    ['an unknown metric', { metrics: ['ctr'] }, 'metrics.0', /reward/],
  ])('reports %s with its field path', (_label, input, path, message) => {
    const issues = issuesOf(input);
    const hit = issues.find((i) => i.path === path);
    expect(hit, JSON.stringify(issues)).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  test('the error message lists every issue on its own line', () => {
    try {
      parseScenario({ horizon: 0, slots: 0 }, 'x.json');
      throw new Error('expected an error');
    } catch (error) {
      expect((error as Error).message).toMatch(/^invalid scenario x\.json:\n {2}horizon: .*\n {2}slots: /);
    }
  });
});

describe('loadScenario', () => {
  test('a scenario without a name takes the file name', () => {
    const p = join(dir, 'my-test.json');
    writeFileSync(p, JSON.stringify({ horizon: 10 }));
    expect(loadScenario(p).name).toBe('my-test');
  });

  test('invalid JSON is a ScenarioError naming the file', () => {
    const p = join(dir, 'broken.json');
    writeFileSync(p, '{ "horizon": 10, }');
    expect(() => loadScenario(p)).toThrow(ScenarioError);
    expect(() => loadScenario(p)).toThrow(/broken\.json.*\n.*not valid JSON/);
  });
});

describe('seeds and overrides', () => {
  test('resolveSeeds: a list as given, a count from start', () => {
    expect(resolveSeeds([5, 2, 9])).toEqual([5, 2, 9]);
    expect(resolveSeeds({ count: 3, start: 7 })).toEqual([7, 8, 9]);
  });

  test('--seeds runs n consecutive seeds from the first; --horizon replaces the horizon', () => {
    const s = parseScenario({ seeds: [4, 9], horizon: 100 });
    const o = withOverrides(s, { seeds: 3, horizon: 20 });
    expect(resolveSeeds(o.seeds)).toEqual([4, 5, 6]);
    expect(o.horizon).toBe(20);
    expect(() => withOverrides(s, { horizon: 0 })).toThrow(ScenarioError);
  });

  test('the environment of a seed is the same for every policy and differs between seeds', () => {
    const config = parseScenario({ environment: { kind: 'bernoulli', arms: 6 } }).environment;
    const rewards = (seed: number) => {
      const env = environmentForSeed(config, seed);
      const arrival = env.arrive(0, createRng('probe'));
      return arrival.candidates.map((c) => env.expectedReward(arrival, c.id, 1));
    };
    expect(rewards(1)).toEqual(rewards(1));
    expect(rewards(1)).not.toEqual(rewards(2));
  });
});

describe('sweep grids', () => {
  test('parseGridSpec: numbers, booleans, strings and JSON arrays', () => {
    expect(parseGridSpec('budget.share=0,0.02,0.1')).toEqual({ key: 'budget.share', path: ['budget', 'share'], values: [0, 0.02, 0.1] });
    expect(parseGridSpec('budget.rule=uniform,uncertain').values).toEqual(['uniform', 'uncertain']);
    expect(parseGridSpec('fatigue.enabled=true,false').values).toEqual([true, false]);
    expect(parseGridSpec('feedback.examination=[1],[1,0.6,0.4]').values).toEqual([[1], [1, 0.6, 0.4]]);
    expect(() => parseGridSpec('budget.share')).toThrow(SweepError);
    expect(() => parseGridSpec('budget..share=1')).toThrow(/empty segment/);
  });

  test('gridSettings is the Cartesian product, first axis slowest', () => {
    const axes = [parseGridSpec('a=1,2'), parseGridSpec('b=x,y,z')];
    expect(gridSettings(axes)).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' },
    ]);
    expect(() => gridSettings([parseGridSpec('a=1'), parseGridSpec('a=2')])).toThrow(/twice/);
  });

  test('setPath sets a dotted path on a copy, creating objects as needed', () => {
    const base = { budget: { share: 0.1, rule: 'uniform' as const } };
    const out = setPath(base, ['budget', 'temperature'], 2);
    expect(out).toEqual({ budget: { share: 0.1, rule: 'uniform', temperature: 2 } });
    expect(base).toEqual({ budget: { share: 0.1, rule: 'uniform' } });
    expect(setPath({}, ['decay', 'halfLifeOutcomes'], 300)).toEqual({ decay: { halfLifeOutcomes: 300 } });
  });

  test('an invalid grid value is reported with the setting and the config field', () => {
    expect(() => sweepConfigs({}, [parseGridSpec('budget.share=0.1,2')])).toThrow(/budget\.share=2: budget\.share: Too big/);
    expect(sweepConfigs({}, [parseGridSpec('budget.share=0.1,0.2')]).map((s) => s.config)).toEqual([
      { budget: { share: 0.1 } },
      { budget: { share: 0.2 } },
    ]);
  });

  test('analyzeSweep: a setting better on every seed is best with P(best) = 1 and a positive paired CI', () => {
    const values = [
      [10, 12, 11, 13],
      [11, 13, 12, 14],
      [5, 6, 5, 6],
    ];
    const a = analyzeSweep(values, 'higher', createRng(1), 500);
    expect(a.best).toBe(1);
    expect(a.runnerUp).toBe(0);
    expect(a.probabilityBest).toEqual([0, 1, 0]);
    expect(a.advantageOverRunnerUp!.mean).toBe(1);
    expect(a.advantageOverRunnerUp!.halfWidth).toBe(0);
    expect(a.versusBest[0]!.mean).toBe(-1);
    expect(a.versusBest[1]).toBeNull();
    // Lower is better: the smallest mean wins and differences are oriented the same way.
    const b = analyzeSweep(values, 'lower', createRng(1), 500);
    expect(b.best).toBe(2);
    expect(b.runnerUp).toBe(0);
    expect(b.advantageOverRunnerUp!.mean).toBeCloseTo(6, 12); // per seed 10−5, 12−6, 11−5, 13−6
  });

  test('analyzeSweep: P(best) sums to 1 and splits between two settings that trade places across seeds', () => {
    const values = [
      [1, 0, 1, 0, 1, 0],
      [0, 1, 0, 1, 0, 1],
    ];
    const a = analyzeSweep(values, 'higher', createRng(2), 4000);
    expect(a.probabilityBest[0]! + a.probabilityBest[1]!).toBeCloseTo(1, 12);
    // Exchangeable settings: 1/2 each in expectation; a tied resample's win is split between
    // them. Over 4,000 resamples the estimate's sd is at most 0.5/√4000 ≈ 0.008 (5 sd: 0.04).
    expect(Math.abs(a.probabilityBest[0]! - 0.5)).toBeLessThan(0.04);
    expect(Math.abs(a.probabilityBest[1]! - 0.5)).toBeLessThan(0.04);
    expect(a.advantageOverRunnerUp!.lower).toBeLessThan(0);
  });

  test('readme and scenario files agree on the scenario names', () => {
    const readme = readFileSync(join(SIMULATIONS, 'README.md'), 'utf8');
    for (const name of ['silence', 'irrational', 'drifting-people', 'position-bias', 'smoke']) expect(readme).toContain(`${name}.json`);
    expect(readme).toMatch(/^## Off-policy evaluation on the Open Bandit Dataset$/m);
  });
});
