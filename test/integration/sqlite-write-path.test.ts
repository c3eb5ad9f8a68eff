/**
 * What the SQLite store's write path promises beyond the shared contract: migration 3 (counters
 * kept by the store instead of triggers) upgrades a version-2 database in place; counters and
 * user states deferred to the end of a transaction are in it (visible to another connection only
 * with its commit, gone with its rollback); the user-state cache never hides another
 * connection's commit; multi-row inserts stay atomic; a group that SQLite rolls back as a whole
 * is never acknowledged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { MIGRATIONS, openSqliteStore, type SqliteStore } from '../../src/storage/sqlite/index.js';
import type { DecisionRecord, OpenImpression } from '../../src/storage/types.js';

const M = 'm';
const decision = (eventId: string, over: Partial<DecisionRecord> = {}): DecisionRecord => ({
  modelId: M,
  eventId,
  modelVersion: 1,
  posteriorSeq: 0,
  seed: 's',
  at: 10,
  userId: 'u1',
  context: { user: { age: 30 } },
  candidates: [{ id: 'a', group: 'g' }, { id: 'b' }],
  slate: [
    { itemId: 'a', position: 1, propensity: 0.75, slatePropensity: 0.9, explored: false },
    { itemId: 'b', position: 2, propensity: 0.25, slatePropensity: 0.5, explored: true },
  ],
  draws: 8,
  exposedAt: 10,
  ...over,
});
const win = (eventId: string, itemId: string, deadline: number, modelId = M): OpenImpression => ({
  modelId,
  eventId,
  itemId,
  position: 1,
  deadline,
});
const ZERO = { decisions: 0, feedback: 0, outcomes: 0, ledger: 0, openWindows: 0 };

let dir: string;
let path: string;
const opened: SqliteStore[] = [];
const open = (options: Parameters<typeof openSqliteStore>[1] = { synchronous: 'NORMAL' }): SqliteStore => {
  const store = openSqliteStore(path, options);
  opened.push(store);
  return store;
};
/** A second connection to the same file (what another process would see and do). */
const other = <T>(use: (db: Database.Database) => T): T => {
  const db = new Database(path);
  try {
    return use(db);
  } finally {
    db.close();
  }
};
const countsOnDisk = (modelId = M) =>
  other((db) =>
    db
      .prepare('SELECT decisions, feedback, outcomes, ledger, open_windows AS openWindows FROM model_counts WHERE model_id = ?')
      .get(modelId),
  ) ?? ZERO;
