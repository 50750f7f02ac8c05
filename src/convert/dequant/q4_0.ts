/**
 * Q4_0: blocks of 32 weights, 18 bytes: a half scale `d`, then 16 bytes of 4-bit
 * quants (low nibbles are weights 0–15, high nibbles 16–31). w = (q − 8) × d.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q4_0 block. */
export const BLOCK_Q4_0_BYTES = 18;

/** `(b & 15) − 8` and `(b >> 4) − 8` for every byte `b`. */
const LOW = new Float64Array(256);
const HIGH = new Float64Array(256);
for (let b = 0; b < 256; b++) {
  LOW[b] = (b & 15) - 8;
  HIGH[b] = (b >> 4) - 8;
}

/**
 * Dequantizes `blocks` Q4_0 blocks from `src` into `dst`, as ggml's `dequantize_row_q4_0`.
 * (q − 8) × d is exact in float32.
 */
export function dequantizeRowQ4_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const low = LOW;
  const high = HIGH;
  const fp16 = FP16_TO_F32;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q4_0_BYTES, y += 32) {
    const d = fp16[src[s] | (src[s + 1] << 8)];
    for (let q = s + 2, j = y, end = y + 16; j < end; q += 4, j += 4) {
      const b0 = src[q], b1 = src[q + 1], b2 = src[q + 2], b3 = src[q + 3];
      dst[j] = low[b0] * d;
      dst[j + 1] = low[b1] * d;
      dst[j + 2] = low[b2] * d;
      dst[j + 3] = low[b3] * d;
      dst[j + 16] = high[b0] * d;
      dst[j + 17] = high[b1] * d;
      dst[j + 18] = high[b2] * d;
      dst[j + 19] = high[b3] * d;
    }
  }
}
