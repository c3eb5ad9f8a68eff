/**
 * A candidate model config's probabilities on logged decisions, and its off-policy evaluation.
 *
 * For each logged decision the candidate's randomized rule (TS draw at its temperature → slate
 * selection with its budget share, rule, floor, caps; `policies/explore/select.ts`) is applied to
 * the posterior *as it was at that decision*: the learning log is folded in seq order up to the
 * decision's `posteriorSeq` while the decisions are walked in that order. A candidate whose
 * posterior-relevant config (policy, features, forgetting, fatigue-as-features: `posteriorKey`)
 * equals the model's shares the model's replayed posterior; one with another policy re-learns along
 * the same log (with the logged rewards and weights, as a reconfiguration of the engine does) —
 * i.e. it is evaluated as "this rule, trained on the logged data", not as if it had collected its
 * own.
 *
 * Per-user state the rule reads but the decision record does not hold is rebuilt from the log
 * in decision order: the recent groups (from the shown slates) and the per-user token bucket
 * (the candidate's rate and burst, refilled at each decision time, spent by the *logged* number
 * of explored slots — what the candidate would have spent is not observable). The cool-down
 * reads the fatigue counts logged with the candidates (`extra.item`, present when the model
 * logged fatigue features); without them no candidate is cooled down.
 *
 * Target probabilities are Monte-Carlo estimates over `draws` runs of the whole rule, the floor
 * mixture integrated analytically as in `explore/propensity.ts` — but without adding the logged
 * slate as a draw: that trick keeps *logging* propensities positive, but would bias a target's
 * probability toward the logged item. The estimate here is unbiased (E π̂_e = π_e), so IPS and
 * DR stay unbiased in expectation over the Monte-Carlo too. The streams of a decision are forked
 * from `rng.fork('target').fork(eventId)` (`scores`, `select`, `floor`) identically for every
 * candidate: common random numbers across the candidates of a sweep.
 */
import type { Rng } from '../core/rng.js';
import { parseModelConfig, posteriorKey, type ModelConfig } from '../engine/config.js';
import { LiubaiError } from '../engine/errors.js';
import { createFeaturizer, type Featurizer } from '../features/index.js';
import type { DecisionFeatures, Namespace } from '../features/types.js';
import {
  createPreparedSelector,
  createSlateChoice,
  floorMixtureProbability,
  groupCapOf,
  type PreparedSelector,
  type SelectionInput,
  type SelectionParams,
  type SlateChoice,
} from '../policies/explore/select.js';
import { availableTokens, refillBucket, takeTokens, type BucketState } from '../policies/explore/token-bucket.js';
import { createPolicy } from '../policies/registry.js';
import type { Policy } from '../policies/types.js';
import type { DecisionRecord, OutcomeRecord } from '../storage/types.js';
import { OpeInputError } from './errors.js';
import {
  estimateSlate,
  fitSlateRewardModel,
  onPolicyValue,
  slateLog,
  slateTarget,
  SLATE_ESTIMATORS,
  type CandidateScores,
  type ModelLog,
  type OnPolicyValue,
  type SlateEstimatorName,
  type SlateRewardModelOptions,
  type SlateRow,
  type SlateScope,
  type TargetMatrices,
} from './logged.js';

// ───────────────────────────── candidate configs ─────────────────────────────

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep-merge a candidate's fields over a base config: objects merge key by key, anything else
 * (numbers, strings, arrays, null) replaces. A `policy` naming another `kind` replaces the whole
 * policy section (its fields belong to the other kind).
 */
export function mergeConfig(base: unknown, patch: unknown): unknown {
  if (!isObject(base) || !isObject(patch)) return patch === undefined ? base : patch;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const before = base[key];
    if (key === 'policy' && isObject(before) && isObject(value) && value.kind !== undefined && value.kind !== before.kind) {
      out[key] = value;
    } else {
      out[key] = isObject(before) && isObject(value) ? mergeConfig(before, value) : value;
    }
  }
  return out;
}

/**
 * A candidate config: `patch` deep-merged over the model's stored config (see {@link mergeConfig}),
 * then validated by the model config schema.
 * @throws LiubaiError INVALID_CONFIG naming every offending field (e.g. `budget.share`)
 */
