/**
 * Writing one Q8_0 block whose 32 values are `s × k[i]`: `s` a product of a half and small
 * integers (exact as a double), `k` small integers. The scale chooser behind every
 * transcoder into Q8_0 that has to compute a scale.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { halfBits, saturatingHalfBits } from "./_half.ts";

/** The 32 integer codes `k` of the block the caller writes next; reused by every call. */
export const Q8_CODES: Int32Array = new Int32Array(32);

/**
 * For each multiplier m in 0–64, the factors f = g·2^a (g a divisor of m, a ≥ 0) up to 127,
 * ascending: the ways to move part of the scale into the codes and keep both exact.
 */
const FACTORS: Int32Array[] = [];
for (let m = 0; m <= 64; m++) {
  const set = new Set<number>();
  for (let g = 1; g <= Math.max(m, 1); g++) {
    if (m !== 0 && m % g !== 0) continue;
    for (let f = g; f <= 127; f *= 2) set.add(f);
  }
  FACTORS.push(Int32Array.from([...set].sort((a, b) => a - b)));
}

/**
 * Writes the Q8_0 block at `dst[at..at+33]` holding `s·k[i]`, s = d·mult·pow2 and k =
 * {@linkcode Q8_CODES}. It picks a half scale D and an integer factor f with codes f·k[i]
 * (|f·k[i]| ≤ 127) so that D·f = s exactly whenever some f allows it — then the block's
 * values are the source's bit for bit; else the f whose D = half(s/f) lands nearest s
 * (one rounding of the scale to a half, |D·f − s| ≤ 2^-11·|s|, or 2^-25·f below the
 * normal halfs). A scale past the largest half even for the largest f saturates at
 * ±65504. A zero, infinite or NaN s is written as such, which gives the source's values
 * too. Codes sharing a power of two give it to the scale first; codes past ±127 (only
 * IQ1_M's 135 = 15·9) are rounded to a scale s·max|k|/127.
 *
 * @param dst The target bytes.
 * @param at Where the block starts in `dst`.
 * @param d The source's half scale, as a number.
 * @param mult A signed integer factor of the scale, |mult| ≤ 64.
 * @param pow2 A power of two factor of the scale.
 */
export function writeQ8_0Block(
  dst: Uint8Array,
  at: number,
  d: number,
  mult: number,
  pow2: number,
): void {
  const codes = Q8_CODES;
  let or = 0;
  let kmax = 0;
  for (let i = 0; i < 32; i++) {
    const c = codes[i];
    const a = c < 0 ? -c : c;
    or |= a;
    if (a > kmax) kmax = a;
  }
  let s = d * mult * pow2;
  let h: number;
  let shift = 0;
  let f = 1;
  if (or === 0 || s - s !== 0) {
    // All codes zero, or an infinite or NaN scale: D = s gives s·k[i] exactly.
    h = saturatingHalfBits(s);
  } else {
    while ((or & 1) === 0) {
      or >>= 1;
      shift++;
    }
    s *= 2 ** shift;
    kmax >>= shift;
    if (kmax > 127) {
      writeRounded(dst, at, s, kmax, shift);
      return;
    }
    const factors = FACTORS[mult < 0 ? -mult : mult];
    h = -1;
    let bestErr = Infinity;
    for (let j = 0; j < factors.length; j++) {
      const g = factors[j];
      if (g * kmax > 127) break;
      const hb = halfBits(s / g);
      const v = FP16_TO_F32[hb];
      if (v - v !== 0) continue; // past the largest half
      const err = Math.abs(v * g - s);
      if (err < bestErr) {
        bestErr = err;
        h = hb;
        f = g;
        if (err === 0) break;
      }
    }
    if (h < 0) {
      // Every factor leaves the scale past the largest half: saturate with the largest.
      for (let j = 0; j < factors.length && factors[j] * kmax <= 127; j++) f = factors[j];
      h = saturatingHalfBits(s / f);
    }
  }
  dst[at] = h & 255;
  dst[at + 1] = h >> 8;
  for (let i = 0; i < 32; i++) {
    // Only an infinite or NaN scale can meet a code past ±127 here: keep its sign.
    const c = (codes[i] >> shift) * f;
    dst[at + 2 + i] = c > 127 ? 127 : c < -127 ? -127 : c;
  }
}

/** The block for codes past ±127: D = half(s·kmax/127), codes rounded to D. */
function writeRounded(dst: Uint8Array, at: number, s: number, kmax: number, shift: number): void {
  const h = saturatingHalfBits((s * kmax) / 127);
  const v = FP16_TO_F32[h];
  dst[at] = h & 255;
  dst[at + 1] = h >> 8;
  for (let i = 0; i < 32; i++) {
    const c = Math.round(((Q8_CODES[i] >> shift) * s) / v);
    dst[at + 2 + i] = c > 127 ? 127 : c < -127 ? -127 : c;
  }
}
