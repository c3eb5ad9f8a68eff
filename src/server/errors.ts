/**
 * The HTTP side of the error catalog: every error becomes
 * `{ error: { code, message, field?, issues?, requestId } }` with the catalog status. Errors the
 * caller caused are {@link LiubaiError}s (ours) or 4xx errors of the body parser and router
 * (mapped by status); anything else is internal: logged with the request id by the caller of
 * {@link classifyError} and answered with a generic message that never echoes the original one.
 */
import type { z } from 'zod';
import { LiubaiError, formatPath, type ErrorCode, type FieldIssue } from '../engine/errors.js';
import type { ErrorResponseBody } from './schemas.js';

/** The generic answer to an internal error. */
export const INTERNAL_MESSAGE = 'internal error; the server log has the details under this requestId';

/**
 * Turn zod issues into a {@link LiubaiError} naming every offending field. An unknown-keys issue
 * becomes one issue per unknown field, with the field's own path, so the answer names it.
 */
export function fromZod(
  code: ErrorCode,
  what: string,
  issues: ReadonlyArray<z.core.$ZodIssue>,
  prefix: ReadonlyArray<string | number> = [],
): LiubaiError {
  const mapped: FieldIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) mapped.push({ path: [...path, key], message: 'unknown field' });
    } else {
      mapped.push({ path, message: issue.message });
    }
  }
  const shown = mapped.slice(0, 10).map((m) => `${formatPath(m.path) || '(root)'}: ${m.message}`);
  if (mapped.length > 10) shown.push(`… ${mapped.length - 10} more`);
  // Cap what we echo: a huge malformed body must not produce a huge answer.
  return new LiubaiError(code, `invalid ${what}: ${shown.join('; ')}`, mapped.slice(0, 100));
}

/**
 * Parse `input` with `schema`.
 * @throws LiubaiError `code` (default INVALID_REQUEST) naming every offending field
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string, code: ErrorCode = 'INVALID_REQUEST'): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw fromZod(code, what, r.error.issues);
  return r.data;
}

/**
 * The answers to a request body that cannot be read, shared by the lean reader (body.ts) and the
 * classification of body-parser's errors below, so both paths answer with the same code and text.
 */
export const bodyErrors = {
  /** 413: the declared or received body is over the configured limit. */
  tooLarge: (): LiubaiError => new LiubaiError('PAYLOAD_TOO_LARGE', 'request body is larger than the configured limit'),
  /** 415: a charset or content encoding the server does not read. */
  unsupportedEncoding: (): LiubaiError =>
    new LiubaiError('UNSUPPORTED_MEDIA_TYPE', 'unsupported body encoding or charset; send UTF-8 application/json'),
  /** 400: the body is not JSON, or its top level is not an object or array. */
  notJson: (): LiubaiError => new LiubaiError('INVALID_REQUEST', 'request body is not valid JSON (an object or array is expected)'),
  /** 400: the client went away before the body was complete. */
  aborted: (): LiubaiError => new LiubaiError('INVALID_REQUEST', 'request aborted'),
  /** 400: any other unreadable body (a length mismatch, a corrupt compressed stream). */
  malformed: (): LiubaiError => new LiubaiError('INVALID_REQUEST', 'malformed request'),
} as const;

/** Errors of the body parser / router that carry an HTTP status (http-errors). */
interface HttpError {
  readonly status?: number;
  readonly statusCode?: number;
  readonly type?: string;
}

function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as HttpError;
  const s = e.status ?? e.statusCode;
  return typeof s === 'number' && Number.isInteger(s) ? s : undefined;
}

/**
 * Classify an error: a caller's error as a {@link LiubaiError}, or `null` for an internal one.
 */
export function classifyError(error: unknown): LiubaiError | null {
  if (error instanceof LiubaiError) return error;
  const status = httpStatus(error);
  if (status === undefined || status < 400 || status >= 500) return null;
  const type = (error as HttpError).type;
  if (status === 413) return bodyErrors.tooLarge();
  if (status === 415) return bodyErrors.unsupportedEncoding();
  if (type === 'entity.parse.failed') return bodyErrors.notJson();
  if (type === 'request.aborted') return bodyErrors.aborted();
  if (status === 404) return new LiubaiError('NOT_FOUND', 'not found');
  return bodyErrors.malformed();
}

/** The JSON body of an error answer. */
export function errorBody(error: LiubaiError, requestId: string): ErrorResponseBody {
  const field = error.field;
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(field !== undefined && field !== '' ? { field } : {}),
      ...(error.issues.length > 0
        ? { issues: error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) }
        : {}),
      requestId,
    },
  };
}

/** The JSON body of the generic internal-error answer. */
export function internalErrorBody(requestId: string): ErrorResponseBody {
  return { error: { code: 'INTERNAL', message: INTERNAL_MESSAGE, requestId } };
}
