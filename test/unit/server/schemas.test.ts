/**
 * The compiled request schemas (z.compile) against their interpreted originals: on seeded valid
 * and invalid bodies they accept and reject the same inputs, produce the same values and the same
 * errors (code, message, field paths through parseWith), and the OpenAPI document describes them
 * exactly as it describes the interpreted schemas.
 */
import { inspect, isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createRng, type Rng } from '../../../src/core/rng.js';
import { LiubaiError } from '../../../src/engine/errors.js';
import { parseWith } from '../../../src/server/errors.js';
import { buildOpenApi } from '../../../src/server/openapi.js';
import { feedbackBatchSchema, feedbackEventSchema, feedbackRequestSchema, interpretedSchemas, rankRequestSchema } from '../../../src/server/schemas.js';

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

/** Bodies go through JSON text, as they arrive: `__proto__` becomes an own key, 1e400 becomes Infinity. */
const fromJson = (text: string): unknown => JSON.parse(text) as unknown;

function featureValue(rng: Rng): unknown {
  return pick(rng, [
    () => rng.int(1000) - 500,
    () => rng.uniform() * 10,
    () => pick(rng, ['', 'ios', 'é', '😀', 'a'.repeat(300)]),
    () => rng.uniform() < 0.5,
    () => Array.from({ length: rng.int(4) }, (_, i) => `t${i}`),
  ])();
}

function namespace(rng: Rng): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: rng.int(5) }, (_, i) => [pick(rng, [`f${i}`, '', 'constructor', 'toString']), featureValue(rng)]));
}

function namespaced(rng: Rng): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: rng.int(4) }, (_, i) => [pick(rng, ['user', 'session', 'item', `ns${i}`]), namespace(rng)]));
}

function validRank(rng: Rng): Record<string, unknown> {
  const body: Record<string, unknown> = {
    candidates: Array.from({ length: 1 + rng.int(8) }, (_, i) => ({
      id: pick(rng, [`item${i}`, 'x', 'é'.repeat(3), 'i'.repeat(1024)]),
      ...(rng.uniform() < 0.7 ? { features: namespaced(rng) } : {}),
      ...(rng.uniform() < 0.5 ? { group: pick(rng, ['g', 'g'.repeat(256)]) } : {}),
    })),
  };
  if (rng.uniform() < 0.8) body['context'] = namespaced(rng);
  if (rng.uniform() < 0.5) body['slots'] = 1 + rng.int(5);
  if (rng.uniform() < 0.5) body['userId'] = pick(rng, ['u', 'u'.repeat(256)]);
  if (rng.uniform() < 0.5) body['eventId'] = pick(rng, ['e-1', 'e'.repeat(256)]);
  if (rng.uniform() < 0.3) body['deferExposure'] = rng.uniform() < 0.5;
  return body;
}

/** Text that `JSON.stringify` cannot write: own `__proto__` keys, numbers out of range, deep nesting. */
const rawDefects = [
  (t: string) => t.replace('"candidates":[{', '"candidates":[{"__proto__":{"id":"x"},'),
  (t: string) => t.replace('{', '{"__proto__":1,'),
  (t: string) => `{"context":{"__proto__":{"a":1},"user":{"__proto__":2,"b":3}},${t.slice(1)}`,
  (t: string) => `{"context":{"user":{"x":1e400}},${t.slice(1)}`,
  (t: string) => `{"context":{"user":{"x":${'['.repeat(200)}1${']'.repeat(200)}}},${t.slice(1)}`,
];

/** One rank body with one defect. */
function invalidRank(rng: Rng): unknown {
  const body = validRank(rng);
  const cands = body['candidates'] as Array<Record<string, unknown>>;
  const i = rng.int(cands.length);
  const wrong = () => pick(rng, [null, 1, 'x', true, [], {}, [1], ['a', 2], { a: { b: 1 } }]);
  pick(rng, [
    () => (body[pick(rng, ['colour', 'Context', '__x', 'slot'])] = 1),
    () => (body['candidates'] = pick(rng, [[], null, 'x', {}, [1]])),
    () => delete body['candidates'],
    () => (cands[i]!['id'] = pick(rng, ['', 'i'.repeat(1025), '\ud800', 'a\udfffb', 3, null])),
    () => delete cands[i]!['id'],
    () => (cands[i]!['weight'] = 2),
    () => (cands[i]!['group'] = pick(rng, ['', 'g'.repeat(257), 1, '\ud800'])),
    () => (cands[i]!['features'] = pick(rng, [wrong(), { item: wrong() }, { item: { a: wrong() } }])),
    () => (body['context'] = pick(rng, [wrong(), { user: wrong() }, { user: { a: pick(rng, [null, {}, [1], ['a', null]]) } }])),
    () => (body['slots'] = pick(rng, [0, -1, 2.5, '2', null, 1e300])),
    () => (body['userId'] = pick(rng, ['', 'u'.repeat(257), '\udc00', 5])),
    () => (body['eventId'] = pick(rng, ['', 'e'.repeat(257), 7])),
    () => (body['deferExposure'] = pick(rng, ['true', 1, null])),
  ])();
  const text = JSON.stringify(body);
  return fromJson(rng.uniform() < 0.15 ? pick(rng, rawDefects)(text) : text);
}