export function candidateConfig(base: unknown, patch: unknown): ModelConfig {
  if (patch !== undefined && !isObject(patch)) {
    throw new LiubaiError('INVALID_CONFIG', 'invalid candidate config: (root): must be a JSON object', [
      { path: [], message: 'must be a JSON object' },
    ]);
  }
  return parseModelConfig(mergeConfig(base, patch ?? {}));
}

// ───────────────────────────── posterior replay ─────────────────────────────

/**
 * A posterior rebuilt by folding a model's learning log in order, exactly as the engine's model
 * does (same featurization of the logged decision, retractions scaled by the forgetting they
 * underwent, decay every `decay.every` outcomes), so that after `advanceTo(s)` it equals the
 * engine's posterior at learning-log position s.
 */
export interface PosteriorReplay {
  readonly config: ModelConfig;
  readonly policy: Policy;
  readonly featurizer: Featurizer;
  /** Last seq folded. */
  readonly foldedSeq: number;
  /** Fold every outcome with seq ≤ `seq` not folded yet (never goes back). */
  advanceTo(seq: number): void;
}

/**
 * Start a posterior replay at the prior of `config`.
 * @param outcomes the learning log, in seq order
 * @param decisionOf the logged decision of an eventId (an outcome of an unknown decision is skipped, as in the engine)
 */
export function createPosteriorReplay(
  config: ModelConfig,
  outcomes: readonly OutcomeRecord[],
  decisionOf: (eventId: string) => DecisionRecord | undefined,
): PosteriorReplay {
  const policy = createPolicy(config.policy);
  const featurizer = createFeaturizer(config.features);
  const half = config.decay.halfLifeOutcomes;
  const gamma = half === null ? null : Math.pow(2, -1 / half);
  const every = config.decay.every ?? (half === null ? 1 : Math.max(1, Math.round(half / 100)));
  const useExtra = config.fatigue.enabled && config.fatigue.asFeatures;
  let next = 0;
  let ordinals = 0;
  let foldedSeq = 0;
  const fold = (o: OutcomeRecord): void => {
    const d = decisionOf(o.eventId);
    const c = d?.candidates.find((x) => x.id === o.itemId);
    if (d && c) {
      const df = featurizer.featurize(d.context, [c], [useExtra ? c.extra : undefined]);
      let weight = o.weight;
      if (o.retracts !== undefined && gamma !== null) {
        const steps = Math.floor(ordinals / every) - Math.floor(o.ordinal / every);
        weight *= Math.pow(gamma, every * steps);
      }
      if (weight !== 0) policy.update(featurizer.outcomeFeatures(df, 0), o.reward, weight);
    }
    foldedSeq = o.seq;
    if (o.retracts === undefined) {
      ordinals++;
      if (gamma !== null && ordinals % every === 0) policy.decay(Math.pow(gamma, every));
    }
  };
  return {
    config,
    policy,
    featurizer,
    get foldedSeq() {
      return foldedSeq;
    },
    advanceTo(seq: number) {
      while (next < outcomes.length && outcomes[next]!.seq <= seq) fold(outcomes[next++]!);
    },
  };
}

// ───────────────────────────── target probabilities ─────────────────────────────

/** One candidate's selection state for one decision. */
interface Member {
  /** Index of the candidate in the caller's list. */
  readonly index: number;
  readonly selector: PreparedSelector;
  counts: Float64Array;
  input: SelectionInput;
  params: SelectionParams;
  /** Floor-component probability q = min(1, floor·k/L). */
  q: number;
  capsCanBind: boolean;
  /** Needs Monte-Carlo runs of the non-floor rule. */
  rest: boolean;
}

function symmetric(
  sel: PreparedSelector,
  input: SelectionInput,
  params: SelectionParams,
  k: number,
  capsCanBind: boolean,
  q: number,
): boolean {
  if (capsCanBind) return false;
  for (let i = 0; i < k; i++) if (input.cooledDown[i] === 1) return false;
  if (params.share === 0 || Math.floor(params.exploreTokens) === 0 || q >= 1 || params.rule === 'uniform') return true;
  if (params.rule === 'outside-recent-groups') return sel.outsideCount === 0 || sel.outsideCount === k;
  const sd = input.sd;
  if (sd === null) return true;
  const w = (x: number) => (Number.isFinite(x) && x > 0 ? x : 0);
  for (let i = 1; i < k; i++) if (w(sd[i]!) !== w(sd[0]!)) return false;
  return true;
}

