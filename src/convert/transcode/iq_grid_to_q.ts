/**
 * Transcoders from the grid types with one scale per 32 values into Q8_0 (and, where the
 * codes fit ±15 — IQ1_S and IQ3_S — into Q5_0, at 5.5 bits per weight instead of 8.5). Every value of
 * these types is `s × k`: s = d × (an odd integer M) × a power of two, and k a small
 * integer (a grid magnitude with its sign, or 8·grid ± 1 for the ⅛-shifted IQ1 grids),
 * so Q8_0 holds a group as a half scale and codes (see `writeQ8_0Block()`):
 *
 * | source | group value | codes k | exact when |
 * | --- | --- | --- | --- |
 * | IQ1_S | d·M/8 × (8g ± 1), M ≤ 15 | ±1, ±7, ±9 | d·M/8 is a half, or f·M fits: 9·f ≤ 127 |
 * | IQ1_M | d/8 × M × (8g ± 1), M per 16 values | M·(8g ± 1) ≤ 135 | gcd(M₁, M₂)·d/8 is a half (and no 15·9) |
 * | IQ2_XXS | d·M/8 × ±g, g ∈ {8, 25, 43}, M ≤ 31 | ±g | d·M/8 is a half |
 * | IQ3_XXS | d·M/4 × ±g, g ∈ {4 … 62}, M ≤ 31 | ±g | d·M/4 is a half |
 * | IQ3_S | d·M × ±g, g odd ≤ 15, M ≤ 31 | ±g | d·M/f is a half for some f dividing M·2^a with f·max g ≤ 127 |
 *
 * Otherwise the scale is rounded once to a half (2^-11 relative). These types' own
 * `to_float` is exact (every product fits float32), so an exact scale gives the source's
 * values bit for bit, signed zeros, infinities and NaN included.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { IQ1S_GRID } from "../dequant/_iq1_tables.ts";
import { IQ2XXS_GRID, KSIGNS_IQ2XS } from "../dequant/_iq2_tables.ts";
import { IQ3S_GRID, IQ3XXS_GRID } from "../dequant/_iq3_tables.ts";
import { BLOCK_CODES, writeQ5_0Block, writeQ8_0Block } from "./_block_scale.ts";

/** Writes one 32-value target block from `BLOCK_CODES` (see `_block_scale.ts`). */
type BlockWriter = typeof writeQ8_0Block;

/** Codes 8·grid + delta·8 for the 8 IQ1 grid values at `IQ1S_GRID[g..g+7]`, times `mult`. */
function iq1Group(at: number, g: number, delta: number, mult: number): void {
  for (let j = 0; j < 8; j++) BLOCK_CODES[at + j] = (8 * IQ1S_GRID[g + j] + delta) * mult;
}

/** Codes ±grid[g..g+n−1] with bit (first + j) of `signs` negating value j, at `at`. */
function signedGroup(
  at: number,
  grid: Uint8Array,
  g: number,
  n: number,
  signs: number,
  first: number,
): void {
  for (let j = 0; j < n; j++) {
    const v = grid[g + j];
    BLOCK_CODES[at + j] = (signs >> (first + j)) & 1 ? -v : v;
  }
}

/** IQ1_S super-blocks into 32-value blocks of `bytes` bytes written by `write`. */
function iq1S(src: Uint8Array, dst: Uint8Array, blocks: number, write: BlockWriter, bytes: number) {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 50) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    for (let ib = 0; ib < 8; ib++, o += bytes) {
      const h = src[s + 34 + 2 * ib] | (src[s + 35 + 2 * ib] << 8);
      const delta = h & 0x8000 ? -1 : 1;
      const q = s + 2 + 4 * ib;
      for (let l = 0; l < 4; l++) {
        iq1Group(8 * l, (src[q + l] | (((h >> (3 * l)) & 7) << 8)) << 3, delta, 1);
      }
      write(dst, o, d, 2 * ((h >> 12) & 7) + 1, 0.125);
    }
  }
}

/** Transcodes `blocks` IQ1_S super-blocks (50 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeIq1SToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  iq1S(src, dst, blocks, writeQ8_0Block, 34);
}

/** Transcodes `blocks` IQ1_S super-blocks (50 bytes) into 8 × `blocks` Q5_0 blocks. */
export function transcodeIq1SToQ5_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  iq1S(src, dst, blocks, writeQ5_0Block, 22);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** gcd(a, b) for the odd IQ1_M multipliers a, b ≤ 15, at 16a + b. */
const GCD = new Uint8Array(256);
for (let a = 0; a < 16; a++) for (let b = 0; b < 16; b++) GCD[16 * a + b] = gcd(a, b);

