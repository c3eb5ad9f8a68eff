/**
 * The process-wide tensorflow.js backend preference (set by the command line from
 * `--neural-backend` / `LIUBAI_NEURAL_BACKEND`): initNeuralBackend without a list follows it.
 */
import { afterAll, describe, expect, test } from 'vitest';
import {
  DEFAULT_BACKENDS,
  initNeuralBackend,
  neuralBackendPreference,
  setNeuralBackendPreference,
} from '../../../src/policies/neural-linear/backend.js';

afterAll(() => setNeuralBackendPreference(DEFAULT_BACKENDS));

describe('neural backend preference', () => {
  test('the default is tensorflow, wasm, cpu; an empty list is refused', () => {
    expect(neuralBackendPreference()).toEqual(['tensorflow', 'wasm', 'cpu']);
    expect(() => setNeuralBackendPreference([])).toThrow(RangeError);
    expect(neuralBackendPreference()).toEqual(['tensorflow', 'wasm', 'cpu']);
  });

  test('initNeuralBackend() without a list selects from the preference: cpu alone gives cpu, with nothing skipped', async () => {
    setNeuralBackendPreference(['cpu']);
    const lines: string[] = [];
    const info = await initNeuralBackend({ log: (l) => lines.push(l) });
    expect(info.backend).toBe('cpu');
    expect(info.fallbacks).toEqual([]);
    expect(lines.join('\n')).toContain('cpu');
  }, 60_000);

  test('a caller list still wins over the preference', async () => {
    setNeuralBackendPreference(['cpu']);
    const info = await initNeuralBackend({ backends: ['wasm', 'cpu'], log: () => {} });
    expect(['wasm', 'cpu']).toContain(info.backend);
    expect(info.backend === 'wasm' || info.fallbacks.some((f) => f.startsWith('wasm:'))).toBe(true);
  }, 60_000);
});
