/**
 * Graceful shutdown with requests in flight: startServer in-process on a temporary SQLite
 * database, closed through `RunningServer.close()` — the path SIGTERM/SIGINT take
 * (`exitOnSignals` in server.ts calls it, then exits).
 *
 * "In flight" is made exact with `Expect: 100-continue`: the server answers `100 Continue` once
 * it has parsed a request's head (Node's http server does so when no `checkContinue` listener is
 * installed), so a client that has seen it knows its request was received; the body follows
 * when the test says so. No sleeps: every step waits for an event.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parseModelConfig, posteriorKey } from '../../src/engine/config.js';
import { memoryLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';

// ───────────────────────────── helpers ─────────────────────────────

const dir = mkdtempSync(join(tmpdir(), 'liubai-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const items = (k: number) => Array.from({ length: k }, (_, i) => ({ id: `item${i}`, features: { item: { price: i } }, group: `g${i % 3}` }));
const context = { user: { age: 31 }, session: { hour: 20 } };
const SHUTDOWN_TIMEOUT_MS = 30_000;
/** Every config field has a default; a long reward window: no silence closes anything here. */
const MODEL = { budget: { share: 0.1 }, feedback: { rewardWindowSeconds: 3600 } };

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly json: any;
  /** Whether the agent sent this request on a kept-alive connection of an earlier one. */
  readonly reusedSocket: boolean;
}

/** One request on `agent`: with `expectContinue`, its head goes now and its body on `send()`. */
function open(
  url: string,
  agent: Agent,
  method: string,
  path: string,
  body: unknown,
  expectContinue: boolean,
): { continued: Promise<void>; send: () => void; answer: Promise<Answer>; req: ClientRequest } {
  const u = new URL(url);
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(text) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (expectContinue) headers['expect'] = '100-continue';
  const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers, agent });
  const continued = new Promise<void>((resolve) => req.once('continue', () => resolve()));
  const answer = new Promise<Answer>((resolve, reject) => {
    req.once('response', (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.once('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch {
          json = data;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json, reusedSocket: req.reusedSocket });
      });
      res.once('error', reject);
    });
    req.once('error', reject);
  });
  if (expectContinue) {
    req.flushHeaders();
    return { continued, send: () => req.end(text), answer, req };
  }
  req.end(text);
  return { continued, send: () => undefined, answer, req };
}

async function start(dbPath: string, extra: Partial<ServerOptions> = {}): Promise<{ s: RunningServer; logger: ReturnType<typeof memoryLogger> }> {
  const logger = memoryLogger();
  const s = await startServer({
    host: '127.0.0.1',
    port: 0,
    dbPath,
    logger,
    processMetrics: false,
    snapshotIntervalMs: 0,
    checkpointIntervalMs: 0,
    // Far beyond every wait here: no answer, and no close(), may depend on the forced close.
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    ...extra,
  });
  return { s, logger };
}

/** The error code of a TCP connect to `url`, or 'connected'. */
function connectOutcome(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s: Socket = connect({ host: u.hostname, port: Number(u.port) });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}


interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * One client connection spoken in raw HTTP/1.1, so the test decides exactly what is sent when:
 * `next()` is the next response (1xx included; bodies by Content-Length, which every answer of
 * the app carries), `ended` resolves when the server ends the connection.
 */
async function rawConnection(url: string): Promise<{ write: (text: string) => void; next: () => Promise<RawResponse>; ended: Promise<void>; destroy: () => void }> {
  const u = new URL(url);
  const socket = connect({ host: u.hostname, port: Number(u.port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buf = Buffer.alloc(0);
  const parsed: RawResponse[] = [];
  const waiters: Array<(r: RawResponse) => void> = [];
  const deliver = () => {
    while (parsed.length > 0 && waiters.length > 0) waiters.shift()!(parsed.shift()!);
  };
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) break;
      const [statusLine = '', ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + length) break;
      parsed.push({ status: Number(statusLine.split(' ')[1]), headers, body: buf.subarray(end + 4, end + 4 + length).toString('utf8') });
      buf = buf.subarray(end + 4 + length);
    }
    deliver();
  });
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  return {
    write: (text) => void socket.write(text),
    next: () =>
      new Promise<RawResponse>((resolve) => {
        waiters.push(resolve);
        deliver();
      }),
    ended,
    destroy: () => socket.destroy(),
  };
}

type Slate = { eventId: string; slate: Array<{ id: string }> };

// ───────────────────────────── shutdown ─────────────────────────────

