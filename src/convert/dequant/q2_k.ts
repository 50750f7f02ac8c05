/**
 * Q2_K: super-blocks of 256 weights, 84 bytes: 16 bytes of 4-bit scale/min pairs,
 * 64 bytes of 2-bit quants, half `d`, half `dmin`. Each 16-weight group has
 * w = d·scale × q − dmin·min.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";

/** Bytes per Q2_K super-block. */
export const BLOCK_Q2_K_BYTES = 84;

/** `CRUMB_k[b]` is bits 2k and 2k + 1 of byte `b`, the quant of the k-th 32-weight run. */
function crumbs(k: number): Float64Array {
  const out = new Float64Array(256);
  for (let b = 0; b < 256; b++) out[b] = (b >> (2 * k)) & 3;
  return out;
}
const CRUMB_0 = crumbs(0);
const CRUMB_1 = crumbs(1);
const CRUMB_2 = crumbs(2);
const CRUMB_3 = crumbs(3);

/**
 * Dequantizes `blocks` Q2_K super-blocks from `src` into `dst`, as ggml's
 * `dequantize_row_q2_K`. d·scale and d·scale × q are exact in float32, so the store is
 * the only rounding, as in C.
 *
 * Each quant byte holds one weight of each of four 32-weight runs, so it is read once
 * and written four times; a run's 16-weight halves have their own scale byte.
 */
export function dequantizeRowQ2K(src: Uint8Array, dst: Float32Array, blocks: number): void {
  // Tables in locals: V8 reloads and re-checks a module binding at every use in a loop.
  const crumb0 = CRUMB_0;
  const crumb1 = CRUMB_1;
  const crumb2 = CRUMB_2;
  const crumb3 = CRUMB_3;
  const fp16 = FP16_TO_F32;
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_Q2_K_BYTES) {
    const d = fp16[src[s + 80] | (src[s + 81] << 8)];
    const dmin = fp16[src[s + 82] | (src[s + 83] << 8)];
    for (let half = 0; half < 2; half++, y += 128) {
      const q = s + 16 + half * 32;
      for (let part = 0; part < 2; part++) {
        // Scale bytes of runs 0–3 for this 16-weight part: half·8 + 2·run + part.
        const sc = s + half * 8 + part;
        const x0 = src[sc], x1 = src[sc + 2], x2 = src[sc + 4], x3 = src[sc + 6];
        const d0 = d * (x0 & 15), m0 = dmin * (x0 >> 4);
        const d1 = d * (x1 & 15), m1 = dmin * (x1 >> 4);
        const d2 = d * (x2 & 15), m2 = dmin * (x2 >> 4);
        const d3 = d * (x3 & 15), m3 = dmin * (x3 >> 4);
        for (let i = part * 16, end = i + 16; i < end; i += 2) {
          const a = src[q + i], c = src[q + i + 1];
          const j = y + i;
          dst[j] = d0 * crumb0[a] - m0;
          dst[j + 1] = d0 * crumb0[c] - m0;
          dst[j + 32] = d1 * crumb1[a] - m1;
          dst[j + 33] = d1 * crumb1[c] - m1;
          dst[j + 64] = d2 * crumb2[a] - m2;
          dst[j + 65] = d2 * crumb2[c] - m2;
          dst[j + 96] = d3 * crumb3[a] - m3;
          dst[j + 97] = d3 * crumb3[c] - m3;
        }
      }
    }
  }
}
