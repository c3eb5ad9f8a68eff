import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { createRng, type Rng } from '../../../../src/core/rng.js';
import { sparseFromPairs, type DecisionFeatures, type SparseVector } from '../../../../src/features/types.js';
import { estimatePropensities } from '../../../../src/policies/explore/propensity.js';
import { selectSlate, type SelectionInput, type SelectionParams } from '../../../../src/policies/explore/select.js';
import { createLinearGaussian, linearGaussianConfigSchema } from '../../../../src/policies/linear-gaussian/index.js';
import { ScorePlan } from '../../../../src/policies/linear-gaussian/score-plan.js';

/** The inputs the posterior writes into a plan (see LinearPosterior.scorePlan). */
interface PlanInput {
  k: number;
  nu: number;
  sigmaUU: Float64Array;
  /** Per candidate, its dense entries in order: [position in U, value]. */
  dense: Array<Array<[number, number]>>;
  /** Extra entries in candidate order: [dimension id, candidate, value]; one variance per id. */
  extra: Array<[number, number, number]>;
  exVar: number[];
  mean: Float64Array;
}

function load(plan: ScorePlan, x: PlanInput): void {
  const entries = Math.max(
    1,
    x.extra.length,
    x.dense.reduce((n, d) => n + d.length, 0),
  );
  plan.reserve(x.k, entries);
  plan.reserveDense(x.nu);
  plan.sigmaUU.set(x.sigmaUU);
  let e = 0;
  x.dense.forEach((row, i) => {
    plan.dStart[i] = e;
    for (const [p, v] of row) {
      plan.dPos[e] = p;
      plan.dVal[e++] = v;
    }
  });
  plan.dStart[x.k] = e;
  x.extra.forEach(([d, i, v], j) => {
    plan.exId[j] = d;
    plan.exRow[j] = i;
    plan.exVal[j] = v;
  });
  x.exVar.forEach((v, d) => (plan.exVar[d] = v));
  plan.exCount = x.extra.length;
  plan.exDims = x.exVar.length;
  plan.mean.set(x.mean);
}

/**
 * The plain loops the blocked code replaced, as the reference for bit-identity: W_j = wCommon,
 * then one axpy per other entry of j in order; S_ij = Σ over i's entries in order (from 0); the
 * extra dimensions in id order, each pair (a, b ≤ a) of its entries once. wCommon sums the entries
 * every candidate has with one value, in the order the first candidate lists them.
 */
function referenceCovariance(x: PlanInput): Float64Array {
  const { k, nu, sigmaUU } = x;
  const count = new Map<number, { n: number; v: number }>();
  for (const row of x.dense) {
    for (const [p, v] of row) {
      const c = count.get(p);
      if (c === undefined) count.set(p, { n: 1, v });
      else if (c.n > 0) c.n = c.v === v ? c.n + 1 : -1;
    }
  }
  const isCommon = (p: number): boolean => count.get(p)?.n === k;
  const wCommon = new Float64Array(nu);
  for (const [p] of x.dense[0] ?? []) {
    if (!isCommon(p)) continue;
    const a = count.get(p)!.v;
    for (let q = 0; q < nu; q++) wCommon[q] = wCommon[q]! + a * sigmaUU[p * nu + q]!;
  }
  const w = x.dense.map((row) => {
    const wj = Float64Array.from(wCommon);
    for (const [p, a] of row) {
      if (isCommon(p)) continue;
      for (let q = 0; q < nu; q++) wj[q] = wj[q]! + a * sigmaUU[p * nu + q]!;
    }
    return wj;
  });
  const s = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let acc = 0;
      for (const [p, v] of x.dense[i]!) acc += v * w[j]![p]!;
      s[i * k + j] = acc;
    }
  }
  x.exVar.forEach((vd, d) => {
    const run = x.extra.filter(([id]) => id === d);
    for (let a = 0; a < run.length; a++) {
      const [, ra, xa] = run[a]!;
      const va = xa * vd;
      for (let b = 0; b <= a; b++) {
        const [, rb, xb] = run[b]!;
        s[ra * k + rb] = s[ra * k + rb]! + va * xb;
      }
    }
  });
  return s;
}

