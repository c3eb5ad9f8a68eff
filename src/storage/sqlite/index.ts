/**
 * The SQLite store (better-sqlite3, WAL): the embedded default, one file, zero setup.
 *
 * - Durability: a committed transaction is in the WAL and fsynced before `transaction` returns
 *   (`synchronous = FULL`, the default). `NORMAL` skips the fsync at commit: in WAL mode that is
 *   still safe against a killed process (`kill -9`: the WAL sits in the OS page cache and the
 *   database stays consistent) but the last commits can be lost on power loss or an OS crash.
 * - Schema changes are ordered migrations recorded in `schema_migrations`, applied on open in
 *   one transaction; a database written by a newer build is refused.
 * - Every statement is prepared once, in the constructor. Every lookup is one B-tree search and
 *   every range read walks an index in order; `budgetTotals` is a range aggregate over covering
 *   indexes (O(log n + k) for the k rows in the range) and `counts` reads per-model counters
 *   that triggers keep, so neither scans the log.
 * - There are no foreign keys between tables, on purpose: the log accepts records in whatever
 *   order the engine writes them, exactly like the in-memory reference store, so both behave the
 *   same under the contract suite. `deleteModel` deletes from every table explicitly.
 */
import Database from 'better-sqlite3';
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

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * `FULL` (default): every commit is fsynced, so it survives power loss. `NORMAL`: in WAL mode
   * a commit survives a killed process but not power loss; commits are several times faster.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** How long a write waits for another connection's lock before failing, in ms (default 5000). */
  readonly busyTimeoutMs?: number;
}

