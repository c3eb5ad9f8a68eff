/**
 * HTTP helpers of the integration tests: one request through fetch with its answer read whole,
 * and an app listening on 127.0.0.1, port 0.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type AppDeps } from '../../src/server/app.js';

/** An answer, read whole. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body (undefined when it is not JSON); tests check it field by field. */
  json: any;
}

/** Options of {@link call}. */
export interface CallOptions {
  /** A value sent as JSON. */
  readonly body?: unknown;
  /** The body as given (broken JSON, other encodings), instead of `body`. */
  readonly raw?: string | Uint8Array;
  /** Content-Type of a body (default application/json); null sends none. */
  readonly contentType?: string | null;
  /** Sent as `Authorization: Bearer <key>`. */
  readonly key?: string;
  /** The whole Authorization header, as given (e.g. a malformed one). */
  readonly authorization?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One request; never throws on an HTTP status. */
export async function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Uint8Array | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) {
    const type = options.contentType === undefined ? 'application/json' : options.contentType;
    if (type !== null) headers['content-type'] = type;
    if (typeof body === 'string') body = new TextEncoder().encode(body);
  }
  if (options.key !== undefined) headers['authorization'] = `Bearer ${options.key}`;
  if (options.authorization !== undefined) headers['authorization'] = options.authorization;
  const r = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

/** createApp(deps) listening on 127.0.0.1 at a free port. */
export async function listen(deps: AppDeps): Promise<{ base: string; server: Server }> {
  const app = createApp(deps);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Close a server and every connection it holds. */
export async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
