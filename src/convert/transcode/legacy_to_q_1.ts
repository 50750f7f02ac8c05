/**
 * Transcoders between the 32-value integer types, into the ones with a minimum
 * (`w = q × d + m`):
 *
 * - Q4_1 → Q5_1: lossless — the same `d`, `m` and codes (fifth bits zero); both
 *   `to_float`s compute `q × d + m` in float32 from the same operands.
 * - Q4_0 → Q4_1 and Q5_0 → Q5_1: `(q − 8) × d` is `q × d + m` with the same `d` and codes
 *   and m = −8·d (−16·d for Q5_0), a half exactly while |d| ≤ 8188 (4094). The values are
 *   then equal as numbers, but not always bit for bit: where q = 8 (16) and d is negative
 *   the source gives −0 and the target q·d + m = +0. A larger |d| saturates m at ∓65504;
 *   an infinite or NaN d gives NaN everywhere (∞ − ∞). So these two are not marked
 *   lossless.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { saturatingHalfBits } from "./_half.ts";

/** Transcodes `blocks` Q4_0 blocks (18 bytes) into as many Q4_1 blocks (20 bytes). */
export function transcodeQ4_0ToQ4_1(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 18, o += 20) {
    const m = saturatingHalfBits(-8 * FP16_TO_F32[src[s] | (src[s + 1] << 8)]);
    dst[o] = src[s];
    dst[o + 1] = src[s + 1];
    dst[o + 2] = m & 255;
    dst[o + 3] = m >> 8;
    for (let j = 2; j < 18; j++) dst[o + 2 + j] = src[s + j];
  }
}

/** Transcodes `blocks` Q5_0 blocks (22 bytes) into as many Q5_1 blocks (24 bytes). */
export function transcodeQ5_0ToQ5_1(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 22, o += 24) {
    const m = saturatingHalfBits(-16 * FP16_TO_F32[src[s] | (src[s + 1] << 8)]);
    dst[o] = src[s];
    dst[o + 1] = src[s + 1];
    dst[o + 2] = m & 255;
    dst[o + 3] = m >> 8;
    for (let j = 2; j < 22; j++) dst[o + 2 + j] = src[s + j];
  }
}

/** Transcodes `blocks` Q4_1 blocks (20 bytes) into as many Q5_1 blocks (24 bytes). */
export function transcodeQ4_1ToQ5_1(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 20, o += 24) {
    for (let j = 0; j < 4; j++) dst[o + j] = src[s + j];
    dst[o + 4] =
      dst[o + 5] =
      dst[o + 6] =
      dst[o + 7] =
        0;
    for (let j = 4; j < 20; j++) dst[o + 4 + j] = src[s + j];
  }
}
