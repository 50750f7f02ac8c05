/**
 * IQ2_XXS, IQ2_XS and IQ2_S: super-blocks of 256 weights in 32 groups of 8. Each group is a
 * grid point (8 magnitudes, each 8, 25 or 43), 8 signs and a 4-bit scale per 16 or 32
 * weights: w = d·(0.5 + scale)/4 × ±grid[j].
 *
 * Rounding: d is a half (11 significant bits) and 0.5 + scale has at most 5, so
 * d·(0.5 + scale)·¼ has at most 16 and is exact in float32; a grid magnitude adds at most
 * 6 more (43 = 0b101011), so every weight is exact too and needs no `Math.fround`. With no
 * addition after a product, FMA contraction cannot change ggml's result either.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, KSIGNS_IQ2XS } from "./_iq2_tables.ts";

/** Bytes per IQ2_XXS super-block. */
export const BLOCK_IQ2_XXS_BYTES = 66;
/** Bytes per IQ2_XS super-block. */
export const BLOCK_IQ2_XS_BYTES = 74;
/** Bytes per IQ2_S super-block. */
export const BLOCK_IQ2_S_BYTES = 82;

/**
 * Writes one group: dl × the 8 grid magnitudes at `grid[g..g+7]` × −1 where bit j of
 * `signs` is set, +1 elsewhere — ggml's order of operations. The ±1 is computed without a
 * branch: sign bits are close to random, so a branch per weight would be mispredicted.
 */
function group(
  dst: Float32Array,
  y: number,
  grid: Uint8Array,
  g: number,
  signs: number,
  dl: number,
): void {
  const s = signs << 1; // (s >> j) & 2 is 2 when bit j of `signs` is set
  dst[y] = dl * grid[g] * (1 - (s & 2));
  dst[y + 1] = dl * grid[g + 1] * (1 - ((s >> 1) & 2));
  dst[y + 2] = dl * grid[g + 2] * (1 - ((s >> 2) & 2));
  dst[y + 3] = dl * grid[g + 3] * (1 - ((s >> 3) & 2));
  dst[y + 4] = dl * grid[g + 4] * (1 - ((s >> 4) & 2));
  dst[y + 5] = dl * grid[g + 5] * (1 - ((s >> 5) & 2));
  dst[y + 6] = dl * grid[g + 6] * (1 - ((s >> 6) & 2));
  dst[y + 7] = dl * grid[g + 7] * (1 - ((s >> 7) & 2));
}

/** Dequantizes `blocks` IQ2_XXS super-blocks from `src` into `dst`, as ggml's `dequantize_row_iq2_xxs`. */
export function dequantizeRowIq2Xxs(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ2_XXS_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    // 8 groups of 32 weights, each 8 bytes: 4 grid indices, then a u32 holding four
    // 7-bit sign indices and the scale in its top 4 bits.
    for (let q = s + 2, end = s + BLOCK_IQ2_XXS_BYTES; q < end; q += 8, y += 32) {
      const dl = d * (0.5 + (src[q + 7] >> 4)) * 0.25;
      const signBits = src[q + 4] | (src[q + 5] << 8) | (src[q + 6] << 16) | (src[q + 7] << 24);
      group(dst, y, IQ2XXS_GRID, src[q] << 3, KSIGNS_IQ2XS[signBits & 127], dl);
      group(dst, y + 8, IQ2XXS_GRID, src[q + 1] << 3, KSIGNS_IQ2XS[(signBits >> 7) & 127], dl);
      group(dst, y + 16, IQ2XXS_GRID, src[q + 2] << 3, KSIGNS_IQ2XS[(signBits >> 14) & 127], dl);
      group(dst, y + 24, IQ2XXS_GRID, src[q + 3] << 3, KSIGNS_IQ2XS[(signBits >> 21) & 127], dl);
    }
  }
}

/** Dequantizes `blocks` IQ2_XS super-blocks from `src` into `dst`, as ggml's `dequantize_row_iq2_xs`. */
export function dequantizeRowIq2Xs(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ2_XS_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    // 32 u16 codes (9-bit grid index, 7-bit sign index), then 8 bytes of two 4-bit scales:
    // the low nibble scales the first 16 weights of a 32-weight group, the high one the rest.
    for (let ib = 0; ib < 8; ib++, y += 32) {
      const scales = src[s + 66 + ib];
      const dl1 = d * (0.5 + (scales & 0x0f)) * 0.25;
      const dl2 = d * (0.5 + (scales >> 4)) * 0.25;
      const q = s + 2 + 8 * ib;
      const c0 = src[q] | (src[q + 1] << 8);
      const c1 = src[q + 2] | (src[q + 3] << 8);
      const c2 = src[q + 4] | (src[q + 5] << 8);
      const c3 = src[q + 6] | (src[q + 7] << 8);
      group(dst, y, IQ2XS_GRID, (c0 & 511) << 3, KSIGNS_IQ2XS[c0 >> 9], dl1);
      group(dst, y + 8, IQ2XS_GRID, (c1 & 511) << 3, KSIGNS_IQ2XS[c1 >> 9], dl1);
      group(dst, y + 16, IQ2XS_GRID, (c2 & 511) << 3, KSIGNS_IQ2XS[c2 >> 9], dl2);
      group(dst, y + 24, IQ2XS_GRID, (c3 & 511) << 3, KSIGNS_IQ2XS[c3 >> 9], dl2);
    }
  }
}

/** Dequantizes `blocks` IQ2_S super-blocks from `src` into `dst`, as ggml's `dequantize_row_iq2_s`. */
export function dequantizeRowIq2S(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ2_S_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    // 32 low bytes of 10-bit grid indices, 32 sign bytes, 8 bytes of high index bits
    // (2 per group), 8 bytes of two 4-bit scales as in IQ2_XS.
    for (let ib = 0; ib < 8; ib++, y += 32) {
      const scales = src[s + 74 + ib];
      const dl1 = d * (0.5 + (scales & 0x0f)) * 0.25;
      const dl2 = d * (0.5 + (scales >> 4)) * 0.25;
      const high = src[s + 66 + ib];
      const q = s + 2 + 4 * ib;
      const signs = q + 32;
      group(dst, y, IQ2S_GRID, (src[q] | ((high << 8) & 0x300)) << 3, src[signs], dl1);
      group(dst, y + 8, IQ2S_GRID, (src[q + 1] | ((high << 6) & 0x300)) << 3, src[signs + 1], dl1);
      group(dst, y + 16, IQ2S_GRID, (src[q + 2] | ((high << 4) & 0x300)) << 3, src[signs + 2], dl2);
      group(dst, y + 24, IQ2S_GRID, (src[q + 3] | ((high << 2) & 0x300)) << 3, src[signs + 3], dl2);
    }
  }
}
