/**
 * Q4_K: super-blocks of 256 weights, 144 bytes: half `d`, half `dmin`, 12 bytes of
 * 6-bit scale/min pairs, 128 bytes of 4-bit quants. Each 32-weight group has
 * w = d·scale × q − dmin·min.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { unpackKScaleMin } from "./_k_scale.ts";

/** Bytes per Q4_K super-block. */
export const BLOCK_Q4_K_BYTES = 144;

/** Scratch for one block's unpacked scales, reused by every call. */
const scales = new Uint8Array(8);
const mins = new Uint8Array(8);

/**
 * Dequantizes `blocks` Q4_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q4_K`. d·scale (17 bits) × q (4 bits) is exact in float32, so the store
 * is the only rounding, as in C with or without FMA contraction.
 */
export function dequantizeRowQ4K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q4_K_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const dmin = FP16_TO_F32[src[s + 2] | (src[s + 3] << 8)];
    unpackKScaleMin(src, s + 4, scales, mins);
    for (let group = 0; group < 4; group++) {
      const q = s + 16 + group * 32;
      const d1 = d * scales[2 * group];
      const m1 = dmin * mins[2 * group];
      const d2 = d * scales[2 * group + 1];
      const m2 = dmin * mins[2 * group + 1];
      for (let l = 0; l < 32; l++) {
        const byte = src[q + l];
        dst[y + l] = d1 * (byte & 0x0f) - m1;
        dst[y + 32 + l] = d2 * (byte >> 4) - m2;
      }
      y += 64;
    }
  }
}
