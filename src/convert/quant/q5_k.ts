/**
 * Q5_K quantization: super-blocks of 256 weights, 176 bytes: half `d`, half `dmin`, 12
 * bytes of 6-bit scale/min pairs, 32 bytes of fifth bits (bit r of byte l is the fifth bit
 * of weight l of 32-weight run r), then 128 bytes of low nibbles laid out as Q4_K's
 * quants. Each run is w ≈ d·scale × q − dmin·min. Bit for bit as ggml's
 * `quantize_row_q5_K_ref`, which `ggml_quantize_chunk` runs without an importance matrix.
 *
 * Each run's scale and min come from `make_qkx2_quants` (nmax 31, candidates
 * `(30.5 + 0.1 i) / (max − min)` for i = 0…15, squared error weighted by
 * `sqrt(mean(x²)) + |x|`), all in float32 as C does them. NaN and Inf follow ggml's
 * x86-64 build: a NaN never wins a comparison, so it moves no min, max, scale or
 * candidate choice unless it is a run's first weight, and `nearest_int` of a NaN is 0;
 * see {@linkcode nearestInt}.
 *
 * @module
 */
import { Qkx2Search } from "./_k_quant_search.ts";
import { quantizeScalesMinsK4 } from "./_scales_mins_k4.ts";

/** Bytes per Q5_K super-block. */
export const BLOCK_Q5_K_BYTES = 176;

const SEARCH = new Qkx2Search({
  n: 32,
  nmax: 31,
  rmin: -0.5,
  rdelta: Math.fround(0.1),
  nstep: 15,
  useMad: false,
});
const L = new Uint8Array(256);

/**
 * Quantizes `blocks × 256` float32 values from `src` into `blocks` Q5_K super-blocks at
 * the start of `dst`, as ggml's `quantize_row_q5_K_ref`. Allocates nothing and checks
 * nothing.
 *
 * @param src Float32 weights, at least `blocks × 256`.
 * @param dst Output, at least `blocks × 176` bytes.
 * @param blocks Super-blocks to write.
 * @example An all-zero super-block is all zero bytes
 * ```ts
 * import { quantizeRowQ5K } from "./q5_k.ts";
 * import assert from "node:assert/strict";
 *
 * const dst = new Uint8Array(176).fill(7);
 * quantizeRowQ5K(new Float32Array(256), dst, 1);
 * assert.ok(dst.every((byte) => byte === 0));
 * ```
 */
export function quantizeRowQ5K(src: Float32Array, dst: Uint8Array, blocks: number): void {
  const quants = L;
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 256, o += BLOCK_Q5_K_BYTES) {
    quantizeScalesMinsK4(src, x, SEARCH, 31, dst, o, quants);
    const qh = o + 16;
    for (let l = 0; l < 32; l++) {
      // Fifth bits of weight l of runs 0…7: run r's quant is quants[32 r + l].
      let high = 0;
      for (let r = 0; r < 8; r++) high |= (quants[32 * r + l] >> 4) << r;
      dst[qh + l] = high;
    }
    for (let c = 0, q = o + 48; c < 256; c += 64, q += 32) {
      for (let l = 0; l < 32; l++) {
        dst[q + l] = (quants[c + l] & 15) | ((quants[c + l + 32] & 15) << 4);
      }
    }
  }
}