describe('graceful shutdown (RunningServer.close, the SIGTERM path) with requests in flight', () => {
  const N = 40;

  test.each(['before their bodies are sent', 'as the first answer arrives'] as const)(
    'close() called %s: every received request is answered 200 in full, and every acknowledged write is in the database',
    async (when) => {
      const dbPath = join(dir, `inflight-${when === 'as the first answer arrives' ? 'late' : 'early'}.db`);
      const { s, logger } = await start(dbPath);
      const agent = new Agent({ keepAlive: true, maxSockets: N });
      let closing: Promise<void> | null = null;
      const decisions: Slate[] = [];
      const feedbackSent: Array<{ eventId: string; itemId: string; kind: string }> = [];
      try {
        expect((await open(s.url, agent, 'PUT', '/v1/models/m', MODEL, false).answer).status).toBe(201);

        // Warm up N keep-alive connections: N/2 decisions (the feedback targets), N/2 health checks.
        const warm = await Promise.all(
          Array.from({ length: N }, (_, i) =>
            i < N / 2
              ? open(s.url, agent, 'POST', '/v1/models/m/rank', { eventId: `warm-${i}`, context, candidates: items(6), slots: 3, userId: `u${i % 4}` }, false)
                  .answer
              : open(s.url, agent, 'GET', '/healthz', undefined, false).answer,
          ),
        );
        expect(warm.map((a) => a.status)).toEqual(Array(N).fill(200));
        const warmDecisions = warm.slice(0, N / 2).map((a) => a.json as Slate);
        decisions.push(...warmDecisions);

        // N requests on those connections: N/2 ranks, N/2 feedback (single events and batches of two).
        const inflight = Array.from({ length: N }, (_, i) => {
          if (i < N / 2) {
            return open(s.url, agent, 'POST', '/v1/models/m/rank', { eventId: `live-${i}`, context, candidates: items(6), slots: 3, userId: `u${i % 4}` }, true);
          }
          const d = warmDecisions[i - N / 2]!;
          const events =
            i % 2 === 0
              ? [{ eventId: d.eventId, itemId: d.slate[0]!.id, kind: 'click' }]
              : [
                  { eventId: d.eventId, itemId: d.slate[0]!.id, kind: 'click' },
                  { eventId: d.eventId, itemId: d.slate[1]!.id, kind: 'dismiss' },
                ];
          feedbackSent.push(...events);
          return open(s.url, agent, 'POST', '/v1/models/m/feedback', events.length === 1 ? events[0] : { events }, true);
        });
        // Every head has reached the server: these requests are received, and in flight.
        await Promise.all(inflight.map((r) => r.continued));

        if (when === 'before their bodies are sent') {
          closing = s.close();
          for (const r of inflight) r.send();
        } else {
          for (const r of inflight) r.send();
          const first = await Promise.race(inflight.map((r) => r.answer));
          expect(first.status).toBe(200);
          closing = s.close();
        }

        const settled = await Promise.allSettled(inflight.map((r) => r.answer));
        // No reset, no hang-up: every one a complete answer (its body read to the end and parsed).
        const errors = settled.flatMap((x, i) => (x.status === 'rejected' ? [`#${i}: ${(x.reason as Error).message}`] : []));
        expect(errors).toEqual([]);
        const answers = settled.map((x) => (x as PromiseFulfilledResult<Answer>).value);
        expect(answers.map((a) => a.status)).toEqual(Array(N).fill(200));
        expect(answers.every((a) => a.reusedSocket)).toBe(true);
        const ranks = answers.slice(0, N / 2).map((a) => a.json as Slate);
        expect(ranks.map((r) => r.eventId)).toEqual(Array.from({ length: N / 2 }, (_, i) => `live-${i}`));
        for (const r of ranks) expect(r.slate).toHaveLength(3);
        decisions.push(...ranks);
        answers.slice(N / 2).forEach((a, j) =>
          expect(a.json).toEqual((N / 2 + j) % 2 === 0 ? { accepted: 1, duplicates: 0, outcomes: 1 } : { accepted: 2, duplicates: 0, outcomes: 2 }),
        );

        // An answer written while draining closes its connection (here: every one, when close()
        // came before the bodies), so close() completes while the client still holds its agent:
        // well before the forced close at shutdownTimeoutMs.
        if (when === 'before their bodies are sent') expect(answers.every((a) => a.headers['connection'] === 'close')).toBe(true);
        expect(await connectOutcome(s.url)).toBe('ECONNREFUSED');
        const waited = Date.now();
        await closing;
        expect(Date.now() - waited).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 2);
        // And once close() has resolved.
        expect(await connectOutcome(s.url)).toBe('ECONNREFUSED');
        expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
        expect(logger.lines.at(-1)?.msg).toBe('stopped');
      } finally {
        agent.destroy();
        await (closing ?? s.close());
      }

      // Everything acknowledged is in the database (reopened after close), by eventId.
      const store = openSqliteStore(dbPath);
      try {
        expect(decisions).toHaveLength(N);
        for (const d of decisions) {
          expect(store.getDecision('m', d.eventId)?.slate.map((e) => e.itemId), d.eventId).toEqual(d.slate.map((x) => x.id));
        }
        for (const f of feedbackSent) expect(store.activeOutcome('m', f.eventId, f.itemId)?.kind, `${f.eventId}/${f.itemId}`).toBe(f.kind);
        expect(store.counts('m')).toEqual({
          decisions: N,
          feedback: feedbackSent.length,
          outcomes: feedbackSent.length,
          ledger: store.budgetTotals('m').explored,
          openWindows: 3 * N - feedbackSent.length,
        });
        // The learning log: one entry per acknowledged feedback, in strictly increasing seq order,
        // numbered 0..n-1, nothing retracted, and the final snapshot taken at its end.
        const log = store.outcomesAfter('m', 0, 10_000);
        expect(log.map((o) => `${o.eventId}/${o.itemId}/${o.kind}`).sort()).toEqual(feedbackSent.map((f) => `${f.eventId}/${f.itemId}/${f.kind}`).sort());
        expect(log.every((o, i) => i === 0 || o.seq > log[i - 1]!.seq)).toBe(true);
        expect(log.map((o) => o.ordinal)).toEqual(log.map((_, i) => i));
        expect(log.filter((o) => o.retracts !== undefined || o.weight <= 0)).toEqual([]);
        expect(store.lastSeq('m')).toBe(log.at(-1)!.seq);
        expect(store.latestSnapshot('m', posteriorKey(parseModelConfig(MODEL)))?.seq).toBe(store.lastSeq('m'));
      } finally {
        store.close();
      }

      // A restart serves the same model with every acknowledged outcome folded.
      const { s: again } = await start(dbPath, { decisionThreads: 0 });
      try {
        const view = (await (await fetch(`${again.url}/v1/models/m`)).json()) as { posterior: { outcomes: number }; budget: { allTime: { decisions: number } } };
        expect(view.posterior.outcomes).toBe(feedbackSent.length);
        expect(view.budget.allTime.decisions).toBe(N);
      } finally {
        await again.close();
      }
    },
  );

  test('a kept-alive connection in use when draining begins is let go: the answer the server writes during draining says Connection: close, and the server ends the connection', async () => {
    const { s } = await start(join(dir, 'raw.db'), { models: { m: MODEL }, decisionThreads: 0 });
    const c = await rawConnection(s.url);
    let closing: Promise<void> | null = null;
    try {
      const body = JSON.stringify({ eventId: 'raw-1', context, candidates: items(4), slots: 2 });
      c.write(
        `POST /v1/models/m/rank HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
      );
      expect((await c.next()).status).toBe(100);
      const started = Date.now();
      closing = s.close();
      c.write(body);
      const first = await c.next();
      expect(first.status, first.body).toBe(200);
      expect(JSON.parse(first.body).eventId).toBe('raw-1');
      // close() stopped accepting at once: a new connection is refused while this one drains.
      expect(await connectOutcome(s.url)).toBe('ECONNREFUSED');
      // Its answer, written while draining, closes the connection.
      expect(first.headers['connection']).toBe('close');
      // The server ends the connection itself, and close() completes without the forced close.
      await c.ended;
      await closing;
      expect(Date.now() - started).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 2);
    } finally {
      c.destroy();
      await (closing ?? s.close());
    }
  });

  /**
   * Regression: `Connection: close` used to be decided when a request *arrived*, so a request
   * received before close() and answered after it got `Connection: keep-alive`; its connection
   * stayed open and close() — the SIGTERM path — waited for the client or for shutdownTimeoutMs
   * (measured with 10 kept-alive clients: the full timeout every time). It is now decided when
   * the answer's head is written (app.ts).
   */
  test('answers to requests already in flight when close() is called carry Connection: close, so close() resolves while clients still hold their connections', async () => {
    const { s } = await start(join(dir, 'keepalive.db'), { models: { m: MODEL }, decisionThreads: 0 });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let closing: Promise<void> | null = null;
    try {
      const inflight = Array.from({ length: 4 }, (_, i) =>
        open(s.url, agent, 'POST', '/v1/models/m/rank', { eventId: `ka-${i}`, context, candidates: items(4), slots: 2 }, true),
      );
      await Promise.all(inflight.map((r) => r.continued));
      const started = Date.now();
      closing = s.close();
      for (const r of inflight) r.send();
      const answers = await Promise.all(inflight.map((r) => r.answer));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(answers.map((a) => a.headers.connection)).toEqual(['close', 'close', 'close', 'close']);
      await closing;
      expect(Date.now() - started).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 2);
    } finally {
      agent.destroy();
      await (closing ?? s.close());
    }
  });
});
