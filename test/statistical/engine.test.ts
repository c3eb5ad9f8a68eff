/**
 * Statistical checks of the engine loop (npm run test:stat): silence pays, the budget is honest,
 * people change. Each runs ≥ 20 seeds through the same engine code the server uses and reports a
 * 95% confidence interval.
 */
import { describe, expect, test } from 'vitest';
import { chiSquarePValue, mean, meanCi } from '../../src/core/stats.js';
import type { ModelConfigInput } from '../../src/engine/config.js';
import { createBernoulli, createDrifting, createFatigue } from '../../src/simulation/environments/index.js';
import { runSimulation } from '../../src/simulation/runner.js';

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);
const fmt = (c: { mean: number; lower: number; upper: number }, d = 1) =>
  `${c.mean.toFixed(d)} [${c.lower.toFixed(d)}, ${c.upper.toFixed(d)}]`;

describe('silence pays (fatigue population, 20 seeds)', () => {
  test('the default engine earns more clicks than clicks-only and than no fatigue memory', () => {
    const base = { feedback: { rewardWindowSeconds: 600 }, fatigue: { halfLifeSeconds: 6 * 3600 } };
    const configs: Record<string, ModelConfigInput> = {
      default: base,
      clicksOnly: { feedback: { rewardWindowSeconds: 600, learnSilence: false }, fatigue: { enabled: false } },
      noFatigue: { feedback: { rewardWindowSeconds: 600 }, fatigue: { enabled: false } },
    };
    const reward: Record<string, number[]> = { default: [], clicksOnly: [], noFatigue: [] };
    for (const seed of SEEDS) {
      for (const [name, config] of Object.entries(configs)) {
        const r = runSimulation(() => createFatigue({}), config, { horizon: 3000, slots: 2, stepMs: 60_000, seed });
        reward[name]!.push(r.totals.reward);
      }
    }
    const vsClicks = meanCi(reward.default!.map((x, i) => x - reward.clicksOnly![i]!));
    const vsNoFatigue = meanCi(reward.default!.map((x, i) => x - reward.noFatigue![i]!));
    console.log(
      `clicks per 3000 decisions: default ${fmt(meanCi(reward.default!))}, clicks-only ${fmt(meanCi(reward.clicksOnly!))}, ` +
        `no fatigue ${fmt(meanCi(reward.noFatigue!))}; default − clicks-only ${fmt(vsClicks)}; default − no-fatigue ${fmt(vsNoFatigue)}`,
    );
    expect(vsClicks.lower).toBeGreaterThan(0);
    expect(vsNoFatigue.lower).toBeGreaterThan(0);
  });
});

