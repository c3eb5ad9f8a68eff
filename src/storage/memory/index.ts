/**
 * The in-memory store: for simulations and tests. Same contract as the SQLite store, including
 * atomic transactions (an undo log rolls back every write of a failed transaction) and savepoint
 * semantics for nested ones.
 */
import {
  StoreConflict,
  type BudgetTotals,
  type DecisionRecord,
  type FeedbackRecord,
  type LedgerEntry,
  type ModelRecord,
  type NewOutcome,
  type OpenImpression,
  type OutcomeRecord,
  type SnapshotRecord,
  type Store,
  type UserState,
} from '../types.js';
import { TimeHeap } from '../../core/heap.js';

interface ModelData {
  decisions: Map<string, DecisionRecord>;
  /** Open windows by impression key; `n` names the heap entry that belongs to this opening. */
  windows: Map<string, OpenWindow>;
  /**
   * Min-heap of window keys by (deadline, insertion). An entry is live while `windows` holds its
   * key with the same `n`; entries of closed (or closed and re-opened) windows are dropped lazily.
   */
  heap: TimeHeap<HeapEntry>;
  feedback: Set<string>;
  outcomes: OutcomeRecord[];
  active: Map<string, number>;
  bySeq: Map<number, OutcomeRecord>;
  snapshots: Map<string, SnapshotRecord>;
  ledger: LedgerEntry[];
  users: Map<string, UserState>;
  feedbackCount: number;
}

interface OpenWindow {
  readonly w: OpenImpression;
  readonly n: number;
}

interface HeapEntry {
  /** The window's deadline. */
  readonly at: number;
  readonly n: number;
  readonly key: string;
}

const impressionKey = (eventId: string, itemId: string) => `${eventId.length}:${eventId}|${itemId}`;

/** A {@link Store} in memory. Not durable: for simulations, tests and benchmarks. */
export class MemoryStore implements Store {
  private readonly models = new Map<string, ModelRecord>();
  private readonly data = new Map<string, ModelData>();
  private seq = 0;
  private heapCounter = 0;
  /** Undo log of the running transaction (null outside one). */
  private undo: Array<() => void> | null = null;

  private model(modelId: string): ModelData {
    let d = this.data.get(modelId);
    if (!d) {
      d = {
        decisions: new Map(),
        windows: new Map(),
        heap: new TimeHeap<HeapEntry>(),
        feedback: new Set(),
        outcomes: [],
        active: new Map(),
        bySeq: new Map(),
        snapshots: new Map(),
        ledger: [],
        users: new Map(),
        feedbackCount: 0,
      };
      this.data.set(modelId, d);
    }
    return d;
  }

  private onUndo(fn: () => void): void {
    this.undo?.push(fn);
  }

  /**
   * Run `fn` atomically. A nested call joins the outer transaction as a savepoint (as SQLite's
   * does): its writes commit with the outer one, and if it throws only its own writes are undone
   * before the error propagates, so an outer `fn` that catches the error keeps its other writes.
   */
  transaction<T>(fn: () => T): T {
    const outer = this.undo === null;
    const undo = this.undo ?? [];
    this.undo = undo;
    const mark = undo.length;
    try {
      const result = fn();
      if (outer) this.undo = null;
      return result;
    } catch (error) {
      for (let i = undo.length - 1; i >= mark; i--) undo[i]!();
      undo.length = mark;
      if (outer) this.undo = null;
      throw error;
    }
  }

  putModel(record: ModelRecord): void {
    const before = this.models.get(record.modelId);
    this.models.set(record.modelId, record);
    this.onUndo(() => (before ? this.models.set(record.modelId, before) : this.models.delete(record.modelId)));
  }

  getModel(modelId: string): ModelRecord | undefined {
    return this.models.get(modelId);
  }

  listModels(): ModelRecord[] {
    return [...this.models.values()].sort((a, b) => (a.modelId < b.modelId ? -1 : 1));
  }

