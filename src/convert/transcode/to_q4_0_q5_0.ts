/**
 * Lossless transcoders into the narrow one-scale types: blocks `code × d` whose codes fit
 * Q4_0's −8 … 7 (Q1_0's ±1, Q2_0's and TQ2_0's −1 … 2, TQ1_0's trits) become Q4_0 blocks,
 * and Q4_0 (codes −8 … 7) becomes Q5_0 (−16 … 15) — the same half `d`, copied bit for bit,
 * and the same codes. Both `to_float`s compute `code × d` in float32 from the same
 * operands, so they agree for every scale, NaN and infinities included. Q4_0 costs 4.5
 * bits per weight against Q8_0's 8.5.
 *
 * @module
 */
import { TQ1_TRITS } from "../dequant/_tq1_trits.ts";

/** Codes (−8 … 7) of up to 256 values, reused by every call. */
const CODES = new Int8Array(256);

/** Writes `n` Q4_0 blocks at `dst[o]` from `CODES`, each with the half at `src[dAt]`. */
function packQ4_0(src: Uint8Array, dAt: number, dst: Uint8Array, o: number, n: number): void {
  const codes = CODES;
  for (let k = 0; k < n; k++, o += 18) {
    dst[o] = src[dAt];
    dst[o + 1] = src[dAt + 1];
    for (let j = 0, c = 32 * k; j < 16; j++) {
      dst[o + 2 + j] = (codes[c + j] + 8) | ((codes[c + j + 16] + 8) << 4);
    }
  }
}

/** Transcodes `blocks` Q1_0 blocks (18 bytes, 128 values) into 4 × `blocks` Q4_0 blocks. */
export function transcodeQ1_0ToQ4_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0; b < blocks; b++, s += 18) {
    for (let j = 0; j < 16; j++) {
      const q = src[s + 2 + j];
      for (let i = 0; i < 8; i++) CODES[8 * j + i] = ((q >> i) & 1) * 2 - 1;
    }
    packQ4_0(src, s, dst, 72 * b, 4);
  }
}

/** Transcodes `blocks` Q2_0 blocks (18 bytes, 64 values) into 2 × `blocks` Q4_0 blocks. */
export function transcodeQ2_0ToQ4_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0; b < blocks; b++, s += 18) {
    for (let j = 0; j < 16; j++) {
      const q = src[s + 2 + j];
      for (let i = 0; i < 4; i++) CODES[4 * j + i] = ((q >> (2 * i)) & 3) - 1;
    }
    packQ4_0(src, s, dst, 36 * b, 2);
  }
}

/** Transcodes `blocks` TQ1_0 blocks (54 bytes) into 8 × `blocks` Q4_0 blocks. */
export function transcodeTq1_0ToQ4_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  const trits = TQ1_TRITS;
  for (let b = 0, s = 0; b < blocks; b++, s += 54) {
    // Value 32n + m is trit n of byte m (bytes 0–31), 160 + 16n + m of byte 32 + m, and
    // 240 + 4n + m of byte 48 + m (four trits).
    for (let m = 0; m < 32; m++) {
      for (let n = 0; n < 5; n++) CODES[32 * n + m] = trits[src[s + m] * 5 + n];
    }
    for (let m = 0; m < 16; m++) {
      for (let n = 0; n < 5; n++) CODES[160 + 16 * n + m] = trits[src[s + 32 + m] * 5 + n];
    }
    for (let m = 0; m < 4; m++) {
      for (let n = 0; n < 4; n++) CODES[240 + 4 * n + m] = trits[src[s + 48 + m] * 5 + n];
    }
    packQ4_0(src, s + 52, dst, 144 * b, 8);
  }
}

/** Transcodes `blocks` TQ2_0 blocks (66 bytes) into 8 × `blocks` Q4_0 blocks. */
export function transcodeTq2_0ToQ4_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0; b < blocks; b++, s += 66) {
    // Bits 2l..2l+1 of byte m of each 32-byte half are value 128·half + 32l + m.
    for (let half = 0; half < 2; half++) {
      for (let m = 0; m < 32; m++) {
        const q = src[s + 32 * half + m];
        for (let l = 0; l < 4; l++) CODES[128 * half + 32 * l + m] = ((q >> (2 * l)) & 3) - 1;
      }
    }
    packQ4_0(src, s + 64, dst, 144 * b, 8);
  }
}

/** Transcodes `blocks` Q4_0 blocks (18 bytes) into as many Q5_0 blocks (22 bytes). */
export function transcodeQ4_0ToQ5_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 18, o += 22) {
    dst[o] = src[s];
    dst[o + 1] = src[s + 1];
    // q5 = q4 + 8: the nibble is q4 ^ 8, the fifth bit set where q4 ≥ 8.
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q = src[s + 2 + j];
      dst[o + 6 + j] = q ^ 0x88;
      qh |= ((q >> 3) & 1) << j;
      qh |= (q >> 7) << (j + 16);
    }
    dst[o + 2] = qh & 255;
    dst[o + 3] = (qh >> 8) & 255;
    dst[o + 4] = (qh >> 16) & 255;
    dst[o + 5] = (qh >>> 24) & 255;
  }
}
