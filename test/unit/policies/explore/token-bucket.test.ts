import { describe, expect, test } from 'vitest';
import { available, createTokenBucket, refill, take, takeTokens } from '../../../../src/policies/explore/token-bucket.js';

const HOUR = 3_600_000;

describe('token bucket', () => {
  test('a new bucket is full', () => {
    expect(createTokenBucket(2, 1000)).toEqual({ tokens: 2, updatedAt: 1000 });
  });

  test('refill adds elapsed·rate/hour exactly and stops at the burst', () => {
    const empty = { tokens: 0, updatedAt: 0 };
    expect(refill(empty, HOUR / 2, 2, 5)).toEqual({ tokens: 1, updatedAt: HOUR / 2 });
    expect(refill(empty, HOUR / 3, 3, 5).tokens).toBe(1);
    expect(refill(empty, 90 * 60_000, 2, 5).tokens).toBe(3);
    expect(refill(empty, 10 * HOUR, 2, 5).tokens).toBe(5);
    expect(refill({ tokens: 0.25, updatedAt: 0 }, HOUR / 4, 1, 5).tokens).toBe(0.5);
  });

  test('a clock going backwards mints nothing and does not rewind', () => {
    const s = { tokens: 1.5, updatedAt: 10_000 };
    expect(refill(s, 5_000, 100, 5)).toEqual(s);
  });

  test('a level above a lowered burst is cut to the burst', () => {
    expect(refill({ tokens: 4, updatedAt: 0 }, 0, 1, 2)).toEqual({ tokens: 2, updatedAt: 0 });
  });

  test('available counts whole tokens; take spends exactly and never more than available', () => {
    const s = { tokens: 2.75, updatedAt: 7 };
    expect(available(s)).toBe(2);
    const a = take(s, 1);
    expect(a).toEqual({ state: { tokens: 1.75, updatedAt: 7 }, taken: 1 });
    const b = take(a.state, 5);
    expect(b).toEqual({ state: { tokens: 0.75, updatedAt: 7 }, taken: 1 });
    expect(take(b.state, 1)).toEqual({ state: b.state, taken: 0 });
    expect(takeTokens(s, 2)).toEqual({ tokens: 0.75, updatedAt: 7 });
  });

  test('float dust just under a whole token still counts as that token', () => {
    const s = { tokens: 0.1 + 0.2 + 0.7 - 1e-15, updatedAt: 0 };
    expect(available(s)).toBe(1);
    expect(take(s, 1).state.tokens).toBe(0);
  });

  test.each([
    ['ratePerHour', () => refill({ tokens: 0, updatedAt: 0 }, 1, -1, 1)],
    ['burst', () => refill({ tokens: 0, updatedAt: 0 }, 1, 1, Number.NaN)],
    ['nowMs', () => refill({ tokens: 0, updatedAt: 0 }, Infinity, 1, 1)],
    ['non-negative integer', () => take({ tokens: 1, updatedAt: 0 }, 0.5)],
    ['non-negative integer', () => take({ tokens: 1, updatedAt: 0 }, -1)],
  ])('rejects a bad %s', (name, fn) => {
    expect(fn).toThrow(new RegExp(name));
  });
});
