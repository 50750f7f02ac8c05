/**
 * Writing one 32-value block of a `code × d` type (Q8_0 or Q5_0) whose values are
 * `s × k[i]`: `s` a product of a half and small integers (exact as a double), `k` small
 * integers. The scale chooser behind every transcoder that has to compute a scale.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { halfBits, saturatingHalfBits } from "./_half.ts";

/** The 32 integer codes `k` of the block the caller writes next; reused by every call. */
export const BLOCK_CODES: Int32Array = new Int32Array(32);

/**
 * For each multiplier m in 0–64, the factors f = g·2^a (g a divisor of m, a ≥ 0) up to 127,
 * ascending: the ways to move part of the scale into the codes and keep both exact.
 */
export const FACTORS: Int32Array[] = [];
for (let m = 0; m <= 64; m++) {
  const set = new Set<number>();
  for (let g = 1; g <= Math.max(m, 1); g++) {
    if (m !== 0 && m % g !== 0) continue;
    for (let f = g; f <= 127; f *= 2) set.add(f);
  }
  FACTORS.push(Int32Array.from([...set].sort((a, b) => a - b)));
}

/** The codes chosen by the last {@linkcode chooseScale} call. */
const CHOSEN = new Int32Array(32);

/**
 * Chooses the half scale D for values s·k[i] (s = d·mult·pow2, k = {@linkcode BLOCK_CODES})
 * and codes of magnitude at most `limit`, leaving the codes in `CHOSEN` and returning D's
 * bits. It looks for an integer factor f with codes f·k[i] such that D·f = s exactly — then
 * the block's values are the source's bit for bit; else it takes the f whose D = half(s/f)
 * lands nearest s (one rounding, |D·f − s| ≤ 2^-11·|s|, or 2^-25·f below the normal halfs).
 * A scale past the largest half even for the largest f saturates at ±65504. A zero,
 * infinite or NaN s is written as such, which gives the source's values too. Codes sharing
 * a power of two give it to the scale first; codes past `limit` even then go to
 * {@linkcode clampOrRound}.
 */
function chooseScale(d: number, mult: number, pow2: number, limit: number): number {
  const codes = BLOCK_CODES;
  const out = CHOSEN;
  let or = 0;
  let kmax = 0;
  for (let i = 0; i < 32; i++) {
    const c = codes[i];
    const a = c < 0 ? -c : c;
    or |= a;
    if (a > kmax) kmax = a;
  }
  let s = d * mult * pow2;
  if (or === 0 || s - s !== 0) {
    // All codes zero, or an infinite or NaN scale: D = s gives s·k[i] exactly (codes
    // clamped keep their signs, all an infinite scale needs).
    for (let i = 0; i < 32; i++) {
      const c = codes[i];
      out[i] = c > limit ? limit : c < -limit ? -limit : c;
    }
    return saturatingHalfBits(s);
  }
  let shift = 0;
  while ((or & 1) === 0) {
    or >>= 1;
    shift++;
  }
  s *= 2 ** shift;
  kmax >>= shift;
  if (kmax > limit) return clampOrRound(s, shift, limit);
  const factors = FACTORS[mult < 0 ? -mult : mult];
  let h = -1;
  let f = 1;
  let bestErr = Infinity;
  for (let j = 0; j < factors.length; j++) {
    const g = factors[j];
    if (g * kmax > limit) break;
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
    for (let j = 0; j < factors.length && factors[j] * kmax <= limit; j++) f = factors[j];
    h = saturatingHalfBits(s / f);
  }
  for (let i = 0; i < 32; i++) out[i] = (codes[i] >> shift) * f;
  return h;
}

/**
 * The block for codes past `limit` even after sharing powers of two (IQ1_M's 135 = 15·9,
 * Q3_K's 128 = 32·4 into Q8_0): of two ways, the one with the smaller squared error —
 * keep the scale (half(s)) and clamp the few codes past `limit`, or widen the scale to
 * half(s·max|k|/limit) and round every code to it.
 */
function clampOrRound(s: number, shift: number, limit: number): number {
  const codes = BLOCK_CODES;
  const out = CHOSEN;
  const hClamp = saturatingHalfBits(s);
  const vClamp = FP16_TO_F32[hClamp];
  let kmax = 0;
  let errClamp = 0;
  for (let i = 0; i < 32; i++) {
    const k = codes[i] >> shift;
    const c = k > limit ? limit : k < -limit ? -limit : k;
    const e = c * vClamp - k * s;
    errClamp += e * e;
    if (k > kmax) kmax = k;
    else if (-k > kmax) kmax = -k;
  }
  const hRound = saturatingHalfBits((s * kmax) / limit);
  const vRound = FP16_TO_F32[hRound];
  let errRound = 0;
  for (let i = 0; i < 32; i++) {
    const k = codes[i] >> shift;
    const r = Math.round((k * s) / vRound);
    const c = r > limit ? limit : r < -limit ? -limit : r;
    const e = c * vRound - k * s;
    errRound += e * e;
    out[i] = c;
  }
  if (errRound <= errClamp) return hRound;
  for (let i = 0; i < 32; i++) {
    const k = codes[i] >> shift;
    out[i] = k > limit ? limit : k < -limit ? -limit : k;
  }
  return hClamp;
}

/**
 * Writes the Q8_0 block (34 bytes) at `dst[at]` holding `s·k[i]`, s = d·mult·pow2 and
 * k = {@linkcode BLOCK_CODES}, with codes up to ±127 (see `chooseScale` above for the
 * exactness rule and what happens to scales a half cannot hold).
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
  const h = chooseScale(d, mult, pow2, 127);
  dst[at] = h & 255;
  dst[at + 1] = h >> 8;
  for (let i = 0; i < 32; i++) dst[at + 2 + i] = CHOSEN[i];
}

/**
 * Writes the Q5_0 block (22 bytes: half d, fifth bits, nibbles; w = (q − 16)·d) at
 * `dst[at]` holding `s·k[i]`, as {@linkcode writeQ8_0Block} with codes up to ±15.
 *
 * @param dst The target bytes.
 * @param at Where the block starts in `dst`.
 * @param d The source's half scale, as a number.
 * @param mult A signed integer factor of the scale, |mult| ≤ 64.
 * @param pow2 A power of two factor of the scale.
 */
export function writeQ5_0Block(
  dst: Uint8Array,
  at: number,
  d: number,
  mult: number,
  pow2: number,
): void {
  const h = chooseScale(d, mult, pow2, 15);
  const codes = CHOSEN;
  dst[at] = h & 255;
  dst[at + 1] = h >> 8;
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const lo = codes[j] + 16;
    const hi = codes[j + 16] + 16;
    qh |= ((lo >> 4) << j) | ((hi >> 4) << (j + 16));
    dst[at + 6 + j] = (lo & 15) | ((hi & 15) << 4);
  }
  dst[at + 2] = qh & 255;
  dst[at + 3] = (qh >> 8) & 255;
  dst[at + 4] = (qh >> 16) & 255;
  dst[at + 5] = (qh >>> 24) & 255;
}
