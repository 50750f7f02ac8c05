/**
 * IQ4_NL and IQ4_XS quantization, bit for bit as what `ggml_quantize_chunk` runs for them
 * without an importance matrix: `quantize_iq4_nl` and `quantize_iq4_xs`, both ggml's
 * `quantize_row_iq4_nl_impl` with `ntry = 7` (not `quantize_row_iq4_nl_ref`, which
 * passes `ntry = −1`).
 *
 * Each 32-weight group gets indices into the 16 non-linear levels `kvalues_iq4nl`
 * (`IQ4_VALUES`, −127 to 113) and a scale found by a small search. With `max` the signed
 * weight of largest magnitude (the first on ties), the levels nearest `x × 127 / max` are
 * fitted first, then those nearest `x × (t − 127) / max` for t = −7…7; each fit is the
 * least-squares scale `Σwqx / Σwq²` of its levels with weights `w = x²`, and a later fit
 * replaces the kept one only when `(Σwqx)² / Σwq²` is larger. A group whose largest
 * magnitude is below 1e-15 gets scale 0.
 * - IQ4_NL (blocks of 32, 18 bytes): the half of that scale, then the 32 indices
 *   recomputed for it (weight j in the low nibble of byte j, j + 16 in the high one).
 * - IQ4_XS (super-blocks of 256, 136 bytes): a half `d = −max_scale / 32` (`max_scale`
 *   the group scale of largest magnitude), each group's scale as a 6-bit
 *   `round(scale × (1 / d)) + 32`, the rounding clamped to −32…31 (low nibbles in 4 bytes, high bit pairs in a little-endian
 *   u16 before them), and each group's indices recomputed for `d × (that − 32)`.
 *
 * Every product, sum and quotient is float32, in C's order; `nearest_int` rounds half to
 * even by adding 1.5 × 2^23 and reading the low mantissa bits, as in C, for any input.
 * NaN and Inf follow ggml's x86-64 build: a NaN weight never wins the maximum, its
 * index is 15 (every comparison with NaN is false) and it makes its group's sums NaN, so
 * the group's scale is 0. Sums beyond float32 (weights from about 1e12 up) make the
 * scale ±Inf, and an Inf weight makes it Inf / Inf, x86-64's default NaN, which is
 * negative: IQ4_NL stores `0xFE00` and every index 15; IQ4_XS gives that group the 6-bit
 * scale 32, as `nearest_int` of NaN is 0.
 *
 * @module
 */
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";
import { IQ4_VALUES } from "../dequant/_iq4_values.ts";

/** Bytes per IQ4_NL block. */
export const BLOCK_IQ4_NL_BYTES = 18;

/** Bytes per IQ4_XS super-block. */
export const BLOCK_IQ4_XS_BYTES = 136;

/** ggml's `GROUP_MAX_EPS`, 1e-15f. */
const GROUP_MAX_EPS = Math.fround(1e-15);

/** The levels as float64 (the same values), read in the inner loops. */
const LEVELS = Float64Array.from(IQ4_VALUES);

/** The group at hand: its values and their weights (float32 values). */
const VALUES = new Float64Array(32);
const WEIGHTS = new Float64Array(32);

/** The scales of a super-block's eight groups. */
const SCALES = new Float64Array(8);

/** Scratch for `nearestInt`'s float32 bits. */
const NI_FLOAT = new Float32Array(1);
const NI_BITS = new Int32Array(NI_FLOAT.buffer);

/**
 * For each whole number n from −127 to 112, the index of the first level above n: the
 * upper end of the pair of levels that brackets every x with floor(x) = n (the levels are
 * whole numbers, so the bracket depends on floor(x) alone).
 */
const UPPER = (() => {
  const upper = new Uint8Array(240);
  for (let n = -127, i = 1; n < 113; n++) {
    while (IQ4_VALUES[i] <= n) i++;
    upper[n + 127] = i;
  }
  return upper;
})();

/**
 * ggml's `best_index_int8(16, kvalues_iq4nl, x)`: the index of the level nearest `x`, the
 * upper one on a tie; 0 or 15 outside the levels, 15 for NaN. The differences are float32
 * as in C; the binary search's bracket is read from `UPPER`.
 */
function bestIndex(x: number): number {
  if (!(x > -127)) return x <= -127 ? 0 : 15; // NaN fails both comparisons in C: 15
  if (x >= 113) return 15;
  const hi = UPPER[Math.floor(x) + 127];
  const levels = LEVELS;
  return Math.fround(x - levels[hi - 1]) < Math.fround(levels[hi] - x) ? hi - 1 : hi;
}

/**
 * ggml's `nearest_int`: the float32 sum with 12,582,912, then its low 23 bits less 2^22.
 * Round half to even for |x| < 2^22; what C gives for anything else (Inf: −2^22).
 */
function nearestInt(x: number): number {
  NI_FLOAT[0] = x + 12582912; // a sum of two float32 values, rounded once to float32
  if (x !== x) return 0; // a NaN's payload here is x86-64's default: low bits 2^22
  return (NI_BITS[0] & 0x7fffff) - 0x400000;
}

/**
 * One group's scale, as the loop body of `quantize_row_iq4_nl_impl` with no importance
 * matrix and `ntry = 7` (the group's indices it computes are recomputed by every caller).
 */
