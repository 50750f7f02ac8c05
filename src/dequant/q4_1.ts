/**
 * Q4_1: blocks of 32 weights, 20 bytes: half scale `d`, half minimum `m`, 16 bytes of
 * 4-bit quants. w = q × d + m.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { mulAdd32 } from "./_mul_add.ts";

/** Bytes per Q4_1 block. */
export const BLOCK_Q4_1_BYTES = 20;

/** Dequantizes `blocks` Q4_1 blocks from `src` into `dst`, as ggml's `dequantize_row_q4_1`. */
export function dequantizeRowQ4_1(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q4_1_BYTES, y += 32) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const m = FP16_TO_F32[src[s + 2] | (src[s + 3] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = src[s + 4 + j];
      dst[y + j] = mulAdd32(q & 0x0f, d, m);
      dst[y + j + 16] = mulAdd32(q >> 4, d, m);
    }
  }
}
