/**
 * Float32 values as text that reads back as the same float32: the shortest decimal.
 *
 * @module
 */

/**
 * The shortest decimal that reads back (through `Math.fround`) as the same float32; `-0`
 * keeps its sign; NaN and infinities as `NaN`, `Infinity`, `-Infinity`.
 *
 * @param value A float32 value (a number that `Math.fround` leaves unchanged).
 * @returns Its shortest round-trip decimal, e.g. `0.1` for the float32 nearest 0.1.
 *
 * @example
 * ```ts
 * import { float32Text } from "./float32_text.ts";
 * import assert from "node:assert/strict";
 * assert.equal(float32Text(Math.fround(0.1)), "0.1");
 * assert.equal(float32Text(Math.fround(1e-7)), "1e-7");
 * assert.equal(float32Text(-0), "-0");
 * assert.equal(Math.fround(Number(float32Text(Math.fround(Math.PI)))), Math.fround(Math.PI));
 * ```
 */
export function float32Text(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  for (let digits = 1; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9)));
}
