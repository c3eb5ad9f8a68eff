import { describe, expect, test } from 'vitest';
import {
  dm,
  dr,
  effectiveSampleSize,
  evaluate,
  iips,
  importanceWeights,
  ips,
  OpeInputError,
  replay,
  sndr,
  snips,
  type LoggedBandit,
} from '../../../src/ope/index.js';

const f64 = (...values: number[]): Float64Array => Float64Array.from(values);

// A hand-checkable log of 4 rounds.
//   reward            r  = [1,    0,    1,   0.5]
//   propensity        π₀ = [0.5,  0.25, 0.8, 0.5]
//   targetProbability πe = [1,    0.5,  0.4, 0  ]
//   weights w = πe/π₀     = [2,    2,    0.5, 0  ]      Σw = 4.5, Σw² = 8.25
//   w·r                   = [2,    0,    0.5, 0  ]      Σ = 2.5
//   q̂ (logged action)     = [0.5,  0.25, 0.5, 0.5]
//   q̂ₑ (target value)     = [0.6,  0.3,  0.4, 0.2]      Σ = 1.5
//   r − q̂                 = [0.5, −0.25, 0.5, 0  ]
//   w·(r − q̂)             = [1,   −0.5,  0.25, 0 ]      Σ = 0.75
const log: LoggedBandit = {
  reward: f64(1, 0, 1, 0.5),
  propensity: f64(0.5, 0.25, 0.8, 0.5),
  targetProbability: f64(1, 0.5, 0.4, 0),
  estimatedReward: f64(0.5, 0.25, 0.5, 0.5),
  estimatedTargetValue: f64(0.6, 0.3, 0.4, 0.2),
};

describe('estimators on a hand-computed log', () => {
  test('importance weights are πe/π₀', () => {
    expect([...importanceWeights(log)]).toEqual([2, 2, 0.5, 0]);
  });

  test('IPS = Σ w r / n = 2.5 / 4', () => {
    const e = ips(log);
    expect(e.value).toBeCloseTo(0.625, 12);
    expect(e.n).toBe(4);
    // ESS = (Σw)² / Σw² = 4.5² / 8.25 = 27/11
    expect(e.effectiveSampleSize).toBeCloseTo(27 / 11, 12);
    expect([...e.contributions]).toEqual([2, 0, 0.5, 0]);
  });

  test('SNIPS = Σ w r / Σ w = 2.5 / 4.5', () => {
    const e = snips(log);
    expect(e.value).toBeCloseTo(5 / 9, 12);
    expect(e.effectiveSampleSize).toBeCloseTo(27 / 11, 12);
    // contributions n·w r / Σw = 4/4.5 · [2, 0, 0.5, 0]; their mean is the estimate
    const c = [...e.contributions];
    [16 / 9, 0, 4 / 9, 0].forEach((v, i) => expect(c[i]).toBeCloseTo(v, 12));
  });

  test('DM = mean q̂ₑ = 1.5 / 4 and has no ESS', () => {
    const e = dm(log);
    expect(e.value).toBeCloseTo(0.375, 12);
    expect(e.effectiveSampleSize).toBeUndefined();
  });

  test('DR = mean(q̂ₑ + w (r − q̂)) = (1.5 + 0.75) / 4', () => {
    const e = dr(log);
    expect(e.value).toBeCloseTo(0.5625, 12);
    // per-round terms [1.6, −0.2, 0.65, 0.2]
    const c = [...e.contributions];
    [1.6, -0.2, 0.65, 0.2].forEach((v, i) => expect(c[i]).toBeCloseTo(v, 12));
  });

  test('SNDR = mean q̂ₑ + Σ w (r − q̂) / Σ w = 0.375 + 0.75 / 4.5', () => {
    expect(sndr(log).value).toBeCloseTo(0.375 + 1 / 6, 12);
  });

  test('replay = mean reward over matching rounds = (1 + 1 + 0.5) / 3', () => {
    const e = replay({ reward: log.reward, match: Uint8Array.from([1, 0, 1, 1]) });
    expect(e.value).toBeCloseTo(5 / 6, 12);
    expect(e.effectiveSampleSize).toBe(3);
  });

  test('DR equals IPS when the reward model is zero', () => {
    const zero = { ...log, estimatedReward: f64(0, 0, 0, 0), estimatedTargetValue: f64(0, 0, 0, 0) };
    expect(dr(zero).value).toBeCloseTo(ips(log).value, 12);
    expect(sndr(zero).value).toBeCloseTo(snips(log).value, 12);
  });
});

