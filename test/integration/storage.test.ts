/**
 * The storage contract against every implementation, plus what only the SQLite store promises:
 * ordered migrations, WAL, and acknowledged writes surviving `kill -9`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { MemoryStore } from '../../src/storage/memory/index.js';
import { StoreConflict } from '../../src/storage/types.js';
import { MIGRATIONS, openSqliteStore, type SqliteStore } from '../../src/storage/sqlite/index.js';
import { storageContract, type StoreHarness } from './storage-contract.js';

function sqliteHarness(options: Parameters<typeof openSqliteStore>[1] = {}, grouped = false): StoreHarness {
  // A directory, so the -wal and -shm files go with the database.
  const dir = mkdtempSync(join(tmpdir(), 'liubai-store-'));
  const path = join(dir, 'store.db');
  const openOne = (): SqliteStore => {
    const store = openSqliteStore(path, options);
    if (grouped) store.enableGroupCommit();
    return store;
  };
  let current = openOne();
  return {
    store: current,
    reopen: () => {
      current.close();
      current = openOne();
      return current;
    },
    cleanup: () => {
      current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

storageContract('memory', () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

// The contract's semantics do not depend on `synchronous`; NORMAL spares an fsync per commit so
// the suite stays fast. FULL (the default) is exercised by the kill -9 test below.
storageContract('sqlite', () => sqliteHarness({ synchronous: 'NORMAL' }));
// The same contract with group commit on (as the server runs it): transactions of one turn share
// one SQLite transaction as savepoints; closing commits the open group.
storageContract('sqlite, group commit', () => sqliteHarness({ synchronous: 'NORMAL' }, true));
// And with no user-state cache, so every read of a state parses what the database holds.
storageContract('sqlite, no user-state cache', () => sqliteHarness({ synchronous: 'NORMAL', userStateCache: 0 }));

describe('sqlite store specifics', () => {
  let dir: string;
  let path: string;
  const opened: SqliteStore[] = [];
  const open = (...args: Parameters<typeof openSqliteStore>): SqliteStore => {
    const store = openSqliteStore(...args);
    opened.push(store);
    return store;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'liubai-store-'));
    path = join(dir, 'store.db');
  });
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Read the file with a separate connection (what another process would see). */
  function inspect<T>(read: (db: Database.Database) => T): T {
    const db = new Database(path, { readonly: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  }

  test('a new database gets every migration, in order, once; reopening applies nothing', () => {
    expect(open(path).migrationsApplied).toBe(MIGRATIONS.length);
    opened.pop()!.close();
    expect(open(path).migrationsApplied).toBe(0);
    const versions = inspect((db) => db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all());
    expect(versions).toStrictEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  test('a database at schema version 1 upgrades in place: its decisions keep every field and gain no encoder version', () => {
    // Build a version-1 database by hand (the first migration only), with one decision in it.
    const v1 = new Database(path);
    v1.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    v1.exec(MIGRATIONS[0]!);
    v1.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)').run();
    v1.prepare(
      `INSERT INTO decisions (model_id, event_id, model_version, posterior_seq, seed, at, user_id, context, candidates, slate, slate_len, draws, exposed_at)
       VALUES ('m', 'old', 1, 0, 's', 5, NULL, '{}', '[{"id":"a"}]', '[{"itemId":"a","position":1,"propensity":1,"slatePropensity":1,"explored":false}]', 1, 64, 5)`,
    ).run();
    v1.close();
    const store = open(path);
    expect(store.migrationsApplied).toBe(MIGRATIONS.length - 1);
    const old = store.getDecision('m', 'old')!;
    expect(old).toMatchObject({ eventId: 'old', modelVersion: 1, draws: 64, exposedAt: 5 });
    expect('representationVersion' in old).toBe(false);
  });

  describe('fatigue memories, one row per key', () => {
    /** A memory of n entries with awkward doubles (tiny, long fractions) and times. */
    const memory = (n: number, salt = 0): Record<string, [number, number]> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`i:item${i}`, [Math.exp(-i / 7 - salt) / 3, 1_795_908_602_013 + i * 0.25]]));
    const rows = (userId: string) =>
      inspect((db) => db.prepare('SELECT COUNT(*) FROM user_fatigue WHERE user_id = ?').pluck().get(userId) as number);
    const stateText = (userId: string) =>
      inspect((db) => db.prepare('SELECT state FROM user_state WHERE user_id = ?').pluck().get(userId) as string);

    test('a version-3 database upgrades in place: eligible memories move to rows with the same doubles, other states stay whole', () => {
      const v3 = new Database(path);
      v3.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      for (let i = 0; i < 3; i++) v3.exec(MIGRATIONS[i]!);
      v3.exec('INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0), (2, 0), (3, 0)');
      const states: Record<string, unknown> = {
        u1: { bucket: { tokens: 0.3, at: 9 }, fatigue: { ...memory(200), 'g:"quoted" ✓': [1e-300, 5] }, recentGroups: ['g'] },
        u2: { fatigue: { items: { i1: { rejections: 1.5 } } } },
        u3: { fatigue: { 'i:a': [1, 2, 3] } },
        u4: { bucket: null },
        u5: [1, 2],
        u6: { fatigue: {} },
      };
      const put = v3.prepare('INSERT INTO user_state (model_id, user_id, state) VALUES (?, ?, ?)');
      for (const [u, state] of Object.entries(states)) put.run('m', u, JSON.stringify(state));
      v3.close();
      const store = open(path);
      expect(store.migrationsApplied).toBe(MIGRATIONS.length - 3);
      for (const [u, state] of Object.entries(states)) expect(store.getUserState('m', u)).toStrictEqual(state);
      expect([rows('u1'), rows('u2'), rows('u3'), rows('u6')]).toStrictEqual([201, 0, 0, 0]);
      expect(stateText('u1')).toBe('{"bucket":{"tokens":0.3,"at":9},"fatigue":0,"recentGroups":["g"]}');
      expect(stateText('u2')).toBe(JSON.stringify(states['u2']));
    });

    test('a fold writes the keys it changed and deletes the ones gone, not the whole memory', () => {
      const store = open(path, { synchronous: 'NORMAL' });
      const db = (store as unknown as { db: Database.Database }).db;
      const changes = () => db.prepare('SELECT total_changes()').pluck().get() as number;
      const fatigue = memory(800);
      store.putUserState('m', 'u1', { fatigue, bucket: null });
      expect(rows('u1')).toBe(800);
      expect(stateText('u1')).toBe('{"fatigue":0,"bucket":null}');
      const folded: Record<string, readonly [number, number]> = { ...fatigue, 'i:item3': [2.5, 1_795_908_700_000], 'i:new': [1, 1_795_908_700_000] };
      delete folded['i:item799'];
      const before = changes();
      store.putUserState('m', 'u1', { fatigue: folded, bucket: null });
      // The state row, one changed key, one new key, one deleted key.
      expect(changes() - before).toBe(4);
      // An equal pair in a new array is not rewritten either.
      const copied = { ...folded, 'i:item5': [folded['i:item5']![0], folded['i:item5']![1]] as const };
      const again = changes();
      store.putUserState('m', 'u1', { fatigue: copied, bucket: { tokens: 1, at: 2 } });
      expect(changes() - again).toBe(1);
      // Keys named like Object.prototype's properties are keys like any other.
      const odd: Record<string, readonly [number, number]> = { ...copied };
      odd['constructor'] = [1, 1];
      odd['toString'] = [2, 2];
      delete odd['i:item0'];
      delete odd['i:item1'];
      const third = changes();
      store.putUserState('m', 'u1', { fatigue: odd, bucket: { tokens: 1, at: 2 } });
      expect(changes() - third).toBe(5);
      expect(rows('u1')).toBe(800);
      store.close();
      const reopened = open(path, { synchronous: 'NORMAL' });
      // (toEqual: toStrictEqual compares `constructor` properties by identity.)
      expect(reopened.getUserState('m', 'u1')).toEqual({ fatigue: odd, bucket: { tokens: 1, at: 2 } });
      // A state without a memory leaves no rows behind.
      reopened.putUserState('m', 'u1', { bucket: null });
      expect(rows('u1')).toBe(0);
    });

    test('a memory read from a whole-JSON row is not taken for rows: the next write stores all its keys', () => {
      open(path).close();
      opened.pop();
      const db = new Database(path);
      db.prepare("INSERT INTO user_state (model_id, user_id, state, fatigue_rows) VALUES ('m', 'u1', ?, 0)").run(JSON.stringify({ fatigue: memory(30) }));
      db.close();
      const store = open(path);
      const read = store.getUserState('m', 'u1') as { fatigue: Record<string, [number, number]> };
      expect(read).toStrictEqual({ fatigue: memory(30) });
      store.putUserState('m', 'u1', { fatigue: { ...read.fatigue, 'i:item2': [5, 5] } });
      expect(rows('u1')).toBe(30);
      store.close();
      expect(open(path).getUserState('m', 'u1')).toStrictEqual({ fatigue: { ...memory(30), 'i:item2': [5, 5] } });
    });

    test("another connection's write is never diffed against: after it, the whole memory is replaced", () => {
      const a = open(path, { synchronous: 'NORMAL' });
      const b = open(path, { synchronous: 'NORMAL' });
      a.putUserState('m', 'u1', { fatigue: memory(50) });
      expect(b.getUserState('m', 'u1')).toStrictEqual({ fatigue: memory(50) });
      // b writes a memory with other keys; a still caches its own state.
      b.putUserState('m', 'u1', { fatigue: { 'i:other': [1, 1] } });
      const mine = { fatigue: { ...memory(50), 'i:item0': [9, 9] as [number, number] } };
      a.putUserState('m', 'u1', mine);
      expect(rows('u1')).toBe(50);
      expect(b.getUserState('m', 'u1')).toStrictEqual(mine);
      a.close();
      expect(open(path).getUserState('m', 'u1')).toStrictEqual(mine);
    });
  });

  describe('group commit', () => {
    const other = <T>(read: (db: Database.Database) => T): T => inspect(read);
    const decisions = (): number => other((db) => db.prepare('SELECT COUNT(*) FROM decisions').pluck().get() as number);
    const record = (eventId: string) => ({
      modelId: 'm',
      eventId,
      modelVersion: 1,
      posteriorSeq: 0,
      seed: 's',
      at: 1,
      context: {},
      candidates: [{ id: 'a' }],
      slate: [{ itemId: 'a', position: 1, propensity: 1, slatePropensity: 1, explored: false }],
      draws: 1,
      exposedAt: 1,
    });

    test('the transactions of one turn commit together, once, after it; the barrier waits for that commit', async () => {
      const store = open(path, { synchronous: 'NORMAL' });
      const barrier = store.enableGroupCommit();
      await expect(barrier()).resolves.toBeUndefined(); // nothing pending
      store.transaction(() => store.insertDecision(record('a')));
      store.transaction(() => store.insertDecision(record('b')));
      // Visible to this connection, not yet to another: one open transaction.
      expect(store.getDecision('m', 'b')?.eventId).toBe('b');
      expect(decisions()).toBe(0);
      const acked = barrier();
      expect(decisions()).toBe(0);
      await acked;
      expect(decisions()).toBe(2);
      // The next turn opens a new group.
      store.transaction(() => store.insertDecision(record('c')));
      await barrier();
      expect(decisions()).toBe(3);
    });

    test('a failing transaction in a group rolls back alone (a savepoint); the others commit', async () => {
      const store = open(path, { synchronous: 'NORMAL' });
      const barrier = store.enableGroupCommit();
      store.transaction(() => store.insertDecision(record('a')));
      expect(() =>
        store.transaction(() => {
          store.insertDecision(record('b'));
          store.insertDecision(record('a')); // reused eventId: StoreConflict
        }),
      ).toThrow(StoreConflict);
      store.transaction(() => store.insertDecision(record('c')));
      await barrier();
      expect(other((db) => db.prepare('SELECT event_id FROM decisions ORDER BY id').pluck().all())).toStrictEqual(['a', 'c']);
    });

    test('a failed COMMIT rolls the whole group back, rejects its barriers and stops the store (fail-stop)', async () => {
      const store = open(path, { synchronous: 'NORMAL' });
      // A deferred foreign key fails only at COMMIT: the way to make a group's commit fail.
      const db = (store as unknown as { db: Database.Database }).db;
      db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);');
      const barrier = store.enableGroupCommit();
      store.transaction(() => store.insertDecision(record('a')));
      store.transaction(() => db.prepare('INSERT INTO child (p) VALUES (42)').run());
      await expect(barrier()).rejects.toThrow(/group commit failed/);
      expect(store.failed).not.toBeNull();
      expect(decisions()).toBe(0);
      expect(() => store.transaction(() => store.insertDecision(record('b')))).toThrow(/group commit failed/);
      await expect(barrier()).rejects.toThrow(/group commit failed/);
    });

    test('closing commits the open group', () => {
      const store = open(path, { synchronous: 'NORMAL' });
      store.enableGroupCommit();
      store.transaction(() => store.insertDecision(record('a')));
      store.close();
      expect(decisions()).toBe(1);
    });
  });

  test('the journal is WAL', () => {
    open(path);
    expect(inspect((db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
  });

  test('a database from a newer build is refused', () => {
    open(path).close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)').run(MIGRATIONS.length + 1);
    db.close();
    expect(() => open(path)).toThrow(/newer/);
  });

  test.each([
    ['synchronous', { synchronous: 'OFF' as unknown as 'FULL' }],
    ['busyTimeoutMs', { busyTimeoutMs: -1 }],
    ['busyTimeoutMs', { busyTimeoutMs: 1.5 }],
  ])('an invalid %s option is refused', (field, options) => {
    expect(() => open(path, options)).toThrow(new RegExp(field));
  });

  test("':memory:' works as a private, non-durable store", () => {
    const store = open(':memory:');
    store.putModel({ modelId: 'm', version: 1, config: {}, createdAt: 0, updatedAt: 0 });
    expect(store.listModels()).toHaveLength(1);
  });

  test.each(['FULL', 'NORMAL'] as const)('with synchronous %s, acknowledged transactions survive kill -9', (synchronous) => {
    const n = 50;
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `
        const { openSqliteStore } = await import(process.argv[1]);
        const store = openSqliteStore(process.argv[2], { synchronous: process.argv[3] });
        for (let i = 0; i < ${n}; i++) {
          store.transaction(() => {
            store.insertDecision({ modelId: 'm', eventId: 'e' + i, modelVersion: 1, posteriorSeq: 0, seed: 's',
              at: i, context: {}, candidates: [{ id: 'a' }], draws: 1, exposedAt: i,
              slate: [{ itemId: 'a', position: 1, propensity: 1, slatePropensity: 1, explored: false }] });
            store.openWindows([{ modelId: 'm', eventId: 'e' + i, itemId: 'a', position: 1, deadline: i + 10 }]);
            store.appendOutcome({ modelId: 'm', eventId: 'e' + i, itemId: 'a', position: 1, kind: 'click',
              reward: 1, weight: 1, ordinal: i, at: i });
          });
        }
        // acknowledge, then die without closing (no checkpoint, no cleanup)
        process.stdout.write('acked ${n}\\n', () => process.kill(process.pid, 'SIGKILL'));
        `,
        new URL('../../src/storage/sqlite/index.ts', import.meta.url).href,
        path,
        synchronous,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.signal).toBe('SIGKILL');
    expect(child.stdout).toBe(`acked ${n}\n`);

    const store = open(path);
    expect(store.counts('m')).toStrictEqual({ decisions: n, feedback: 0, outcomes: n, ledger: 0, openWindows: n });
    expect(store.outcomesAfter('m', 0, 2 * n).map((o) => o.ordinal)).toStrictEqual([...Array(n).keys()]);
    expect(store.getDecision('m', `e${n - 1}`)?.exposedAt).toBe(n - 1);
  });
});
