// gguf-stream's SIMD transcoders, in AssemblyScript, compiled to WebAssembly by
// asm/build.ts into src/convert/simd/_transcode_wasm.ts: the hot lossless pairs into Q8_0
// (Q4_0 and IQ4_NL through a 16-level table, Q5_0), byte for byte as the portable kernels
// in src/convert/transcode/, and the sum of the squared values of the same blocks (the
// reference a measured conversion needs, without dequantizing them). Little-endian blocks
// only; memory is laid out by the caller.

// @ts-nocheck: AssemblyScript, not TypeScript (usize, v128, load<T>, @inline).

import { fifthBits } from "./_bits";

/**
 * 18-byte blocks of a half `d` and 16 bytes of 4-bit codes (value j in the low nibble of
 * byte j, value j + 16 in its high one) into 34-byte Q8_0 blocks: `d` copied, each code
 * replaced by its signed level from the 16 bytes at `levels`.
 */
export function nibbles_q8_0(src: usize, dst: usize, blocks: i32, levels: usize): void {
  const table = v128.load(levels);
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 18, dst += 34) {
    store<u16>(dst, load<u16>(src));
    const q = v128.load(src, 2);
    v128.store(dst, i8x16.swizzle(table, v128.and(q, mask)), 2);
    v128.store(dst, i8x16.swizzle(table, i8x16.shr_u(q, 4)), 18);
  }
}

/** The 32 signed codes (q − 16) of the Q5_0 block at `src`, low half then high half. */
@inline function q5Low(src: usize): v128 {
  const q = v128.load(src, 6);
  const h = fifthBits(load<u32>(src, 2), true);
  return i8x16.sub(v128.or(v128.and(q, i8x16.splat(15)), h), i8x16.splat(16));
}

@inline function q5High(src: usize): v128 {
  const q = v128.load(src, 6);
  const h = fifthBits(load<u32>(src, 2), false);
  return i8x16.sub(v128.or(i8x16.shr_u(q, 4), h), i8x16.splat(16));
}

/** 22-byte Q5_0 blocks (half d, 32 fifth bits, nibbles; w = (q − 16)·d) into Q8_0 blocks. */
export function q5_0_q8_0(src: usize, dst: usize, blocks: i32): void {
  for (let b = 0; b < blocks; b++, src += 22, dst += 34) {
    store<u16>(dst, load<u16>(src));
    v128.store(dst, q5Low(src), 2);
    v128.store(dst, q5High(src), 18);
  }
}

/**
 * The square of the half `h` as a double (exact: 22 significant bits at most), or −1 for
 * an infinite or NaN half.
 */
@inline function halfSquared(h: u32): f64 {
  const exponent = (h >> 10) & 31;
  if (exponent == 31) return -1;
  const mantissa = h & 1023;
  // A subnormal is mantissa·2^-24; a normal (1024 + mantissa)·2^(exponent − 25).
  const m = <f64>(exponent == 0 ? mantissa : mantissa | 1024);
  const e = exponent == 0 ? -24 : <i32>exponent - 25;
  const p = reinterpret<f64>(<u64>(1023 + e) << 52);
  const v = m * p;
  return v * v;
}

/** Σ over 32 signed codes (two i8x16 vectors) of code², as an integer. */
@inline function squares32(a: v128, b: v128): i32 {
  const a0 = i16x8.extend_low_i8x16_s(a);
  const a1 = i16x8.extend_high_i8x16_s(a);
  const b0 = i16x8.extend_low_i8x16_s(b);
  const b1 = i16x8.extend_high_i8x16_s(b);
  const s = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(a0, a0), i32x4.dot_i16x8_s(a1, a1)),
    i32x4.add(i32x4.dot_i16x8_s(b0, b0), i32x4.dot_i16x8_s(b1, b1)),
  );
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) +
    i32x4.extract_lane(s, 3);
}

/**
 * `sum` plus d²·Σcode² of each 18-byte nibble block at `src` whose half d is finite, in
 * order: the sum of the squares of their values (each block's term exact; an infinite or
 * NaN d makes every value of its block not finite, and those are left out).
 */
