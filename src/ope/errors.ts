/**
 * The one error type of the OPE layer: bad logged data or bad options, named by field so a
 * caller (CLI, report, HTTP handler) can point at the offending column.
 */
import type { z } from 'zod';

/**
 * Invalid input to an off-policy estimator, interval or reward model.
 *
 * `field` is the input's property name (`'propensity'`, `'clip'`, `'interval.level'`…);
 * `index` is the first offending round (or matrix entry) when the problem is one value.
 */
export class OpeInputError extends Error {
  readonly field: string;
  readonly index: number | undefined;

  constructor(field: string, message: string, index?: number) {
    super(`${field}${index === undefined ? '' : `[${index}]`}: ${message}`);
    this.name = 'OpeInputError';
    this.field = field;
    this.index = index;
  }
}

/**
 * Parse `value` with a zod schema, turning the first issue into an {@link OpeInputError}
 * (every issue is listed in the message).
 * @throws OpeInputError naming the first invalid field
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const [first, ...rest] = result.error.issues;
  const pathOf = (path: readonly PropertyKey[] | undefined): string =>
    path && path.length > 0 ? path.map(String).join('.') : 'options';
  const also = rest.map((issue) => `${pathOf(issue.path)}: ${issue.message}`);
  const message = (first?.message ?? 'invalid') + (also.length > 0 ? ` (also ${also.join('; ')})` : '');
  throw new OpeInputError(pathOf(first?.path), message);
}
