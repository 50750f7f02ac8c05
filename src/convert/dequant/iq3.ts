/**
 * IQ3_XXS and IQ3_S: super-blocks of 256 weights in 64 groups of 4. Each group is a grid
 * point (4 magnitudes) with 4 signs, and each 32 weights share a 4-bit scale:
 * IQ3_XXS w = d·(0.5 + scale)/2 × ±grid[j], IQ3_S w = d·(1 + 2·scale) × ±grid[j].
 *
 * Rounding: d is a half (11 significant bits); 0.5 + scale and 1 + 2·scale have at most
 * 5, so the scale products are exact in float32, and a grid magnitude (at most 62 =
 * 0b111110, 5 significant bits) keeps every weight within 21 bits, exact too: no
 * `Math.fround` is needed, and with no addition after a product FMA contraction cannot
 * change ggml's result.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { KSIGNS_IQ2XS } from "./_iq2_tables.ts";
import { IQ3S_GRID, IQ3XXS_GRID } from "./_iq3_tables.ts";

/** Bytes per IQ3_XXS super-block. */
export const BLOCK_IQ3_XXS_BYTES = 98;
/** Bytes per IQ3_S super-block. */
export const BLOCK_IQ3_S_BYTES = 110;

/**
 * Writes 8 weights from two grid points: dl × the magnitudes at `grid[g1..g1+3]` then
 * `grid[g2..g2+3]` × −1 where bit j of `signs` is set, +1 elsewhere — ggml's order of
 * operations. The ±1 is computed without a branch: sign bits are close to random, so a
 * branch per weight would be mispredicted.
 */
function pair(
  dst: Float32Array,
  y: number,
  grid: Uint8Array,
  g1: number,
  g2: number,
  signs: number,
  dl: number,
): void {
  const s = signs << 1; // (s >> j) & 2 is 2 when bit j of `signs` is set
  dst[y] = dl * grid[g1] * (1 - (s & 2));
  dst[y + 1] = dl * grid[g1 + 1] * (1 - ((s >> 1) & 2));
  dst[y + 2] = dl * grid[g1 + 2] * (1 - ((s >> 2) & 2));
  dst[y + 3] = dl * grid[g1 + 3] * (1 - ((s >> 3) & 2));
  dst[y + 4] = dl * grid[g2] * (1 - ((s >> 4) & 2));
  dst[y + 5] = dl * grid[g2 + 1] * (1 - ((s >> 5) & 2));
  dst[y + 6] = dl * grid[g2 + 2] * (1 - ((s >> 6) & 2));
  dst[y + 7] = dl * grid[g2 + 3] * (1 - ((s >> 7) & 2));
}

/** Dequantizes `blocks` IQ3_XXS super-blocks from `src` into `dst`, as ggml's `dequantize_row_iq3_xxs`. */
export function dequantizeRowIq3Xxs(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ3_XXS_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    // 64 grid indices, then per 32 weights a u32 of four 7-bit sign indices with the
    // scale in its top 4 bits.
    for (let ib = 0; ib < 8; ib++, y += 32) {
      const a = s + 66 + 4 * ib;
      const dl = d * (0.5 + (src[a + 3] >> 4)) * 0.5;
      const signBits = src[a] | (src[a + 1] << 8) | (src[a + 2] << 16) | (src[a + 3] << 24);
      const q = s + 2 + 8 * ib;
      for (let l = 0; l < 4; l++) {
        const signs = KSIGNS_IQ2XS[(signBits >> (7 * l)) & 127];
        pair(dst, y + 8 * l, IQ3XXS_GRID, src[q + 2 * l] << 2, src[q + 2 * l + 1] << 2, signs, dl);
      }
    }
  }
}

/** Dequantizes `blocks` IQ3_S super-blocks from `src` into `dst`, as ggml's `dequantize_row_iq3_s`. */
export function dequantizeRowIq3S(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ3_S_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    // 64 low bytes of 9-bit grid indices, 8 bytes of high bits (one per grid point of a
    // 32-weight group), 32 sign bytes, 4 bytes of two 4-bit scales.
    for (let ib = 0; ib < 8; ib++, y += 32) {
      const dl = d * (1 + 2 * ((src[s + 106 + (ib >> 1)] >> (4 * (ib & 1))) & 0x0f));
      const high = src[s + 66 + ib];
      const q = s + 2 + 8 * ib;
      const signs = s + 74 + 4 * ib;
      for (let l = 0; l < 4; l++) {
        const g1 = (src[q + 2 * l] | ((high << (8 - 2 * l)) & 256)) << 2;
        const g2 = (src[q + 2 * l + 1] | ((high << (7 - 2 * l)) & 256)) << 2;
        pair(dst, y + 8 * l, IQ3S_GRID, g1, g2, src[signs + l], dl);
      }
    }
  }
}
