/**
 * The one error catalog. Every error that reaches a caller carries a stable `code`, the HTTP
 * status the server answers with, the offending field path (when there is one) and a readable
 * message. Anything else is an internal error: logged, and answered with a generic 500.
 */

export const errorCatalog = {
  INVALID_REQUEST: 400,
  INVALID_CONFIG: 400,
  INVALID_FEATURES: 400,
  TOO_MANY_CANDIDATES: 400,
  UNKNOWN_ITEM: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  UNKNOWN_MODEL: 404,
  UNKNOWN_EVENT: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  DUPLICATE_EVENT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_READY: 503,
  OVERLOADED: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof errorCatalog;

/** One problem with one field of an input. */
export interface FieldIssue {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** An error the caller caused (or may act on), with a stable code. */
export class LiubaiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly issues: readonly FieldIssue[];

  constructor(code: ErrorCode, message: string, issues: readonly FieldIssue[] = []) {
    super(message);
    this.name = 'LiubaiError';
    this.code = code;
    this.status = errorCatalog[code];
    this.issues = issues;
  }

  /** The first offending field as a dotted path (`candidates.3.features.item.price`), if any. */
  get field(): string | undefined {
    const first = this.issues[0];
    return first ? formatPath(first.path) : undefined;
  }
}

/** `['candidates', 3, 'id']` → `candidates.3.id` (the root is `''`). */
export function formatPath(path: ReadonlyArray<string | number | symbol>): string {
  return path.map((p) => String(p)).join('.');
}

/** Turn zod issues into a {@link LiubaiError} naming every offending field. */
export function fromZodIssues(
  code: ErrorCode,
  what: string,
  issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string; readonly code?: string }>,
  prefix: ReadonlyArray<string | number> = [],
): LiubaiError {
  const mapped: FieldIssue[] = [];
  for (const i of issues) {
    const path = [...prefix, ...i.path.map((p) => (typeof p === 'number' ? p : String(p)))];
    // zod reports all unknown keys of an object in one issue: name each field.
    const keys = (i as { code?: string; keys?: readonly string[] }).code === 'unrecognized_keys' ? (i as { keys?: readonly string[] }).keys : undefined;
    if (keys && keys.length > 0) for (const k of keys) mapped.push({ path: [...path, k], message: 'unknown field' });
    else mapped.push({ path, message: i.message });
  }
  const list = mapped.map((m) => `${formatPath(m.path) || '(root)'}: ${m.message}`).join('; ');
  return new LiubaiError(code, `invalid ${what}: ${list}`, mapped);
}
