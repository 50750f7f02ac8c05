/**
 * Q5_0 quantization: blocks of 32 weights, 22 bytes: a half scale `d = max / −16`, where
 * `max` is the signed weight of largest magnitude (the first one on ties), 4 bytes of
 * fifth bits (bit j for weight j, little-endian), then 16 bytes of low nibbles (weight j in
 * the low nibble of byte j, weight j + 16 in its high nibble) of the quants
 * `min(31, trunc(w / d + 16.5))`. Bit for bit as ggml's `quantize_row_q5_0_ref` (what
 * `quantize_q5_0` runs without an importance matrix).
 *
 * Every step is float32 as in C, and NaN and Inf behave as in Q4_0 (see `q4_0.ts`): an
 * all-zero block has `d = −0` (half `0x8000`) and quants 16; a NaN does not change `d`
 * and its quant is 0; the first ±Inf makes `d` ∓Inf, its own quant 0 and every finite
 * weight's 16; when `1 / d` overflows to Inf (the largest magnitude below about 4.7e-38)
 * every quant is 0, the low byte of x86-64's conversion of ±Inf or NaN.
 *
 * @module
 */
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";

/** Bytes per Q5_0 block. */
export const BLOCK_Q5_0_BYTES = 22;

/**
 * Quantizes `blocks × 32` float32 values from `src` into `blocks` Q5_0 blocks at the start
 * of `dst`, as ggml's `quantize_row_q5_0_ref`. Allocates nothing and checks nothing.
 *
 * @param src The values: at least `blocks × 32`.
 * @param dst Where the blocks go: at least `blocks × 22` bytes.
 * @param blocks How many blocks to write.
 *
 * @example An all-zero block: d = −0, every quant 16 (fifth bit set, low nibble 0)
 * ```ts
 * import { quantizeRowQ5_0 } from "./q5_0.ts";
 * import assert from "node:assert/strict";
 * const dst = new Uint8Array(22);
 * quantizeRowQ5_0(new Float32Array(32), dst, 1);
 * assert.deepEqual([...dst], [0x00, 0x80, 0xff, 0xff, 0xff, 0xff, ...new Array(16).fill(0)]);
 * ```
 */
export function quantizeRowQ5_0(src: Float32Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 32, o += BLOCK_Q5_0_BYTES) {
    let amax = 0;
    let max = 0;
    for (let j = x; j < x + 32; j++) {
      const v = src[j];
      const a = Math.abs(v);
      if (amax < a) {
        amax = a;
        max = v;
      }
    }
    const d = Math.fround(max / -16);
    // C's `d ? 1.0f / d : 0.0f` (d is never NaN here).
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const half = fp32ToFp16(d);
    dst[o] = half & 0xff;
    dst[o + 1] = half >> 8;
    let qh = 0;
    for (let j = 0, lo = x, q = o + 6; j < 16; j++, lo++, q++) {
      const q0 = quant(src[lo], id);
      const q1 = quant(src[lo + 16], id);
      dst[q] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      qh |= ((q0 >> 4) & 1) << j | ((q1 >> 4) & 1) << (j + 16);
    }
    dst[o + 2] = qh & 0xff;
    dst[o + 3] = (qh >> 8) & 0xff;
    dst[o + 4] = (qh >> 16) & 0xff;
    dst[o + 5] = qh >>> 24;
  }
}

/**
 * `MIN(31, (int8_t)(w × id + 16.5f))` as a byte. `| 0` keeps the low byte of x86-64's
 * conversion: floats of 2^31 and up are multiples of 256, NaN and ±Inf give 0.
 */
function quant(w: number, id: number): number {
  const i = (Math.fround(Math.fround(w * id) + 16.5) | 0) << 24 >> 24;
  return (i < 31 ? i : 31) & 0xff;
}
