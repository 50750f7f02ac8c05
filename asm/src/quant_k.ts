// gguf-stream's K-quant quantizers (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) in AssemblyScript,
// compiled to WebAssembly by asm/build.ts into src/convert/simd/_quant_k_wasm.ts. Each
// is a port of the portable kernel in src/convert/quant/ (itself ggml's
// `quantize_row_<type>_ref`, no importance matrix) with C's float32 operations in C's
// order: WebAssembly's f32 arithmetic is IEEE single, subnormals included, so every
// `Math.fround` of the portable kernel is simply an f32 operation here. `nearest_int`
// reads the float's bits as C does, so no float-to-int conversion (which would trap on
// NaN) is ever made.
//
// Each `<type>_from_f32(src, dst, blocks)` reads `blocks × 256` float32 values at `src`
// and writes little-endian super-blocks at `dst`; it stops before the first super-block
// that holds a NaN or an infinity and returns how many it wrote: those blocks are the
// portable kernel's, which follows ggml's x86-64 build there. Finite values that overflow
// on the way (huge weights) are followed here, as IEEE arithmetic is the same.

// @ts-nocheck: AssemblyScript, not TypeScript (usize, load<T>, memory.data, @inline).

/** Scratch: a run's or group's weights (and w·x for make_qx_quants, make_q3_quants). */
const W: usize = memory.data(128, 16);
const WX: usize = memory.data(64, 16);
/** qkx2: four candidates' quants (i32 lanes) per weight, and their D, error, scale, min. */
const LQ: usize = memory.data(512, 16);
const LANES: usize = memory.data(64, 16);
/** make_qx_quants: 18 (20) candidates' quants (i32 lanes) per weight, and their sums. */
const QX: usize = memory.data(1280, 16);
const SUMLX: usize = memory.data(80, 16);
const SUML2: usize = memory.data(80, 16);
/** A super-block's quants, and its runs' or groups' scales and mins. */
const L: usize = memory.data(256, 16);
const SCALES: usize = memory.data(64, 16);
const MINS: usize = memory.data(64, 16);

/** ggml's `GROUP_MAX_EPS` (1e-15f). */
const GROUP_MAX_EPS: f32 = 1e-15;

/** The first byte the JavaScript side may use: after the module's own data. */
export function heap_base(): usize {
  return __heap_base;
}

/** ggml's `nearest_int`: the low 23 bits of the float32 `v + 1.5·2^23`, less 2^22. */
@inline function nearestInt(v: f32): i32 {
  return (reinterpret<i32>(v + <f32>12582912.0) & 0x7fffff) - 0x400000;
}

/** `nearest_int` of four float32 lanes, as i32 lanes. */
@inline function nearestInt4(v: v128): v128 {
  const sum = f32x4.add(v, f32x4.splat(12582912));
  return i32x4.sub(v128.and(sum, i32x4.splat(0x7fffff)), i32x4.splat(0x400000));
}

/**
 * The requantization of 16 weights at `x` against a stored scale: the bytes
 * `clamp(nearest_int((x + dm) / d), lo, hi) + bias` (`shift`: whether `dm` is added, as
 * Q2_K, Q4_K and Q5_K do; Q3_K and Q6_K divide `x` alone) at `out`.
 */