/** Row-by-row Cholesky with the pivot tolerance 1e-12·max S_ii, each inner product in l order. */
function referenceFactor(s: Float64Array, k: number): Float64Array {
  let maxDiag = 0;
  for (let i = 0; i < k; i++) maxDiag = Math.max(maxDiag, s[i * k + i]!);
  const tol = 1e-12 * maxDiag;
  const c = new Float64Array(k * k);
  for (let j = 0; j < k; j++) {
    let d = s[j * k + j]!;
    for (let l = 0; l < j; l++) d -= c[j * k + l]! * c[j * k + l]!;
    if (!(d > tol)) continue;
    const root = Math.sqrt(d);
    c[j * k + j] = root;
    const inv = 1 / root;
    for (let i = j + 1; i < k; i++) {
      let acc = s[i * k + j]!;
      for (let l = 0; l < j; l++) acc -= c[i * k + l]! * c[j * k + l]!;
      c[i * k + j] = acc * inv;
    }
  }
  return c;
}

/** out_i = m_i + scale·Σ_{j≤i} c_ij·z_j in four partial sums by j mod 4, added (s0 + s1) + (s2 + s3). */
function referenceDraw(c: Float64Array, mean: Float64Array, k: number, scale: number, rng: Rng): Float64Array {
  const z = Float64Array.from({ length: k }, () => rng.normal());
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const a = [0, 0, 0, 0];
    let j = 0;
    for (; j + 3 <= i; j += 4) for (let r = 0; r < 4; r++) a[r] = a[r]! + c[i * k + j + r]! * z[j + r]!;
    for (; j <= i; j++) a[0] = a[0]! + c[i * k + j]! * z[j]!;
    out[i] = mean[i]! + scale * (a[0]! + a[1]! + (a[2]! + a[3]!));
  }
  return out;
}

/**
 * A random plan: Σ_UU symmetric positive definite; each candidate has 0 … 20 dense entries in a
 * random order, among them entries every candidate has (some with one value everywhere, one
 * whose value differs in one candidate); extra dimensions held by every candidate or by a few;
 * some candidates repeat earlier ones (a rank-deficient S).
 */
function randomPlan(rng: Rng, k: number, nu: number): PlanInput {
  const a = Float64Array.from({ length: nu * nu }, () => rng.normal());
  const sigmaUU = new Float64Array(nu * nu);
  for (let p = 0; p < nu; p++) {
    for (let q = 0; q <= p; q++) {
      let v = p === q ? 0.5 : 0;
      for (let r = 0; r < nu; r++) v += (a[p * nu + r]! * a[q * nu + r]!) / nu;
      sigmaUU[p * nu + q] = v;
      sigmaUU[q * nu + p] = v;
    }
  }
  const shared = nu > 0 ? Array.from({ length: Math.min(nu, rng.int(5)) }, (_, t) => t) : [];
  const sharedValue = shared.map(() => rng.normal());
  const dense: Array<Array<[number, number]>> = [];
  for (let i = 0; i < k; i++) {
    if (i > 0 && rng.uniform() < 0.15) {
      dense.push([...dense[rng.int(i)]!]);
      continue;
    }
    const row: Array<[number, number]> = shared.map((p, t) => [p, t === 0 && i === k - 1 && k > 1 ? sharedValue[t]! + 1 : sharedValue[t]!]);
    const used = new Set(shared);
    const n = nu > shared.length ? rng.int(21) : 0;
    while (row.length < shared.length + n && used.size < nu) {
      const p = rng.int(nu);
      if (used.has(p)) continue;
      used.add(p);
      row.push([p, rng.normal()]);
    }
    rng.shuffle(row);
    dense.push(row);
  }
  const dims = rng.int(6);
  const exVar = Array.from({ length: dims }, () => 0.1 + rng.uniform());
  const everyone = Array.from({ length: dims }, () => rng.uniform() < 0.4);
  const contextValue = Array.from({ length: dims }, () => rng.normal());
  const extra: Array<[number, number, number]> = [];
  for (let i = 0; i < k; i++) {
    for (let d = 0; d < dims; d++) {
      if (everyone[d]) extra.push([d, i, rng.uniform() < 0.5 ? contextValue[d]! : rng.normal()]);
      else if (rng.uniform() < 0.3) extra.push([d, i, rng.normal()]);
    }
  }
  // Number the dimensions as the posterior does: in the order the entries first meet them.
  const id = new Map<number, number>();
  for (const entry of extra) {
    if (!id.has(entry[0])) id.set(entry[0], id.size);
    entry[0] = id.get(entry[0])!;
  }
  const variance = [...id.keys()].map((d) => exVar[d]!);
  return { k, nu, sigmaUU, dense, extra, exVar: variance, mean: Float64Array.from({ length: k }, () => rng.normal()) };
}

