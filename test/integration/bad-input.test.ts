/**
 * Malformed requests never cause a 5xx and never change state. A seeded generator (our Rng)
 * derives ≥ 1,000 requests against rank, feedback, expose and PUT model — wrong types, NaN and
 * Infinity as strings, 1e400, huge arrays, deep nesting, unknown fields, feature-limit
 * violations, broken JSON, wrong content types and encodings, bad ids and paths — each with at
 * least one certain defect. They run over real HTTP against a SQLite-backed app; every answer
 * must be a 4xx with the error shape, and every row count, model version and log position must
 * be what it was before — as the store reports it and as a second, read-only connection to the
 * database file sees it: the real row count of every table and a checksum of every table's rows.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createRng, type Rng } from '../../src/core/rng.js';
import { Engine } from '../../src/engine/engine.js';
import { createApp } from '../../src/server/app.js';
import { memoryLogger } from '../../src/server/logger.js';
import { openSqliteStore, type SqliteStore } from '../../src/storage/sqlite/index.js';

const SEED = process.env['LIUBAI_BAD_INPUT_SEED'] ?? 'bad-input-1';
const COUNT = 1200;
const MODEL = 'm';

interface Req {
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
}

const dir = mkdtempSync(join(tmpdir(), 'liubai-bad-'));
let store: SqliteStore;
/** A second connection to the store's file, read-only: what is committed, not what the store counts. */
let reader: Database.Database;
let engine: Engine;
let server: Server;
let port = 0;
const logger = memoryLogger();
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
/** A decision that exists (for feedback with a wrong item or a bad field). */
let known: { eventId: string; shown: string[]; notShown: string };

