/**
 * Q3_K into Q8_0. A Q3_K super-block is sixteen 16-value runs `d·(sc − 32) × (q − 4·h̄)`
 * with one half `d`, 6-bit scales sc and 3-bit codes (−4 … 3). Two runs make a Q8_0 block
 * of 32 under the common scale d·g, g = gcd(|sc₁ − 32|, |sc₂ − 32|), with codes
 * ((sc − 32)/g)·(q − 4·h̄): at most 32·4 = 128 in magnitude. Every code but 128 fits a
 * signed byte, and the source's own products are exact, so the values are equal as
 * numbers wherever d·g is a half (always for g = 1; see `writeQ8_0Block()` otherwise) —
 * but not always as bits: where a factor is zero the source keeps the sign of the other
 * (d·(sc − 32) × 0 is −0 for a negative scale) and Q8_0's 0 × d does not. A block needing
 * the code 128 (sc − 32 = −32 beside an odd scale) is requantized to a scale of d·128/127
 * with rounded codes. Not lossless, then, but equal values on every other block.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { BLOCK_CODES, writeQ8_0Block } from "./_block_scale.ts";

/** The sixteen signed scales sc − 32 of the block being read, reused by every call. */
const SCALES = new Int32Array(16);

/** gcd(a, b) for 0 ≤ a, b ≤ 32, at 33a + b. */
const GCD = new Uint8Array(33 * 33);
for (let a = 0; a <= 32; a++) {
  for (let b = 0; b <= 32; b++) {
    let x = a, y = b;
    while (y !== 0) {
      const r = x % y;
      x = y;
      y = r;
    }
    GCD[33 * a + b] = x;
  }
}

/** Transcodes `blocks` Q3_K super-blocks (110 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeQ3KToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  const scales = SCALES;
  const codes = BLOCK_CODES;
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 110) {
    const d = FP16_TO_F32[src[s + 108] | (src[s + 109] << 8)];
    // Scale i: low 4 bits in byte 96 + i (i < 8, low nibble) or 96 + i − 8 (high nibble),
    // top 2 bits in byte 104 + (i & 3) at bit 2·(i >> 2).
    for (let i = 0; i < 16; i++) {
      const low = i < 8 ? src[s + 96 + i] & 15 : src[s + 88 + i] >> 4;
      const high = (src[s + 104 + (i & 3)] >> (2 * (i >> 2))) & 3;
      scales[i] = (low | (high << 4)) - 32;
    }
    // Run k (0–3) of half h: value i (0–31) has its 2-bit code at bits 2k of byte
    // 32 + 32h + i and its high bit at bit 4h + k of byte i; scales 8h + 2k (values
    // 0–15) and 8h + 2k + 1 (16–31).
    for (let h = 0; h < 2; h++) {
      for (let k = 0; k < 4; k++, o += 34) {
        const m1 = scales[8 * h + 2 * k];
        const m2 = scales[8 * h + 2 * k + 1];
        const g = GCD[33 * (m1 < 0 ? -m1 : m1) + (m2 < 0 ? -m2 : m2)];
        const f1 = g === 0 ? 0 : m1 / g;
        const f2 = g === 0 ? 0 : m2 / g;
        const q = s + 32 + 32 * h;
        const bit = 4 * h + k;
        for (let i = 0; i < 32; i++) {
          const c = ((src[q + i] >> (2 * k)) & 3) - (((src[s + i] >> bit) & 1) === 0 ? 4 : 0);
          codes[i] = (i < 16 ? f1 : f2) * c;
        }
        writeQ8_0Block(dst, o, d, g, 1);
      }
    }
  }
}
