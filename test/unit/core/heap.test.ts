import { expect, test } from 'vitest';
import { BinaryHeap, TimeHeap } from '../../../src/core/heap.js';
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

test('BinaryHeap with a custom order pops in that order (a max-heap of pairs, ties by the second)', () => {
  const rng = createRng('binary-heap');
  const heap = new BinaryHeap<[number, number]>((a, b) => a[0] > b[0] || (a[0] === b[0] && a[1] < b[1]));
  const pairs: Array<[number, number]> = Array.from({ length: 300 }, (_, i) => [rng.int(20), i]);
  for (const p of pairs) heap.push(p);
  expect(heap.size).toBe(300);
  expect(heap.values()).toHaveLength(300);
  const expected = [...pairs].sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  expect(heap.peek()).toEqual(expected[0]);
  const popped: Array<[number, number]> = [];
  for (let p = heap.pop(); p !== undefined; p = heap.pop()) popped.push(p);
  expect(popped).toEqual(expected);
  expect(heap.pop()).toBeUndefined();
});
