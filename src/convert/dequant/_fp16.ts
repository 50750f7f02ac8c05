/**
 * IEEE half-precision conversion tables, built once: `FP16_BITS[h]` is the float32 bit
 * pattern of half `h` (NaN payloads kept, as ggml's software conversion keeps them) and
 * `FP16_TO_F32[h]` the same value as a number for arithmetic.
 *
 * @module
 */

function buildTables(): { bits: Uint32Array; values: Float32Array } {
  const bits = new Uint32Array(65536);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = h >= 0x8000 ? 0x80000000 : 0;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) {
      // Zero or subnormal: mantissa × 2^-24 is exact in float32.
      scratch[0] = mantissa * 2 ** -24;
      bits[h] = (scratchBits[0] + sign) >>> 0;
    } else if (exponent === 31) {
      bits[h] = (sign + 0x7f800000 + mantissa * 8192) >>> 0;
    } else {
      bits[h] = (sign + (exponent + 112) * 8388608 + mantissa * 8192) >>> 0;
    }
  }
  return { bits, values: new Float32Array(bits.buffer) };
}

const TABLES = buildTables();

/** Float32 bit patterns of all 65,536 halfs. */
export const FP16_BITS: Uint32Array = TABLES.bits;
/** Float32 values of all 65,536 halfs (same memory as {@linkcode FP16_BITS}). */
export const FP16_TO_F32: Float32Array = TABLES.values;
