/**
 * The scale searches behind ggml's Q3_K and Q6_K reference quantizers: `nearest_int`,
 * `make_qx_quants` (least squares weighted by x², no importance matrix) and
 * `make_q3_quants` (the same start, then coordinate descent on the quants), each a port
 * of ggml-quants.c that keeps C's float32 arithmetic: every product, quotient and sum is
 * rounded to float32 (`Math.fround`) in the order C evaluates it, comparisons are C's
 * (false with a NaN), and a float condition such as C's `suml2 ? … : 0` is `!== 0`,
 * which, like C, holds for NaN.
 *
 * A search fills `n` quants of `L` and returns the group's scale; it works on
 * module-level scratch and allocates nothing.
 *
 * @module
 */

/** ggml's `GROUP_MAX_EPS` (`1e-15f`): a group below it in magnitude is all zero. */
export const GROUP_MAX_EPS: number = Math.fround(1e-15);

/** C's `0.1f`. */
const TENTH = Math.fround(0.1);

/** Scratch of `nearestInt`'s slow path: a float32 and its bits. */
const FLOAT = new Float32Array(1);
const FLOAT_BITS = new Uint32Array(FLOAT.buffer);

/** Per-group scratch: each weight's x² and x³ as C rounds them (the same in every pass). */
const W = new Float32Array(16);
const WX = new Float32Array(16);
/** The quants of the inverse scale being tried, kept in case it wins. */
const TRIAL = new Int8Array(16);

/**
 * ggml's `nearest_int`: adds 1.5 × 2^23 in float32 and reads the low 23 bits, which is
 * rounding half to even for |x| < 2^22. Outside that range (and for ±Inf and NaN, whose
 * sum keeps them) the result is what those bits give, as in ggml's release build, whose
 * range `assert` is compiled out: ±Inf gives −2^22, a NaN its payload (0 for the quiet
 * NaN that float arithmetic produces).
 *
 * @param value A float32 value.
 * @returns The integer ggml's `nearest_int` returns for it.
 *
 * @example Ties go to even
 * ```ts
 * import { nearestInt } from "./_q3_q6_search.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([2.5, 3.5, -2.5, 0.49].map(nearestInt), [2, 4, -2, 0]);
 * assert.equal(nearestInt(NaN), 0);
 * ```
 */
export function nearestInt(value: number): number {
  const sum = Math.fround(value + 12582912);
  // In [2^23, 2^24) the float32's low 23 bits are sum − 2^23, so the result is sum − 1.5·2^23.
  if (sum >= 8388608 && sum < 16777216) return sum - 12582912;
  return lowBits(sum);
}

/** `nearest_int` from the float32 sum's bits, outside the range where it is sum − 1.5·2^23. */
function lowBits(sum: number): number {
  FLOAT[0] = sum;
  return (FLOAT_BITS[0] & 0x7fffff) - 0x400000;
}

