import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { Engine } from '../../../src/engine/engine.js';
import { LiubaiError } from '../../../src/engine/errors.js';
import { OpeInputError } from '../../../src/ope/errors.js';
import { expandGrid, patchOf, sweepOpe, sweepOpeReport } from '../../../src/ope/sweep.js';
import { listDecisionEventIds, readModelLogFromDb } from '../../../src/cli/ope-db.js';
import { createBernoulli } from '../../../src/simulation/environments/bernoulli.js';
import { openSqliteStore } from '../../../src/storage/sqlite/index.js';

const dir = mkdtempSync(join(tmpdir(), 'liubai-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small SQLite log: 150 decisions of a beta-bernoulli model on 4 arms, 2 slots; one unexposed decision. */
function buildDb(): string {
  const path = join(dir, 'log.db');
  const store = openSqliteStore(path, { synchronous: 'NORMAL' });
  let now = Date.UTC(2026, 0, 1);
  let n = 0;
  const engine = new Engine({ store, clock: () => now, newEventId: () => `e${++n}`, snapshotEvery: 0 });
  engine.putModel('m', { policy: { kind: 'beta-bernoulli' }, budget: { share: 0.2, floor: 0.05, rule: 'uniform', perUser: null }, slots: 2, seed: 4 });
  engine.putModel('other', {});
  const env = createBernoulli({ probabilities: [0.2, 0.5, 0.1, 0.4], users: 3 });
  const rng = createRng('sweep-env');
  store.transaction(() => {
    for (let s = 0; s < 150; s++) {
      now += 60_000;
      engine.tick(now);
      const a = env.arrive(now, rng);
      const r = engine.rank('m', { context: a.context, candidates: a.candidates, userId: a.userId, deferExposure: s === 75 });
      for (const re of env.respond(a, r.slate.map((x) => ({ itemId: x.id, position: x.position })), rng)) {
        if (s !== 75) engine.feedback('m', { eventId: r.eventId, itemId: re.itemId, kind: re.kind });
      }
    }
    now += 86_400_000;
    engine.tick(now);
  });
  store.close();
  return path;
}

const db = buildDb();

describe('grid helpers', () => {
  test('expandGrid: the cartesian product, first axis slowest', () => {
    expect(
      expandGrid([
        { path: 'budget.share', values: [0, 0.1] },
        { path: 'budget.temperature', values: [1, 2, 3] },
      ]),
    ).toEqual([
      { 'budget.share': 0, 'budget.temperature': 1 },
      { 'budget.share': 0, 'budget.temperature': 2 },
      { 'budget.share': 0, 'budget.temperature': 3 },
      { 'budget.share': 0.1, 'budget.temperature': 1 },
      { 'budget.share': 0.1, 'budget.temperature': 2 },
      { 'budget.share': 0.1, 'budget.temperature': 3 },
    ]);
  });

  test('patchOf turns dotted paths into a nested patch', () => {
    expect(patchOf({ 'budget.share': 0.1, 'budget.perUser.burst': 3, slots: 4 })).toEqual({ budget: { share: 0.1, perUser: { burst: 3 } }, slots: 4 });
  });

  test.each([
    [[], 'grid'],
    [[{ path: '', values: [1] }], 'grid.0.path'],
    [[{ path: 'budget..share', values: [1] }], 'grid.0.path'],
    [[{ path: 'budget.share', values: [] }], 'grid.0.values'],
    [[{ path: 'slots', values: [1] }, { path: 'slots', values: [2] }], 'grid.1.path'],
    [[{ path: 'slots', values: [3] }, { path: 'budget.share', values: [0.1, 0, 0.1] }], 'grid.1.values'],
  ])('expandGrid(%j) names %s', (grid, field) => {
    try {
      expandGrid(grid);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OpeInputError);
      expect((error as OpeInputError).field).toBe(field);
    }
  });
});

describe('reading a SQLite log', () => {
  test('lists every decision in logging order, read-only; the unexposed one is left out', () => {
    const ids = listDecisionEventIds(db, 'm');
    expect(ids).toHaveLength(150);
    expect(ids.slice(0, 3)).toEqual(['e1', 'e2', 'e3']);
    expect(listDecisionEventIds(db, 'nobody')).toEqual([]);
    const log = readModelLogFromDb(db, 'm');
    expect(log.rounds).toHaveLength(149);
    expect(log.excluded).toEqual({ unexposed: 1, unresolved: 0 });
  });

  test.each([
    ['a missing file', () => readModelLogFromDb(join(dir, 'none.db'), 'm'), 'dbPath'],
    ['a file that is not a liubai database', () => readModelLogFromDb((writeFileSync(join(dir, 'x.db'), ''), join(dir, 'x.db')), 'm'), 'dbPath'],
    ['an unknown model', () => readModelLogFromDb(db, 'nope'), 'modelId'],
    ['a model without decisions', () => readModelLogFromDb(db, 'other'), 'decisions'],
  ])('%s is an OpeInputError naming %s', (_name, fn, field) => {
    try {
      fn();
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OpeInputError);
      expect((error as OpeInputError).field).toBe(field);
    }
  });
});

