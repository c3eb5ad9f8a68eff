/**
 * The SQLite store (better-sqlite3, WAL): the embedded default, one file, zero setup.
 *
 * - Durability: a committed transaction is in the WAL and fsynced before `transaction` returns
 *   (`synchronous = FULL`, the default). `NORMAL` skips the fsync at commit: in WAL mode that is
 *   still safe against a killed process (`kill -9`: the WAL sits in the OS page cache and the
 *   database stays consistent) but the last commits can be lost on power loss or an OS crash.
 * - Schema changes are ordered migrations recorded in `schema_migrations`, applied on open in
 *   one transaction; a database written by a newer build is refused.
 * - Every statement is prepared once (multi-row inserts once per row count). Every lookup is one
 *   B-tree search and every range read walks an index in order; `budgetTotals` is a range
 *   aggregate over covering indexes (O(log n + k) for the k rows in the range) and `counts` reads
 *   per-model counters, so neither scans the log.
 * - The write path (measured by test/bench/store.bench.ts): positional parameters; reward windows
 *   and ledger entries as one multi-row INSERT (one statement is atomic, so no savepoint); row
 *   counters and user states deferred to the end of the outermost transaction (frames.ts): one
 *   counter upsert per transaction instead of a trigger per row, and one write per user however
 *   many times a transaction replaced the state. Both are written inside that transaction,
 *   before its COMMIT (or RELEASE in a commit group), so durability and atomicity are unchanged.
 * - User states are cached as the values last written or read (bounded, FIFO), so the engine's
 *   read-after-write does not parse JSON again, and their JSON reuses the text of parts written
 *   before (state-json.ts); `PRAGMA data_version` (checked when a
 *   transaction begins and before a read outside one) empties the cache when another
 *   connection has committed. As with the in-memory store, `getUserState` may return the very
 *   object that was put: callers treat states as immutable values.
 * - A user's fatigue memory (`fatigue`: key → [count, at]) is kept one row per key (table
 *   user_fatigue, see fatigueOf): a fold writes the one or two keys it changed and deletes
 *   the forgotten ones, diffed against the cached state, instead of the whole memory's JSON
 *   (about 28 KB for 800 keys) — and reading a state assembles it again.
 * - There are no foreign keys between tables, on purpose: the log accepts records in whatever
 *   order the engine writes them, exactly like the in-memory reference store, so both behave the
 *   same under the contract suite. `deleteModel` deletes from every table explicitly.
 */
import Database from 'better-sqlite3';
import {
  StoreConflict,
  type BudgetTotals,
  type DecisionRecord,
  type DecisionText,
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
import { COUNTER, DELETED, WriteFrames, type Frame } from './frames.js';
import { isPlainObject, StateJson } from './state-json.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * `FULL` (default): every commit is fsynced, so it survives power loss. `NORMAL`: in WAL mode
   * a commit survives a killed process but not power loss; commits are several times faster.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** How long a write waits for another connection's lock before failing, in ms (default 5000). */
  readonly busyTimeoutMs?: number;
  /**
   * How many user states to keep parsed in memory (default 4096; 0 = none). Values are shared
   * with callers, as in the in-memory store.
   */
  readonly userStateCache?: number;
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
  // 3: model_counts is kept by the store, one upsert per transaction (frames.ts), instead of one
  // trigger run per counted row. The counters keep their values; they still roll back with their
  // transaction because the store writes them inside it.
  `
  DROP TRIGGER decisions_count;
  DROP TRIGGER feedback_count;
  DROP TRIGGER outcomes_count;
  DROP TRIGGER ledger_count;
  DROP TRIGGER windows_open_count;
  DROP TRIGGER windows_close_count;
  `,
  // 4: a user's fatigue memory one row per key (see fatigueOf): a fold rewrites the keys it
  // changed, not the whole state. A state whose memory moved here keeps its place in the JSON as
  // the placeholder 0 (fatigue_rows = 1). SQLite's JSON numbers convert to the same doubles.
  `
  ALTER TABLE user_state ADD COLUMN fatigue_rows INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE user_fatigue (
    model_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    key      TEXT NOT NULL,
    count    REAL NOT NULL,
    at       REAL NOT NULL,
    PRIMARY KEY (model_id, user_id, key)
  ) WITHOUT ROWID;
  CREATE TEMP TABLE fatigue_moved AS
    SELECT model_id, user_id FROM user_state
    WHERE json_type(state) = 'object' AND json_type(state, '$.fatigue') = 'object'
      AND NOT EXISTS (
        SELECT 1 FROM json_each(state, '$.fatigue') AS e
        WHERE e.type <> 'array' OR json_array_length(e.value) <> 2
          OR json_type(e.value, '$[0]') NOT IN ('integer', 'real')
          OR json_type(e.value, '$[1]') NOT IN ('integer', 'real'));
  INSERT INTO user_fatigue (model_id, user_id, key, count, at)
    SELECT s.model_id, s.user_id, e.key, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]')
    FROM user_state AS s JOIN fatigue_moved AS m USING (model_id, user_id), json_each(s.state, '$.fatigue') AS e;
  UPDATE user_state SET state = json_set(state, '$.fatigue', 0), fatigue_rows = 1
    WHERE (model_id, user_id) IN (SELECT model_id, user_id FROM fatigue_moved);
  DROP TABLE fatigue_moved;
  `,
];

