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

/** Dequantizes `blocks` Q6_K super-blocks from `src` into `dst`, as ggml's `dequantize_row_q6_K`. */
export function dequantizeRowQ6K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q6_K_BYTES) {
    const d = FP16_TO_F32[src[s + 208] | (src[s + 209] << 8)];
    for (let half = 0; half < 2; half++) {
      const ql = s + half * 64;
      const qh = s + 128 + half * 32;
      const sc = s + 192 + half * 8;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const low0 = src[ql + l];
        const low1 = src[ql + l + 32];
        const high = src[qh + l];
        const q1 = ((low0 & 0x0f) | ((high & 3) << 4)) - 32;
        const q2 = ((low1 & 0x0f) | (((high >> 2) & 3) << 4)) - 32;
        const q3 = ((low0 >> 4) | (((high >> 4) & 3) << 4)) - 32;
        const q4 = ((low1 >> 4) | (((high >> 6) & 3) << 4)) - 32;
        dst[y + l] = Math.fround(d * ((src[sc + is] << 24) >> 24)) * q1;
        dst[y + l + 32] = Math.fround(d * ((src[sc + is + 2] << 24) >> 24)) * q2;
        dst[y + l + 64] = Math.fround(d * ((src[sc + is + 4] << 24) >> 24)) * q3;
        dst[y + l + 96] = Math.fround(d * ((src[sc + is + 6] << 24) >> 24)) * q4;
      }
      y += 128;
    }
  }
}
