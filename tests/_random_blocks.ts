/**
 * Random ggml blocks for the kernel equivalence tests: random quant bytes, and at each of a
 * type's half-scale offsets, with equal odds, a realistic small normal, any 16-bit pattern,
 * or one of {@linkcode EDGE_HALVES}.
 */

/**
 * Edge halves: ±0, the smallest and largest subnormals, the smallest and largest normals,
 * ±Inf, quiet and signalling NaNs with payloads.
 */
export const EDGE_HALVES: readonly number[] = [
  0x0000,
  0x8000,
  0x0001,
  0x8001,
  0x03ff,
  0x83ff,
  0x0400,
  0x7bff,
  0xfbff,
  0x7c00,
  0xfc00,
  0x7e00,
  0xfe00,
  0x7c01,
  0x7dff,
  0xfe5a,
];

/** A seeded xorshift32 generator of unsigned 32-bit integers. */
export function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/**
 * About `bytes` bytes of whole random blocks, `offset` bytes into a fresh buffer (so the
 * result can start at any byte offset).
 *
 * @param bytesPerBlock The type's block size in bytes.
 * @param halves The byte offsets of the block's half scales.
 * @param options The byte count, the seed and the offset.
 */
export function randomBlocks(
  bytesPerBlock: number,
  halves: readonly number[],
  { bytes, seed, offset = 0 }: { bytes: number; seed: number; offset?: number },
): Uint8Array {
  const next = random(seed);
  const length = Math.floor(bytes / bytesPerBlock) * bytesPerBlock;
  const out = new Uint8Array(length + offset).subarray(offset);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  for (let at = 0; at < length; at += bytesPerBlock) {
    for (const h of halves) {
      const pick = next() % 3;
      const half = pick === 0
        ? ((next() & 1) << 15) | ((3 + (next() % 10)) << 10) | (next() & 0x3ff)
        : pick === 1
        ? next() & 0xffff
        : EDGE_HALVES[next() % EDGE_HALVES.length];
      out[at + h] = half & 0xff;
      out[at + h + 1] = half >> 8;
    }
  }
  return out;
}