function validEvent(rng: Rng): Record<string, unknown> {
  return {
    eventId: pick(rng, ['e', 'e'.repeat(256)]),
    itemId: pick(rng, ['i', 'i'.repeat(1024)]),
    kind: pick(rng, ['click', 'convert', 'dismiss', 'regret', 'ignore']),
    ...(rng.uniform() < 0.4 ? { value: pick(rng, [0, -3, 12.5, 1e9, -1e9]) } : {}),
    ...(rng.uniform() < 0.6
      ? { at: pick(rng, [0, 1_714_564_800_000, 8.64e15, '2024-05-01T12:00:00Z', '2024-05-01T12:00:00.123+02:00', '2024-02-29T23:59:59-05:30']) }
      : {}),
  };
}

function invalidEvent(rng: Rng): Record<string, unknown> {
  const e = validEvent(rng);
  pick(rng, [
    () => (e['kind'] = pick(rng, ['like', 'CLICK', '', 1, null])),
    () => (e['eventId'] = pick(rng, ['', 'e'.repeat(257), '\ud800', 1])),
    () => (e['itemId'] = pick(rng, ['', 'i'.repeat(1025), null])),
    () => (e['value'] = pick(rng, ['1', null, [1], {}, 1e9 + 1, -1e300])),
    () => (e['at'] = pick(rng, [-1, 8.64e15 + 1, '2024-13-01T00:00:00Z', '2024-05-01', '2024-05-01T12:00:00', 'yesterday', null, true])),
    () => (e[pick(rng, ['Kind', 'ts', 'weight'])] = 1),
    () => delete e[pick(rng, ['eventId', 'itemId', 'kind'])],
  ])();
  return e;
}

/**
 * Deep equality with prototypes (node's isDeepStrictEqual): vitest's toStrictEqual compares
 * `.constructor`, which is an own feature named `constructor` in some generated bodies.
 */
function expectSame(a: unknown, b: unknown): void {
  expect(isDeepStrictEqual(a, b), `${inspect(a, { depth: 8 })}\n≠\n${inspect(b, { depth: 8 })}`).toBe(true);
}

/** What parseWith answers: the value, or the error's code, message and issues. */
function outcome(schema: z.ZodType, input: unknown, what: string): unknown {
  try {
    return { ok: parseWith(schema, input, what) };
  } catch (error) {
    if (!(error instanceof LiubaiError)) throw error;
    return { code: error.code, message: error.message, field: error.field, issues: error.issues };
  }
}

