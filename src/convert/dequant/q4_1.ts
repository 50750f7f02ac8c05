/**
 * Q4_1: blocks of 32 weights, 20 bytes: half scale `d`, half minimum `m`, 16 bytes of
 * 4-bit quants. w = q × d + m.
 *
 * @module
 */
import { HIGH_NIBBLE, LOW_NIBBLE } from "./_byte_values.ts";
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q4_1 block. */
export const BLOCK_Q4_1_BYTES = 20;

/**
 * Dequantizes `blocks` Q4_1 blocks from `src` into `dst`, as ggml's `dequantize_row_q4_1`.
 * q × d is exact in float32 (11 + 4 significant bits), so computing in float64 and storing
 * rounds once, as C does, with or without FMA contraction.
 */
export function dequantizeRowQ4_1(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const low = LOW_NIBBLE;
  const high = HIGH_NIBBLE;
  const fp16 = FP16_TO_F32;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q4_1_BYTES, y += 32) {
    const d = fp16[src[s] | (src[s + 1] << 8)];
    const m = fp16[src[s + 2] | (src[s + 3] << 8)];
    for (let q = s + 4, j = y, end = y + 16; j < end; q += 4, j += 4) {
      const b0 = src[q], b1 = src[q + 1], b2 = src[q + 2], b3 = src[q + 3];
      dst[j] = low[b0] * d + m;
      dst[j + 1] = low[b1] * d + m;
      dst[j + 2] = low[b2] * d + m;
      dst[j + 3] = low[b3] * d + m;
      dst[j + 16] = high[b0] * d + m;
      dst[j + 17] = high[b1] * d + m;
      dst[j + 18] = high[b2] * d + m;
      dst[j + 19] = high[b3] * d + m;
    }
  }
}
