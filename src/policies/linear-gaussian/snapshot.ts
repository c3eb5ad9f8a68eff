/**
 * Reading and writing the versioned snapshots of the regression policies.
 */
import type { PolicySnapshot } from '../types.js';
import type { LinearPosterior } from './posterior.js';
import { posteriorStateSchema, type PosteriorState } from './state.js';

/** Current snapshot format of the regression policies. */
export const REGRESSION_SNAPSHOT_FORMAT = 1;

/** `{ kind, format: 1, state }` of a posterior; the state is plain JSON (arrays of numbers). */
export function writeSnapshot(kind: string, posterior: LinearPosterior): PolicySnapshot {
  return { kind, format: REGRESSION_SNAPSHOT_FORMAT, state: posterior.toState() };
}

/**
 * Validate a snapshot of `kind` and return its state.
 * @throws Error when the kind or format differs, or the state does not parse (listing the problems)
 */
export function readSnapshot(kind: string, snapshot: PolicySnapshot): PosteriorState {
  if (snapshot.kind !== kind) throw new Error(`snapshot of kind ${snapshot.kind} cannot restore a ${kind} policy`);
  if (snapshot.format !== REGRESSION_SNAPSHOT_FORMAT) {
    throw new Error(`${kind} snapshot format ${snapshot.format} is not supported (expected ${REGRESSION_SNAPSHOT_FORMAT})`);
  }
  const parsed = posteriorStateSchema.safeParse(snapshot.state);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(state)'}: ${i.message}`);
    throw new Error(`invalid ${kind} snapshot: ${problems.join('; ')}`);
  }
  return parsed.data;
}
