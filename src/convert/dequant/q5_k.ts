/**
 * Q5_K: super-blocks of 256 weights, 176 bytes: half `d`, half `dmin`, 12 bytes of
 * 6-bit scale/min pairs, 32 bytes of fifth bits, 128 bytes of low nibbles.
 * w = d·scale × q − dmin·min.
 *
 * @module
 */
import { fiveBitTables } from "./_byte_values.ts";
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q5_K super-block. */
export const BLOCK_Q5_K_BYTES = 176;

/** q by `nibble byte | fifth bit << 8`. */
const { low: LOW, high: HIGH } = fiveBitTables(0);

/**
 * Dequantizes `blocks` Q5_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q5_K`. d·scale × q is exact in float32; the store rounds once.
 *
 * The (scale, min) pairs are packed as in Q4_K (see {@linkcode dequantizeRowQ4K}'s
 * notes). Weight l of 32-weight run r takes its fifth bit from bit r of byte l of the 32
 * high-bit bytes, so each high-bit byte is read once per four runs: runs 0–3 then 4–7.
 */
export function dequantizeRowQ5K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const low = LOW;
  const high = HIGH;
  const fp16 = FP16_TO_F32;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q5_K_BYTES, y += 256) {
    const d = fp16[src[s] | (src[s + 1] << 8)];
    const dmin = fp16[src[s + 2] | (src[s + 3] << 8)];
    const k0 = src[s + 4], k1 = src[s + 5], k2 = src[s + 6], k3 = src[s + 7];
    const k4 = src[s + 8], k5 = src[s + 9], k6 = src[s + 10], k7 = src[s + 11];
    const k8 = src[s + 12], k9 = src[s + 13], k10 = src[s + 14], k11 = src[s + 15];
    for (let half = 0; half < 2; half++) {
      // Runs 4·half … 4·half + 3: (d·scale, dmin·min) of each.
      let d0, m0, d1, m1, d2, m2, d3, m3;
      if (half === 0) {
        d0 = d * (k0 & 63);
        m0 = dmin * (k4 & 63);
        d1 = d * (k1 & 63);
        m1 = dmin * (k5 & 63);
        d2 = d * (k2 & 63);
        m2 = dmin * (k6 & 63);
        d3 = d * (k3 & 63);
        m3 = dmin * (k7 & 63);
      } else {
        d0 = d * ((k8 & 15) | ((k0 >> 6) << 4));
        m0 = dmin * ((k8 >> 4) | ((k4 >> 6) << 4));
        d1 = d * ((k9 & 15) | ((k1 >> 6) << 4));
        m1 = dmin * ((k9 >> 4) | ((k5 >> 6) << 4));
        d2 = d * ((k10 & 15) | ((k2 >> 6) << 4));
        m2 = dmin * ((k10 >> 4) | ((k6 >> 6) << 4));
        d3 = d * ((k11 & 15) | ((k3 >> 6) << 4));
        m3 = dmin * ((k11 >> 4) | ((k7 >> 6) << 4));
      }
      const shift = 4 * half;
      // Runs 0 and 1 of the four are the low and high nibbles of 32 bytes, 2 and 3 of the
      // next 32.
      const q = s + 48 + half * 64;
      const out = y + half * 128;
      for (let l = 0; l < 32; l += 2) {
        // Bit `shift + r` of a high-bit byte lands on bit 8 after shifting left by 8 − r.
        const h0 = src[s + 16 + l] >> shift, h1 = src[s + 17 + l] >> shift;
        const a0 = src[q + l], a1 = src[q + l + 1];
        const c0 = src[q + 32 + l], c1 = src[q + 33 + l];
        const j = out + l;
        dst[j] = d0 * low[a0 | ((h0 << 8) & 256)] - m0;
        dst[j + 1] = d0 * low[a1 | ((h1 << 8) & 256)] - m0;
        dst[j + 32] = d1 * high[a0 | ((h0 << 7) & 256)] - m1;
        dst[j + 33] = d1 * high[a1 | ((h1 << 7) & 256)] - m1;
        dst[j + 64] = d2 * low[c0 | ((h0 << 6) & 256)] - m2;
        dst[j + 65] = d2 * low[c1 | ((h1 << 6) & 256)] - m2;
        dst[j + 96] = d3 * high[c0 | ((h0 << 5) & 256)] - m3;
        dst[j + 97] = d3 * high[c1 | ((h1 << 5) & 256)] - m3;
      }
    }
  }
}