beforeAll(async () => {
  store = openSqliteStore(join(dir, 'bad.db'), { synchronous: 'NORMAL' });
  let n = 0;
  engine = new Engine({ store, newEventId: () => `gen-${++n}`, snapshotEvery: 0 });
  engine.putModel(MODEL, { limits: { maxCandidates: 50, maxSlots: 10 }, features: { maxFeatures: 64, maxStringLength: 64 } });
  engine.putModel('other', { policy: { kind: 'beta-bernoulli' } });
  const r = engine.rank(MODEL, { context: { user: { age: 3 } }, candidates: candidates(6), slots: 3, eventId: 'known-1', userId: 'u' });
  const shown = r.slate.map((s) => s.id);
  known = { eventId: r.eventId, shown, notShown: candidates(6).map((c) => c.id).find((id) => !shown.includes(id))! };
  engine.feedback(MODEL, { eventId: 'known-1', itemId: shown[0]!, kind: 'click' });
  // A dismiss gives user 'u' fatigue rows, and a snapshot per model gives the snapshots table rows,
  // so that the checksums below cover tables with content rather than empty ones.
  engine.feedback(MODEL, { eventId: 'known-1', itemId: shown[1]!, kind: 'dismiss' });
  engine.rank(MODEL, { context: {}, candidates: candidates(4), eventId: 'deferred-1', deferExposure: true });
  engine.snapshotAll();
  reader = new Database(join(dir, 'bad.db'), { readonly: true, fileMustExist: true });
  const app = createApp({ engine, logger });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  agent.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  reader.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function candidates(k: number) {
  return Array.from({ length: k }, (_, i) => ({ id: `item${i}`, features: { item: { price: i + 1, kind: i % 2 ? 'odd' : 'even' } }, group: `g${i % 2}` }));
}

// ───────────────────────────── the generator ─────────────────────────────

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;
const json = 'application/json';

/** A value of a wrong kind for a field expecting `expected`. */
function wrongValue(rng: Rng, expected: 'string' | 'number' | 'boolean' | 'object' | 'array'): unknown {
  const all: Array<[string, () => unknown]> = [
    ['string', () => pick(rng, ['NaN', 'Infinity', '-Infinity', '1e400', '', 'x'.repeat(5000), '0x10', 'null'])],
    ['number', () => pick(rng, [0, -1, 1.5, -1e308, 1e300, 42])],
    ['boolean', () => rng.uniform() < 0.5],
    ['object', () => pick(rng, [{}, { a: 1 }, { nested: { deeper: [1, 2] } }])],
    ['array', () => pick(rng, [[], [1, 'a', null], [[[]]]])],
    ['null', () => null],
  ];
  return pick(
    rng,
    all.filter(([k]) => k !== expected),
  )[1]();
}

/**
 * Deep nesting, as a placeholder that {@link encode} expands into text (JSON.stringify of a
 * 20,000-deep value would overflow the test's own stack; the server's JSON.parse is iterative).
 */
const deepSpecs: Array<{ depth: number; leaf: unknown; asArray: boolean }> = [];
function deep(depth: number, leaf: unknown, asArray: boolean): unknown {
  deepSpecs.push({ depth, leaf, asArray });
  return `\u0001DEEP${deepSpecs.length - 1}\u0001`;
}
function expandDeep(text: string): string {
  return text.replace(/"\\u0001DEEP(\d+)\\u0001"/g, (_m, i: string) => {
    const { depth, leaf, asArray } = deepSpecs[Number(i)]!;
    const inner = JSON.stringify(leaf);
    return asArray ? '['.repeat(depth) + inner + ']'.repeat(depth) : '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
  });
}

function validRank(rng: Rng): Record<string, unknown> {
  return { context: { user: { age: 20 + rng.int(50), device: 'ios' } }, candidates: candidates(2 + rng.int(8)), slots: 2 };
}

/** One rank body with one certain defect. */
function badRankBody(rng: Rng): { kind: string; body: unknown } {
  const b = validRank(rng);
  const cands = b['candidates'] as unknown[] as Array<Record<string, unknown>>;
  const i = rng.int(cands.length);
  const mutations: Array<[string, () => void]> = [
    ['unknown field', () => (b[pick(rng, ['colour', 'Context', 'candidate', '__x', 'slot', 'extra'])] = 1)],
    ['candidates wrong type', () => (b['candidates'] = wrongValue(rng, 'array'))],
    ['candidates empty', () => (b['candidates'] = [])],
    ['candidates missing', () => delete b['candidates']],
    ['too many candidates', () => (b['candidates'] = candidates(51 + rng.int(3000)))],
    ['candidate not an object', () => ((cands as unknown[])[i] = wrongValue(rng, 'object') ?? 'x')],
    ['candidate id wrong', () => (cands[i]!['id'] = pick(rng, [wrongValue(rng, 'string'), '', 'x'.repeat(1025), '\ud800']))],
    ['candidate id missing', () => delete cands[i]!['id']],
    ['candidate unknown field', () => (cands[i]!['weight'] = 2)],
    ['candidate duplicate id', () => cands.push({ ...cands[i]! })],
    ['candidate group wrong', () => (cands[i]!['group'] = pick(rng, [wrongValue(rng, 'string'), '']))],
    ['context wrong type', () => (b['context'] = pick(rng, [wrongValue(rng, 'object'), 'ctx', [1]]))],
    ['namespace wrong type', () => (b['context'] = { user: pick(rng, ['x', 3, [1, 2], null, true]) })],
    ['feature value wrong', () => (b['context'] = { user: { age: pick(rng, [null, { a: 1 }, [1, 2], [['a']], ['a', 3]]) } })],
    ['deep nesting in context', () => (b['context'] = { user: { x: deep(50 + rng.int(5000), 1, rng.uniform() < 0.5) } })],
    ['deep nesting in unknown field', () => (b['deep'] = deep(50 + rng.int(20_000), 'x', rng.uniform() < 0.5))],
    ['deep nesting in candidate features', () => (cands[i]!['features'] = deep(3 + rng.int(3000), 1, false))],
    ['slots wrong', () => (b['slots'] = pick(rng, ['NaN', 'Infinity', '2', 0, -1, 2.5, 1e9, 11, null, true]))],
    ['eventId wrong', () => (b['eventId'] = pick(rng, [wrongValue(rng, 'string'), '', 'e'.repeat(257), 'known-1', '\udfff']))],
    ['userId wrong', () => (b['userId'] = pick(rng, [wrongValue(rng, 'string'), '', 'u'.repeat(257)]))],
    ['deferExposure wrong', () => (b['deferExposure'] = pick(rng, ['true', 1, 0, null, 'yes']))],
    ['feature string too long', () => (b['context'] = { user: { city: 'c'.repeat(65 + rng.int(1000)) } })],
    ['too many features', () => (b['context'] = { user: Object.fromEntries(Array.from({ length: 65 + rng.int(500) }, (_, j) => [`f${j}`, j + 1])) })],
    ['reserved namespace', () => (b['context'] = { [pick(rng, ['fatigue', 'id'])]: { a: 1 } })],
    ['namespace conflict', () => (b['context'] = { item: { a: 1 } })],
    ['empty feature name', () => (b['context'] = { user: { '': 1 } })],
    ['empty namespace name', () => (b['context'] = { '': { a: 1 } })],
    ['long feature key', () => (b['context'] = { user: { ['k'.repeat(65 + rng.int(100))]: 1 } })],
    ['long tag in array', () => (b['context'] = { user: { tags: ['ok', 't'.repeat(70)] } })],
    ['body not an object', () => void 0],
  ];
  const [kind, mutate] = pick(rng, mutations);
  if (kind === 'body not an object') return { kind, body: pick(rng, [[], [b], null, 'rank', 42, true]) };
  mutate();
  return { kind, body: b };
}

/** One feedback body with one certain defect. */
function badFeedbackBody(rng: Rng): { kind: string; body: unknown } {
  const good = () => ({ eventId: known.eventId, itemId: pick(rng, known.shown), kind: pick(rng, ['click', 'convert', 'dismiss', 'regret']) as string });
  const e: Record<string, unknown> = good();
  const mutations: Array<[string, () => unknown]> = [
    ['unknown event', () => ({ ...e, eventId: `nope-${rng.int(1e6)}` })],
    ['item not shown', () => ({ ...e, itemId: pick(rng, [known.notShown, 'ghost']) })],
    ['kind wrong', () => ({ ...e, kind: pick(rng, ['like', 'CLICK', 'ignored', '', 1, null]) })],
    ['eventId wrong', () => ({ ...e, eventId: pick(rng, [wrongValue(rng, 'string'), '', '\ud800']) })],
    ['itemId wrong', () => ({ ...e, itemId: pick(rng, [wrongValue(rng, 'string'), '']) })],
    ['value wrong', () => ({ ...e, value: pick(rng, ['NaN', 'Infinity', '12', null, [1], {}]) })],
    ['at wrong', () => ({ ...e, at: pick(rng, ['NaN', 'Infinity', 'yesterday', '2024-13-01T00:00:00Z', '2024-01-01', -5, 1e20, null, true]) })],
    ['unknown field', () => ({ ...e, [pick(rng, ['Kind', 'item', 'ts', 'weight'])]: 1 })],
    ['missing field', () => {
      const copy = { ...e };
      delete copy[pick(rng, ['eventId', 'itemId', 'kind'])];
      return copy;
    }],
    ['events empty', () => ({ events: [] })],
    ['events wrong type', () => ({ events: wrongValue(rng, 'array') })],
    ['events with an extra field', () => ({ events: [good()], eventId: known.eventId })],
    ['one bad event in a good batch', () => {
      const events: unknown[] = Array.from({ length: 1 + rng.int(5) }, good);
      events.splice(rng.int(events.length + 1), 0, pick(rng, [{ ...good(), kind: 'nope' }, { ...good(), eventId: 'missing' }, { ...good(), itemId: known.notShown }, 'x', null]));
      return { events };
    }],
    ['huge batch', () => ({ events: Array.from({ length: 10_001 }, () => ({ eventId: 'x', itemId: 'y', kind: 'click' })) })],
    ['deep nesting', () => ({ ...e, value: deep(100 + rng.int(10_000), 1, rng.uniform() < 0.5) })],
    ['body not an object', () => pick(rng, [[], [e], null, 'click', 7])],
  ];
  const [kind, make] = pick(rng, mutations);
  return { kind, body: make() };
}

/** One model config with one certain defect. */
function badConfigBody(rng: Rng): { kind: string; body: unknown } {
  const mutations: Array<[string, () => unknown]> = [
    ['unknown top-level field', () => ({ polcy: { kind: 'linear-gaussian' } })],
    ['unknown nested field', () => ({ budget: { share: 0.1, shares: 0.2 } })],
    ['policy kind unknown', () => ({ policy: { kind: pick(rng, ['magic', '', 'LINEAR-GAUSSIAN', 3, null]) } })],
    ['policy not an object', () => ({ policy: wrongValue(rng, 'object') })],
    ['out of range', () => pick(rng, [{ budget: { share: 2 } }, { budget: { floor: 0.9 } }, { features: { bits: 30 } }, { slots: 0 }, { budget: { temperature: -1 } }, { feedback: { rewardWindowSeconds: 0 } }])],
    ['wrong type', () => pick(rng, [{ slots: 'NaN' }, { seed: 1.5 }, { budget: { share: 'Infinity' } }, { features: { interactions: 'user*item' } }, { feedback: { examination: [] } }, { feedback: { examination: [2] } }])],
    ['interactions malformed', () => ({ features: { interactions: pick(rng, [[['user']], [['user', 'item', 'x']], [[1, 2]], [['', 'a']]]) } })],
    ['body not an object', () => pick(rng, [[], [{}], 'config', 1, null])],
    ['deep nesting', () => ({ policy: deep(100 + rng.int(10_000), { kind: 'uniform' }, false) })],
  ];
  const [kind, make] = pick(rng, mutations);
  return { kind, body: make() };
}

/** Serialize, sometimes breaking the JSON or the transport on top. */
function encode(rng: Rng, body: unknown, allowRaw: boolean): { headers: Record<string, string>; body: string | Buffer; extra?: string } {
  let text = expandDeep(JSON.stringify(body) ?? 'null');
  // Numbers JSON cannot hold, written raw.
  if (allowRaw && rng.uniform() < 0.04) text = text.replace(/(\d)(?=[,}\]])/, '$1e400');
  return { headers: { 'content-type': json }, body: text };
}

