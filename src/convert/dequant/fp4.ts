/**
 * The 4-bit float (E2M1) types with shared power-of-two or 8-bit float scales.
 *
 * - MXFP4: blocks of 32 weights, 17 bytes: one E8M0 scale byte `e`, then 16 bytes of
 *   E2M1 codes (low nibbles are weights 0–15, high nibbles 16–31).
 * - NVFP4: blocks of 64 weights, 36 bytes: four UE4M3 scale bytes, one per 16-weight
 *   sub-block, then 32 bytes of E2M1 codes, 8 per sub-block (low nibbles are the
 *   sub-block's weights 0–7, high nibbles 8–15).
 *
 * w = fp4[q] × scale. The code table is doubled and the scales halved, as in ggml.
 *
 * Rounding: a code has at most 2 significant bits and a scale at most 4, so the product
 * is exact in double; the store into float32 is then the one rounding C makes (it only
 * matters when an MXFP4 scale of 2^127 overflows to ±Inf). No `Math.fround` is needed.
 *
 * @module
 */
import { E8M0_TO_F32_HALF, KVALUES_FP4, UE4M3_TO_F32_HALF } from "./_fp4_tables.ts";

/** Bytes per MXFP4 block. */
export const BLOCK_MXFP4_BYTES = 17;

/** Bytes per NVFP4 block. */
export const BLOCK_NVFP4_BYTES = 36;

/** Dequantizes `blocks` MXFP4 blocks from `src` into `dst`, as ggml's `dequantize_row_mxfp4`. */
export function dequantizeRowMxfp4(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_MXFP4_BYTES, y += 32) {
    const d = E8M0_TO_F32_HALF[src[s]];
    for (let j = 0; j < 16; j++) {
      const q = src[s + 1 + j];
      dst[y + j] = KVALUES_FP4[q & 0x0f] * d;
      dst[y + j + 16] = KVALUES_FP4[q >> 4] * d;
    }
  }
}

/** Dequantizes `blocks` NVFP4 blocks from `src` into `dst`, as ggml's `dequantize_row_nvfp4`. */
export function dequantizeRowNvfp4(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_NVFP4_BYTES) {
    for (let sub = 0; sub < 4; sub++, y += 16) {
      const d = UE4M3_TO_F32_HALF[src[s + sub]];
      const at = s + 4 + sub * 8;
      for (let j = 0; j < 8; j++) {
        const q = src[at + j];
        dst[y + j] = KVALUES_FP4[q & 0x0f] * d;
        dst[y + j + 8] = KVALUES_FP4[q >> 4] * d;
      }
    }
  }
}
