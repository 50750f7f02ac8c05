/**
 * Q5_1 quantization: blocks of 32 weights, 24 bytes: a half scale `d = (max − min) / 31`,
 * a half minimum `m = min`, 4 bytes of fifth bits (bit j for weight j, little-endian), then
 * 16 bytes of low nibbles (weight j in the low nibble of byte j, weight j + 16 in its high
 * nibble) of the quants `trunc((w − min) / d + 0.5)`. Bit for bit as ggml's
 * `quantize_row_q5_1_ref` (what `quantize_q5_1` runs without an importance matrix).
 *
 * Every step is float32 as in C (see `q4_1.ts`, which this follows but for the divisor 31
 * and the missing clamp). C converts each quant straight to `uint8_t`, which x86-64 does
 * through a 32-bit integer: ggml keeps its low five bits, 0 for NaN, ±Inf or beyond the
 * 32-bit range. NaN and Inf give the scales that Q4_1 gives: a block of NaNs `d = −Inf`
 * (`0xFC00`) and `m = FLT_MAX` (`0x7C00`), an Inf `d = Inf` and every quant 0.
 *
 * @module
 */
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";

/** Bytes per Q5_1 block. */
export const BLOCK_Q5_1_BYTES = 24;

/** float32's largest finite value (C's `FLT_MAX`). */
const FLT_MAX = 3.4028234663852886e38;

/**
 * Quantizes `blocks × 32` float32 values from `src` into `blocks` Q5_1 blocks at the start
 * of `dst`, as ggml's `quantize_row_q5_1_ref`. Allocates nothing and checks nothing.
 *
 * @param src The values: at least `blocks × 32`.
 * @param dst Where the blocks go: at least `blocks × 24` bytes.
 * @param blocks How many blocks to write.
 *
 * @example A block 0, 1, …, 31: d = 1, m = 0, quant j = j
 * ```ts
 * import { quantizeRowQ5_1 } from "./q5_1.ts";
 * import assert from "node:assert/strict";
 * const dst = new Uint8Array(24);
 * quantizeRowQ5_1(Float32Array.from({ length: 32 }, (_, j) => j), dst, 1);
 * assert.deepEqual([...dst.subarray(0, 9)], [0x00, 0x3c, 0, 0, 0, 0, 0xff, 0xff, 0x00]);
 * ```
 */
export function quantizeRowQ5_1(src: Float32Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 32, o += BLOCK_Q5_1_BYTES) {
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let j = x; j < x + 32; j++) {
      const v = src[j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = Math.fround(Math.fround(max - min) / 31);
    // C's `d ? 1.0f / d : 0.0f` (d is never NaN: see q4_1.ts).
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const dh = fp32ToFp16(d);
    const mh = fp32ToFp16(min);
    dst[o] = dh & 0xff;
    dst[o + 1] = dh >> 8;
    dst[o + 2] = mh & 0xff;
    dst[o + 3] = mh >> 8;
    let qh = 0;
    for (let j = 0, lo = x, q = o + 8; j < 16; j++, lo++, q++) {
      // (uint8_t)(v + 0.5f): `| 0` keeps the low bits of x86-64's 32-bit conversion.
      const q0 = Math.fround(Math.fround(Math.fround(src[lo] - min) * id) + 0.5) | 0;
      const q1 = Math.fround(Math.fround(Math.fround(src[lo + 16] - min) * id) + 0.5) | 0;
      dst[q] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      qh |= ((q0 >> 4) & 1) << j | ((q1 >> 4) & 1) << (j + 16);
    }
    dst[o + 4] = qh & 0xff;
    dst[o + 5] = (qh >> 8) & 0xff;
    dst[o + 6] = (qh >> 16) & 0xff;
    dst[o + 7] = qh >>> 24;
  }
}