function transportDefect(rng: Rng, valid: string): { kind: string; headers: Record<string, string>; body: string | Buffer } {
  const options: Array<[string, () => { headers: Record<string, string>; body: string | Buffer }]> = [
    ['broken JSON (truncated)', () => ({ headers: { 'content-type': json }, body: valid.slice(0, Math.max(1, rng.int(valid.length - 1))) })],
    ['broken JSON (garbage)', () => ({ headers: { 'content-type': json }, body: pick(rng, ['{', '{"a":}', "{'a':1}", '{"a":1,}', 'NaN', '{"x":NaN}', '{"x":Infinity}', '\u0000', '[1,2', '{"a":1}}', 'undefined']) })],
    ['not JSON at top level', () => ({ headers: { 'content-type': json }, body: pick(rng, ['"str"', '42', 'true', 'null']) })],
    ['wrong content type', () => ({ headers: { 'content-type': pick(rng, ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json']) }, body: valid })],
    ['no content type', () => ({ headers: {}, body: valid })],
    ['unsupported charset', () => ({ headers: { 'content-type': `${json}; charset=${pick(rng, ['latin1', 'utf-16', 'koi8-r', 'nope'])}` }, body: valid })],
    ['unsupported encoding', () => ({ headers: { 'content-type': json, 'content-encoding': pick(rng, ['compress', 'zstd', 'x-foo']) }, body: valid })],
    ['corrupt gzip', () => ({ headers: { 'content-type': json, 'content-encoding': 'gzip' }, body: Buffer.from('not gzip at all') })],
    ['invalid UTF-8', () => ({ headers: { 'content-type': json }, body: Buffer.concat([Buffer.from('{"context":{"user":{"c":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}},"candidates":[1]}')]) })],
    ['empty body', () => ({ headers: { 'content-type': json }, body: '' })],
  ];
  const [kind, make] = pick(rng, options);
  return { kind, ...make() };
}

const badModelIds = ['-x', '.x', 'a%20b', 'a/b', 'x'.repeat(129), '%00', '%E0%A4%A', 'caf%C3%A9', '%2e%2e', 'a%2Fb'];

function generate(rng: Rng, n: number): Req[] {
  const out: Req[] = [];
  const rankPath = `/v1/models/${MODEL}/rank`;
  const feedbackPath = `/v1/models/${MODEL}/feedback`;
  for (let i = 0; i < n; i++) {
    const r = rng.fork(`req-${i}`);
    const u = r.uniform();
    if (u < 0.35) {
      const { kind, body } = badRankBody(r);
      out.push({ kind: `rank: ${kind}`, method: 'POST', path: rankPath, ...encode(r, body, true) });
    } else if (u < 0.6) {
      const { kind, body } = badFeedbackBody(r);
      out.push({ kind: `feedback: ${kind}`, method: 'POST', path: feedbackPath, ...encode(r, body, true) });
    } else if (u < 0.72) {
      const { kind, body } = badConfigBody(r);
      const target = pick(r, [MODEL, 'other', 'fresh']);
      out.push({ kind: `put: ${kind}`, method: 'PUT', path: `/v1/models/${target}`, ...encode(r, body, false) });
    } else if (u < 0.87) {
      const which = pick(r, [
        { path: rankPath, valid: JSON.stringify(validRank(r)) },
        { path: feedbackPath, valid: JSON.stringify({ eventId: 'nope', itemId: 'x', kind: 'click' }) },
        { path: `/v1/models/fresh2`, valid: '{}' },
      ]);
      const d = transportDefect(r, which.valid);
      out.push({ kind: `transport: ${d.kind}`, method: which.path.endsWith('fresh2') ? 'PUT' : 'POST', path: which.path, headers: d.headers, body: d.body });
    } else if (u < 0.97) {
      const valid = JSON.stringify(validRank(r));
      const paths: Array<[string, string, string | undefined]> = [
        ['POST', `/v1/models/${pick(r, badModelIds)}/rank`, valid],
        ['POST', `/v1/models/unknown-${r.int(1000)}/rank`, valid],
        ['POST', `/v1/models/unknown/feedback`, JSON.stringify({ eventId: 'a', itemId: 'b', kind: 'click' })],
        ['PUT', `/v1/models/${pick(r, badModelIds)}`, '{}'],
        ['POST', `/v1/models/${MODEL}/decisions/${'e'.repeat(257)}/expose`, undefined],
        ['POST', `/v1/models/${MODEL}/decisions/unknown-${r.int(1000)}/expose`, undefined],
        ['POST', `/v1/models/${MODEL}/decisions/deferred-1/expose`, JSON.stringify({ now: true })],
        ['POST', `/v1/models/${MODEL}/decisions/deferred-1/expose`, '[]'],
        ['POST', `/v1/models/${MODEL}/decisions/deferred-1/expose`, 'oops'],
        ['GET', `/v1/models/${MODEL}/rank`, undefined],
        ['PATCH', `/v1/models/${MODEL}`, '{}'],
        ['DELETE', `/v1/models/unknown-${r.int(1000)}`, undefined],
        ['POST', `/v1/models/${MODEL}`, '{}'],
        ['GET', `/v1/models/${MODEL}?posterior=everything`, undefined],
        ['GET', `/v1/models/${MODEL}/users/u/budget?since=tomorrow`, undefined],
        ['GET', `/v1/${pick(r, ['model', 'modelz', 'models/m/ranks', ''])}`, undefined],
      ];
      const [method, path, body] = pick(r, paths);
      out.push({ kind: `path: ${method} ${path.slice(0, 40)}`, method, path, headers: body === undefined ? {} : { 'content-type': json }, ...(body !== undefined ? { body } : {}) });
    } else {
      // Over the 1 MB limit (a few only: each is a megabyte).
      const pad = 'x'.repeat(1024 * 1024 + r.int(4096));
      const body = JSON.stringify({ ...validRank(r), pad });
      out.push({ kind: 'too large', method: pick(r, ['POST', 'PUT']) === 'POST' ? 'POST' : 'PUT', path: r.uniform() < 0.5 ? rankPath : `/v1/models/${MODEL}`, headers: { 'content-type': json }, body });
    }
  }
  return out;
}

function send(req: Req): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
    const r = request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.path,
        agent,
        headers: { ...req.headers, ...(body !== undefined ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

/** Tables whose rows are per-user or posterior state that no counter covers (migrations 1 and 4). */
const STATE_TABLES = ['active_outcomes', 'snapshots', 'user_fatigue', 'user_state'] as const;

/**
 * What the database file holds, read through the second connection: the schema objects, and for
 * every table (from sqlite_master, sqlite_ internals aside) its real row count and a SHA-256 of
 * its rows ordered by every column. sqlite_sequence is hashed too: the learning log's seq must not
 * move even if an outcome were written and deleted again.
 */
function tablesOf() {
  const schema = reader
    .prepare<[], { type: string; name: string; sql: string | null }>("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
    .all();
  const names = schema.filter((o) => o.type === 'table' && !o.name.startsWith('sqlite_')).map((o) => o.name);
  const rowsOf = (table: string) => {
    const width = reader.prepare(`SELECT * FROM "${table}" LIMIT 0`).columns().length;
    const order = Array.from({ length: width }, (_, i) => i + 1).join(', ');
    return reader.prepare(`SELECT * FROM "${table}" ORDER BY ${order}`).raw().all();
  };
  const checksum = (rows: unknown[]) => createHash('sha256').update(JSON.stringify(rows)).digest('hex');
  const tables = Object.fromEntries(
    names.map((name) => {
      const count = reader.prepare<[], number>(`SELECT COUNT(*) FROM "${name}"`).pluck().get();
      return [name, { count, checksum: checksum(rowsOf(name)) }];
    }),
  );
  return { schema, tables, sqliteSequence: checksum(rowsOf('sqlite_sequence')) };
}

function stateOf() {
  return {
    models: store.listModels().map((m) => ({ id: m.modelId, version: m.version, config: JSON.stringify(m.config) })),
    counts: [MODEL, 'other', 'fresh', 'fresh2'].map((id) => store.counts(id)),
    lastSeq: store.lastSeq(MODEL),
    deferred: store.getDecision(MODEL, 'deferred-1')?.exposedAt,
    posterior: JSON.stringify(engine.model(MODEL).posteriorSnapshot()),
    file: tablesOf(),
  };
}

test(`${COUNT} malformed requests: only 4xx with the error shape, and no state change (seed ${SEED})`, async () => {
  const requests = generate(createRng(SEED), COUNT);
  expect(requests.length).toBeGreaterThanOrEqual(1000);
  const before = stateOf();
  // The file really holds the setup's rows (a reader that saw nothing would compare nothing).
  const counted = Object.fromEntries(Object.entries(before.file.tables).map(([name, t]) => [name, t.count]));
  expect(Object.keys(counted)).toEqual(expect.arrayContaining([...STATE_TABLES, 'decisions', 'feedback', 'outcomes', 'windows', 'models']));
  for (const name of [...STATE_TABLES, 'decisions', 'feedback', 'outcomes', 'windows', 'models']) expect(counted[name], name).toBeGreaterThan(0);
  expect(counted['decisions']).toBe(2);
  expect(counted['feedback']).toBe(2);
  expect(counted['models']).toBe(2);
  const failures: string[] = [];
  const byKind = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const req = requests[next++]!;
      const res = await send(req);
      const family = Math.floor(res.status / 100);
      byKind.set(req.kind.split(':')[0]!, (byKind.get(req.kind.split(':')[0]!) ?? 0) + 1);
      let shaped = false;
      try {
        const parsed = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown; requestId?: unknown } };
        shaped = typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string' && typeof parsed.error.requestId === 'string';
      } catch {
        shaped = false;
      }
      if (family !== 4 || !shaped) failures.push(`${req.kind} ${req.method} ${req.path.slice(0, 60)} → ${res.status} ${res.body.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  expect(failures.slice(0, 20)).toEqual([]);
  expect(stateOf()).toEqual(before);
  expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  // Every family of defects was exercised.
  expect([...byKind.keys()].sort()).toEqual(['feedback', 'path', 'put', 'rank', 'too large', 'transport']);
}, 60_000);
