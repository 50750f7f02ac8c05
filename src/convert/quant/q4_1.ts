/**
 * Q4_1 quantization: blocks of 32 weights, 20 bytes: a half scale `d = (max − min) / 15`,
 * a half minimum `m = min`, then 16 bytes of 4-bit quants `min(15, trunc((w − min) / d + 0.5))`:
 * weight j in the low nibble of byte j, weight j + 16 in its high nibble. Bit for bit as
 * ggml's `quantize_row_q4_1_ref` (what `quantize_q4_1` runs without an importance matrix).
 *
 * Every step is float32 as in C: `max − min`, `d`, `1 / d`, `w − min`, its product with
 * `1 / d` and the sum with 0.5 are each rounded to float32 before the truncation. An
 * all-zero block stores `d = 0` and `m = 0` (or −0 when the first minimum is −0: C's
 * `v < min` keeps the first of equal values) and quants 0. NaN and Inf follow ggml's x86-64
 * build:
 * - a NaN never wins `v < min` or `v > max`; its quant is 0. A block of NaNs keeps
 *   `min = FLT_MAX` (half `0x7C00`) and `max = −FLT_MAX`, so `d` overflows to −Inf
 *   (`0xFC00`);
 * - an Inf, or a range beyond float32 (`max − min` overflows), makes `d` Inf (`0x7C00`)
 *   and `1 / d` zero: every quant is 0 (an Inf's is NaN, a finite weight's 0.5 truncated).
 *   A +Inf never becomes the minimum nor −Inf the maximum, so `d` is never NaN;
 * - C's `(int8_t)` of NaN, ±Inf or a float beyond the 32-bit range is undefined behaviour;
 *   x86-64 gives the integer 0x80000000, whose low byte 0 is what ggml writes. So does
 *   `1 / d` overflowing to Inf (a range below about 4.4e-38): every quant is 0.
 *
 * @module
 */
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";

/** Bytes per Q4_1 block. */
export const BLOCK_Q4_1_BYTES = 20;

/** float32's largest finite value (C's `FLT_MAX`). */
const FLT_MAX = 3.4028234663852886e38;

/**
 * Quantizes `blocks × 32` float32 values from `src` into `blocks` Q4_1 blocks at the start
 * of `dst`, as ggml's `quantize_row_q4_1_ref`. Allocates nothing and checks nothing.
 *
 * @param src The values: at least `blocks × 32`.
 * @param dst Where the blocks go: at least `blocks × 20` bytes.
 * @param blocks How many blocks to write.
 *
 * @example An all-zero block
 * ```ts
 * import { quantizeRowQ4_1 } from "./q4_1.ts";
 * import assert from "node:assert/strict";
 * const dst = new Uint8Array(20).fill(0xaa);
 * quantizeRowQ4_1(new Float32Array(32), dst, 1);
 * assert.deepEqual([...dst], new Array(20).fill(0));
 * ```
 */
export function quantizeRowQ4_1(src: Float32Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 32, o += BLOCK_Q4_1_BYTES) {
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let j = x; j < x + 32; j++) {
      const v = src[j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = Math.fround(Math.fround(max - min) / 15);
    // C's `d ? 1.0f / d : 0.0f` (d is never NaN here).
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const dh = fp32ToFp16(d);
    const mh = fp32ToFp16(min);
    dst[o] = dh & 0xff;
    dst[o + 1] = dh >> 8;
    dst[o + 2] = mh & 0xff;
    dst[o + 3] = mh >> 8;
    for (let j = 0, lo = x, q = o + 4; j < 16; j++, lo++, q++) {
      dst[q] = quant(src[lo], min, id) | (quant(src[lo + 16], min, id) << 4);
    }
  }
}

/**
 * `MIN(15, (int8_t)((w − min) × id + 0.5f))` as a byte. `| 0` keeps the low byte of
 * x86-64's conversion: floats of 2^31 and up are multiples of 256, NaN and ±Inf give 0.
 */
function quant(w: number, min: number, id: number): number {
  const i = (Math.fround(Math.fround(Math.fround(w - min) * id) + 0.5) | 0) << 24 >> 24;
  return (i < 15 ? i : 15) & 0xff;
}
