/**
 * The Open Bandit Dataset check (simulations/obd-ope.json): the production Bernoulli-TS policy's
 * click rate estimated off-policy from the uniform-random log, against the click rate it got in
 * its own log, for the men and women campaigns of the 10 000-row sample.
 *
 * What the sample supports (measured with the scenario's settings; see simulations/README.md):
 * with 46 clicks in each random log the intervals are wide (about ±50% of the value), every
 * weighted estimator's 95% interval covers the bts log's click rate in both campaigns, and
 * the sign of (BTS − random) is NOT reproduced reliably — for men the estimate lands at the
 * random log's own rate (0.455% vs 0.46%), for women above it while the sample's bts log is not
 * (0.46% = 0.46%). So the test asserts finiteness, coverage of the on-policy answer, and the
 * structure of the estimate, not the sign.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import { OpeInputError } from '../../src/ope/errors.js';
import { btsPositionDistribution, evaluateObdCampaign, obdOpeScenarioSchema, parseBtsPrior, type ObdCampaignResult } from '../../src/ope/obd.js';
import { loadObd } from '../../src/simulation/environments/loaders.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dataRoot = process.env.LIUBAI_DATA ?? join(REPO, '..', 'shared', 'data');
const obdRoot = join(dataRoot, 'obd');
const present = existsSync(join(obdRoot, 'random', 'men', 'men.csv')) && existsSync(join(obdRoot, 'bts_prior', 'prior_bts.yaml'));
if (!present) {
  console.warn(`OBD OPE tests skipped: no Open Bandit Dataset sample at ${obdRoot} (set LIUBAI_DATA to the folder holding obd/)`);
}

describe('parseBtsPrior (no data needed)', () => {
  test('reads campaigns of alpha/beta lists', () => {
    const p = parseBtsPrior('men:\n  alpha:\n    - 47.0\n    - 8.0\n  beta:\n    - 12198.0\n    - 3566.0\nwomen:\n  alpha:\n    - 1\n  beta:\n    - 2\n');
    expect(p).toEqual({ men: { alpha: [47, 8], beta: [12198, 3566] }, women: { alpha: [1], beta: [2] } });
  });

  test.each([
    ['men:\n  alpha:\n    - 1\n  beta:\n    - 2\n    - 3\n', /alpha has 1 values and beta 2/],
    ['men:\n  alpha:\n    - -1\n  beta:\n    - 2\n', /line 3: -1 is not a positive number/],
    ['men:\n  gamma:\n    - 1\n', /line 2: unexpected/],
    ['    - 1\n', /line 1: a list item outside alpha\/beta/],
    ['', /no campaign/],
  ])('rejects malformed input %j', (text, message) => {
    expect(() => parseBtsPrior(text)).toThrow(OpeInputError);
    expect(() => parseBtsPrior(text)).toThrow(message);
  });

  test('btsPositionDistribution: a clearly best item holds position 1; columns sum to 1', () => {
    const d = btsPositionDistribution({ alpha: [1000, 10, 10, 10], beta: [1000, 990, 990, 990] }, 2, 2000, createRng(1));
    expect(d[0 * 2 + 0]).toBe(1);
    for (let l = 0; l < 2; l++) expect(d[l]! + d[2 + l]! + d[4 + l]! + d[6 + l]!).toBeCloseTo(1, 12);
    // The three equal items share position 2: each ≈ 1/3 (binomial sd √(2/9/2000) ≈ 0.011).
    for (const a of [1, 2, 3]) expect(Math.abs(d[a * 2 + 1]! - 1 / 3)).toBeLessThan(0.05);
  });
});

describe.skipIf(!present)('Open Bandit Dataset: Bernoulli TS estimated from the random logs', () => {
  const scenario = obdOpeScenarioSchema.parse(JSON.parse(readFileSync(join(REPO, 'simulations', 'obd-ope.json'), 'utf8')));
  const priors = present ? parseBtsPrior(readFileSync(join(obdRoot, 'bts_prior', 'prior_bts.yaml'), 'utf8')) : {};

  test('the prior file has the structure OBP documents: all 80, men 34, women 46 items', () => {
    expect(Object.keys(priors)).toEqual(['all', 'men', 'women']);
    expect(priors.all!.alpha).toHaveLength(80);
    expect(priors.men!.alpha).toHaveLength(34);
    expect(priors.women!.beta).toHaveLength(46);
    expect(priors.men!.alpha[0]).toBe(47);
    expect(priors.men!.beta[0]).toBe(12198);
  });

  const results: ObdCampaignResult[] = [];
  test.each(scenario.campaigns)('%s: finite estimates whose weighted-estimator intervals cover the bts log’s click rate', (campaign) => {
    const random = loadObd(obdRoot, { behaviorPolicy: 'random', campaign });
    const bts = loadObd(obdRoot, { behaviorPolicy: 'bts', campaign });
    // The same settings and streams as `liubai evaluate --scenario simulations/obd-ope.json`.
    const r = evaluateObdCampaign(random, bts, priors[campaign]!, {
      rng: createRng(scenario.seed).fork(campaign),
      estimators: scenario.estimators,
      draws: scenario.draws,
      resamples: scenario.resamples,
      level: scenario.level,
      clip: scenario.clip,
      lambda: scenario.rewardModel.lambda,
      folds: scenario.rewardModel.folds,
    });
    results.push(r);
    const line = r.rows
      .map((x) => `${x.estimator} ${(100 * x.value).toFixed(3)}% [${(100 * x.lower!).toFixed(3)}, ${(100 * x.upper!).toFixed(3)}] (${x.relativeError >= 0 ? '+' : ''}${(100 * x.relativeError).toFixed(1)}%, covers ${x.covers ? 'yes' : 'no'}, ESS ${x.ess === null ? '-' : Math.round(x.ess)})`)
      .join('; ');
    console.log(
      `OBD ${campaign}: random log ${(100 * r.random.value).toFixed(2)}% (${r.random.clicks} clicks), bts log ${(100 * r.bts.value).toFixed(2)}% ` +
        `[${(100 * r.bts.lower).toFixed(2)}, ${(100 * r.bts.upper).toFixed(2)}] (${r.bts.clicks} clicks); published random ${(100 * r.published!.random).toFixed(2)}%, BTS ${(100 * r.published!.bts).toFixed(2)}%; max weight ${r.maxWeight.toFixed(2)}\n  ${line}`,
    );
    expect(r.random.n).toBe(10_000);
    expect(r.bts.n).toBe(10_000);
    for (const row of r.rows) {
      expect(Number.isFinite(row.value)).toBe(true);
      expect(row.value).toBeGreaterThan(0);
      expect(row.value).toBeLessThan(0.05);
      expect(row.lower!).toBeLessThanOrEqual(row.upper!);
      if (row.estimator === 'dm') continue; // its interval holds the reward model fixed
      expect(row.covers, `${campaign} ${row.estimator}`).toBe(true);
      // BTS concentrates on a few items: fewer effective rounds than logged, but not a handful.
      expect(row.ess!).toBeGreaterThan(1000);
      expect(row.ess!).toBeLessThan(10_000);
    }
    // The importance weights are bounded by max π_e/π₀ = K·max π_e ≤ K.
    expect(r.maxWeight).toBeLessThanOrEqual(r.items);
  });

  test('IPS and DR agree within a fraction of their standard error (the reward model corrects little with 46 clicks)', () => {
    expect(results).toHaveLength(scenario.campaigns.length);
    for (const r of results) {
      const ips = r.rows.find((x) => x.estimator === 'ips')!;
      const dr = r.rows.find((x) => x.estimator === 'dr')!;
      expect(Math.abs(ips.value - dr.value)).toBeLessThan(0.5 * ips.standardError!);
    }
  });
});
