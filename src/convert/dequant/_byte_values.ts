/**
 * Lookup tables from a packed byte to the small integer it holds, as float64 values, built
 * once and shared by the legacy and K-quant kernels. A table load in place of mask, shift
 * and int-to-float conversion is what makes the kernels fast under both V8 and
 * JavaScriptCore; every entry is a small integer, so a product with a scale is the same
 * exact number either way.
 *
 * @module
 */

function table(size: number, value: (index: number) => number): Float64Array {
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) out[i] = value(i);
  return out;
}

/** `LOW_NIBBLE[b]` is `b & 15`. */
export const LOW_NIBBLE: Float64Array = table(256, (b) => b & 15);
/** `HIGH_NIBBLE[b]` is `b >> 4`. */
export const HIGH_NIBBLE: Float64Array = table(256, (b) => b >> 4);
/** `SIGNED_BYTE[b]` is `b` read as a two's-complement int8. */
export const SIGNED_BYTE: Float64Array = table(256, (b) => (b << 24) >> 24);

/**
 * Five-bit quants with an offset, indexed by `byte | fifthBit << 8`: entry `i` of the
 * low table is `((i & 15) | (i >> 8) << 4) − offset`, of the high table
 * `((i >> 4 & 15) | (i >> 8) << 4) − offset`.
 */
export function fiveBitTables(offset: number): { low: Float64Array; high: Float64Array } {
  return {
    low: table(512, (i) => ((i & 15) | ((i >> 8) << 4)) - offset),
    high: table(512, (i) => (((i >> 4) & 15) | ((i >> 8) << 4)) - offset),
  };
}
