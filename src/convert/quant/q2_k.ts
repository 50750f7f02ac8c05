/**
 * Q2_K quantization: super-blocks of 256 weights, 84 bytes: 16 bytes of 4-bit scale
 * (low nibble) and min (high nibble) pairs, one per 16-weight run, 64 bytes of 2-bit
 * quants (bits 2k, 2k + 1 of byte 32c + l hold weight l of 32-weight run 4c + k), then
 * half `d` and half `dmin`. Each run is w ≈ d·scale × q − dmin·min. Bit for bit as ggml's
 * `quantize_row_q2_K_ref`, which `ggml_quantize_chunk` runs without an importance matrix.
 *
 * Each run's scale and min come from `make_qkx2_quants` (nmax 3, candidates
 * `(2.5 + 0.1 i) / (max − min)` for i = 0…15, absolute error weighted by `|x|`), all in
 * float32 as C does them; `d = max_scale / 15`, `dmin = max_min / 15`, and every weight is
 * quantized again against the scale and min the stored nibbles give back. NaN and Inf
 * follow ggml's x86-64 build: a NaN never wins a comparison, so it moves no min, max,
 * scale or candidate choice unless it is a run's first weight, and `nearest_int` of a NaN
 * is 0; see {@linkcode nearestInt}.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";
import { nearestInt, Qkx2Search } from "./_k_quant_search.ts";

/** Bytes per Q2_K super-block. */
export const BLOCK_Q2_K_BYTES = 84;

const SEARCH = new Qkx2Search({
  n: 16,
  nmax: 3,
  rmin: -0.5,
  rdelta: Math.fround(0.1),
  nstep: 15,
  useMad: true,
});
const L = new Uint8Array(256);
const SCALES = new Float32Array(16);
const MINS = new Float32Array(16);

/**
 * Quantizes `blocks × 256` float32 values from `src` into `blocks` Q2_K super-blocks at
 * the start of `dst`, as ggml's `quantize_row_q2_K_ref`. Allocates nothing and checks
 * nothing.
 *
 * @param src Float32 weights, at least `blocks × 256`.
 * @param dst Output, at least `blocks × 84` bytes.
 * @param blocks Super-blocks to write.
 * @example An all-zero super-block is all zero bytes
 * ```ts
 * import { quantizeRowQ2K } from "./q2_k.ts";
 * import assert from "node:assert/strict";
 *
 * const dst = new Uint8Array(84).fill(7);
 * quantizeRowQ2K(new Float32Array(256), dst, 1);
 * assert.ok(dst.every((byte) => byte === 0));
 * ```
 */
export function quantizeRowQ2K(src: Float32Array, dst: Uint8Array, blocks: number): void {
  const f = Math.fround;
  const search = SEARCH;
  const weights = search.weights;
  const quants = L;
  const scales = SCALES;
  const mins = MINS;
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 256, o += BLOCK_Q2_K_BYTES) {
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0, run = x; j < 16; j++, run += 16) {
      for (let l = 0; l < 16; l++) weights[l] = Math.abs(src[run + l]);
      const scale = search.search(src, run, quants, 16 * j);
      const min = search.min;
      scales[j] = scale;
      mins[j] = min;
      if (scale > maxScale) maxScale = scale;
      if (min > maxMin) maxMin = min;
    }

    // C stores nearest_int's int in a uint8_t: its low byte, then ORs the min's nibble
    // shifted by four (whose own high bits fall off the byte).
    let dHalf = 0;
    if (maxScale > 0) {
      const iscale = f(15 / maxScale);
      for (let j = 0; j < 16; j++) dst[o + j] = nearestInt(f(iscale * scales[j]));
      dHalf = fp32ToFp16(f(maxScale / 15));
    } else {
      dst.fill(0, o, o + 16);
    }
    let dminHalf = 0;
    if (maxMin > 0) {
      const iscale = f(15 / maxMin);
      for (let j = 0; j < 16; j++) dst[o + j] |= nearestInt(f(iscale * mins[j])) << 4;
      dminHalf = fp32ToFp16(f(maxMin / 15));
    }
    dst[o + 80] = dHalf & 0xff;
    dst[o + 81] = dHalf >> 8;
    dst[o + 82] = dminHalf & 0xff;
    dst[o + 83] = dminHalf >> 8;

    const dValue = FP16_TO_F32[dHalf];
    const dminValue = FP16_TO_F32[dminHalf];
    for (let j = 0, run = x; j < 16; j++, run += 16) {
      const sc = dst[o + j];
      const d = f(dValue * (sc & 15));
      // C's `if (!d) continue;`: the run keeps the search's quants (a NaN `d` goes on).
      if (d === 0) continue;
      const dm = f(dminValue * (sc >> 4));
      for (let i = run, l = 16 * j; i < run + 16; i++, l++) {
        const q = nearestInt(f(f(src[i] + dm) / d));
        quants[l] = q < 0 ? 0 : q > 3 ? 3 : q;
      }
    }

    for (let c = 0, q = o + 16; c < 256; c += 128, q += 32) {
      for (let l = 0; l < 32; l++) {
        dst[q + l] = quants[c + l] | (quants[c + l + 32] << 2) | (quants[c + l + 64] << 4) |
          (quants[c + l + 96] << 6);
      }
    }
  }
}
