/**
 * Transcoders from the one-scale integer types into Q8_0, all lossless: each of these
 * blocks is `(q − offset) × d` with a half `d` and small integer codes, which Q8_0 holds as
 * the same `d` (copied bit for bit) and the signed codes. Both `to_float`s compute
 * `code × d` in float32 from the same operands, so they agree bit for bit for every
 * scale, NaN and infinities included.
 *
 * - Q4_0 (32 values, q − 8 ∈ [−8, 7]) and Q5_0 (32 values, q − 16 ∈ [−16, 15]): one Q8_0
 *   block each.
 * - Q1_0 (128 values, ±d): four Q8_0 blocks with codes ±1.
 * - Q2_0 (64 values, q − 1 ∈ [−1, 2]): two Q8_0 blocks.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { nibbleSquares, nibblesToQ8_0 } from "./_nibbles_to_q8_0.ts";

const Q4_0_LEVELS = Array.from({ length: 16 }, (_, q) => q - 8);

/** Transcodes `blocks` Q4_0 blocks (18 bytes) into as many Q8_0 blocks (34 bytes). */
export const transcodeQ4_0ToQ8_0: (src: Uint8Array, dst: Uint8Array, blocks: number) => void =
  nibblesToQ8_0(Q4_0_LEVELS);

/** `sum` plus Σx² over the finite values of `blocks` Q4_0 blocks (see `nibbleSquares`). */
export const squaresQ4_0: (src: Uint8Array, blocks: number, sum: number) => number = nibbleSquares(
  Q4_0_LEVELS,
);

/** Transcodes `blocks` Q5_0 blocks (22 bytes) into as many Q8_0 blocks (34 bytes). */
export function transcodeQ5_0ToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 22, o += 34) {
    dst[o] = src[s];
    dst[o + 1] = src[s + 1];
    // Bit j of qh is the fifth bit of value j; value j and j + 16 share nibble byte j.
    const qh = src[s + 2] | (src[s + 3] << 8) | (src[s + 4] << 16) | (src[s + 5] << 24);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 6 + j];
      dst[o + 2 + j] = ((q & 15) | (((qh >>> j) & 1) << 4)) - 16;
      dst[o + 18 + j] = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16;
    }
  }
}

/**
 * `sum` plus Σx² over the finite values of `blocks` Q5_0 blocks, d²·Σ(q − 16)² a block
 * added in order (exact terms, as `nibbleSquares`).
 */
export function squaresQ5_0(src: Uint8Array, blocks: number, sum: number): number {
  for (let b = 0, s = 0; b < blocks; b++, s += 22) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    if (d - d !== 0) continue;
    const qh = src[s + 2] | (src[s + 3] << 8) | (src[s + 4] << 16) | (src[s + 5] << 24);
    let n = 0;
    for (let j = 0; j < 16; j++) {
      const q = src[s + 6 + j];
      const lo = ((q & 15) | (((qh >>> j) & 1) << 4)) - 16;
      const hi = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16;
      n += lo * lo + hi * hi;
    }
    sum += d * d * n;
  }
  return sum;
}

/** Transcodes `blocks` Q1_0 blocks (18 bytes, 128 values) into 4 × `blocks` Q8_0 blocks. */
export function transcodeQ1_0ToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 18) {
    for (let k = 0; k < 4; k++, o += 34) {
      dst[o] = src[s];
      dst[o + 1] = src[s + 1];
      // Sign bits, least significant first: set is +1, clear is −1 (0xff).
      for (let j = 0; j < 4; j++) {
        const q = src[s + 2 + 4 * k + j];
        for (let i = 0; i < 8; i++) dst[o + 2 + 8 * j + i] = ((q >> i) & 1) * 2 - 1;
      }
    }
  }
}

/** Transcodes `blocks` Q2_0 blocks (18 bytes, 64 values) into 2 × `blocks` Q8_0 blocks. */
export function transcodeQ2_0ToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 18) {
    for (let k = 0; k < 2; k++, o += 34) {
      dst[o] = src[s];
      dst[o + 1] = src[s + 1];
      // Four 2-bit codes a byte, lowest bits first: w = (q − 1) × d.
      for (let j = 0; j < 8; j++) {
        const q = src[s + 2 + 8 * k + j];
        const y = o + 2 + 4 * j;
        dst[y] = (q & 3) - 1;
        dst[y + 1] = ((q >> 2) & 3) - 1;
        dst[y + 2] = ((q >> 4) & 3) - 1;
        dst[y + 3] = (q >> 6) - 1;
      }
    }
  }
}
