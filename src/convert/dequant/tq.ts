/**
 * The ternary types: every weight is −d, 0 or +d, with one half scale `d` per
 * 256-weight block.
 *
 * - TQ1_0: 54 bytes: 48 bytes holding five trits each, 4 bytes holding four trits each,
 *   then half `d` (see {@linkcode TQ1_TRITS} for how a byte holds its trits). Bytes 0–31
 *   give weights 0–159 (trit n of byte m is weight 32n + m), bytes 32–47 weights 160–239
 *   (16n + m), bytes 48–51 weights 240–255 (4n + m, trits 0–3).
 * - TQ2_0: 66 bytes: 64 bytes of 2-bit codes, then half `d`. Within each 32-byte half,
 *   bits 2l..2l+1 of byte m are weight 32l + m. w = (q − 1) × d, so code 3 (which ggml
 *   never writes) means +2.
 *
 * Rounding: the product of a small integer and a half is exact in float32, so these
 * kernels round nothing and need no `Math.fround`.
 * A NaN or infinite half scale (ggml's quantizers write none from finite weights) gives
 * NaN where C does, but the NaN's sign and payload bits depend on the JS engine.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { TQ1_TRITS } from "./_tq1_trits.ts";

/** Bytes per TQ1_0 block. */
export const BLOCK_TQ1_0_BYTES = 54;

/** Bytes per TQ2_0 block. */
export const BLOCK_TQ2_0_BYTES = 66;

/** Dequantizes `blocks` TQ1_0 blocks from `src` into `dst`, as ggml's `dequantize_row_tq1_0`. */
export function dequantizeRowTq1_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_TQ1_0_BYTES, y += 256) {
    const d = FP16_TO_F32[src[s + 52] | (src[s + 53] << 8)];
    for (let m = 0; m < 32; m++) {
      const t = src[s + m] * 5;
      dst[y + m] = TQ1_TRITS[t] * d;
      dst[y + 32 + m] = TQ1_TRITS[t + 1] * d;
      dst[y + 64 + m] = TQ1_TRITS[t + 2] * d;
      dst[y + 96 + m] = TQ1_TRITS[t + 3] * d;
      dst[y + 128 + m] = TQ1_TRITS[t + 4] * d;
    }
    for (let m = 0; m < 16; m++) {
      const t = src[s + 32 + m] * 5;
      dst[y + 160 + m] = TQ1_TRITS[t] * d;
      dst[y + 176 + m] = TQ1_TRITS[t + 1] * d;
      dst[y + 192 + m] = TQ1_TRITS[t + 2] * d;
      dst[y + 208 + m] = TQ1_TRITS[t + 3] * d;
      dst[y + 224 + m] = TQ1_TRITS[t + 4] * d;
    }
    for (let m = 0; m < 4; m++) {
      const t = src[s + 48 + m] * 5;
      dst[y + 240 + m] = TQ1_TRITS[t] * d;
      dst[y + 244 + m] = TQ1_TRITS[t + 1] * d;
      dst[y + 248 + m] = TQ1_TRITS[t + 2] * d;
      dst[y + 252 + m] = TQ1_TRITS[t + 3] * d;
    }
  }
}

/** Dequantizes `blocks` TQ2_0 blocks from `src` into `dst`, as ggml's `dequantize_row_tq2_0`. */
export function dequantizeRowTq2_0(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_TQ2_0_BYTES) {
    const d = FP16_TO_F32[src[s + 64] | (src[s + 65] << 8)];
    for (let half = s; half < s + 64; half += 32, y += 128) {
      for (let m = 0; m < 32; m++) {
        const q = src[half + m];
        dst[y + m] = ((q & 3) - 1) * d;
        dst[y + 32 + m] = (((q >> 2) & 3) - 1) * d;
        dst[y + 64 + m] = (((q >> 4) & 3) - 1) * d;
        dst[y + 96 + m] = ((q >> 6) - 1) * d;
      }
    }
  }
}
