/**
 * Q6_K quantization: super-blocks of 256 weights, 210 bytes: 128 bytes of low nibbles,
 * 64 bytes of high 2-bit pairs, sixteen signed 8-bit scales, half `d`. Bit for bit as
 * ggml's `quantize_row_q6_K_ref` (what `ggml_quantize_chunk` runs without an importance
 * matrix):
 * 1. each 16-weight group gets quants and a scale from `make_qx_quants` with 32 levels a
 *    side (see `_q3_q6_search.ts`);
 * 2. the group scale of largest magnitude `m` (the first on ties) sets `d = m / −128`,
 *    stored as a half, and each group's scale becomes the byte `min(127, round(−128 s / m))`;
 *    a super-block whose every scale is below 1e-15 in magnitude is all zero bytes;
 * 3. every group whose `half(d) × scale byte` is not zero is quantized again against it:
 *    `clamp(round(w / (d·scale)), −32, 31) + 32`; a group whose product is zero keeps the
 *    quants of step 1.
 *
 * Float32 throughout, as in C. NaN and Inf follow ggml's x86-64 build:
 * - a NaN never wins a maximum; ±Inf makes its group's inverse scale ±0, so that group's
 *   sums are NaN, its scale NaN and its scale byte 0, and it keeps quants 32 (value 0);
 * - a NaN weight is read as the quiet NaN that float arithmetic makes: ggml's
 *   `nearest_int` turns a NaN into its payload, which JavaScript engines need not keep,
 *   so a NaN with a non-zero payload below the quiet bit is not matched.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";
import { GROUP_MAX_EPS, makeQxQuants, nearestInt } from "./_q3_q6_search.ts";

/** Bytes per Q6_K super-block. */
export const BLOCK_Q6_K_BYTES = 210;

/** One super-block's quants (0–63) and group scales, reused by every call. */
const L = new Int8Array(256);
const SCALES = new Float32Array(16);

/**
 * Quantizes `blocks × 256` float32 values from `src` into `blocks` Q6_K super-blocks at
 * the start of `dst`, as ggml's `quantize_row_q6_K_ref`. Allocates nothing and checks
 * nothing.
 *
 * @param src The values, at least `blocks × 256`.
 * @param dst Where the blocks go, at least `blocks × 210` bytes.
 * @param blocks How many super-blocks to write.
 *
 * @example A ramp, then its values back
 * ```ts
 * import { quantizeRowQ6K } from "./q6_k.ts";
 * import { dequantizeRowQ6K } from "../dequant/q6_k.ts";
 * import assert from "node:assert/strict";
 * const values = new Float32Array(256).map((_, i) => (i - 128) / 64);
 * const block = new Uint8Array(210);
 * quantizeRowQ6K(values, block, 1);
 * const back = new Float32Array(256);
 * dequantizeRowQ6K(block, back, 1);
 * // Within half a step of the largest group, 2 / 32 per level.
 * assert.ok(back.every((v, i) => Math.abs(v - values[i]) <= 1 / 32));
 * ```
 */
export function quantizeRowQ6K(src: Float32Array, dst: Uint8Array, blocks: number): void {
  const L_ = L;
  const scales = SCALES;
  const fp16 = FP16_TO_F32;
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 256, o += BLOCK_Q6_K_BYTES) {
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let g = 0; g < 16; g++) {
      const scale = makeQxQuants(16, 32, src, x + 16 * g, L_, 16 * g);
      scales[g] = scale;
      const abs = Math.abs(scale);
      if (abs > maxAbsScale) {
        maxAbsScale = abs;
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      dst.fill(0, o, o + BLOCK_Q6_K_BYTES);
      continue;
    }
    const iscale = Math.fround(-128 / maxScale);
    const dBits = fp32ToFp16(Math.fround(1 / iscale));
    dst[o + 208] = dBits & 0xff;
    dst[o + 209] = dBits >> 8;
    const d = fp16[dBits];
    for (let g = 0; g < 16; g++) {
      // C's int8_t: the clamped value is in [−128, 127] except for garbage from a NaN.
      const q = nearestInt(Math.fround(iscale * scales[g]));
      const sc = ((q < 127 ? q : 127) << 24) >> 24;
      dst[o + 192 + g] = sc;
      const dg = Math.fround(d * sc);
      if (dg === 0) continue; // C's `if (!d)`: a NaN product goes on
      for (let i = x + 16 * g, end = i + 16; i < end; i++) {
        const l = nearestInt(Math.fround(src[i] / dg));
        L_[i - x] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
      }
    }
    for (let half = 0; half < 2; half++) {
      const j = half * 128;
      const ql = o + half * 64;
      const qh = o + 128 + half * 32;
      for (let l = 0; l < 32; l++) {
        const q1 = L_[j + l], q2 = L_[j + l + 32], q3 = L_[j + l + 64], q4 = L_[j + l + 96];
        dst[ql + l] = (q1 & 15) | ((q3 & 15) << 4);
        dst[ql + l + 32] = (q2 & 15) | ((q4 & 15) << 4);
        dst[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}
