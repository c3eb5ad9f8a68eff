/**
 * What several benchmarks share: their command-line options and the serving workload of
 * `bench:http` (a 500-item catalog; rank bodies of 50 candidates with three item features, a
 * `user` and a `session` namespace), so the HTTP, boundary and featurizer benches time the
 * same requests.
 */
import type { Rng } from '../../src/core/rng.js';

/** The value after flag `name` on the command line, or `fallback`. */
export function argOf(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** Candidates per rank body of the serving workload. */
export const SERVING_K = 50;

const countries = ['fr', 'de', 'es', 'it', 'uk', 'us', 'br', 'jp', 'cn', 'in'];
const topics = Array.from({ length: 20 }, (_, i) => `topic${i}`);
const brands = Array.from({ length: 30 }, (_, i) => `brand${i}`);
/** The serving workload's catalog: 500 items, grouped by topic. */
export const servingCatalog = Array.from({ length: 500 }, (_, i) => ({
  id: `item${i}`,
  features: { item: { topic: topics[i % 20]!, brand: brands[(i * 7) % 30]!, price: Math.round(((i * 37) % 100) + 1) } },
  group: topics[i % 20]!,
}));

/**
 * `n` distinct rank bodies as JSON text (no eventId): a user, a situation and 50 consecutive
 * catalog items, drawn from `rng`.
 */
export function servingRankBodies(rng: Rng, n = 256): string[] {
  return Array.from({ length: n }, (_, b) => {
    const start = rng.int(servingCatalog.length - SERVING_K);
    return JSON.stringify({
      userId: `user${rng.int(1000)}`,
      context: {
        user: { age: 18 + rng.int(60), country: countries[rng.int(10)]!, segment: `s${rng.int(5)}` },
        session: { hour: rng.int(24), device: ['ios', 'android', 'web'][b % 3]! },
      },
      candidates: servingCatalog.slice(start, start + SERVING_K),
      slots: 5,
    });
  });
}
