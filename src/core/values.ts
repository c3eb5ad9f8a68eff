/**
 * Small helpers over plain JSON values.
 */

/**
 * The first value that equals an earlier one as JSON (`0.1` and `0.10` parse to the same number),
 * or undefined: e.g. a grid axis with a repeated value would run the same setting twice.
 */
export function repeatedValue(values: readonly unknown[]): unknown {
  const seen = new Set<string>();
  for (const v of values) {
    const key = JSON.stringify(v);
    if (seen.has(key)) return v;
    seen.add(key);
  }
  return undefined;
}