/** The largest-magnitude weight of `n` from `x[at]`, the first on ties; NaN never wins. */
function signedMax(x: Float32Array, at: number, n: number): number {
  let max = 0;
  let amax = 0;
  for (let i = at; i < at + n; i++) {
    const ax = Math.abs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  return max;
}

/**
 * ggml's `make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL)` for a group of up to 16
 * weights: quants in [0, 2·nmax − 1] (stored l + nmax) and the scale that fits them best
 * in least squares weighted by x², trying the inverse scales −(nmax + k/10) / max for
 * k = 0, ±1, …, ±9 and keeping the best (C's strict `>`, so the earliest on ties).
 * A group below {@link GROUP_MAX_EPS} gets quants 0 and scale 0.
 *
 * @param n The group size, at most 16.
 * @param nmax Half the number of quant levels (32 for Q6_K).
 * @param x The weights; the group starts at `at`.
 * @param at The group's first index in `x`.
 * @param L Where the quants go.
 * @param lAt The group's first index in `L`: quants go to `lAt…lAt + n − 1`.
 * @returns The group's float32 scale (NaN when ggml's is NaN).
 *
 * @example A group that fits its levels exactly
 * ```ts
 * import { makeQxQuants } from "./_q3_q6_search.ts";
 * import assert from "node:assert/strict";
 * const x = new Float32Array(16).map((_, i) => i - 8); // −8 … 7
 * const L = new Int8Array(16);
 * const scale = makeQxQuants(16, 32, x, 0, L, 0);
 * assert.equal(scale, 0.25);
 * assert.deepEqual([L[0], L[8], L[15]], [0, 32, 60]);
 * ```
 */
export function makeQxQuants(
  n: number,
  nmax: number,
  x: Float32Array,
  at: number,
  L: Int8Array,
  lAt: number,
): number {
  const max = signedMax(x, at, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, lAt, lAt + n);
    return 0;
  }
  const w = W;
  const wx = WX;
  const trial = TRIAL;
  let iscale = Math.fround(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[at + i];
    let l = nearestInt(Math.fround(iscale * xi));
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[lAt + i] = l + nmax;
    const wi = Math.fround(xi * xi);
    w[i] = wi;
    wx[i] = Math.fround(wi * xi);
    sumlx = Math.fround(sumlx + Math.fround(wx[i] * l));
    suml2 = Math.fround(suml2 + Math.fround(Math.fround(wi * l) * l));
  }
  let scale = suml2 !== 0 ? Math.fround(sumlx / suml2) : 0;
  let best = Math.fround(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = Math.fround(-Math.fround(nmax + Math.fround(TENTH * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(Math.fround(iscale * x[at + i]));
      l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
      trial[i] = l;
      sumlx = Math.fround(sumlx + Math.fround(wx[i] * l));
      suml2 = Math.fround(suml2 + Math.fround(Math.fround(w[i] * l) * l));
    }
    if (suml2 > 0 && Math.fround(sumlx * sumlx) > Math.fround(best * suml2)) {
      for (let i = 0; i < n; i++) L[lAt + i] = trial[i] + nmax;
      scale = Math.fround(sumlx / suml2);
      best = Math.fround(scale * sumlx);
    }
  }
  return scale;
}

/**
 * ggml's `make_q3_quants(n, nmax, x, L, do_rmse = true)` for a group of up to 16 weights:
 * quants from the inverse scale −nmax / max, then up to five passes that move one quant
 * at a time to its least-squares best (weights x²) while that improves the fit. Quants
 * are stored l + nmax, in [0, 2·nmax − 1]; a group below {@link GROUP_MAX_EPS} gets
 * quants 0 and scale 0.
 *
 * @param n The group size, at most 16.
 * @param nmax Half the number of quant levels (4 for Q3_K).
 * @param x The weights; the group starts at `at`.
 * @param at The group's first index in `x`.
 * @param L Where the quants go.
 * @param lAt The group's first index in `L`: quants go to `lAt…lAt + n − 1`.
 * @returns The group's float32 scale: Σ w·x·l / Σ w·l², or 0 when Σ w·l² is not positive.
 *
 * @example Levels −4 … 3 fit exactly
 * ```ts
 * import { makeQ3Quants } from "./_q3_q6_search.ts";
 * import assert from "node:assert/strict";
 * const x = new Float32Array(16).map((_, i) => (i % 8) - 4); // −4 … 3, twice
 * const L = new Int8Array(16);
 * assert.equal(makeQ3Quants(16, 4, x, 0, L, 0), 1); // max −4: inverse scale −4 / −4
 * assert.deepEqual([L[0], L[4], L[7]], [0, 4, 7]); // l + 4
 * ```
 */
export function makeQ3Quants(
  n: number,
  nmax: number,
  x: Float32Array,
  at: number,
  L: Int8Array,
  lAt: number,
): number {
  const max = signedMax(x, at, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, lAt, lAt + n);
    return 0;
  }
  const w = W;
  const wx = WX;
  const iscale = Math.fround(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[at + i];
    let l = nearestInt(Math.fround(iscale * xi));
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[lAt + i] = l;
    const wi = Math.fround(xi * xi);
    w[i] = wi;
    wx[i] = Math.fround(wi * xi);
    sumlx = Math.fround(sumlx + Math.fround(wx[i] * l));
    suml2 = Math.fround(suml2 + Math.fround(Math.fround(wi * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const li = L[lAt + i];
      const wi = w[i];
      const wxi = wx[i];
      let slx = Math.fround(sumlx - Math.fround(wxi * li));
      if (slx > 0) {
        let sl2 = Math.fround(suml2 - Math.fround(Math.fround(wi * li) * li));
        let l = nearestInt(Math.fround(Math.fround(x[at + i] * sl2) / slx));
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        if (l !== li) {
          slx = Math.fround(slx + Math.fround(wxi * l));
          sl2 = Math.fround(sl2 + Math.fround(Math.fround(wi * l) * l));
          if (
            sl2 > 0 &&
            Math.fround(Math.fround(slx * slx) * suml2) >
              Math.fround(Math.fround(sumlx * sumlx) * sl2)
          ) {
            L[lAt + i] = l;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed === 0) break;
  }
  for (let i = lAt; i < lAt + n; i++) L[i] += nmax;
  return suml2 > 0 ? Math.fround(sumlx / suml2) : 0;
}
