import { describe, expect, test } from 'vitest';
import { COUNTER, DELETED, WriteFrames } from '../../../../src/storage/sqlite/frames.js';

describe('WriteFrames', () => {
  test('outside a transaction there is no frame and nothing pending', () => {
    const f = new WriteFrames();
    expect(f.depth).toBe(0);
    expect(() => f.top).toThrow(/no transaction frame/);
    expect(f.pendingUser('m', 'u')).toBeUndefined();
    expect(f.pendingCounts().size).toBe(0);
  });

  test('deltas add up per model and counter; the latest user state wins', () => {
    const f = new WriteFrames();
    f.push();
    f.count('m', COUNTER.decisions, 1);
    f.count('m', COUNTER.openWindows, 5);
    f.count('m', COUNTER.openWindows, -2);
    f.count('n', COUNTER.ledger, 1);
    f.putUser('m', 'u', { v: 1 });
    f.putUser('m', 'u', { v: 2 });
    expect(f.pendingCounts()).toStrictEqual(
      new Map([
        ['m', [1, 0, 0, 0, 3]],
        ['n', [0, 0, 0, 1, 0]],
      ]),
    );
    expect(f.pendingUser('m', 'u')).toStrictEqual({ v: 2 });
    expect(f.pendingUser('m', 'other')).toBeUndefined();
    expect(f.pendingUser('n', 'u')).toBeUndefined();
    expect(f.top.users.get('m')?.size).toBe(1);
  });

  test('a nested frame that succeeds merges into the outer one', () => {
    const f = new WriteFrames();
    f.push();
    f.count('m', COUNTER.feedback, 2);
    f.putUser('m', 'u', 'outer');
    f.push();
    f.count('m', COUNTER.feedback, 3);
    f.count('n', COUNTER.outcomes, 1);
    f.putUser('m', 'u', 'inner');
    f.putUser('m', 'w', 'inner-w');
    expect(f.pendingUser('m', 'u')).toBe('inner');
    f.merge();
    expect(f.depth).toBe(1);
    expect(f.top.counts).toStrictEqual(
      new Map([
        ['m', [0, 5, 0, 0, 0]],
        ['n', [0, 0, 1, 0, 0]],
      ]),
    );
    expect([f.pendingUser('m', 'u'), f.pendingUser('m', 'w')]).toStrictEqual(['inner', 'inner-w']);
  });

  test('a nested frame that fails leaves the outer one as it was', () => {
    const f = new WriteFrames();
    f.push();
    f.count('m', COUNTER.decisions, 1);
    f.putUser('m', 'u', 'outer');
    f.push();
    f.count('m', COUNTER.decisions, 1);
    f.putUser('m', 'u', 'inner');
    f.discard();
    expect(f.depth).toBe(1);
    expect(f.pendingCounts()).toStrictEqual(new Map([['m', [1, 0, 0, 0, 0]]]));
    expect(f.pendingUser('m', 'u')).toBe('outer');
  });

  test('a deleted model voids what lower frames pended for it, and only that model', () => {
    const f = new WriteFrames();
    f.push();
    f.count('m', COUNTER.decisions, 4);
    f.count('n', COUNTER.decisions, 1);
    f.putUser('m', 'u', 'before delete');
    f.putUser('n', 'u', 'other model');
    f.push();
    f.deleted('m');
    // While the deleting frame is open: nothing of m below it counts, its user reads as deleted.
    expect(f.pendingUser('m', 'u')).toBe(DELETED);
    expect(f.pendingCounts()).toStrictEqual(new Map([['n', [1, 0, 0, 0, 0]]]));
    f.count('m', COUNTER.decisions, 1);
    f.putUser('m', 'v', 'after delete');
    expect(f.pendingCounts().get('m')).toStrictEqual([1, 0, 0, 0, 0]);
    f.merge();
    expect(f.pendingUser('m', 'u')).toBe(DELETED);
    expect(f.pendingUser('m', 'v')).toBe('after delete');
    expect(f.pendingUser('n', 'u')).toBe('other model');
    expect(f.pendingCounts()).toStrictEqual(
      new Map([
        ['m', [1, 0, 0, 0, 0]],
        ['n', [1, 0, 0, 0, 0]],
      ]),
    );
  });

  test('a delete that is rolled back voids nothing', () => {
    const f = new WriteFrames();
    f.push();
    f.count('m', COUNTER.ledger, 2);
    f.putUser('m', 'u', 'kept');
    f.push();
    f.deleted('m');
    f.discard();
    expect(f.pendingUser('m', 'u')).toBe('kept');
    expect(f.pendingCounts()).toStrictEqual(new Map([['m', [0, 0, 0, 2, 0]]]));
  });

  test('deleting a model also drops what the same frame pended for it', () => {
    const f = new WriteFrames();
    f.push();
    f.count('m', COUNTER.decisions, 1);
    f.putUser('m', 'u', 'x');
    f.deleted('m');
    expect(f.pendingUser('m', 'u')).toBe(DELETED);
    expect(f.pendingCounts().size).toBe(0);
  });

  test('release pops only the outermost frame; merge needs a frame below; frames are reused empty', () => {
    const f = new WriteFrames();
    f.push();
    expect(() => f.merge()).toThrow(/frame below/);
    f.push();
    expect(() => f.release()).toThrow(/outermost/);
    f.merge();
    f.count('m', COUNTER.decisions, 1);
    f.putUser('m', 'u', 1);
    f.release();
    expect(f.depth).toBe(0);
    f.push();
    expect(f.top.empty).toBe(true);
    expect(f.pendingUser('m', 'u')).toBeUndefined();
  });
});
