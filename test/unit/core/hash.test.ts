import { describe, expect, test } from 'vitest';
import { deriveSeed, murmur3 } from '../../../src/core/hash.js';

describe('murmur3', () => {
  test.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['hello', 0, 0x248bfa47],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
  ])('murmur3(%j, %d) matches the reference vector', (text, seed, expected) => {
    expect(murmur3(text, seed)).toBe(expected);
  });

  test('hashes UTF-8 bytes, so non-ASCII text is stable', () => {
    expect(murmur3('留白', 0)).toBe(murmur3('留白', 0));
    expect(murmur3('留白', 0)).not.toBe(murmur3('留', 0));
  });
});

describe('deriveSeed', () => {
  test('is order- and boundary-sensitive', () => {
    expect(deriveSeed('ab', 'c')).not.toBe(deriveSeed('a', 'bc'));
    expect(deriveSeed('a', 'b')).not.toBe(deriveSeed('b', 'a'));
    expect(deriveSeed(1)).not.toBe(deriveSeed('1'));
  });
  test('is a 16-hex-digit string', () => {
    expect(deriveSeed('x', 3)).toMatch(/^[0-9a-f]{16}$/);
  });
});
