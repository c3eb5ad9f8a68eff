/**
 * The JSON body reader (src/server/body.ts) over real HTTP on 127.0.0.1 (port 0): every edge case
 * answers with the status, code and message the server gave when body-parser read every body
 * (the expected values were recorded from that version), and the reader's own contract — which
 * path read the body, the exact limit, draining, aborts — is checked on a bare express app.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { Engine } from '../../../src/engine/engine.js';
import { LiubaiError } from '../../../src/engine/errors.js';
import { createApp } from '../../../src/server/app.js';
import { createJsonBodyReader, decodeUtf8Body, isJsonContentType, parseStrictJson, rawBodyOf } from '../../../src/server/body.js';
import { classifyError } from '../../../src/server/errors.js';
import { memoryLogger } from '../../../src/server/logger.js';
import { MemoryStore } from '../../../src/storage/memory/index.js';

// ───────────────────────────── raw HTTP client ─────────────────────────────

interface RawAnswer {
  readonly status: number;
  readonly body: string;
  readonly json: { error?: { code?: string; message?: string; field?: string } } & Record<string, unknown>;
}

/**
 * One request written byte for byte on a fresh connection (`Connection: close`), so headers,
 * chunking and timing are exactly what the test says. `chunked` frames `chunks` itself.
 */
