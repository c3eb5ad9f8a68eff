/**
 * API keys. When any key is configured, scoring routes (rank, feedback, expose, reads) need a
 * scoring or an admin key and admin routes (create, reconfigure, delete a model) an admin key,
 * sent as `Authorization: Bearer <key>`. With scoring keys only, admin routes are closed (fail
 * closed rather than open).
 *
 * Keys are compared in constant time: both sides are hashed with SHA-256 (equal lengths whatever
 * the key lengths) and compared with `timingSafeEqual` against every configured key, without an
 * early exit, so neither a key's length nor its position in the list leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { LiubaiError } from '../engine/errors.js';

/** Configured API keys (plain text; held only as digests after {@link createAuthenticator}). */
export interface ApiKeys {
  readonly scoring?: readonly string[];
  readonly admin?: readonly string[];
}

/** What a route needs. */
export type Role = 'scoring' | 'admin';

/**
 * Build the check for one app.
 * @returns `authorize(authorizationHeader, role)`, which returns when the request may proceed
 * @throws (from `authorize`) LiubaiError UNAUTHORIZED (missing, malformed or unknown key),
 *   FORBIDDEN (a scoring key on an admin route)
 */
export function createAuthenticator(keys: ApiKeys = {}): { readonly enabled: boolean; authorize(header: string | undefined, role: Role): void } {
  const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();
  const scoring = (keys.scoring ?? []).map(digest);
  const admin = (keys.admin ?? []).map(digest);
  const enabled = scoring.length + admin.length > 0;

  const matchesAny = (presented: Buffer, list: readonly Buffer[]): boolean => {
    let found = false;
    for (const k of list) found = timingSafeEqual(presented, k) || found;
    return found;
  };

  return {
    enabled,
    authorize(header, role) {
      if (!enabled) return;
      const m = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
      if (!m) throw new LiubaiError('UNAUTHORIZED', 'missing or malformed Authorization header (expected "Bearer <key>")');
      const presented = digest(m[1]!);
      const isAdmin = matchesAny(presented, admin);
      const isScoring = matchesAny(presented, scoring);
      if (!isAdmin && !isScoring) throw new LiubaiError('UNAUTHORIZED', 'unknown API key');
      if (role === 'admin' && !isAdmin) throw new LiubaiError('FORBIDDEN', 'this route needs an admin key');
    },
  };
}