describe('the budget is honest (20 seeds × 5,000 decisions = 100k decisions)', () => {
  test('explored share within ±1 pp of share, per-user limits never exceeded, IPS-consistent propensities', () => {
    const share = 0.1;
    const rate = 6;
    const burst = 3;
    const config: ModelConfigInput = {
      policy: { kind: 'beta-bernoulli' },
      budget: { share, perUser: { ratePerHour: rate, burst }, floor: 0.01, rule: 'uniform' },
      feedback: { rewardWindowSeconds: 60 },
    };
    const shares: number[] = [];
    let explored = 0;
    let slots = 0;
    let violations = 0;
    // IPS consistency per (item, position) cell: the IPS count Σ 1{shown}/p̂ over a run's decisions
    // estimates the number of decisions, so its ratio to n has mean ≈ 1 in every cell.
    const k = 8;
    const L = 3;
    const ratios: number[][] = Array.from({ length: k * L }, () => []);
    for (const seed of SEEDS) {
      const users = new Map<string, { first: number; explored: number }>();
      const inv = new Float64Array(k * L);
      let n = 0;
      const r = runSimulation(() => createBernoulli({ arms: k, users: 60 }), config, {
        horizon: 5000,
        slots: L,
        stepMs: 5_000,
        seed,
        onDecision: ({ at, userId, slate }) => {
          n++;
          const u = users.get(userId) ?? { first: at, explored: 0 };
          u.explored += slate.filter((s) => s.explored).length;
          users.set(userId, u);
          // Token bucket: at most burst + rate × elapsed hours since the user's first decision.
          if (u.explored > burst + (rate * (at - u.first)) / 3_600_000 + 1e-9) violations++;
          for (const s of slate) {
            const cell = Number(s.id.replace(/\D+/g, '')) * L + (s.position - 1);
            inv[cell]! += 1 / s.propensity;
          }
        },
      });
      shares.push(r.totals.exploredShare);
      explored += r.totals.explored;
      slots += r.totals.slots;
      for (let c = 0; c < k * L; c++) ratios[c]!.push(inv[c]! / n);
    }
    // Chi-square over cells of the squared t statistics of (mean ratio − 1), 20 seeds each.
    let stat = 0;
    const worst: string[] = [];
    for (let c = 0; c < k * L; c++) {
      const ci = meanCi(ratios[c]!);
      const se = ci.halfWidth / 2.093;
      const z = (ci.mean - 1) / se;
      stat += z * z;
      if (Math.abs(z) > 2.5) worst.push(`${Math.floor(c / L)}@${(c % L) + 1}: ${fmt(ci, 3)}`);
    }
    const p = chiSquarePValue(stat, k * L);
    const pooled = explored / slots;
    console.log(
      `explored share pooled ${pooled.toFixed(4)} (allowed ${share}); per seed ${fmt(meanCi(shares), 4)}; ` +
        `per-user violations ${violations}; IPS count / decisions: chi-square ${stat.toFixed(1)} on ${k * L} df, p = ${p.toFixed(4)}` +
        (worst.length > 0 ? `; cells off by > 2.5 se: ${worst.join(', ')}` : ''),
    );
    expect(Math.abs(pooled - share)).toBeLessThan(0.01);
    expect(violations).toBe(0);
    expect(p).toBeGreaterThan(0.001);
  });
});

describe('people change (abrupt preference change, 20 seeds)', () => {
  test('decay recovers the new best item in fewer decisions than no decay', () => {
    const changeAt = 3000;
    const horizon = 6000;
    const env = () => createDrifting({ segments: 1, items: 6, users: 1, volatility: 0, changeAt: [changeAt], revealSegment: false });
    const configs: Record<string, ModelConfigInput> = {
      decay: { policy: { kind: 'beta-bernoulli' }, decay: { halfLifeOutcomes: 1000 }, fatigue: { enabled: false }, budget: { share: 0 } },
      none: { policy: { kind: 'beta-bernoulli' }, fatigue: { enabled: false }, budget: { share: 0 } },
    };
    const recovery: Record<string, number[]> = { decay: [], none: [] };
    const window = 200;
    for (const seed of SEEDS) {
      for (const [name, config] of Object.entries(configs)) {
        const r = runSimulation(env, config, { horizon, slots: 1, stepMs: 60_000, seed, trackBest: true });
        // Recovery: decisions after the change until the (new) best item holds position 1 in at
        // least half of a sliding window of 200 decisions; censored at the horizon.
        let found = horizon - changeAt;
        let inWindow = 0;
        for (let t = changeAt; t < horizon; t++) {
          inWindow += r.bestFirst[t]!;
          if (t - changeAt >= window) inWindow -= r.bestFirst[t - window]!;
          if (t - changeAt >= window - 1 && inWindow >= window / 2) {
            found = t - changeAt;
            break;
          }
        }
        recovery[name]!.push(found);
      }
    }
    const diff = meanCi(recovery.decay!.map((x, i) => x - recovery.none![i]!));
    console.log(`decisions to recover: decay ${fmt(meanCi(recovery.decay!))}, no decay ${fmt(meanCi(recovery.none!))}; difference ${fmt(diff)}`);
    expect(mean(recovery.decay!)).toBeLessThan(mean(recovery.none!));
    expect(diff.upper).toBeLessThan(0);
  });
});
