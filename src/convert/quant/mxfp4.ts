/**
 * MXFP4 quantization: blocks of 32 weights, 17 bytes: an E8M0 scale byte `e`, then 16
 * bytes of 4-bit E2M1 codes (weight j in the low nibble of byte j, weight j + 16 in its high
 * nibble). Bit for bit as ggml's `quantize_row_mxfp4_ref` (what `quantize_mxfp4` runs,
 * with or without an importance matrix).
 *
 * The scale is `e = floorf(log2f(amax)) − 2 + 127` (0 for an all-zero block), so that
 * the block's largest magnitude lands between 4 and 8 times `2^(e − 127)`; the code of each
 * weight is the first of the 16 doubled E2M1 values `k` whose `|k × d − w|` is least, with
 * `d = 2^(e − 128)` (ggml's `GGML_E8M0_TO_FP32_HALF`), every product, difference and
 * magnitude in float32 as in C. `log2f` is glibc's, correctly rounded to float32 near every
 * power of two, so a magnitude just below 2^n (n ≥ 4 or n ≤ −4) already takes n's
 * exponent, as in ggml. NaN and Inf follow ggml's x86-64 build:
 * - a NaN never wins `amax < |w|`; its code is 0 (every error is NaN, none is smaller);
 * - an Inf makes `log2f` Inf, and C's `(uint8_t)` of Inf is undefined behaviour: x86-64
 *   gives the low byte of 0x80000000, so `e = 0`. Every weight then takes code 0 (its
 *   errors all round to its own magnitude, or are Inf) unless its magnitude is below
 *   about 12 × 2^-128 (3.5e-38);
 * - a largest magnitude below 2^-125 gives a negative exponent whose low byte is kept
 *   (`e` = 256 − …), the scale of a large power of two: every weight's code is then 0,
 *   the first of the two zeros, both far nearer than any other product;
 * - products beyond float32 (`12 × 2^127`) are Inf, and never nearest.
 *
 * @module
 */
import { E8M0_TO_F32_HALF, KVALUES_FP4 } from "../dequant/_fp4_tables.ts";

/** Bytes per MXFP4 block. */
export const BLOCK_MXFP4_BYTES = 17;

/** The 16 candidate weights `k × d` of the block at hand. */
const CANDIDATES = new Float64Array(16);

/**
 * Quantizes `blocks × 32` float32 values from `src` into `blocks` MXFP4 blocks at the
 * start of `dst`, as ggml's `quantize_row_mxfp4_ref`. Allocates nothing and checks nothing.
 *
 * @param src The values: at least `blocks × 32`.
 * @param dst Where the blocks go: at least `blocks × 17` bytes.
 * @param blocks How many blocks to write.
 *
 * @example Largest magnitude 6: e = 2 − 2 + 127, d = 0.5, so 6 is code 7 (12 × 0.5)
 * ```ts
 * import { quantizeRowMxfp4 } from "./mxfp4.ts";
 * import assert from "node:assert/strict";
 * const values = new Float32Array(32);
 * values[0] = 6;
 * values[16] = -1;
 * const dst = new Uint8Array(17);
 * quantizeRowMxfp4(values, dst, 1);
 * assert.deepEqual([...dst.subarray(0, 2)], [127, 0xa7]); // -1 is code 10 (-2 × 0.5)
 * ```
 */
export function quantizeRowMxfp4(src: Float32Array, dst: Uint8Array, blocks: number): void {
  const candidates = CANDIDATES;
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 32, o += BLOCK_MXFP4_BYTES) {
    let amax = 0;
    for (let j = x; j < x + 32; j++) {
      const a = Math.abs(src[j]);
      if (amax < a) amax = a;
    }
    // (uint8_t)(floorf(log2f(amax)) - 2 + 127): the sums are exact; `| 0` keeps the low
    // byte of x86-64's conversion (0 for Inf).
    const e = amax > 0 ? (Math.floor(Math.fround(Math.log2(amax))) + 125) & 0xff : 0;
    const d = E8M0_TO_F32_HALF[e];
    for (let k = 0; k < 16; k++) candidates[k] = Math.fround(KVALUES_FP4[k] * d);
    dst[o] = e;
    for (let j = 0, lo = x, q = o + 1; j < 16; j++, lo++, q++) {
      dst[q] = nearest(candidates, src[lo]) | (nearest(candidates, src[lo + 16]) << 4);
    }
  }
}

/** ggml's `best_index_mxfp4`: the first candidate of least float32 `|k × d − w|`. */
function nearest(candidates: Float64Array, w: number): number {
  let best = 0;
  let bestErr = Math.abs(Math.fround(candidates[0] - w));
  for (let k = 1; k < 16; k++) {
    const err = Math.abs(Math.fround(candidates[k] - w));
    if (err < bestErr) {
      best = k;
      bestErr = err;
    }
  }
  return best;
}
