/**
 * Q8_0: blocks of 32 weights, 34 bytes: half scale `d`, 32 signed bytes. w = q × d.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q8_0 block. */
export const BLOCK_Q8_0_BYTES = 34;

/** Dequantizes `blocks` Q8_0 blocks from `src` into `dst`, as ggml's `dequantize_row_q8_0`. */
export function dequantizeRowQ8_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q8_0_BYTES, y += 32) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    for (let j = 0; j < 32; j++) {
      dst[y + j] = ((src[s + 2 + j] << 24) >> 24) * d;
    }
  }
}