function groupScale(src: Float32Array, x: number): number {
  let amax = 0;
  let max = 0;
  for (let j = x; j < x + 32; j++) {
    const v = src[j];
    const a = Math.abs(v);
    if (a > amax) {
      amax = a;
      max = v;
    }
  }
  if (amax < GROUP_MAX_EPS) return 0;
  const values = VALUES;
  const weights = WEIGHTS;
  for (let j = 0; j < 32; j++) {
    const v = src[x + j];
    values[j] = v;
    weights[j] = Math.fround(v * v); // no importance matrix: w = x²
  }
  // The levels for the scale max / 127, then for max / (127 − t), t = −7…7: C's first fit
  // is kept whatever it is, each later one only when it beats the best so far.
  const levels = LEVELS;
  let d = 0;
  let best = 0;
  for (let t = -8; t <= 7; t++) {
    const id = t === -8 ? Math.fround(1 / Math.fround(-max / -127)) : Math.fround((t - 127) / max);
    let sumqx = 0;
    let sumq2 = 0;
    for (let j = 0; j < 32; j++) {
      const v = values[j];
      const q = levels[bestIndex(Math.fround(id * v))];
      const wq = Math.fround(weights[j] * q); // C's w*q*x and w*q*q, left to right
      sumqx = Math.fround(sumqx + Math.fround(wq * v));
      sumq2 = Math.fround(sumq2 + Math.fround(wq * q));
    }
    if (t === -8) {
      d = sumq2 > 0 ? Math.fround(sumqx / sumq2) : 0;
      best = Math.fround(d * sumqx);
    } else if (sumq2 > 0 && Math.fround(sumqx * sumqx) > Math.fround(best * sumq2)) {
      d = Math.fround(sumqx / sumq2);
      best = Math.fround(d * sumqx);
    }
  }
  return d;
}

/** Packs 32 weights' indices for the scale inverse `id`: j low, j + 16 high nibble. */
function packIndices(src: Float32Array, x: number, id: number, dst: Uint8Array, q: number) {
  for (let j = 0; j < 16; j++) {
    const lo = bestIndex(Math.fround(id * src[x + j]));
    const hi = bestIndex(Math.fround(id * src[x + j + 16]));
    dst[q + j] = lo | (hi << 4);
  }
}

/**
 * Quantizes `blocks × 32` float32 values from `src` into `blocks` IQ4_NL blocks at the
 * start of `dst`, as ggml's `quantize_iq4_nl` without an importance matrix. Allocates
 * nothing and checks nothing.
 *
 * @param src The values: at least `blocks × 32`.
 * @param dst Where the blocks go: at least `blocks × 18` bytes.
 * @param blocks How many blocks to write.
 *
 * @example An all-zero block: scale 0, every index 8 (the level 1, nearest 0)
 * ```ts
 * import { quantizeRowIq4Nl } from "./iq4.ts";
 * import assert from "node:assert/strict";
 * const dst = new Uint8Array(18);
 * quantizeRowIq4Nl(new Float32Array(32), dst, 1);
 * assert.deepEqual([...dst], [0, 0, ...new Array(16).fill(0x88)]);
 * ```
 */
export function quantizeRowIq4Nl(src: Float32Array, dst: Uint8Array, blocks: number): void {
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 32, o += BLOCK_IQ4_NL_BYTES) {
    const scale = groupScale(src, x);
    // A NaN scale only comes from Inf / Inf, x86-64's negative default NaN.
    const half = scale === scale ? fp32ToFp16(scale) : 0xfe00;
    dst[o] = half & 0xff;
    dst[o + 1] = half >> 8;
    // C's `scales[0] ? 1/scales[0] : 0`: NaN counts as true there, and `!== 0` keeps that.
    packIndices(src, x, scale !== 0 ? Math.fround(1 / scale) : 0, dst, o + 2);
  }
}

/**
 * Quantizes `blocks × 256` float32 values from `src` into `blocks` IQ4_XS super-blocks at
 * the start of `dst`, as ggml's `quantize_iq4_xs` without an importance matrix. Allocates
 * nothing and checks nothing.
 *
 * @param src The values: at least `blocks × 256`.
 * @param dst Where the super-blocks go: at least `blocks × 136` bytes.
 * @param blocks How many super-blocks to write.
 *
 * @example An all-zero super-block: d = −0, every 6-bit scale 32, every index 8
 * ```ts
 * import { quantizeRowIq4Xs } from "./iq4.ts";
 * import assert from "node:assert/strict";
 * const dst = new Uint8Array(136);
 * quantizeRowIq4Xs(new Float32Array(256), dst, 1);
 * assert.deepEqual([...dst.subarray(0, 9)], [0x00, 0x80, 0xaa, 0xaa, 0, 0, 0, 0, 0x88]);
 * ```
 */
export function quantizeRowIq4Xs(src: Float32Array, dst: Uint8Array, blocks: number): void {
  const scales = SCALES;
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 256, o += BLOCK_IQ4_XS_BYTES) {
    let maxScale = 0;
    let amaxScale = 0;
    for (let g = 0; g < 8; g++) {
      const scale = groupScale(src, x + 32 * g);
      scales[g] = scale;
      const a = Math.abs(scale);
      if (a > amaxScale) {
        amaxScale = a;
        maxScale = scale;
      }
    }
    const d = Math.fround(-maxScale / 32);
    const half = fp32ToFp16(d);
    dst[o] = half & 0xff;
    dst[o + 1] = half >> 8;
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    let scalesHigh = 0;
    for (let g = 0; g < 8; g++) {
      let l = nearestInt(Math.fround(id * scales[g]));
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const dl = Math.fround(d * l);
      packIndices(src, x + 32 * g, dl !== 0 ? Math.fround(1 / dl) : 0, dst, o + 8 + 16 * g);
      l += 32;
      const at = o + 4 + (g >> 1);
      if ((g & 1) === 0) dst[at] = l & 0x0f;
      else dst[at] |= (l & 0x0f) << 4;
      scalesHigh |= (l >> 4) << (2 * g);
    }
    dst[o + 2] = scalesHigh & 0xff;
    dst[o + 3] = scalesHigh >> 8;
  }
}
