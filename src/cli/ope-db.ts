/**
 * Reading a model's logged decisions from a liubai SQLite database for off-policy evaluation
 * (`liubai evaluate`, `liubai sweep --ope`). The file I/O lives here, in the composition root;
 * src/ope stays pure and works on the log or on any store.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { OpeInputError } from '../ope/errors.js';
import { readModelLog, type ModelLog } from '../ope/logged.js';
import { openSqliteStore } from '../storage/sqlite/index.js';

/**
 * Every decision eventId of a model in a liubai SQLite database, in logging order, by a read-only
 * connection (the database is not modified).
 * @throws OpeInputError `dbPath` when the file is missing or is not a liubai database
 */
export function listDecisionEventIds(dbPath: string, modelId: string): string[] {
  if (!existsSync(dbPath)) throw new OpeInputError('dbPath', `no database file at ${dbPath}`);
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new OpeInputError('dbPath', `cannot open ${dbPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    const table = db.prepare<[], number>("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'").pluck().get();
    if (table === undefined) throw new OpeInputError('dbPath', `${dbPath} is not a liubai database (no decisions table)`);
    return db.prepare<[string], string>('SELECT event_id FROM decisions WHERE model_id = ? ORDER BY id').pluck().all(modelId);
  } catch (error) {
    if (error instanceof OpeInputError) throw error;
    throw new OpeInputError('dbPath', `cannot read ${dbPath}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    db.close();
  }
}

/**
 * A model's log from a liubai SQLite database (every decision listed, then read through the
 * store; see `readModelLog` for the reward rules). The store is closed before returning.
 * @throws OpeInputError `dbPath` (missing file, not a liubai database), `modelId`, `decisions`
 */
export function readModelLogFromDb(dbPath: string, modelId: string): ModelLog {
  const eventIds = listDecisionEventIds(dbPath, modelId);
  const store = openSqliteStore(dbPath);
  try {
    return readModelLog(store, modelId, { eventIds });
  } catch (error) {
    if (error instanceof OpeInputError && error.field === 'modelId') {
      throw new OpeInputError('modelId', `no model ${JSON.stringify(modelId)} in ${dbPath}`);
    }
    throw error;
  } finally {
    store.close();
  }
}

