/**
 * The HTTP boundary, old against new in the same run (`node bin/run-ts.mjs test/bench/boundary.bench.ts
 * [--n 4000]`). Not a timed test: it prints medians and old/new ratios.
 *
 * Workload: the rank bodies of http.bench.ts (a user and a session namespace, 50 candidates
 * `{ id, features: { item: { topic, brand, price } }, group }`, slots 5: about 5 KB), and
 * feedback batches of 100 events (half with an ISO `at`).
 *
 * Stages (each iteration runs the variants back to back, rotating which goes first, so all see
 * the same machine load):
 * 1. body read + JSON parse of rank bodies from in-memory IncomingMessages:
 *    old = `req.is('application/json')` + `express.json` (body-parser), new = `isJsonContentType` +
 *    `createJsonBodyReader` (body.ts); once one request at a time (latency, event-loop hops
 *    included) and once 64 requests in flight (time per request: closer to CPU per request).
 *    `JSON.parse` alone is printed as the floor both readers share;
 * 2. zod validation of the parsed body through `parseWith`: old = the interpreted schema
 *    (`interpretedSchemas`), new = the compiled one the server uses;
 * 3. the same for a feedback batch of 100 events;
 * 4. one rank request over loopback HTTP (keep-alive, sequential) through three express routes that
 *    differ only in the boundary — old (type-is + body-parser + interpreted zod), the new reader
 *    with the interpreted schema, all new (body.ts + compiled zod) — answering 204: the
 *    per-request saving as a client sees it (client and server share this process).
 */
import { IncomingMessage, ServerResponse, Agent, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import express, { type RequestHandler } from 'express';
import type { z } from 'zod';
import { createRng } from '../../src/core/rng.js';
import { createJsonBodyReader, isJsonContentType, type BodyMiddleware } from '../../src/server/body.js';
import { parseWith } from '../../src/server/errors.js';
import { feedbackBatchSchema, interpretedSchemas, rankRequestSchema } from '../../src/server/schemas.js';
import { quantile, table, time, us } from './stats.js';
import { argOf, servingRankBodies } from './workload.js';

const N = Number(argOf('--n', '4000'));
const LIMIT = 1024 * 1024;

// ───────────────────────────── workload (as http.bench.ts) ─────────────────────────────

const rng = createRng('boundary-bench');
const bodies: Buffer[] = servingRankBodies(rng).map((text) => Buffer.from(text));
const parsedBodies: unknown[] = bodies.map((b) => JSON.parse(b.toString('utf8')) as unknown);
const batches: unknown[] = Array.from({ length: 64 }, (_, b) => ({
  events: Array.from({ length: 100 }, (_, i) => ({
    eventId: `ev-${b}-${i}`,
    itemId: `item${rng.int(500)}`,
    kind: (['click', 'convert', 'dismiss', 'ignore'] as const)[i % 4],
    ...(i % 2 === 0 ? { at: '2024-05-01T12:00:00.000Z' } : { at: 1_714_564_800_000 + i }),
    ...(i % 4 === 1 ? { value: 12.5 } : {}),
  })),
}));

// ───────────────────────────── stage 1: body read ─────────────────────────────

const oldJson = express.json({ limit: LIMIT, strict: true, type: 'application/json' });
const newJson = createJsonBodyReader({ limit: LIMIT, fallback: oldJson });
const { request: expressRequest } = express as unknown as { request: object };
const fakeRes = new ServerResponse(new IncomingMessage(new PassThrough() as unknown as Socket));

/**
 * A request as express hands it to a middleware: headers set, the body queued on the stream, the
 * prototype switched to express's request (express does that to every request, for old and new alike).
 */
function fakeRequest(body: Buffer): IncomingMessage & { body?: unknown; is(type: string): string | false | null } {
  const req = new IncomingMessage(new PassThrough() as unknown as Socket) as IncomingMessage & {
    body?: unknown;
    is(type: string): string | false | null;
  };
  req.method = 'POST';
  req.headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
  req.push(body);
  req.push(null);
  Object.setPrototypeOf(req, expressRequest);
  return req;
}

function runMiddleware(mw: BodyMiddleware, req: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => mw(req, fakeRes, (error) => (error === undefined ? resolve() : reject(error as Error))));
}

/** The old prelude's tail: express's `req.is` (type-is) then body-parser. */
async function readOld(body: Buffer): Promise<unknown> {
  const req = fakeRequest(body);
  if (!req.is('application/json')) throw new Error('not json');
  await runMiddleware(oldJson, req);
  return req.body;
}
async function readNew(body: Buffer): Promise<unknown> {
  const req = fakeRequest(body);
  if (!isJsonContentType(req.headers['content-type'])) throw new Error('not json');
  await runMiddleware(newJson, req);
  return req.body;
}

/** `k` requests read concurrently; resolves when all are read. */
async function readMany(read: (body: Buffer) => Promise<unknown>, i: number, k: number): Promise<void> {
  const pending: Array<Promise<unknown>> = [];
  for (let j = 0; j < k; j++) pending.push(read(bodies[(i * k + j) % bodies.length]!));
  await Promise.all(pending);
}

interface Pair {
  readonly old: Float64Array;
  readonly new: Float64Array;
}

/**
 * Time each of `fns` on iterations 0..n-1 (after `warmup` untimed rounds), rotating which goes
 * first, so every variant sees the same machine load. Returns sorted per-call times, µs.
 */
