/**
 * Small helpers for benchmarks: time an operation many times and report medians and tails.
 * Benchmarks print figures; they are not timed tests.
 */
import { performance } from 'node:perf_hooks';

export interface Timing {
  readonly median: number;
  readonly p99: number;
  readonly mean: number;
  readonly n: number;
}

/** Quantile of a sorted array (nearest-rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * Time `fn` `n` times (after `warmup` untimed calls), each call timed individually when it is
 * slow enough, or in batches of `batch` calls for sub-microsecond operations.
 * @returns per-call times in microseconds
 */
export function time(fn: (i: number) => void, n: number, options: { warmup?: number; batch?: number } = {}): Timing {
  const warmup = options.warmup ?? Math.min(1000, n);
  const batch = options.batch ?? 1;
  for (let i = 0; i < warmup; i++) fn(i);
  const samples = new Float64Array(Math.ceil(n / batch));
  let j = 0;
  for (let i = 0; i < n; i += batch) {
    const t0 = performance.now();
    for (let b = 0; b < batch; b++) fn(i + b);
    samples[j++] = ((performance.now() - t0) * 1000) / batch;
  }
  const sorted = samples.slice(0, j).sort();
  let sum = 0;
  for (const s of sorted) sum += s;
  return { median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean: sum / sorted.length, n: sorted.length };
}

/** Format microseconds. */
export function us(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${x.toFixed(x < 10 ? 2 : 1)} µs`;
}

/** Print an aligned table. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) => r.map((x, c) => x.padStart(widths[c]!)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}
