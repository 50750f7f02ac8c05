/**
 * Float32 → IEEE half conversion, rounding to nearest with ties to even, as ggml's
 * `GGML_FP32_TO_FP16`: subnormal halfs where the value needs them, ±Inf from 65,520 up,
 * every NaN → `0x7E00` with the input's sign bit.
 *
 * @module
 */

const SCRATCH = new Float32Array(1);
const SCRATCH_BITS = new Uint32Array(SCRATCH.buffer);

/**
 * Converts a float32 bit pattern to the bits of the nearest IEEE half (ties to even).
 * Pure integer arithmetic, so NaN signs are exact on every engine.
 */
export function fp32BitsToFp16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x47800000) {
    // 2^16 and up, Inf or NaN: no half holds it.
    return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00);
  }
  if (abs >= 0x38800000) {
    // Normal half (2^-14 up): rebias the exponent, drop 13 mantissa bits, round. A carry
    // out of the mantissa bumps the exponent, up to Inf for 65,520 ≤ |x| < 2^16.
    const dropped = abs & 0x1fff;
    let half = (abs - 0x38000000) >>> 13;
    if (dropped > 0x1000 || (dropped === 0x1000 && (half & 1) !== 0)) half++;
    return sign | half;
  }
  // 2^-25 (a tie between zero and the smallest subnormal) and below round to ±0.
  if (abs <= 0x33000000) return sign;
  // Subnormal half: the significand (implicit bit included) in units of 2^-24.
  const shift = 126 - (abs >>> 23); // 14 to 24
  const significand = (abs & 0x7fffff) | 0x800000;
  let half = significand >>> shift;
  const dropped = significand & ((1 << shift) - 1);
  const tie = 1 << (shift - 1);
  if (dropped > tie || (dropped === tie && (half & 1) !== 0)) half++;
  return sign | half;
}

/**
 * Converts a number to the bits of the nearest IEEE half (ties to even). The number is
 * first rounded to float32, as passing it to C's `float` parameter would; pass float32
 * values (`Math.fround`) for a single rounding.
 */
export function fp32ToFp16(value: number): number {
  SCRATCH[0] = value;
  return fp32BitsToFp16(SCRATCH_BITS[0]);
}
