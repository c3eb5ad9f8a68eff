/**
 * Policy replicas in worker threads: the policy half of a rank (features, posterior sd, the
 * Thompson draw, the slate and its M Monte-Carlo propensity draws — most of a rank's CPU) runs
 * off the thread that serves HTTP, validates, keeps fatigue and budgets and writes SQLite, so a
 * 2-core machine serves with both cores.
 *
 * Consistency: a model with a replica canonicalizes its posterior (snapshot → restore) and sends
 * the same snapshot to the worker; from then on every posterior operation of the learning log
 * (update, decay) goes to the worker, in order, on its one message port. A decision is queued
 * after the operations folded before it, so the replica that computes it holds exactly the
 * posterior at the decision's `posteriorSeq` — the same state, the same code and the same seed:
 * the same slate and propensities as the model would compute itself (tested bit for bit).
 * The learning log stays the source of truth: while the replica is healthy, the model does not
 * update its own copy (Model.ensureCurrent rebuilds it from the latest snapshot and the log when
 * it is needed) and its periodic snapshots are serialized by the replica. A replica that fails
 * (worker error or exit, an operation that throws) is dropped and its model decides and learns
 * in its own thread again.
 */
import { Worker } from 'node:worker_threads';
import type { FeaturesConfig } from '../features/index.js';
import type { PolicyConfig } from '../policies/registry.js';
import type { PolicySnapshot } from '../policies/types.js';
import { OpLog, type DecisionOutcome, type PackedOps, type SourcedJob } from './decide.js';

/** One instruction to a replica worker. */
export type ToReplica =
  | {
      readonly type: 'init';
      readonly key: number;
      readonly policy: PolicyConfig;
      readonly features: FeaturesConfig;
      readonly snapshot: PolicySnapshot;
    }
  | { readonly type: 'ops'; readonly key: number; readonly ops: PackedOps }
  | { readonly type: 'decide'; readonly id: number; readonly key: number; readonly job: SourcedJob }
  | { readonly type: 'snapshot'; readonly id: number; readonly key: number }
  | { readonly type: 'drop'; readonly key: number };

/** One answer of a replica worker. */
export type FromReplica =
  | { readonly type: 'decided'; readonly id: number; readonly outcome: DecisionOutcome }
  | { readonly type: 'snapshotted'; readonly id: number; readonly snapshot: PolicySnapshot }
  | { readonly type: 'failed'; readonly id: number; readonly message: string }
  | { readonly type: 'rejected'; readonly id: number; readonly path: Array<string | number>; readonly message: string }
  | { readonly type: 'broken'; readonly key: number; readonly message: string }
  | { readonly type: 'applied'; readonly key: number; readonly seq: number };

/**
 * Instructions travel in batches: everything queued for a worker during one turn of the event
 * loop goes in one message (one wake-up of the worker instead of one per request), in queue
 * order, and the worker answers a batch with one message.
 */
export type ToReplicaBatch = readonly ToReplica[];
export type FromReplicaBatch = readonly FromReplica[];

/** Why a replica could not answer: the model decides in its own thread instead. */
export class ReplicaUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicaUnavailable';
  }
}

/** The request's features are invalid (the featurizer's error, computed in the worker). */
export class ReplicaRejected extends Error {
  constructor(
    message: string,
    readonly path: Array<string | number>,
  ) {
    super(message);
    this.name = 'ReplicaRejected';
  }
}

/** One model's replica, as the model sees it. */
export interface PolicyReplica {
  /** Record an update the model just folded (sent with the next flush, in order). */
  update(x: Parameters<OpLog['update']>[0], reward: number, weight: number): void;
  /** Record a decay the model just applied. */
  decay(gamma: number): void;
  /** The learning-log entry just folded (its seq): what `learnedSeq` reaches once applied. */
  mark(seq: number): void;
  /** The learning-log seq of the last entry the replica has applied (0 before any). */
  readonly learnedSeq: number;
  /**
   * Resolves once {@link learnedSeq} has reached `seq` — or once the replica stops mirroring
   * (failure, detach), when there is nothing left to wait for. Never rejects.
   */
  learned(seq: number): Promise<void>;
  /**
   * Featurize and decide on the replica (pending operations are sent first).
   * @throws ReplicaRejected (rejection) when the features are invalid (the featurizer's message
   *   and path); ReplicaUnavailable when the replica or its worker failed
   */
  decide(job: SourcedJob): Promise<DecisionOutcome>;
  /**
   * The replica's policy snapshot after every operation recorded so far (the model's posterior
   * at its current `posteriorSeq`, bit for bit).
   * @throws ReplicaUnavailable (rejection) when the replica or its worker failed
   */
  snapshot(): Promise<PolicySnapshot>;
  /** Whether the replica still mirrors the model (false after a failure or detach). */
  readonly healthy: boolean;
  /** Stop mirroring and free the worker's copy. */
  detach(): void;
}

