/**
 * MXFP4 into Q8_0 and Q5_0. An MXFP4 block is 32 values `level × 2^(e − 128)`: E2M1 levels doubled
 * to the integers 0, ±1, ±2, ±3, ±4, ±6, ±8, ±12 and a power-of-two scale from an E8M0
 * byte e (2^-128 … 2^127, never NaN or infinite in ggml's reading). Q8_0 holds it as a
 * power-of-two half scale 2^k and codes `level × 2^(e − 128 − k)`: exact whenever some k
 * in the halfs' range [−24, 15] leaves every code an integer of at most 127 in magnitude —
 * for every block with e − 128 in [−24, 18], more where the levels allow (levels ≤ 1 reach
 * 2^21; common powers of two in the levels reach below 2^-24). Blocks outside (all values
 * below about 2^-21, or a level past 2^22 with Q8_0's largest value 65504 × 127 ≈ 2^23)
 * round their scale to a half or saturate (see `writeQ8_0Block()`).
 *
 * @module
 */
import { E8M0_TO_F32_HALF, KVALUES_FP4 } from "../dequant/_fp4_tables.ts";
import { BLOCK_CODES, writeQ5_0Block, writeQ8_0Block } from "./_block_scale.ts";

/** Transcodes `blocks` MXFP4 blocks (17 bytes) into as many Q8_0 blocks (34 bytes). */
export function transcodeMxfp4ToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  const codes = BLOCK_CODES;
  const levels = KVALUES_FP4;
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 17, o += 34) {
    for (let j = 0; j < 16; j++) {
      const q = src[s + 1 + j];
      codes[j] = levels[q & 15];
      codes[j + 16] = levels[q >> 4];
    }
    writeQ8_0Block(dst, o, E8M0_TO_F32_HALF[src[s]], 1, 1);
  }
}

/**
 * Transcodes `blocks` MXFP4 blocks (17 bytes) into as many Q5_0 blocks (22 bytes). Q5_0's
 * codes −16 … 15 hold the levels (up to ±12) as they are, so a block is exact for every
 * e − 128 in [−24, 15] (the halfs' powers of two), further where its levels share a power
 * of two; outside, as into Q8_0.
 */
export function transcodeMxfp4ToQ5_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  const codes = BLOCK_CODES;
  const levels = KVALUES_FP4;
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 17, o += 22) {
    for (let j = 0; j < 16; j++) {
      const q = src[s + 1 + j];
      codes[j] = levels[q & 15];
      codes[j + 16] = levels[q >> 4];
    }
    writeQ5_0Block(dst, o, E8M0_TO_F32_HALF[src[s]], 1, 1);
  }
}