/**
 * π(candidate a at position l) for every (a, l) of one decision under each member's rule, into
 * `outs[m]` (k×L row-major): P = q·P_floor + (1 − q)·P_rest with q = min(1, floor·k/L); P_floor
 * is 1/k when no group cap can bind, else `draws` runs of the floor component; P_rest is `draws`
 * runs of (sample scores → the non-floor rule). Members at the same temperature share each score
 * draw (the draw does not depend on the budget), so a sweep over share/floor/rule costs one
 * posterior sampling per draw. With an exchangeable sampler and a rule that treats every
 * candidate alike the answer is exactly 1/k. Values are clamped to [0, 1] against rounding.
 */
function targetMatrices(
  sample: (rng: Rng, out: Float64Array, temperature: number) => void,
  exchangeable: boolean,
  members: readonly Member[],
  temperatures: readonly number[],
  k: number,
  L: number,
  draws: number,
  base: Rng,
  scores: Float64Array,
  zeros: Float64Array,
  sim: SlateChoice,
  outs: readonly Float64Array[],
): void {
  const pending: Member[] = [];
  members.forEach((m, j) => {
    const out = outs[j]!;
    out.fill(0, 0, k * L);
    if (L === 0) return;
    m.selector.prepare(m.input);
    m.capsCanBind = m.selector.maxGroupSize > groupCapOf(m.params.maxGroupShare, L);
    m.q = floorMixtureProbability(m.params.floor, k, L);
    m.rest = false;
    if (exchangeable && symmetric(m.selector, m.input, m.params, k, m.capsCanBind, m.q)) {
      out.fill(1 / k, 0, k * L);
      return;
    }
    if (m.q > 0) {
      if (m.capsCanBind) {
        const rng = base.fork('floor');
        const counts = m.counts;
        counts.fill(0, 0, k * L);
        for (let d = 0; d < draws; d++) {
          m.selector.selectPrepared(zeros, m.input, m.params, rng, sim, 'floor');
          for (let p = 0; p < L; p++) counts[sim.items[p]! * L + p]! += 1;
        }
        const f = m.q / draws;
        for (let i = 0; i < k * L; i++) out[i]! += f * counts[i]!;
      } else {
        for (let i = 0; i < k * L; i++) out[i]! += m.q / k;
      }
    }
    if (m.q < 1) {
      m.rest = true;
      m.counts.fill(0, 0, k * L);
      pending.push(m);
    }
  });
  for (const temperature of new Set(pending.map((m) => temperatures[m.index]!))) {
    const share = pending.filter((m) => temperatures[m.index] === temperature);
    const scoreRng = base.fork('scores');
    const selectRngs = share.map(() => base.fork('select'));
    for (let d = 0; d < draws; d++) {
      sample(scoreRng, scores, temperature);
      share.forEach((m, j) => {
        m.selector.selectPrepared(scores, m.input, m.params, selectRngs[j]!, sim, 'rest');
        for (let p = 0; p < L; p++) m.counts[sim.items[p]! * L + p]! += 1;
      });
    }
  }
  members.forEach((m, j) => {
    const out = outs[j]!;
    if (m.rest) {
      const f = (1 - m.q) / draws;
      for (let i = 0; i < k * L; i++) out[i]! += f * m.counts[i]!;
    }
    for (let i = 0; i < k * L; i++) out[i] = Math.min(1, Math.max(0, out[i]!));
  });
}

/** Per-user state a candidate's rule reads, rebuilt along the log. */
interface UserTrack {
  recentGroups: string[];
  bucket: BucketState | null;
}