const privateDb = (store: SqliteStore) => (store as unknown as { db: Database.Database }).db;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'liubai-write-path-'));
  path = join(dir, 'store.db');
});
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('migration 3', () => {
  test('a version-2 database upgrades in place: counters keep their values, the count triggers are gone, queries answer as before', () => {
    // Version 2 by hand, written through its triggers.
    const v2 = new Database(path);
    v2.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    v2.exec(MIGRATIONS[0]!);
    v2.exec(MIGRATIONS[1]!);
    v2.exec('INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0), (2, 0)');
    v2.exec(`
      INSERT INTO decisions (model_id, event_id, model_version, posterior_seq, seed, at, user_id, context, candidates, slate, slate_len, draws, exposed_at)
        VALUES ('m', 'old', 1, 0, 's', 5, 'u1', '{}', '[{"id":"a"},{"id":"b"}]', '[{"itemId":"a","position":1,"propensity":1,"slatePropensity":1,"explored":false},{"itemId":"b","position":2,"propensity":1,"slatePropensity":1,"explored":true}]', 2, 64, 5);
      INSERT INTO windows (model_id, event_id, item_id, position, deadline) VALUES ('m', 'old', 'a', 1, 50), ('m', 'old', 'b', 2, 40);
      INSERT INTO feedback (model_id, event_id, item_id, kind, value, at) VALUES ('m', 'old', 'a', 'click', NULL, 6);
      INSERT INTO outcomes (model_id, event_id, item_id, position, user_id, item_group, kind, reward, weight, retracts, ordinal, at)
        VALUES ('m', 'old', 'a', 1, 'u1', NULL, 'click', 1, 1, NULL, 0, 6);
      INSERT INTO ledger (model_id, event_id, user_id, item_id, position, rule, cost, at) VALUES ('m', 'old', 'u1', 'b', 2, 'uncertain', 0.5, 5);
      INSERT INTO user_state (model_id, user_id, state) VALUES ('m', 'u1', '{"fatigue":{},"bucket":null,"recentGroups":["g"]}');
    `);
    v2.close();

    let store = open();
    expect(store.migrationsApplied).toBe(MIGRATIONS.length - 2);
    expect(store.counts(M)).toStrictEqual({ decisions: 1, feedback: 1, outcomes: 1, ledger: 1, openWindows: 2 });
    const triggers = other((db) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").pluck().all());
    expect(triggers).toStrictEqual(['outcome_retracted', 'outcome_stands']);
    expect(store.budgetTotals(M)).toStrictEqual({ decisions: 1, slots: 2, explored: 1, cost: 0.5 });
    expect(store.dueWindows(M, 100, 10).map((w) => w.itemId)).toStrictEqual(['b', 'a']);
    expect(store.activeOutcome(M, 'old', 'a')?.kind).toBe('click');
    expect(store.getUserState(M, 'u1')).toStrictEqual({ fatigue: {}, bucket: null, recentGroups: ['g'] });

    // Counted from now on by the store, on disk with each commit and after reopening.
    store.transaction(() => {
      store.insertDecision(decision('new'));
      store.openWindows([win('new', 'a', 60), win('new', 'b', 60)]);
      store.closeWindow(M, 'old', 'b');
      store.insertFeedback({ modelId: M, eventId: 'new', itemId: 'a', kind: 'click', at: 11 });
      store.appendOutcome({ modelId: M, eventId: 'new', itemId: 'a', position: 1, kind: 'click', reward: 1, weight: 1, ordinal: 1, at: 11 });
      store.appendLedger([{ modelId: M, eventId: 'new', itemId: 'b', position: 2, rule: 'uncertain', cost: 0.25, at: 10 }]);
    });
    const expected = { decisions: 2, feedback: 2, outcomes: 2, ledger: 2, openWindows: 3 };
    expect(store.counts(M)).toStrictEqual(expected);
    expect(countsOnDisk()).toStrictEqual(expected);
    store.close();
    store = open();
    expect(store.migrationsApplied).toBe(0);
    expect(store.counts(M)).toStrictEqual(expected);
    expect(store.counts()).toStrictEqual(expected);
  });
});

describe('deferred counters and user states', () => {
  test('they reach the database with the commit, once per user, and another connection sees them only then', () => {
    const store = open();
    store.transaction(() => {
      store.insertDecision(decision('e1'));
      store.openWindows([win('e1', 'a', 20), win('e1', 'b', 20)]);
      store.putUserState(M, 'u1', { n: 1 });
      store.putUserState(M, 'u1', { n: 2 });
      store.putUserState(M, 'u2', { n: 3 });
      // This connection reads its own writes…
      expect(store.getUserState(M, 'u1')).toStrictEqual({ n: 2 });
      expect(store.counts(M)).toStrictEqual({ ...ZERO, decisions: 1, openWindows: 2 });
      expect(store.counts()).toStrictEqual({ ...ZERO, decisions: 1, openWindows: 2 });
      // …another sees nothing before the commit.
      expect(countsOnDisk()).toStrictEqual(ZERO);
      expect(other((db) => db.prepare('SELECT COUNT(*) FROM user_state').pluck().get())).toBe(0);
    });
    expect(countsOnDisk()).toStrictEqual({ ...ZERO, decisions: 1, openWindows: 2 });
    expect(other((db) => db.prepare('SELECT user_id, state FROM user_state ORDER BY user_id').all())).toStrictEqual([
      { user_id: 'u1', state: '{"n":2}' },
      { user_id: 'u2', state: '{"n":3}' },
    ]);
  });

  test('a nested transaction that fails takes its user states and counts with it; the outer ones land', () => {
    const store = open();
    store.transaction(() => {
      store.putUserState(M, 'u1', 'outer');
      store.insertDecision(decision('e1'));
      expect(() =>
        store.transaction(() => {
          store.putUserState(M, 'u1', 'inner');
          store.putUserState(M, 'u2', 'inner');
          store.openWindows([win('e1', 'a', 20)]);
          throw new Error('inner fails');
        }),
      ).toThrow('inner fails');
      expect(store.getUserState(M, 'u1')).toBe('outer');
      expect(store.getUserState(M, 'u2')).toBeUndefined();
    });
    expect(other((db) => db.prepare('SELECT user_id, state FROM user_state').all())).toStrictEqual([{ user_id: 'u1', state: '"outer"' }]);
    expect(countsOnDisk()).toStrictEqual({ ...ZERO, decisions: 1 });
  });

  test('a COMMIT that fails leaves neither the deferred writes nor a cached state behind', () => {
    const store = open();
    const db = privateDb(store);
    // A deferred foreign key fails only at COMMIT.
    db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);');
    store.putUserState(M, 'u1', { v: 1 });
    expect(() =>
      store.transaction(() => {
        store.putUserState(M, 'u1', { v: 2 });
        store.insertDecision(decision('e1'));
        db.prepare('INSERT INTO child (p) VALUES (42)').run();
      }),
    ).toThrow(/FOREIGN KEY/);
    expect(store.getUserState(M, 'u1')).toStrictEqual({ v: 1 });
    expect(store.counts(M)).toStrictEqual(ZERO);
    expect(store.getDecision(M, 'e1')).toBeUndefined();
  });

  test('deleting a model inside a transaction voids what it pended for that model before, not after', () => {
    const store = open();
    store.putModel({ modelId: M, version: 1, config: {}, createdAt: 0, updatedAt: 0 });
    store.insertDecision(decision('e0'));
    store.putUserState(M, 'u1', 'committed');
    store.transaction(() => {
      store.insertDecision(decision('e1'));
      store.putUserState(M, 'u1', 'pending');
      store.putUserState(M, 'u2', 'pending');
      expect(store.deleteModel(M)).toBe(true);
      expect(store.getUserState(M, 'u1')).toBeUndefined();
      expect(store.counts(M)).toStrictEqual(ZERO);
      store.insertDecision(decision('e2'));
      store.putUserState(M, 'u2', 'after');
    });
    expect(store.counts(M)).toStrictEqual({ ...ZERO, decisions: 1 });
    expect(countsOnDisk()).toStrictEqual({ ...ZERO, decisions: 1 });
    expect([store.getUserState(M, 'u1'), store.getUserState(M, 'u2')]).toStrictEqual([undefined, 'after']);
    expect(other((db) => db.prepare('SELECT user_id FROM user_state').pluck().all())).toStrictEqual(['u2']);
  });

  test('a user state JSON cannot hold is refused: at once at the top level, at the commit deeper down', () => {
    const store = open();
    expect(() => store.putUserState(M, 'u1', undefined)).toThrow(TypeError);
    expect(() => store.transaction(() => store.putUserState(M, 'u1', () => 1))).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() =>
      store.transaction(() => {
        store.insertDecision(decision('e1'));
        store.putUserState(M, 'u1', cyclic);
      }),
    ).toThrow(TypeError);
    expect(store.getDecision(M, 'e1')).toBeUndefined();
    expect(store.getUserState(M, 'u1')).toBeUndefined();
    expect(store.counts(M)).toStrictEqual(ZERO);
  });
});

