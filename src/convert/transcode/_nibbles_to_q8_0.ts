/**
 * The one block layout two lossless transcoders share: a half `d` then 16 bytes of 4-bit
 * codes (weight j in the low nibble of byte j, weight j + 16 in its high nibble), each code
 * standing for a small signed level — `q − 8` for Q4_0, `kvalues_iq4nl[q]` for IQ4_NL.
 * Q8_0 holds the same `d` and the levels as its codes.
 *
 * @module
 */

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