describe('sweepOpe', () => {
  const grid = [{ path: 'budget.share', values: [0, 0.2, 0.8] }];
  const options = { log: readModelLogFromDb(db, 'm'), modelId: 'm', grid, rng: createRng(9), draws: 60, interval: { resamples: 200 } } as const;

  test('one row per grid point and estimator, with intervals and ESS', () => {
    const rows = sweepOpe(options);
    expect(rows).toHaveLength(3 * 5);
    expect(rows.map((r) => `${String(r.setting['budget.share'])}:${r.estimator}`)).toEqual(
      [0, 0.2, 0.8].flatMap((v) => ['ips', 'snips', 'dm', 'dr', 'sndr'].map((e) => `${v}:${e}`)),
    );
    for (const r of rows) {
      expect(r.scope).toBe('slate');
      expect(r.n).toBe(149);
      expect(Number.isFinite(r.value)).toBe(true);
      expect(r.lower!).toBeLessThanOrEqual(r.value + 1e-12);
      expect(r.upper!).toBeGreaterThanOrEqual(r.value - 1e-12);
      if (r.estimator === 'dm') expect(r.ess).toBeNull();
      else expect(r.ess!).toBeGreaterThan(0);
    }
    // The logged share's own importance weights are close to 1: ESS near n.
    const own = rows.find((r) => r.setting['budget.share'] === 0.2 && r.estimator === 'ips')!;
    expect(own.ess!).toBeGreaterThan(0.8 * 149);
    // Same inputs, same rows.
    expect(sweepOpe({ ...options, rng: createRng(9) })).toEqual(rows);
  });

  test('report: on-policy baseline and counts; the logging setting’s IPS interval covers it', () => {
    const report = sweepOpeReport({ ...options, grid: [{ path: 'budget.share', values: [0.2] }], scopes: ['slate', 'top'], estimators: ['ips'] });
    expect(report.decisions).toEqual({ used: 149, unexposed: 1, unresolved: 0 });
    for (const scope of ['slate', 'top'] as const) {
      const on = report.onPolicy.find((o) => o.scope === scope)!;
      const ips = report.rows.find((r) => r.scope === scope)!;
      expect(ips.lower!).toBeLessThanOrEqual(on.value);
      expect(ips.upper!).toBeGreaterThanOrEqual(on.value);
    }
  });

  test('baseConfig is merged over the stored config; another policy kind re-learns along the log', () => {
    const rows = sweepOpe({ ...options, baseConfig: { policy: { kind: 'uniform' }, fatigue: { enabled: false } }, estimators: ['ips'], grid: [{ path: 'budget.share', values: [0] }] });
    expect(rows).toHaveLength(1);
    expect(Number.isFinite(rows[0]!.value)).toBe(true);
  });

  test('an invalid grid value is INVALID_CONFIG naming the field and the point', () => {
    try {
      sweepOpe({ ...options, grid: [{ path: 'budget.share', values: [0.1, 3] }] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(LiubaiError);
      expect((error as LiubaiError).field).toBe('budget.share');
      expect((error as Error).message).toContain('{"budget.share":3}');
    }
  });

  test('needs a model log or a store', () => {
    expect(() => sweepOpe({ modelId: 'm', grid, rng: createRng(1) })).toThrow(OpeInputError);
  });
});