/**
 * The schema, as ordered migrations: entry i brings the schema to version i + 1. Never edit an
 * entry that has shipped; append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE models (
    model_id   TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    config     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  -- context, candidates and slate are JSON text; at, user_id and slate_len are summary columns
  -- so that budget totals are aggregates over a covering index.
  CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY,
    model_id      TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    posterior_seq INTEGER NOT NULL,
    seed          TEXT NOT NULL,
    at            INTEGER NOT NULL,
    user_id       TEXT,
    context       TEXT NOT NULL,
    candidates    TEXT NOT NULL,
    slate         TEXT NOT NULL,
    slate_len     INTEGER NOT NULL,
    draws         INTEGER NOT NULL,
    exposed_at    INTEGER
  );
  CREATE UNIQUE INDEX decisions_event ON decisions (model_id, event_id);
  CREATE INDEX decisions_at ON decisions (model_id, at, slate_len);
  CREATE INDEX decisions_user_at ON decisions (model_id, user_id, at, slate_len);

  -- Open reward windows; the rowid orders windows with equal deadlines by opening.
  CREATE TABLE windows (
    id       INTEGER PRIMARY KEY,
    model_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    position INTEGER NOT NULL,
    deadline INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX windows_impression ON windows (model_id, event_id, item_id);
  CREATE INDEX windows_deadline ON windows (model_id, deadline);

  CREATE TABLE feedback (
    model_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    value    REAL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (model_id, event_id, item_id, kind)
  ) WITHOUT ROWID;

  -- The learning log. AUTOINCREMENT: seq never goes back, even after the newest rows are deleted.
  CREATE TABLE outcomes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    user_id    TEXT,
    item_group TEXT,
    kind       TEXT NOT NULL,
    reward     REAL NOT NULL,
    weight     REAL NOT NULL,
    retracts   INTEGER,
    ordinal    INTEGER NOT NULL,
    at         INTEGER NOT NULL
  );
  CREATE INDEX outcomes_model_seq ON outcomes (model_id, seq);

  -- The standing outcome of each impression, so activeOutcome is one key lookup. Kept by the
  -- triggers below, which makes appendOutcome one statement (atomic without a savepoint): an
  -- outcome becomes the standing one; a retraction clears it only if it retracts the standing one.
  CREATE TABLE active_outcomes (
    model_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (model_id, event_id, item_id)
  ) WITHOUT ROWID;
  CREATE TRIGGER outcome_stands AFTER INSERT ON outcomes WHEN NEW.retracts IS NULL BEGIN
    INSERT INTO active_outcomes (model_id, event_id, item_id, seq)
      VALUES (NEW.model_id, NEW.event_id, NEW.item_id, NEW.seq)
      ON CONFLICT (model_id, event_id, item_id) DO UPDATE SET seq = excluded.seq;
  END;
  CREATE TRIGGER outcome_retracted AFTER INSERT ON outcomes WHEN NEW.retracts IS NOT NULL BEGIN
    DELETE FROM active_outcomes
      WHERE model_id = NEW.model_id AND event_id = NEW.event_id AND item_id = NEW.item_id AND seq = NEW.retracts;
  END;

  -- Only the latest snapshot per (model, posterior config) is kept.
  CREATE TABLE snapshots (
    model_id   TEXT NOT NULL,
    config_key TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    state      TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (model_id, config_key)
  );

  CREATE TABLE ledger (
    id       INTEGER PRIMARY KEY,
    model_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    user_id  TEXT,
    item_id  TEXT NOT NULL,
    position INTEGER NOT NULL,
    rule     TEXT NOT NULL,
    cost     REAL NOT NULL,
    at       INTEGER NOT NULL
  );
  CREATE INDEX ledger_at ON ledger (model_id, at, cost);
  CREATE INDEX ledger_user_at ON ledger (model_id, user_id, at, cost);

  CREATE TABLE user_state (
    model_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    state    TEXT NOT NULL,
    PRIMARY KEY (model_id, user_id)
  );

  -- Row counts per model, kept by triggers (they roll back with their transaction).
  CREATE TABLE model_counts (
    model_id     TEXT PRIMARY KEY,
    decisions    INTEGER NOT NULL DEFAULT 0,
    feedback     INTEGER NOT NULL DEFAULT 0,
    outcomes     INTEGER NOT NULL DEFAULT 0,
    ledger       INTEGER NOT NULL DEFAULT 0,
    open_windows INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE TRIGGER decisions_count AFTER INSERT ON decisions BEGIN
    INSERT INTO model_counts (model_id, decisions) VALUES (NEW.model_id, 1)
      ON CONFLICT (model_id) DO UPDATE SET decisions = decisions + 1;
  END;
  CREATE TRIGGER feedback_count AFTER INSERT ON feedback BEGIN
    INSERT INTO model_counts (model_id, feedback) VALUES (NEW.model_id, 1)
      ON CONFLICT (model_id) DO UPDATE SET feedback = feedback + 1;
  END;
  CREATE TRIGGER outcomes_count AFTER INSERT ON outcomes BEGIN
    INSERT INTO model_counts (model_id, outcomes) VALUES (NEW.model_id, 1)
      ON CONFLICT (model_id) DO UPDATE SET outcomes = outcomes + 1;
  END;
  CREATE TRIGGER ledger_count AFTER INSERT ON ledger BEGIN
    INSERT INTO model_counts (model_id, ledger) VALUES (NEW.model_id, 1)
      ON CONFLICT (model_id) DO UPDATE SET ledger = ledger + 1;
  END;
  CREATE TRIGGER windows_open_count AFTER INSERT ON windows BEGIN
    INSERT INTO model_counts (model_id, open_windows) VALUES (NEW.model_id, 1)
      ON CONFLICT (model_id) DO UPDATE SET open_windows = open_windows + 1;
  END;
  CREATE TRIGGER windows_close_count AFTER DELETE ON windows BEGIN
    UPDATE model_counts SET open_windows = open_windows - 1 WHERE model_id = OLD.model_id;
  END;
  `,
  // 2: the encoder version of decisions scored through a learned representation (neural-linear).
  `
  ALTER TABLE decisions ADD COLUMN representation_version INTEGER;
  `,
];

// ───────────────────────────── rows and their mapping ─────────────────────────────

interface ModelRow {
  model_id: string;
  version: number;
  config: string;
  created_at: number;
  updated_at: number;
}

const modelFromRow = (r: ModelRow): ModelRecord => ({
  modelId: r.model_id,
  version: r.version,
  config: JSON.parse(r.config) as unknown,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

interface DecisionRow {
  model_id: string;
  event_id: string;
  model_version: number;
  posterior_seq: number;
  seed: string;
  at: number;
  user_id: string | null;
  context: string;
  candidates: string;
  slate: string;
  draws: number;
  exposed_at: number | null;
  representation_version: number | null;
}

const DECISION_COLUMNS =
  'model_id, event_id, model_version, posterior_seq, seed, at, user_id, context, candidates, slate, draws, exposed_at, representation_version';

const decisionToRow = (d: DecisionRecord): DecisionRow & { slate_len: number } => ({
  model_id: d.modelId,
  event_id: d.eventId,
  model_version: d.modelVersion,
  posterior_seq: d.posteriorSeq,
  seed: d.seed,
  at: d.at,
  user_id: d.userId ?? null,
  context: toJson(d.context, 'decision context'),
  candidates: toJson(d.candidates, 'decision candidates'),
  slate: toJson(d.slate, 'decision slate'),
  slate_len: d.slate.length,
  draws: d.draws,
  exposed_at: d.exposedAt,
  representation_version: d.representationVersion ?? null,
});

const decisionFromRow = (r: DecisionRow): DecisionRecord => ({
  modelId: r.model_id,
  eventId: r.event_id,
  modelVersion: r.model_version,
  posteriorSeq: r.posterior_seq,
  seed: r.seed,
  at: r.at,
  ...(r.user_id !== null ? { userId: r.user_id } : {}),
  context: JSON.parse(r.context) as DecisionRecord['context'],
  candidates: JSON.parse(r.candidates) as DecisionRecord['candidates'],
  slate: JSON.parse(r.slate) as DecisionRecord['slate'],
  draws: r.draws,
  exposedAt: r.exposed_at,
  ...(r.representation_version !== null ? { representationVersion: r.representation_version } : {}),
});

interface WindowRow {
  model_id: string;
  event_id: string;
  item_id: string;
  position: number;
  deadline: number;
}

const windowFromRow = (r: WindowRow): OpenImpression => ({
  modelId: r.model_id,
  eventId: r.event_id,
  itemId: r.item_id,
  position: r.position,
  deadline: r.deadline,
});

interface OutcomeRow {
  seq: number;
  model_id: string;
  event_id: string;
  item_id: string;
  position: number;
  user_id: string | null;
  item_group: string | null;
  kind: OutcomeRecord['kind'];
  reward: number;
  weight: number;
  retracts: number | null;
  ordinal: number;
  at: number;
}

const OUTCOME_COLUMNS =
  'seq, model_id, event_id, item_id, position, user_id, item_group, kind, reward, weight, retracts, ordinal, at';

const outcomeFromRow = (r: OutcomeRow): OutcomeRecord => ({
  seq: r.seq,
  modelId: r.model_id,
  eventId: r.event_id,
  itemId: r.item_id,
  position: r.position,
  ...(r.user_id !== null ? { userId: r.user_id } : {}),
  ...(r.item_group !== null ? { group: r.item_group } : {}),
  kind: r.kind,
  reward: r.reward,
  weight: r.weight,
  ...(r.retracts !== null ? { retracts: r.retracts } : {}),
  ordinal: r.ordinal,
  at: r.at,
});

interface SnapshotRow {
  model_id: string;
  config_key: string;
  seq: number;
  state: string;
  at: number;
}

const snapshotFromRow = (r: SnapshotRow): SnapshotRecord => ({
  modelId: r.model_id,
  seq: r.seq,
  configKey: r.config_key,
  state: JSON.parse(r.state) as unknown,
  at: r.at,
});

interface CountsRow {
  decisions: number;
  feedback: number;
  outcomes: number;
  ledger: number;
  openWindows: number;
}

/** JSON text of a value; refuses what JSON cannot hold (undefined, functions) instead of storing garbage. */
function toJson(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} is not JSON-serialisable`);
  return text;
}

/** SQLite LIMIT of a count: non-negative integer, or -1 (no limit) for +Infinity. */
function sqlLimit(limit: number): number {
  if (limit === Number.POSITIVE_INFINITY) return -1;
  return Number.isFinite(limit) && limit > 0 ? Math.floor(limit) : 0;
}

function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof Database.SqliteError &&
    (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
  );
}

// ───────────────────────────── migrations ─────────────────────────────

/**
 * Bring the schema up to date: apply the migrations newer than the recorded version, in order,
 * in one immediate transaction (so concurrent openers serialise and the loser applies nothing).
 * @returns how many migrations were applied
 * @throws Error when the database was written by a newer build (unknown schema version)
 */
function migrate(db: Database.Database): number {
  return db
    .transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      const current = db.prepare<[], number>('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get() ?? 0;
      if (current > MIGRATIONS.length) {
        throw new Error(`database schema version ${current} is newer than this build supports (${MIGRATIONS.length})`);
      }
      const record = db.prepare<[number, number]>('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
      for (let version = current + 1; version <= MIGRATIONS.length; version++) {
        db.exec(MIGRATIONS[version - 1]!);
        record.run(version, Date.now());
      }
      return MIGRATIONS.length - current;
    })
    .immediate();
}

// ───────────────────────────── the store ─────────────────────────────

/**
 * Open (creating if needed) a SQLite store at `path` (`':memory:'` for a private in-memory
 * database): WAL journal, `synchronous` FULL unless told otherwise, a busy timeout, foreign keys
 * on, and the schema migrated to the latest version.
 * @throws RangeError on invalid options; Error when the journal cannot be WAL or the schema is
 *   newer than this build; better-sqlite3's SqliteError when the file cannot be opened
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return SqliteStore.open(path, options);
}

/**
 * A {@link Store} in one SQLite file. Synchronous, like better-sqlite3; one connection per store.
 * Construct it with {@link openSqliteStore}.
 */
export class SqliteStore implements Store {
  /** How many migrations this open applied (0 when the database was up to date). */
  readonly migrationsApplied: number;
  private readonly db: Database.Database;
  private readonly tx: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly q;
  /** Group commit (see {@link enableGroupCommit}): on, its waiters, a flush scheduled, a failure. */
  private grouping = false;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private flushScheduled = false;
  private failure: Error | null = null;

  /**
   * Open, configure and migrate the database at `path`.
   * @see openSqliteStore
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const synchronous = options.synchronous ?? 'FULL';
    if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
      throw new RangeError(`synchronous must be 'FULL' or 'NORMAL', got ${String(synchronous)}`);
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`);
    }
    const db = new Database(path);
    try {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && !(path === ':memory:' && mode === 'memory')) {
        throw new Error(`could not switch ${path} to WAL (journal_mode is ${String(mode)})`);
      }
      db.pragma(`synchronous = ${synchronous}`);
      db.pragma('foreign_keys = ON');
      const applied = migrate(db);
      return new SqliteStore(db, applied);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private constructor(db: Database.Database, migrationsApplied: number) {
    this.db = db;
    this.migrationsApplied = migrationsApplied;
    this.tx = db.transaction((fn: () => unknown) => fn());
    this.q = {
      putModel: db.prepare<ModelRow>(
        `INSERT INTO models (model_id, version, config, created_at, updated_at)
         VALUES (@model_id, @version, @config, @created_at, @updated_at)
         ON CONFLICT (model_id) DO UPDATE SET version = excluded.version, config = excluded.config,
           created_at = excluded.created_at, updated_at = excluded.updated_at`,
      ),
      getModel: db.prepare<[string], ModelRow>('SELECT * FROM models WHERE model_id = ?'),
      listModels: db.prepare<[], ModelRow>('SELECT * FROM models'),
      deleteModel: db.prepare<[string]>('DELETE FROM models WHERE model_id = ?'),
      // deleteModel: counters first, so the window triggers find nothing left to decrement.
      deleteAll: [
        'model_counts',
        'decisions',
        'windows',
        'feedback',
        'outcomes',
        'active_outcomes',
        'snapshots',
        'ledger',
        'user_state',
      ].map((table) => db.prepare<[string]>(`DELETE FROM ${table} WHERE model_id = ?`)),

      insertDecision: db.prepare<DecisionRow & { slate_len: number }>(
        `INSERT INTO decisions (${DECISION_COLUMNS}, slate_len)
         VALUES (@model_id, @event_id, @model_version, @posterior_seq, @seed, @at, @user_id, @context,
                 @candidates, @slate, @draws, @exposed_at, @representation_version, @slate_len)`,
      ),
      getDecision: db.prepare<[string, string], DecisionRow>(
        `SELECT ${DECISION_COLUMNS} FROM decisions WHERE model_id = ? AND event_id = ?`,
      ),
      exposeDecision: db.prepare<[number, string, string]>(
        'UPDATE decisions SET exposed_at = ? WHERE model_id = ? AND event_id = ? AND exposed_at IS NULL',
      ),

      openWindow: db.prepare<WindowRow>(
        `INSERT INTO windows (model_id, event_id, item_id, position, deadline)
         VALUES (@model_id, @event_id, @item_id, @position, @deadline)
         ON CONFLICT (model_id, event_id, item_id) DO NOTHING`,
      ),
      dueWindows: db.prepare<[string, number, number], WindowRow>(
        `SELECT model_id, event_id, item_id, position, deadline FROM windows
         WHERE model_id = ? AND deadline <= ? ORDER BY deadline, id LIMIT ?`,
      ),
      closeWindow: db.prepare<[string, string, string]>(
        'DELETE FROM windows WHERE model_id = ? AND event_id = ? AND item_id = ?',
      ),
      isWindowOpen: db
        .prepare<[string, string, string], number>(
          'SELECT 1 FROM windows WHERE model_id = ? AND event_id = ? AND item_id = ?',
        )
        .pluck(),

      insertFeedback: db.prepare<[string, string, string, string, number | null, number]>(
        `INSERT INTO feedback (model_id, event_id, item_id, kind, value, at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
      ),

      appendOutcome: db.prepare<Omit<OutcomeRow, 'seq'>>(
        `INSERT INTO outcomes (model_id, event_id, item_id, position, user_id, item_group, kind, reward,
                               weight, retracts, ordinal, at)
         VALUES (@model_id, @event_id, @item_id, @position, @user_id, @item_group, @kind, @reward,
                 @weight, @retracts, @ordinal, @at)`,
      ),
      outcomesAfter: db.prepare<[string, number, number], OutcomeRow>(
        `SELECT ${OUTCOME_COLUMNS} FROM outcomes WHERE model_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
      ),
      activeOutcome: db.prepare<[string, string, string], OutcomeRow>(
        `SELECT ${OUTCOME_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}
         FROM active_outcomes a JOIN outcomes o ON o.seq = a.seq
         WHERE a.model_id = ? AND a.event_id = ? AND a.item_id = ?`,
      ),
      lastSeq: db
        .prepare<[string], number>('SELECT seq FROM outcomes WHERE model_id = ? ORDER BY seq DESC LIMIT 1')
        .pluck(),

      saveSnapshot: db.prepare<SnapshotRow>(
        `INSERT INTO snapshots (model_id, config_key, seq, state, at)
         VALUES (@model_id, @config_key, @seq, @state, @at)
         ON CONFLICT (model_id, config_key) DO UPDATE SET seq = excluded.seq, state = excluded.state,
           at = excluded.at`,
      ),
      latestSnapshot: db.prepare<[string, string], SnapshotRow>(
        'SELECT model_id, config_key, seq, state, at FROM snapshots WHERE model_id = ? AND config_key = ?',
      ),

      appendLedger: db.prepare<[string, string, string | null, string, number, string, number, number]>(
        `INSERT INTO ledger (model_id, event_id, user_id, item_id, position, rule, cost, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // TOTAL() is 0.0 on an empty range; both halves are range scans of covering indexes.
      budgetTotals: db.prepare<[string, number, string, number], BudgetTotals>(
        `SELECT d.decisions, d.slots, l.explored, l.cost FROM
           (SELECT COUNT(*) AS decisions, TOTAL(slate_len) AS slots FROM decisions
              WHERE model_id = ? AND at >= ?) AS d,
           (SELECT COUNT(*) AS explored, TOTAL(cost) AS cost FROM ledger
              WHERE model_id = ? AND at >= ?) AS l`,
      ),
      budgetTotalsOfUser: db.prepare<[string, string, number, string, string, number], BudgetTotals>(
        `SELECT d.decisions, d.slots, l.explored, l.cost FROM
           (SELECT COUNT(*) AS decisions, TOTAL(slate_len) AS slots FROM decisions
              WHERE model_id = ? AND user_id = ? AND at >= ?) AS d,
           (SELECT COUNT(*) AS explored, TOTAL(cost) AS cost FROM ledger
              WHERE model_id = ? AND user_id = ? AND at >= ?) AS l`,
      ),

      getUserState: db
        .prepare<[string, string], string>('SELECT state FROM user_state WHERE model_id = ? AND user_id = ?')
        .pluck(),
      putUserState: db.prepare<[string, string, string]>(
        `INSERT INTO user_state (model_id, user_id, state) VALUES (?, ?, ?)
         ON CONFLICT (model_id, user_id) DO UPDATE SET state = excluded.state`,
      ),

      counts: db.prepare<[string], CountsRow>(
        `SELECT decisions, feedback, outcomes, ledger, open_windows AS openWindows
         FROM model_counts WHERE model_id = ?`,
      ),
      countsAll: db.prepare<[], CountsRow>(
        `SELECT COALESCE(SUM(decisions), 0) AS decisions, COALESCE(SUM(feedback), 0) AS feedback,
                COALESCE(SUM(outcomes), 0) AS outcomes, COALESCE(SUM(ledger), 0) AS ledger,
                COALESCE(SUM(open_windows), 0) AS openWindows
         FROM model_counts`,
      ),
    };
  }

  /**
   * Run `fn` in one transaction (BEGIN IMMEDIATE … COMMIT). A call inside a running transaction
   * joins it as a savepoint: its writes commit with the outer transaction, and if it throws only
   * its own writes are rolled back before the error propagates. IMMEDIATE takes the write lock
   * up front, so a second writer process waits (busy_timeout) instead of failing to upgrade.
   */
  transaction<T>(fn: () => T): T {
    if (this.failure) throw this.failure;
    if (this.grouping && !this.db.inTransaction) {
      this.db.exec('BEGIN IMMEDIATE');
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flush);
      }
    }
    return this.tx.immediate(fn) as T;
  }

  /**
   * Group commit, for a server: from now on the first `transaction` of an event-loop turn opens
   * one SQLite transaction (BEGIN IMMEDIATE) that every further `transaction` of the turn joins
   * as a savepoint (a failing one rolls back alone), and a `setImmediate` commits it once — one
   * commit (one WAL append) for all the requests handled in that turn instead of one each.
   *
   * The returned barrier resolves once everything written before the call is committed; a
   * server awaits it before every acknowledgement, so nothing is acknowledged before its commit.
   * If the group's COMMIT fails, the group is rolled back, waiting barriers reject, and the
   * store refuses every later transaction (`failed`): the caller's in-memory state is then ahead
   * of the disk, so it must stop serving writes and restart from the database (fail-stop).
   * Idempotent. Reads outside transactions see the group's uncommitted writes (one connection).
   */
  enableGroupCommit(): () => Promise<void> {
    this.grouping = true;
    return () => {
      if (this.failure) return Promise.reject(this.failure);
      if (!this.db.inTransaction) return Promise.resolve();
      return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    };
  }

  /** The failure that stopped group commit, if any (then every transaction throws it). */
  get failed(): Error | null {
    return this.failure;
  }

  /** Commit the open group (if any) and settle its waiters. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const waiters = this.waiters;
    this.waiters = [];
    if (this.db.open && this.db.inTransaction) {
      try {
        this.db.exec('COMMIT');
      } catch (error) {
        try {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
        } catch {
          // The connection is beyond repair; `failure` already stops every later write.
        }
        this.failure = new Error(`group commit failed, nothing of it was acknowledged: ${error instanceof Error ? error.message : String(error)}`);
        for (const w of waiters) w.reject(this.failure);
        return;
      }
    }
    for (const w of waiters) w.resolve();
  };

  putModel(record: ModelRecord): void {
    this.q.putModel.run({
      model_id: record.modelId,
      version: record.version,
      config: toJson(record.config, 'model config'),
      created_at: record.createdAt,
      updated_at: record.updatedAt,
    });
  }

  getModel(modelId: string): ModelRecord | undefined {
    const row = this.q.getModel.get(modelId);
    return row ? modelFromRow(row) : undefined;
  }

  listModels(): ModelRecord[] {
    // Sorted in JS (UTF-16 order), not by SQLite's byte order, to match the in-memory store.
    return this.q.listModels
      .all()
      .map(modelFromRow)
      .sort((a, b) => (a.modelId < b.modelId ? -1 : a.modelId > b.modelId ? 1 : 0));
  }

  deleteModel(modelId: string): boolean {
    return this.transaction(() => {
      if (this.q.deleteModel.run(modelId).changes === 0) return false;
      for (const statement of this.q.deleteAll) statement.run(modelId);
      return true;
    });
  }

  insertDecision(record: DecisionRecord): void {
    try {
      this.q.insertDecision.run(decisionToRow(record));
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new StoreConflict(`decision ${record.eventId} of model ${record.modelId} exists already`);
      }
      throw error;
    }
  }

  getDecision(modelId: string, eventId: string): DecisionRecord | undefined {
    const row = this.q.getDecision.get(modelId, eventId);
    return row ? decisionFromRow(row) : undefined;
  }

  exposeDecision(modelId: string, eventId: string, at: number, windows: readonly OpenImpression[]): boolean {
    return this.transaction(() => {
      if (this.q.exposeDecision.run(at, modelId, eventId).changes === 0) return false;
      this.openWindows(windows);
      return true;
    });
  }

  openWindows(windows: readonly OpenImpression[]): void {
    if (windows.length === 0) return;
    this.transaction(() => {
      for (const w of windows) {
        this.q.openWindow.run({
          model_id: w.modelId,
          event_id: w.eventId,
          item_id: w.itemId,
          position: w.position,
          deadline: w.deadline,
        });
      }
    });
  }

  dueWindows(modelId: string, now: number, limit: number): OpenImpression[] {
    return this.q.dueWindows.all(modelId, now, sqlLimit(limit)).map(windowFromRow);
  }

  closeWindow(modelId: string, eventId: string, itemId: string): boolean {
    return this.q.closeWindow.run(modelId, eventId, itemId).changes > 0;
  }

  isWindowOpen(modelId: string, eventId: string, itemId: string): boolean {
    return this.q.isWindowOpen.get(modelId, eventId, itemId) !== undefined;
  }

  insertFeedback(record: FeedbackRecord): boolean {
    const { modelId, eventId, itemId, kind, value, at } = record;
    return this.q.insertFeedback.run(modelId, eventId, itemId, kind, value ?? null, at).changes > 0;
  }

  appendOutcome(outcome: NewOutcome): number {
    // One statement: the triggers of migration 1 update active_outcomes with it.
    const result = this.q.appendOutcome.run({
      model_id: outcome.modelId,
      event_id: outcome.eventId,
      item_id: outcome.itemId,
      position: outcome.position,
      user_id: outcome.userId ?? null,
      item_group: outcome.group ?? null,
      kind: outcome.kind,
      reward: outcome.reward,
      weight: outcome.weight,
      retracts: outcome.retracts ?? null,
      ordinal: outcome.ordinal,
      at: outcome.at,
    });
    return Number(result.lastInsertRowid);
  }

  outcomesAfter(modelId: string, afterSeq: number, limit: number): OutcomeRecord[] {
    return this.q.outcomesAfter.all(modelId, afterSeq, sqlLimit(limit)).map(outcomeFromRow);
  }

  activeOutcome(modelId: string, eventId: string, itemId: string): OutcomeRecord | undefined {
    const row = this.q.activeOutcome.get(modelId, eventId, itemId);
    return row ? outcomeFromRow(row) : undefined;
  }

  lastSeq(modelId: string): number {
    return this.q.lastSeq.get(modelId) ?? 0;
  }

  saveSnapshot(snapshot: SnapshotRecord): void {
    this.q.saveSnapshot.run({
      model_id: snapshot.modelId,
      config_key: snapshot.configKey,
      seq: snapshot.seq,
      state: toJson(snapshot.state, 'snapshot state'),
      at: snapshot.at,
    });
  }

  latestSnapshot(modelId: string, configKey: string): SnapshotRecord | undefined {
    const row = this.q.latestSnapshot.get(modelId, configKey);
    return row ? snapshotFromRow(row) : undefined;
  }

  appendLedger(entries: readonly LedgerEntry[]): void {
    if (entries.length === 0) return;
    this.transaction(() => {
      for (const e of entries) {
        this.q.appendLedger.run(e.modelId, e.eventId, e.userId ?? null, e.itemId, e.position, e.rule, e.cost, e.at);
      }
    });
  }

  budgetTotals(modelId: string, options: { since?: number; userId?: string } = {}): BudgetTotals {
    const since = options.since ?? Number.NEGATIVE_INFINITY;
    const row =
      options.userId === undefined
        ? this.q.budgetTotals.get(modelId, since, modelId, since)
        : this.q.budgetTotalsOfUser.get(modelId, options.userId, since, modelId, options.userId, since);
    return row
      ? { decisions: row.decisions, slots: row.slots, explored: row.explored, cost: row.cost }
      : { decisions: 0, slots: 0, explored: 0, cost: 0 };
  }

  getUserState(modelId: string, userId: string): UserState | undefined {
    const text = this.q.getUserState.get(modelId, userId);
    return text === undefined ? undefined : (JSON.parse(text) as UserState);
  }

  putUserState(modelId: string, userId: string, state: UserState): void {
    this.q.putUserState.run(modelId, userId, toJson(state, 'user state'));
  }

  counts(modelId?: string): { decisions: number; feedback: number; outcomes: number; ledger: number; openWindows: number } {
    const row = modelId === undefined ? this.q.countsAll.get() : this.q.counts.get(modelId);
    return row
      ? { decisions: row.decisions, feedback: row.feedback, outcomes: row.outcomes, ledger: row.ledger, openWindows: row.openWindows }
      : { decisions: 0, feedback: 0, outcomes: 0, ledger: 0, openWindows: 0 };
  }

  /**
   * Close the database (idempotent), committing an open group first. The WAL is checkpointed and
   * removed by SQLite.
   */
  close(): void {
    if (this.db.open && this.grouping) this.flush();
    if (this.db.open) this.db.close();
  }
}