describe('clipping w = min(πe/π₀, c)', () => {
  // c = 1.5: w = [1.5, 1.5, 0.5, 0], Σw = 3.5, Σw² = 4.75, w·r = [1.5, 0, 0.5, 0] (Σ 2),
  // w·(r − q̂) = [0.75, −0.375, 0.25, 0] (Σ 0.625).
  const clip = 1.5;

  test('IPS drops from 0.625 to 2 / 4', () => {
    const e = ips(log, { clip });
    expect(e.value).toBeCloseTo(0.5, 12);
    expect(e.effectiveSampleSize).toBeCloseTo(3.5 ** 2 / 4.75, 12); // 49/19
  });

  test('SNIPS becomes 2 / 3.5', () => {
    expect(snips(log, { clip }).value).toBeCloseTo(4 / 7, 12);
  });

  test('DR becomes (1.5 + 0.625) / 4', () => {
    expect(dr(log, { clip }).value).toBeCloseTo(0.53125, 12);
  });

  test('SNDR becomes 0.375 + 0.625 / 3.5', () => {
    expect(sndr(log, { clip }).value).toBeCloseTo(0.375 + 0.625 / 3.5, 12);
  });

  test('a clip above every weight changes nothing', () => {
    expect(ips(log, { clip: 2 }).value).toBe(ips(log).value);
  });
});

describe('IIPS on slates', () => {
  // n = 2 rounds, L = 2 positions (row-major round, position):
  //   r  = [[1, 0], [0, 1]]
  //   π₀ = [[0.5, 0.25], [0.5, 1]]
  //   πe = [[1, 0.5], [0.25, 0.5]]
  //   w  = [[2, 2], [0.5, 0.5]]
  //   per round Σ_l w r: [2·1 + 2·0, 0.5·0 + 0.5·1] = [2, 0.5] → mean 1.25
  const slates = {
    positions: 2,
    reward: f64(1, 0, 0, 1),
    propensity: f64(0.5, 0.25, 0.5, 1),
    targetProbability: f64(1, 0.5, 0.25, 0.5),
  };

  test('IIPS = mean over rounds of Σ_l w_l r_l', () => {
    const e = iips(slates);
    expect(e.value).toBeCloseTo(1.25, 12);
    expect(e.n).toBe(2);
    expect([...e.contributions]).toEqual([2, 0.5]);
    // pooled Kish ESS of [2, 2, 0.5, 0.5] = 25 / 8.5, divided by L = 2
    expect(e.effectiveSampleSize).toBeCloseTo(25 / 8.5 / 2, 12);
  });

  test('clipping at 1 gives w = [[1, 1], [0.5, 0.5]] → rounds [1, 0.5] → 0.75', () => {
    expect(iips(slates, { clip: 1 }).value).toBeCloseTo(0.75, 12);
  });

  test.each([
    ['positions', { ...slates, positions: 0 }],
    ['positions', { ...slates, positions: 1.5 }],
    ['reward', { ...slates, positions: 3 }],
    ['propensity', { ...slates, propensity: f64(0.5, 0, 0.5, 1) }],
    ['targetProbability', { ...slates, targetProbability: f64(1, 0.5, 0.25) }],
  ])('invalid slates name the field %s', (field, input) => {
    expect(() => iips(input)).toThrow(expect.objectContaining({ name: 'OpeInputError', field }));
  });
});

describe('effective sample size', () => {
  test('equal weights give n, zeros give 0', () => {
    expect(effectiveSampleSize(f64(3, 3, 3, 3, 3))).toBe(5);
    expect(effectiveSampleSize(f64(0, 0))).toBe(0);
  });
});

