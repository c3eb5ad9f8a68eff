import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { StateJson } from '../../src/storage/sqlite/state-json.js';

/** Values JSON.stringify omits as properties (and gives undefined for at the top level). */
const omitted = fc.constantFrom<unknown>(undefined, () => 1, Symbol('s'));
const value = fc.oneof({ weight: 5, arbitrary: fc.jsonValue() }, { weight: 1, arbitrary: omitted });
const state = fc.dictionary(fc.string(), value, { maxKeys: 6 });

describe('StateJson (property)', () => {
  test('its text is JSON.stringify’s, for any value, also when parts were stringified before', () => {
    fc.assert(
      fc.property(fc.array(state, { minLength: 1, maxLength: 5 }), fc.jsonValue(), (states, other) => {
        const json = new StateJson();
        // Successive states share parts by identity, as the engine's states do.
        let previous: Record<string, unknown> = {};
        for (const s of states) {
          const next: Record<string, unknown> = { ...s };
          for (const k of Object.keys(previous)) if (k in next && k.length % 2 === 0) next[k] = previous[k];
          expect(json.text(next)).toBe(JSON.stringify(next));
          expect(json.text(next)).toBe(JSON.stringify(next));
          previous = next;
        }
        expect(json.text(other)).toBe(JSON.stringify(other));
      }),
    );
  });

  test('the engine’s shape: a reused fatigue is not stringified again, a new one is', () => {
    const json = new StateJson();
    const fatigue = { 'i:a': [1.5, 1_000], 'g:x': [0.25, 2_000] };
    const first = { fatigue, bucket: { tokens: 2, updatedAt: 0 }, recentGroups: ['x'] };
    expect(json.text(first)).toBe(JSON.stringify(first));
    // Proof of reuse by identity: a (forbidden) mutation of the reused object does not show.
    (fatigue as Record<string, unknown>)['i:b'] = [9, 9];
    const second = { fatigue, bucket: null, recentGroups: [] };
    expect(json.text(second)).toBe('{"fatigue":{"i:a":[1.5,1000],"g:x":[0.25,2000]},"bucket":null,"recentGroups":[]}');
    const third = { ...second, fatigue: { ...fatigue } };
    expect(json.text(third)).toBe(JSON.stringify(third));
  });

  test.each([
    ['undefined', undefined, undefined],
    ['a function', () => 1, undefined],
    ['null', null, 'null'],
    ['an array', [1, { a: 2 }], '[1,{"a":2}]'],
    ['an object with toJSON', { toJSON: () => ({ x: 1 }) }, '{"x":1}'],
    ['a Date', new Date(0), '"1970-01-01T00:00:00.000Z"'],
    ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1 }), '{"a":1}'],
  ])('%s stringifies as JSON.stringify does', (_, input, expected) => {
    expect(new StateJson().text(input)).toBe(expected);
  });

  test('a cycle throws as JSON.stringify does', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['inner'] = { cyclic };
    expect(() => new StateJson().text(cyclic)).toThrow(TypeError);
  });
});