const ENTRY = new URL('./replica-worker.mjs', import.meta.url);

interface Pending {
  resolve: (value: never) => void;
  reject: (e: Error) => void;
}

/** One worker thread hosting the replicas of many models. */
class ReplicaWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  /** Instructions not yet posted, in order. */
  private queue: ToReplica[] = [];
  private nextId = 1;
  dead: Error | null = null;
  /** Keys whose replica failed inside the worker. */
  readonly broken = new Map<number, string>();
  /** Per key: the learning-log seq of the last operations the worker has applied. */
  readonly applied = new Map<number, number>();
  /** Decisions queued or posted and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  constructor(
    private readonly schedule: () => void,
    onDeath: (error: Error) => void,
    onApplied: (key: number) => void,
  ) {
    this.worker = new Worker(ENTRY);
    // Idle workers must not keep the process alive; pending decisions ref it (see decide).
    this.worker.unref();
    this.worker.on('message', (batch: FromReplicaBatch) => {
      for (const m of batch) {
        if (m.type === 'broken') {
          this.broken.set(m.key, m.message);
          continue;
        }
        if (m.type === 'applied') {
          this.applied.set(m.key, Math.max(this.applied.get(m.key) ?? 0, m.seq));
          onApplied(m.key);
          continue;
        }
        const p = this.pending.get(m.id);
        if (!p) continue;
        this.pending.delete(m.id);
        if (m.type === 'decided') p.resolve(m.outcome as never);
        else if (m.type === 'snapshotted') p.resolve(m.snapshot as never);
        else if (m.type === 'rejected') p.reject(new ReplicaRejected(m.message, m.path));
        else p.reject(new ReplicaUnavailable(m.message));
      }
      if (this.pending.size === 0) this.worker.unref();
    });
    const die = (error: Error) => {
      if (this.dead) return;
      this.dead = error;
      this.queue = [];
      for (const p of this.pending.values()) p.reject(new ReplicaUnavailable(`replica worker failed: ${error.message}`));
      this.pending.clear();
      onDeath(error);
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`replica worker exited with code ${code}`)));
  }

  /** Queue an instruction (posted with the next flush). */
  post(m: ToReplica): void {
    if (this.dead) return;
    this.queue.push(m);
    this.schedule();
  }

  decide(key: number, job: SourcedJob): Promise<DecisionOutcome> {
    return this.request<DecisionOutcome>((id) => ({ type: 'decide', id, key, job }));
  }

  snapshot(key: number): Promise<PolicySnapshot> {
    return this.request<PolicySnapshot>((id) => ({ type: 'snapshot', id, key }));
  }

  private request<T>(make: (id: number) => ToReplica): Promise<T> {
    if (this.dead) return Promise.reject(new ReplicaUnavailable(`replica worker failed: ${this.dead.message}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (value: never) => void, reject });
      this.post(make(id));
    });
  }

  /** Post everything queued, as one batch. */
  flush(): void {
    if (this.dead || this.queue.length === 0) return;
    const batch: ToReplicaBatch = this.queue;
    this.queue = [];
    this.worker.postMessage(batch);
  }

  async terminate(): Promise<void> {
    if (!this.dead) this.dead = new Error('terminated');
    this.queue = [];
    for (const p of this.pending.values()) p.reject(new ReplicaUnavailable('replica worker terminated'));
    this.pending.clear();
    // Referenced until it has exited: an unreferenced worker would let the process end before
    // the rest of a graceful shutdown (closing the store) has run.
    this.worker.ref();
    await this.worker.terminate();
  }
}

/** Options of {@link PolicyReplicas}. */
export interface ReplicaOptions {
  /** Worker threads (≥ 1). Every model has a replica on every worker; decisions go to the least busy. */
  readonly threads: number;
  /** Called once per failure (a worker died, or a replica broke); the models fall back to their own thread. */
  readonly onError?: (error: Error) => void;
}

/** A pool of replica workers. */
export class PolicyReplicas {
  readonly threads: number;
  private readonly workers: ReplicaWorker[];
  private nextKey = 1;
  private closed = false;
  private flushScheduled = false;
  private readonly onError: (error: Error) => void;
  /** Per replica key: wakes its `learned` waiters (after an `applied`, a failure or a detach). */
  private readonly wakers = new Map<number, () => void>();

  /** @throws RangeError when threads is not a positive integer */
  constructor(options: ReplicaOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new RangeError(`threads must be a positive integer, got ${options.threads}`);
    }
    this.threads = options.threads;
    const onError = options.onError ?? (() => {});
    this.onError = (e) => {
      onError(e);
      // A dead worker no longer holds back `learnedSeq` (or nothing mirrors any more).
      for (const wake of [...this.wakers.values()]) wake();
    };
    const schedule = () => this.schedule();
    const onApplied = (key: number) => this.wakers.get(key)?.();
    this.workers = Array.from({ length: options.threads }, () => new ReplicaWorker(schedule, this.onError, onApplied));
  }

  /** Flush every worker's queue at the end of this turn of the event loop (after its I/O callbacks). */
  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const w of this.workers) w.flush();
    });
  }

  /** Whether at least one worker is alive. */
  get alive(): boolean {
    return !this.closed && this.workers.some((w) => w.dead === null);
  }

  /**
   * Mirror a policy whose state is `snapshot` (the caller must continue from exactly that state:
   * restore its own policy from the same snapshot), with the model's featurizer, and return the
   * model's handle. `seq`: the learning-log position of that state.
   */
  attach(policy: PolicyConfig, features: FeaturesConfig, snapshot: PolicySnapshot, seq = 0): PolicyReplica {
    const key = this.nextKey++;
    const workers = this.workers;
    const initialSeq = seq;
    for (const w of workers) w.post({ type: 'init', key, policy, features, snapshot });
    const log = new OpLog();
    let healthy = true;
    let scheduled = false;
    // Operations are queued behind everything queued before them (a decision queued earlier is
    // computed before them), and always before a later decision (see `decide`).
    const flush = () => {
      scheduled = false;
      if (!healthy || log.size === 0) return;
      const ops = log.take();
      for (const w of workers) w.post({ type: 'ops', key, ops });
    };
    const schedule = () => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(flush);
    };
    const onError = this.onError;
    const wakers = this.wakers;
    /** `learned` callers and the seq each waits for. */
    let waiting: Array<{ seq: number; resolve: () => void }> = [];
    const learnedSeq = () => {
      // Every live worker applies every operation: the slowest one is the replica's position.
      let at = Number.POSITIVE_INFINITY;
      for (const w of workers) if (w.dead === null) at = Math.min(at, w.applied.get(key) ?? initialSeq);
      return Number.isFinite(at) ? at : initialSeq;
    };
    const mirroring = () => healthy && workers.some((w) => w.dead === null);
    const wake = () => {
      if (waiting.length === 0) return;
      if (!mirroring()) {
        const all = waiting;
        waiting = [];
        for (const w of all) w.resolve();
        return;
      }
      const at = learnedSeq();
      const still = waiting.filter((w) => w.seq > at);
      if (still.length === waiting.length) return;
      for (const w of waiting) if (w.seq <= at) w.resolve();
      waiting = still;
    };
    wakers.set(key, wake);
    /** Stop mirroring: the workers free their copy. @returns false when already stopped */
    const stop = (): boolean => {
      if (!healthy) return false;
      healthy = false;
      for (const w of workers) w.post({ type: 'drop', key });
      wakers.delete(key);
      wake();
      return true;
    };
    const fail = (message: string) => {
      if (stop()) onError(new Error(message));
    };
    /** Send pending operations, then choose the least busy live worker (or say why there is none). */
    const pick = (): ReplicaWorker | ReplicaUnavailable => {
      if (!healthy) return new ReplicaUnavailable('replica detached');
      flush();
      let best: ReplicaWorker | null = null;
      for (const w of workers) {
        const why = w.broken.get(key);
        if (why !== undefined) {
          fail(`replica of a ${policy.kind} policy broke: ${why}`);
          return new ReplicaUnavailable(why);
        }
        if (w.dead === null && (best === null || w.inFlight < best.inFlight)) best = w;
      }
      return best ?? new ReplicaUnavailable('no replica worker alive');
    };
    return {
      get healthy() {
        return mirroring();
      },
      update(x, reward, weight) {
        if (!healthy) return;
        log.update(x, reward, weight);
        schedule();
      },
      decay(gamma) {
        if (!healthy) return;
        log.decay(gamma);
        schedule();
      },
      mark(seq) {
        if (healthy) log.mark(seq);
      },
      get learnedSeq() {
        return learnedSeq();
      },
      learned(seq) {
        if (!mirroring() || learnedSeq() >= seq) return Promise.resolve();
        return new Promise<void>((resolve) => {
          waiting.push({ seq, resolve });
        });
      },
      decide(job) {
        const w = pick();
        return w instanceof ReplicaUnavailable ? Promise.reject(w) : w.decide(key, job);
      },
      snapshot() {
        const w = pick();
        return w instanceof ReplicaUnavailable ? Promise.reject(w) : w.snapshot(key);
      },
      detach() {
        stop();
      },
    };
  }

  /** Stop every worker (pending decisions are rejected with ReplicaUnavailable). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