@inline function requantize16(
  x: usize, shift: bool, dm: f32, d: f32, lo: i32, hi: i32, bias: i32, out: usize,
): void {
  const vdm = f32x4.splat(dm);
  const vd = f32x4.splat(d);
  const vlo = i32x4.splat(lo);
  const vhi = i32x4.splat(hi);
  const vbias = i32x4.splat(bias);
  let a = v128.load(x);
  let b = v128.load(x, 16);
  let c = v128.load(x, 32);
  let e = v128.load(x, 48);
  if (shift) {
    a = f32x4.add(a, vdm);
    b = f32x4.add(b, vdm);
    c = f32x4.add(c, vdm);
    e = f32x4.add(e, vdm);
  }
  const la = i32x4.add(i32x4.min_s(i32x4.max_s(nearestInt4(f32x4.div(a, vd)), vlo), vhi), vbias);
  const lb = i32x4.add(i32x4.min_s(i32x4.max_s(nearestInt4(f32x4.div(b, vd)), vlo), vhi), vbias);
  const lc = i32x4.add(i32x4.min_s(i32x4.max_s(nearestInt4(f32x4.div(c, vd)), vlo), vhi), vbias);
  const le = i32x4.add(i32x4.min_s(i32x4.max_s(nearestInt4(f32x4.div(e, vd)), vlo), vhi), vbias);
  // Every lane is in 0…63: the narrowings keep it.
  v128.store(out, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(la, lb), i16x8.narrow_i32x4_s(lc, le)));
}

