/**
 * Q5_0: blocks of 32 weights, 22 bytes: half scale `d`, 4 bytes holding the fifth bit
 * of each weight (a little-endian u32), 16 bytes of low nibbles. w = (q − 16) × d.
 *
 * @module
 */
import { fiveBitTables } from "./_byte_values.ts";
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q5_0 block. */
export const BLOCK_Q5_0_BYTES = 22;

/** q − 16 by `nibble byte | fifth bit << 8`. */
const { low: LOW, high: HIGH } = fiveBitTables(16);

/**
 * Dequantizes `blocks` Q5_0 blocks from `src` into `dst`, as ggml's `dequantize_row_q5_0`.
 * (q − 16) × d is exact in float32.
 */
export function dequantizeRowQ5_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const low = LOW;
  const high = HIGH;
  const fp16 = FP16_TO_F32;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q5_0_BYTES, y += 32) {
    const d = fp16[src[s] | (src[s + 1] << 8)];
    const qh = src[s + 2] | (src[s + 3] << 8) | (src[s + 4] << 16) | (src[s + 5] << 24);
    // Weight j's fifth bit (bit j of qh) is bit 8 + j of `lo`, weight 16 + j's (bit 16 + j)
    // bit 8 + j of `hi`; both move down four weights a step.
    let lo = qh << 8;
    let hi = qh >>> 8;
    for (let q = s + 6, j = y, end = y + 16; j < end; q += 4, j += 4, lo >>>= 4, hi >>>= 4) {
      const b0 = src[q], b1 = src[q + 1], b2 = src[q + 2], b3 = src[q + 3];
      dst[j] = low[b0 | (lo & 256)] * d;
      dst[j + 1] = low[b1 | ((lo >>> 1) & 256)] * d;
      dst[j + 2] = low[b2 | ((lo >>> 2) & 256)] * d;
      dst[j + 3] = low[b3 | ((lo >>> 3) & 256)] * d;
      dst[j + 16] = high[b0 | (hi & 256)] * d;
      dst[j + 17] = high[b1 | ((hi >>> 1) & 256)] * d;
      dst[j + 18] = high[b2 | ((hi >>> 2) & 256)] * d;
      dst[j + 19] = high[b3 | ((hi >>> 3) & 256)] * d;
    }
  }
}
