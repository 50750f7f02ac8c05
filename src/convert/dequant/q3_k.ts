/**
 * Q3_K: super-blocks of 256 weights, 110 bytes: 32 bytes of high bits (`hmask`),
 * 64 bytes of 2-bit quants, 12 bytes packing sixteen 6-bit scales, half `d`.
 * w = d·(scale − 32) × (q − (high bit clear ? 4 : 0)).
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q3_K super-block. */
export const BLOCK_Q3_K_BYTES = 110;

/** Scratch for one block's unpacked scales, reused by every call. */
const scales = new Int8Array(16);

/**
 * Dequantizes `blocks` Q3_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q3_K`. Every product is exact in float32; the store rounds once.
 */
export function dequantizeRowQ3K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q3_K_BYTES) {
    const d = FP16_TO_F32[src[s + 108] | (src[s + 109] << 8)];
    unpackQ3KScales(src, s + 96, scales);
    let scaleIndex = 0;
    let bit = 0;
    for (let half = 0; half < 2; half++) {
      const q = s + 32 + half * 32;
      for (let shift = 0; shift < 8; shift += 2, bit++) {
        for (let part = 0; part < 32; part += 16) {
          const dl = d * (scales[scaleIndex++] - 32);
          const low = q + part;
          const high = s + part;
          for (let l = 0; l < 16; l++) {
            // q − 4 when the high bit is clear: (bit − 1) × 4 is 0 or −4.
            const value = ((src[low + l] >> shift) & 3) + ((((src[high + l] >> bit) & 1) - 1) << 2);
            dst[y++] = dl * value;
          }
        }
      }
    }
  }
}

/**
 * Unpacks the sixteen 6-bit scales of a Q3_K block (12 bytes at `at`): the low 4 bits
 * of scale i are in byte i (i < 8, low nibble) or byte i − 8 (high nibble), the top
 * 2 bits in bytes 8–11.
 */
function unpackQ3KScales(src: Uint8Array, at: number, out: Int8Array): void {
  for (let i = 0; i < 16; i++) {
    const low = i < 8 ? src[at + i] & 0x0f : src[at + i - 8] >> 4;
    const high = (src[at + 8 + (i & 3)] >> (2 * (i >> 2))) & 3;
    out[i] = low | (high << 4);
  }
}
