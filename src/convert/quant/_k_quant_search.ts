/**
 * The search that ggml's K-quants without an importance matrix share: `nearest_int` and
 * `make_qkx2_quants` from `src/ggml-quants.c`, which fit `x ≈ scale × q − min` to a run of
 * weights (q in 0…nmax, min ≥ 0) by trying a few scales around `nmax / (max − min)` and
 * keeping the one with the lowest weighted error. Q2_K, Q4_K and Q5_K differ only in the
 * run length, nmax, the candidate grid and the error measure.
 *
 * Every float step is float32 in C's order (`Math.fround` after each operation), since
 * the comparisons between candidate errors decide which integers are written.
 *
 * NaN weights are taken to be the plain quiet NaN (0x7FC00000, what F16 and BF16 NaNs
 * widen to): `nearest_int` of any NaN is then 0. A float32 NaN carrying payload bits makes
 * x86-64 ggml read those bits as an integer, and which payload survives depends on how the
 * compiler ordered the operands; JavaScript does not keep payloads, so such weights may
 * differ from ggml's in their own quants.
 *
 * @module
 */

const SCRATCH = new Float32Array(1);
const SCRATCH_BITS = new Int32Array(SCRATCH.buffer);

/**
 * ggml's `nearest_int`: the integer of the float32 `value + 12582912` (1.5 × 2^23) read
 * from its low 23 bits, which is `value` rounded half to even for |value| ≤ 4,194,303.
 * Outside that range the bit reading is reproduced as C does it: ±Inf gives −4,194,304,
 * NaN gives 0 (a quiet NaN with no payload, as x86-64 makes), larger values wrap.
 *
 * @param value A float32 value.
 * @returns The integer ggml's `nearest_int` returns for it.
 * @example Halves round to even
 * ```ts
 * import { nearestInt } from "./_k_quant_search.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(nearestInt(2.5), 2);
 * assert.equal(nearestInt(-1.5), -2);
 * assert.equal(nearestInt(NaN), 0);
 * ```
 */
export function nearestInt(value: number): number {
  // Both sums are float32 values below 2^24, so the double sum rounded once is C's.
  if (value >= -4194303 && value <= 4194303) return (Math.fround(value + 12582912) | 0) - 12582912;
  SCRATCH[0] = value + 12582912;
  return (SCRATCH_BITS[0] & 0x7fffff) - 0x400000;
}

/** The constants one K-quant passes to `make_qkx2_quants`. */
export interface Qkx2Params {
  /** Weights per run: 16 or 32. */
  readonly n: number;
  /** Largest quant. */
  readonly nmax: number;
  /** First candidate's offset from nmax. */
  readonly rmin: number;
  /** Step between candidates (a float32 value). */
  readonly rdelta: number;
  /** Candidates after the first: nstep + 1 in all. */
  readonly nstep: number;
  /** Absolute error (true) or squared error (false). */
  readonly useMad: boolean;
}

/**
 * One K-quant's `make_qkx2_quants` with its scratch: fill {@linkcode weights} for a run,
 * call {@linkcode search}, read the scale it returns and {@linkcode min}. Allocates
 * nothing per call.
 *
 * @example A run of −1, 0, 1, 2 with nmax 3 is exact: scale 1, min 1
 * ```ts
 * import { Qkx2Search } from "./_k_quant_search.ts";
 * import assert from "node:assert/strict";
 *
 * const rdelta = Math.fround(0.1);
 * const s = new Qkx2Search({ n: 4, nmax: 3, rmin: -0.5, rdelta, nstep: 15, useMad: true });
 * s.weights.fill(1);
 * const q = new Uint8Array(4);
 * assert.equal(s.search(new Float32Array([-1, 0, 1, 2]), 0, q, 0), 1);
 * assert.equal(s.min, 1);
 * assert.deepEqual([...q], [0, 1, 2, 3]);
 * ```
 */
export class Qkx2Search {
  /** The run's weights, set by the caller before {@linkcode search}. */
  readonly weights: Float32Array;
  /** The min of the last search, as ggml's `*the_min` (≥ 0 for finite input). */
  min = 0;
  readonly #params: Qkx2Params;
  readonly #laux: Uint8Array;
  readonly #shifted: Float32Array;

