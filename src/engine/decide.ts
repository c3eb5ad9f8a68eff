/**
 * The policy half of a rank, as one pure function: posterior sd (for the `uncertain` rule), the
 * decision's own Thompson draw, the slate, and its Monte-Carlo propensities. Given the learned
 * state and a {@link DecisionJob}, the result is a deterministic function of the job's seed, so
 * the same job gives the same slate whether it runs in the model's thread or on a policy replica
 * in a worker thread (see replicas.ts).
 *
 * Also the flat encoding that carries posterior updates across threads: one Int32Array /
 * Float64Array pair (CSR rows) per message instead of two small typed arrays per sparse vector,
 * which structured cloning copies one by one.
 */
import { createRng } from '../core/rng.js';
import type { Candidate, DecisionFeatures, Namespace, NamespacedFeatures, OutcomeFeatures, SparseVector } from '../features/types.js';
import { estimatePropensities } from '../policies/explore/propensity.js';
import { selectSlate, type SelectionInput, type SelectionParams } from '../policies/explore/select.js';
import type { Policy } from '../policies/types.js';
import type { LoggedCandidate } from '../storage/types.js';

/** Everything the policy half of a rank needs besides the learned state. */
export interface DecisionJob {
  readonly features: DecisionFeatures;
  /** Group per candidate (undefined: its own singleton group). */
  readonly groups: ReadonlyArray<string | undefined>;
  /** 1 = cooled down (excluded from exploitation slots). */
  readonly cooledDown: Uint8Array;
  /** The person's recent groups, newest first. */
  readonly recentGroups: readonly string[];
  readonly params: SelectionParams;
  /** Whether the rule needs the posterior sd (`uncertain` with a positive share). */
  readonly needSd: boolean;
  /** The decision seed (hash of model seed, version and eventId). */
  readonly seed: string;
  readonly temperature: number;
  /** Monte-Carlo propensity draws M (the decision's own draw comes on top). */
  readonly draws: number;
}

/**
 * The candidates as a decision record logs them: id, features, group and the fatigue features
 * the decision saw (built here for both threads, so a replica's JSON of them is the same text).
 */
export function loggedCandidates(candidates: readonly Candidate[], extras: ReadonlyArray<Namespace | undefined>): LoggedCandidate[] {
  return candidates.map((c, i) => ({
    id: c.id,
    ...(c.features !== undefined ? { features: c.features } : {}),
    ...(c.group !== undefined ? { group: c.group } : {}),
    ...(extras[i] !== undefined ? { extra: extras[i] } : {}),
  }));
}

/** The slate and its propensities, per position (arrays of length `length`). */
export interface DecisionOutcome {
  readonly length: number;
  /** Candidate index per position. */
  readonly items: Int32Array;
  /** 1 where the position is a serendipity slot. */
  readonly explored: Uint8Array;
  /** Exploration cost per position (0 for exploitation slots). */
  readonly cost: Float64Array;
  readonly position: Float64Array;
  readonly slate: Float64Array;
  /** Whether the whole slate came from the propensity floor's uniform component (select.ts). */
  readonly floor: boolean;
  /** `JSON.stringify(loggedCandidates(…))`, when a replica computed it (the store's text of them). */
  readonly candidatesJson?: string;
}

/**
 * Run the policy half of a rank on `policy`: sd (when needed), the own draw (`sample` on the
 * decision's stream), `selectSlate`, then M propensity draws (`prepare(features, T, M)`) on the
 * fork `propensity` of that stream. The own draw never goes through the prepared sampler, whose
 * method (and so its random stream) depends on M: the slate of a (seed, posterior) is the same
 * whatever the number of propensity draws — only its estimated propensities are (DESIGN.md:
 * "the decision's own draw is unchanged"). The prepared draws have the same law as `sample`.
 * @throws RangeError from the policy or the selection (bad temperature, shapes, parameters)
 */
export function decide(policy: Policy, job: DecisionJob): DecisionOutcome {
  const { features, temperature, draws } = job;
  const k = features.arms.length;
  let sd: Float64Array | null = null;
  if (job.needSd) {
    sd = new Float64Array(k);
    policy.summarize(features, new Float64Array(k), sd);
  }
  const input: SelectionInput = { groups: job.groups, cooledDown: job.cooledDown, recentGroups: new Set(job.recentGroups), sd };
  const rng = createRng(job.seed);
  const scores = new Float64Array(k);
  policy.sample(features, rng, scores, temperature);
  const choice = selectSlate(scores, input, job.params, rng);
  const draw = policy.prepare
    ? policy.prepare(features, temperature, draws)
    : (r: typeof rng, out: Float64Array) => policy.sample(features, r, out, temperature);
  const props = estimatePropensities(draw, input, job.params, choice, k, draws, rng.fork('propensity'), {
    exchangeable: policy.exchangeable === true,
  });
  const n = choice.length;
  return {
    length: n,
    items: choice.items.slice(0, n),
    explored: choice.explored.slice(0, n),
    cost: choice.cost.slice(0, n),
    position: props.position.slice(0, n),
    slate: props.slate.slice(0, n),
    floor: choice.floorComponent,
  };
}

// ───────────────────────────── flat encodings ─────────────────────────────