describe('user-state cache', () => {
  test.each([4096, 0, 1])('a state another connection committed is read, not a cached one (cache of %i)', (userStateCache) => {
    const store = open({ synchronous: 'NORMAL', userStateCache });
    store.putUserState(M, 'u1', { v: 1 });
    store.putUserState(M, 'u2', { v: 1 });
    expect(store.getUserState(M, 'u1')).toStrictEqual({ v: 1 });
    other((db) => db.prepare("UPDATE user_state SET state = '{\"v\":2}' WHERE user_id = 'u1'").run());
    expect(store.getUserState(M, 'u1')).toStrictEqual({ v: 2 });
    other((db) => db.prepare("UPDATE user_state SET state = '{\"v\":3}' WHERE user_id = 'u2'").run());
    // A transaction that begins after the other's commit sees it too.
    store.transaction(() => expect(store.getUserState(M, 'u2')).toStrictEqual({ v: 3 }));
  });

  test('ids that concatenate alike are different users, also after deleting one model', () => {
    const store = open();
    store.putUserState('a\u0000b', 'c', 1);
    store.putUserState('a', 'b\u0000c', 2);
    store.putUserState('a:', 'x', 3);
    expect([store.getUserState('a\u0000b', 'c'), store.getUserState('a', 'b\u0000c'), store.getUserState('a:', 'x')]).toStrictEqual([1, 2, 3]);
    store.putModel({ modelId: 'a', version: 1, config: {}, createdAt: 0, updatedAt: 0 });
    store.deleteModel('a');
    expect([store.getUserState('a\u0000b', 'c'), store.getUserState('a', 'b\u0000c'), store.getUserState('a:', 'x')]).toStrictEqual([1, undefined, 3]);
  });

  test('with a tiny cache, states beyond it are read back from the database intact', () => {
    const store = open({ synchronous: 'NORMAL', userStateCache: 2 });
    for (let i = 0; i < 10; i++) store.transaction(() => store.putUserState(M, `u${i}`, { i, tags: [`t${i}`] }));
    for (let i = 0; i < 10; i++) expect(store.getUserState(M, `u${i}`)).toStrictEqual({ i, tags: [`t${i}`] });
  });

  test.each([-1, 1.5])('an invalid userStateCache (%s) is refused', (userStateCache) => {
    expect(() => open({ userStateCache })).toThrow(/userStateCache/);
  });
});