export function nibbles_squares(src: usize, blocks: i32, levels: usize, sum: f64): f64 {
  const table = v128.load(levels);
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 18) {
    const dd = halfSquared(load<u16>(src));
    if (dd < 0) continue;
    const q = v128.load(src, 2);
    const n = squares32(
      i8x16.swizzle(table, v128.and(q, mask)),
      i8x16.swizzle(table, i8x16.shr_u(q, 4)),
    );
    sum += dd * <f64>n;
  }
  return sum;
}

/** As {@linkcode nibbles_squares}, over 22-byte Q5_0 blocks. */
export function q5_0_squares(src: usize, blocks: i32, sum: f64): f64 {
  for (let b = 0; b < blocks; b++, src += 22) {
    const dd = halfSquared(load<u16>(src));
    if (dd < 0) continue;
    sum += dd * <f64>squares32(q5Low(src), q5High(src));
  }
  return sum;
}


// ---- Pairs that compute a scale: IQ4_XS and MXFP4 into Q8_0, Q4_K into Q4_1, Q5_K into
// Q5_1. Each follows its portable kernel (src/convert/transcode/) step for step; the float
// work is in doubles there and here (f64: the same IEEE operations), and rounding to a half
// is the correctly rounded one both sides.

/** The half nearest to `x` (ties to even), as bits; NaN as 0x7e00 (`halfBits()`). */
function halfBits(x: f64): i32 {
  const b = reinterpret<u64>(x);
  const sign = <i32>(b >> 48) & 0x8000;
  const exp = <i32>((b >> 52) & 0x7ff);
  const mant = b & 0xfffffffffffff;
  if (exp == 0x7ff) return mant == 0 ? sign | 0x7c00 : 0x7e00;
  const e = exp - 1023;
  if (e > 15) return sign | 0x7c00;
  let h: u64;
  let rest: u64;
  let halfway: u64;
  if (e >= -14) {
    h = (<u64>(e + 15) << 10) | (mant >> 42);
    rest = mant & ((<u64>1 << 42) - 1);
    halfway = <u64>1 << 41;
  } else {
    if (e < -25 || exp == 0) return sign; // below half the smallest subnormal half
    const shift = <u64>(28 - e); // 43 … 53: the 53-bit significand over 2^-24 steps
    const full = mant | (<u64>1 << 52);
    h = full >> shift;
    rest = full & ((<u64>1 << shift) - 1);
    halfway = <u64>1 << (shift - 1);
  }
  if (rest > halfway || (rest == halfway && (h & 1) == 1)) h++;
  return sign | <i32>h;
}

/** {@linkcode halfBits}, a finite `x` past the largest half giving ±65504. */
function saturatingHalfBits(x: f64): i32 {
  const h = halfBits(x);
  return (h & 0x7fff) == 0x7c00 && x - x == 0 ? h - 1 : h;
}

/** The value of the half with bits `h`. */
function halfValue(h: i32): f64 {
  const exp = (h >> 10) & 31;
  const mant = h & 1023;
  let v: f64;
  if (exp == 31) v = mant == 0 ? Infinity : NaN;
  else if (exp == 0) v = <f64>mant * reinterpret<f64>(<u64>(1023 - 24) << 52);
  else v = <f64>(mant | 1024) * reinterpret<f64>(<u64>(1023 + exp - 25) << 52);
  return h & 0x8000 ? -v : v;
}

/** The value of the little-endian half at `at`. */
@inline function halfAt(at: usize): f64 {
  return halfValue(<i32>load<u16>(at));
}

/** The OR of the 16 bytes of `v`. */
@inline function orBytes(v: v128): i32 {
  let x = i64x2.extract_lane(v, 0) | i64x2.extract_lane(v, 1);
  x |= x >> 32;
  x |= x >> 16;
  x |= x >> 8;
  return <i32>x & 255;
}

