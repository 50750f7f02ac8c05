/**
 * Q8_0: blocks of 32 weights, 34 bytes: half scale `d`, 32 signed bytes. w = q × d.
 *
 * @module
 */
import { SIGNED_BYTE } from "./_byte_values.ts";
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q8_0 block. */
export const BLOCK_Q8_0_BYTES = 34;

/**
 * Dequantizes `blocks` Q8_0 blocks from `src` into `dst`, as ggml's `dequantize_row_q8_0`.
 * q (8 bits) × d (11 bits) is exact in float32, so the store is exact, as in C.
 */
export function dequantizeRowQ8_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const signed = SIGNED_BYTE;
  const fp16 = FP16_TO_F32;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q8_0_BYTES) {
    const d = fp16[src[s] | (src[s + 1] << 8)];
    // Four weights a step: one bounds-checked loop iteration per four stores.
    for (let q = s + 2, end = s + BLOCK_Q8_0_BYTES; q < end; q += 4, y += 4) {
      dst[y] = signed[src[q]] * d;
      dst[y + 1] = signed[src[q + 1]] * d;
      dst[y + 2] = signed[src[q + 2]] * d;
      dst[y + 3] = signed[src[q + 3]] * d;
    }
  }
}