describe('multi-row inserts', () => {
  test('more windows than one statement holds open in order, counted once each, duplicates kept first', () => {
    const store = open();
    const windows = Array.from({ length: 150 }, (_, i) => win('e1', `i${i}`, 100));
    store.openWindows([...windows, win('e1', 'i3', 1)]);
    expect(store.counts(M).openWindows).toBe(150);
    expect(store.dueWindows(M, 100, 1000).map((w) => w.itemId)).toStrictEqual(windows.map((w) => w.itemId));
  });

  test('a failing row rolls the whole call back, across statements', () => {
    const store = open();
    const bad = { ...win('e1', 'bad', 100), position: null as unknown as number };
    for (const windows of [[win('e1', 'x', 100), bad], [...Array.from({ length: 100 }, (_, i) => win('e1', `i${i}`, 100)), bad]]) {
      expect(() => store.openWindows(windows)).toThrow(/NOT NULL/);
      expect(() => store.transaction(() => store.openWindows(windows))).toThrow(/NOT NULL/);
    }
    expect(store.isWindowOpen(M, 'e1', 'i0')).toBe(false);
    expect(store.isWindowOpen(M, 'e1', 'x')).toBe(false);
    expect(store.counts(M)).toStrictEqual(ZERO);
    // Inside a caller's transaction that goes on after catching: still nothing of the failed call.
    store.transaction(() => {
      expect(() => store.openWindows([win('e1', 'y', 100), bad])).toThrow(/NOT NULL/);
      expect(() => store.openWindows([...Array.from({ length: 100 }, (_, i) => win('e1', `i${i}`, 100)), bad])).toThrow(/NOT NULL/);
      store.openWindows([win('e1', 'z', 100)]);
    });
    expect(store.dueWindows(M, 100, 10).map((w) => w.itemId)).toStrictEqual(['z']);
    expect(store.counts(M).openWindows).toBe(1);
  });

  test('windows and ledger entries of several models in one call are counted per model', () => {
    const store = open();
    store.openWindows([win('e1', 'a', 5), win('e1', 'a', 5, 'n'), win('e1', 'b', 5, 'n')]);
    const entries = Array.from({ length: 70 }, (_, i) => ({
      modelId: i % 2 === 0 ? M : 'n',
      eventId: `e${i}`,
      userId: 'u1',
      itemId: 'a',
      position: 1,
      rule: 'uniform',
      cost: 1,
      at: i,
    }));
    store.appendLedger(entries);
    expect(store.counts(M)).toStrictEqual({ ...ZERO, openWindows: 1, ledger: 35 });
    expect(store.counts('n')).toStrictEqual({ ...ZERO, openWindows: 2, ledger: 35 });
    expect(store.budgetTotals(M, { userId: 'u1' })).toStrictEqual({ decisions: 0, slots: 0, explored: 35, cost: 35 });
  });
});

