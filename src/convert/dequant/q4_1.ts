/**
 * Q4_1: blocks of 32 weights, 20 bytes: half scale `d`, half minimum `m`, 16 bytes of
 * 4-bit quants. w = q × d + m.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q4_1 block. */
export const BLOCK_Q4_1_BYTES = 20;

/**
 * Dequantizes `blocks` Q4_1 blocks from `src` into `dst`, as ggml's `dequantize_row_q4_1`.
 * q × d is exact in float32 (11 + 4 significant bits), so computing in float64 and storing
 * rounds once, as C does, with or without FMA contraction.
 */
export function dequantizeRowQ4_1(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q4_1_BYTES, y += 32) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const m = FP16_TO_F32[src[s + 2] | (src[s + 3] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = src[s + 4 + j];
      dst[y + j] = (q & 0x0f) * d + m;
      dst[y + j + 16] = (q >> 4) * d + m;
    }
  }
}
