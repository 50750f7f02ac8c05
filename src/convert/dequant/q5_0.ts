/**
 * Q5_0: blocks of 32 weights, 22 bytes: half scale `d`, 4 bytes holding the fifth bit
 * of each weight (a little-endian u32), 16 bytes of low nibbles. w = (q − 16) × d.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q5_0 block. */
export const BLOCK_Q5_0_BYTES = 22;

/** Dequantizes `blocks` Q5_0 blocks from `src` into `dst`, as ggml's `dequantize_row_q5_0`. */
export function dequantizeRowQ5_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q5_0_BYTES, y += 32) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const qh = src[s + 2] | (src[s + 3] << 8) | (src[s + 4] << 16) | (src[s + 5] << 24);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 6 + j];
      const high0 = ((qh >>> j) << 4) & 0x10;
      const high1 = (qh >>> (j + 12)) & 0x10;
      dst[y + j] = (((q & 0x0f) | high0) - 16) * d;
      dst[y + j + 16] = (((q >> 4) | high1) - 16) * d;
    }
  }
}
