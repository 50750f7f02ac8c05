/**
 * Q8_0 quantization: blocks of 32 weights, 34 bytes: half scale `d = amax / 127`, then
 * 32 signed bytes `round(w / d)`. Bit for bit as ggml's `quantize_row_q8_0_ref`.
 *
 * Every step is float32 as in C: `d` and `1 / d` are rounded to float32, each `w × (1/d)`
 * is rounded to float32, then rounded half away from zero (C's `roundf`, not
 * `Math.round`) and stored in a C `int8_t`. NaN and Inf follow ggml's x86-64 build:
 * - the maximum is C's `MAX(amax, |w|)`, which a NaN replaces and the next weight replaces
 *   again, so `amax` is the largest magnitude after the block's last NaN, and NaN when
 *   that NaN is the block's last weight (`d` is then NaN, stored as the half `0x7E00`).
 *   Weights before a NaN can then exceed `127 d`: their byte is the low byte of the
 *   rounded integer (x86-64 converts to a 32-bit integer, then keeps the low byte);
 * - a NaN, ±Inf or float beyond the 32-bit range converted to C's `int8_t` is undefined
 *   behaviour; x86-64 gives the integer 0x80000000, whose low byte is 0. So a NaN's byte
 *   is 0; an Inf makes `d` Inf (half `0x7C00`) and `1 / d` zero, so the Inf's byte
 *   (Inf × 0 is NaN) and every finite weight's byte are 0; and when `1 / d` overflows to
 *   Inf (largest magnitude below about 3.7e-37) every byte is 0.
 *
 * @module
 */
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";

/** Bytes per Q8_0 block. */
export const BLOCK_Q8_0_BYTES = 34;

/**
 * Quantizes `blocks × 32` float32 values from `src` into `blocks` Q8_0 blocks at the start
 * of `dst`, as ggml's `quantize_row_q8_0_ref`. Allocates nothing and checks nothing.
 */
export function quantizeRowQ8_0(src: Float32Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 32, o += BLOCK_Q8_0_BYTES) {
    // Without a NaN, Math.max is C's MAX; with one it is NaN, and C's rule needs the slow path.
    let amax = 0;
    for (let j = x; j < x + 32; j++) amax = Math.max(amax, Math.abs(src[j]));
    if (amax !== amax) {
      quantizeBlockWithNaN(src, x, dst, o);
      continue;
    }
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const half = fp32ToFp16(d);
    dst[o] = half & 0xff;
    dst[o + 1] = half >> 8;
    for (let j = x, q = o + 2; j < x + 32; j++, q++) {
      // Here v = w × id is NaN, ±Inf or within ±127.00002, so t = v + 128.5 is NaN, ±Inf
      // or in [1.4, 255.6] and exact enough: t's floor is roundf(v) + 128 except on a
      // negative tie (t whole and below 128.5), which roundf takes away from zero.
      const t = Math.fround(src[j] * id) + 128.5;
      let i = t | 0;
      if (i === t) {
        if (t < 128.5) i--;
      } else if (i === 0) {
        i = 128; // NaN or ±Inf: C's byte 0
      }
      dst[q] = i - 128;
    }
  }
}

/** One block holding a NaN, with C's `MAX` and any rounded value's low byte. */
function quantizeBlockWithNaN(src: Float32Array, x: number, dst: Uint8Array, o: number): void {
  let amax = 0;
  for (let j = x; j < x + 32; j++) {
    const a = Math.abs(src[j]);
    amax = amax > a ? amax : a; // C's MAX(amax, fabsf(v)): a NaN is replaced by the next value
  }
  const d = Math.fround(amax / 127);
  // C's `d ? 1.0f / d : 0.0f`: NaN is true there, false in JavaScript.
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  // A NaN scale is fabsf's, so positive: the half 0x7E00 whatever the engine's NaN bits.
  const half = d === d ? fp32ToFp16(d) : 0x7e00;
  dst[o] = half & 0xff;
  dst[o + 1] = half >> 8;
  for (let j = x, q = o + 2; j < x + 32; j++, q++) {
    const v = Math.fround(src[j] * id);
    // roundf, then the low byte: v ± 0.5 is exact in a double and `| 0` truncates toward
    // zero; a float32 of 2^31 or more is a multiple of 256 and NaN or ±Inf gives 0, so the
    // byte is 0 wherever x86-64's conversion gives 0x80000000.
    dst[q] = (v < 0 ? v - 0.5 : v + 0.5) | 0;
  }
}
