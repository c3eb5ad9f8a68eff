import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { available, createTokenBucket, refill, take, type TokenBucketState } from '../../src/policies/explore/token-bucket.js';

const HOUR = 3_600_000;

const step = fc.record({
  dt: fc.integer({ min: 0, max: 4 * HOUR }),
  want: fc.integer({ min: 0, max: 4 }),
});

describe('token bucket (property)', () => {
  test('the level stays in [0, burst] and takes never exceed what was available', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(step, { maxLength: 60 }),
        (rate, burst, steps) => {
          let s: TokenBucketState = createTokenBucket(burst, 0);
          let now = 0;
          for (const { dt, want } of steps) {
            now += dt;
            s = refill(s, now, rate, burst);
            expect(s.tokens).toBeGreaterThanOrEqual(0);
            expect(s.tokens).toBeLessThanOrEqual(burst);
            const before = available(s);
            const r = take(s, want);
            expect(r.taken).toBe(Math.min(want, before));
            expect(available(r.state)).toBe(before - r.taken);
            expect(r.state.tokens).toBeGreaterThanOrEqual(0);
            s = r.state;
          }
        },
      ),
    );
  });

  test('refill amounts are exact: min(burst, tokens + Δt·rate/hour), additive over split intervals', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 10 * HOUR }),
        fc.integer({ min: 0, max: 10 * HOUR }),
        fc.integer({ min: 0, max: 100 }),
        (rate, burst, dt1, dt2, startPct) => {
          const start = { tokens: (burst * startPct) / 100, updatedAt: 1_000 };
          const direct = refill(start, 1_000 + dt1 + dt2, rate, burst);
          const expected = Math.min(burst, start.tokens + ((dt1 + dt2) * rate) / HOUR);
          expect(direct.tokens).toBe(expected);
          const split = refill(refill(start, 1_000 + dt1, rate, burst), 1_000 + dt1 + dt2, rate, burst);
          expect(Math.abs(split.tokens - direct.tokens)).toBeLessThanOrEqual(1e-9 * Math.max(1, burst));
          expect(direct.updatedAt).toBe(1_000 + dt1 + dt2);
        },
      ),
    );
  });

  test('state survives JSON', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 5, noNaN: true }), fc.integer({ min: 0, max: 1e9 }), (tokens, at) => {
        const s = { tokens, updatedAt: at };
        expect(JSON.parse(JSON.stringify(s))).toEqual(s);
      }),
    );
  });
});