  deleteModel(modelId: string): boolean {
    const before = this.models.get(modelId);
    const data = this.data.get(modelId);
    if (!before) return false;
    this.models.delete(modelId);
    this.data.delete(modelId);
    this.onUndo(() => {
      this.models.set(modelId, before);
      if (data) this.data.set(modelId, data);
    });
    return true;
  }

  insertDecision(record: DecisionRecord): void {
    const d = this.model(record.modelId);
    if (d.decisions.has(record.eventId)) {
      throw new StoreConflict(`decision ${record.eventId} exists already`);
    }
    d.decisions.set(record.eventId, record);
    this.onUndo(() => d.decisions.delete(record.eventId));
  }

  getDecision(modelId: string, eventId: string): DecisionRecord | undefined {
    return this.data.get(modelId)?.decisions.get(eventId);
  }

  exposeDecision(modelId: string, eventId: string, at: number, windows: readonly OpenImpression[]): boolean {
    const d = this.model(modelId);
    const before = d.decisions.get(eventId);
    if (!before || before.exposedAt !== null) return false;
    d.decisions.set(eventId, { ...before, exposedAt: at });
    this.onUndo(() => d.decisions.set(eventId, before));
    this.openWindows(windows);
    return true;
  }

  openWindows(windows: readonly OpenImpression[]): void {
    for (const w of windows) {
      const d = this.model(w.modelId);
      const key = impressionKey(w.eventId, w.itemId);
      if (d.windows.has(key)) continue;
      const n = this.heapCounter++;
      d.windows.set(key, { w, n });
      d.heap.push({ at: w.deadline, n, key });
      this.onUndo(() => d.windows.delete(key)); // its heap entry is dropped lazily once not live
    }
  }

  dueWindows(modelId: string, now: number, limit: number): OpenImpression[] {
    const d = this.data.get(modelId);
    if (!d) return [];
    const due: OpenImpression[] = [];
    const keep: HeapEntry[] = [];
    const seen = new Set<string>();
    // At most ⌊limit⌋ (as SQLite's LIMIT and this store's outcomesAfter).
    const most = Math.floor(limit);
    while (due.length < most && d.heap.size > 0 && d.heap.peek()!.at <= now) {
      const e = d.heap.pop()!;
      const open = d.windows.get(e.key);
      // Not live (closed, or closed and re-opened), or a duplicate pushed by an undone close.
      if (!open || open.n !== e.n || seen.has(e.key)) continue;
      seen.add(e.key);
      due.push(open.w);
      keep.push(e); // still open until closed: put it back
    }
    for (const e of keep) d.heap.push(e);
    return due;
  }

  closeWindow(modelId: string, eventId: string, itemId: string): boolean {
    const d = this.data.get(modelId);
    if (!d) return false;
    const key = impressionKey(eventId, itemId);
    const open = d.windows.get(key);
    if (!open) return false;
    d.windows.delete(key);
    this.onUndo(() => {
      d.windows.set(key, open);
      // dueWindows may have dropped its heap entry while it was closed; a duplicate is harmless.
      d.heap.push({ at: open.w.deadline, n: open.n, key });
    });
    return true;
  }

  isWindowOpen(modelId: string, eventId: string, itemId: string): boolean {
    return this.data.get(modelId)?.windows.has(impressionKey(eventId, itemId)) ?? false;
  }

  insertFeedback(record: FeedbackRecord): boolean {
    const d = this.model(record.modelId);
    const key = `${impressionKey(record.eventId, record.itemId)}|${record.kind}`;
    if (d.feedback.has(key)) return false;
    d.feedback.add(key);
    d.feedbackCount++;
    this.onUndo(() => {
      d.feedback.delete(key);
      d.feedbackCount--;
    });
    return true;
  }

