/**
 * Q6_K: super-blocks of 256 weights, 210 bytes: 128 bytes of low nibbles, 64 bytes of
 * high 2-bit pairs, 16 signed 8-bit scales, half `d`. w = d × scale × (q − 32),
 * multiplied left to right.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q6_K super-block. */
export const BLOCK_Q6_K_BYTES = 210;

/**
 * Dequantizes `blocks` Q6_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q6_K`. d × scale is exact in float32 (19 bits); × q is exact in float64
 * and rounded once by the store, as C rounds its second product.
 */
export function dequantizeRowQ6K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q6_K_BYTES) {
    const d = FP16_TO_F32[src[s + 208] | (src[s + 209] << 8)];
    for (let half = 0; half < 2; half++) {
      const ql = s + half * 64;
      const qh = s + 128 + half * 32;
      const sc = s + 192 + half * 8;
      for (let is = 0; is < 2; is++) {
        const d1 = d * ((src[sc + is] << 24) >> 24);
        const d2 = d * ((src[sc + is + 2] << 24) >> 24);
        const d3 = d * ((src[sc + is + 4] << 24) >> 24);
        const d4 = d * ((src[sc + is + 6] << 24) >> 24);
        for (let l = is * 16, end = l + 16; l < end; l++) {
          const low0 = src[ql + l];
          const low1 = src[ql + l + 32];
          const high = src[qh + l];
          dst[y + l] = d1 * (((low0 & 0x0f) | ((high & 3) << 4)) - 32);
          dst[y + l + 32] = d2 * (((low1 & 0x0f) | (((high >> 2) & 3) << 4)) - 32);
          dst[y + l + 64] = d3 * (((low0 >> 4) | (((high >> 4) & 3) << 4)) - 32);
          dst[y + l + 96] = d4 * (((low1 >> 4) | (((high >> 6) & 3) << 4)) - 32);
        }
      }
      y += 128;
    }
  }
}