/** Transcodes `blocks` IQ1_M super-blocks (56 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeIq1MToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 56) {
    const sc = s + 48;
    const d = FP16_TO_F32[
      (src[sc + 1] >> 4) | (src[sc + 3] & 0xf0) | ((src[sc + 5] & 0xf0) << 4) |
      ((src[sc + 7] & 0xf0) << 8)
    ];
    for (let ib = 0; ib < 8; ib++, o += 34) {
      const scales = (src[sc + 2 * (ib >> 1)] | (src[sc + 1 + 2 * (ib >> 1)] << 8)) >>
        (6 * (ib & 1));
      const m1 = 2 * (scales & 7) + 1;
      const m2 = 2 * ((scales >> 3) & 7) + 1;
      const common = GCD[16 * m1 + m2];
      const q = s + 4 * ib;
      const high = src[s + 32 + 2 * ib] | (src[s + 33 + 2 * ib] << 8);
      for (let l = 0; l < 4; l++) {
        const nibble = (high >> (4 * l)) & 15;
        const g = (src[q + l] | ((nibble & 7) << 8)) << 3;
        iq1Group(8 * l, g, nibble & 8 ? -1 : 1, (l < 2 ? m1 : m2) / common);
      }
      writeQ8_0Block(dst, o, d, common, 0.125);
    }
  }
}

/** Transcodes `blocks` IQ2_XXS super-blocks (66 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeIq2XxsToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 66) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    for (let q = s + 2; q < s + 66; q += 8, o += 34) {
      const signBits = src[q + 4] | (src[q + 5] << 8) | (src[q + 6] << 16) | (src[q + 7] << 24);
      for (let l = 0; l < 4; l++) {
        const signs = KSIGNS_IQ2XS[(signBits >> (7 * l)) & 127];
        signedGroup(8 * l, IQ2XXS_GRID, src[q + l] << 3, 8, signs, 0);
      }
      writeQ8_0Block(dst, o, d, 2 * (src[q + 7] >> 4) + 1, 0.125);
    }
  }
}

/** Transcodes `blocks` IQ3_XXS super-blocks (98 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeIq3XxsToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 98) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    for (let ib = 0; ib < 8; ib++, o += 34) {
      const a = s + 66 + 4 * ib;
      const signBits = src[a] | (src[a + 1] << 8) | (src[a + 2] << 16) | (src[a + 3] << 24);
      const q = s + 2 + 8 * ib;
      for (let l = 0; l < 4; l++) {
        const signs = KSIGNS_IQ2XS[(signBits >> (7 * l)) & 127];
        signedGroup(8 * l, IQ3XXS_GRID, src[q + 2 * l] << 2, 4, signs, 0);
        signedGroup(8 * l + 4, IQ3XXS_GRID, src[q + 2 * l + 1] << 2, 4, signs, 4);
      }
      writeQ8_0Block(dst, o, d, 2 * (src[a + 3] >> 4) + 1, 0.25);
    }
  }
}

/** IQ3_S super-blocks into 32-value blocks of `bytes` bytes written by `write`. */
function iq3S(src: Uint8Array, dst: Uint8Array, blocks: number, write: BlockWriter, bytes: number) {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 110) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    for (let ib = 0; ib < 8; ib++, o += bytes) {
      const high = src[s + 66 + ib];
      const q = s + 2 + 8 * ib;
      const signs = s + 74 + 4 * ib;
      for (let l = 0; l < 4; l++) {
        const g1 = (src[q + 2 * l] | ((high << (8 - 2 * l)) & 256)) << 2;
        const g2 = (src[q + 2 * l + 1] | ((high << (7 - 2 * l)) & 256)) << 2;
        signedGroup(8 * l, IQ3S_GRID, g1, 4, src[signs + l], 0);
        signedGroup(8 * l + 4, IQ3S_GRID, g2, 4, src[signs + l], 4);
      }
      const scale = (src[s + 106 + (ib >> 1)] >> (4 * (ib & 1))) & 15;
      write(dst, o, d, 2 * scale + 1, 1);
    }
  }
}

/** Transcodes `blocks` IQ3_S super-blocks (110 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeIq3SToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  iq3S(src, dst, blocks, writeQ8_0Block, 34);
}

/** Transcodes `blocks` IQ3_S super-blocks (110 bytes) into 8 × `blocks` Q5_0 blocks. */
export function transcodeIq3SToQ5_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  iq3S(src, dst, blocks, writeQ5_0Block, 22);
}
