/**
 * Stable 32-bit hashing (MurmurHash3 x86_32 over UTF-16 code units folded to bytes as UTF-8).
 *
 * The same string gives the same hash on every machine and every Node.js version, which the
 * feature hashing and the decision-seed derivation both rely on.
 * Reference: Austin Appleby, MurmurHash3 (public domain algorithm description).
 */

const encoder = new TextEncoder();

/**
 * MurmurHash3 (x86, 32-bit) of the UTF-8 bytes of `text`.
 * @param text any string
 * @param seed 32-bit seed
 * @returns an unsigned 32-bit integer
 */
export function murmur3(text: string, seed = 0): number {
  const bytes = encoder.encode(text);
  return murmur3Bytes(bytes, seed);
}

/**
 * MurmurHash3 (x86, 32-bit) of a byte array.
 * @returns an unsigned 32-bit integer
 */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k =
      (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3:
      k ^= bytes[blocks + 2]! << 16;
    // falls through
    case 2:
      k ^= bytes[blocks + 1]! << 8;
    // falls through
    case 1:
      k ^= bytes[blocks]!;
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Combine several parts into one stable seed string: `hash(a) · hash(b) · …`, hex-encoded.
 * Parts are length-prefixed so `("ab","c")` and `("a","bc")` differ.
 */
export function deriveSeed(...parts: ReadonlyArray<string | number>): string {
  let h1 = 0x9747b28c;
  let h2 = 0x2c1b3c6d;
  for (const part of parts) {
    const s = typeof part === 'number' ? `n:${part}` : `s:${part.length}:${part}`;
    h1 = murmur3(s, h1);
    h2 = murmur3(s, h2 ^ 0x5bd1e995);
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
