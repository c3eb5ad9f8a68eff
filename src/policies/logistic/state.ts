/**
 * Snapshot state of the `logistic` policy and its validation.
 */
import { z } from 'zod';
import type { PolicySnapshot } from '../types.js';
import type { LogisticConfig } from './config.js';

/** Format version of the `state` of a `logistic` snapshot. */
export const LOGISTIC_SNAPSHOT_FORMAT = 1;

/**
 * Learned state of a `logistic` policy, as JSON numbers (float64 round-trips exactly through
 * JSON, so restoring is bit-exact):
 * - `dims`: the hashed dimensions seen in updates, in first-seen order; `mean[i]` and
 *   `precision[i]` belong to `dims[i]` (`precision` is the diagonal q, 0 for dense-block dims);
 * - `dense`: the dimensions of the dense block (`full` only), in block order;
 * - `chol`: the block precision's lower Cholesky factor, rows packed (n(n+1)/2 numbers).
 */
export const logisticStateSchema = z
  .object({
    covariance: z.enum(['diagonal', 'full']),
    dims: z.array(z.number().int().min(0).max(0x7fffffff)),
    mean: z.array(z.number()),
    precision: z.array(z.number().min(0)),
    dense: z.array(z.number().int().min(0).max(0x7fffffff)),
    chol: z.array(z.number()),
  })
  .strict();

/** Learned state of a `logistic` policy (see {@link logisticStateSchema}). */
export type LogisticState = z.output<typeof logisticStateSchema>;

/**
 * Validate a snapshot against the policy's config.
 * @throws Error naming the mismatch (kind, format, covariance, sizes, non-positive values)
 * @throws ZodError when the state is not a {@link LogisticState}
 */
export function readLogisticState(snapshot: PolicySnapshot, config: LogisticConfig): LogisticState {
  if (snapshot.kind !== 'logistic') throw new Error(`snapshot is of kind '${snapshot.kind}', expected 'logistic'`);
  if (snapshot.format !== LOGISTIC_SNAPSHOT_FORMAT) {
    throw new Error(`snapshot format ${snapshot.format} of 'logistic' is not supported (expected ${LOGISTIC_SNAPSHOT_FORMAT})`);
  }
  const st = logisticStateSchema.parse(snapshot.state);
  if (st.covariance !== config.covariance) {
    throw new Error(`snapshot has covariance '${st.covariance}', the config '${config.covariance}'`);
  }
  const size = st.dims.length;
  if (st.mean.length !== size || st.precision.length !== size) {
    throw new Error(`snapshot dims, mean and precision differ in length (${size}, ${st.mean.length}, ${st.precision.length})`);
  }
  if (new Set(st.dims).size !== size) throw new Error('snapshot dims are not unique');
  const n = st.dense.length;
  if (config.covariance === 'diagonal' && n > 0) throw new Error('a diagonal snapshot cannot have a dense block');
  if (n > config.maxDenseDims) throw new Error(`snapshot dense block has ${n} dims, the config allows ${config.maxDenseDims}`);
  const dense = new Set(st.dense);
  if (dense.size !== n) throw new Error('snapshot dense dims are not unique');
  const seen = new Set(st.dims);
  for (const d of st.dense) if (!seen.has(d)) throw new Error(`snapshot dense dim ${d} is not among dims`);
  for (let i = 0; i < size; i++) {
    if (!dense.has(st.dims[i]!) && !(st.precision[i]! > 0)) {
      throw new Error(`snapshot precision of dim ${st.dims[i]} must be > 0, got ${st.precision[i]}`);
    }
  }
  if (st.chol.length !== (n * (n + 1)) / 2) {
    throw new Error(`snapshot chol has ${st.chol.length} numbers, a ${n}-dim block needs ${(n * (n + 1)) / 2}`);
  }
  for (let i = 0, p = 0; i < n; i++, p += i) {
    const diag = st.chol[p + i]!;
    if (!(diag > 0)) throw new Error(`snapshot chol diagonal ${i} must be > 0, got ${diag}`);
  }
  return st;
}
