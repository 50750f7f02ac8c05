/**
 * IQ1_S and IQ1_M: super-blocks of 256 weights in 32 groups of 8, each group a grid point
 * of 8 values in {-1, 0, 1} shifted by ±⅛: w = d·(2·scale + 1) × (grid[j] ± ⅛). IQ1_S
 * has a half `d`, one 3-bit scale and one shift sign per 32 weights; IQ1_M spreads its
 * half `d` over the top nibbles of its 3-bit scales (one per 16 weights) and has one
 * shift sign per group.
 *
 * Rounding: grid[j] ± ⅛ is one of ±⅛, ±⅞, ±1⅛ (at most 4 significant bits), d·(2·scale + 1)
 * has at most 11 + 4 bits, so both the sum and the product are exact in float32 and no
 * `Math.fround` is needed. ggml multiplies by a sum (never adds to a product), so FMA
 * contraction cannot change its result either.
 *
 * @module
 */
import { FP16_TO_F32 } from "./_fp16.ts";
import { IQ1S_DELTA, IQ1S_GRID } from "./_iq1_tables.ts";

/** Bytes per IQ1_S super-block. */
export const BLOCK_IQ1_S_BYTES = 50;
/** Bytes per IQ1_M super-block. */
export const BLOCK_IQ1_M_BYTES = 56;

/** Writes one group: `dl × (grid value + delta)` for the 8 values at `IQ1S_GRID[g..g+7]`. */
function group(dst: Float32Array, y: number, g: number, dl: number, delta: number): void {
  dst[y] = dl * (IQ1S_GRID[g] + delta);
  dst[y + 1] = dl * (IQ1S_GRID[g + 1] + delta);
  dst[y + 2] = dl * (IQ1S_GRID[g + 2] + delta);
  dst[y + 3] = dl * (IQ1S_GRID[g + 3] + delta);
  dst[y + 4] = dl * (IQ1S_GRID[g + 4] + delta);
  dst[y + 5] = dl * (IQ1S_GRID[g + 5] + delta);
  dst[y + 6] = dl * (IQ1S_GRID[g + 6] + delta);
  dst[y + 7] = dl * (IQ1S_GRID[g + 7] + delta);
}

/** Dequantizes `blocks` IQ1_S super-blocks from `src` into `dst`, as ggml's `dequantize_row_iq1_s`. */
export function dequantizeRowIq1S(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ1_S_BYTES) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    // 32 low bytes of 11-bit grid indices, then per 32 weights a u16: four 3-bit high
    // index parts, the 3-bit scale, and the shift's sign in the top bit.
    for (let ib = 0; ib < 8; ib++, y += 32) {
      const h = src[s + 34 + 2 * ib] | (src[s + 35 + 2 * ib] << 8);
      const dl = d * (2 * ((h >> 12) & 7) + 1);
      const delta = IQ1S_DELTA * (1 - ((h >> 14) & 2)); // negative when bit 15 is set
      const q = s + 2 + 4 * ib;
      group(dst, y, (src[q] | ((h << 8) & 0x700)) << 3, dl, delta);
      group(dst, y + 8, (src[q + 1] | ((h << 5) & 0x700)) << 3, dl, delta);
      group(dst, y + 16, (src[q + 2] | ((h << 2) & 0x700)) << 3, dl, delta);
      group(dst, y + 24, (src[q + 3] | ((h >> 1) & 0x700)) << 3, dl, delta);
    }
  }
}

/** Dequantizes `blocks` IQ1_M super-blocks from `src` into `dst`, as ggml's `dequantize_row_iq1_m`. */
export function dequantizeRowIq1M(src: Uint8Array, dst: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, y = 0; b < blocks; b++, s += BLOCK_IQ1_M_BYTES) {
    // 32 low bytes of 11-bit grid indices, 16 bytes of (3 high index bits, shift sign)
    // nibbles, one per group, then 4 u16 of four 3-bit scales each whose top nibbles
    // together form the half `d`.
    const sc = s + 48;
    const d = FP16_TO_F32[
      (src[sc + 1] >> 4) | (src[sc + 3] & 0xf0) | ((src[sc + 5] & 0xf0) << 4) |
      ((src[sc + 7] & 0xf0) << 8)
    ];
    for (let ib = 0; ib < 8; ib++, y += 32) {
      const scales = (src[sc + 2 * (ib >> 1)] | (src[sc + 1 + 2 * (ib >> 1)] << 8)) >>
        (6 * (ib & 1));
      const dl1 = d * (2 * (scales & 7) + 1);
      const dl2 = d * (2 * ((scales >> 3) & 7) + 1);
      const q = s + 4 * ib;
      // One nibble per group: 3 high index bits, then the shift's sign.
      const high = src[s + 32 + 2 * ib] | (src[s + 33 + 2 * ib] << 8);
      for (let l = 0; l < 4; l++) {
        const nibble = (high >> (4 * l)) & 0x0f;
        const delta = IQ1S_DELTA * (1 - ((nibble >> 2) & 2)); // negative when bit 3 is set
        group(dst, y + 8 * l, (src[q + l] | ((nibble & 7) << 8)) << 3, l < 2 ? dl1 : dl2, delta);
      }
    }
  }
}
