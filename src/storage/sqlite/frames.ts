/**
 * What the SQLite store defers to the end of a transaction, per nesting level (frame): row-count
 * deltas per model and the latest user state written per (model, user). Pure bookkeeping, no
 * SQLite: the store pushes a frame when a transaction (or savepoint) begins, merges it into the
 * frame below when a nested one succeeds, drops it when one fails, and writes the outermost one
 * to the database just before its COMMIT (or RELEASE, in a commit group). So the deferred writes
 * land in the same SQLite transaction as everything else the caller wrote, and roll back with it.
 *
 * Why: a trigger per counted row cost ≈ 2 µs each (7 per rank, 3 per feedback event), where one
 * upsert per transaction does; and a feedback batch rewrites the same user's state once per
 * event, where only the last one needs to reach the database.
 *
 * A model deleted inside a frame (deleteModel) voids what frames below it pending for that model:
 * those writes happened before the delete, which removed their rows.
 */

/** Index of each counter in a delta vector: decisions, feedback, outcomes, ledger, open windows. */
export const COUNTER = { decisions: 0, feedback: 1, outcomes: 2, ledger: 3, openWindows: 4 } as const;

/** Counter deltas of one model, indexed by {@link COUNTER}. */
export type CountDeltas = [number, number, number, number, number];

/** One level of transaction nesting. */
export class Frame {
  /** Counter deltas per model. */
  readonly counts = new Map<string, CountDeltas>();
  /** The latest state written per model and user (not yet in the database). */
  readonly users = new Map<string, Map<string, unknown>>();
  /** Models deleted in this frame (their rows are gone from the database already). */
  readonly deleted = new Set<string>();

  /** Whether nothing is pending (a read-only transaction). */
  get empty(): boolean {
    return this.counts.size === 0 && this.users.size === 0 && this.deleted.size === 0;
  }

  clear(): void {
    this.counts.clear();
    this.users.clear();
    this.deleted.clear();
  }
}

/** Outcome of {@link WriteFrames.pendingUser} when a frame deleted the model: no state. */
export const DELETED: unique symbol = Symbol('deleted');

/** A stack of {@link Frame}s, bottom = the outermost transaction. Frames are pooled. */
export class WriteFrames {
  private readonly stack: Frame[] = [];
  private readonly pool: Frame[] = [];

  /** Current nesting depth (0 outside any transaction). */
  get depth(): number {
    return this.stack.length;
  }

  /** The innermost frame. @throws Error outside a transaction */
  get top(): Frame {
    const f = this.stack[this.stack.length - 1];
    if (!f) throw new Error('no transaction frame');
    return f;
  }

  /** Begin a frame (a transaction or savepoint begins). */
  push(): void {
    this.stack.push(this.pool.pop() ?? new Frame());
  }

  /** Drop the innermost frame and what it deferred (its transaction failed). */
  discard(): void {
    const f = this.stack.pop();
    if (f) this.recycle(f);
  }

  /**
   * Merge the innermost frame into the one below (a nested transaction succeeded): a model it
   * deleted voids the lower frame's pending writes of that model; then its deltas add up and its
   * user states replace the lower ones.
   * @throws Error at depth < 2
   */
  merge(): void {
    if (this.stack.length < 2) throw new Error('merge needs a frame below');
    const child = this.stack.pop()!;
    const parent = this.stack[this.stack.length - 1]!;
    for (const m of child.deleted) {
      parent.counts.delete(m);
      parent.users.delete(m);
      parent.deleted.add(m);
    }
    for (const [m, d] of child.counts) {
      const p = parent.counts.get(m);
      if (p) for (let i = 0; i < 5; i++) p[i]! += d[i]!;
      else parent.counts.set(m, [d[0], d[1], d[2], d[3], d[4]]);
    }
    for (const [m, users] of child.users) {
      const p = parent.users.get(m);
      if (p) for (const [u, s] of users) p.set(u, s);
      else parent.users.set(m, new Map(users));
    }
    this.recycle(child);
  }

  /** Pop the outermost frame once the store has written it; it returns to the pool. */
  release(): void {
    if (this.stack.length !== 1) throw new Error('release needs exactly the outermost frame');
    this.recycle(this.stack.pop()!);
  }

  /** Add `delta` to counter `index` of `modelId` in the innermost frame. */
  count(modelId: string, index: number, delta: number): void {
    const top = this.top;
    let d = top.counts.get(modelId);
    if (!d) top.counts.set(modelId, (d = [0, 0, 0, 0, 0]));
    d[index]! += delta;
  }

  /** Defer a user state write to the end of the outermost transaction. */
  putUser(modelId: string, userId: string, state: unknown): void {
    const top = this.top;
    let users = top.users.get(modelId);
    if (!users) top.users.set(modelId, (users = new Map()));
    users.set(userId, state);
  }

  /**
   * The pending state of a user: a frame's value (innermost first), {@link DELETED} when a frame
   * deleted the model before any later write, or `undefined` when nothing is pending (read the
   * database).
   */
  pendingUser(modelId: string, userId: string): unknown {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const f = this.stack[i]!;
      const users = f.users.get(modelId);
      if (users?.has(userId)) return users.get(userId);
      if (f.deleted.has(modelId)) return DELETED;
    }
    return undefined;
  }

  /** Mark `modelId` deleted in the innermost frame (its own pending writes of it go too). */
  deleted(modelId: string): void {
    const top = this.top;
    top.counts.delete(modelId);
    top.users.delete(modelId);
    top.deleted.add(modelId);
  }

  /**
   * Pending deltas per model, to add to the database's counters: the sum over frames from the
   * innermost down to (and including) the first frame that deleted the model.
   */
  pendingCounts(): Map<string, CountDeltas> {
    const out = new Map<string, CountDeltas>();
    const stopped = new Set<string>();
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const f = this.stack[i]!;
      for (const [m, d] of f.counts) {
        if (stopped.has(m)) continue;
        const o = out.get(m);
        if (o) for (let j = 0; j < 5; j++) o[j]! += d[j]!;
        else out.set(m, [d[0], d[1], d[2], d[3], d[4]]);
      }
      for (const m of f.deleted) stopped.add(m);
    }
    return out;
  }

  private recycle(f: Frame): void {
    f.clear();
    if (this.pool.length < 8) this.pool.push(f);
  }
}