/** The largest of the 16 unsigned bytes of `v`. */
@inline function maxBytes(v: v128): i32 {
  let m = i8x16.max_u(v, i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  m = i8x16.max_u(m, i8x16.shuffle(m, m, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
  m = i8x16.max_u(m, i8x16.shuffle(m, m, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
  m = i8x16.max_u(m, i8x16.shuffle(m, m, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
  return <i32>i8x16.extract_lane_u(m, 0);
}

/** The 16 signed bytes of `c`, each times `f` (every product within ±127). */
@inline function timesBytes(c: v128, f: i32): v128 {
  const k = i16x8.splat(<i16>f);
  return i8x16.narrow_i16x8_s(
    i16x8.mul(i16x8.extend_low_i8x16_s(c), k),
    i16x8.mul(i16x8.extend_high_i8x16_s(c), k),
  );
}

/**
 * `_block_scale.ts`'s `writeQ8_0Block` (its `chooseScale`, codes up to ±127) for the 32
 * signed codes in `a` (values 0–15) and `b` (16–31) and the scale d·mult: writes the Q8_0
 * block at `dst`, or returns false, writing nothing, where the codes pass ±127 even after
 * sharing powers of two (the caller leaves that block to the portable kernel). `factors`
 * is the table of `FACTORS`: for each multiplier m, 33 i32 at `factors + 132·m`, a count
 * then the factors ascending.
 */
function writeQ8_0(dst: usize, a: v128, b: v128, d: f64, mult: i32, factors: usize): bool {
  const limit = 127;
  const absA = i8x16.abs(a);
  const absB = i8x16.abs(b);
  const or = orBytes(v128.or(absA, absB));
  let kmax = maxBytes(i8x16.max_u(absA, absB));
  let s = d * <f64>mult;
  if (or == 0 || s - s != 0) {
    // Codes of −128 clamp to −127; the others are within ±127 already.
    const low = i8x16.splat(<i8>-limit);
    store<u16>(dst, <u16>saturatingHalfBits(s));
    v128.store(dst, i8x16.max_s(a, low), 2);
    v128.store(dst, i8x16.max_s(b, low), 18);
    return true;
  }
  const shift = ctz<i32>(or);
  s *= reinterpret<f64>(<u64>(1023 + shift) << 52);
  kmax >>= shift;
  if (kmax > limit) return false;
  const table = factors + 132 * <usize>(mult < 0 ? -mult : mult);
  const count = load<i32>(table);
  let h = -1;
  let f = 1;
  let bestErr = Infinity;
  for (let j = 0; j < count; j++) {
    const g = load<i32>(table + 4 + (<usize>j << 2));
    if (g * kmax > limit) break;
    const hb = halfBits(s / <f64>g);
    const v = halfValue(hb);
    if (v - v != 0) continue; // past the largest half
    const err = abs<f64>(v * <f64>g - s);
    if (err < bestErr) {
      bestErr = err;
      h = hb;
      f = g;
      if (err == 0) break;
    }
  }
  if (h < 0) {
    for (let j = 0; j < count; j++) {
      const g = load<i32>(table + 4 + (<usize>j << 2));
      if (g * kmax > limit) break;
      f = g;
    }
    h = saturatingHalfBits(s / <f64>f);
  }
  store<u16>(dst, <u16>h);
  v128.store(dst, timesBytes(i8x16.shr_s(a, shift), f), 2);
  v128.store(dst, timesBytes(i8x16.shr_s(b, shift), f), 18);
  return true;
}

/**
 * 136-byte IQ4_XS blocks into 8 Q8_0 blocks each (`transcodeIq4XsToQ8_0`); returns how
 * many blocks it wrote (fewer than `blocks` where one is left to the portable kernel).
 */
export function iq4_xs_q8_0(src: usize, dst: usize, blocks: i32, levels: usize, factors: usize): i32 {
  const table = v128.load(levels);
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 136) {
    const d = halfAt(src);
    const scalesHigh = <i32>load<u16>(src, 2);
    for (let ib = 0; ib < 8; ib++, dst += 34) {
      const ls = ((<i32>load<u8>(src + 4 + (ib >> 1)) >> (4 * (ib & 1))) & 15) |
        (((scalesHigh >> (2 * ib)) & 3) << 4);
      const q = v128.load(src + 8 + 16 * <usize>ib);
      const a = i8x16.swizzle(table, v128.and(q, mask));
      if (!writeQ8_0(dst, a, i8x16.swizzle(table, i8x16.shr_u(q, 4)), d, ls - 32, factors)) {
        return b;
      }
    }
  }
  return blocks;
}

/** 17-byte MXFP4 blocks into Q8_0 blocks (`transcodeMxfp4ToQ8_0`); returns blocks written. */
export function mxfp4_q8_0(src: usize, dst: usize, blocks: i32, levels: usize, factors: usize): i32 {
  const table = v128.load(levels);
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 17, dst += 34) {
    // 2^(e − 128): a double of the power of two (2^-128 … 2^127, all exact).
    const d = reinterpret<f64>(<u64>(1023 - 128 + <i32>load<u8>(src)) << 52);
    const q = v128.load(src, 1);
    const a = i8x16.swizzle(table, v128.and(q, mask));
    if (!writeQ8_0(dst, a, i8x16.swizzle(table, i8x16.shr_u(q, 4)), d, 1, factors)) return b;
  }
  return blocks;
}

/** Scale j (0–7) of the 12 packed K-quant scale bytes at `at` (`get_scale_min_k4`). */
@inline function kScale(at: usize, j: i32): i32 {
  const p = at + <usize>j;
  return j < 4 ? load<u8>(p) & 63 : (load<u8>(p, 4) & 15) | ((load<u8>(p - 4) >> 6) << 4);
}

/** Minimum j (0–7) of the 12 packed K-quant scale bytes at `at`. */
@inline function kMin(at: usize, j: i32): i32 {
  const p = at + <usize>j;
  return j < 4 ? load<u8>(p, 4) & 63 : (load<u8>(p, 4) >> 4) | ((load<u8>(p) >> 6) << 4);
}

/** The half scale and minimum of group j at `dst` (`writeScales`). */
@inline function writeScales(dst: usize, src: usize, d: f64, dmin: f64, j: i32): void {
  store<u16>(dst, <u16>saturatingHalfBits(d * <f64>kScale(src + 4, j)));
  store<u16>(dst, <u16>saturatingHalfBits(-(dmin * <f64>kMin(src + 4, j))), 2);
}

/** 144-byte Q4_K super-blocks into 8 Q4_1 blocks each (`transcodeQ4KToQ4_1`). */
export function q4_k_q4_1(src: usize, dst: usize, blocks: i32): void {
  const mask = i8x16.splat(15);
  const highMask = i8x16.splat(-16);
  for (let b = 0; b < blocks; b++, src += 144) {
    const d = halfAt(src);
    const dmin = halfAt(src + 2);
    for (let g = 0; g < 4; g++) {
      const a = v128.load(src + 16 + 32 * <usize>g);
      const c = v128.load(src + 32 + 32 * <usize>g);
      writeScales(dst, src, d, dmin, 2 * g);
      v128.store(dst, v128.or(v128.and(a, mask), i8x16.shl(v128.and(c, mask), 4)), 4);
      dst += 20;
      writeScales(dst, src, d, dmin, 2 * g + 1);
      v128.store(dst, v128.or(i8x16.shr_u(a, 4), v128.and(c, highMask)), 4);
      dst += 20;
    }
  }
}

/** 176-byte Q5_K super-blocks into 8 Q5_1 blocks each (`transcodeQ5KToQ5_1`). */
export function q5_k_q5_1(src: usize, dst: usize, blocks: i32): void {
  const mask = i8x16.splat(15);
  for (let b = 0; b < blocks; b++, src += 176) {
    const d = halfAt(src);
    const dmin = halfAt(src + 2);
    const h0 = v128.load(src, 16);
    const h1 = v128.load(src, 32);
    for (let j = 0; j < 8; j++, dst += 24) {
      const q = src + 48 + 32 * <usize>(j >> 1);
      const nibble = 4 * (j & 1);
      writeScales(dst, src, d, dmin, j);
      // Bit j of each of the 32 high-bit bytes, into the sign bit, gathered.
      const top = 7 - j;
      const qh = <u32>i8x16.bitmask(i8x16.shl(h0, top)) |
        (<u32>i8x16.bitmask(i8x16.shl(h1, top)) << 16);
      store<u32>(dst, qh, 4);
      const a = i8x16.shr_u(v128.load(q), nibble);
      const c = i8x16.shr_u(v128.load(q, 16), nibble);
      v128.store(dst, v128.or(v128.and(a, mask), i8x16.shl(v128.and(c, mask), 4)), 8);
    }
  }
}

/** Where the caller may lay out its buffers. */
export function heap_base(): usize {
  return __heap_base;
}
