/**
 * The 1- and 2-bit types with one half scale per block.
 *
 * - Q1_0: blocks of 128 weights, 18 bytes: half `d`, then 16 bytes of sign bits, least
 *   significant bit first. w = +d for a set bit, −d for a clear one.
 * - Q2_0: blocks of 64 weights, 18 bytes: half `d`, then 16 bytes of 2-bit codes, four per
 *   byte, lowest bits first. w = (q − 1) × d, so codes 0–3 mean −1, 0, +1, +2.
 *
 * Rounding: ±d and (q − 1) × d are exact in float32 (a half has 11 significant bits), so
 * these kernels round nothing and need no `Math.fround`.
 * A NaN or infinite half scale (ggml's quantizers write none from finite weights) gives
 * NaN where C does, but the NaN's sign and payload bits depend on the JS engine.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q1_0 block. */
export const BLOCK_Q1_0_BYTES = 18;

/** Bytes per Q2_0 block. */
export const BLOCK_Q2_0_BYTES = 18;

/**
 * A block's two weights, −d and +d, indexed by bit; reused by every call. Looking the
 * weight up avoids a branch on bits that are close to random.
 */
const signed = new Float32Array(2);

/** Dequantizes `blocks` Q1_0 blocks from `src` into `dst`, as ggml's `dequantize_row_q1_0`. */
export function dequantizeRowQ1_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q1_0_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    signed[0] = -d;
    signed[1] = d;
    for (let j = 2; j < 18; j++, y += 8) {
      const q = src[s + j];
      dst[y] = signed[q & 1];
      dst[y + 1] = signed[(q >> 1) & 1];
      dst[y + 2] = signed[(q >> 2) & 1];
      dst[y + 3] = signed[(q >> 3) & 1];
      dst[y + 4] = signed[(q >> 4) & 1];
      dst[y + 5] = signed[(q >> 5) & 1];
      dst[y + 6] = signed[(q >> 6) & 1];
      dst[y + 7] = signed[q >> 7];
    }
  }
}

/** Dequantizes `blocks` Q2_0 blocks from `src` into `dst`, as ggml's `dequantize_row_q2_0`. */
export function dequantizeRowQ2_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q2_0_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    for (let j = 2; j < 18; j++, y += 4) {
      const q = src[s + j];
      dst[y] = ((q & 3) - 1) * d;
      dst[y + 1] = (((q >> 2) & 3) - 1) * d;
      dst[y + 2] = (((q >> 4) & 3) - 1) * d;
      dst[y + 3] = ((q >> 6) - 1) * d;
    }
  }
}