function expectSameBits(got: ArrayLike<number>, want: ArrayLike<number>, n: number, what: string): void {
  for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

function expectLowerSameBits(got: Float64Array, want: Float64Array, k: number, what: string): void {
  for (let i = 0; i < k; i++) for (let j = 0; j <= i; j++) if (!Object.is(got[i * k + j], want[i * k + j])) expect.fail(`${what}[${i}, ${j}]: ${got[i * k + j]} vs ${want[i * k + j]}`);
}

describe('ScorePlan', () => {
  test('covariance, factor and draws are bit-identical to the plain loops (one plan reused across sizes)', () => {
    const rng = createRng('score-plan-reference');
    const plan = new ScorePlan();
    // Sizes around the 8- and 4-way blocks, including k = 1 and nu = 0.
    for (const [k, nu] of [[1, 0], [1, 5], [3, 0], [4, 9], [7, 12], [8, 3], [9, 30], [12, 1], [13, 17], [17, 40], [33, 25], [50, 60], [16, 8]] as const) {
      for (let t = 0; t < 3; t++) {
        const x = randomPlan(rng, k, nu);
        load(plan, x);
        plan.covariance();
        const s = referenceCovariance(x);
        expectLowerSameBits(plan.s, s, k, `S (k = ${k}, nu = ${nu})`);
        for (let i = 0; i < k; i++) expect(Object.is(plan.variance[i], s[i * k + i])).toBe(true);
        plan.factor();
        const c = referenceFactor(s, k);
        expectLowerSameBits(plan.c, c, k, `C (k = ${k}, nu = ${nu})`);
        const a = createRng(`draw-${k}-${t}`);
        const b = createRng(`draw-${k}-${t}`);
        const out = new Float64Array(k);
        for (let d = 0; d < 3; d++) {
          plan.draw(0.7, a, out);
          expectSameBits(out, referenceDraw(c, x.mean, k, 0.7, b), k, `draw ${d} (k = ${k})`);
        }
        expect(a.state()).toEqual(b.state());
      }
    }
  });

  test('the order of the positions in U is only a layout: permuting it leaves S bit-identical', () => {
    const rng = createRng('score-plan-layout');
    const plan = new ScorePlan();
    for (let t = 0; t < 20; t++) {
      const x = randomPlan(rng, 1 + rng.int(20), 1 + rng.int(30));
      load(plan, x);
      plan.covariance();
      const s = Float64Array.from(plan.s);
      // Position p moves to perm[p]; Σ_UU follows.
      const perm = rng.shuffle(Array.from({ length: x.nu }, (_, p) => p));
      const sigmaUU = new Float64Array(x.nu * x.nu);
      for (let p = 0; p < x.nu; p++) for (let q = 0; q < x.nu; q++) sigmaUU[perm[p]! * x.nu + perm[q]!] = x.sigmaUU[p * x.nu + q]!;
      const moved: PlanInput = { ...x, sigmaUU, dense: x.dense.map((row) => row.map(([p, v]): [number, number] => [perm[p]!, v])) };
      load(plan, moved);
      plan.covariance();
      expectLowerSameBits(plan.s, s, x.k, 'S after a permutation of U');
    }
  });

  test('a 2 × 2 plan by hand: S = X·Σ·Xᵀ + var·x_e·x_eᵀ, C·Cᵀ = S, one draw = m + s·C·z', () => {
    // Σ_UU = [[2, 1], [1, 3]]; x_0 = (1, 0), x_1 = (1, 2); one extra dimension (variance 0.5)
    // with values 2 (candidate 0) and −1 (candidate 1).
    const plan = new ScorePlan();
    load(plan, {
      k: 2,
      nu: 2,
      sigmaUU: Float64Array.from([2, 1, 1, 3]),
      dense: [[[0, 1]], [[0, 1], [1, 2]]],
      extra: [[0, 0, 2], [0, 1, -1]],
      exVar: [0.5],
      mean: Float64Array.from([10, 20]),
    });
    plan.covariance();
    // x_0Σx_0 = 2, x_1Σx_0 = 2 + 2 = 4, x_1Σx_1 = 2 + 4 + 12 = 18; extras: +2, −1, +0.5.
    expect([plan.s[0], plan.s[2], plan.s[3]]).toEqual([4, 3, 18.5]);
    expect(Array.from(plan.variance.subarray(0, 2))).toEqual([4, 18.5]);
    plan.factor();
    // C = [[2, 0], [1.5, √(18.5 − 2.25)]].
    expect([plan.c[0], plan.c[2], plan.c[3]]).toEqual([2, 1.5, Math.sqrt(16.25)]);
    const z = createRng('hand');
    const z0 = z.normal();
    const z1 = z.normal();
    const out = new Float64Array(2);
    plan.draw(2, createRng('hand'), out);
    expect(out[0]).toBe(10 + 2 * (2 * z0));
    expect(out[1]).toBe(20 + 2 * (1.5 * z0 + Math.sqrt(16.25) * z1));
  });
});

const GOLDEN_DIM = 4096;

/** `n` distinct keys from [from, to) with normal values (0.5 or 1 where `unit`). */
function goldenPairs(rng: Rng, from: number, to: number, n: number, unit: boolean): Array<[number, number]> {
  const used = new Set<number>();
  const pairs: Array<[number, number]> = [];
  while (pairs.length < n) {
    const key = from + rng.int(to - from);
    if (used.has(key)) continue;
    used.add(key);
    pairs.push([key, unit ? (rng.uniform() < 0.5 ? 0.5 : 1) : rng.normal()]);
  }
  return pairs;
}

/**
 * A digest of everything a rank computes from a trained linear-gaussian posterior in score
 * space (sd, mean, the own draw, slates, Monte-Carlo propensities and the rng states) over
 * decisions that exercise the dense block, the diagonal tail, never-seen dimensions, context
 * entries common to every candidate, identical candidates, caps, cool-down and every rule:
 * a small dense block with a long diagonal tail, and a dense block holding every folded key.
 */
function goldenDigest(): string {
  const hash = createHash('sha256');
  const add = (xs: ArrayLike<number>): void => {
    hash.update(new Uint8Array(Float64Array.from(xs).buffer));
  };
  goldenDecisions(add, 40, 300);
  goldenDecisions(add, 256, 200);
  return hash.digest('hex');
}

/** Train on keys [0, seen), then rank six decisions whose arms also reach unseen keys. */
function goldenDecisions(add: (xs: ArrayLike<number>) => void, maxDenseDims: number, seen: number): void {
  const rng = createRng(`golden-${maxDenseDims}`);
  const policy = createLinearGaussian(
    linearGaussianConfigSchema.parse({ kind: 'linear-gaussian', structure: 'shared', covariance: 'full', maxDenseDims }),
  );
  for (let t = 0; t < 300; t++) {
    const context = sparseFromPairs(GOLDEN_DIM, goldenPairs(rng, 0, 60, 1 + rng.int(4), true));
    const arm = sparseFromPairs(GOLDEN_DIM, [...goldenPairs(rng, 0, 60, 2, true), ...goldenPairs(rng, 60, seen, 1 + rng.int(10), false)]);
    policy.update({ itemId: 'i', context, arm }, rng.normal(), 0.5 + rng.uniform());
  }
  for (let d = 0; d < 6; d++) {
    const k = [13, 50, 7, 50, 33, 1][d]!;
    const context = goldenPairs(rng, 0, 60, 5, true);
    const arms: SparseVector[] = [];
    for (let i = 0; i < k; i++) {
      if (d === 2 && i % 3 === 2) {
        arms.push(arms[i - 1]!); // identical candidates: a rank-deficient score covariance
        continue;
      }
      // Keys ≥ `seen` were never folded; the context entries are common to every candidate.
      const own = goldenPairs(rng, 60, seen + 100, 3 + rng.int(14), false).filter(([key]) => !context.some(([c]) => c === key));
      arms.push(sparseFromPairs(GOLDEN_DIM, [...context, ...own]));
    }
    const input: DecisionFeatures = {
      dim: GOLDEN_DIM,
      itemIds: arms.map((_, i) => `c${i}`),
      context: sparseFromPairs(GOLDEN_DIM, context),
      arms,
    };
    const mean = new Float64Array(k);
    const sd = new Float64Array(k);
    policy.summarize(input, mean, sd);
    add(mean);
    add(sd);
    const draw = policy.prepare!(input, 1, 65);
    for (const rule of ['uncertain', 'uniform', 'outside-recent-groups'] as const) {
      const selection: SelectionInput = {
        groups: arms.map((_, i) => (i % 4 === 3 ? undefined : `g${i % 5}`)),
        cooledDown: Uint8Array.from(arms, (_, i) => (rule === 'uniform' && i % 6 === 1 ? 1 : 0)),
        recentGroups: new Set(['g1', 'g2']),
        sd,
      };
      const params: SelectionParams = { slots: 5, share: 0.3, exploreTokens: 2, floor: 0.01, maxGroupShare: 0.4, rule };
      const decision = createRng(`decision-${maxDenseDims}-${d}-${rule}`);
      const scores = new Float64Array(k);
      draw(decision, scores);
      add(scores);
      const choice = selectSlate(scores, selection, params, decision);
      add(choice.items.subarray(0, choice.length));
      add(choice.explored.subarray(0, choice.length));
      add(choice.cost.subarray(0, choice.length));
      const props = estimatePropensities(draw, selection, params, choice, k, 64, decision.fork('propensity'));
      add(props.position);
      add(props.slate);
      const st = decision.state();
      add([st.alea.c, st.alea.s0, st.alea.s1, st.alea.s2, st.spare ?? -1]);
    }
  }
}

describe('linear-gaussian score space on a trained posterior', () => {
  test('prepare after summarize (whose plan counts the entries) picks the method prepare alone picks, for every number of draws', () => {
    const build = () => {
      const rng = createRng('method');
      const policy = createLinearGaussian(linearGaussianConfigSchema.parse({ kind: 'linear-gaussian', structure: 'shared', maxDenseDims: 64 }));
      for (let t = 0; t < 120; t++) {
        const arm = sparseFromPairs(GOLDEN_DIM, goldenPairs(rng, 0, 60, 1 + rng.int(8), false));
        policy.update({ itemId: 'i', context: arm, arm }, rng.normal(), 1);
      }
      // 30 candidates over the 60 dense slots and 4 keys never seen: by the flop counts the
      // score space pays off from about 10 draws on.
      const arms = Array.from({ length: 30 }, () => sparseFromPairs(GOLDEN_DIM, goldenPairs(rng, 0, 64, 10, false)));
      const input: DecisionFeatures = { dim: GOLDEN_DIM, itemIds: arms.map((_, i) => `c${i}`), context: arms[0]!, arms };
      return { policy, input };
    };
    const planned = build();
    const alone = build();
    const a = new Float64Array(30);
    const b = new Float64Array(30);
    let methods = 0;
    let crossing = 0;
    let previous: number[] | null = null;
    // Two draws per sampler: θ space continues `sample`'s stream, score space does not.
    for (let draws = 1; draws <= 40; draws++) {
      planned.policy.summarize(planned.input, new Float64Array(30), new Float64Array(30));
      const p = planned.policy.prepare!(planned.input, 1, draws);
      const q = alone.policy.prepare!(alone.input, 1, draws);
      const ra = createRng('m');
      const rb = createRng('m');
      const got: number[] = [];
      for (let d = 0; d < 2; d++) {
        p(ra, a);
        q(rb, b);
        expect(Array.from(a)).toEqual(Array.from(b));
        got.push(...a);
      }
      if (previous !== null && got.some((x, i) => x !== previous![i])) {
        methods++;
        crossing = draws;
      }
      previous = got;
    }
    // The sweep crosses from θ space to score space once, after a few draws.
    expect(methods).toBe(1);
    expect(crossing).toBeGreaterThan(3);
  });

  test('sd, draws, slates and Monte-Carlo propensities are bit-identical to the implementation before the blocked loops (golden digest)', () => {
    // Recorded with the previous implementation (unblocked covariance, factor and selection).
    expect(goldenDigest()).toBe('aaa01e7aaeee8409f111bb2382be1a7164fa81958e53c14a89b54da44f35ee6d');
  });
});
