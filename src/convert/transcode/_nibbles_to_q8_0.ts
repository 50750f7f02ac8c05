/**
 * The one block layout two lossless transcoders share: a half `d` then 16 bytes of 4-bit
 * codes (weight j in the low nibble of byte j, weight j + 16 in its high nibble), each code
 * standing for a small signed level — `q − 8` for Q4_0, `kvalues_iq4nl[q]` for IQ4_NL.
 * Q8_0 holds the same `d` and the levels as its codes.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";

/**
 * The kernel that transcodes `blocks` 18-byte blocks of 4-bit codes into as many Q8_0
 * blocks (34 bytes): the half copied bit for bit, each code replaced by its level.
 *
 * @param levels The signed level of each 4-bit code (16 values in −128 … 127).
 * @returns The kernel `(src, dst, blocks)`; it allocates nothing.
 */
export function nibblesToQ8_0(
  levels: ArrayLike<number>,
): (src: Uint8Array, dst: Uint8Array, blocks: number) => void {
  // Each byte's low and high nibble's level, as a signed byte.
  const low = new Uint8Array(256);
  const high = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    low[b] = levels[b & 15];
    high[b] = levels[b >> 4];
  }
  return (src, dst, blocks) => {
    for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 18, o += 34) {
      dst[o] = src[s];
      dst[o + 1] = src[s + 1];
      for (let j = 0; j < 16; j++) {
        const q = src[s + 2 + j];
        dst[o + 2 + j] = low[q];
        dst[o + 18 + j] = high[q];
      }
    }
  };
}

/**
 * The sum of the squares of the values of `blocks` 18-byte blocks of 4-bit codes, which a
 * measured conversion needs of a lossless pair: d²·Σlevel² a block (exact as a double:
 * d·level is a float32 exactly, its square fits 53 bits, and so does the block's sum),
 * added to `sum` block by block in order. A block whose half d is infinite or NaN is left
 * out: every value in it is.
 *
 * @param levels The signed level of each 4-bit code (16 values in −128 … 127).
 * @returns The function `(src, blocks, sum)`; it allocates nothing.
 */
export function nibbleSquares(
  levels: ArrayLike<number>,
): (src: Uint8Array, blocks: number, sum: number) => number {
  // Each byte's two levels' squares, added.
  const squares = new Uint16Array(256);
  for (let b = 0; b < 256; b++) squares[b] = levels[b & 15] ** 2 + levels[b >> 4] ** 2;
  return (src, blocks, sum) => {
    for (let b = 0, s = 0; b < blocks; b++, s += 18) {
      const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
      if (d - d !== 0) continue;
      let n = 0;
      for (let j = 2; j < 18; j++) n += squares[src[s + j]];
      sum += d * d * n;
    }
    return sum;
  };
}
