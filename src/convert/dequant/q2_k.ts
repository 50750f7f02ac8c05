/**
 * Q2_K: super-blocks of 256 weights, 84 bytes: 16 bytes of 4-bit scale/min pairs,
 * 64 bytes of 2-bit quants, half `d`, half `dmin`. Each 16-weight group has
 * w = d·scale × q − dmin·min.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q2_K super-block. */
export const BLOCK_Q2_K_BYTES = 84;

/**
 * Dequantizes `blocks` Q2_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q2_K`. d·scale and d·scale × q are exact in float32, so the store is
 * the only rounding, as in C.
 */
export function dequantizeRowQ2K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q2_K_BYTES) {
    const d = FP16_TO_F32[src[s + 80] | (src[s + 81] << 8)];
    const dmin = FP16_TO_F32[src[s + 82] | (src[s + 83] << 8)];
    let scaleIndex = s;
    for (let half = 0; half < 2; half++) {
      const q = s + 16 + half * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let part = 0; part < 32; part += 16) {
          const sc = src[scaleIndex++];
          const dl = d * (sc & 0x0f);
          const ml = dmin * (sc >> 4);
          const at = q + part;
          for (let l = 0; l < 16; l++) dst[y++] = dl * ((src[at + l] >> shift) & 3) - ml;
        }
      }
    }
  }
}
