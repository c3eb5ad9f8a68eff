import { describe, expect, test } from 'vitest';
import { CROSS_ROWS_MAX_ENTRIES, CROSS_ROWS_MAX_IDS, CrossRows } from '../../../src/features/cross-rows.js';

describe('CrossRows', () => {
  test('a block reserved for a feature is found again, at its offset, until the next call', () => {
    const rows = new CrossRows();
    rows.begin();
    expect(rows.find(7)).toBe(-1);
    const a = rows.add(7, 3);
    rows.data.set([10, 11, 12], a);
    const b = rows.add(2, 2);
    rows.data.set([20, 21], b);
    expect(a).toBe(0);
    expect(b).toBe(3);
    expect(rows.find(7)).toBe(a);
    expect(rows.find(2)).toBe(b);
    expect([...rows.data.subarray(a, a + 3)]).toEqual([10, 11, 12]);
    expect([...rows.data.subarray(b, b + 2)]).toEqual([20, 21]);
    expect(rows.find(3)).toBe(-1);
    rows.begin();
    expect(rows.find(7)).toBe(-1);
    expect(rows.find(2)).toBe(-1);
    expect(rows.add(2, 1)).toBe(0);
  });

  test('grows past its initial sizes without losing blocks', () => {
    const rows = new CrossRows();
    rows.begin();
    for (let x = 0; x < 5000; x += 3) {
      const at = rows.add(x, 2);
      rows.data[at] = x;
      rows.data[at + 1] = x + 1;
    }
    for (let x = 0; x < 5000; x++) {
      const at = rows.find(x);
      if (x % 3 !== 0) {
        expect(at).toBe(-1);
        continue;
      }
      expect(rows.data[at]).toBe(x);
      expect(rows.data[at + 1]).toBe(x + 1);
    }
  });

  test('memory is bounded: large ids and blocks past the per-call entry bound are not memoised', () => {
    const rows = new CrossRows();
    rows.begin();
    expect(rows.add(CROSS_ROWS_MAX_IDS, 1)).toBe(-1);
    expect(rows.find(CROSS_ROWS_MAX_IDS)).toBe(-1);
    expect(rows.add(CROSS_ROWS_MAX_IDS - 1, 1)).toBe(0);
    expect(rows.add(1, CROSS_ROWS_MAX_ENTRIES)).toBe(-1);
    expect(rows.find(1)).toBe(-1);
    expect(rows.add(1, CROSS_ROWS_MAX_ENTRIES - 1)).toBe(1);
    expect(rows.data.length).toBeLessThanOrEqual(CROSS_ROWS_MAX_ENTRIES);
    rows.begin();
    expect(rows.add(1, CROSS_ROWS_MAX_ENTRIES)).toBe(0);
  });
});