  /**
   * @param params The K-quant's constants.
   */
  constructor(params: Qkx2Params) {
    this.#params = params;
    this.weights = new Float32Array(params.n);
    this.#laux = new Uint8Array(params.n);
    this.#shifted = new Float32Array(params.n);
  }

  /**
   * Quantizes the run `x[at … at + n)` into `L[lAt … lAt + n)` as `make_qkx2_quants`
   * does, with {@linkcode weights} as its weights, and sets {@linkcode min}.
   *
   * @param x The weights' float32 values.
   * @param at Index of the run's first value in `x`.
   * @param L Where the quants go.
   * @param lAt Index of the run's first quant in `L`.
   * @returns The scale (a float32 value).
   */
  search(x: Float32Array, at: number, L: Uint8Array, lAt: number): number {
    const { n, nmax, rmin, rdelta, nstep, useMad } = this.#params;
    const w = this.weights;
    const laux = this.#laux;
    const f = Math.fround;
    const end = at + n;
    let min = x[at];
    let max = min;
    let sumW = w[0];
    let sumX = f(sumW * min);
    for (let i = at + 1, k = 1; i < end; i++, k++) {
      const v = x[i];
      if (v < min) min = v;
      if (v > max) max = v;
      const wk = w[k];
      sumW = f(sumW + wk);
      sumX = f(sumX + f(wk * v));
    }
    if (min > 0) min = 0;
    if (max === min) {
      L.fill(0, lAt, lAt + n);
      this.min = -min;
      return 0;
    }
    let iscale = f(nmax / f(max - min));
    let scale = f(1 / iscale);
    let bestError = 0;
    for (let i = at, k = 0, o = lAt; i < end; i++, k++, o++) {
      const v = x[i];
      const l = clamp(nearestInt(f(iscale * f(v - min))), nmax);
      L[o] = l;
      let diff = f(f(f(scale * l) + min) - v);
      diff = useMad ? Math.abs(diff) : f(diff * diff);
      bestError = f(bestError + f(w[k] * diff));
    }
    // x − min (float32) for the current `min`, which only a winning candidate changes.
    const xm = this.#shifted;
    let shifted = NaN;
    for (let step = 0; step <= nstep; step++) {
      // As in C, a better candidate's min replaces `min` here too: the next candidates
      // are placed against it.
      iscale = f(f(f(rmin + f(rdelta * step)) + nmax) / f(max - min));
      if (shifted !== min) {
        for (let i = at, k = 0; i < end; i++, k++) xm[k] = x[i] - min;
        shifted = min;
      }
      let changed = step === 0;
      for (let k = 0; k < n; k++) {
        const l = clamp(nearestInt(f(iscale * xm[k])), nmax);
        if (laux[k] !== l) {
          laux[k] = l;
          changed = true;
        }
      }
      // The sums, the fit and its error depend on the quants alone (not on `min`), and
      // `bestError` is at most the error of the previous candidate: the same quants as
      // that candidate cannot win, so C's evaluation of them can be skipped.
      if (!changed) continue;
      let sumL = 0;
      let sumL2 = 0;
      let sumXL = 0;
      for (let i = at, k = 0; i < end; i++, k++) {
        const l = laux[k];
        const wl = f(w[k] * l);
        sumL = f(sumL + wl);
        sumL2 = f(sumL2 + f(wl * l));
        sumXL = f(sumXL + f(wl * x[i]));
      }
      const D = f(f(sumW * sumL2) - f(sumL * sumL));
      if (D > 0) {
        let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
        let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
        if (thisMin > 0) {
          thisMin = 0;
          thisScale = f(sumXL / sumL2);
        }
        let curError = 0;
        for (let i = at, k = 0; i < end; i++, k++) {
          let diff = f(f(f(thisScale * laux[k]) + thisMin) - x[i]);
          diff = useMad ? Math.abs(diff) : f(diff * diff);
          curError = f(curError + f(w[k] * diff));
        }
        if (curError < bestError) {
          L.set(laux, lAt);
          bestError = curError;
          scale = thisScale;
          min = thisMin;
        }
      }
    }
    this.min = -min;
    return scale;
  }
}

/** C's `MAX(0, MIN(nmax, l))` on integers. */
function clamp(l: number, nmax: number): number {
  return l < 0 ? 0 : l > nmax ? nmax : l;
}