  appendOutcome(outcome: NewOutcome): number {
    const d = this.model(outcome.modelId);
    const seq = ++this.seq;
    const record: OutcomeRecord = { ...outcome, seq };
    d.outcomes.push(record);
    d.bySeq.set(seq, record);
    const key = impressionKey(outcome.eventId, outcome.itemId);
    const activeBefore = d.active.get(key);
    if (outcome.retracts !== undefined) {
      if (activeBefore === outcome.retracts) d.active.delete(key);
    } else {
      d.active.set(key, seq);
    }
    this.onUndo(() => {
      d.outcomes.pop();
      d.bySeq.delete(seq);
      if (activeBefore === undefined) d.active.delete(key);
      else d.active.set(key, activeBefore);
      this.seq--;
    });
    return seq;
  }

  outcomesAfter(modelId: string, afterSeq: number, limit: number): OutcomeRecord[] {
    const list = this.data.get(modelId)?.outcomes ?? [];
    // seq is increasing: binary search for the first entry past afterSeq
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return list.slice(lo, lo + limit);
  }

  activeOutcome(modelId: string, eventId: string, itemId: string): OutcomeRecord | undefined {
    const d = this.data.get(modelId);
    const seq = d?.active.get(impressionKey(eventId, itemId));
    return seq === undefined ? undefined : d!.bySeq.get(seq);
  }

  lastSeq(modelId: string): number {
    const list = this.data.get(modelId)?.outcomes;
    return list && list.length > 0 ? list[list.length - 1]!.seq : 0;
  }

  saveSnapshot(snapshot: SnapshotRecord): void {
    const d = this.model(snapshot.modelId);
    const before = d.snapshots.get(snapshot.configKey);
    d.snapshots.set(snapshot.configKey, snapshot);
    this.onUndo(() =>
      before ? d.snapshots.set(snapshot.configKey, before) : d.snapshots.delete(snapshot.configKey),
    );
  }

  latestSnapshot(modelId: string, configKey: string): SnapshotRecord | undefined {
    return this.data.get(modelId)?.snapshots.get(configKey);
  }

  appendLedger(entries: readonly LedgerEntry[]): void {
    for (const e of entries) {
      const d = this.model(e.modelId);
      d.ledger.push(e);
      this.onUndo(() => d.ledger.pop());
    }
  }

  budgetTotals(modelId: string, options: { since?: number; userId?: string } = {}): BudgetTotals {
    const d = this.data.get(modelId);
    if (!d) return { decisions: 0, slots: 0, explored: 0, cost: 0 };
    const since = options.since ?? Number.NEGATIVE_INFINITY;
    const user = options.userId;
    let decisions = 0;
    let slots = 0;
    for (const r of d.decisions.values()) {
      if (r.at < since || (user !== undefined && r.userId !== user)) continue;
      decisions++;
      slots += r.slate.length;
    }
    let explored = 0;
    let cost = 0;
    for (const e of d.ledger) {
      if (e.at < since || (user !== undefined && e.userId !== user)) continue;
      explored++;
      cost += e.cost;
    }
    return { decisions, slots, explored, cost };
  }

  getUserState(modelId: string, userId: string): UserState | undefined {
    return this.data.get(modelId)?.users.get(userId);
  }

  putUserState(modelId: string, userId: string, state: UserState): void {
    const d = this.model(modelId);
    const had = d.users.has(userId);
    const before = d.users.get(userId);
    d.users.set(userId, state);
    this.onUndo(() => (had ? d.users.set(userId, before) : d.users.delete(userId)));
  }

  counts(modelId?: string): { decisions: number; feedback: number; outcomes: number; ledger: number; openWindows: number } {
    const ids = modelId === undefined ? [...this.data.keys()] : [modelId];
    const c = { decisions: 0, feedback: 0, outcomes: 0, ledger: 0, openWindows: 0 };
    for (const id of ids) {
      const d = this.data.get(id);
      if (!d) continue;
      c.decisions += d.decisions.size;
      c.feedback += d.feedbackCount;
      c.outcomes += d.outcomes.length;
      c.ledger += d.ledger.length;
      c.openWindows += d.windows.size;
    }
    return c;
  }

  close(): void {
    this.data.clear();
    this.models.clear();
  }
}