/** Sparse rows in CSR form: row r is entries [offsets[r], offsets[r + 1]). */
export interface PackedRows {
  readonly dim: number;
  readonly offsets: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/** Pack sparse vectors (their first `nnz` entries) as CSR rows, in order. */
export function packRows(dim: number, rows: readonly SparseVector[]): PackedRows {
  let total = 0;
  for (const r of rows) total += r.nnz;
  const offsets = new Int32Array(rows.length + 1);
  const indices = new Int32Array(total);
  const values = new Float64Array(total);
  let at = 0;
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r]!;
    indices.set(v.indices.subarray(0, v.nnz), at);
    values.set(v.values.subarray(0, v.nnz), at);
    at += v.nnz;
    offsets[r + 1] = at;
  }
  return { dim, offsets, indices, values };
}

/** Row `r` of packed rows as a sparse vector (views, no copy). */
export function unpackRow(p: PackedRows, r: number): SparseVector {
  const a = p.offsets[r]!;
  const b = p.offsets[r + 1]!;
  return { dim: p.dim, nnz: b - a, indices: p.indices.subarray(a, b), values: p.values.subarray(a, b) };
}

/** What the features of a decision are computed from (a replica featurizes in its own thread). */
export type FeatureSource =
  | {
      readonly context: NamespacedFeatures;
      readonly candidates: readonly Candidate[];
      /** Fatigue features per candidate (undefined: none). */
      readonly extras: ReadonlyArray<Namespace | undefined>;
    }
  | {
      /**
       * The validated rank request as the JSON text it arrived in: a string crosses to a worker
       * thread for a fraction of the cost of cloning the parsed object graph (and JSON.parse
       * rebuilds it faster than the clone's deserializer), see {@link sourceOf}.
       */
      readonly json: string;
      readonly extras: ReadonlyArray<Namespace | undefined>;
    };

/**
 * The context and candidates of a feature source. For JSON text, the request body that was
 * validated: JSON.parse of the same text gives the same values in the same key order as the
 * parse the schema checked (the schema transforms nothing but an absent context, which is `{}`).
 */
export function sourceOf(source: FeatureSource): { context: NamespacedFeatures; candidates: readonly Candidate[] } {
  if (!('json' in source)) return source;
  const body = JSON.parse(source.json) as { context?: NamespacedFeatures; candidates: readonly Candidate[] };
  return { context: body.context ?? {}, candidates: body.candidates };
}

/**
 * Whether a request body may travel as JSON text ({@link FeatureSource}): not when a key is
 * `__proto__`, which JSON.parse keeps as a plain key but an object built by assignment does
 * not, so the validated object and the re-parsed text could differ.
 */
export function jsonSourceable(json: string | undefined): json is string {
  return json !== undefined && !json.includes('__proto__');
}

/** A decision job whose features are still to be computed, from `source`. */
export type SourcedJob = Omit<DecisionJob, 'features'> & { readonly source: FeatureSource };

/**
 * The posterior operations of a stretch of the learning log, in order: `update(x, reward,
 * weight)` (kind 0; rows 2j and 2j + 1 are its context and arm) and `decay(gamma)` (kind 1).
 */
export interface PackedOps {
  readonly kinds: Uint8Array;
  /** Per op: [reward, weight] for an update, [gamma, 0] for a decay. */
  readonly nums: Float64Array;
  /** Per op: the item id of an update ('' for a decay). */
  readonly itemIds: readonly string[];
  /** Two rows per update (context, arm), in op order. */
  readonly rows: PackedRows;
  /** Learning-log seq of the last entry these operations come from (0: not known). */
  readonly seq: number;
}

/** Collects posterior operations until they are sent (see {@link PackedOps}). */
export class OpLog {
  private kinds: number[] = [];
  private nums: number[] = [];
  private itemIds: string[] = [];
  private rows: SparseVector[] = [];
  private dim = 0;
  private seq = 0;

  get size(): number {
    return this.kinds.length;
  }

  update(x: OutcomeFeatures, reward: number, weight: number): void {
    this.kinds.push(0);
    this.nums.push(reward, weight);
    this.itemIds.push(x.itemId);
    this.dim = x.arm.dim;
    // Kept until the next take(): `x` must not change meanwhile (Featurizer.outcomeFeatures
    // returns fresh vectors).
    this.rows.push(x.context, x.arm);
  }

  decay(gamma: number): void {
    this.kinds.push(1);
    this.nums.push(gamma, 0);
    this.itemIds.push('');
  }

  /** The learning-log entry the operations so far come from (its seq). */
  mark(seq: number): void {
    this.seq = seq;
  }

  /** The ops collected so far, packed; the log is then empty. */
  take(): PackedOps {
    const ops: PackedOps = {
      kinds: Uint8Array.from(this.kinds),
      nums: Float64Array.from(this.nums),
      itemIds: this.itemIds,
      rows: packRows(this.dim, this.rows),
      seq: this.seq,
    };
    this.kinds = [];
    this.nums = [];
    this.itemIds = [];
    this.rows = [];
    return ops;
  }
}

/** Apply packed ops to `policy`, in order. */
export function applyOps(policy: Policy, ops: PackedOps): void {
  let row = 0;
  for (let j = 0; j < ops.kinds.length; j++) {
    if (ops.kinds[j] === 0) {
      const x: OutcomeFeatures = { itemId: ops.itemIds[j]!, context: unpackRow(ops.rows, row), arm: unpackRow(ops.rows, row + 1) };
      row += 2;
      policy.update(x, ops.nums[2 * j]!, ops.nums[2 * j + 1]!);
    } else {
      policy.decay(ops.nums[2 * j]!);
    }
  }
}
