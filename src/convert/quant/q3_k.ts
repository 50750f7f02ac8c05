/**
 * Q3_K quantization: super-blocks of 256 weights, 110 bytes: 32 bytes of high bits
 * (`hmask`), 64 bytes of 2-bit quants, 12 bytes packing sixteen 6-bit scales, half `d`.
 * Bit for bit as ggml's `quantize_row_q3_K_ref` (what `ggml_quantize_chunk` runs without
 * an importance matrix):
 * 1. each 16-weight group gets quants and a scale from `make_q3_quants` with 4 levels a
 *    side (see `_q3_q6_search.ts`);
 * 2. the group scale of largest magnitude `m` (the first on ties) sets `d = m / −32`,
 *    stored as a half, and each group's scale becomes `clamp(round(−32 s / m), −32, 31)`,
 *    stored plus 32 in 6 bits; when every scale is zero, `d` and the scale bits are 0;
 * 3. every group whose `half(d) × (scale − 32)` is not zero is quantized again against
 *    it: `clamp(round(w / (d·scale)), −4, 3) + 4`; a group whose product is zero keeps the
 *    quants of step 1 (0 for an all-zero group);
 * 4. quant bit 2 goes to `hmask` (weight j at bit j / 32 of byte j % 32), the low two bits
 *    to the quant bytes (weights j, j + 32, j + 64, j + 96 of each half share a byte).
 *
 * Float32 throughout, as in C. NaN and Inf follow ggml's x86-64 build:
 * - a NaN never wins a maximum; ±Inf makes its group's inverse scale ±0, so its quants
 *   are 4 and its sums NaN, which `make_q3_quants` turns into scale 0;
 * - a NaN weight is read as the quiet NaN that float arithmetic makes: ggml's
 *   `nearest_int` turns a NaN into its payload, which JavaScript engines need not keep,
 *   so a NaN with a non-zero payload below the quiet bit is not matched.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";
import { makeQ3Quants, nearestInt } from "./_q3_q6_search.ts";

/** Bytes per Q3_K super-block. */
export const BLOCK_Q3_K_BYTES = 110;

/** One super-block's quants (0–7) and group scales, reused by every call. */
const L = new Int8Array(256);
const SCALES = new Float32Array(16);

/**
 * Quantizes `blocks × 256` float32 values from `src` into `blocks` Q3_K super-blocks at
 * the start of `dst`, as ggml's `quantize_row_q3_K_ref`. Allocates nothing and checks
 * nothing.
 *
 * @param src The values, at least `blocks × 256`.
 * @param dst Where the blocks go, at least `blocks × 110` bytes.
 * @param blocks How many super-blocks to write.
 *
 * @example A ramp, then its values back
 * ```ts
 * import { quantizeRowQ3K } from "./q3_k.ts";
 * import { dequantizeRowQ3K } from "../dequant/q3_k.ts";
 * import assert from "node:assert/strict";
 * const values = new Float32Array(256).map((_, i) => (i - 128) / 64);
 * const block = new Uint8Array(110);
 * quantizeRowQ3K(values, block, 1);
 * const back = new Float32Array(256);
 * dequantizeRowQ3K(block, back, 1);
 * // Within a step of the largest group, 2 / 4 per level.
 * assert.ok(back.every((v, i) => Math.abs(v - values[i]) <= 1 / 2));
 * ```
 */
export function quantizeRowQ3K(src: Float32Array, dst: Uint8Array, blocks: number): void {
  const L_ = L;
  const scales = SCALES;
  const fp16 = FP16_TO_F32;
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 256, o += BLOCK_Q3_K_BYTES) {
    let maxScale = 0;
    let amax = 0;
    for (let g = 0; g < 16; g++) {
      const scale = makeQ3Quants(16, 4, src, x + 16 * g, L_, 16 * g);
      scales[g] = scale;
      const abs = Math.abs(scale);
      if (abs > amax) {
        amax = abs;
        maxScale = scale;
      }
    }
    const sc = o + 96;
    dst.fill(0, sc, sc + 12);
    let dBits = 0;
    if (maxScale !== 0) {
      const iscale = Math.fround(-32 / maxScale);
      for (let g = 0; g < 16; g++) {
        // C's `int8_t l = nearest_int(…)`: the low byte, signed, then clamped and biased.
        let l = (nearestInt(Math.fround(iscale * scales[g])) << 24) >> 24;
        l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        if (g < 8) dst[sc + g] = l & 15;
        else dst[sc + g - 8] |= (l & 15) << 4;
        dst[sc + 8 + (g & 3)] |= (l >> 4) << (2 * (g >> 2));
      }
      dBits = fp32ToFp16(Math.fround(1 / iscale));
    }
    dst[o + 108] = dBits & 0xff;
    dst[o + 109] = dBits >> 8;
    const d = fp16[dBits];
    for (let g = 0; g < 16; g++) {
      const low = g < 8 ? dst[sc + g] & 15 : dst[sc + g - 8] >> 4;
      const high = (dst[sc + 8 + (g & 3)] >> (2 * (g >> 2))) & 3;
      const dg = Math.fround(d * ((low | (high << 4)) - 32));
      if (dg === 0) continue; // C's `if (!d)`: a NaN product goes on
      for (let i = x + 16 * g, end = i + 16; i < end; i++) {
        const l = nearestInt(Math.fround(src[i] / dg));
        L_[i - x] = (l < -4 ? -4 : l > 3 ? 3 : l) + 4;
      }
    }
    // hmask byte m, bit k: quant bit 2 of weight 32k + m. Quant byte 32h + l: the low
    // bits of weights 128h + l, + 32, + 64, + 96, two bits each from the bottom.
    for (let m = 0; m < 32; m++) {
      let bits = 0;
      for (let k = 0; k < 8; k++) bits |= (L_[32 * k + m] >> 2) << k;
      dst[o + m] = bits;
    }
    for (let h = 0; h < 2; h++) {
      const j = 128 * h;
      const q = o + 32 + 32 * h;
      for (let l = 0; l < 32; l++) {
        dst[q + l] = (L_[j + l] & 3) | ((L_[j + l + 32] & 3) << 2) |
          ((L_[j + l + 64] & 3) << 4) | ((L_[j + l + 96] & 3) << 6);
      }
    }
  }
}
