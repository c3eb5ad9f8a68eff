/**
 * Storage: the {@link Store} interface its callers defined, the in-memory store (simulations,
 * tests) and the SQLite store (the embedded, durable default).
 */
export * from './types.js';
export { MemoryStore } from './memory/index.js';
export { openSqliteStore, SqliteStore, MIGRATIONS, type SqliteStoreOptions } from './sqlite/index.js';
