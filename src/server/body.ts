/**
 * A lean JSON body reader for the HTTP boundary: the common request (`Content-Type:
 * application/json`, no charset or `charset=utf-8`, no `Content-Encoding`) is read, decoded and
 * parsed here without body-parser's per-request machinery (type-is, content-type, iconv-lite,
 * raw-body, on-finished, http-errors). Everything else — a compressed body, another charset, a
 * request whose stream is already finished — is handed to the `fallback` (express.json), so those
 * answers stay exactly what they were.
 *
 * What the fast path keeps from body-parser 2 (strict mode), case by case:
 * - the byte limit: a declared `Content-Length` over the limit, or more bytes than the limit
 *   arriving, is 413 PAYLOAD_TOO_LARGE; nothing past the limit is buffered, the rest of the
 *   request is read and discarded, and the answer goes out once the request has ended (as
 *   body-parser's `dump`), so a client still writing its body gets the 413 instead of a reset;
 * - UTF-8 decoding with replacement characters for invalid bytes (Node's decoder, as iconv-lite's
 *   `utf8` codec) and a leading byte-order mark removed (iconv-lite strips it);
 * - strict JSON: an empty body is `{}` (body-parser's special case), otherwise the first
 *   non-whitespace character must be `{` or `[` and `JSON.parse` must succeed, else 400
 *   INVALID_REQUEST "not valid JSON";
 * - a body shorter or longer than its `Content-Length` is 400 "malformed request"; a request the
 *   client abandons is 400 "request aborted" (nobody reads that answer; the point is that the
 *   middleware chain ends);
 * - `req.body` is the parsed value, and stays `undefined` on failure.
 *
 * Unlike raw-body, `next` is not bound to the request's async context (no AsyncLocalStorage is in
 * use here); it runs in the context of the stream's `end` event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyErrors } from './errors.js';

/** Connect-style middleware over plain Node request and response objects (express's fit). */
export type BodyMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Options of {@link createJsonBodyReader}. */
export interface JsonBodyReaderOptions {
  /** Largest accepted body, bytes (after decompression on the fallback path). */
  readonly limit: number;
  /** Reads what the fast path does not handle: compressed bodies, other charsets, finished streams. */
  readonly fallback: BodyMiddleware;
}

/** Where the fast path keeps the body text, for {@link rawBodyOf}. */
const RAW_BODY = Symbol('liubai.rawBody');

type WithBody = IncomingMessage & { body?: unknown; [RAW_BODY]?: string };

/**
 * The media type of a `Content-Type` header: the text before the first `;`, without surrounding
 * spaces and tabs, lower-cased (as the content-type package reads it).
 */
function mediaType(header: string): string {
  const semi = header.indexOf(';');
  let end = semi < 0 ? header.length : semi;
  let start = 0;
  while (start < end && (header.charCodeAt(start) === 32 || header.charCodeAt(start) === 9)) start++;
  while (end > start && (header.charCodeAt(end - 1) === 32 || header.charCodeAt(end - 1) === 9)) end--;
  return header.slice(start, end).toLowerCase();
}

/**
 * Whether a `Content-Type` header names JSON: its media type is exactly `application/json`
 * (any case, any parameters). Same answer as express's `req.is('application/json')` for a request
 * with a body (type-is 2: `application/jsonx`, `text/json`, `application/*` and
 * `application/vnd.api+json` are not JSON; a missing or empty header is not JSON).
 */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && header !== '' && mediaType(header) === 'application/json';
}

/**
 * The parameters the fast path reads itself: none, or only `charset=utf-8` (any case, optionally
 * quoted, with optional spaces and tabs). Anything else — another charset, an empty one, a second
 * parameter — goes to body-parser, which answers exactly as before (e.g. it decodes UTF-16 and
 * answers 415 to `latin1` or `utf8`).
 */
const UTF8_PARAMETERS = /^[ \t]*charset[ \t]*=[ \t]*(?:utf-8|"utf-8")[ \t]*$/i;

function isPlainUtf8Json(header: string): boolean {
  const semi = header.indexOf(';');
  return semi < 0 || UTF8_PARAMETERS.test(header.slice(semi + 1));
}

