/**
 * Hand checks of the logged arrays (internal to src/ope). Arrays are checked in one pass each
 * rather than through zod, because a log can hold millions of rounds and the error must still
 * name the field and the first offending index.
 */
import { OpeInputError } from './errors.js';

/** The value ranges a logged column may have to respect. */
export type ValueRange =
  | 'finite' // any finite real
  | 'propensity' // (0, 1]
  | 'probability' // [0, 1]
  | 'indicator'; // 0 or 1

const rangeText: Record<ValueRange, string> = {
  finite: 'a finite number',
  propensity: 'in (0, 1]',
  probability: 'in [0, 1]',
  indicator: '0 or 1',
};

function inRange(range: ValueRange, v: number): boolean {
  switch (range) {
    case 'finite':
      return Number.isFinite(v);
    case 'propensity':
      return v > 0 && v <= 1;
    case 'probability':
      return v >= 0 && v <= 1;
    case 'indicator':
      return v === 0 || v === 1;
  }
}

/** Throws unless `value` is a plain object (the input record itself). */
export function checkRecord(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OpeInputError(field, 'must be an object of typed arrays');
  }
  return value as Record<string, unknown>;
}

/**
 * Checks that `value` is a Float64Array of `length` entries (any length ≥ 1 when `length` is
 * undefined), every entry in `range`, and returns it.
 * @throws OpeInputError naming `field` (and the first bad index)
 */
export function checkFloat64(
  field: string,
  value: unknown,
  range: ValueRange,
  length?: number,
): Float64Array {
  if (value === undefined) throw new OpeInputError(field, 'is required');
  if (!(value instanceof Float64Array)) throw new OpeInputError(field, 'must be a Float64Array');
  checkLength(field, value.length, length);
  checkValues(field, value, range);
  return value;
}

/** As {@link checkFloat64} for a Uint8Array. */
export function checkUint8(field: string, value: unknown, range: ValueRange, length?: number): Uint8Array {
  if (value === undefined) throw new OpeInputError(field, 'is required');
  if (!(value instanceof Uint8Array)) throw new OpeInputError(field, 'must be a Uint8Array');
  checkLength(field, value.length, length);
  checkValues(field, value, range);
  return value;
}

function checkLength(field: string, actual: number, expected: number | undefined): void {
  if (expected === undefined) {
    if (actual < 1) throw new OpeInputError(field, 'needs at least one round');
  } else if (actual !== expected) {
    throw new OpeInputError(field, `has length ${actual}, expected ${expected}`);
  }
}

function checkValues(field: string, a: ArrayLike<number>, range: ValueRange): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!inRange(range, v)) throw new OpeInputError(field, `must be ${rangeText[range]}, got ${v}`, i);
  }
}
