/**
 * Q5_K: super-blocks of 256 weights, 176 bytes: half `d`, half `dmin`, 12 bytes of
 * 6-bit scale/min pairs, 32 bytes of fifth bits, 128 bytes of low nibbles.
 * w = d·scale × q − dmin·min.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { unpackKScaleMin } from "./_k_scale.ts";

/** Bytes per Q5_K super-block. */
export const BLOCK_Q5_K_BYTES = 176;

/** Scratch for one block's unpacked scales, reused by every call. */
const scales = new Uint8Array(8);
const mins = new Uint8Array(8);

/**
 * Dequantizes `blocks` Q5_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q5_K`. d·scale × q is exact in float32; the store rounds once.
 */
export function dequantizeRowQ5K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q5_K_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const dmin = FP16_TO_F32[src[s + 2] | (src[s + 3] << 8)];
    unpackKScaleMin(src, s + 4, scales, mins);
    const qh = s + 16;
    for (let group = 0; group < 4; group++) {
      const ql = s + 48 + group * 32;
      const shift1 = 2 * group;
      const shift2 = shift1 + 1;
      const d1 = d * scales[2 * group];
      const m1 = dmin * mins[2 * group];
      const d2 = d * scales[2 * group + 1];
      const m2 = dmin * mins[2 * group + 1];
      for (let l = 0; l < 32; l++) {
        const low = src[ql + l];
        const high = src[qh + l];
        dst[y + l] = d1 * ((low & 0x0f) | (((high >> shift1) & 1) << 4)) - m1;
        dst[y + 32 + l] = d2 * ((low >> 4) | (((high >> shift2) & 1) << 4)) - m2;
      }
      y += 64;
    }
  }
}