/** on-finished's `isFinished` for a request, plus raw-body's refusals (a non-readable or decoded stream). */
function notFreshStream(req: IncomingMessage): boolean {
  const socket = req.socket as IncomingMessage['socket'] | null;
  return (
    (req as { upgrade?: boolean }).upgrade === true ||
    socket === null ||
    !socket.readable ||
    !req.readable ||
    req.readableEncoding !== null
  );
}

/**
 * The body text of `chunks` (`total` bytes): UTF-8 with U+FFFD for invalid sequences, without a
 * leading byte-order mark. Equal to iconv-lite's streaming `utf8` decoder over the same chunks.
 */
export function decodeUtf8Body(chunks: readonly Buffer[], total: number): string {
  if (total === 0) return '';
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Parse a body as strict JSON (body-parser's `strict: true`): `''` is `{}`; otherwise the value
 * must be an object or an array.
 * @throws LiubaiError INVALID_REQUEST when the text is not JSON or not an object or array
 */
export function parseStrictJson(text: string): unknown {
  if (text.length === 0) return {};
  let i = 0;
  let c = text.charCodeAt(0);
  // JSON's whitespace (RFC 8259): space, tab, line feed, carriage return.
  while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++i);
  if (c !== 123 && c !== 91) throw bodyErrors.notJson();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw bodyErrors.notJson();
  }
}

/**
 * The body text the fast path read for this request (after UTF-8 decoding, before parsing), or
 * `undefined` when the request had no body or was read by the fallback (compressed or non-UTF-8).
 */
export function rawBodyOf(req: IncomingMessage): string | undefined {
  return (req as WithBody)[RAW_BODY];
}

/**
 * Read the rest of a request and throw it away, then call `done` (body-parser's `dump`): the
 * answer to a refused body waits until the client has finished sending it.
 */
function drain(req: IncomingMessage, done: () => void): void {
  if (req.complete && !req.readable) {
    done();
    return;
  }
  const finish = () => {
    req.removeListener('end', finish);
    req.removeListener('close', finish);
    done();
  };
  req.on('end', finish);
  req.on('close', finish);
  req.resume();
}

/**
 * A middleware that sets `req.body` to the request's JSON body (see the module comment for the
 * exact rules), or calls `next` with a LiubaiError: PAYLOAD_TOO_LARGE (413), INVALID_REQUEST
 * (400: not JSON, aborted, length mismatch); the fallback's http-errors are classified by
 * `classifyError`. Call it only for requests with a body and a JSON content type (the caller
 * answers 415 to other types).
 */
export function createJsonBodyReader(options: JsonBodyReaderOptions): BodyMiddleware {
  const { limit, fallback } = options;
  return function readJsonBody(req, res, next) {
    const headers = req.headers;
    const coding = headers['content-encoding'];
    const type = headers['content-type'];
    if (
      (coding !== undefined && coding !== '' && coding.toLowerCase() !== 'identity') ||
      type === undefined ||
      !isPlainUtf8Json(type) ||
      notFreshStream(req)
    ) {
      fallback(req, res, next);
      return;
    }
    const withBody = req as WithBody;
    if (!('body' in withBody)) withBody.body = undefined;
    const declared = headers['content-length'];
    // Node's parser has already refused a malformed Content-Length, so parseInt sees digits.
    const length = declared === undefined ? -1 : Number.parseInt(declared, 10);
    if (length > limit) {
      drain(req, () => next(bodyErrors.tooLarge()));
      return;
    }

    let chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = false;
    const cleanup = () => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('close', onClose);
    };
    function onData(chunk: Buffer): void {
      received += chunk.length;
      if (tooLarge) return;
      if (received > limit) {
        // Stop buffering; keep reading (and discarding) until the request ends.
        tooLarge = true;
        chunks = [];
      } else {
        chunks.push(chunk);
      }
    }
    function onEnd(): void {
      cleanup();
      if (tooLarge) return next(bodyErrors.tooLarge());
      if (length >= 0 && received !== length) return next(bodyErrors.malformed());
      const text = decodeUtf8Body(chunks, received);
      chunks = [];
      let value: unknown;
      try {
        value = parseStrictJson(text);
      } catch (error) {
        return next(error);
      }
      withBody[RAW_BODY] = text;
      withBody.body = value;
      next();
    }
    function onClose(): void {
      // 'close' before 'end': the client went away mid-body.
      cleanup();
      next(tooLarge ? bodyErrors.tooLarge() : bodyErrors.aborted());
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  };
}
