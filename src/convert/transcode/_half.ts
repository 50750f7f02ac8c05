/**
 * Rounding a number to an IEEE half, for the transcoders that must write a block scale
 * they compute (a product of a half and small integers, exact as a double).
 *
 * @module
 */

/** Rounds to the nearest integer, ties to even (for values below 2^31). */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const r = v - f;
  return r > 0.5 || (r === 0.5 && (f & 1) === 1) ? f + 1 : f;
}

const F32 = new Float32Array(1);
const F32_BITS = new Uint32Array(F32.buffer);

/**
 * The half nearest to `x` (ties to even), as its 16 bits: ±Infinity past the largest
 * finite half, the sign of a zero kept, NaN as the quiet NaN 0x7e00.
 */
export function halfBits(x: number): number {
  F32[0] = x;
  // A float32 value (the usual case: a half times small integers) rounds from its bits.
  if (F32[0] === x) return halfFromFloat32Bits(F32_BITS[0]);
  return halfFromNumber(x);
}

/** The half nearest to the float32 with bits `b`. */
function halfFromFloat32Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 255;
  const mant = b & 0x7fffff;
  if (exp === 255) return sign | (mant === 0 ? 0x7c00 : 0x7e00);
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  let h: number;
  let rest: number;
  let halfway: number;
  if (e >= -14) {
    h = ((e + 15) << 10) | (mant >>> 13);
    rest = mant & 0x1fff;
    halfway = 0x1000;
  } else {
    if (e < -25 || exp === 0) return sign; // below half the smallest subnormal half
    const shift = -e - 1; // 14 … 24: the full 24-bit significand over 2^-24 steps
    const full = mant | 0x800000;
    h = full >>> shift;
    rest = full & ((1 << shift) - 1);
    halfway = 1 << (shift - 1);
  }
  // Round to nearest, ties to even; a carry moves into the exponent (up to 0x7c00, ∞).
  if (rest > halfway || (rest === halfway && (h & 1) === 1)) h++;
  return sign | h;
}

/** {@linkcode halfBits} for a number that is not a float32. */
function halfFromNumber(x: number): number {
  if (x !== x) return 0x7e00;
  let sign = 0;
  if (x < 0 || (x === 0 && 1 / x < 0)) {
    sign = 0x8000;
    x = -x;
  }
  if (x === Infinity) return sign | 0x7c00;
  if (x < 2 ** -14) return sign | roundEven(x * 2 ** 24); // 1024 is the smallest normal
  let e = Math.floor(Math.log2(x));
  if (2 ** e > x) e--;
  else if (2 ** (e + 1) <= x) e++;
  if (e > 15) return sign | 0x7c00;
  // A mantissa that rounds up to 2048 carries into the exponent, as the encoding wants.
  const bits = ((e + 15) << 10) + roundEven(x * 2 ** (10 - e)) - 1024;
  return sign | (bits > 0x7c00 ? 0x7c00 : bits);
}

/**
 * {@linkcode halfBits}, but a finite `x` past the largest finite half gives ±65504 (the
 * largest finite half) instead of ±Infinity.
 */
export function saturatingHalfBits(x: number): number {
  const h = halfBits(x);
  return (h & 0x7fff) === 0x7c00 && x - x === 0 ? h - 1 : h;
}