/** A fatigue memory as the SQLite store keeps it: key → [count, at]. */
type FatigueRows = Readonly<Record<string, readonly [number, number]>>;

/** What a write of a memory changes in its rows (see SqliteStore.memoryDiff). */
interface MemoryDiff {
  /** Keys to write. */
  readonly changed: readonly string[];
  /** Whether keys of the previous memory are gone (to delete). */
  readonly gone: boolean;
}

/** The diff of a memory passed on as it was. */
const UNCHANGED: MemoryDiff = { changed: [], gone: false };

/**
 * The `fatigue` of a plain-object state when it is a plain object. The SQLite store keeps it one
 * row per key (table user_fatigue) when its values are [count, at] pairs of finite numbers — the
 * engine's memory (feedback/fatigue.ts); any other state is stored whole, as JSON.
 */
function fatigueOf(state: unknown): object | undefined {
  if (!isPlainObject(state) || !Object.hasOwn(state, 'fatigue')) return undefined;
  const fatigue = (state as { fatigue: unknown }).fatigue;
  return isPlainObject(fatigue) ? fatigue : undefined;
}

/** Whether `e` is a [count, at] pair of finite numbers. */
function isPair(e: unknown): e is readonly [number, number] {
  return Array.isArray(e) && e.length === 2 && Number.isFinite(e[0]) && Number.isFinite(e[1]);
}


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

/** A window row as read by `.raw()` (arrays, not objects: ≈ 30 % cheaper per row for the sweeper). */
type WindowTuple = [modelId: string, eventId: string, itemId: string, position: number, deadline: number];

const windowFromTuple = (r: WindowTuple): OpenImpression => ({ modelId: r[0], eventId: r[1], itemId: r[2], position: r[3], deadline: r[4] });

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

/** An outcome row in OUTCOME_COLUMNS order, as read by `.raw()` (the log is replayed in pages of 1,000). */
type OutcomeTuple = [
  seq: number,
  modelId: string,
  eventId: string,
  itemId: string,
  position: number,
  userId: string | null,
  group: string | null,
  kind: OutcomeRecord['kind'],
  reward: number,
  weight: number,
  retracts: number | null,
  ordinal: number,
  at: number,
];

const outcomeFromTuple = (r: OutcomeTuple): OutcomeRecord => ({
  seq: r[0],
  modelId: r[1],
  eventId: r[2],
  itemId: r[3],
  position: r[4],
  ...(r[5] !== null ? { userId: r[5] } : {}),
  ...(r[6] !== null ? { group: r[6] } : {}),
  kind: r[7],
  reward: r[8],
  weight: r[9],
  ...(r[10] !== null ? { retracts: r[10] } : {}),
  ordinal: r[11],
  at: r[12],
});

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

type Counts = { decisions: number; feedback: number; outcomes: number; ledger: number; openWindows: number };

