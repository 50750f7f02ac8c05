/**
 * Transcoders from Q4_K and Q5_K into Q4_1 and Q5_1. Each 32-value group of a K
 * super-block is `(d·sc) × q − dmin·mn` with 6-bit sc and mn and 4- or 5-bit q, the form of
 * a Q4_1 / Q5_1 block `D × q + M`: the same codes, D = half(d·sc), M = half(−dmin·mn).
 * d·sc and dmin·mn have up to 17 significant bits, so each is rounded once to a half unless
 * it fits one; where both fit, the target's `to_float` gives the source's bit for bit
 * (x − y and x + (−y) round alike, signed zeros included). Per value the added error is at
 * most 2^-11·(|d·sc·q| + |dmin·mn|) plus float32 rounding (and 2^-25·(q + 1) for scales
 * below the normal halfs). A product past 65504 saturates at ±65504 (the block cannot be
 * held); an infinite or NaN d or dmin carries over as in the source's arithmetic.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { saturatingHalfBits } from "./_half.ts";

/** Scale j (0–7) of the 12 packed K-quant scale bytes at `at` (ggml's `get_scale_min_k4`). */
function kScale(src: Uint8Array, at: number, j: number): number {
  return j < 4 ? src[at + j] & 63 : (src[at + j + 4] & 15) | ((src[at + j - 4] >> 6) << 4);
}

/** Minimum j (0–7) of the 12 packed K-quant scale bytes at `at`. */
function kMin(src: Uint8Array, at: number, j: number): number {
  return j < 4 ? src[at + j + 4] & 63 : (src[at + j + 4] >> 4) | ((src[at + j] >> 6) << 4);
}

/** Writes the half scale and minimum of group j at `dst[o..o+3]`. */
function writeScales(
  dst: Uint8Array,
  o: number,
  src: Uint8Array,
  s: number,
  d: number,
  dmin: number,
  j: number,
): void {
  const h = saturatingHalfBits(d * kScale(src, s + 4, j));
  const m = saturatingHalfBits(-(dmin * kMin(src, s + 4, j)));
  dst[o] = h & 255;
  dst[o + 1] = h >> 8;
  dst[o + 2] = m & 255;
  dst[o + 3] = m >> 8;
}

/** Transcodes `blocks` Q4_K super-blocks (144 bytes) into 8 × `blocks` Q4_1 blocks. */
export function transcodeQ4KToQ4_1(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 144) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const dmin = FP16_TO_F32[src[s + 2] | (src[s + 3] << 8)];
    // Group pair g: 32 bytes, group 2g in the low nibbles, 2g + 1 in the high ones, value
    // l in byte l. Q4_1 wants value i in the low nibble of byte i, i + 16 in its high one.
    for (let g = 0; g < 4; g++) {
      const q = s + 16 + 32 * g;
      writeScales(dst, o, src, s, d, dmin, 2 * g);
      for (let i = 0; i < 16; i++) {
        dst[o + 4 + i] = (src[q + i] & 15) | ((src[q + i + 16] & 15) << 4);
      }
      o += 20;
      writeScales(dst, o, src, s, d, dmin, 2 * g + 1);
      for (let i = 0; i < 16; i++) {
        dst[o + 4 + i] = (src[q + i] >> 4) | (src[q + i + 16] & 0xf0);
      }
      o += 20;
    }
  }
}

/** Transcodes `blocks` Q5_K super-blocks (176 bytes) into 8 × `blocks` Q5_1 blocks. */
export function transcodeQ5KToQ5_1(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 176) {
    const d = FP16_TO_F32[src[s] | (src[s + 1] << 8)];
    const dmin = FP16_TO_F32[src[s + 2] | (src[s + 3] << 8)];
    // As Q4_K, with the fifth bit of value l of group j in bit j of byte 16 + l.
    for (let j = 0; j < 8; j++, o += 24) {
      const q = s + 48 + 32 * (j >> 1);
      const nibble = 4 * (j & 1);
      writeScales(dst, o, src, s, d, dmin, j);
      let qh = 0;
      for (let l = 31; l >= 0; l--) qh = (qh << 1) | ((src[s + 16 + l] >> j) & 1);
      dst[o + 4] = qh & 255;
      dst[o + 5] = (qh >> 8) & 255;
      dst[o + 6] = (qh >> 16) & 255;
      dst[o + 7] = (qh >>> 24) & 255;
      for (let i = 0; i < 16; i++) {
        dst[o + 8 + i] = ((src[q + i] >> nibble) & 15) | (((src[q + i + 16] >> nibble) & 15) << 4);
      }
    }
  }
}
