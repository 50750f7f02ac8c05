/**
 * The part of ggml's `quantize_row_q4_K_ref` and `quantize_row_q5_K_ref` that the two
 * share: each 32-weight run of a 256-weight super-block gets a scale and a min from
 * `make_qkx2_quants` (weights `sqrt(mean(x²)) + |x|`), the eight of each are stored as
 * 6-bit multiples of the half `d = max_scale / 63` and `dmin = max_min / 63`, and every
 * weight is quantized again against the scale and min those bytes give back.
 *
 * @module
 */
import { FP16_TO_F32 } from "../dequant/_fp16.ts";
import { fp32ToFp16 } from "./_fp32_to_fp16.ts";
import { nearestInt, type Qkx2Search } from "./_k_quant_search.ts";

const SCALES = new Float32Array(8);
const MINS = new Float32Array(8);

/**
 * Writes the super-block header (half `d`, half `dmin`, 12 bytes of 6-bit scale/min
 * pairs packed as ggml's `get_scale_min_k4` reads them) at `dst[o … o + 16)` and the
 * 256 quants (0…nmax) into `L`, for the weights `x[at … at + 256)`.
 *
 * @param x Float32 weights.
 * @param at Index of the super-block's first weight.
 * @param search The type's search (n = 32); its nmax bounds the quants.
 * @param nmax Largest quant: 15 for Q4_K, 31 for Q5_K.
 * @param dst Output bytes.
 * @param o Offset of the super-block in `dst`.
 * @param L 256 quants out.
 * @example An all-zero super-block has zero halves, zero scale bytes and zero quants
 * ```ts
 * import { Qkx2Search } from "./_k_quant_search.ts";
 * import { quantizeScalesMinsK4 } from "./_scales_mins_k4.ts";
 * import assert from "node:assert/strict";
 *
 * const search = new Qkx2Search({ n: 32, nmax: 15, rmin: -1, rdelta: Math.fround(0.1), nstep: 20, useMad: false });
 * const dst = new Uint8Array(16).fill(9);
 * const L = new Uint8Array(256).fill(9);
 * quantizeScalesMinsK4(new Float32Array(256), 0, search, 15, dst, 0, L);
 * assert.deepEqual([...dst], new Array(16).fill(0));
 * assert.deepEqual([...L], new Array(256).fill(0));
 * ```
 */
export function quantizeScalesMinsK4(
  x: Float32Array,
  at: number,
  search: Qkx2Search,
  nmax: number,
  dst: Uint8Array,
  o: number,
  L: Uint8Array,
): void {
  const f = Math.fround;
  const weights = search.weights;
  const scales = SCALES;
  const mins = MINS;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0, run = at; j < 8; j++, run += 32) {
    let sumX2 = 0;
    for (let i = run; i < run + 32; i++) sumX2 = f(sumX2 + f(x[i] * x[i]));
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[run + l]);
    const scale = search.search(x, run, L, 32 * j);
    const min = search.min;
    scales[j] = scale;
    mins[j] = min;
    if (scale > maxScale) maxScale = scale;
    if (min > maxMin) maxMin = min;
  }

  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const k = o + 4;
  for (let j = 0; j < 8; j++) {
    // C stores nearest_int's int in a uint8_t, then takes MIN(63, ·).
    const ls = Math.min(63, nearestInt(f(invScale * scales[j])) & 255);
    const lm = Math.min(63, nearestInt(f(invMin * mins[j])) & 255);
    if (j < 4) {
      dst[k + j] = ls;
      dst[k + j + 4] = lm;
    } else {
      dst[k + j + 4] = (ls & 15) | ((lm & 15) << 4);
      dst[k + j - 4] |= (ls >> 4) << 6;
      dst[k + j] |= (lm >> 4) << 6;
    }
  }
  const dHalf = fp32ToFp16(f(maxScale / 63));
  const dminHalf = fp32ToFp16(f(maxMin / 63));
  dst[o] = dHalf & 0xff;
  dst[o + 1] = dHalf >> 8;
  dst[o + 2] = dminHalf & 0xff;
  dst[o + 3] = dminHalf >> 8;

  const dValue = FP16_TO_F32[dHalf];
  const dminValue = FP16_TO_F32[dminHalf];
  for (let j = 0, run = at; j < 8; j++, run += 32) {
    let sc, m;
    if (j < 4) {
      sc = dst[k + j] & 63;
      m = dst[k + j + 4] & 63;
    } else {
      sc = (dst[k + j + 4] & 15) | ((dst[k + j - 4] >> 6) << 4);
      m = (dst[k + j + 4] >> 4) | ((dst[k + j] >> 6) << 4);
    }
    const d = f(dValue * sc);
    // C's `if (!d) continue;`: the run keeps the search's quants (a NaN `d` goes on).
    if (d === 0) continue;
    const dm = f(dminValue * m);
    for (let i = run, l = 32 * j; i < run + 32; i++, l++) {
      const q = nearestInt(f(f(x[i] + dm) / d));
      L[l] = q < 0 ? 0 : q > nmax ? nmax : q;
    }
  }
}
