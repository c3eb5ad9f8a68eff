import { expect, test } from 'vitest';
import { TimeHeap } from '../../../src/core/heap.js';
import { createRng } from '../../../src/core/rng.js';

test('pops in (time, insertion) order', () => {
  const rng = createRng('heap');
  const heap = new TimeHeap<{ at: number; n: number }>();
  const all: Array<{ at: number; n: number }> = [];
  for (let n = 0; n < 500; n++) {
    const e = { at: rng.int(50), n };
    all.push(e);
    heap.push(e);
  }
  expect(heap.size).toBe(500);
  const out: Array<{ at: number; n: number }> = [];
  while (heap.size > 0) out.push(heap.pop()!);
  expect(out).toEqual([...all].sort((a, b) => a.at - b.at || a.n - b.n));
  expect(heap.pop()).toBeUndefined();
  expect(heap.peek()).toBeUndefined();
});
