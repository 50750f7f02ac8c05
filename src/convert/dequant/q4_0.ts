/**
 * Q4_0: blocks of 32 weights, 18 bytes: a half scale `d`, then 16 bytes of 4-bit
 * quants (low nibbles are weights 0–15, high nibbles 16–31). w = (q − 8) × d.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q4_0 block. */
export const BLOCK_Q4_0_BYTES = 18;

/** Dequantizes `blocks` Q4_0 blocks from `src` into `dst`, as ggml's `dequantize_row_q4_0`. */
export function dequantizeRowQ4_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q4_0_BYTES, y += 32) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = src[s + 2 + j];
      dst[y + j] = ((q & 0x0f) - 8) * d;
      dst[y + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}
