/**
 * Q4_K: super-blocks of 256 weights, 144 bytes: half `d`, half `dmin`, 12 bytes of
 * 6-bit scale/min pairs, 128 bytes of 4-bit quants. Each 32-weight group has
 * w = d·scale × q − dmin·min.
 *
 * @module
 */
import { HIGH_NIBBLE, LOW_NIBBLE } from "./_byte_values.ts";
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q4_K super-block. */
export const BLOCK_Q4_K_BYTES = 144;

/**
 * Dequantizes `blocks` Q4_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q4_K`. d·scale (17 bits) × q (4 bits) is exact in float32, so the store
 * is the only rounding, as in C with or without FMA contraction.
 *
 * The eight (scale, min) pairs are packed in 12 bytes (ggml's `get_scale_min_k4`): pair
 * j < 4 is the low 6 bits of bytes j and j + 4; pair j ≥ 4 takes its low 4 bits from
 * byte j + 4 (scale: low nibble, min: high nibble) and its top 2 bits from the top of
 * bytes j − 4 (scale) and j (min).
 */
export function dequantizeRowQ4K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const low = LOW_NIBBLE;
  const high = HIGH_NIBBLE;
  const fp16 = FP16_TO_F32;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q4_K_BYTES) {
    const d = fp16[src[s] | (src[s + 1] << 8)];
    const dmin = fp16[src[s + 2] | (src[s + 3] << 8)];
    const k0 = src[s + 4], k1 = src[s + 5], k2 = src[s + 6], k3 = src[s + 7];
    const k4 = src[s + 8], k5 = src[s + 9], k6 = src[s + 10], k7 = src[s + 11];
    const k8 = src[s + 12], k9 = src[s + 13], k10 = src[s + 14], k11 = src[s + 15];
    for (let group = 0, q = s + 16; group < 4; group++, y += 64) {
      // Pairs 2·group (low nibbles) and 2·group + 1 (high nibbles) of these 32 bytes.
      let d1, m1, d2, m2;
      if (group === 0) {
        d1 = d * (k0 & 63);
        m1 = dmin * (k4 & 63);
        d2 = d * (k1 & 63);
        m2 = dmin * (k5 & 63);
      } else if (group === 1) {
        d1 = d * (k2 & 63);
        m1 = dmin * (k6 & 63);
        d2 = d * (k3 & 63);
        m2 = dmin * (k7 & 63);
      } else if (group === 2) {
        d1 = d * ((k8 & 15) | ((k0 >> 6) << 4));
        m1 = dmin * ((k8 >> 4) | ((k4 >> 6) << 4));
        d2 = d * ((k9 & 15) | ((k1 >> 6) << 4));
        m2 = dmin * ((k9 >> 4) | ((k5 >> 6) << 4));
      } else {
        d1 = d * ((k10 & 15) | ((k2 >> 6) << 4));
        m1 = dmin * ((k10 >> 4) | ((k6 >> 6) << 4));
        d2 = d * ((k11 & 15) | ((k3 >> 6) << 4));
        m2 = dmin * ((k11 >> 4) | ((k7 >> 6) << 4));
      }
      for (let l = y, end = y + 32; l < end; l += 4, q += 4) {
        const b0 = src[q], b1 = src[q + 1], b2 = src[q + 2], b3 = src[q + 3];
        dst[l] = d1 * low[b0] - m1;
        dst[l + 1] = d1 * low[b1] - m1;
        dst[l + 2] = d1 * low[b2] - m1;
        dst[l + 3] = d1 * low[b3] - m1;
        dst[l + 32] = d2 * high[b0] - m2;
        dst[l + 33] = d2 * high[b1] - m2;
        dst[l + 34] = d2 * high[b2] - m2;
        dst[l + 35] = d2 * high[b3] - m2;
      }
    }
  }
}