/** Options of {@link computeTargets}. */
export interface TargetOptions {
  /** Monte-Carlo runs of the rule per decision and component (default 500). */
  readonly draws?: number;
  readonly rng: Rng;
  /** Called every 100 decisions of each posterior pass and at the end (for progress output). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What {@link computeTargets} returns. */
export interface CandidateTargets {
  /** Per candidate (same order as given), π_e(a at l) for every round. */
  readonly matrices: readonly TargetMatrices[];
  /** The model's own replayed posterior mean score per (round, candidate): the reward model's contextual feature. */
  readonly scores: CandidateScores;
}

/**
 * The target probabilities of several candidate configs on a model's logged rounds (see the
 * module documentation). Candidates sharing a `posteriorKey` share one replay of the log, and
 * those also sharing a temperature share every score draw; the model's own posterior is always
 * replayed (its mean scores feed the reward model).
 * Cost: per posterior pass, the log's folds plus, per round, `draws` posterior samples per
 * distinct temperature and `draws` selections per candidate — O(n·M·(T·sample + C·L·k)).
 * @throws OpeInputError `draws` when not an integer ≥ 1
 */
export function computeTargets(log: ModelLog, candidates: readonly ModelConfig[], options: TargetOptions): CandidateTargets {
  const draws = options.draws ?? 500;
  if (!Number.isInteger(draws) || draws < 1) throw new OpeInputError('draws', `must be an integer >= 1, got ${draws}`);
  const n = log.rounds.length;
  const decisionsById = new Map(log.decisions.map((d) => [d.decision.eventId, d.decision]));
  const decisionOf = (eventId: string) => decisionsById.get(eventId);

  // Offsets of the per-round tables: k_i entries for scores, k_i·L_i for matrices.
  const scoreOffsets = new Int32Array(n + 1);
  const matrixOffsets = new Int32Array(n + 1);
  let maxK = 0;
  let maxL = 0;
  log.rounds.forEach((r, i) => {
    const k = r.decision.candidates.length;
    maxK = Math.max(maxK, k);
    maxL = Math.max(maxL, r.decision.slate.length);
    scoreOffsets[i + 1] = scoreOffsets[i]! + k;
    matrixOffsets[i + 1] = matrixOffsets[i]! + k * r.decision.slate.length;
  });
  const scores = new Float64Array(scoreOffsets[n]!);
  const matrices: TargetMatrices[] = candidates.map(() => ({ offsets: matrixOffsets, values: new Float64Array(matrixOffsets[n]!) }));
  const temperatures = candidates.map((c) => c.budget.temperature);

  const modelKey = posteriorKey(log.config);
  const groups = new Map<string, number[]>([[modelKey, []]]);
  candidates.forEach((c, j) => {
    const key = posteriorKey(c);
    const list = groups.get(key);
    if (list) list.push(j);
    else groups.set(key, [j]);
  });
  const stream = options.rng.fork('target');
  const drawScores = new Float64Array(maxK);
  const zeros = new Float64Array(maxK);
  const sim = createSlateChoice(maxL);
  const total = groups.size * log.decisions.length;
  let done = 0;

  for (const [key, indices] of groups) {
    const isModel = key === modelKey;
    const replay = createPosteriorReplay(isModel ? log.config : candidates[indices[0]!]!, log.outcomes, decisionOf);
    const { policy, featurizer } = replay;
    const gcfg = replay.config;
    const useExtra = gcfg.fatigue.enabled && gcfg.fatigue.asFeatures;
    const trackers = indices.map((j) => createSelectionTracker(candidates[j]!));
    const members: Member[] = indices.map((index) => ({
      index,
      selector: createPreparedSelector(),
      counts: new Float64Array(maxK * maxL),
      input: { groups: [], cooledDown: new Uint8Array(0), recentGroups: new Set(), sd: null },
      params: { slots: 1, share: 0, exploreTokens: 0, floor: 0, maxGroupShare: 1, rule: 'uniform' },
      q: 0,
      capsCanBind: false,
      rest: false,
    }));
    const needSd = indices.some((j) => candidates[j]!.budget.rule === 'uncertain' && candidates[j]!.budget.share > 0);
    let roundIndex = 0;
    for (const logged of log.decisions) {
      const d = logged.decision;
      replay.advanceTo(d.posteriorSeq);
      if (logged.rewards !== null) {
        const i = roundIndex++;
        const k = d.candidates.length;
        const L = d.slate.length;
        const extras: Array<Namespace | undefined> = d.candidates.map((c) => (useExtra ? c.extra : undefined));
        const features: DecisionFeatures = featurizer.featurize(d.context, d.candidates, extras);
        let sd: Float64Array | null = null;
        if (isModel || needSd) {
          const mean = new Float64Array(k);
          sd = new Float64Array(k);
          policy.summarize(features, mean, sd);
          if (isModel) scores.set(mean, scoreOffsets[i]!);
        }
        if (members.length > 0) {
          members.forEach((m, j) => {
            m.input = trackers[j]!.input(d, sd);
            m.params = trackers[j]!.params(d);
          });
          targetMatrices(
            (r, o, t) => policy.sample(features, r, o, t),
            policy.exchangeable === true,
            members,
            temperatures,
            k,
            L,
            draws,
            stream.fork(d.eventId), // the same streams for every candidate: common random numbers
            drawScores,
            zeros,
            sim,
            members.map((m) => matrices[m.index]!.values.subarray(matrixOffsets[i]!, matrixOffsets[i + 1]!)),
          );
        }
      }
      trackers.forEach((t) => t.advance(d));
      // Progress every 100 decisions (and at the end), so a terminal is not flooded.
      if (++done % 100 === 0 || done === total) options.onProgress?.(done, total);
    }
  }
  return { matrices, scores: { offsets: scoreOffsets, values: scores } };
}

/**
 * The selection inputs of a config's rule on logged decisions, with the per-user state the rule
 * reads but a decision record does not hold, rebuilt by walking the decisions in order (see the
 * module documentation): `input`/`params` for the next decision, then `advance` past it.
 */
export interface SelectionTracker {
  /** The rule's per-candidate input for decision `d` (`sd`: posterior sd per candidate, for the `uncertain` rule). */
  input(d: DecisionRecord, sd: Float64Array | null): SelectionInput;
  /** The rule's parameters for decision `d` (slots = its slate length; tokens from the user's bucket). */
  params(d: DecisionRecord): SelectionParams;
  /** Move the per-user state past decision `d` (recent groups; tokens spent by its logged explored slots). */
  advance(d: DecisionRecord): void;
}

/** A {@link SelectionTracker} for `config`'s rule, starting with no per-user history. */
export function createSelectionTracker(config: ModelConfig): SelectionTracker {
  const tracks = new Map<string, UserTrack>();
  const trackOf = (d: DecisionRecord) => (d.userId === undefined ? null : (tracks.get(d.userId) ?? null));
  return {
    input: (d, sd) => selectionInput(d, config, trackOf(d), sd),
    params: (d) => selectionParams(d, config, trackOf(d), d.slate.length),
    advance: (d) => advanceTrack(tracks, d, config),
  };
}

function selectionInput(d: DecisionRecord, c: ModelConfig, track: UserTrack | null, sd: Float64Array | null): SelectionInput {
  const k = d.candidates.length;
  const cooledDown = new Uint8Array(k);
  if (c.fatigue.enabled && d.userId !== undefined) {
    d.candidates.forEach((cand, i) => {
      const item = cand.extra?.item;
      if (typeof item === 'number' && item >= c.fatigue.coolDownAfter) cooledDown[i] = 1;
    });
  }
  return {
    groups: d.candidates.map((x) => x.group),
    cooledDown,
    recentGroups: new Set(track?.recentGroups ?? []),
    sd: c.budget.rule === 'uncertain' && c.budget.share > 0 ? sd : null,
  };
}

function selectionParams(d: DecisionRecord, c: ModelConfig, track: UserTrack | null, L: number): SelectionParams {
  let exploreTokens = Number.POSITIVE_INFINITY;
  const perUser = c.budget.perUser;
  if (perUser && d.userId !== undefined) {
    const bucket = refillBucket(track?.bucket ?? { tokens: perUser.burst, updatedAt: d.at }, d.at, perUser.ratePerHour, perUser.burst);
    exploreTokens = availableTokens(bucket);
  }
  return {
    slots: Math.max(1, L),
    share: c.budget.share,
    exploreTokens,
    floor: c.budget.floor,
    maxGroupShare: c.budget.maxGroupShare,
    rule: c.budget.rule,
  };
}

/** The user's state after decision d, as the engine updates it (with the logged explored slots). */
function advanceTrack(tracks: Map<string, UserTrack>, d: DecisionRecord, c: ModelConfig): void {
  if (d.userId === undefined) return;
  const before = tracks.get(d.userId) ?? { recentGroups: [], bucket: null };
  const byId = new Map(d.candidates.map((x) => [x.id, x.group]));
  const shown = d.slate.map((s) => byId.get(s.itemId)).filter((g): g is string => g !== undefined);
  const recentGroups: string[] = [];
  for (const g of [...shown, ...before.recentGroups]) {
    if (!recentGroups.includes(g)) recentGroups.push(g);
    if (recentGroups.length >= c.budget.recentGroups) break;
  }
  let bucket = before.bucket;
  const perUser = c.budget.perUser;
  if (perUser) {
    const refilled = refillBucket(bucket ?? { tokens: perUser.burst, updatedAt: d.at }, d.at, perUser.ratePerHour, perUser.burst);
    bucket = takeTokens(refilled, d.slate.filter((s) => s.explored).length);
  }
  tracks.set(d.userId, { recentGroups, bucket });
}

// ───────────────────────────── evaluation ─────────────────────────────

/** Options of {@link evaluateCandidates}. */
export interface EvaluateCandidatesOptions {
  /** Estimators, in row order (default ips, snips, dm, dr, sndr). */
  readonly estimators?: readonly SlateEstimatorName[];
  /** Scopes, in row order (default slate then top). */
  readonly scopes?: readonly SlateScope[];
  /** Weight clipping c > 0 (default ∞). */
  readonly clip?: number;
  /** Monte-Carlo runs per decision for the target probabilities (default 500). */
  readonly draws?: number;
  readonly interval?: { readonly method?: 'bootstrap' | 'normal' | 'none'; readonly level?: number; readonly resamples?: number };
  /** The DM/DR reward model. */
  readonly rewardModel?: SlateRewardModelOptions;
  readonly rng: Rng;
  readonly onProgress?: (done: number, total: number) => void;
}

/** One candidate's rows. */
export interface CandidateEvaluation {
  readonly rows: readonly SlateRow[];
}

/** What {@link evaluateCandidates} returns. */
export interface CandidatesReport {
  /** The logging policy's own value (mean observed reward) per scope. */
  readonly onPolicy: readonly OnPolicyValue[];
  /** Per candidate, in the order given. */
  readonly candidates: readonly CandidateEvaluation[];
  /** Reward model used by DM/DR (null when neither is requested). */
  readonly rewardModel: { readonly kind: 'logistic' | 'ridge'; readonly dimension: number; readonly folds: number } | null;
}

/**
 * Off-policy evaluation of candidate configs on a model's logged rounds: target probabilities
 * ({@link computeTargets}), a cross-fitted reward model when DM/DR/SNDR are asked for, then the
 * position-wise estimators with intervals (`estimateSlate`), next to the logging policy's
 * on-policy value (`onPolicyValue`). Interval streams are forked from `rng` by label, so the
 * table does not depend on which other estimators were requested.
 * @throws OpeInputError naming the field (estimators, clip, draws, interval, reward model)
 */
export function evaluateCandidates(log: ModelLog, candidates: readonly ModelConfig[], options: EvaluateCandidatesOptions): CandidatesReport {
  const estimators = [...new Set(options.estimators ?? SLATE_ESTIMATORS)];
  for (const e of estimators) {
    if (!(SLATE_ESTIMATORS as readonly string[]).includes(e)) {
      throw new OpeInputError('estimators', `unknown estimator ${JSON.stringify(e)} (known: ${SLATE_ESTIMATORS.join(', ')})`);
    }
  }
  if (estimators.length === 0) throw new OpeInputError('estimators', 'name at least one estimator');
  const clip = options.clip ?? Number.POSITIVE_INFINITY;
  if (!(clip > 0)) throw new OpeInputError('clip', `must be > 0, got ${clip}`);
  const scopes = options.scopes ?? (['slate', 'top'] as const);
  const interval = { method: options.interval?.method ?? 'bootstrap', level: options.interval?.level ?? 0.95, resamples: options.interval?.resamples ?? 1000 };
  const rng = options.rng;

  const targets = computeTargets(log, candidates, {
    rng,
    ...(options.draws !== undefined ? { draws: options.draws } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const needsModel = estimators.some((e) => e === 'dm' || e === 'dr' || e === 'sndr');
  const model = needsModel ? fitSlateRewardModel(log, targets.scores, options.rewardModel) : undefined;
  const arrays = slateLog(log);
  const intervalOptions = { ...interval, rng: rng.fork('interval') };
  const onPolicy = scopes.map((scope) => onPolicyValue(arrays, scope, intervalOptions));
  const evaluations = targets.matrices.map((matrices) => {
    const target = slateTarget(log, matrices, model);
    const rows = scopes.flatMap((scope) => estimateSlate(arrays, target, { estimators, scope, clip, ...intervalOptions }));
    return { rows };
  });
  return {
    onPolicy,
    candidates: evaluations,
    rewardModel: model ? { kind: model.kind, dimension: model.dimension, folds: model.folds } : null,
  };
}