/** Float32 to the bits of the nearest half, ties to even, as `GGML_FP32_TO_FP16`. */
function toHalf(x: f32): u32 {
  const bits = reinterpret<u32>(x);
  const sign = (bits >> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x47800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (abs >= 0x38800000) {
    const dropped = abs & 0x1fff;
    let half = (abs - 0x38000000) >> 13;
    if (dropped > 0x1000 || (dropped == 0x1000 && (half & 1) != 0)) half++;
    return sign | half;
  }
  if (abs <= 0x33000000) return sign;
  const shift = 126 - (abs >> 23);
  const significand = (abs & 0x7fffff) | 0x800000;
  let half = significand >> shift;
  const dropped = significand & ((1 << shift) - 1);
  const tie: u32 = 1 << (shift - 1);
  if (dropped > tie || (dropped == tie && (half & 1) != 0)) half++;
  return sign | half;
}

/** A half's float32 value (exact). */
function fromHalf(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent == 0) {
    return reinterpret<f32>(reinterpret<u32>(<f32>mantissa * <f32>5.9604644775390625e-8) | sign);
  }
  if (exponent == 31) return reinterpret<f32>(sign | 0x7f800000 | (mantissa << 13));
  return reinterpret<f32>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/** Whether the 256 values at `x` are all finite. */
function allFinite(x: usize): bool {
  let seen: u32 = 0;
  for (let i: usize = 0; i < 1024; i += 4) {
    // The exponent field is all ones only for ±Inf and NaN.
    const e = load<u32>(x + i) & 0x7f800000;
    seen |= u32(e == 0x7f800000);
  }
  return seen == 0;
}

/** `*the_min` of the last {@link qkx2}. */
let theMin: f32 = 0;

/**
 * ggml's `make_qkx2_quants` on the `n` values at `x` with the weights at `W`: quants
 * (0…nmax) at `q`, the scale returned, `-min` in `theMin`.
 */
function qkx2(
  n: i32, nmax: i32, rmin: f32, nstep: i32, useMad: bool, x: usize, q: usize,
): f32 {
  const rdelta: f32 = 0.1;
  let min = load<f32>(x);
  let max = min;
  let sumW = load<f32>(W);
  let sumX = sumW * min;
  for (let k = 1; k < n; k++) {
    const v = load<f32>(x + (<usize>k << 2));
    if (v < min) min = v;
    if (v > max) max = v;
    const wk = load<f32>(W + (<usize>k << 2));
    sumW += wk;
    sumX += wk * v;
  }
  if (min > 0) min = 0;
  if (max == min) {
    memory.fill(q, 0, n);
    theMin = -min;
    return 0;
  }
  const fmax = <f32>nmax;
  let iscale = fmax / (max - min);
  let scale = <f32>1 / iscale;
  let bestError: f32 = 0;
  for (let k = 0; k < n; k++) {
    const v = load<f32>(x + (<usize>k << 2));
    let l = nearestInt(iscale * (v - min));
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    store<u8>(q + k, l);
    let diff = scale * <f32>l + min - v;
    diff = useMad ? Mathf.abs(diff) : diff * diff;
    bestError += load<f32>(W + (<usize>k << 2)) * diff;
  }
  // Four candidates at once, one per lane: lane j of every vector below belongs to
  // candidate step + j, and each lane's IEEE operations are C's, in C's order (its sums
  // run over the weights one after another). The candidates are then taken in order as
  // C takes them; as a winner changes `min`, which places the next candidates, those
  // after a winner are computed again from the new `min`.
  const magic = f32x4.splat(12582912);
  const low23 = i32x4.splat(0x7fffff);
  const bias = i32x4.splat(0x400000);
  const zero = i32x4.splat(0);
  const top = i32x4.splat(nmax);
  const fzero = f32x4.splat(0);
  const vSumW = f32x4.splat(sumW);
  const vSumX = f32x4.splat(sumX);
  const end = <usize>n << 2;
  let step = 0;
  while (step <= nstep) {
    const range = max - min;
    const s = f32x4(
      (rmin + rdelta * <f32>step + fmax) / range,
      (rmin + rdelta * <f32>(step + 1 < nstep ? step + 1 : nstep) + fmax) / range,
      (rmin + rdelta * <f32>(step + 2 < nstep ? step + 2 : nstep) + fmax) / range,
      (rmin + rdelta * <f32>(step + 3 < nstep ? step + 3 : nstep) + fmax) / range,
    );
    let sumL = fzero;
    let sumL2 = fzero;
    let sumXL = fzero;
    for (let k: usize = 0; k < end; k += 4) {
      const xk = load<f32>(x + k);
      const wk = f32x4.splat(load<f32>(W + k));
      const sum = f32x4.add(f32x4.mul(s, f32x4.splat(xk - min)), magic);
      let l = i32x4.sub(v128.and(sum, low23), bias);
      l = i32x4.min_s(i32x4.max_s(l, zero), top);
      v128.store(LQ + (k << 2), l);
      const fl = f32x4.convert_i32x4_s(l);
      const wl = f32x4.mul(wk, fl);
      sumL = f32x4.add(sumL, wl);
      sumL2 = f32x4.add(sumL2, f32x4.mul(wl, fl));
      sumXL = f32x4.add(sumXL, f32x4.mul(wl, f32x4.splat(xk)));
    }
    const D = f32x4.sub(f32x4.mul(vSumW, sumL2), f32x4.mul(sumL, sumL));
    let ts = f32x4.div(f32x4.sub(f32x4.mul(vSumW, sumXL), f32x4.mul(vSumX, sumL)), D);
    let tm = f32x4.div(f32x4.sub(f32x4.mul(sumL2, vSumX), f32x4.mul(sumL, sumXL)), D);
    const positive = f32x4.gt(tm, fzero);
    tm = v128.bitselect(fzero, tm, positive);
    ts = v128.bitselect(f32x4.div(sumXL, sumL2), ts, positive);
    let err = fzero;
    for (let k: usize = 0; k < end; k += 4) {
      const fl = f32x4.convert_i32x4_s(v128.load(LQ + (k << 2)));
      let diff = f32x4.sub(f32x4.add(f32x4.mul(ts, fl), tm), f32x4.splat(load<f32>(x + k)));
      diff = useMad ? f32x4.abs(diff) : f32x4.mul(diff, diff);
      err = f32x4.add(err, f32x4.mul(f32x4.splat(load<f32>(W + k)), diff));
    }
    v128.store(LANES, D);
    v128.store(LANES, err, 16);
    v128.store(LANES, ts, 32);
    v128.store(LANES, tm, 48);
    let next = step + 4;
    for (let j = 0; j < 4 && step + j <= nstep; j++) {
      const at = LANES + (<usize>j << 2);
      const curError = load<f32>(at, 16);
      if (load<f32>(at) > 0 && curError < bestError) {
        for (let i: usize = 0; i < <usize>n; i++) store<u8>(q + i, load<i32>(LQ + (i << 4) + (<usize>j << 2)));
        bestError = curError;
        scale = load<f32>(at, 32);
        min = load<f32>(at, 48);
        next = step + j + 1;
        break;
      }
    }
    step = next;
  }
  theMin = -min;
  return scale;
}

/**
 * Q4_K's and Q5_K's header: eight 32-weight runs searched (weights `sqrt(mean(x²)) + |x|`),
 * half d and dmin and the 12 bytes of 6-bit scale/min pairs at `dst`, then the 256
 * quants (0…nmax) at `L`, requantized against the stored scales.
 */
@inline function scalesMinsK4(x: usize, nmax: i32, rmin: f32, nstep: i32, dst: usize): void {
  let maxScale: f32 = 0;
  let maxMin: f32 = 0;
  for (let j: usize = 0; j < 8; j++) {
    const run = x + (j << 7);
    let sumX2: f32 = 0;
    for (let i: usize = 0; i < 128; i += 4) {
      const v = load<f32>(run + i);
      sumX2 += v * v;
    }
    const avX = Mathf.sqrt(sumX2 / <f32>32);
    for (let i: usize = 0; i < 128; i += 4) store<f32>(W + i, avX + Mathf.abs(load<f32>(run + i)));
    const scale = qkx2(32, nmax, rmin, nstep, false, run, L + (j << 5));
    const min = theMin;
    store<f32>(SCALES + (j << 2), scale);
    store<f32>(MINS + (j << 2), min);
    if (scale > maxScale) maxScale = scale;
    if (min > maxMin) maxMin = min;
  }
  const invScale: f32 = maxScale > 0 ? <f32>63 / maxScale : 0;
  const invMin: f32 = maxMin > 0 ? <f32>63 / maxMin : 0;
  const k = dst + 4;
  for (let j: usize = 0; j < 8; j++) {
    // C keeps nearest_int's low byte (a uint8_t), then MIN(63, ·).
    const ls = min<i32>(63, nearestInt(invScale * load<f32>(SCALES + (j << 2))) & 255);
    const lm = min<i32>(63, nearestInt(invMin * load<f32>(MINS + (j << 2))) & 255);
    if (j < 4) {
      store<u8>(k + j, ls);
      store<u8>(k + j + 4, lm);
    } else {
      store<u8>(k + j + 4, (ls & 15) | ((lm & 15) << 4));
      store<u8>(k + j - 4, load<u8>(k + j - 4) | ((ls >> 4) << 6));
      store<u8>(k + j, load<u8>(k + j) | ((lm >> 4) << 6));
    }
  }
  const dHalf = toHalf(maxScale / <f32>63);
  const dminHalf = toHalf(maxMin / <f32>63);
  store<u16>(dst, dHalf);
  store<u16>(dst, dminHalf, 2);
  const dValue = fromHalf(dHalf);
  const dminValue = fromHalf(dminHalf);
  for (let j: usize = 0; j < 8; j++) {
    let sc: u32, m: u32;
    if (j < 4) {
      sc = load<u8>(k + j) & 63;
      m = load<u8>(k + j + 4) & 63;
    } else {
      sc = (load<u8>(k + j + 4) & 15) | ((<u32>load<u8>(k + j - 4) >> 6) << 4);
      m = (<u32>load<u8>(k + j + 4) >> 4) | ((<u32>load<u8>(k + j) >> 6) << 4);
    }
    const d = dValue * <f32>sc;
    if (d == 0) continue; // C's `if (!d) continue;`: the search's quants stay
    const dm = dminValue * <f32>m;
    const run = x + (j << 7);
    const q = L + (j << 5);
    requantize16(run, true, dm, d, 0, nmax, 0, q);
    requantize16(run + 64, true, dm, d, 0, nmax, 0, q + 16);
  }
}

/** Q4_K: 144-byte super-blocks, as ggml's quantize_row_q4_K_ref. */
export function q4_k_from_f32(src: usize, dst: usize, blocks: i32): i32 {
  for (let b = 0; b < blocks; b++, src += 1024, dst += 144) {
    if (!allFinite(src)) return b;
    scalesMinsK4(src, 15, -1, 20, dst);
    for (let c: usize = 0; c < 4; c++) {
      const q = dst + 16 + (c << 5);
      const from = L + (c << 6);
      for (let l: usize = 0; l < 32; l++) {
        store<u8>(q + l, load<u8>(from + l) | (load<u8>(from + l + 32) << 4));
      }
    }
  }
  return blocks;
}

/** Q5_K: 176-byte super-blocks, as ggml's quantize_row_q5_K_ref. */
export function q5_k_from_f32(src: usize, dst: usize, blocks: i32): i32 {
  for (let b = 0; b < blocks; b++, src += 1024, dst += 176) {
    if (!allFinite(src)) return b;
    scalesMinsK4(src, 31, -0.5, 15, dst);
    for (let l: usize = 0; l < 32; l++) {
      let high: u32 = 0;
      for (let r: usize = 0; r < 8; r++) high |= (<u32>load<u8>(L + (r << 5) + l) >> 4) << <u32>r;
      store<u8>(dst + 16 + l, high);
    }
    for (let c: usize = 0; c < 4; c++) {
      const q = dst + 48 + (c << 5);
      const from = L + (c << 6);
      for (let l: usize = 0; l < 32; l++) {
        store<u8>(q + l, (load<u8>(from + l) & 15) | ((load<u8>(from + l + 32) & 15) << 4));
      }
    }
  }
  return blocks;
}

/** Q2_K: 84-byte super-blocks, as ggml's quantize_row_q2_K_ref. */
export function q2_k_from_f32(src: usize, dst: usize, blocks: i32): i32 {
  for (let b = 0; b < blocks; b++, src += 1024, dst += 84) {
    if (!allFinite(src)) return b;
    let maxScale: f32 = 0;
    let maxMin: f32 = 0;
    for (let j: usize = 0; j < 16; j++) {
      const run = src + (j << 6);
      for (let i: usize = 0; i < 64; i += 4) store<f32>(W + i, Mathf.abs(load<f32>(run + i)));
      const scale = qkx2(16, 3, -0.5, 15, true, run, L + (j << 4));
      const min = theMin;
      store<f32>(SCALES + (j << 2), scale);
      store<f32>(MINS + (j << 2), min);
      if (scale > maxScale) maxScale = scale;
      if (min > maxMin) maxMin = min;
    }
    // C keeps nearest_int's low byte (a uint8_t), then ORs in the min's, shifted by four.
    let dHalf: u32 = 0;
    if (maxScale > 0) {
      const iscale = <f32>15 / maxScale;
      for (let j: usize = 0; j < 16; j++) {
        store<u8>(dst + j, nearestInt(iscale * load<f32>(SCALES + (j << 2))));
      }
      dHalf = toHalf(maxScale / <f32>15);
    } else {
      memory.fill(dst, 0, 16);
    }
    let dminHalf: u32 = 0;
    if (maxMin > 0) {
      const iscale = <f32>15 / maxMin;
      for (let j: usize = 0; j < 16; j++) {
        const m = nearestInt(iscale * load<f32>(MINS + (j << 2)));
        store<u8>(dst + j, load<u8>(dst + j) | (m << 4));
      }
      dminHalf = toHalf(maxMin / <f32>15);
    }
    store<u16>(dst, dHalf, 80);
    store<u16>(dst, dminHalf, 82);
    const dValue = fromHalf(dHalf);
    const dminValue = fromHalf(dminHalf);
    for (let j: usize = 0; j < 16; j++) {
      const sc = <u32>load<u8>(dst + j);
      const d = dValue * <f32>(sc & 15);
      if (d == 0) continue;
      const dm = dminValue * <f32>(sc >> 4);
      requantize16(src + (j << 6), true, dm, d, 0, 3, 0, L + (j << 4));
    }
    for (let c: usize = 0; c < 2; c++) {
      const q = dst + 16 + (c << 5);
      const from = L + (c << 7);
      for (let l: usize = 0; l < 32; l++) {
        store<u8>(
          q + l,
          load<u8>(from + l) | (load<u8>(from + l + 32) << 2) | (load<u8>(from + l + 64) << 4) |
            (load<u8>(from + l + 96) << 6),
        );
      }
    }
  }
  return blocks;
}

/** The 16 values at `x`: the first of the largest magnitude (0 if all are zeros). */
@inline function signedMax16(x: usize): f32 {
  let max: f32 = 0;
  let amax: f32 = 0;
  for (let i: usize = 0; i < 64; i += 4) {
    const v = load<f32>(x + i);
    const a = Mathf.abs(v);
    if (a > amax) {
      amax = a;
      max = v;
    }
  }
  return max;
}

/** make_qx_quants' candidate c (0…17, more repeat 17): its `is`, −9 … −1, 1 … 9. */
@inline function qxStep(c: i32): i32 {
  return c < 9 ? c - 9 : c < 18 ? c - 8 : 9;
}

/**
 * ggml's `make_qx_quants(16, nmax, x, L, rmse_type = 1, NULL)`: quants l + nmax (i8) at
 * `q`, the scale returned.
 */
@inline function makeQxQuants(nmax: i32, x: usize, q: usize): f32 {
  const max = signedMax16(x);
  if (Mathf.abs(max) < GROUP_MAX_EPS) {
    memory.fill(q, 0, 16);
    return 0;
  }
  const fmax = <f32>nmax;
  let iscale = -fmax / max;
  let sumlx: f32 = 0;
  let suml2: f32 = 0;
  for (let i: usize = 0; i < 16; i++) {
    const xi = load<f32>(x + (i << 2));
    let l = nearestInt(iscale * xi);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    store<i8>(q + i, l + nmax);
    const wi = xi * xi;
    const wxi = wi * xi;
    store<f32>(W + (i << 2), wi);
    store<f32>(WX + (i << 2), wxi);
    const fl = <f32>l;
    sumlx += wxi * fl;
    suml2 += wi * fl * fl;
  }
  let scale: f32 = suml2 != 0 ? sumlx / suml2 : 0;
  let best = scale * sumlx;
  // The 18 candidates (is = −9 … −1, 1 … 9) do not depend on one another until they are
  // compared: each lane of an f32x4 carries one through C's operations in C's order (its
  // sums over the weights one after another), five vectors of four (the last two lanes
  // repeat is = 9, and are not looked at). Then they are compared in C's order.
  const magic = f32x4.splat(12582912);
  const low23 = i32x4.splat(0x7fffff);
  const bias = i32x4.splat(0x400000);
  const bottom = i32x4.splat(-nmax);
  const top = i32x4.splat(nmax - 1);
  for (let g: usize = 0; g < 5; g++) {
    const c = <i32>g << 2;
    const s = f32x4(
      -(fmax + <f32>0.1 * <f32>qxStep(c)) / max,
      -(fmax + <f32>0.1 * <f32>qxStep(c + 1)) / max,
      -(fmax + <f32>0.1 * <f32>qxStep(c + 2)) / max,
      -(fmax + <f32>0.1 * <f32>qxStep(c + 3)) / max,
    );
    let vlx = f32x4.splat(0);
    let vl2 = f32x4.splat(0);
    const quants = QX + (g << 8);
    for (let k: usize = 0; k < 64; k += 4) {
      const sum = f32x4.add(f32x4.mul(s, f32x4.splat(load<f32>(x + k))), magic);
      let l = i32x4.sub(v128.and(sum, low23), bias);
      l = i32x4.min_s(i32x4.max_s(l, bottom), top);
      v128.store(quants + (k << 2), l);
      const fl = f32x4.convert_i32x4_s(l);
      vlx = f32x4.add(vlx, f32x4.mul(f32x4.splat(load<f32>(WX + k)), fl));
      vl2 = f32x4.add(vl2, f32x4.mul(f32x4.mul(f32x4.splat(load<f32>(W + k)), fl), fl));
    }
    v128.store(SUMLX + (g << 4), vlx);
    v128.store(SUML2 + (g << 4), vl2);
  }
  for (let c: usize = 0; c < 18; c++) {
    sumlx = load<f32>(SUMLX + (c << 2));
    suml2 = load<f32>(SUML2 + (c << 2));
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      const from = QX + ((c >> 2) << 8) + ((c & 3) << 2);
      for (let i: usize = 0; i < 16; i++) store<i8>(q + i, load<i32>(from + (i << 4)) + nmax);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/**
 * ggml's `make_q3_quants(16, nmax, x, L, do_rmse = true)`: quants l + nmax (i8) at `q`,
 * the scale returned.
 */
@inline function makeQ3Quants(nmax: i32, x: usize, q: usize): f32 {
  const max = signedMax16(x);
  if (Mathf.abs(max) < GROUP_MAX_EPS) {
    memory.fill(q, 0, 16);
    return 0;
  }
  const iscale = -<f32>nmax / max;
  let sumlx: f32 = 0;
  let suml2: f32 = 0;
  for (let i: usize = 0; i < 16; i++) {
    const xi = load<f32>(x + (i << 2));
    let l = nearestInt(iscale * xi);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    store<i8>(q + i, l);
    const wi = xi * xi;
    const wxi = wi * xi;
    store<f32>(W + (i << 2), wi);
    store<f32>(WX + (i << 2), wxi);
    const fl = <f32>l;
    sumlx += wxi * fl;
    suml2 += wi * fl * fl;
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i: usize = 0; i < 16; i++) {
      const li = <i32>load<i8>(q + i);
      const fli = <f32>li;
      const wi = load<f32>(W + (i << 2));
      const wxi = load<f32>(WX + (i << 2));
      let slx = sumlx - wxi * fli;
      if (slx > 0) {
        let sl2 = suml2 - wi * fli * fli;
        let l = nearestInt(load<f32>(x + (i << 2)) * sl2 / slx);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        if (l != li) {
          const fl = <f32>l;
          slx = slx + wxi * fl;
          sl2 = sl2 + wi * fl * fl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            store<i8>(q + i, l);
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  for (let i: usize = 0; i < 16; i++) store<i8>(q + i, load<i8>(q + i) + nmax);
  return suml2 > 0 ? sumlx / suml2 : 0;
}

/** Q3_K: 110-byte super-blocks, as ggml's quantize_row_q3_K_ref. */
export function q3_k_from_f32(src: usize, dst: usize, blocks: i32): i32 {
  for (let b = 0; b < blocks; b++, src += 1024, dst += 110) {
    if (!allFinite(src)) return b;
    let maxScale: f32 = 0;
    let amax: f32 = 0;
    for (let g: usize = 0; g < 16; g++) {
      const scale = makeQ3Quants(4, src + (g << 6), L + (g << 4));
      store<f32>(SCALES + (g << 2), scale);
      const a = Mathf.abs(scale);
      if (a > amax) {
        amax = a;
        maxScale = scale;
      }
    }
    const sc = dst + 96;
    memory.fill(sc, 0, 12);
    let dBits: u32 = 0;
    if (maxScale != 0) {
      const iscale = <f32>-32 / maxScale;
      for (let g: usize = 0; g < 16; g++) {
        // C's `int8_t l = nearest_int(…)`: the low byte, signed, then clamped and biased.
        let l = <i32><i8>nearestInt(iscale * load<f32>(SCALES + (g << 2)));
        l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        if (g < 8) store<u8>(sc + g, l & 15);
        else store<u8>(sc + g - 8, load<u8>(sc + g - 8) | ((l & 15) << 4));
        const at = sc + 8 + (g & 3);
        store<u8>(at, load<u8>(at) | ((l >> 4) << (2 * <i32>(g >> 2))));
      }
      dBits = toHalf(<f32>1 / iscale);
    }
    store<u16>(dst, dBits, 108);
    const d = fromHalf(dBits);
    for (let g: usize = 0; g < 16; g++) {
      const low = g < 8 ? load<u8>(sc + g) & 15 : <u32>load<u8>(sc + g - 8) >> 4;
      const high = (<u32>load<u8>(sc + 8 + (g & 3)) >> (2 * <u32>(g >> 2))) & 3;
      const dg = d * <f32>(<i32>(low | (high << 4)) - 32);
      if (dg == 0) continue; // C's `if (!d)`: a NaN product goes on
      requantize16(src + (g << 6), false, 0, dg, -4, 3, 4, L + (g << 4));
    }
    for (let m: usize = 0; m < 32; m++) {
      let bits: u32 = 0;
      for (let k: usize = 0; k < 8; k++) bits |= (<u32>load<u8>(L + (k << 5) + m) >> 2) << <u32>k;
      store<u8>(dst + m, bits);
    }
    for (let h: usize = 0; h < 2; h++) {
      const from = L + (h << 7);
      const q = dst + 32 + (h << 5);
      for (let l: usize = 0; l < 32; l++) {
        store<u8>(
          q + l,
          (load<u8>(from + l) & 3) | ((load<u8>(from + l + 32) & 3) << 2) |
            ((load<u8>(from + l + 64) & 3) << 4) | ((load<u8>(from + l + 96) & 3) << 6),
        );
      }
    }
  }
  return blocks;
}

/** Q6_K: 210-byte super-blocks, as ggml's quantize_row_q6_K_ref. */
export function q6_k_from_f32(src: usize, dst: usize, blocks: i32): i32 {
  for (let b = 0; b < blocks; b++, src += 1024, dst += 210) {
    if (!allFinite(src)) return b;
    let maxScale: f32 = 0;
    let maxAbsScale: f32 = 0;
    for (let g: usize = 0; g < 16; g++) {
      const scale = makeQxQuants(32, src + (g << 6), L + (g << 4));
      store<f32>(SCALES + (g << 2), scale);
      const a = Mathf.abs(scale);
      if (a > maxAbsScale) {
        maxAbsScale = a;
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      memory.fill(dst, 0, 210);
      continue;
    }
    const iscale = <f32>-128 / maxScale;
    const dBits = toHalf(<f32>1 / iscale);
    store<u16>(dst, dBits, 208);
    const d = fromHalf(dBits);
    for (let g: usize = 0; g < 16; g++) {
      // C's int8_t of MIN(127, nearest_int(…)).
      const q = nearestInt(iscale * load<f32>(SCALES + (g << 2)));
      const sc = <i32><i8>(q < 127 ? q : 127);
      store<i8>(dst + 192 + g, sc);
      const dg = d * <f32>sc;
      if (dg == 0) continue; // C's `if (!d)`: a NaN product goes on
      requantize16(src + (g << 6), false, 0, dg, -32, 31, 32, L + (g << 4));
    }
    for (let half: usize = 0; half < 2; half++) {
      const from = L + (half << 7);
      const ql = dst + (half << 6);
      const qh = dst + 128 + (half << 5);
      for (let l: usize = 0; l < 32; l++) {
        const q1 = <u32>load<u8>(from + l);
        const q2 = <u32>load<u8>(from + l + 32);
        const q3 = <u32>load<u8>(from + l + 64);
        const q4 = <u32>load<u8>(from + l + 96);
        store<u8>(ql + l, (q1 & 15) | ((q3 & 15) << 4));
        store<u8>(ql + l + 32, (q2 & 15) | ((q4 & 15) << 4));
        store<u8>(qh + l, (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
  return blocks;
}