describe('a transaction SQLite rolled back', () => {
  test('a caller that catches the error and goes on writes nothing more (no autocommit behind its back)', () => {
    const store = open();
    privateDb(store).exec(
      "CREATE TEMP TRIGGER boom BEFORE INSERT ON decisions WHEN NEW.event_id = 'boom' BEGIN SELECT RAISE(ROLLBACK, 'boom'); END",
    );
    expect(() =>
      store.transaction(() => {
        store.insertDecision(decision('a'));
        expect(() => store.transaction(() => store.insertDecision(decision('boom')))).toThrow('boom');
        store.putUserState(M, 'u1', 'after');
        store.insertDecision(decision('c'));
      }),
    ).toThrow(/rolled the transaction back/);
    expect(other((db) => db.prepare('SELECT COUNT(*) FROM decisions').pluck().get())).toBe(0);
    expect(store.getUserState(M, 'u1')).toBeUndefined();
    expect(countsOnDisk()).toStrictEqual(ZERO);
    // The store goes on normally.
    store.transaction(() => store.insertDecision(decision('d')));
    expect(store.counts(M)).toStrictEqual({ ...ZERO, decisions: 1 });
  });
});

describe('group commit', () => {
  test('a group that SQLite rolls back as a whole is never acknowledged, and the store stops', async () => {
    const store = open();
    // RAISE(ROLLBACK) ends the whole transaction, not just the statement: the group with it.
    privateDb(store).exec(
      "CREATE TEMP TRIGGER boom BEFORE INSERT ON decisions WHEN NEW.event_id = 'boom' BEGIN SELECT RAISE(ROLLBACK, 'boom'); END",
    );
    const barrier = store.enableGroupCommit();
    store.transaction(() => {
      store.insertDecision(decision('a'));
      store.putUserState(M, 'u1', 'a');
    });
    const acked = barrier();
    expect(() => store.transaction(() => store.insertDecision(decision('boom')))).toThrow('boom');
    // Later requests of the same turn must not open a fresh group whose commit would ack 'a'.
    expect(() => store.transaction(() => store.insertDecision(decision('c')))).toThrow(/group commit failed/);
    expect(() => store.insertDecision(decision('d'))).toThrow(/group commit failed/);
    await expect(acked).rejects.toThrow(/group commit failed/);
    expect(store.failed).not.toBeNull();
    await expect(barrier()).rejects.toThrow(/group commit failed/);
    expect(other((db) => db.prepare('SELECT COUNT(*) FROM decisions').pluck().get())).toBe(0);
    expect(store.getUserState(M, 'u1')).toBeUndefined();
  });

  test('deferred writes of a group land with its single commit', async () => {
    const store = open();
    const barrier = store.enableGroupCommit();
    for (let i = 0; i < 3; i++) {
      store.transaction(() => {
        store.insertDecision(decision(`e${i}`));
        store.putUserState(M, 'u1', i);
      });
    }
    expect(countsOnDisk()).toStrictEqual(ZERO);
    await barrier();
    expect(countsOnDisk()).toStrictEqual({ ...ZERO, decisions: 3 });
    expect(other((db) => db.prepare('SELECT state FROM user_state').pluck().all())).toStrictEqual(['2']);
  });
});