function rawRequest(
  port: number,
  path: string,
  headers: readonly string[],
  chunks: readonly Buffer[],
  options: { chunked?: boolean; gapMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(received).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(text.slice(9, 12));
      const body = split < 0 ? '' : text.slice(split + 4);
      let json: RawAnswer['json'] = {};
      try {
        json = JSON.parse(body) as RawAnswer['json'];
      } catch {
        json = {};
      }
      resolve({ status, body, json });
    });
    socket.on('connect', async () => {
      socket.write([`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers, '', ''].join('\r\n'));
      for (const c of chunks) {
        socket.write(options.chunked ? Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]) : c);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
      if (options.chunked) socket.write('0\r\n\r\n');
    });
  });
}

async function listen(app: express.Express): Promise<{ server: Server; port: number }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// ───────────────────────────── through createApp ─────────────────────────────

const LIMIT = 2048;
const valid = Buffer.from(JSON.stringify({ candidates: [{ id: 'a' }, { id: 'b' }] }));
const json = (ct: string | null, body: Buffer, extra: readonly string[] = []) => ({
  headers: [...(ct === null ? [] : [`Content-Type: ${ct}`]), `Content-Length: ${body.length}`, ...extra],
  chunks: [body],
});
const chunked = (chunks: readonly Buffer[]) => ({ headers: ['Content-Type: application/json', 'Transfer-Encoding: chunked'], chunks, chunked: true });
const utf16 = (s: string) => Buffer.from(s, 'utf16le');

const OK = 'OK';
const NOT_JSON = 'request body is not valid JSON (an object or array is expected)';
const BAD_TYPE = 'Content-Type must be application/json';
const BAD_CHARSET = 'unsupported body encoding or charset; send UTF-8 application/json';
const TOO_LARGE = 'request body is larger than the configured limit';

/** [case, request, status, code (or OK), exact message]. */
const cases: Array<[string, { headers: readonly string[]; chunks: readonly Buffer[]; chunked?: boolean }, number, string, string]> = [
  ['plain application/json', json('application/json', valid), 200, OK, ''],
  ['charset=utf-8', json('application/json; charset=utf-8', valid), 200, OK, ''],
  ['charset=UTF-8, quoted, spaced', json('application/json ;  charset = "UTF-8" ', valid), 200, OK, ''],
  ['upper-case media type', json('Application/JSON', valid), 200, OK, ''],
  ['tabs around the media type', json('\tapplication/json\t', valid), 200, OK, ''],
  ['charset=utf8 (no dash) → 415', json('application/json; charset=utf8', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_CHARSET],
  ['charset=latin1 → 415', json('application/json; charset=latin1', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_CHARSET],
  ['charset=utf-99 → 415', json('application/json; charset=utf-99', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_CHARSET],
  ['charset=utf-16le is decoded', json('application/json; charset=utf-16le', utf16(valid.toString())), 200, OK, ''],
  ['charset=utf-16 with a BOM is decoded', json('application/json; charset=utf-16', Buffer.concat([Buffer.from([0xff, 0xfe]), utf16(valid.toString())])), 200, OK, ''],
  ['empty charset means UTF-8', json('application/json; charset=', valid), 200, OK, ''],
  ['the first charset wins', json('application/json;charset=utf-8;charset=latin1', valid), 200, OK, ''],
  ['a parameter without a value is ignored', json('application/json; charset', valid), 200, OK, ''],
  ['application/jsonx → 415', json('application/jsonx', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_TYPE],
  ['text/json → 415', json('text/json', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_TYPE],
  ['application/* → 415', json('application/*', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_TYPE],
  ['application/vnd.api+json → 415', json('application/vnd.api+json', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_TYPE],
  ['two media types → 415', json('application/json, text/plain', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_TYPE],
  ['no Content-Type → 415', json(null, valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_TYPE],
  ['empty Content-Type → 415', json('', valid), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_TYPE],
  ['gzip on a wrong type → 415 for the type', json('text/plain', gzipSync(valid), ['Content-Encoding: gzip']), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_TYPE],
  ['a UTF-8 byte-order mark is skipped', json('application/json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), valid])), 200, OK, ''],
  ['chunked', chunked([valid.subarray(0, 7), valid.subarray(7, 20), valid.subarray(20)]), 200, OK, ''],
  ['chunked and empty: {} reaches validation', chunked([]), 400, 'INVALID_REQUEST', 'invalid rank request: candidates: Invalid input: expected array, received undefined'],
  ['Content-Length: 0 → body required', json('application/json', Buffer.alloc(0)), 400, 'INVALID_REQUEST', 'a JSON body is required'],
  ['only whitespace', json('application/json', Buffer.from(' \n\t\r ')), 400, 'INVALID_REQUEST', NOT_JSON],
  ['a string at the top level', json('application/json', Buffer.from(' "s"')), 400, 'INVALID_REQUEST', NOT_JSON],
  ['a number at the top level', json('application/json', Buffer.from('42')), 400, 'INVALID_REQUEST', NOT_JSON],
  ['null at the top level', json('application/json', Buffer.from('null')), 400, 'INVALID_REQUEST', NOT_JSON],
  ['an array at the top level reaches validation', json('application/json', Buffer.from(' [1]')), 400, 'INVALID_REQUEST', 'invalid rank request: (root): Invalid input: expected object, received array'],
  ['trailing garbage', json('application/json', Buffer.from('{"candidates":[{"id":"a"}]} x')), 400, 'INVALID_REQUEST', NOT_JSON],
  ['trailing whitespace', json('application/json', Buffer.from('{"candidates":[{"id":"a"}]}\r\n\t ')), 200, OK, ''],
  ['truncated JSON', json('application/json', valid.subarray(0, valid.length - 3)), 400, 'INVALID_REQUEST', NOT_JSON],
  ['NaN', json('application/json', Buffer.from('{"candidates":NaN}')), 400, 'INVALID_REQUEST', NOT_JSON],
  ['a byte-order mark then garbage', json('application/json', Buffer.from([0xef, 0xbb, 0xbf, 0x78])), 400, 'INVALID_REQUEST', NOT_JSON],
  ['exactly the limit', json('application/json', Buffer.concat([valid, Buffer.alloc(LIMIT - valid.length, 0x20)])), 200, OK, ''],
  ['one byte over the limit', json('application/json', Buffer.concat([valid, Buffer.alloc(LIMIT + 1 - valid.length, 0x20)])), 413, 'PAYLOAD_TOO_LARGE', TOO_LARGE],
  ['far over the limit', json('application/json', Buffer.alloc(200_000, 0x20)), 413, 'PAYLOAD_TOO_LARGE', TOO_LARGE],
  ['chunked, exactly the limit', chunked([valid, Buffer.alloc(LIMIT - valid.length, 0x20)]), 200, OK, ''],
  ['chunked, one byte over the limit', chunked([valid, Buffer.alloc(LIMIT + 1 - valid.length, 0x20)]), 413, 'PAYLOAD_TOO_LARGE', TOO_LARGE],
  ['chunked, far over the limit', chunked(Array.from({ length: 40 }, () => Buffer.alloc(4096, 0x20))), 413, 'PAYLOAD_TOO_LARGE', TOO_LARGE],
  ['gzip', json('application/json', gzipSync(valid), ['Content-Encoding: gzip']), 200, OK, ''],
  ['deflate', json('application/json', deflateSync(valid), ['Content-Encoding: deflate']), 200, OK, ''],
  ['br', json('application/json', brotliCompressSync(valid), ['Content-Encoding: br']), 200, OK, ''],
  ['Content-Encoding: IDENTITY', json('application/json', valid, ['Content-Encoding: IDENTITY']), 200, OK, ''],
  ['an unknown content encoding → 415', json('application/json', valid, ['Content-Encoding: x-foo']), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_CHARSET],
  ['corrupt gzip', json('application/json', Buffer.from('not gzip'), ['Content-Encoding: gzip']), 400, 'INVALID_REQUEST', 'malformed request'],
  ['gzip inflating over the limit', json('application/json', gzipSync(Buffer.alloc(5000, 0x20)), ['Content-Encoding: gzip']), 413, 'PAYLOAD_TOO_LARGE', TOO_LARGE],
  ['gzip with a bad charset', json('application/json; charset=latin1', gzipSync(valid), ['Content-Encoding: gzip']), 415, 'UNSUPPORTED_MEDIA_TYPE', BAD_CHARSET],
  ['an escaped lone surrogate reaches validation', json('application/json', Buffer.from('{"candidates":[{"id":"\\ud800"}]}')), 400, 'INVALID_REQUEST', 'invalid rank request: candidates.0.id: must be well-formed Unicode (no lone surrogates)'],
];

describe('the app reads bodies as it did with body-parser', () => {
  const logger = memoryLogger();
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    const engine = new Engine({ store: new MemoryStore(), snapshotEvery: 0 });
    engine.putModel('m', {});
    ({ server, port } = await listen(createApp({ engine, logger, limits: { bodyBytes: LIMIT } })));
  });
  afterAll(() => shut(server));

  test.each(cases)('%s → %i %s', async (_name, req, status, code, message) => {
    const r = await rawRequest(port, '/v1/models/m/rank', req.headers, req.chunks, { chunked: req.chunked === true });
    expect(r.status, r.body).toBe(status);
    if (code === OK) {
      expect(Array.isArray(r.json['slate'])).toBe(true);
    } else {
      expect(r.json.error?.code).toBe(code);
      expect(r.json.error?.message).toBe(message);
    }
  });

  test('invalid UTF-8 becomes U+FFFD (as iconv-lite decoded it), not an error', async () => {
    const body = Buffer.concat([Buffer.from('{"candidates":[{"id":"a'), Buffer.from([0xff, 0xc3]), Buffer.from('"}, {"id":"b"}], "slots": 2}')]);
    const r = await rawRequest(port, '/v1/models/m/rank', ['Content-Type: application/json', `Content-Length: ${body.length}`], [body]);
    expect(r.status, r.body).toBe(200);
    expect((r.json['slate'] as Array<{ id: string }>).map((s) => s.id).sort()).toEqual(['a\ufffd\ufffd', 'b']);
  });

  test('a client that stops mid-body gets nothing, logs nothing, and the server keeps answering', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(['POST /v1/models/m/rank HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Content-Length: 1000', '', '{"cand'].join('\r\n'));
    await new Promise((r) => setTimeout(r, 30));
    socket.destroy();
    const after = await rawRequest(port, '/v1/models/m/rank', ['Content-Type: application/json', `Content-Length: ${valid.length}`], [valid]);
    expect(after.status).toBe(200);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

// ───────────────────────────── the reader on its own ─────────────────────────────

describe('createJsonBodyReader', () => {
  const limit = 1024;
  /** What each request's `next` got, in order. */
  const outcomes: Array<{ error?: LiubaiError | null; body?: unknown; raw?: string | undefined }> = [];
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    const app = express();
    const fallback = express.json({ limit, strict: true, type: 'application/json' });
    const reader = createJsonBodyReader({ limit, fallback });
    app.post('/echo', (req: Request, res: Response, next: NextFunction) => {
      reader(req, res, (error?: unknown) => {
        if (error !== undefined) {
          outcomes.push({ error: classifyError(error) });
          return next(error);
        }
        outcomes.push({ body: req.body as unknown, raw: rawBodyOf(req) });
        res.status(200).json({ body: req.body as unknown, raw: rawBodyOf(req) ?? null });
      });
    });
    // body-parser alone, as the app read every body before: the reference for the differential test.
    app.post('/bodyparser', (req: Request, res: Response, next: NextFunction) => {
      fallback(req, res, (error?: unknown) => {
        if (error !== undefined) return next(error);
        res.status(200).json({ body: req.body as unknown, raw: null });
      });
    });
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      const known = classifyError(error);
      res.status(known?.status ?? 500).json({ code: known?.code ?? 'INTERNAL' });
    });
    ({ server, port } = await listen(app));
  });
  afterAll(() => shut(server));

  const post = (headers: readonly string[], chunks: readonly Buffer[], options: { chunked?: boolean; gapMs?: number } = {}) => rawRequest(port, '/echo', headers, chunks, options);

  test('answers as body-parser does on 400 generated JSON requests (charsets, BOMs, encodings, framing, sizes)', async () => {
    const rng = createRng('reader-vs-body-parser');
    const types = [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON;charset="UTF-8"',
      'application/json ; charset = utf-8 ',
      'application/json; charset=utf-16le',
      'application/json; charset=latin1',
      'application/json; charset=utf8',
      'application/json; charset=',
      'application/json; charset=utf-8; x=1',
      'application/json; x=1',
      'application/json; charset="utf-8"x',
      'application/json; charset=utf-8,utf-16',
      'application/json; charset=utf-8:2000',
    ];
    const texts = ['{"a":1}', '[1,"é",{"b":[true,null]}]', ' {"x":"😀"} ', '', '  ', '"s"', '1', 'null', '{"a":', '{"a":1}}', '{"__proto__":{"a":1}}', `[${'1,'.repeat(300)}1]`, `{"p":"${'x'.repeat(1010)}"}`];
    for (let n = 0; n < 400; n++) {
      const type = types[rng.int(types.length)]!;
      const text = texts[rng.int(texts.length)]!;
      let bytes = type.includes('utf-16') && rng.uniform() < 0.7 ? Buffer.from(text, 'utf16le') : Buffer.from(text, 'utf8');
      if (rng.uniform() < 0.15) bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
      if (rng.uniform() < 0.1) bytes = Buffer.concat([bytes.subarray(0, 3), Buffer.from([0xff, 0xc3]), bytes.subarray(3)]);
      const headers = [`Content-Type: ${type}`];
      const coding = rng.uniform();
      if (coding < 0.15) {
        bytes = gzipSync(bytes);
        headers.push('Content-Encoding: gzip');
      } else if (coding < 0.25) headers.push(`Content-Encoding: ${rng.uniform() < 0.5 ? 'identity' : 'Identity'}`);
      const isChunked = rng.uniform() < 0.4;
      const chunks: Buffer[] = [];
      if (isChunked) {
        headers.push('Transfer-Encoding: chunked');
        for (let i = 0; i < bytes.length; ) {
          const j = Math.min(bytes.length, i + 1 + rng.int(400));
          chunks.push(bytes.subarray(i, j));
          i = j;
        }
      } else {
        if (bytes.length === 0) continue; // the app answers a Content-Length: 0 itself
        headers.push(`Content-Length: ${bytes.length}`);
        chunks.push(bytes);
      }
      const lean = await rawRequest(port, '/echo', headers, chunks, { chunked: isChunked });
      const reference = await rawRequest(port, '/bodyparser', headers, chunks, { chunked: isChunked });
      const label = `${headers.join(' | ')} ${JSON.stringify(text.slice(0, 40))}`;
      expect(lean.status, label).toBe(reference.status);
      const answer = (j: RawAnswer['json']) => ('code' in j ? { code: j['code'] } : { body: j['body'] });
      expect(answer(lean.json), label).toStrictEqual(answer(reference.json));
    }
  });

  test('the fast path sets req.body and keeps the decoded text (BOM removed) for rawBodyOf', async () => {
    const text = '  {"a":[1,"é",{"b":null}]} ';
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    const r = await post(['Content-Type: application/json; charset=utf-8', `Content-Length: ${body.length}`], [body]);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ body: { a: [1, 'é', { b: null }] }, raw: text });
  });

  test('compressed and non-UTF-8 bodies go to the fallback: parsed the same, no raw text', async () => {
    const text = '{"a":"ü"}';
    const gz = gzipSync(Buffer.from(text));
    expect((await post(['Content-Type: application/json', 'Content-Encoding: gzip', `Content-Length: ${gz.length}`], [gz])).json).toEqual({ body: { a: 'ü' }, raw: null });
    const u16 = utf16(text);
    expect((await post(['Content-Type: application/json; charset=utf-16le', `Content-Length: ${u16.length}`], [u16])).json).toEqual({ body: { a: 'ü' }, raw: null });
  });

  test('a body of exactly the limit is read; one more byte is 413, declared or chunked', async () => {
    const exact = Buffer.concat([Buffer.from('[1]'), Buffer.alloc(limit - 3, 0x20)]);
    expect((await post(['Content-Type: application/json', `Content-Length: ${exact.length}`], [exact])).status).toBe(200);
    expect((await post(['Content-Type: application/json', 'Transfer-Encoding: chunked'], [exact.subarray(0, 500), exact.subarray(500)], { chunked: true })).status).toBe(200);
    const over = Buffer.concat([exact, Buffer.from(' ')]);
    expect((await post(['Content-Type: application/json', `Content-Length: ${over.length}`], [over])).json).toEqual({ code: 'PAYLOAD_TOO_LARGE' });
    expect((await post(['Content-Type: application/json', 'Transfer-Encoding: chunked'], [over.subarray(0, 500), over.subarray(500)], { chunked: true })).json).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
    });
  });

  test('a refused body is read to its end before the 413, so a slow sender gets the answer, not a reset', async () => {
    const part = Buffer.alloc(64 * 1024, 0x20);
    const start = performance.now();
    const r = await post(['Content-Type: application/json', `Content-Length: ${part.length * 4}`], [part, part, part, part], { gapMs: 40 });
    expect(r.status).toBe(413);
    // The answer waited for the last part (3 gaps of 40 ms), as body-parser's dump did.
    expect(performance.now() - start).toBeGreaterThanOrEqual(110);
    const c = await post(['Content-Type: application/json', 'Transfer-Encoding: chunked'], [part, part, part], { chunked: true, gapMs: 20 });
    expect(c.status).toBe(413);
  });

  test('after a 413 the keep-alive connection serves the next request', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const big = Buffer.alloc(limit + 10, 0x20);
    const small = Buffer.from('{"ok":true}');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`);
    socket.write(big);
    socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${small.length}\r\n\r\n`);
    socket.write(small);
    await once(socket, 'end');
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([413, 200]);
    expect(text).toContain('{"body":{"ok":true},"raw":"{\\"ok\\":true}"}');
  });

  test('a client that goes away mid-body ends the middleware chain with 400 "request aborted"', async () => {
    const before = outcomes.length;
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"a":');
    await new Promise((r) => setTimeout(r, 30));
    socket.destroy();
    for (let i = 0; i < 100 && outcomes.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(outcomes.slice(before).map((o) => [o.error?.code, o.error?.message])).toEqual([['INVALID_REQUEST', 'request aborted']]);
  });

  test('a client that goes away while an oversized body is drained still gets 413 recorded', async () => {
    const before = outcomes.length;
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    socket.write(`${(limit + 100).toString(16)}\r\n${' '.repeat(limit + 100)}\r\n`);
    await new Promise((r) => setTimeout(r, 30));
    socket.destroy();
    for (let i = 0; i < 100 && outcomes.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(outcomes.slice(before).map((o) => o.error?.code)).toEqual(['PAYLOAD_TOO_LARGE']);
  });
});

// ───────────────────────────── pure helpers ─────────────────────────────

describe('isJsonContentType matches type-is for application/json', () => {
  test.each([
    ['application/json', true],
    ['APPLICATION/JSON; charset=whatever', true],
    [' application/json ;x=y', true],
    ['application/json;', true],
    ['application/jsonx', false],
    ['application/json+x', false],
    ['application/ json', false],
    ['application', false],
    ['text/json', false],
    ['*/*', false],
    ['', false],
    [undefined, false],
  ])('%j → %s', (header, expected) => {
    expect(isJsonContentType(header)).toBe(expected);
  });

  test("agrees with express's req.is('application/json') on 3,000 generated headers", () => {
    const rng = createRng('content-type-headers');
    const pieces = ['application', 'APPLICATION', 'text', 'json', 'JSON', 'jsonx', '/', '/', ' ', '\t', ';', ';', '=', 'charset', 'utf-8', '"', '*', '+', ',', 'x', '.'];
    const is = (express as unknown as { request: { is(this: unknown, type: string): unknown } }).request.is;
    for (let n = 0; n < 3000; n++) {
      const header =
        rng.uniform() < 0.5
          ? Array.from({ length: rng.int(8) }, () => pieces[rng.int(pieces.length)]!).join('')
          : `${pieces[rng.int(3)]}/${pieces[3 + rng.int(3)]}${Array.from({ length: rng.int(4) }, () => pieces[rng.int(pieces.length)]!).join('')}`;
      const expected = Boolean(is.call({ headers: { 'content-type': header, 'content-length': '1' } }, 'application/json'));
      expect(isJsonContentType(header), JSON.stringify(header)).toBe(expected);
    }
  });
});

describe('parseStrictJson follows body-parser strict mode', () => {
  test.each([
    ['', {}],
    ['{}', {}],
    [' \n[1,2]', [1, 2]],
    ['{"a":{"b":[true,null]}}\n', { a: { b: [true, null] } }],
  ])('%j parses', (text, value) => {
    expect(parseStrictJson(text)).toEqual(value);
  });
  test.each(['  ', '"s"', '1', 'true', 'null', '{', '[1,]', '{"a":1}x', '\u00a0{}', '\ufeff{}'])('%j is INVALID_REQUEST', (text) => {
    expect(() => parseStrictJson(text)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: NOT_JSON }) as Error);
  });
});

describe('decodeUtf8Body', () => {
  test('equals a streaming UTF-8 decoder with the leading BOM stripped, over random bytes and splits', () => {
    const rng = createRng('decode-utf8');
    // Lead bytes, continuations, overlong and surrogate starts, a BOM: the ways UTF-8 goes wrong.
    const alphabet = [0x41, 0x7b, 0x22, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0xfe, 0x80, 0xbf, 0xed, 0xa0, 0xef, 0xbb, 0xc0, 0xf4, 0x90];
    for (let t = 0; t < 5000; t++) {
      const n = 1 + rng.int(14);
      const bytes = Buffer.from(Array.from({ length: n }, () => alphabet[rng.int(alphabet.length)]!));
      const chunks: Buffer[] = [];
      for (let i = 0; i < n; ) {
        const j = Math.min(n, i + 1 + rng.int(4));
        chunks.push(bytes.subarray(i, j));
        i = j;
      }
      const decoder = new StringDecoder('utf8');
      let expected = chunks.map((c) => decoder.write(c)).join('') + decoder.end();
      if (expected.charCodeAt(0) === 0xfeff) expected = expected.slice(1);
      expect(decodeUtf8Body(chunks, n), bytes.toString('hex')).toBe(expected);
    }
  });

  test('an empty body is the empty string; only one BOM is removed', () => {
    expect(decodeUtf8Body([], 0)).toBe('');
    expect(decodeUtf8Body([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf])], 6)).toBe('\ufeff');
  });
});