/** JSON text of a value; refuses what JSON cannot hold (undefined, functions) instead of storing garbage. */
function toJson(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} is not JSON-serialisable`);
  return text;
}

/**
 * The top-level values JSON.stringify turns into nothing, refused when a state is put (its text
 * is made at the end of the transaction; deeper problems such as cycles surface there).
 */
function checkJsonable(value: unknown, what: string): void {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeError(`${what} is not JSON-serialisable`);
  }
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

/** Key of a user state in the cache: length-prefixed, so no two (model, user) pairs share one. */
function userKey(modelId: string, userId: string): string {
  return `${modelId.length}:${modelId}${userId}`;
}

/** The error of a write inside a transaction that SQLite has already rolled back. */
function transactionLost(): Error {
  return new Error('SQLite rolled the transaction back (an earlier error in it); nothing of it was written');
}

/** Rows per multi-row INSERT: 64 windows = 320 parameters, far below SQLite's 32,766. */
const CHUNK = 64;

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
 * on, temporary storage in memory, and the schema migrated to the latest version.
 * @throws RangeError on invalid options; Error when the journal cannot be WAL or the schema is
 *   newer than this build; better-sqlite3's SqliteError when the file cannot be opened
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return SqliteStore.open(path, options);
}

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}

/** Build the statements of a store on `db` (migrated). */
function prepare(db: Database.Database) {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT liubai'),
    release: db.prepare('RELEASE liubai'),
    rollbackTo: db.prepare('ROLLBACK TO liubai'),
    // Changes when another connection commits (never for this connection's own commits).
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),

    putModel: db.prepare<[string, number, string, number, number]>(
      `INSERT INTO models (model_id, version, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (model_id) DO UPDATE SET version = excluded.version, config = excluded.config,
         created_at = excluded.created_at, updated_at = excluded.updated_at`,
    ),
    getModel: db.prepare<[string], ModelRow>('SELECT * FROM models WHERE model_id = ?'),
    listModels: db.prepare<[], ModelRow>('SELECT * FROM models'),
    deleteModel: db.prepare<[string]>('DELETE FROM models WHERE model_id = ?'),
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
      'user_fatigue',
    ].map((table) => db.prepare<[string]>(`DELETE FROM ${table} WHERE model_id = ?`)),

    insertDecision: db.prepare<
      [string, string, number, number, string, number, string | null, string, string, string, number, number | null, number | null, number]
    >(
      `INSERT INTO decisions (${DECISION_COLUMNS}, slate_len) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getDecision: db.prepare<[string, string], DecisionRow>(
      `SELECT ${DECISION_COLUMNS} FROM decisions WHERE model_id = ? AND event_id = ?`,
    ),
    exposeDecision: db.prepare<[number, string, string]>(
      'UPDATE decisions SET exposed_at = ? WHERE model_id = ? AND event_id = ? AND exposed_at IS NULL',
    ),

    dueWindows: db
      .prepare<[string, number, number], WindowTuple>(
        `SELECT model_id, event_id, item_id, position, deadline FROM windows
         WHERE model_id = ? AND deadline <= ? ORDER BY deadline, id LIMIT ?`,
      )
      .raw(),
    closeWindow: db.prepare<[string, string, string]>('DELETE FROM windows WHERE model_id = ? AND event_id = ? AND item_id = ?'),
    isWindowOpen: db
      .prepare<[string, string, string], number>('SELECT 1 FROM windows WHERE model_id = ? AND event_id = ? AND item_id = ?')
      .pluck(),

    insertFeedback: db.prepare<[string, string, string, string, number | null, number]>(
      `INSERT INTO feedback (model_id, event_id, item_id, kind, value, at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),

    // One statement: the triggers of migration 1 keep active_outcomes with it.
    appendOutcome: db.prepare<
      [string, string, string, number, string | null, string | null, string, number, number, number | null, number, number]
    >(
      `INSERT INTO outcomes (model_id, event_id, item_id, position, user_id, item_group, kind, reward, weight, retracts, ordinal, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    outcomesAfter: db
      .prepare<[string, number, number], OutcomeTuple>(
        `SELECT ${OUTCOME_COLUMNS} FROM outcomes WHERE model_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
      )
      .raw(),
    activeOutcome: db.prepare<[string, string, string], OutcomeRow>(
      `SELECT ${OUTCOME_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}
       FROM active_outcomes a JOIN outcomes o ON o.seq = a.seq
       WHERE a.model_id = ? AND a.event_id = ? AND a.item_id = ?`,
    ),
    lastSeq: db.prepare<[string], number>('SELECT seq FROM outcomes WHERE model_id = ? ORDER BY seq DESC LIMIT 1').pluck(),

    saveSnapshot: db.prepare<[string, string, number, string, number]>(
      `INSERT INTO snapshots (model_id, config_key, seq, state, at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (model_id, config_key) DO UPDATE SET seq = excluded.seq, state = excluded.state, at = excluded.at`,
    ),
    latestSnapshot: db.prepare<[string, string], SnapshotRow>(
      'SELECT model_id, config_key, seq, state, at FROM snapshots WHERE model_id = ? AND config_key = ?',
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
      .prepare<[string, string], [state: string, fatigueRows: number]>('SELECT state, fatigue_rows FROM user_state WHERE model_id = ? AND user_id = ?')
      .raw(),
    putUserState: db.prepare<[string, string, string, number]>(
      `INSERT INTO user_state (model_id, user_id, state, fatigue_rows) VALUES (?, ?, ?, ?)
       ON CONFLICT (model_id, user_id) DO UPDATE SET state = excluded.state, fatigue_rows = excluded.fatigue_rows`,
    ),
    getFatigue: db
      .prepare<[string, string], [key: string, count: number, at: number]>('SELECT key, count, at FROM user_fatigue WHERE model_id = ? AND user_id = ?')
      .raw(),
    putFatigue: db.prepare<[string, string, string, number, number]>(
      `INSERT INTO user_fatigue (model_id, user_id, key, count, at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (model_id, user_id, key) DO UPDATE SET count = excluded.count, at = excluded.at`,
    ),
    deleteFatigueKey: db.prepare<[string, string, string]>('DELETE FROM user_fatigue WHERE model_id = ? AND user_id = ? AND key = ?'),
    clearFatigue: db.prepare<[string, string]>('DELETE FROM user_fatigue WHERE model_id = ? AND user_id = ?'),

    addCounts: db.prepare<[string, number, number, number, number, number]>(
      `INSERT INTO model_counts (model_id, decisions, feedback, outcomes, ledger, open_windows) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (model_id) DO UPDATE SET decisions = decisions + excluded.decisions,
         feedback = feedback + excluded.feedback, outcomes = outcomes + excluded.outcomes,
         ledger = ledger + excluded.ledger, open_windows = open_windows + excluded.open_windows`,
    ),
    counts: db.prepare<[string], Counts>(
      `SELECT decisions, feedback, outcomes, ledger, open_windows AS openWindows
       FROM model_counts WHERE model_id = ?`,
    ),
    countsAll: db.prepare<[], Counts>(
      `SELECT COALESCE(SUM(decisions), 0) AS decisions, COALESCE(SUM(feedback), 0) AS feedback,
              COALESCE(SUM(outcomes), 0) AS outcomes, COALESCE(SUM(ledger), 0) AS ledger,
              COALESCE(SUM(open_windows), 0) AS openWindows
       FROM model_counts`,
    ),
  };
}

/** A multi-row INSERT of `n` rows, prepared on first use per n. */
class RowsStatement {
  private readonly byCount = new Map<number, Database.Statement<unknown[]>>();
  private readonly row: string;

  constructor(
    private readonly db: Database.Database,
    private readonly head: string,
    arity: number,
    private readonly tail = '',
  ) {
    this.row = `(${Array.from({ length: arity }, () => '?').join(', ')})`;
  }

  of(n: number): Database.Statement<unknown[]> {
    let s = this.byCount.get(n);
    if (!s) {
      s = this.db.prepare<unknown[]>(`${this.head} VALUES ${Array.from({ length: n }, () => this.row).join(', ')} ${this.tail}`);
      this.byCount.set(n, s);
    }
    return s;
  }
}

/**
 * A {@link Store} in one SQLite file. Synchronous, like better-sqlite3; one connection per store.
 * Construct it with {@link openSqliteStore}.
 */
export class SqliteStore implements Store {
  /** How many migrations this open applied (0 when the database was up to date). */
  readonly migrationsApplied: number;
  private readonly db: Database.Database;
  private readonly s: ReturnType<typeof prepare>;
  private readonly openWindowRows: RowsStatement;
  private readonly ledgerRows: RowsStatement;
  /** What the open transactions defer to their end (counters, user states). */
  private readonly frames = new WriteFrames();
  /** Parsed user states known to equal the database (by userKey), oldest first. */
  private readonly users = new Map<string, unknown>();
  private readonly userCacheLimit: number;
  /** JSON of user states, reusing the text of parts written before. */
  private readonly stateJson = new StateJson();
  /**
   * Fatigue memories written or read as rows of user_fatigue, with their key counts (memories are
   * immutable values, like the states holding them): a state in the user cache whose memory is
   * here has exactly those rows.
   */
  private readonly rowSizes = new WeakMap<object, number>();
  /** Last `PRAGMA data_version` seen: a change means another connection committed. */
  private dataVersion: number;
  /** Group commit (see {@link enableGroupCommit}): on, a group open, its waiters, a flush scheduled, a failure. */
  private grouping = false;
  private groupOpen = false;
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
    const busyTimeoutMs = checkCount('busyTimeoutMs', options.busyTimeoutMs ?? 5000);
    const userStateCache = checkCount('userStateCache', options.userStateCache ?? 4096);
    const db = new Database(path);
    try {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && !(path === ':memory:' && mode === 'memory')) {
        throw new Error(`could not switch ${path} to WAL (journal_mode is ${String(mode)})`);
      }
      db.pragma(`synchronous = ${synchronous}`);
      db.pragma('foreign_keys = ON');
      // Savepoint sub-journals (each transaction of a commit group is a savepoint) in memory: in
      // a file they stay on disk once a big transaction spilled them past 64 KiB, and then every
      // page a grouped transaction modifies costs one more write() (measured: 15.4 → 11.5 write
      // calls per grouped rank). They only serve ROLLBACK TO inside an open transaction, so
      // durability is unaffected; their size is bounded by the pages one transaction modifies.
      db.pragma('temp_store = MEMORY');
      const applied = migrate(db);
      return new SqliteStore(db, applied, userStateCache);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private constructor(db: Database.Database, migrationsApplied: number, userCacheLimit: number) {
    this.db = db;
    this.migrationsApplied = migrationsApplied;
    this.userCacheLimit = userCacheLimit;
    this.s = prepare(db);
    this.openWindowRows = new RowsStatement(
      db,
      'INSERT INTO windows (model_id, event_id, item_id, position, deadline)',
      5,
      'ON CONFLICT (model_id, event_id, item_id) DO NOTHING',
    );
    this.ledgerRows = new RowsStatement(db, 'INSERT INTO ledger (model_id, event_id, user_id, item_id, position, rule, cost, at)', 8);
    this.dataVersion = this.s.dataVersion.get() ?? 0;
  }

  /**
   * Run `fn` in one transaction (BEGIN IMMEDIATE … COMMIT). A call inside a running transaction
   * joins it as a savepoint: its writes commit with the outer transaction, and if it throws only
   * its own writes are rolled back before the error propagates. IMMEDIATE takes the write lock
   * up front, so a second writer process waits (busy_timeout) instead of failing to upgrade.
   * The counters and user states the transaction deferred are written just before its COMMIT.
   * @throws the error of `fn` (after the rollback); the group's failure once group commit failed
   */
  transaction<T>(fn: () => T): T {
    return this.run(fn, this.grouping);
  }

  /**
   * The transaction machinery. `group`: outside a SQLite transaction, open a commit group (see
   * {@link enableGroupCommit}) instead of a transaction of its own. Refused once group commit
   * failed, like every write that needs a transaction.
   */
  private run<T>(fn: () => T, group: boolean): T {
    if (this.failure) throw this.failure;
    const s = this.s;
    // `own`: this call began the SQLite transaction and commits it; otherwise it is a savepoint.
    let own = false;
    if (!this.db.inTransaction) {
      if (this.groupOpen) {
        // The open group is gone without a COMMIT (SQLite rolled it back): never start afresh.
        this.fail(new Error('SQLite rolled the group back'));
        throw this.failure!;
      }
      s.begin.run();
      this.checkDataVersion();
      if (group) {
        this.groupOpen = true;
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(this.flush);
        }
      } else {
        own = true;
      }
    }
    if (!own) s.savepoint.run();
    const frames = this.frames;
    frames.push();
    const outermost = frames.depth === 1;
    let wrote = false;
    try {
      const result = fn();
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        throw new TypeError('a transaction function cannot return a promise');
      }
      if (!this.db.inTransaction) throw transactionLost();
      if (outermost) {
        wrote = true;
        this.writeDeferred(frames.top);
      }
      if (own) s.commit.run();
      else s.release.run();
      if (outermost) frames.release();
      else frames.merge();
      return result;
    } catch (error) {
      frames.discard();
      if (this.db.inTransaction) {
        if (own) {
          s.rollback.run();
        } else {
          s.rollbackTo.run();
          s.release.run();
        }
      } else if (this.groupOpen) {
        // SQLite rolled the whole group back (e.g. RAISE(ROLLBACK), some I/O errors): the writes of
        // this turn's earlier transactions are gone, so none of them may be acknowledged.
        this.fail(error);
      }
      // The cache may hold states written just now; it must not outlive their rollback.
      if (wrote || !this.db.inTransaction) this.users.clear();
      throw error;
    }
  }

  /**
   * A write that must be atomic with its counter update: inside the caller's transaction, or its
   * own. Refused when SQLite rolled the caller's transaction back under it (a caller that caught
   * that error and went on would otherwise write outside any transaction, in autocommit).
   */
  private write<T>(fn: () => T): T {
    if (this.frames.depth === 0) return this.run(fn, false);
    if (!this.db.inTransaction) throw transactionLost();
    return fn();
  }

  /** Write what the outermost frame deferred: user states, then one counter upsert per model. */
  private writeDeferred(frame: Frame): void {
    for (const [modelId, users] of frame.users) {
      for (const [userId, state] of users) this.writeUser(modelId, userId, state);
    }
    for (const [modelId, d] of frame.counts) {
      if (d[0] !== 0 || d[1] !== 0 || d[2] !== 0 || d[3] !== 0 || d[4] !== 0) this.s.addCounts.run(modelId, ...d);
    }
  }

  /** Empty the user cache when another connection has committed since we last looked. */
  private checkDataVersion(): void {
    const v = this.s.dataVersion.get() ?? 0;
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.users.clear();
    }
  }

  private cacheUser(key: string, state: unknown): void {
    if (this.userCacheLimit === 0) return;
    this.users.delete(key);
    if (this.users.size >= this.userCacheLimit) {
      // Drop the oldest quarter (a Map iterates in insertion order).
      let n = Math.max(1, this.userCacheLimit >> 2);
      for (const k of this.users.keys()) {
        this.users.delete(k);
        if (--n === 0) break;
      }
    }
    this.users.set(key, state);
  }

  /** Stop the store after a lost commit group (see {@link enableGroupCommit}). */
  private fail(cause: unknown): void {
    this.groupOpen = false;
    this.users.clear();
    this.failure ??= new Error(
      `group commit failed, nothing of it was acknowledged: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }

  /**
   * Group commit, for a server: from now on the first `transaction` of an event-loop turn opens
   * one SQLite transaction (BEGIN IMMEDIATE) that every further `transaction` of the turn joins
   * as a savepoint (a failing one rolls back alone), and a `setImmediate` commits it once — one
   * commit (one WAL append) for all the requests handled in that turn instead of one each.
   *
   * The returned barrier resolves once everything written before the call is committed; a
   * server awaits it before every acknowledgement, so nothing is acknowledged before its commit.
   * If the group's COMMIT fails, or SQLite rolls the whole group back while it is open, the group
   * is rolled back, waiting barriers reject, and the store refuses every later transaction
   * (`failed`): the caller's in-memory state is then ahead of the disk, so it must stop serving
   * writes and restart from the database (fail-stop).
   * Idempotent. Reads outside transactions see the group's uncommitted writes (one connection).
   */
  enableGroupCommit(): () => Promise<void> {
    this.grouping = true;
    return () => {
      if (this.failure) return Promise.reject(this.failure);
      if (!this.groupOpen) return Promise.resolve();
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
    if (this.groupOpen && this.db.open) {
      this.groupOpen = false;
      if (!this.db.inTransaction) {
        this.fail(new Error('SQLite rolled the group back'));
      } else {
        try {
          this.s.commit.run();
        } catch (error) {
          try {
            if (this.db.inTransaction) this.s.rollback.run();
          } catch {
            // The connection is beyond repair; `failure` already stops every later write.
          }
          this.fail(error);
        }
      }
    }
    const failure = this.failure;
    for (const w of waiters) {
      if (failure) w.reject(failure);
      else w.resolve();
    }
  };

  putModel(record: ModelRecord): void {
    this.s.putModel.run(record.modelId, record.version, toJson(record.config, 'model config'), record.createdAt, record.updatedAt);
  }

  getModel(modelId: string): ModelRecord | undefined {
    const row = this.s.getModel.get(modelId);
    return row ? modelFromRow(row) : undefined;
  }

  listModels(): ModelRecord[] {
    // Sorted in JS (UTF-16 order), not by SQLite's byte order, to match the in-memory store.
    return this.s.listModels
      .all()
      .map(modelFromRow)
      .sort((a, b) => (a.modelId < b.modelId ? -1 : a.modelId > b.modelId ? 1 : 0));
  }

  deleteModel(modelId: string): boolean {
    return this.transaction(() => {
      if (this.s.deleteModel.run(modelId).changes === 0) return false;
      for (const statement of this.s.deleteAll) statement.run(modelId);
      this.frames.deleted(modelId);
      const prefix = userKey(modelId, '');
      for (const key of this.users.keys()) if (key.startsWith(prefix)) this.users.delete(key);
      return true;
    });
  }

  insertDecision(record: DecisionRecord, text?: DecisionText): void {
    // The JSON first: a value JSON cannot hold fails before anything is written.
    const context = toJson(record.context, 'decision context');
    const candidates = text?.candidates ?? toJson(record.candidates, 'decision candidates');
    const slate = toJson(record.slate, 'decision slate');
    this.write(() => {
      try {
        this.s.insertDecision.run(
          record.modelId,
          record.eventId,
          record.modelVersion,
          record.posteriorSeq,
          record.seed,
          record.at,
          record.userId ?? null,
          context,
          candidates,
          slate,
          record.draws,
          record.exposedAt,
          record.representationVersion ?? null,
          record.slate.length,
        );
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new StoreConflict(`decision ${record.eventId} of model ${record.modelId} exists already`);
        }
        throw error;
      }
      this.frames.count(record.modelId, COUNTER.decisions, 1);
    });
  }

  getDecision(modelId: string, eventId: string): DecisionRecord | undefined {
    const row = this.s.getDecision.get(modelId, eventId);
    return row ? decisionFromRow(row) : undefined;
  }

  exposeDecision(modelId: string, eventId: string, at: number, windows: readonly OpenImpression[]): boolean {
    return this.transaction(() => {
      if (this.s.exposeDecision.run(at, modelId, eventId).changes === 0) return false;
      this.openWindows(windows);
      return true;
    });
  }

  openWindows(windows: readonly OpenImpression[]): void {
    const n = windows.length;
    if (n === 0) return;
    // One statement is atomic by itself; several chunks need a savepoint around them.
    if (n <= CHUNK) this.write(() => this.openWindowChunk(windows, 0, n));
    else this.run(() => {
      for (let from = 0; from < n; from += CHUNK) this.openWindowChunk(windows, from, Math.min(n, from + CHUNK));
    }, false);
  }

  /** Open windows[from, to) with one INSERT; the rows that were new count as open windows. */
  private openWindowChunk(windows: readonly OpenImpression[], from: number, to: number): void {
    const modelId = windows[from]!.modelId;
    let oneModel = true;
    const params: unknown[] = new Array((to - from) * 5);
    for (let i = from, p = 0; i < to; i++) {
      const w = windows[i]!;
      if (w.modelId !== modelId) oneModel = false;
      params[p++] = w.modelId;
      params[p++] = w.eventId;
      params[p++] = w.itemId;
      params[p++] = w.position;
      params[p++] = w.deadline;
    }
    if (oneModel) {
      const opened = this.openWindowRows.of(to - from).run(params).changes;
      if (opened > 0) this.frames.count(modelId, COUNTER.openWindows, opened);
      return;
    }
    // Windows of several models (not what the engine writes): row by row, to count per model.
    const one = this.openWindowRows.of(1);
    for (let i = from; i < to; i++) {
      const w = windows[i]!;
      if (one.run(w.modelId, w.eventId, w.itemId, w.position, w.deadline).changes > 0) {
        this.frames.count(w.modelId, COUNTER.openWindows, 1);
      }
    }
  }

  dueWindows(modelId: string, now: number, limit: number): OpenImpression[] {
    return this.s.dueWindows.all(modelId, now, sqlLimit(limit)).map(windowFromTuple);
  }

  closeWindow(modelId: string, eventId: string, itemId: string): boolean {
    return this.write(() => {
      if (this.s.closeWindow.run(modelId, eventId, itemId).changes === 0) return false;
      this.frames.count(modelId, COUNTER.openWindows, -1);
      return true;
    });
  }

  isWindowOpen(modelId: string, eventId: string, itemId: string): boolean {
    return this.s.isWindowOpen.get(modelId, eventId, itemId) !== undefined;
  }

  insertFeedback(record: FeedbackRecord): boolean {
    const { modelId, eventId, itemId, kind, value, at } = record;
    return this.write(() => {
      if (this.s.insertFeedback.run(modelId, eventId, itemId, kind, value ?? null, at).changes === 0) return false;
      this.frames.count(modelId, COUNTER.feedback, 1);
      return true;
    });
  }

  appendOutcome(outcome: NewOutcome): number {
    return this.write(() => {
      const result = this.s.appendOutcome.run(
        outcome.modelId,
        outcome.eventId,
        outcome.itemId,
        outcome.position,
        outcome.userId ?? null,
        outcome.group ?? null,
        outcome.kind,
        outcome.reward,
        outcome.weight,
        outcome.retracts ?? null,
        outcome.ordinal,
        outcome.at,
      );
      this.frames.count(outcome.modelId, COUNTER.outcomes, 1);
      return Number(result.lastInsertRowid);
    });
  }

  outcomesAfter(modelId: string, afterSeq: number, limit: number): OutcomeRecord[] {
    return this.s.outcomesAfter.all(modelId, afterSeq, sqlLimit(limit)).map(outcomeFromTuple);
  }

  activeOutcome(modelId: string, eventId: string, itemId: string): OutcomeRecord | undefined {
    const row = this.s.activeOutcome.get(modelId, eventId, itemId);
    return row ? outcomeFromRow(row) : undefined;
  }

  lastSeq(modelId: string): number {
    return this.s.lastSeq.get(modelId) ?? 0;
  }

  saveSnapshot(snapshot: SnapshotRecord): void {
    this.s.saveSnapshot.run(snapshot.modelId, snapshot.configKey, snapshot.seq, toJson(snapshot.state, 'snapshot state'), snapshot.at);
  }

  latestSnapshot(modelId: string, configKey: string): SnapshotRecord | undefined {
    const row = this.s.latestSnapshot.get(modelId, configKey);
    return row ? snapshotFromRow(row) : undefined;
  }

  appendLedger(entries: readonly LedgerEntry[]): void {
    const n = entries.length;
    if (n === 0) return;
    const chunks = () => {
      for (let from = 0; from < n; from += CHUNK) {
        const to = Math.min(n, from + CHUNK);
        const params: unknown[] = new Array((to - from) * 8);
        for (let i = from, p = 0; i < to; i++) {
          const e = entries[i]!;
          params[p++] = e.modelId;
          params[p++] = e.eventId;
          params[p++] = e.userId ?? null;
          params[p++] = e.itemId;
          params[p++] = e.position;
          params[p++] = e.rule;
          params[p++] = e.cost;
          params[p++] = e.at;
        }
        this.ledgerRows.of(to - from).run(params);
        for (let i = from; i < to; i++) this.frames.count(entries[i]!.modelId, COUNTER.ledger, 1);
      }
    };
    if (n <= CHUNK) this.write(chunks);
    else this.run(chunks, false);
  }

  budgetTotals(modelId: string, options: { since?: number; userId?: string } = {}): BudgetTotals {
    const since = options.since ?? Number.NEGATIVE_INFINITY;
    const row =
      options.userId === undefined
        ? this.s.budgetTotals.get(modelId, since, modelId, since)
        : this.s.budgetTotalsOfUser.get(modelId, options.userId, since, modelId, options.userId, since);
    return row
      ? { decisions: row.decisions, slots: row.slots, explored: row.explored, cost: row.cost }
      : { decisions: 0, slots: 0, explored: 0, cost: 0 };
  }

  getUserState(modelId: string, userId: string): UserState | undefined {
    if (this.frames.depth > 0) {
      const pending = this.frames.pendingUser(modelId, userId);
      if (pending === DELETED) return undefined;
      if (pending !== undefined) return pending;
    } else if (!this.db.inTransaction) {
      this.checkDataVersion();
    }
    const key = userKey(modelId, userId);
    const cached = this.users.get(key);
    if (cached !== undefined) return cached;
    const row = this.s.getUserState.get(modelId, userId);
    if (row === undefined) return undefined;
    const state = JSON.parse(row[0]) as UserState;
    if (row[1] === 1 && isPlainObject(state)) {
      // The memory's rows, in place of the placeholder (fromEntries: every key an own property).
      const rows = this.s.getFatigue.all(modelId, userId);
      const fatigue = Object.fromEntries(rows.map((r) => [r[0], [r[1], r[2]]]));
      this.rowSizes.set(fatigue, rows.length);
      (state as { fatigue: unknown }).fatigue = fatigue;
    }
    // Rows of user_state change only in writeDeferred and deleteModel, so what is read here holds
    // until then, even if the surrounding transaction rolls back.
    this.cacheUser(key, state);
    return state;
  }

  putUserState(modelId: string, userId: string, state: UserState): void {
    checkJsonable(state, 'user state');
    if (this.frames.depth > 0) {
      this.frames.putUser(modelId, userId, state);
      return;
    }
    // Several statements (the state row and the memory's rows): one transaction, written at its end.
    this.transaction(() => this.frames.putUser(modelId, userId, state));
  }

  /**
   * Write a user's state (inside a transaction, or in autocommit for a single put) and cache it.
   * A fatigue memory of pairs (see {@link fatigueOf}) goes to user_fatigue: against the
   * state last written or read for this user (the cache), only the keys whose [count, at]
   * changed are written and the keys gone are deleted — a fold touches one or two keys — and
   * without it (not cached, or stored whole) the user's rows are replaced. The rest of the state
   * is a small JSON row with the placeholder 0 where the memory was.
   */
  private writeUser(modelId: string, userId: string, state: UserState): void {
    const s = this.s;
    const key = userKey(modelId, userId);
    const oldMemory = fatigueOf(this.users.get(key));
    const old = oldMemory !== undefined && this.rowSizes.has(oldMemory) ? (oldMemory as FatigueRows) : undefined;
    const memory = fatigueOf(state);
    const diff = memory === undefined ? null : memory === old ? UNCHANGED : this.memoryDiff(memory, old);
    if (diff === null) {
      // Stored whole. Rows of an earlier memory go (when the last state is not known, there may be some).
      s.putUserState.run(modelId, userId, this.userJson(state), 0);
      if (old !== undefined || !this.users.has(key)) s.clearFatigue.run(modelId, userId);
    } else {
      const rows = memory as FatigueRows;
      s.putUserState.run(modelId, userId, this.userJson({ ...(state as object), fatigue: 0 }), 1);
      if (old === undefined) s.clearFatigue.run(modelId, userId);
      for (const k of diff.changed) s.putFatigue.run(modelId, userId, k, rows[k]![0], rows[k]![1]);
      if (diff.gone) for (const k in old) if (!Object.hasOwn(rows, k)) s.deleteFatigueKey.run(modelId, userId, k);
    }
    this.cacheUser(key, state);
  }

  /**
   * The keys of `memory` whose [count, at] differs from `old` (all of them without `old`), and
   * whether some key of `old` is gone — or null when `memory` is not all pairs (it is then
   * stored whole). Records the memory's size in rowSizes.
   *
   * One pass, for…in and plain reads: a memory of hundreds of keys is a dictionary-mode object,
   * where Object.keys and Object.hasOwn made this pass about 5× slower. An inherited property is
   * never an array and every own value of `old` is one, so Array.isArray tells an own key of
   * `old` from the rest; the keys of `old` found here, against its size, tell whether any is gone.
   */
  private memoryDiff(memory: object, old: FatigueRows | undefined): MemoryDiff | null {
    const changed: string[] = [];
    let n = 0;
    let common = 0;
    for (const k in memory) {
      const e = (memory as Record<string, unknown>)[k];
      if (!isPair(e)) return null;
      n++;
      const o = old?.[k] as unknown;
      if (!Array.isArray(o)) {
        changed.push(k);
        continue;
      }
      common++;
      if ((o as unknown) !== e && (o[0] !== e[0] || o[1] !== e[1])) changed.push(k);
    }
    this.rowSizes.set(memory, n);
    return { changed, gone: old !== undefined && common < this.rowSizes.get(old)! };
  }

  /** JSON text of a user state (see StateJson); refuses what JSON cannot hold. */
  private userJson(state: UserState): string {
    const text = this.stateJson.text(state);
    if (text === undefined) throw new TypeError('user state is not JSON-serialisable');
    return text;
  }

  counts(modelId?: string): Counts {
    const row = modelId === undefined ? this.s.countsAll.get() : this.s.counts.get(modelId);
    const out: Counts = row
      ? { decisions: row.decisions, feedback: row.feedback, outcomes: row.outcomes, ledger: row.ledger, openWindows: row.openWindows }
      : { decisions: 0, feedback: 0, outcomes: 0, ledger: 0, openWindows: 0 };
    if (this.frames.depth === 0) return out;
    // Inside a transaction: plus what it has not written yet.
    for (const [m, d] of this.frames.pendingCounts()) {
      if (modelId !== undefined && m !== modelId) continue;
      out.decisions += d[COUNTER.decisions];
      out.feedback += d[COUNTER.feedback];
      out.outcomes += d[COUNTER.outcomes];
      out.ledger += d[COUNTER.ledger];
      out.openWindows += d[COUNTER.openWindows];
    }
    return out;
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
