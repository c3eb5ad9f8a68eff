/**
 * `supervised`: the supervised-to-bandit conversion of a classification data set. Each arrival
 * is one row: the context is its features (namespace `x`), the candidates are the classes, and
 * showing class c earns reward 1 exactly when c is the row's label (a click with probability 1),
 * else 0, at any position. The best slate of any size ≥ 1 is worth 1.
 * Reference: Dudík, Langford & Li 2011 ("Doubly robust policy evaluation and learning", §5:
 * multiclass data sets as contextual bandits); Bietti, Agarwal & Langford 2021 (bake-off).
 */
import { z } from 'zod';
import type { Rng } from '../../core/rng.js';
import type { Candidate } from '../../features/types.js';
import type { Arrival, Environment } from './types.js';
import { positionBasedEnvironment } from './common.js';

const name = z.string().min(1).max(256);

/**
 * Params of a `supervised` environment. `features` and `labels` have no default (the data set
 * is the environment); everything else does.
 * - `features` (rows × d finite numbers, 1..10⁶ rows, every row the same length d ≤ 10 000).
 * - `labels` (one class index per row, integers ≥ 0).
 * - `classNames` (optional, unique; default `class-<c>` for c < max label + 1): the candidate ids.
 * - `featureNames` (optional, d unique names; default `f<j>`): the keys in namespace `x`.
 * - `order` (default `random`): rows drawn uniformly with replacement, or `sequential`
 *   (row n mod rows for the n-th arrival).
 */
export const supervisedParamsSchema = z
  .object({
    kind: z.literal('supervised').default('supervised'),
    features: z.array(z.array(z.number().min(-1e300).max(1e300)).max(10_000)).min(1).max(1_000_000),
    labels: z.array(z.number().int().min(0).max(1_000_000)).min(1).max(1_000_000),
    classNames: z.array(name).min(1).max(100_000).optional(),
    featureNames: z.array(name).max(10_000).optional(),
    order: z.enum(['random', 'sequential']).default('random'),
  })
  .strict()
  .superRefine((p, ctx) => {
    const d = p.features[0]!.length;
    p.features.forEach((row, r) => {
      if (row.length !== d) ctx.addIssue({ code: 'custom', path: ['features', r], message: `expected ${d} columns, got ${row.length}` });
    });
    if (p.labels.length !== p.features.length) {
      ctx.addIssue({ code: 'custom', path: ['labels'], message: `expected ${p.features.length} labels (one per row), got ${p.labels.length}` });
    }
    if (p.classNames) {
      if (new Set(p.classNames).size !== p.classNames.length) {
        ctx.addIssue({ code: 'custom', path: ['classNames'], message: 'class names must be unique' });
      }
      const bad = p.labels.findIndex((l) => l >= p.classNames!.length);
      if (bad >= 0) ctx.addIssue({ code: 'custom', path: ['labels', bad], message: `label ${p.labels[bad]} has no class name` });
    }
    if (p.featureNames) {
      if (p.featureNames.length !== d) {
        ctx.addIssue({ code: 'custom', path: ['featureNames'], message: `expected ${d} names, got ${p.featureNames.length}` });
      } else if (new Set(p.featureNames).size !== d) {
        ctx.addIssue({ code: 'custom', path: ['featureNames'], message: 'feature names must be unique' });
      }
    }
  });

/** Parsed `supervised` params. */
export type SupervisedParams = z.output<typeof supervisedParamsSchema>;
/** `supervised` params as written in a scenario (features and labels required). */
export type SupervisedParamsInput = z.input<typeof supervisedParamsSchema>;

/**
 * A `supervised` environment. Arrivals are `row-<r>` (the same row is the same person).
 * @param _rng unused (nothing hidden is drawn); accepted for a uniform factory signature
 * @throws ZodError on invalid or inconsistent params
 */
export function createSupervised(params: SupervisedParamsInput, _rng?: Rng): Environment {
  const p = supervisedParamsSchema.parse(params);
  const rows = p.features.length;
  const d = p.features[0]!.length;
  const nClasses = p.classNames?.length ?? p.labels.reduce((m, l) => Math.max(m, l), 0) + 1;
  const classIds = Array.from({ length: nClasses }, (_, c) => p.classNames?.[c] ?? `class-${c}`);
  const classIndex = new Map<string, number>(classIds.map((id, c) => [id, c]));
  const groups = new Map<string, string>(classIds.map((id) => [id, id]));
  const candidates: readonly Candidate[] = Object.freeze(classIds.map((id) => Object.freeze({ id, group: id })));
  const featureNames = p.featureNames ?? Array.from({ length: d }, (_, j) => `f${j}`);
  let arrivals = 0;

  const rowOf = (userId: string): number => {
    const m = /^row-(\d+)$/.exec(userId);
    const r = m ? Number(m[1]) : NaN;
    if (!(r < rows)) throw new RangeError(`unknown row ${JSON.stringify(userId)}`);
    return r;
  };

  return positionBasedEnvironment({
    name: 'supervised',
    groups,
    arrive(at: number, rng: Rng): Arrival {
      const r = p.order === 'random' ? rng.int(rows) : arrivals % rows;
      arrivals++;
      const row = p.features[r]!;
      const x = Object.fromEntries(featureNames.map((f, j) => [f, row[j]!]));
      return { userId: `row-${r}`, context: { x }, candidates, at };
    },
    attraction(arrival, itemId) {
      const c = classIndex.get(itemId);
      if (c === undefined) throw new RangeError(`unknown class ${JSON.stringify(itemId)}`);
      return p.labels[rowOf(arrival.userId)] === c ? 1 : 0;
    },
  });
}