describe('compiled schemas behave as the interpreted ones', () => {
  test('every hot request schema compiles whole (z.compile hands back the original when it cannot)', () => {
    for (const [name, schema] of Object.entries(interpretedSchemas)) {
      expect(() => z.compile(schema, { strict: true }), name).not.toThrow();
    }
    expect(rankRequestSchema).not.toBe(interpretedSchemas.rankRequest);
    expect(feedbackEventSchema).not.toBe(interpretedSchemas.feedbackEvent);
    expect(feedbackBatchSchema).not.toBe(interpretedSchemas.feedbackBatch);
  });

  test('rank: 600 valid bodies parse to equal values', () => {
    const rng = createRng('schemas-rank-valid');
    for (let n = 0; n < 600; n++) {
      const input = fromJson(JSON.stringify(validRank(rng)));
      const compiled = outcome(rankRequestSchema, input, 'rank request');
      expect(compiled).toHaveProperty('ok');
      expectSame(compiled, outcome(interpretedSchemas.rankRequest, input, 'rank request'));
    }
  });

  test('rank: 1,500 bodies with one defect are rejected with equal codes, messages and field paths', () => {
    const rng = createRng('schemas-rank-invalid');
    let rejected = 0;
    for (let n = 0; n < 1500; n++) {
      const input = invalidRank(rng);
      const compiled = outcome(rankRequestSchema, input, 'rank request') as { code?: string };
      expectSame(compiled, outcome(interpretedSchemas.rankRequest, input, 'rank request'));
      if (compiled.code === 'INVALID_REQUEST') rejected++;
    }
    // A few generated defects are harmless (e.g. a renamed namespace of an empty record); nearly all are not.
    expect(rejected).toBeGreaterThan(1400);
  });

  test('rank: an absent context defaults to a fresh {} on every parse', () => {
    const a = rankRequestSchema.parse({ candidates: [{ id: 'a' }] });
    const b = rankRequestSchema.parse({ candidates: [{ id: 'a' }] });
    expect(a.context).toStrictEqual({});
    expect(a.context).not.toBe(b.context);
  });

  test('rank: own __proto__ keys are dropped from records and named as unknown fields of objects', () => {
    const ok = rankRequestSchema.parse(fromJson('{"context":{"__proto__":{"x":1},"user":{"__proto__":2,"a":1}},"candidates":[{"id":"a"}]}'));
    expect(ok.context).toStrictEqual({ user: { a: 1 } });
    expect(Object.getPrototypeOf(ok.context)).toBe(Object.prototype);
    const bad = outcome(rankRequestSchema, fromJson('{"__proto__":1,"candidates":[{"id":"a"}]}'), 'rank request');
    expect(bad).toMatchObject({ code: 'INVALID_REQUEST', field: '__proto__', message: 'invalid rank request: __proto__: unknown field' });
  });

  test('feedback: 400 valid events and 200 valid batches parse to equal values (ISO times as epoch ms)', () => {
    const rng = createRng('schemas-feedback-valid');
    for (let n = 0; n < 400; n++) {
      const e = fromJson(JSON.stringify(validEvent(rng)));
      const compiled = outcome(feedbackEventSchema, e, 'feedback event');
      expect(compiled).toHaveProperty('ok');
      expectSame(compiled, outcome(interpretedSchemas.feedbackEvent, e, 'feedback event'));
    }
    for (let n = 0; n < 200; n++) {
      const b = fromJson(JSON.stringify({ events: Array.from({ length: 1 + rng.int(20) }, () => validEvent(rng)) }));
      const compiled = outcome(feedbackBatchSchema, b, 'feedback batch');
      expect(compiled).toHaveProperty('ok');
      expectSame(compiled, outcome(interpretedSchemas.feedbackBatch, b, 'feedback batch'));
    }
    expect(feedbackEventSchema.parse({ eventId: 'e', itemId: 'i', kind: 'click', at: '2024-05-01T12:00:00.500+02:00' }).at).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 500));
  });

  test('feedback: 600 events and 300 batches with one defect are rejected with equal errors', () => {
    const rng = createRng('schemas-feedback-invalid');
    for (let n = 0; n < 600; n++) {
      const e = fromJson(JSON.stringify(invalidEvent(rng)));
      const compiled = outcome(feedbackEventSchema, e, 'feedback event') as { code?: string };
      expect(compiled.code).toBe('INVALID_REQUEST');
      expectSame(compiled, outcome(interpretedSchemas.feedbackEvent, e, 'feedback event'));
    }
    for (let n = 0; n < 300; n++) {
      const events: unknown[] = Array.from({ length: rng.int(6) }, () => validEvent(rng));
      const extraField = events.length > 0 && rng.uniform() < 0.1;
      if (!extraField) events.splice(rng.int(events.length + 1), 0, rng.uniform() < 0.9 ? invalidEvent(rng) : pick(rng, ['x', null, 3]));
      const b = fromJson(JSON.stringify(extraField ? { events, extra: 1 } : { events }));
      const compiled = outcome(feedbackBatchSchema, b, 'feedback batch') as { code?: string };
      expect(compiled.code).toBe('INVALID_REQUEST');
      expectSame(compiled, outcome(interpretedSchemas.feedbackBatch, b, 'feedback batch'));
    }
  });

  test('a defect deep in a batch is named by its path', () => {
    const e = { eventId: 'e', itemId: 'i', kind: 'click' };
    const r = outcome(feedbackBatchSchema, { events: [e, e, { ...e, at: '2024-05-01' }] }, 'feedback batch');
    expect(r).toMatchObject({ code: 'INVALID_REQUEST', field: 'events.2.at' });
  });
});

describe('the OpenAPI document', () => {
  const jsonSchema = (schema: z.ZodType) => {
    const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    return rest;
  };

  test('describes the compiled request bodies exactly as the interpreted ones', () => {
    const schemas = (buildOpenApi()['components'] as { schemas: Record<string, unknown> }).schemas;
    expect(schemas['RankRequest']).toStrictEqual(jsonSchema(interpretedSchemas.rankRequest));
    expect(schemas['RankRequest']).toStrictEqual(jsonSchema(rankRequestSchema));
    expect(schemas['FeedbackRequest']).toStrictEqual(jsonSchema(z.union([interpretedSchemas.feedbackEvent, interpretedSchemas.feedbackBatch])));
    expect(schemas['FeedbackRequest']).toStrictEqual(jsonSchema(feedbackRequestSchema));
    // Nothing was lost: ids keep their bounds, objects stay closed, the context keeps its default.
    const rank = schemas['RankRequest'] as { properties: Record<string, Record<string, unknown>>; additionalProperties: unknown; required: string[] };
    expect(rank.additionalProperties).toBe(false);
    expect(rank.required).toEqual(['candidates']);
    expect(rank.properties['context']).toMatchObject({ default: {} });
    expect(rank.properties['userId']).toMatchObject({ type: 'string', minLength: 1, maxLength: 256 });
  });
});
