import seedrandom from 'seedrandom';
import { describe, expect, test } from 'vitest';
import { createRng, restoreRng } from '../../../src/core/rng.js';

const TWO_32 = 2 ** 32;

describe('Rng stream (pinned to seedrandom.alea)', () => {
  test.each(['n:7', 'decision-abc', '', 'ünïcödé'])('seed %j: every 32-bit draw and the state equal seedrandom.alea', (seed) => {
    const rng = createRng(seed);
    const ref = seedrandom.alea(seed, { state: true });
    for (let i = 0; i < 5000; i++) {
      // int(2³²) = ⌊u·2³²⌋ is the 32-bit alea output itself, exactly.
      const got = rng.int(TWO_32);
      const want = Math.floor(ref() * TWO_32);
      if (got !== want) expect.fail(`draw ${i}: ${got} vs ${want}`);
    }
    expect(rng.state().alea).toEqual(ref.state());
  });

  test('normal is the polar Box–Muller transform of the alea stream, second value cached', () => {
    const rng = createRng('polar');
    const ref = seedrandom.alea('polar');
    const expected: number[] = [];
    while (expected.length < 2000) {
      let u = 0;
      let v = 0;
      let s = 0;
      do {
        u = 2 * ref() - 1;
        v = 2 * ref() - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const m = Math.sqrt((-2 * Math.log(s)) / s);
      expected.push(u * m, v * m);
    }
    for (let i = 0; i < expected.length; i++) {
      if (!Object.is(rng.normal(), expected[i])) expect.fail(`normal ${i} differs`);
    }
  });

  test('a state saved from seedrandom continues identically here', () => {
    const ref = seedrandom.alea('handover', { state: true });
    for (let i = 0; i < 17; i++) ref();
    const rng = restoreRng({ seed: 'handover', alea: ref.state(), spare: null });
    for (let i = 0; i < 100; i++) expect(rng.int(TWO_32)).toBe(Math.floor(ref() * TWO_32));
  });
});
