/**
 * Byte counts as command-line flags take them: `67108864`, `64K`, `64M`, `1G` (binary
 * multiples; a trailing `B` or `iB` is allowed).
 *
 * @module
 */

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * Parses a byte count with an optional binary unit.
 *
 * @param text The flag's value, e.g. `"256M"`.
 * @returns The count in bytes, or `NaN` unless it is a positive safe integer.
 *
 * @example
 * ```ts
 * import { parseByteCount } from "./byte_count.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseByteCount("64M"), 67_108_864);
 * assert.equal(parseByteCount("1GiB"), 1_073_741_824);
 * assert.ok(Number.isNaN(parseByteCount("lots")));
 * ```
 */
export function parseByteCount(text: string): number {
  const match = text.trim().match(/^(\d+)\s*([KMGT]?)(?:I?B)?$/i);
  if (match === null) return NaN;
  const bytes = Number(match[1]) * UNITS[match[2].toUpperCase()];
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : NaN;
}
