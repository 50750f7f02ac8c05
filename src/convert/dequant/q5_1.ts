/**
 * Q5_1: blocks of 32 weights, 24 bytes: half scale `d`, half minimum `m`, 4 bytes of
 * fifth bits, 16 bytes of low nibbles. w = q × d + m.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q5_1 block. */
export const BLOCK_Q5_1_BYTES = 24;

/**
 * Dequantizes `blocks` Q5_1 blocks from `src` into `dst`, as ggml's `dequantize_row_q5_1`.
 * q × d is exact in float32, so the store is the only rounding, as in C.
 */
export function dequantizeRowQ5_1(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q5_1_BYTES, y += 32) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const m = FP16_TO_F32[src[s + 2] | (src[s + 3] << 8)];
    const qh = src[s + 4] | (src[s + 5] << 8) | (src[s + 6] << 16) | (src[s + 7] << 24);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 8 + j];
      const high0 = ((qh >>> j) << 4) & 0x10;
      const high1 = (qh >>> (j + 12)) & 0x10;
      dst[y + j] = ((q & 0x0f) | high0) * d + m;
      dst[y + j + 16] = ((q >> 4) | high1) * d + m;
    }
  }
}