describe('validation names the field', () => {
  const replace = (patch: Partial<LoggedBandit>): LoggedBandit => ({ ...log, ...patch });
  test.each<[string, string, () => unknown]>([
    ['propensity 0', 'propensity', () => ips(replace({ propensity: f64(0.5, 0, 0.8, 0.5) }))],
    ['propensity > 1', 'propensity', () => snips(replace({ propensity: f64(0.5, 0.25, 1.2, 0.5) }))],
    ['NaN propensity', 'propensity', () => ips(replace({ propensity: f64(NaN, 0.25, 0.8, 0.5) }))],
    ['NaN reward', 'reward', () => ips(replace({ reward: f64(1, NaN, 1, 0.5) }))],
    ['infinite reward', 'reward', () => dr(replace({ reward: f64(1, 0, Infinity, 0.5) }))],
    ['length mismatch', 'targetProbability', () => ips(replace({ targetProbability: f64(1, 0.5, 0.4) }))],
    ['length mismatch of a model column', 'estimatedReward', () => dr(replace({ estimatedReward: f64(0.5) }))],
    ['target probability > 1', 'targetProbability', () => ips(replace({ targetProbability: f64(1, 1.5, 0.4, 0) }))],
    ['negative target probability', 'targetProbability', () => ips(replace({ targetProbability: f64(1, -0.1, 0.4, 0) }))],
    ['empty log', 'reward', () => ips({ reward: f64(), propensity: f64(), targetProbability: f64() })],
    ['plain array instead of Float64Array', 'reward', () => ips(replace({ reward: [1, 0, 1, 0.5] as unknown as Float64Array }))],
    ['missing model column for DR', 'estimatedReward', () => dr(replace({ estimatedReward: undefined }))],
    ['missing target value for DM', 'estimatedTargetValue', () => dm(replace({ estimatedTargetValue: undefined }))],
    ['NaN model prediction', 'estimatedTargetValue', () => sndr(replace({ estimatedTargetValue: f64(0.6, NaN, 0.4, 0.2) }))],
    ['clip 0', 'clip', () => ips(log, { clip: 0 })],
    ['clip NaN', 'clip', () => snips(log, { clip: NaN })],
    ['unknown option', 'options', () => ips(log, { clip: 2, clipp: 3 } as never)],
    ['all weights zero for SNIPS', 'targetProbability', () => snips(replace({ targetProbability: f64(0, 0, 0, 0) }))],
    ['all weights zero for SNDR', 'targetProbability', () => sndr(replace({ targetProbability: f64(0, 0, 0, 0) }))],
    ['replay match not 0/1', 'match', () => replay({ reward: log.reward, match: Uint8Array.from([1, 2, 0, 0]) })],
    ['replay without matches', 'match', () => replay({ reward: log.reward, match: new Uint8Array(4) })],
    ['replay match length', 'match', () => replay({ reward: log.reward, match: new Uint8Array(3) })],
    ['negative ESS weight', 'weights', () => effectiveSampleSize(f64(1, -1))],
  ])('%s → %s', (_case, field, call) => {
    let error: unknown;
    try {
      call();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OpeInputError);
    expect((error as OpeInputError).field).toBe(field);
    expect((error as OpeInputError).message.startsWith(field)).toBe(true);
  });

  test('the error points at the first offending round', () => {
    try {
      ips(replace({ propensity: f64(0.5, 0.25, 0, 0) }));
      expect.unreachable();
    } catch (e) {
      expect((e as OpeInputError).index).toBe(2);
      expect((e as OpeInputError).message).toBe('propensity[2]: must be in (0, 1], got 0');
    }
  });
});

describe('evaluate', () => {
  test('returns one row per estimator with the point estimates above', () => {
    const rows = evaluate(log, { estimators: ['ips', 'snips', 'dm', 'dr', 'sndr'], interval: { method: 'none' } });
    expect(rows.map((r) => r.estimator)).toEqual(['ips', 'snips', 'dm', 'dr', 'sndr']);
    const values = rows.map((r) => r.value);
    [0.625, 5 / 9, 0.375, 0.5625, 0.375 + 1 / 6].forEach((v, i) => expect(values[i]).toBeCloseTo(v, 12));
    expect(rows[0]).toMatchObject({ lower: null, upper: null, standardError: null, n: 4 });
    expect(rows[0]!.ess).toBeCloseTo(27 / 11, 12);
    expect(rows[2]!.ess).toBeNull();
  });

  test('passes clip to every weighted estimator', () => {
    const rows = evaluate(log, { estimators: ['ips', 'snips'], clip: 1.5, interval: { method: 'none' } });
    expect(rows[0]!.value).toBeCloseTo(0.5, 12);
    expect(rows[1]!.value).toBeCloseTo(4 / 7, 12);
  });

  test('replay reads the match off a deterministic target', () => {
    const deterministic = { ...log, targetProbability: f64(1, 0, 1, 1) };
    const [row] = evaluate(deterministic, { estimators: ['replay'], interval: { method: 'none' } });
    expect(row!.value).toBeCloseTo(5 / 6, 12);
    expect(() => evaluate(log, { estimators: ['replay'], interval: { method: 'none' } })).toThrow(
      expect.objectContaining({ field: 'targetProbability', index: 1 }),
    );
  });

  test.each<[string, string, object]>([
    ['bootstrap without rng', 'rng', {}],
    ['unknown estimator', 'estimators.0', { estimators: ['magic'], interval: { method: 'none' } }],
    ['empty estimator list', 'estimators', { estimators: [], interval: { method: 'none' } }],
    ['level 1', 'interval.level', { interval: { method: 'normal', level: 1 } }],
    ['unknown interval field', 'interval', { interval: { method: 'normal', width: 2 } }],
  ])('%s → %s', (_case, field, options) => {
    expect(() => evaluate(log, options as never)).toThrow(expect.objectContaining({ name: 'OpeInputError', field }));
  });
});
