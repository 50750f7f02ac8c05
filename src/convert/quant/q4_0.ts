/**
 * Q4_0 quantization: blocks of 32 weights, 18 bytes: a half scale `d = max / -8`, where
 * `max` is the signed weight of largest magnitude (the first one on ties), then 16 bytes
 * of 4-bit quants `min(15, trunc(w / d + 8.5))`: weight j in the low nibble of byte j,
 * weight j + 16 in its high nibble. Bit for bit as ggml's `quantize_row_q4_0_ref`.
 *
 * Every step is float32 as in C: `d`, `1 / d`, each `w × (1/d)` and the sum with 8.5 are
 * rounded to float32 before the truncation. An all-zero block has `d = 0 / -8 = -0`,
 * stored as the half `0x8000`, and bytes `0x88`. NaN and Inf follow ggml's x86-64 build:
 * - a NaN never wins `amax < |w|`, so it does not change `d`; its quant is 0;
 * - the first ±Inf becomes `max`, so `d` is ∓Inf (half `0xFC00`/`0x7C00`) and `1 / d` is ∓0: the
 *   Inf's quant is 0 (Inf × 0 is NaN), every finite weight's quant is 8;
 * - a NaN or ±Inf converted to C's `int8_t` is undefined behaviour; x86-64 gives the
 *   integer 0x80000000, whose low byte 0 is what ggml writes (JavaScript's `| 0` gives the
 *   same 0). This also happens when `1 / d` overflows to Inf (blocks whose largest
 *   magnitude is below about 2.4e-38): every quant is 0.
 *
 * @module
 */
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";

/** Bytes per Q4_0 block. */
export const BLOCK_Q4_0_BYTES = 18;

/**
 * Quantizes `blocks × 32` float32 values from `src` into `blocks` Q4_0 blocks at the start
 * of `dst`, as ggml's `quantize_row_q4_0_ref`. Allocates nothing and checks nothing.
 */
export function quantizeRowQ4_0(src: Float32Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 32, o += BLOCK_Q4_0_BYTES) {
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
    const d = Math.fround(max / -8);
    // C's `d ? 1.0f / d : 0.0f` (d is never NaN here).
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const half = fp32ToFp16(d);
    dst[o] = half & 0xff;
    dst[o + 1] = half >> 8;
    for (let j = 0, lo = x, q = o + 2; j < 16; j++, lo++, q++) {
      // (int8_t)(w·id + 8.5f): NaN cannot shrink `max`, so for a finite weight and `id` the
      // sum lies in [0.49, 16.5] and `| 0` is C's truncation; NaN and ±Inf give 0 as on x86-64.
      const q0 = Math.fround(Math.fround(src[lo] * id) + 8.5) | 0;
      const q1 = Math.fround(Math.fround(src[lo + 16] * id) + 8.5) | 0;
      dst[q] = Math.min(q0, 15) | (Math.min(q1, 15) << 4);
    }
  }
}
