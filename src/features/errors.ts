/**
 * The one error type of the featurizer: a stable `code` plus the path of the offending field in
 * the request (`["context", "user", "age"]`, `["candidates", 3, "features", "item", "tags", 0]`).
 */

/** Stable codes of {@link FeatureError}. */
export type FeatureErrorCode =
  /** A number is NaN or ±Infinity (or an interaction product / collision sum overflows). */
  | 'NON_FINITE_NUMBER'
  /** A string value, key, namespace name or item id is longer than `maxStringLength`. */
  | 'STRING_TOO_LONG'
  /** One vector would hold more than `maxFeatures` named features. */
  | 'TOO_MANY_FEATURES'
  /** One vector would draw on more than `maxNamespaces` namespaces. */
  | 'TOO_MANY_NAMESPACES'
  /** A key, namespace name or item id is the empty string. */
  | 'EMPTY_NAME'
  /** A value of a kind the featurizer does not take: nested object, null, non-string array element. */
  | 'UNSUPPORTED_VALUE'
  /** A request namespace uses a reserved name (`id`, or the extra namespace name). */
  | 'RESERVED_NAMESPACE'
  /** A candidate namespace has the same name as a context namespace. */
  | 'NAMESPACE_CONFLICT'
  /** `extra` does not have one entry per candidate. */
  | 'INVALID_EXTRA';

/** Render a path as `context.user.tags[2]`. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s === '' ? p : `.${p}`;
  }
  return s === '' ? '(root)' : s;
}

/**
 * Invalid featurizer input. The message starts with the formatted path; `path` and `code` are
 * stable for machines (the HTTP layer maps this to `INVALID_REQUEST` with the field path).
 */
export class FeatureError extends Error {
  readonly code: FeatureErrorCode;
  readonly path: (string | number)[];

  constructor(code: FeatureErrorCode, path: ReadonlyArray<string | number>, message: string) {
    super(`${formatPath(path)}: ${message}`);
    this.name = 'FeatureError';
    this.code = code;
    this.path = [...path];
  }
}
