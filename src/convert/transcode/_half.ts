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

/**
 * The half nearest to `x` (ties to even), as its 16 bits: ±Infinity past the largest
 * finite half, the sign of a zero kept, NaN as the quiet NaN 0x7e00.
 */
export function halfBits(x: number): number {
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
