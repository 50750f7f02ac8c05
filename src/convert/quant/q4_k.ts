/**
 * Q4_K quantization: super-blocks of 256 weights, 144 bytes: half `d`, half `dmin`, 12
 * bytes of 6-bit scale/min pairs, then 128 bytes of 4-bit quants (weight l of the 64-weight
 * chunk c in the low nibble of byte 32c + l, weight l + 32 in its high nibble). Each
 * 32-weight run is w ≈ d·scale × q − dmin·min. Bit for bit as ggml's
 * `quantize_row_q4_K_ref`, which `ggml_quantize_chunk` runs without an importance matrix.
 *
 * Each run's scale and min come from `make_qkx2_quants` (nmax 15, candidates
 * `(14 + 0.1 i) / (max − min)` for i = 0…20, squared error weighted by
 * `sqrt(mean(x²)) + |x|`), all in float32 as C does them. NaN and Inf follow ggml's
 * x86-64 build: a NaN never wins a comparison, so it moves no min, max, scale or
 * candidate choice unless it is a run's first weight, and `nearest_int` of a NaN is 0;
 * see {@linkcode nearestInt}.
 *
 * @module
 */
import { Qkx2Search } from "./_k_quant_search.ts";
import { quantizeScalesMinsK4 } from "./_scales_mins_k4.ts";

/** Bytes per Q4_K super-block. */
export const BLOCK_Q4_K_BYTES = 144;

const SEARCH = new Qkx2Search({
  n: 32,
  nmax: 15,
  rmin: -1,
  rdelta: Math.fround(0.1),
  nstep: 20,
  useMad: false,
});
const L = new Uint8Array(256);

/**
 * Quantizes `blocks × 256` float32 values from `src` into `blocks` Q4_K super-blocks at
 * the start of `dst`, as ggml's `quantize_row_q4_K_ref`. Allocates nothing and checks
 * nothing.
 *
 * @param src Float32 weights, at least `blocks × 256`.
 * @param dst Output, at least `blocks × 144` bytes.
 * @param blocks Super-blocks to write.
 * @example An all-zero super-block is all zero bytes
 * ```ts
 * import { quantizeRowQ4K } from "./q4_k.ts";
 * import assert from "node:assert/strict";
 *
 * const dst = new Uint8Array(144).fill(7);
 * quantizeRowQ4K(new Float32Array(256), dst, 1);
 * assert.ok(dst.every((byte) => byte === 0));
 * ```
 */
export function quantizeRowQ4K(src: Float32Array, dst: Uint8Array, blocks: number): void {
  const quants = L;
  for (let b = 0, x = 0, o = 0; b < blocks; b++, x += 256, o += BLOCK_Q4_K_BYTES) {
    quantizeScalesMinsK4(src, x, SEARCH, 15, dst, o, quants);
    for (let c = 0, q = o + 16; c < 256; c += 64, q += 32) {
      for (let l = 0; l < 32; l++) dst[q + l] = quants[c + l] | (quants[c + l + 32] << 4);
    }
  }
}