async function interleave(n: number, warmup: number, fns: ReadonlyArray<(i: number) => unknown>): Promise<Float64Array[]> {
  for (let i = 0; i < warmup; i++) for (const f of fns) await f(i);
  const out = fns.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < fns.length; j++) {
      const k = (i + j) % fns.length;
      const t = performance.now();
      await fns[k]!(i);
      out[k]![i] = (performance.now() - t) * 1000;
    }
  }
  return out.map((x) => x.sort());
}

async function pair(n: number, warmup: number, oldFn: (i: number) => unknown, newFn: (i: number) => unknown): Promise<Pair> {
  const [o, w] = await interleave(n, warmup, [oldFn, newFn]);
  return { old: o!, new: w! };
}

// ───────────────────────────── stage 4: loopback HTTP ─────────────────────────────

/** Sequential keep-alive round trips: old boundary, the new reader with the interpreted schema, the new boundary. */
async function loopback(n: number): Promise<Float64Array[]> {
  const app = express();
  app.set('etag', false);
  const route =
    (lean: boolean, schema: z.ZodType): RequestHandler =>
    (req, res, next) => {
      if (lean ? !isJsonContentType(req.headers['content-type']) : !req.is('application/json')) return next(new Error('415'));
      (lean ? newJson : oldJson)(req, res, (error?: unknown) => {
        if (error !== undefined) return next(error);
        parseWith(schema, req.body, 'rank request');
        res.status(204).end();
      });
    };
  app.post('/old', route(false, interpretedSchemas.rankRequest));
  app.post('/reader', route(true, interpretedSchemas.rankRequest));
  app.post('/new', route(true, rankRequestSchema));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const post = (path: string, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const r = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path, agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } },
        (res) => {
          if (res.statusCode !== 204) reject(new Error(`status ${res.statusCode}`));
          res.resume();
          res.on('end', () => resolve());
        },
      );
      r.on('error', reject);
      r.end(body);
    });
  try {
    return await interleave(
      n,
      500,
      ['/old', '/reader', '/new'].map((path) => (i: number) => post(path, bodies[i % bodies.length]!)),
    );
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// ───────────────────────────── run ─────────────────────────────

// Sanity: both sides accept the same inputs and produce the same values.
for (let i = 0; i < 16; i++) {
  const a = await readOld(bodies[i]!);
  const b = await readNew(bodies[i]!);
  if (!isDeepStrictEqual(a, b)) throw new Error(`body ${i}: old and new readers disagree`);
  const va = parseWith(interpretedSchemas.rankRequest, a, 'rank request');
  const vb = parseWith(rankRequestSchema, b, 'rank request');
  if (!isDeepStrictEqual(va, vb)) throw new Error(`body ${i}: old and new schemas disagree`);
}
for (const batch of batches.slice(0, 4)) {
  if (!isDeepStrictEqual(parseWith(interpretedSchemas.feedbackBatch, batch, 'b'), parseWith(feedbackBatchSchema, batch, 'b'))) {
    throw new Error('feedback batch: old and new schemas disagree');
  }
}

console.log(`boundary bench: node ${process.version}, n = ${N} per stage, rank body ≈ ${Math.round(bodies[0]!.length / 100) / 10} KB, medians (p99)`);
const results: Array<[string, Pair]> = [];
results.push(['body read + JSON.parse (rank), 1 at a time', await pair(N, 1000, (i) => readOld(bodies[i % 256]!), (i) => readNew(bodies[i % 256]!))]);
{
  const IN_FLIGHT = 64;
  const p = await pair(Math.max(50, Math.round(N / 16)), 20, (i) => readMany(readOld, i, IN_FLIGHT), (i) => readMany(readNew, i, IN_FLIGHT));
  const per = (xs: Float64Array) => xs.map((x) => x / IN_FLIGHT);
  results.push([`  the same, ${IN_FLIGHT} in flight (per request)`, { old: per(p.old), new: per(p.new) }]);
}
const parseFloor = time((i) => JSON.parse(bodies[i % 256]!.toString('utf8')), N, { warmup: 1000 });
results.push([
  'zod parseWith (rank)',
  await pair(N, 1000, (i) => parseWith(interpretedSchemas.rankRequest, parsedBodies[i % 256], 'rank request'), (i) => parseWith(rankRequestSchema, parsedBodies[i % 256], 'rank request')),
]);
results.push([
  'zod parseWith (feedback, 100 events)',
  await pair(N, 500, (i) => parseWith(interpretedSchemas.feedbackBatch, batches[i % 64], 'feedback batch'), (i) => parseWith(feedbackBatchSchema, batches[i % 64], 'feedback batch')),
]);
{
  const [o, reader, w] = await loopback(N);
  results.push(['loopback round trip (rank, 204): new reader only', { old: o!, new: reader! }]);
  results.push(['  new reader + compiled zod (all new)', { old: o!, new: w! }]);
}

table(
  ['stage', 'old median', 'new median', 'old/new', 'old p99', 'new p99'],
  results.map(([name, p]) => {
    const mo = quantile(p.old, 0.5);
    const mn = quantile(p.new, 0.5);
    return [name, us(mo), us(mn), `${(mo / mn).toFixed(2)}×`, us(quantile(p.old, 0.99)), us(quantile(p.new, 0.99))];
  }),
);
console.log(`floor: utf-8 decode + JSON.parse alone, median ${us(parseFloor.median)}`);
const read = results[0];
const zod = results[2];
const boundaryOld = quantile(read![1].old, 0.5) + quantile(zod![1].old, 0.5);
const boundaryNew = quantile(read![1].new, 0.5) + quantile(zod![1].new, 0.5);
console.log(`\nrank boundary (read + parse + validate, sum of medians): old ${us(boundaryOld)}, new ${us(boundaryNew)}, old/new ${(boundaryOld / boundaryNew).toFixed(2)}×`);
