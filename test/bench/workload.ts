/**
 * What several benchmarks share: their command-line options, the serving workload of
 * `bench:http` (a 500-item catalog; rank bodies of 50 candidates with three item features, a
 * `user` and a `session` namespace), so the HTTP, boundary and featurizer benches time the
 * same requests, and the heavier engine workload of `bench:engine` (ten item features, three
 * session features), which the featurizer bench times too.
 */
import type { Rng } from '../../src/core/rng.js';
import type { Candidate, NamespacedFeatures } from '../../src/features/types.js';

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

const words = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const pickFrom = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

/**
 * The engine workload's catalog: 500 items with ten item features, grouped by topic (the draws
 * of seven features come from `rng`, item by item, in feature order).
 */
export function engineCatalog(rng: Rng): Candidate[] {
  const topics = words('topic', 20);
  const brands = words('brand', 30);
  const colors = words('color', 8);
  const sizes = ['xs', 's', 'm', 'l', 'xl'];
  const materials = words('material', 6);
  const styles = words('style', 12);
  const regions = words('region', 5);
  const tiers = ['budget', 'mid', 'premium'];
  return Array.from({ length: 500 }, (_, i) => ({
    id: `item${i}`,
    group: topics[i % topics.length]!,
    features: {
      item: {
        topic: topics[i % topics.length]!,
        brand: brands[(i * 7) % brands.length]!,
        color: pickFrom(rng, colors),
        size: pickFrom(rng, sizes),
        material: pickFrom(rng, materials),
        style: pickFrom(rng, styles),
        region: pickFrom(rng, regions),
        tier: pickFrom(rng, tiers),
        price: 1 + rng.int(100),
        rating: Math.round(10 + rng.uniform() * 40) / 10,
      },
    },
  }));
}

/** An engine-workload context: `user { age, country, segment }`, `session { hour, device, referrer }`, from `rng`. */
export function engineContext(rng: Rng): NamespacedFeatures {
  return {
    user: { age: 18 + rng.int(60), country: pickFrom(rng, countries), segment: `s${rng.int(5)}` },
    session: { hour: rng.int(24), device: pickFrom(rng, ['ios', 'android', 'web']), referrer: pickFrom(rng, ['search', 'home', 'push', 'email']) },
  };
}
