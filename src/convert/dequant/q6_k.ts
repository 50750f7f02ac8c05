/**
 * Q6_K: super-blocks of 256 weights, 210 bytes: 128 bytes of low nibbles, 64 bytes of
 * high 2-bit pairs, 16 signed 8-bit scales, half `d`. w = d × scale × (q − 32),
 * multiplied left to right.
 *
 * @module
 */
import { SIGNED_BYTE } from "./_byte_values.ts";
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q6_K super-block. */
export const BLOCK_Q6_K_BYTES = 210;

/**
 * q − 32 by `nibble byte | high pair << 8`: from the low nibble in `LOW`, the high
 * nibble in `HIGH`.
 */
const LOW = new Float64Array(1024);
const HIGH = new Float64Array(1024);
for (let i = 0; i < 1024; i++) {
  LOW[i] = ((i & 15) | ((i >> 8) << 4)) - 32;
  HIGH[i] = (((i >> 4) & 15) | ((i >> 8) << 4)) - 32;
}

/**
 * Dequantizes `blocks` Q6_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q6_K`. d × scale is exact in float32 (19 bits); × q is exact in float64
 * and rounded once by the store, as C rounds its second product.
 */
export function dequantizeRowQ6K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const low = LOW;
  const high = HIGH;
  const signed = SIGNED_BYTE;
  const fp16 = FP16_TO_F32;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q6_K_BYTES) {
    const d = fp16[src[s + 208] | (src[s + 209] << 8)];
    for (let half = 0; half < 2; half++, y += 128) {
      const ql = s + half * 64;
      const qh = s + 128 + half * 32;
      const sc = s + 192 + half * 8;
      for (let is = 0; is < 2; is++) {
        const d1 = d * signed[src[sc + is]];
        const d2 = d * signed[src[sc + is + 2]];
        const d3 = d * signed[src[sc + is + 4]];
        const d4 = d * signed[src[sc + is + 6]];
        for (let l = is * 16, end = l + 16; l < end; l += 4) {
          const j = y + l;
          const a = ql + l;
          const h = qh + l;
          // Byte l of the high pairs holds weights l, l + 32, l + 64, l + 96's top bits.
          const h0 = src[h], h1 = src[h + 1], h2 = src[h + 2], h3 = src[h + 3];
          const a0 = src[a], a1 = src[a + 1], a2 = src[a + 2], a3 = src[a + 3];
          dst[j] = d1 * low[a0 | ((h0 & 3) << 8)];
          dst[j + 1] = d1 * low[a1 | ((h1 & 3) << 8)];
          dst[j + 2] = d1 * low[a2 | ((h2 & 3) << 8)];
          dst[j + 3] = d1 * low[a3 | ((h3 & 3) << 8)];
          dst[j + 64] = d3 * high[a0 | ((h0 & 48) << 4)];
          dst[j + 65] = d3 * high[a1 | ((h1 & 48) << 4)];
          dst[j + 66] = d3 * high[a2 | ((h2 & 48) << 4)];
          dst[j + 67] = d3 * high[a3 | ((h3 & 48) << 4)];
          const c0 = src[a + 32], c1 = src[a + 33], c2 = src[a + 34], c3 = src[a + 35];
          dst[j + 32] = d2 * low[c0 | ((h0 & 12) << 6)];
          dst[j + 33] = d2 * low[c1 | ((h1 & 12) << 6)];
          dst[j + 34] = d2 * low[c2 | ((h2 & 12) << 6)];
          dst[j + 35] = d2 * low[c3 | ((h3 & 12) << 6)];
          dst[j + 96] = d4 * high[c0 | ((h0 & 192) << 2)];
          dst[j + 97] = d4 * high[c1 | ((h1 & 192) << 2)];
          dst[j + 98] = d4 * high[c2 | ((h2 & 192) << 2)];
          dst[j + 99] = d4 * high[c3 | ((h3 & 192) << 2)];
        }
      }
    }
  }
}
