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

/**
 * `QUANT_k[b | h << 8]`: the signed 3-bit quant of the k-th 32-weight run from quant byte
 * `b` (bits 2k, 2k + 1) and its high bit `h`: q, less 4 when `h` is clear.
 */
function quants(k: number): Float64Array {
  const out = new Float64Array(512);
  for (let i = 0; i < 512; i++) out[i] = ((i >> (2 * k)) & 3) - (i >= 256 ? 0 : 4);
  return out;
}
const QUANT_0 = quants(0);
const QUANT_1 = quants(1);
const QUANT_2 = quants(2);
const QUANT_3 = quants(3);

/** Scratch for one block's sixteen d·(scale − 32), reused by every call. */
const SCALES = new Float64Array(16);

/**
 * Dequantizes `blocks` Q3_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q3_K`. Every product is exact in float32; the store rounds once.
 *
 * Each quant byte (and its `hmask` byte) holds one weight of each of four 32-weight
 * runs, so both are read once and written four times.
 */
export function dequantizeRowQ3K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const quant0 = QUANT_0;
  const quant1 = QUANT_1;
  const quant2 = QUANT_2;
  const quant3 = QUANT_3;
  const fp16 = FP16_TO_F32;
  const scales = SCALES;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q3_K_BYTES) {
    const d = fp16[src[s + 108] | (src[s + 109] << 8)];
    unpackQ3KScales(src, s + 96, d, scales);
    for (let half = 0; half < 2; half++, y += 128) {
      const q = s + 32 + half * 32;
      // Run k of this half takes its high bits from bit 4·half + k of the hmask bytes.
      const shift = 4 * half;
      for (let part = 0; part < 2; part++) {
        const si = half * 8 + part;
        const d0 = scales[si], d1 = scales[si + 2], d2 = scales[si + 4], d3 = scales[si + 6];
        for (let i = part * 16, end = i + 16; i < end; i += 2) {
          const a = src[q + i], c = src[q + i + 1];
          const ha = src[s + i] >> shift, hc = src[s + i + 1] >> shift;
          const j = y + i;
          dst[j] = d0 * quant0[a | ((ha << 8) & 256)];
          dst[j + 1] = d0 * quant0[c | ((hc << 8) & 256)];
          dst[j + 32] = d1 * quant1[a | ((ha << 7) & 256)];
          dst[j + 33] = d1 * quant1[c | ((hc << 7) & 256)];
          dst[j + 64] = d2 * quant2[a | ((ha << 6) & 256)];
          dst[j + 65] = d2 * quant2[c | ((hc << 6) & 256)];
          dst[j + 96] = d3 * quant3[a | ((ha << 5) & 256)];
          dst[j + 97] = d3 * quant3[c | ((hc << 5) & 256)];
        }
      }
    }
  }
}

/**
 * Unpacks the sixteen 6-bit scales of a Q3_K block (12 bytes at `at`) as d·(scale − 32):
 * the low 4 bits of scale i are in byte i (i < 8, low nibble) or byte i − 8 (high
 * nibble), the top 2 bits in bytes 8–11.
 */
function unpackQ3KScales(src: Uint8Array, at: number, d: number, out: Float64Array): void {
  for (let i = 0; i < 16; i++) {
    const low = i < 8 ? src[at + i] & 0x0f : src[at + i - 8] >> 4;
    const high = (src[at + 8 + (i & 3)] >> (2 * (i >> 2))) & 3;
    out[i] = d * ((low | (high << 4)) - 32);
  }
}
