/**
 * Binary heaps. {@link TimeHeap} is a min-heap ordered by (time, n): earliest time first, ties in
 * insertion order (`n` increasing), so processing order is deterministic; it holds reward-window
 * deadlines and the reactions pending in simulations. {@link BinaryHeap} takes any strict order
 * (the fatigue memory's eviction uses it).
 */

/** An entry: its time, a tie-breaking sequence number, and a payload. */
export interface Timed {
  readonly at: number;
  readonly n: number;
}

function before(a: Timed, b: Timed): boolean {
  return a.at < b.at || (a.at === b.at && a.n < b.n);
}

/**
 * A binary heap: the entry for which `first(entry, other)` holds against every other one is on
 * top. `first` must be a strict order (irreflexive, transitive). push/pop are O(log n).
 */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly first: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** The top entry, without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The entries, in heap order (not sorted). */
  values(): readonly T[] {
    return this.items;
  }

  push(entry: T): void {
    const h = this.items;
    const first = this.first;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!first(h[i]!, h[p]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  /** Remove and return the top entry. */
  pop(): T | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const first = this.first;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && first(h[l]!, h[m]!)) m = l;
        if (r < h.length && first(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Min-heap on (at, n). push/pop are O(log n). */
export class TimeHeap<T extends Timed> extends BinaryHeap<T> {
  constructor() {
    super(before);
  }
}
