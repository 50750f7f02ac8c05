/**
 * Transcoders from the ternary types TQ1_0 and TQ2_0 into Q8_0, lossless: a 256-value
 * block `(q − 1) × d` becomes eight Q8_0 blocks with the same half `d` (copied bit for bit)
 * and codes q − 1 (−1, 0, +1, and +2 for TQ2_0's code 3). Both `to_float`s compute
 * `code × d` in float32 from the same operands, so they agree bit for bit for every
 * scale, NaN and infinities included.
 *
 * @module
 */
import { TQ1_TRITS } from "../dequant/_tq1_trits.ts";

/** Writes `d`'s two bytes (at `src[dAt]`) at the head of the eight Q8_0 blocks at `o`. */
function scales(src: Uint8Array, dAt: number, dst: Uint8Array, o: number): void {
  for (let k = 0; k < 8; k++) {
    dst[o + 34 * k] = src[dAt];
    dst[o + 34 * k + 1] = src[dAt + 1];
  }
}

/** Where value v of a 256-value block goes in its eight Q8_0 blocks (relative bytes). */
const AT = new Int32Array(256);
for (let v = 0; v < 256; v++) AT[v] = 34 * (v >> 5) + 2 + (v & 31);

/** Transcodes `blocks` TQ1_0 blocks (54 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeTq1_0ToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  const trits = TQ1_TRITS;
  const at = AT;
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 54, o += 272) {
    scales(src, s + 52, dst, o);
    // Bytes 0–31: value 32n + m is trit n of byte m; 32–47: 160 + 16n + m; 48–51:
    // 240 + 4n + m (four trits).
    for (let m = 0; m < 32; m++) {
      const t = src[s + m] * 5;
      for (let n = 0; n < 5; n++) dst[o + at[32 * n + m]] = trits[t + n];
    }
    for (let m = 0; m < 16; m++) {
      const t = src[s + 32 + m] * 5;
      for (let n = 0; n < 5; n++) dst[o + at[160 + 16 * n + m]] = trits[t + n];
    }
    for (let m = 0; m < 4; m++) {
      const t = src[s + 48 + m] * 5;
      for (let n = 0; n < 4; n++) dst[o + at[240 + 4 * n + m]] = trits[t + n];
    }
  }
}

/** Transcodes `blocks` TQ2_0 blocks (66 bytes) into 8 × `blocks` Q8_0 blocks. */
export function transcodeTq2_0ToQ8_0(src: Uint8Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 66, o += 272) {
    scales(src, s + 64, dst, o);
    // Within each 32-byte half, bits 2l..2l+1 of byte m are value 128·half + 32l + m, so
    // Q8_0 block 4·half + l takes them in byte order.
    for (let half = 0; half < 2; half++) {
      for (let m = 0; m < 32; m++) {
        const q = src[s + 32 * half + m];
        const y = o + 136 * half + 2 + m;
        dst[y] = (q & 3) - 1;
        dst[y + 34] = ((q >> 2) & 3) - 1;
        dst[y + 68] = ((q >> 4) & 3) - 1;
        dst[y + 102] = (q >> 6) - 1;
      }
    }
  }
}
